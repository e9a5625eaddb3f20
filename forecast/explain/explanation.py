"""Why this buffer, in one record: what the uplift is made of and what the number rests on.

:func:`explain` gathers, for a :class:`~forecast.buffer.forecasting.ForecastResult`:

- the split of the uplift at the horizon into what the evidence's rate and size of
  improvements imply, what attention adds and what chance adds, in the median band and in
  the draws at and above the buffer quantile (:mod:`forecast.explain.decompose`, with its
  rule stated), and what those tail draws look like against all draws;
- the buffer from the priors alone (no evidence) beside the posterior's;
- the headline (:func:`headline`): the buffer with the range a reviewer must read beside it
  (the assumption profiles' buffers and the one assumption that moves it most) in one line,
  and which value to cite;
- the assumptions the buffer is most sensitive to (the sensitivity ranking), and among
  them the ones the evidence does not settle (posterior contraction below
  :data:`SETTLED_CONTRACTION` and a swing above :data:`MATTERS_OOM`), each with the buffer
  at its low and high reading: an assumption is never passed off as a finding.

Nothing prints; the CLI (``forecast run``, ``forecast explain``), the JSON and the report
render the record.
"""

from __future__ import annotations

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.explain.decompose import PARTS, decomposition, tail_profile
from forecast.explain.prior_check import prior_buffer
from forecast.explain.sensitivity import prior_sensitivity
from forecast.explain.summaries import contraction

RULE = (
    "Quantiles do not add up, so each draw's uplift at the horizon is split exactly into "
    "three parts: the uplift its posterior parameters imply for a model with typical "
    "attention (expected improvements by the horizon times their mean size), what this "
    "draw's attention factor adds or takes away, and chance (which improvements came and "
    "how large they were). The parts are averaged over a band of draws: the median band "
    "(40th to 60th percentile) and the tail (the draws at and above the buffer quantile). "
    "A band's averages add up to its mean uplift."
)
#: A prior whose posterior variance is at least this much smaller than its prior's counts as
#: settled by the evidence (Betancourt's posterior contraction).
SETTLED_CONTRACTION = 0.3
#: A prior whose variations move the buffer by more than this (OOM) matters.
MATTERS_OOM = 0.1


def explain(
    result: ForecastResult,
    sensitivity: dict | None = None,
    top: int = 3,
    quick: bool = True,
    profiles: list[dict] | None = None,
) -> dict:
    """The explanation record of a forecast (module docstring).

    Parameters
    ----------
    sensitivity
        A :func:`forecast.explain.sensitivity.prior_sensitivity` document; computed if None
        (with only the two shifts of each prior when ``quick``).
    top
        How many of the most influential assumptions to name.
    profiles
        Rows with ``profile`` and ``buffer_oom`` (None: unknown) for the headline's range;
        computed by :func:`forecast.explain.profiles.profile_buffers` if None (only from fits
        at hand: it never samples).
    """
    from forecast.explain.profiles import profile_buffers

    at_horizon = result.at_horizon
    drivers = explanation_drivers(result)
    split = decomposition(at_horizon, drivers, result.confidence)
    sens = sensitivity if sensitivity is not None else prior_sensitivity(result, quick=quick)
    how = (
        "shifting it by one standard deviation down or up"
        if sens["variations"].startswith("shifts")
        else "tightening, widening or shifting it"
    )
    movers = [_mover(result, row, how) for row in sens["priors"][:top] if row["swing_oom"] > 0]
    unsettled = [
        _mover(result, row, how)
        for row in sens["priors"]
        if row["swing_oom"] > MATTERS_OOM
        and (
            _contraction(result, row["prior"]) is None
            or _contraction(result, row["prior"]) < SETTLED_CONTRACTION
        )
    ]
    prior_only = prior_buffer(result)
    if profiles is None:
        profiles = profile_buffers(result)
    return {
        "rule": RULE,
        "headline": headline(result, movers, profiles),
        "buffer_oom": result.buffer_oom,
        "median_oom": float(np.median(at_horizon)),
        "prior_only_buffer_oom": prior_only,
        "evidence_moves_buffer_oom": result.buffer_oom - prior_only,
        "share_of_draws_without_uplift": float(np.mean(at_horizon <= 1e-12)),
        "decomposition": split,
        "part_labels": PARTS,
        "tail_profile": tail_profile(at_horizon, drivers, result.confidence),
        "most_sensitive": movers,
        "unsettled": unsettled,
        "sensitivity_variations": sens.get("variations"),
        "unreliable_variations": sum(row.get("unreliable", 0) for row in sens["priors"]),
        "summary": summary_lines(result, split, prior_only, movers, unsettled),
    }


def headline(result: ForecastResult, movers: list[dict], profiles: list[dict]) -> dict:
    """The recommendation with its range, in one line a reviewer can quote.

    The range spans the assumption profiles' buffers (those computed) and the buffer at the
    low and high reading of the assumption that moves it most (``movers[0]``); the Monte
    Carlo interval is simulation noise, not this range.
    """
    from forecast.core.units import fmt_both

    known = [p for p in profiles if p.get("buffer_oom") is not None]
    values = [result.buffer_oom] + [p["buffer_oom"] for p in known]
    top = movers[0] if movers else None
    if top is not None:
        values += list(top["buffer_range_oom"])
    low, high = min(values), max(values)
    parts = []
    if known:
        parts.append(
            "assumption profiles "
            + ", ".join(f"{p['profile']} {p['buffer_oom']:.2f}" for p in known)
        )
    if top is not None:
        lo, hi = top["buffer_range_oom"]
        parts.append(f"{top['prior']} (moves it most) {lo:.2f} to {hi:.2f}")
    missing = [p["profile"] for p in profiles if p.get("buffer_oom") is None]
    basis = "; ".join(parts)
    if missing:
        basis += f"; not computed here: {', '.join(missing)} (forecast explain)"
    text = (
        f"{fmt_both(result.buffer_oom)} at {result.confidence:.0%} over "
        f"{result.horizon_months:g} months; range {low:.2f} to {high:.2f} OOM"
        + (f" ({basis})" if basis else "")
    )
    return {
        "buffer_oom": result.buffer_oom,
        "range_oom": [low, high],
        "profiles": {p["profile"]: p.get("buffer_oom") for p in profiles},
        "top_assumption": None
        if top is None
        else {"prior": top["prior"], "buffer_range_oom": top["buffer_range_oom"]},
        "basis": basis,
        "text": text,
        "cite": (
            "In a risk assessment, cite the buffer with its range: the central value is this "
            "scenario's forecast under the default assumptions; the range's upper end is "
            "the buffer if the assumptions the evidence does not settle fall on the cautious "
            "side. Where under-protection is the costlier error, plan to the upper end."
        ),
    }


def explanation_drivers(result: ForecastResult) -> dict:
    """The simulation's per-draw drivers with the events by the horizon and the posterior
    parameters each forecast draw used."""
    index = result.uplift.drivers["posterior_index"]
    drivers = dict(result.uplift.drivers)
    drivers["events_at_horizon"] = result.uplift.events[:, result.horizon_index]
    for name in ("rate_decay_months", "rate_trend", "event_rate"):
        drivers[name] = result.posterior[name][index]
    return drivers


def _contraction(result: ForecastResult, name: str) -> float | None:
    """The posterior contraction of a prior of the uplift model (None for other priors:
    a catalogue or forecast prior is not settled by the histories)."""
    info = result.inputs.priors[name]
    if info.drives != "histories":
        return None
    return contraction(result.fits.histories, result.fits.histories_priors, name)


def _mover(result: ForecastResult, row: dict, how: str) -> dict:
    return {
        "prior": row["prior"],
        "drives": row["drives"],
        "distribution": row["distribution"],
        "buffer_range_oom": [row["buffer_min_oom"], row["buffer_max_oom"]],
        "swing_oom": row["swing_oom"],
        "contraction": _contraction(result, row["prior"]),
        "how": how,
    }


def summary_lines(
    result: ForecastResult, split: dict, prior_only: float, movers, unsettled
) -> list[str]:
    """A handful of plain sentences: where the buffer comes from and what moves it."""
    from forecast.core.units import fmt_both

    tail, median = split["tail"], split["median"]
    share = {p["part"]: p for p in tail["parts"]}
    lines = [
        f"The {result.confidence:.0%} buffer is set by the draws at and above it (mean "
        f"{tail['mean_uplift_oom']:.2f} OOM, about {tail['mean_events']:.0f} improvements by "
        f"month {result.horizon_months:g} of {tail['mean_increment_oom']:.2f} OOM each on "
        f"average): the rate and size of improvements the evidence supports give "
        f"{share['parameters']['oom']:.2f} OOM, attention {share['attention']['oom']:+.2f}, "
        f"chance {share['chance']['oom']:+.2f}.",
        f"In the median band the uplift is {median['mean_uplift_oom']:.2f} OOM (about "
        f"{median['mean_events']:.0f} improvements).",
    ]
    gap = result.buffer_oom - prior_only
    lines.append(
        f"The priors alone, with no evidence, give {fmt_both(prior_only)}: the evidence "
        + (
            f"{'raises' if gap > 0 else 'lowers'} the buffer by {abs(gap):.2f} OOM."
            if abs(gap) >= 0.05
            else "barely moves the buffer, so the priors set it."
        )
    )
    named = {m["prior"] for m in unsettled}
    for m in unsettled:
        lo, hi = m["buffer_range_oom"]
        settled = (
            "" if m["contraction"] is None else f", posterior contraction {m['contraction']:.2f}"
        )
        lines.append(
            f"Assumption the evidence does not settle: {m['prior']} ({m['distribution']}, "
            f"{m['drives']} prior{settled}): {m['how']} moves the buffer from {lo:.2f} to "
            f"{hi:.2f} OOM."
        )
    for m in movers:
        if m["prior"] in named:
            continue
        lo, hi = m["buffer_range_oom"]
        lines.append(
            f"Sensitive to {m['prior']} ({m['distribution']}, {m['drives']} prior, set by the "
            f"evidence): {m['how']} moves the buffer from {lo:.2f} to {hi:.2f} OOM."
        )
    return lines
