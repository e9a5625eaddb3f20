"""forecast.fit.compose: the rank-discounted combined gain G(S) and its soft ceiling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecast.fit.compose import (
    CEILING_SHARPNESS,
    combine,
    combined_gain,
    rank_discounted_sum,
    saturate,
)

N_CAT, K = 3, 4

gain = st.floats(0.0, 5.0, allow_nan=False, allow_infinity=False)
factor = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
factor_below_one = st.floats(0.0, 0.99, allow_nan=False, allow_infinity=False)
ceiling = st.floats(0.1, 10.0, allow_nan=False, allow_infinity=False)
gain_sets = arrays(np.float64, (N_CAT, K), elements=gain)

HYPOTHESIS = settings(max_examples=100, deadline=None, derandomize=True, database=None)


def test_factors_one_give_the_plain_sum():
    g = np.array([[0.5, 1.0, 0.0], [2.0, 0.0, 0.0], [0.25, 0.25, 0.25]])
    assert combined_gain(g, 1.0, 1.0) == pytest.approx(g.sum())
    assert combined_gain(g, 1.0, 1.0, np.inf) == pytest.approx(g.sum())


def test_factors_zero_give_the_max():
    g = np.array([[0.5, 1.0, 0.0], [2.0, 0.0, 0.0], [0.25, 0.25, 0.25]])
    assert combined_gain(g, 0.0, 0.0) == pytest.approx(2.0)


def test_hand_computed_example():
    # tool: 1.0 and 0.5 -> 1.0 + 0.5*0.5 = 1.25; data: 2.0 -> 2.0
    # between: sorted [2.0, 1.25] -> 2.0 + 0.25*1.25
    g = np.array([[0.5, 1.0], [2.0, 0.0]])
    assert combined_gain(g, 0.5, 0.25) == pytest.approx(2.0 + 0.25 * 1.25)


def test_rank_discounted_sum_sorts_descending():
    values = np.array([1.0, 3.0, 2.0])
    assert rank_discounted_sum(values, 0.5) == pytest.approx(3 + 0.5 * 2 + 0.25 * 1)
    assert rank_discounted_sum(values, np.asarray(0.5)) == pytest.approx(4.25)


def test_negative_gains_count_as_zero():
    g = np.array([[-1.0, 0.8], [-3.0, 0.0], [0.4, -0.2]])
    clipped = np.maximum(g, 0.0)
    for dw, db in [(1.0, 1.0), (0.3, 0.7), (0.0, 0.0)]:
        assert combined_gain(g, dw, db) == pytest.approx(combined_gain(clipped, dw, db))
    assert combined_gain(np.full((2, 2), -1.0), 1.0, 1.0) == 0.0


@HYPOTHESIS
@given(gain_sets, gain, st.integers(0, N_CAT - 1), factor, factor)
def test_sum_and_max_limits(gains, _unused, _cat, _dw, _db):
    assert combined_gain(gains, 1.0, 1.0) == pytest.approx(gains.sum(), rel=1e-12, abs=1e-12)
    assert combined_gain(gains, 0.0, 0.0) == pytest.approx(gains.max(), rel=1e-12, abs=1e-12)


@HYPOTHESIS
@given(gain_sets, gain, st.integers(0, N_CAT - 1), factor, factor, st.none() | ceiling)
def test_adding_an_enhancement_never_lowers_g(gains, new, category, dw, db, cap):
    cap = np.inf if cap is None else cap
    before = combined_gain(gains, dw, db, cap)
    # the new enhancement goes into an extra slot of its category
    extra = np.zeros((N_CAT, 1))
    extra[category, 0] = new
    after = combined_gain(np.concatenate([gains, extra], axis=1), dw, db, cap)
    assert after >= before - 1e-12 * (1 + abs(before))
    # zero padding changes nothing
    padded = combined_gain(np.concatenate([gains, np.zeros((N_CAT, 1))], axis=1), dw, db, cap)
    assert padded == pytest.approx(before, rel=1e-12, abs=1e-15)


@HYPOTHESIS
@given(gain_sets, factor, factor, st.none() | ceiling)
def test_g_is_at_least_the_best_single_gain_without_ceiling(gains, dw, db, cap):
    assert combined_gain(gains, dw, db) >= gains.max() - 1e-12
    assert combined_gain(gains, dw, db) <= gains.sum() + 1e-9


@HYPOTHESIS
@given(gain_sets, factor_below_one, factor_below_one)
def test_g_below_geometric_bound(gains, dw, db):
    g = combined_gain(gains, dw, db)
    assert g <= gains.max() / ((1 - dw) * (1 - db)) + 1e-12


@HYPOTHESIS
@given(gain_sets, factor, factor, ceiling)
def test_ceiling_bounds_g(gains, dw, db, cap):
    raw = combined_gain(gains, dw, db)
    capped = combined_gain(gains, dw, db, cap)
    assert capped <= cap
    assert capped <= raw + 1e-12
    if raw > 1e-6:  # strictly below; not measurable for subnormal gains
        assert capped < raw
        assert capped < cap


@HYPOTHESIS
@given(
    st.floats(0.0, 50.0, allow_nan=False),
    st.floats(0.0, 50.0, allow_nan=False),
    ceiling,
)
def test_saturate_is_monotone(a, b, cap):
    lo, hi = sorted((a, b))
    assert saturate(np.float64(lo), cap) <= saturate(np.float64(hi), cap) + 1e-12


def test_saturate_values():
    assert saturate(np.float64(1.0), np.inf) == 1.0
    assert saturate(np.float64(0.0), 2.0) == 0.0
    # at raw == ceiling the soft minimum is ceiling / 2**(1/p)
    assert saturate(np.float64(2.0), 2.0) == pytest.approx(2.0 / 2 ** (1 / CEILING_SHARPNESS))
    # far below the ceiling it is ~raw (docstring: within 1% below 40% of the ceiling)
    assert saturate(np.float64(0.4), 1.0) == pytest.approx(0.4, rel=0.01)
    # far above, ~ceiling
    assert saturate(np.float64(1000.0), 1.0) == pytest.approx(1.0, rel=1e-6)


def test_saturate_zero_ceiling_caps_at_zero():
    assert saturate(np.float64(2.0), np.float64(0.0)) == 0.0
    assert saturate(np.float64(0.0), np.float64(0.0)) == 0.0
    # continuous as the ceiling goes to 0
    assert saturate(np.float64(2.0), np.float64(1e-9)) == pytest.approx(0.0, abs=1e-8)
    g = saturate(np.array([[0.0, 1.0, 3.0]]), np.array([[0.0], [2.0]]))
    assert g.shape == (2, 3)
    assert g[0].tolist() == [0.0, 0.0, 0.0]
    assert (g[1] <= 2.0).all() and g[1, 0] == 0.0


# --------------------------------------------------------------------------- shapes


def test_vectorised_shapes_with_per_draw_factors():
    rng = np.random.default_rng(0)
    draws, time = 5, 7
    gains = rng.normal(0.3, 0.5, size=(draws, time, N_CAT, K))
    dw = rng.uniform(0, 1, size=(draws, 1))
    db = rng.uniform(0, 1, size=(draws, 1))
    cap = rng.uniform(1, 3, size=(draws, 1))

    raw = combine(gains, dw, db)
    assert raw.shape == (draws, time)
    g = combined_gain(gains, dw, db, cap)
    assert g.shape == (draws, time)
    for d in range(draws):
        for t in range(time):
            expected = combined_gain(gains[d, t], dw[d, 0], db[d, 0], cap[d, 0])
            assert g[d, t] == pytest.approx(expected, rel=1e-12)
            assert raw[d, t] == pytest.approx(combined_gain(gains[d, t], dw[d, 0], db[d, 0]))


def test_scalar_factors_broadcast_over_everything():
    rng = np.random.default_rng(1)
    gains = rng.uniform(0, 1, size=(4, 3, N_CAT, K))
    g = combined_gain(gains, 0.4, 0.6, 2.0)
    assert g.shape == (4, 3)
    assert g[2, 1] == pytest.approx(combined_gain(gains[2, 1], 0.4, 0.6, 2.0))
    g0 = combined_gain(gains, np.asarray(0.4), np.asarray(0.6))
    np.testing.assert_allclose(g0, combine(gains, np.asarray(0.4), np.asarray(0.6)))


def test_per_draw_factors_differ_between_draws():
    gains = np.broadcast_to(np.array([[1.0, 1.0], [1.0, 0.0]]), (2, 1, 2, 2))
    g = combined_gain(gains, np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]))
    assert g[:, 0].tolist() == [pytest.approx(3.0), pytest.approx(1.0)]


def test_single_set_returns_scalar():
    g = combined_gain([[1.0, 0.5]], 0.5, 0.5)
    assert np.ndim(g) == 0
    assert float(g) == pytest.approx(1.25)
