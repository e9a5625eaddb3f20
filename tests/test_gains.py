"""forecast.gains: an enhancement's posterior gain at a chosen base-model scale."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.gains import gain_at_compute


@pytest.fixture
def draws():
    rng = np.random.default_rng(3)
    return {
        "ceg_oom": rng.normal(1.0, 0.5, size=(200, 3)),
        "scale_slope": rng.normal(-0.2, 0.1, size=200),
    }


def test_at_the_reference_scale_it_is_the_published_gain(draws):
    np.testing.assert_array_equal(gain_at_compute(draws, 1, 23.0), draws["ceg_oom"][:, 1])


def test_it_moves_with_the_scale_slope_draw_by_draw(draws):
    before = {k: v.copy() for k, v in draws.items()}
    gain = gain_at_compute(draws, 2, np.log10(3e26))
    expected = draws["ceg_oom"][:, 2] + draws["scale_slope"] * (np.log10(3e26) - 23)
    np.testing.assert_allclose(gain, expected)
    # a negative slope shrinks the gain at larger scales for every draw
    below = draws["scale_slope"] < 0
    assert (gain[below] < draws["ceg_oom"][below, 2]).all()
    for k in draws:  # pure: the draws are not modified
        np.testing.assert_array_equal(draws[k], before[k])


def test_one_value_per_draw_for_each_enhancement(draws):
    for i in range(3):
        assert gain_at_compute(draws, i, 25.0).shape == (200,)
