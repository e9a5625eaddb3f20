"""Scores of a forecast distribution (a sample of draws) against what was measured.

The PIT, its randomised form for distributions with atoms (a forecast of the best score has a
point mass at the starting score: no improvement), interval hits read from the PIT, the CRPS,
and totals with the range a calibrated forecast would give (Binomial counts). Pure numpy
(scipy for the binomial quantiles); no files, no printing.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_NAMES = ("q05", "q25", "q50", "q75", "q95")
#: Bins of the PIT histograms (the JSON's counts and the figures).
PIT_BINS = 10


def crps(samples: np.ndarray, y: float) -> float:
    """CRPS of the empirical distribution of ``samples`` at ``y`` (Gneiting and Raftery
    2007): E|X - y| - E|X - X'| / 2, with E|X - X'| from the sorted sample in O(n log n)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    spread = 2.0 * np.dot(2.0 * np.arange(1, n + 1) - n - 1, x) / (n * n)
    return float(np.mean(np.abs(x - y)) - 0.5 * spread)


def mid_pit(samples: np.ndarray, y: float) -> float:
    """P(X < y) + P(X = y) / 2 under the sample (the mid-PIT of a discrete forecast)."""
    x = np.asarray(samples, dtype=float)
    return float((x < y).mean() + 0.5 * np.isclose(x, y).mean())


def randomised_pit(samples: np.ndarray, y: float, u: float) -> float:
    """P(X < y) + u P(X = y) for a uniform ``u``: uniform on (0, 1) when ``y`` is a draw from
    the forecast, atoms included (Czado, Gneiting and Held 2009). The mid-PIT is ``u = 1/2``;
    its mean is 1/2 under calibration too, but its histogram piles up in the middle."""
    x = np.asarray(samples, dtype=float)
    return float((x < y).mean() + u * np.isclose(x, y).mean())


def score(forecast: np.ndarray, measured: float, no_change: float, u: float) -> dict:
    """Quantiles, interval hits, PIT and CRPS of one forecast against the measured value.

    The central 50% and 90% intervals are read from the randomised PIT (``u`` as in
    :func:`randomised_pit`): a hit of the 90% interval is a PIT within [0.05, 0.95]. For a
    continuous forecast that is "between the 5% and 95% quantiles"; with an atom (the
    forecast's point mass at no change) it counts the atom's share fairly, so a calibrated
    forecast hits each interval at its nominal rate. ``no_change`` is the forecast of no
    change (a point mass), whose CRPS is the distance to it.
    """
    q = np.quantile(forecast, QUANTILES)
    pit = randomised_pit(forecast, measured, u)
    return {f"forecast_{k}": float(v) for k, v in zip(QUANTILE_NAMES, q, strict=True)} | {
        "pit": pit,
        "mid_pit": mid_pit(forecast, measured),
        "inside_50": bool(0.25 <= pit <= 0.75),
        "inside_90": bool(0.05 <= pit <= 0.95),
        "above_median": bool(measured > q[2]),
        "crps": crps(forecast, measured),
        "crps_no_change": abs(float(no_change) - float(measured)),
    }


def calibrated_range(n: int, p: float, mass: float = 0.9) -> list[int]:
    """The central ``mass`` range of a Binomial(n, p) count: what a calibrated forecast's hit
    count falls in (if the n comparisons were independent)."""
    from scipy.stats import binom

    tail = (1.0 - mass) / 2.0
    return [int(binom.ppf(tail, n, p)), int(binom.isf(tail, n, p))]


def pit_histogram(pits, bins: int = PIT_BINS) -> list[int]:
    """Counts of PIT values in ``bins`` equal bins of [0, 1]."""
    counts, _ = np.histogram(np.asarray(pits, dtype=float), bins=bins, range=(0.0, 1.0))
    return [int(c) for c in counts]


def totals(rows: list[dict]) -> dict:
    """Coverage, PIT, bias and CRPS over the scored rows (those with a ``crps``), beside what a
    calibrated forecast would give: the hit counts' central 90% range, a mean PIT of 0.5, at
    most half the measured values above the median."""
    done = [r for r in rows if "crps" in r]
    n = len(done)
    if not n:
        return {"n": 0}
    pits = [r["pit"] for r in done]
    mean_crps = float(np.mean([r["crps"] for r in done]))
    no_change = float(np.mean([r["crps_no_change"] for r in done]))
    out = {
        "n": n,
        "inside_50": sum(r["inside_50"] for r in done),
        "inside_90": sum(r["inside_90"] for r in done),
        "expected_50": 0.5 * n,
        "expected_90": 0.9 * n,
        "range_50_if_calibrated": calibrated_range(n, 0.5),
        "range_90_if_calibrated": calibrated_range(n, 0.9),
        "mean_pit": float(np.mean(pits)),
        "pit_histogram": pit_histogram(pits),
        "mean_crps": mean_crps,
        "mean_crps_no_change": no_change,
        "crps_skill": 1.0 - mean_crps / no_change if no_change > 0 else None,
    }
    if all("above_median" in r for r in done):
        above = sum(r["above_median"] for r in done)
        out |= {"above_median": above, "share_above_median": above / n}
    if all("mid_pit" in r for r in done):
        out["mean_mid_pit"] = float(np.mean([r["mid_pit"] for r in done]))
    return out
