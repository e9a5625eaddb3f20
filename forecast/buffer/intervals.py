"""Safety-buffer numerics (MODEL.md section 5): quantiles of uplift over time, re-evaluation
intervals, and a policy rule's verdict from the numbers of its reading.

Pure numerics on uplift draws: the policy files themselves are read by
:mod:`forecast.inputs.policies`, which calls :func:`policy_verdict` with the numbers.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

#: Buffers for which the re-evaluation interval is always reported.
STANDARD_BUFFERS = (2.0, 4.0, 6.0, 10.0)


def quantile_over_time(uplift_oom: np.ndarray, confidence: float) -> np.ndarray:
    """The ``confidence`` quantile of U(t) at each grid month, in OOM."""
    return np.quantile(uplift_oom, confidence, axis=0)


def quantile_interval(samples: np.ndarray, q: float, mass: float = 0.9) -> tuple[float, float]:
    """Distribution-free Monte Carlo interval of the q-quantile from order statistics.

    The rank of the q-quantile among n draws is Binomial(n, q); its normal approximation
    gives the ranks that bracket the true quantile with probability ``mass``. It measures
    simulation noise only, not model uncertainty.
    """
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    z = NormalDist().inv_cdf((1 + mass) / 2)
    half = z * math.sqrt(n * q * (1 - q))
    lo, hi = int(math.floor(n * q - half)), int(math.ceil(n * q + half))
    return float(x[min(max(lo, 0), n - 1)]), float(x[min(max(hi, 0), n - 1)])


def reevaluation_months(
    times: np.ndarray, uplift_oom: np.ndarray, confidence: float, buffer_oom: float
) -> dict:
    """The longest time for which ``buffer_oom`` still covers U(t) at ``confidence``.

    U is non-decreasing in t for every draw, so its quantile is too; between grid points
    the crossing month is interpolated linearly. ``beyond_horizon`` means the buffer
    covers the whole simulated grid (the interval is at least that long).
    """
    q = quantile_over_time(uplift_oom, confidence)
    covered = q <= buffer_oom + 1e-12
    if covered.all():
        return {"months": float(times[-1]), "beyond_horizon": True}
    first_short = int(np.argmax(~covered))
    if first_short == 0:
        return {"months": 0.0, "beyond_horizon": False}
    t0, t1, q0, q1 = times[first_short - 1], times[first_short], q[first_short - 1], q[first_short]
    months = t0 + (t1 - t0) * (buffer_oom - q0) / (q1 - q0) if q1 > q0 else t0
    return {"months": float(months), "beyond_horizon": False}


def grid_index(times: np.ndarray, months: float) -> int:
    """The index of ``months`` on the time grid; the grid must contain it.

    Raises
    ------
    ValueError
        If ``months`` is not a grid month (the caller must add it with ``extra_months``).
    """
    hits = np.flatnonzero(np.isclose(times, months, rtol=0, atol=1e-9))
    if not len(hits):
        raise ValueError(f"month {months:g} is not on the simulation's time grid")
    return int(hits[0])


def implied_buffer(
    times: np.ndarray, uplift_oom: np.ndarray, confidence: float, months: float
) -> float:
    """The buffer that covers the uplift accumulated by ``months`` at ``confidence``:
    ``Q_confidence(U(months))`` in OOM."""
    return float(np.quantile(uplift_oom[:, grid_index(times, months)], confidence))


def period_need(
    times: np.ndarray,
    uplift_oom: np.ndarray,
    confidence: float,
    months: float,
    buffer_multiplier: float | None = None,
) -> dict:
    """The buffer a rule needs over ``months`` (``Q_confidence(U(months))``) and, for a
    stated buffer, whether it covers that and by how much (OOM)."""
    needed = implied_buffer(times, uplift_oom, confidence, months)
    out = {
        "period_months": float(months),
        "implied_buffer_oom": needed,
        "implied_buffer_multiplier": 10.0**needed,
        "covers": None,
        "margin_oom": None,
    }
    if buffer_multiplier:
        b = math.log10(buffer_multiplier)
        out |= {"covers": bool(needed <= b), "margin_oom": b - needed}
    return out


def policy_verdict(
    times: np.ndarray,
    uplift_oom: np.ndarray,
    confidence: float,
    horizon_months: float,
    buffer_multiplier: float | None = None,
    compute_multiplier: float | None = None,
    calendar_months: float | None = None,
) -> dict:
    """What the forecast says about one rule, given the numbers of its reading.

    The period is the rule's calendar cadence, or the horizon when it states none. The
    implied buffer is the ``confidence`` quantile of the uplift over that period; a stated
    buffer covers when it is at least that large (the margin is the difference in OOM). A
    compute cadence (re-evaluate at ``compute_multiplier`` x effective compute) is reported
    as a trigger: the probability that the period's uplift reaches it, and how long the
    uplift takes to reach it at ``confidence`` (0 months, with ``reached_at_start``, when
    the uplift already available at the grid's first month reaches it).

    Parameters
    ----------
    times
        Grid months; must contain ``calendar_months`` (or ``horizon_months``).
    uplift_oom
        (N, T) uplift draws in OOM.
    """
    period = float(calendar_months) if calendar_months else float(horizon_months)
    at = uplift_oom[:, grid_index(times, period)]
    need = period_need(times, uplift_oom, confidence, period, buffer_multiplier)
    lo, hi = quantile_interval(at, confidence)
    out = {
        "period_months": period,
        "period_basis": "calendar cadence" if calendar_months else "horizon (no calendar cadence)",
        "implied_buffer_oom": need["implied_buffer_oom"],
        "implied_buffer_multiplier": need["implied_buffer_multiplier"],
        "implied_buffer_mc_interval_oom": [lo, hi],
        "buffer_oom": None,
        "buffer_multiplier": buffer_multiplier,
        "covers": None,
        "margin_oom": None,
        "p_uplift_exceeds_buffer": None,
        "buffer_lasts": None,
        "compute_trigger": None,
        "verdict": "implied buffer",
    }
    if buffer_multiplier:
        b = math.log10(buffer_multiplier)
        out |= {
            "buffer_oom": b,
            "covers": need["covers"],
            "margin_oom": need["margin_oom"],
            "p_uplift_exceeds_buffer": float((at > b).mean()),
            "buffer_lasts": reevaluation_months(times, uplift_oom, confidence, b),
            "verdict": "covers" if need["covers"] else "does not cover",
        }
    if compute_multiplier:
        c = math.log10(compute_multiplier)
        reach = reevaluation_months(times, uplift_oom, confidence, c)
        out["compute_trigger"] = {
            "multiplier": float(compute_multiplier),
            "oom": c,
            "p_reached_within_period": float((at >= c).mean()),
            "time_to_reach": reach,
            "reached_at_start": reach["months"] == 0 and not reach["beyond_horizon"],
        }
    return out
