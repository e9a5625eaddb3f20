"""Why this buffer: the uplift at the horizon split into where it comes from.

Quantiles are not additive, so the split is made draw by draw and then averaged:

1. For each draw, the uncapped uplift at the horizon, ``raw = G(B u P) - G(B)``, is split
   among *groups* of enhancements P = known (catalogue enhancements the actor can still
   apply), gap (published after the evidence ends and before the reference date, not
   absorbed) and the new arrivals of each category, by their Shapley values: each group's
   marginal contribution averaged over every order in which the groups could be added. The
   values add up to ``raw`` exactly (efficiency), whatever the composability.
2. The soft ceiling scales every value by ``U / raw`` (so they add up to U).
3. The values are averaged over a band of draws: the median band (draws between the 40th
   and 60th percentiles of U) and the tail band (draws at and above the buffer quantile).
   The averages add up to the band's mean uplift.

Pure numpy on the simulation's per-draw drivers (:attr:`forecast.simulate.uplift.Uplift.drivers`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from forecast.core.schemas.common import CATEGORIES
from forecast.fit.compose import rank_discounted_sum, saturate

#: The bands of draws the split is reported for: (name, lower quantile, upper quantile).
MEDIAN_BAND = (0.4, 0.6)


def group_names() -> list[str]:
    return ["known", "gap", *(f"new_{c}" for c in CATEGORIES)]


def shapley_split(drivers: dict, rows: np.ndarray | None = None) -> np.ndarray:
    """Shapley values of each group in the capped uplift at the horizon, (n, groups).

    ``rows`` restricts the computation to some draws (the bands); the rest are NaN.
    A category's within-category sum depends only on whether the known group, the gap
    group and that category's own arrivals are in a coalition (8 cases), so those are
    computed once and each of the 2^7 coalitions only redoes the between-category step.
    """
    n = drivers["uncapped"].shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows)
    base = drivers["baseline_gains"][rows]
    known = drivers["known_available_gains"][rows]
    gap = drivers["gap_available_gains"][rows]
    new = drivers["arrived_gains"][rows]
    d_w = drivers["composability_within"][rows]
    d_b = drivers["composability_between"][rows]
    n_cat = base.shape[1]
    # within[k][(known?, gap?, new?)]: the category's rank-discounted sum, (rows,)
    within = []
    for k in range(n_cat):
        cases = {}
        for flags in itertools.product((False, True), repeat=3):
            parts = [base[:, k]] + [
                part[:, k] for part, on in zip((known, gap, new), flags, strict=True) if on
            ]
            cases[flags] = rank_discounted_sum(np.concatenate(parts, axis=-1), d_w)
        within.append(cases)
    m = 2 + n_cat  # known, gap, one group of new arrivals per category

    def value(coalition: frozenset) -> np.ndarray:
        totals = np.stack(
            [within[k][(0 in coalition, 1 in coalition, 2 + k in coalition)] for k in range(n_cat)],
            axis=-1,
        )
        return rank_discounted_sum(totals, d_b)

    values = {
        frozenset(c): value(frozenset(c))
        for size in range(m + 1)
        for c in itertools.combinations(range(m), size)
    }
    out = np.zeros((len(rows), m))
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for coalition in itertools.combinations(others, size):
                c = frozenset(coalition)
                out[:, i] += weight * (values[c | {i}] - values[c])
    raw = values[frozenset(range(m))] - values[frozenset()]
    capped = saturate(np.maximum(raw, 0.0), drivers["ceiling"][rows])
    scale = np.divide(capped, raw, out=np.zeros_like(raw), where=raw > 1e-12)
    full = np.full((n, m), np.nan)
    full[rows] = out * scale[:, None]
    return full


def bands(uplift_at_horizon: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """Draw indices of the median band and of the tail at and above the buffer quantile."""
    lo, hi = np.quantile(uplift_at_horizon, MEDIAN_BAND)
    buffer = np.quantile(uplift_at_horizon, confidence)
    median = np.flatnonzero((uplift_at_horizon >= lo) & (uplift_at_horizon <= hi))
    tail = np.flatnonzero(uplift_at_horizon >= buffer)
    return {"median": median, "tail": tail}


def decomposition(uplift_at_horizon: np.ndarray, drivers: dict, confidence: float) -> dict:
    """The split of the uplift by source, in the median band and the tail (module docstring).

    Returns, for each band, the mean uplift, the number of draws, and each group's mean
    contribution in OOM and as a share of the band's mean uplift.
    """
    chosen = bands(uplift_at_horizon, confidence)
    rows = np.union1d(chosen["median"], chosen["tail"])
    values = shapley_split(drivers, rows)
    names = group_names()
    out = {}
    for band, idx in chosen.items():
        mean_u = float(uplift_at_horizon[idx].mean()) if idx.size else 0.0
        contributions = values[idx].mean(axis=0) if idx.size else np.zeros(len(names))
        out[band] = {
            "draws": int(idx.size),
            "mean_uplift_oom": mean_u,
            "uplift_range_oom": [
                float(uplift_at_horizon[idx].min()) if idx.size else 0.0,
                float(uplift_at_horizon[idx].max()) if idx.size else 0.0,
            ],
            "sources": [
                {
                    "source": name,
                    "oom": float(c),
                    "share": float(c / mean_u) if mean_u > 1e-12 else 0.0,
                }
                for name, c in zip(names, contributions, strict=True)
            ],
        }
    return out


#: Per-draw drivers compared between the tail and all draws: key -> (label, units).
DRIVERS = {
    "arrivals": ("new enhancements the actor can use, arrived by the horizon", "count"),
    "gap_available": ("published since the evidence ends, not absorbed, usable", "count"),
    "known_available": ("catalogue enhancements the actor can still apply", "count"),
    "ceiling": ("uplift ceiling drawn for the draw", "OOM"),
    "trend_shift": ("date-trend shift of a new gain past the evidence", "OOM"),
    "scale_shift": ("shift of a new gain from the evidence's scale to this base model", "OOM"),
    "composability_within": ("composability within a category", "factor"),
    "composability_between": ("composability between categories", "factor"),
}


def tail_profile(uplift_at_horizon: np.ndarray, drivers: dict, confidence: float) -> list[dict]:
    """What the draws at and above the buffer quantile look like, against all draws."""
    tail = bands(uplift_at_horizon, confidence)["tail"]
    out = []
    for key, (label, units) in DRIVERS.items():
        values = np.asarray(drivers[key], dtype=float)
        out.append(
            {
                "driver": key,
                "label": label,
                "units": units,
                "all_mean": float(values.mean()),
                "tail_mean": float(values[tail].mean()) if tail.size else float("nan"),
                "all_median": float(np.median(values)),
                "tail_median": float(np.median(values[tail])) if tail.size else float("nan"),
            }
        )
    return out
