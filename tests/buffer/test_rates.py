"""forecast.buffer.rates: the hierarchical rate posterior evaluates each distinct count once
and still gives, bit for bit, the posterior of evaluating every task anew."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln

from forecast.buffer import rates
from forecast.buffer.rates import rate_posterior


def _every_task_anew(s, a) -> np.ndarray:
    """The weights as first written: every task's term evaluated in the tasks' order."""
    logit_mu = np.linspace(*rates.LOGIT_MU_RANGE, rates.MU_POINTS)
    log_kappa = np.linspace(*rates.LOG_KAPPA_RANGE, rates.KAPPA_POINTS)
    mu = rates.expit(logit_mu)[:, None]
    kappa = np.exp(log_kappa)[None, :]
    alpha, beta = mu * kappa, (1 - mu) * kappa
    loglik = np.zeros((rates.MU_POINTS, rates.KAPPA_POINTS))
    for sj, aj in zip(np.asarray(s, float), np.asarray(a, float), strict=True):
        loglik += betaln(alpha + sj, beta + aj - sj) - betaln(alpha, beta)
    logprior = np.log(mu * (1 - mu)) + np.log(kappa) - 2 * np.log1p(kappa)
    logpost = loglik + logprior
    weights = np.exp(logpost - logpost.max())
    return weights / weights.sum()


@pytest.mark.parametrize(
    ("successes", "attempts"),
    [
        ([6, 3, 2, 1, 1] * 4, [10] * 20),  # the shipped eval's shape: 5 distinct of 20
        ([0, 1, 2, 3, 4, 5], [5, 5, 5, 5, 5, 5]),  # all distinct
        ([3, 0, 3, 7, 0, 3, 7, 10], [10, 10, 10, 12, 10, 10, 12, 10]),  # interleaved repeats
        ([4.5, 1.5, 4.5, 0.0], [15.0, 15.0, 15.0, 15.0]),  # fractional (settling steps)
        ([1], [1]),
    ],
)
def test_posterior_weights_equal_evaluating_every_task(successes, attempts):
    post = rate_posterior(successes, attempts)
    np.testing.assert_array_equal(post.weights, _every_task_anew(successes, attempts))


def test_more_repeated_counts_than_kept_grids(monkeypatch):
    """Past _KEPT_TERMS repeated counts at once, the rest are evaluated anew: same sums."""
    monkeypatch.setattr(rates, "_KEPT_TERMS", 2)
    s = [1, 2, 3, 4, 1, 2, 3, 4, 4, 3]
    a = [9] * len(s)
    np.testing.assert_array_equal(rate_posterior(s, a).weights, _every_task_anew(s, a))


def test_the_shared_grid_cannot_be_changed_by_a_caller():
    post = rate_posterior([1, 2], [4, 4])
    with pytest.raises(ValueError):
        post.logit_mu[0] = 0.0
    assert rate_posterior([1, 2], [4, 4]).logit_mu is post.logit_mu
