"""forecast.fit.psis: the numpy PSIS agrees with ArviZ's psislw (the reference implementation)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from forecast.fit.psis import psis_log_weights, psis_weights


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [200, 1000, 4000])
def test_matches_arviz_psislw(seed, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

    rng = np.random.default_rng(seed)
    scale = [0.1, 0.5, 1.0, 2.0, 4.0, 8.0][seed]  # from gentle to hopeless reweighting
    log_ratios = rng.standard_t(3, n) * scale
    expected, expected_k = az.psislw(log_ratios[None, :].copy())
    ours, k = psis_log_weights(log_ratios)
    np.testing.assert_allclose(ours, np.asarray(expected).ravel(), rtol=1e-10, atol=1e-12)
    assert k == pytest.approx(float(np.asarray(expected_k).ravel()[0]), rel=1e-10)


def test_weights_are_normalised_and_k_flags_bad_reweighting():
    rng = np.random.default_rng(3)
    weights, k = psis_weights(rng.normal(0, 0.1, 4000))
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    assert k < 0.7  # a small change of prior: reliable
    _, k_bad = psis_weights(rng.standard_cauchy(4000) * 10)
    assert k_bad > 0.7  # weights with a very heavy tail: refit instead


def test_undefined_weights_are_never_reliable():
    """All -inf or NaN log weights (a varied prior that gives no draw any density) have no
    Pareto k: the result is k = inf, never NaN (which would pass no comparison)."""
    for bad in (np.full(200, -np.inf), np.r_[np.zeros(199), np.nan]):
        weights, k = psis_weights(bad)
        assert k == np.inf and np.isfinite(weights).all()
