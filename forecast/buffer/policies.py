"""The policy comparison: each rule's row under a forecast, and its verdict in words.

A rule's reading (:mod:`forecast.inputs.policies` loads it) gives the numbers; the verdict
is computed from the uplift draws by :func:`forecast.buffer.intervals.policy_verdict`
(schema of a row: docs/json-schema.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecast.buffer.intervals import policy_verdict
from forecast.core.schemas.policy import PolicyFields
from forecast.inputs.policies import Policy


def reading_summary(rule: PolicyFields) -> str:
    """The reading in a few words, e.g. ``6x buffer; every 3 months or 4x effective compute``."""
    r = rule.reading
    parts = [f"{r.buffer_multiplier:g}x buffer" if r.buffer_multiplier else "no stated buffer"]
    cadence = []
    if r.calendar_months:
        cadence.append(f"{r.calendar_months:g} months")
    if r.compute_multiplier:
        cadence.append(f"{r.compute_multiplier:g}x effective compute")
    parts.append("re-evaluate every " + " or ".join(cadence) if cadence else "no cadence")
    return "; ".join(parts)


def policy_rows(
    policies: Sequence[Policy],
    times: np.ndarray,
    uplift_oom: np.ndarray,
    confidence: float,
    horizon_months: float,
) -> list[dict]:
    """One row per policy: its record, this tool's reading, and the verdict or the implied
    buffer (unverified rules: no verdict). Schema: docs/json-schema.md."""
    rows = []
    for p in policies:
        rule = p.rule
        reading = rule.reading.model_dump(mode="json") | {"summary": reading_summary(rule)}
        row = {
            "name": rule.name,
            "title": rule.title,
            "publisher": rule.publisher,
            "version": rule.version,
            "date": rule.date.isoformat(),
            "status": rule.status,
            "verified": rule.verified,
            "origin": p.origin,
            "source": rule.source.model_dump(mode="json"),
            "quotes": [q.model_dump(mode="json") for q in rule.quotes],
            "reading": reading,
            "evaluated": p.evaluated,
        }
        if p.evaluated:
            row |= policy_verdict(
                times,
                uplift_oom,
                confidence,
                horizon_months,
                rule.reading.buffer_multiplier,
                rule.reading.compute_multiplier,
                rule.reading.calendar_months,
            )
        else:
            row["verdict"] = "unverified: not evaluated"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- text


def verdict_text(row: dict) -> str:
    """The verdict in words: covers / does not cover with the margin, or the implied buffer."""
    from forecast.core.units import fmt_both

    if not row["evaluated"]:
        return "unverified: not evaluated"
    needed = fmt_both(row["implied_buffer_oom"])
    if row["covers"] is None:
        return f"needs {needed} over {row['period_months']:g} months"
    if row["covers"]:
        return f"covers: needs {needed}; margin {row['margin_oom']:+.2f} OOM"
    return f"does not cover: needs {needed}; short by {-row['margin_oom']:.2f} OOM"


def trigger_text(row: dict) -> str:
    """The compute trigger's timing, or the stated buffer's life, in words (or '-')."""
    parts = []
    if row.get("buffer_lasts"):
        lasts = row["buffer_lasts"]
        parts.append(
            f"the {row['buffer_multiplier']:g}x buffer lasts "
            + (
                f"at least {lasts['months']:g}"
                if lasts["beyond_horizon"]
                else f"{lasts['months']:.1f}"
            )
            + " months"
        )
    trigger = row.get("compute_trigger")
    if trigger:
        reach = trigger["time_to_reach"]
        lasts = (
            f"at least {reach['months']:g}" if reach["beyond_horizon"] else f"{reach['months']:.1f}"
        )
        parts.append(
            f"{trigger['multiplier']:g}x trigger: reached within the period in "
            f"{trigger['p_reached_within_period']:.0%} of draws; a {trigger['multiplier']:g}x "
            f"margin lasts {lasts} months"
        )
    return "; ".join(parts) or "-"
