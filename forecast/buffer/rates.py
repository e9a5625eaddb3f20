"""Per-task success rates: the logit scale and each task's rate posterior from its counts.

``independent`` pooling gives each task a Jeffreys Beta; ``hierarchical`` pools the tasks
through a beta-binomial whose hyperparameters are integrated on a grid
(:class:`RatePosterior`). Pure numerics.
"""

from __future__ import annotations

import collections
import dataclasses
import functools

import numpy as np

_EPS = 1e-6


def logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------- task rates

#: Hyperprior grid of the beta-binomial: logit(mu) and log(kappa) points.
MU_POINTS, KAPPA_POINTS = 200, 160
LOGIT_MU_RANGE = (-9.2, 9.2)  # mu from 1e-4 to 1 - 1e-4
LOG_KAPPA_RANGE = (np.log(1e-3), np.log(1e5))
#: Most grids of a repeated task's log likelihood held at once (256 kB each).
_KEPT_TERMS = 64


@dataclasses.dataclass(frozen=True)
class RatePosterior:
    """The posterior of each task's per-attempt success rate.

    ``independent``: Jeffreys, ``p_j ~ Beta(s_j + 1/2, a_j - s_j + 1/2)``. ``hierarchical``:
    ``p_j ~ Beta(mu kappa, (1 - mu) kappa)`` with mu ~ Uniform(0, 1) and
    ``p(kappa) = 1 / (1 + kappa)^2``; the posterior of (mu, kappa) is computed on a grid
    (``weights`` over ``logit_mu`` x ``log_kappa``), and given them each ``p_j`` is
    ``Beta(mu kappa + s_j, (1 - mu) kappa + a_j - s_j)``.
    """

    successes: np.ndarray
    attempts: np.ndarray
    pooling: str
    logit_mu: np.ndarray | None = None
    log_kappa: np.ndarray | None = None
    weights: np.ndarray | None = None  # (MU_POINTS, KAPPA_POINTS), sums to 1

    def hyper_draws(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(mu, kappa) draws: grid cells by weight, jittered uniformly within the cell."""
        cells = rng.choice(self.weights.size, size=n, p=self.weights.ravel())
        i, j = np.unravel_index(cells, self.weights.shape)
        dm = self.logit_mu[1] - self.logit_mu[0]
        dk = self.log_kappa[1] - self.log_kappa[0]
        lm = self.logit_mu[i] + rng.uniform(-dm / 2, dm / 2, n)
        lk = self.log_kappa[j] + rng.uniform(-dk / 2, dk / 2, n)
        return expit(lm), np.exp(lk)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, tasks) draws of the per-task rates."""
        s, a = self.successes, self.attempts
        if self.pooling == "independent":
            return rng.beta(s + 0.5, a - s + 0.5, size=(n, len(s)))
        mu, kappa = self.hyper_draws(n, rng)
        alpha = (mu * kappa)[:, None] + s
        beta = ((1 - mu) * kappa)[:, None] + (a - s)
        return rng.beta(alpha, beta)

    def hyper_summary(self) -> dict | None:
        """Posterior mean and 90% interval of mu (mean task rate) and kappa (concentration)."""
        if self.pooling == "independent":
            return None
        out = {}
        for name, grid, axis in (
            ("mu", expit(self.logit_mu), 1),
            ("kappa", np.exp(self.log_kappa), 0),
        ):
            marginal = self.weights.sum(axis=axis)
            cdf = np.cumsum(marginal)
            at = [min(int(np.searchsorted(cdf, p)), len(grid) - 1) for p in (0.05, 0.5, 0.95)]
            out[name] = {"mean": float((marginal * grid).sum())} | {
                k: float(grid[i]) for k, i in zip(("q05", "q50", "q95"), at, strict=True)
            }
        return out


@functools.cache
def _grid() -> tuple[np.ndarray, ...]:
    """The hyperprior grid, the same for every call (read-only): logit_mu, log_kappa, the
    Beta parameters alpha and beta at each point, betaln(alpha, beta) and the log prior."""
    from scipy.special import betaln

    logit_mu = np.linspace(*LOGIT_MU_RANGE, MU_POINTS)
    log_kappa = np.linspace(*LOG_KAPPA_RANGE, KAPPA_POINTS)
    mu = expit(logit_mu)[:, None]
    kappa = np.exp(log_kappa)[None, :]
    alpha, beta = mu * kappa, (1 - mu) * kappa
    # mu ~ Uniform(0, 1) and p(kappa) = 1/(1 + kappa)^2, as densities on the logit/log grid
    logprior = np.log(mu * (1 - mu)) + np.log(kappa) - 2 * np.log1p(kappa)
    out = (logit_mu, log_kappa, alpha, beta, betaln(alpha, beta), logprior)
    for array in out:
        array.flags.writeable = False
    return out


def rate_posterior(successes, attempts, pooling: str = "hierarchical") -> RatePosterior:
    """The posterior of per-task rates from counts (``pooling``: see :class:`RatePosterior`)."""
    s = np.asarray(successes, dtype=float)
    a = np.asarray(attempts, dtype=float)
    if pooling == "independent":
        return RatePosterior(s, a, pooling)
    from scipy.special import betaln

    logit_mu, log_kappa, alpha, beta, prior_term, logprior = _grid()
    # Each task adds betaln(alpha + s, beta + a - s) - betaln(alpha, beta) on the grid. Tasks
    # with the same counts add the same term, so a repeated (s, a) is evaluated once (at most
    # _KEPT_TERMS grids kept at a time) and the terms are still added task by task in the
    # tasks' order: the same sums, bit for bit, as evaluating every task anew (betaln is most
    # of the cost; 20 tasks with 5 distinct counts take a sixth of the time).
    pairs = list(zip(s.tolist(), a.tolist(), strict=True))
    uses = collections.Counter(pairs)
    kept: dict[tuple[float, float], np.ndarray] = {}
    loglik = np.zeros((MU_POINTS, KAPPA_POINTS))
    for pair in pairs:
        term = kept.get(pair)
        if term is None:
            sj, aj = pair
            term = betaln(alpha + sj, beta + aj - sj) - prior_term
            if uses[pair] > 1 and len(kept) < _KEPT_TERMS:
                kept[pair] = term
        loglik += term
        uses[pair] -= 1
        if uses[pair] == 0:
            kept.pop(pair, None)
    logpost = loglik + logprior
    weights = np.exp(logpost - logpost.max())
    return RatePosterior(s, a, pooling, logit_mu, log_kappa, weights / weights.sum())
