"""Why this buffer, in one record: what the uplift is made of and what the number rests on.

:func:`explain` gathers, for a :class:`~forecast.buffer.forecasting.ForecastResult`:

- the split of the uplift at the horizon by source, in the median band and in the draws at
  and above the buffer quantile (:mod:`forecast.explain.decompose`, with its rule stated);
- what those tail draws look like against all draws (arrivals, ceiling, trend, scale);
- the buffer from the priors alone (no evidence) beside the posterior's, and the buffer
  without the soft ceiling (what the ceiling takes off);
- the assumptions the buffer is most sensitive to, from the sensitivity ranking (no refit).

Nothing prints; the CLI (``forecast run``, ``forecast explain``), the JSON and the report
render the record.
"""

from __future__ import annotations

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.explain.decompose import decomposition, tail_profile
from forecast.explain.prior_check import prior_buffer
from forecast.explain.sensitivity import prior_sensitivity

RULE = (
    "Quantiles do not add up, so each draw's uplift at the horizon is split among sources "
    "by Shapley values (each source's marginal uplift averaged over every order in which "
    "the sources could be added; they sum exactly to the draw's uncapped uplift), scaled "
    "by the ceiling's ratio, and averaged over a band of draws: the median band (40th to "
    "60th percentile) and the tail (the draws at and above the buffer quantile). A band's "
    "averages add up to its mean uplift."
)
SOURCE_LABELS = {
    "known": "catalogue enhancements the actor can still apply",
    "gap": "enhancements published since the evidence ends, not yet absorbed",
    "new_tool": "new tool enhancements",
    "new_prompting": "new prompting enhancements",
    "new_scaffolding": "new scaffolding enhancements",
    "new_solution_choice": "new solution-choice enhancements",
    "new_data": "new data enhancements (fine-tuning, RL)",
}


def explain(
    result: ForecastResult, sensitivity: dict | None = None, top: int = 3, quick: bool = True
) -> dict:
    """The explanation record of a forecast (module docstring).

    Parameters
    ----------
    sensitivity
        A :func:`forecast.explain.sensitivity.prior_sensitivity` document; computed if None
        (with only the two shifts of each prior when ``quick``).
    top
        How many of the most influential assumptions to name.
    """
    at_horizon = result.at_horizon
    drivers = result.uplift.drivers
    split = decomposition(at_horizon, drivers, result.confidence)
    sens = sensitivity if sensitivity is not None else prior_sensitivity(result, quick=quick)
    movers = [
        {
            "prior": row["prior"],
            "drives": row["drives"],
            "distribution": row["distribution"],
            "buffer_range_oom": [row["buffer_min_oom"], row["buffer_max_oom"]],
            "swing_oom": row["swing_oom"],
            "how": "shifting it by one standard deviation down or up"
            if quick and sensitivity is None
            else "tightening, widening or shifting it",
        }
        for row in sens["priors"][:top]
        if row["swing_oom"] > 0
    ]
    prior_only = prior_buffer(result)
    return {
        "rule": RULE,
        "buffer_oom": result.buffer_oom,
        "uncapped_buffer_oom": result.uncapped_buffer_oom,
        "prior_only_buffer_oom": prior_only,
        "evidence_moves_buffer_oom": result.buffer_oom - prior_only,
        "share_of_draws_without_uplift": float(np.mean(at_horizon <= 1e-9)),
        "decomposition": split,
        "source_labels": SOURCE_LABELS,
        "tail_profile": tail_profile(at_horizon, drivers, result.confidence),
        "most_sensitive": movers,
        "sensitivity_variations": sens.get("variations"),
        "summary": summary_lines(result, split, prior_only, movers),
    }


def summary_lines(result: ForecastResult, split: dict, prior_only: float, movers) -> list[str]:
    """A handful of plain sentences: where the buffer comes from and what moves it."""
    from forecast.core.units import fmt_both

    tail = split["tail"]
    ranked = sorted(tail["sources"], key=lambda s: -s["oom"])
    named = [
        f"{SOURCE_LABELS[s['source']]} {s['oom']:.2f} OOM ({s['share']:.0%})"
        for s in ranked[:3]
        if s["oom"] > 0.005
    ]
    lines = [
        f"The {result.confidence:.0%} buffer is set by the draws at and above it (mean "
        f"{tail['mean_uplift_oom']:.2f} OOM): "
        + ("; ".join(named) if named else "no source contributes")
        + ".",
        f"In the median band the uplift is {split['median']['mean_uplift_oom']:.2f} OOM.",
    ]
    capped = result.uncapped_buffer_oom - result.buffer_oom
    lines.append(
        f"Without the soft ceiling the buffer would be {fmt_both(result.uncapped_buffer_oom)}"
        + (
            " (the ceiling does not bind)."
            if capped < 0.01
            else f": the ceiling, an assumption, takes {capped:.2f} OOM off."
        )
    )
    gap = result.buffer_oom - prior_only
    lines.append(
        f"The priors alone, with no evidence, give {fmt_both(prior_only)}: the evidence "
        + (
            f"{'raises' if gap > 0 else 'lowers'} the buffer by {abs(gap):.2f} OOM."
            if abs(gap) >= 0.05
            else "barely moves the buffer, so the priors set it."
        )
    )
    for m in movers:
        lo, hi = m["buffer_range_oom"]
        how = m.get("how", "tightening, widening or shifting it")
        lines.append(
            f"Assumption {m['prior']} ({m['distribution']}, {m['drives']} prior): "
            f"{how} moves the buffer from {lo:.2f} to {hi:.2f} OOM."
        )
    return lines
