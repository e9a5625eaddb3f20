"""OOM <-> multiplier conversions and the way numbers are shown to users.

Internally everything is in OOM (orders of magnitude, log10 of a CEG); users see both
the OOM and the multiplier, e.g. ``1.30 OOM (20x)``.
"""

from __future__ import annotations

import math

import numpy as np


def multiplier(oom: float) -> float:
    return float(10.0**oom)


def fmt_multiplier(oom: float) -> str:
    """``0.8`` -> ``6.3x``; ``3.38`` -> ``2,400x``; ``6.08`` -> ``1.2e+06x``."""
    if not math.isfinite(oom):
        return "n/a"
    m = 10.0**oom
    if m < 10:
        return f"{m:.2g}x" if m < 1 else f"{m:.1f}x"
    if m < 1e6:
        return f"{m:,.0f}x" if m >= 100 else f"{m:.0f}x"
    return f"{m:.2g}x"


def fmt_oom(oom: float, digits: int = 2) -> str:
    return "n/a" if not math.isfinite(oom) else f"{oom:.{digits}f} OOM"


def fmt_both(oom: float) -> str:
    """``1.30 OOM (20x)``."""
    return f"{fmt_oom(oom)} ({fmt_multiplier(oom)})"


def quantile_summary(samples: np.ndarray, mass: float = 0.9) -> dict[str, float]:
    """Median and central interval of OOM samples, in OOM and as multipliers."""
    lo_q, hi_q = (1 - mass) / 2, 1 - (1 - mass) / 2
    lo, med, hi = np.quantile(np.asarray(samples, dtype=float), [lo_q, 0.5, hi_q])
    return {
        "median_oom": float(med),
        "lower_oom": float(lo),
        "upper_oom": float(hi),
        "median_multiplier": multiplier(med),
        "lower_multiplier": multiplier(lo),
        "upper_multiplier": multiplier(hi),
        "interval_mass": mass,
    }


def fmt_interval(summary: dict[str, float]) -> str:
    """``0.56 OOM (3.6x) [0.19, 0.98]``: median, then the interval in OOM."""
    return (
        f"{fmt_both(summary['median_oom'])} "
        f"[{summary['lower_oom']:.2f}, {summary['upper_oom']:.2f}]"
    )


def plain_summary(samples: np.ndarray, mass: float = 0.9) -> dict[str, float]:
    """Median and central interval of a quantity that is not in OOM."""
    lo, med, hi = np.quantile(
        np.asarray(samples, dtype=float), [(1 - mass) / 2, 0.5, (1 + mass) / 2]
    )
    return {"median": float(med), "lower": float(lo), "upper": float(hi), "interval_mass": mass}
