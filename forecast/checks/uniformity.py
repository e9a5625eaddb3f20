"""Are ranks uniform? The simultaneous ECDF band and Holm's correction.

Uniformity is judged with the simultaneous ECDF band of Säilynoja, Bürkner and Vehtari
(2022), computed by simulation for discrete ranks (:func:`ecdf_band`): a quantity passes
when its whole ECDF stays inside the band. The band's own p-value (how often uniform ranks
have an ECDF at least as far out) is corrected across quantities with Holm's method
(:func:`holm`), so the family-wise verdict keeps its level (:func:`uniformity`). Used for
the ranks of simulation-based calibration (:mod:`forecast.checks.sbc`) and the PIT values
of the catalogue's figures (:mod:`forecast.checks.ppc`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Level of the simultaneous band and of the family-wise test.
BAND_PROB = 0.95
#: Uniform rank samples simulated to set the simultaneous band.
BAND_TRIALS = 4000


# --------------------------------------------------------------------------- uniformity


def _tail_probability(counts: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Two-sided binomial tail probability of each ECDF count (capped at 1)."""
    from scipy.stats import binom

    lower = binom.cdf(counts, n, z)
    upper = binom.sf(counts - 1, n, z)
    return np.minimum(2.0 * np.minimum(lower, upper), 1.0)


def _ecdf_counts(ranks: np.ndarray, n_ranks: int) -> np.ndarray:
    """#ranks < k for k = 1..L, for each column of ``ranks`` (n, Q) -> (Q, L)."""
    ranks = np.asarray(ranks)
    if ranks.ndim == 1:
        ranks = ranks[:, None]
    hist = np.stack([np.bincount(col, minlength=n_ranks + 1) for col in ranks.T])
    return np.cumsum(hist, axis=1)[:, :-1]


@dataclasses.dataclass(frozen=True)
class EcdfBand:
    """A simultaneous band for the ECDF of N uniform ranks on 0..L at z_k = k / (L + 1).

    ``lower``/``upper`` are counts (#ranks < k) inside the band, k = 1..L; ``gamma`` is the
    pointwise tail probability that gives the simultaneous level; ``null_minima`` are the
    smallest pointwise tail probabilities of the simulated uniform samples (for p-values).
    """

    n: int
    n_ranks: int
    prob: float
    z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    gamma: float
    null_minima: np.ndarray

    def min_tail(self, ranks: np.ndarray) -> np.ndarray:
        """The smallest pointwise tail probability of each column of ``ranks``."""
        counts = _ecdf_counts(ranks, self.n_ranks)
        return _tail_probability(counts, self.n, self.z[None, :]).min(axis=1)

    def p_value(self, ranks: np.ndarray) -> np.ndarray:
        """How often uniform ranks have an ECDF at least as far out (per column)."""
        observed = self.min_tail(ranks)
        below = (self.null_minima[None, :] <= observed[:, None]).sum(axis=1)
        return (1.0 + below) / (1.0 + self.null_minima.size)

    def inside(self, ranks: np.ndarray) -> np.ndarray:
        """Whether each column's ECDF lies inside the band everywhere."""
        counts = _ecdf_counts(ranks, self.n_ranks)
        return ((counts >= self.lower) & (counts <= self.upper)).all(axis=1)


def ecdf_band(
    n: int, n_ranks: int, prob: float = BAND_PROB, trials: int = BAND_TRIALS, seed: int = 0
) -> EcdfBand:
    """The simultaneous ``prob`` band for the ECDF of ``n`` uniform ranks on 0..``n_ranks``.

    Säilynoja et al. (2022), section 2.2, by simulation: for ``trials`` samples of ``n``
    uniform discrete ranks, the smallest two-sided binomial tail probability over the
    evaluation points z_k = k / (L + 1) (where #ranks < k ~ Binomial(n, z_k) marginally);
    gamma is the (1 - prob) quantile of those minima, and the band holds the counts whose
    tail probability is at least gamma at every point. Simulating discrete ranks (rather
    than a continuous uniform) makes the level exact for SBC ranks.
    """
    from scipy.stats import binom

    rng = np.random.default_rng([seed, 31])
    z = np.arange(1, n_ranks + 1) / (n_ranks + 1)
    minima = np.empty(trials)
    block = 500
    for start in range(0, trials, block):
        m = min(block, trials - start)
        sample = rng.integers(0, n_ranks + 1, size=(n, m))
        counts = _ecdf_counts(sample, n_ranks)
        minima[start : start + m] = _tail_probability(counts, n, z[None, :]).min(axis=1)
    gamma = float(np.quantile(minima, 1.0 - prob))
    lower = binom.ppf(gamma / 2.0, n, z)
    # the largest c with P(X >= c) >= gamma / 2
    c = np.arange(n + 1)[:, None]
    ok = binom.sf(c - 1, n, z[None, :]) >= gamma / 2.0
    upper = np.where(ok, c, -1).max(axis=0)
    return EcdfBand(n, n_ranks, prob, z, lower, upper.astype(float), gamma, np.sort(minima))


def holm(p_values: np.ndarray, level: float = 1.0 - BAND_PROB) -> np.ndarray:
    """Holm's step-down rejections at family-wise ``level`` (True = rejected)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    reject = np.zeros(p.size, dtype=bool)
    for step, i in enumerate(order):
        if p[i] > level / (p.size - step):
            break
        reject[i] = True
    return reject


def uniformity(ranks: np.ndarray, n_ranks: int, names, seed: int = 0) -> list[dict]:
    """Per quantity: the band test, its p-value, Holm's verdict and the rank shape.

    ``shape`` reads the departure: the mean of rank / L (0.5 when unbiased; above means the
    truth tends to sit high in the posterior, i.e. the posterior under-estimates) and the
    share of ranks in the outer fifths (0.4 when uniform; more means the posterior is too
    narrow, less too wide). Missing ranks (-1: the uplift could not be simulated for that
    fit) are left out of their quantity's test, which then has fewer fits (``n``).
    """
    ranks = np.asarray(ranks)
    bands: dict[int, EcdfBand] = {}
    p, inside, valid = [], [], []
    for j in range(ranks.shape[1]):
        col = ranks[ranks[:, j] >= 0, j]
        valid.append(col)
        if col.size == 0:
            p.append(1.0)
            inside.append(True)
            continue
        if col.size not in bands:
            bands[col.size] = ecdf_band(col.size, n_ranks, seed=seed)
        band = bands[col.size]
        p.append(float(band.p_value(col)[0]))
        inside.append(bool(band.inside(col)[0]))
    rejected = holm(np.array(p))
    out = []
    for j, name in enumerate(names):
        col = valid[j] / n_ranks
        mean = float(col.mean()) if col.size else float("nan")
        outer = float(((col < 0.2) | (col > 0.8)).mean()) if col.size else float("nan")
        verdict = _verdict(inside[j], bool(rejected[j]), mean, outer) if col.size else "no ranks"
        out.append(
            {
                "quantity": name,
                "n": int(col.size),
                "mean_rank_fraction": mean,
                "outer_fifths_share": outer,
                "p_value": p[j],
                "inside_band": inside[j],
                "holm_rejected": bool(rejected[j]),
                "verdict": verdict,
            }
        )
    return out


def _verdict(inside: bool, rejected: bool, mean: float, outer: float) -> str:
    if inside:
        return "uniform (inside the 95% band)"
    shape = []
    if abs(mean - 0.5) > 0.05:
        shape.append("truth high in the posterior" if mean > 0.5 else "truth low in the posterior")
    if outer > 0.48:
        shape.append("posterior too narrow")
    elif outer < 0.32:
        shape.append("posterior too wide")
    what = "; ".join(shape) or "irregular"
    return ("NOT uniform after Holm: " if rejected else "outside the band: ") + what
