"""forecast.evidence.gains: an enhancement's posterior gain at a chosen base-model scale."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.evidence.gains import gain_at_compute

RANGE = (-2.8, 2.3)  # log10 FLOP - 23: 1.6e20 to 2e25, as the seed catalogue


@pytest.fixture
def draws():
    rng = np.random.default_rng(3)
    return {
        "ceg_oom": rng.normal(1.0, 0.5, size=(200, 3)),
        "enhancement_compute": rng.normal(-0.5, 1.0, size=(200, 3)),
        "scale_slope": rng.normal(-0.2, 0.1, size=200),
    }


def test_at_its_own_typical_scale_it_is_the_fitted_gain(draws):
    own = float(draws["enhancement_compute"][0, 1])
    gain = gain_at_compute(draws, 1, 23.0 + own, RANGE)
    assert gain[0] == pytest.approx(draws["ceg_oom"][0, 1])


def test_it_moves_with_the_within_slope_inside_the_evidence(draws):
    before = {k: v.copy() for k, v in draws.items()}
    gain = gain_at_compute(draws, 2, 24.0, RANGE)
    expected = draws["ceg_oom"][:, 2] + draws["scale_slope"] * (
        1.0 - draws["enhancement_compute"][:, 2]
    )
    np.testing.assert_allclose(gain, expected)
    for k in draws:  # pure: the draws are not modified
        np.testing.assert_array_equal(draws[k], before[k])


def test_the_slope_is_not_extrapolated_past_the_largest_model(draws):
    at_edge = gain_at_compute(draws, 0, 23.0 + RANGE[1], RANGE)
    for flop in (3e26, 1e28):
        np.testing.assert_array_equal(gain_at_compute(draws, 0, np.log10(flop), RANGE), at_edge)


def test_one_value_per_draw_for_each_enhancement(draws):
    for i in range(3):
        assert gain_at_compute(draws, i, 25.0, RANGE).shape == (200,)
