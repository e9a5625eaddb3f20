"""Pareto-smoothed importance sampling (PSIS; Vehtari et al. 2024, JMLR 25(72):1-58).

Reweighting a posterior to another prior (tuning a prior without a refit, the sensitivity
ranking) needs PSIS weights and their Pareto k diagnostic on every warm ``forecast run``.
ArviZ's ``psislw`` computes them, but importing ArviZ costs 1.5-3 s, most of a warm run; this
module is the same algorithm for one vector of log weights in numpy: the tail of the
largest min(S/5, 3 sqrt(S)) weights is replaced by the order statistics of a generalized
Pareto distribution fitted by Zhang and Stephens' (2009) empirical Bayes estimate with a
weak prior on k, then weights are truncated at the largest raw weight and normalised.
``tests/fit/test_psis.py`` checks it agrees with ``arviz.psislw`` to machine precision.
"""

from __future__ import annotations

import numpy as np

#: Reweighting is trusted up to this Pareto k (Vehtari et al. 2024); above it, refit.
PARETO_K_MAX = 0.7


def psis_log_weights(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Smoothed, normalised log weights and the Pareto k of a vector of log weights."""
    x = np.array(log_weights, dtype=float)
    n = x.size
    if np.isnan(x).any() or not np.isfinite(x.max(initial=-np.inf)):
        return np.full(n, -np.log(max(n, 1))), np.inf  # undefined weights: never reliable
    x -= x.max()
    cutoff_index = -int(np.ceil(min(n / 5.0, 3 * np.sqrt(n)))) - 1
    order = np.argsort(x)
    cutoff = max(x[order[cutoff_index]], np.log(np.finfo(float).tiny))
    exp_cutoff = np.exp(cutoff)
    tail = np.flatnonzero(x > cutoff)
    k = np.inf
    if tail.size > 4 and np.exp(x[tail]).min() > exp_cutoff:
        tail_order = np.argsort(x[tail])
        excess = np.exp(x[tail]) - exp_cutoff
        k, sigma = _fit_generalized_pareto(excess[tail_order])
        if np.isfinite(k):
            probs = np.arange(0.5, tail.size) / tail.size
            x[tail[tail_order]] = np.log(_pareto_quantile(probs, k, sigma) + exp_cutoff)
            x[x > 0] = 0.0
    top = x.max()
    x -= top + np.log(np.exp(x - top).sum())
    return x, float(k) if np.isfinite(k) else np.inf


def psis_weights(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights and the Pareto k diagnostic (k <= 0.7: reliable)."""
    log_weights, k = psis_log_weights(np.asarray(log_ratios, dtype=float).ravel())
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum(), k


def _fit_generalized_pareto(sorted_excess: np.ndarray) -> tuple[float, float]:
    """Zhang and Stephens' estimate of the generalized Pareto shape k and scale sigma,
    shrunk toward k = 0.5 by a weak prior (as in Vehtari et al. 2024 and ArviZ)."""
    prior_scale, prior_k = 3, 10
    y = sorted_excess
    n = y.size
    m = 30 + int(n**0.5)
    b = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    b /= prior_scale * y[int(n / 4 + 0.5) - 1]
    b += 1 / y[-1]
    k_of_b = np.log1p(-b[:, None] * y).mean(axis=1)
    profile = n * (np.log(-(b / k_of_b)) - k_of_b - 1)
    weights = 1 / np.exp(profile - profile[:, None]).sum(axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    weights, b = weights[keep], b[keep]
    weights /= weights.sum()
    b_post = np.sum(b * weights)
    k_post = np.log1p(-b_post * y).mean()
    sigma = -k_post / b_post
    k_post = (n * k_post + prior_k * 0.5) / (n + prior_k)
    return float(k_post), float(sigma)


def _pareto_quantile(probs: np.ndarray, k: float, sigma: float) -> np.ndarray:
    """The generalized Pareto distribution's quantile function at ``probs`` in (0, 1)."""
    if sigma <= 0:
        return np.full_like(probs, np.nan)
    if abs(k) < np.finfo(float).eps:
        return -sigma * np.log1p(-probs)
    return sigma * np.expm1(-k * np.log1p(-probs)) / k
