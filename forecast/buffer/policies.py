"""The policy comparison: each rule's row under a forecast, and its verdict in words.

A rule's reading (:mod:`forecast.inputs.policies` loads it) gives the numbers; the verdict
is computed from the uplift draws by :func:`forecast.buffer.intervals.policy_verdict`, and
the period under each exception that lengthens or suspends the cadence by
:func:`forecast.buffer.intervals.period_need` (schema of a row: docs/json-schema.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecast.buffer.intervals import period_need, policy_verdict
from forecast.core.schemas.policy import PolicyException, PolicyFields, PolicyReading
from forecast.inputs.policies import Policy


def reading_summary(rule: PolicyFields) -> str:
    """The reading in a few words, e.g. ``6x buffer; re-evaluate every 3 months or 4x
    effective compute`` or ``no number for "a safety margin"; updated Model Report every 6
    months``."""
    r = rule.reading
    if r.buffer_multiplier:
        parts = [f"{r.buffer_multiplier:g}x buffer"]
    elif r.unquantified_buffer:
        parts = [f'no number for "{r.unquantified_buffer}"']
    else:
        parts = ["no stated buffer"]
    cadence = []
    if r.calendar_months:
        if r.calendar_months_range:
            low, high = r.calendar_months_range
            cadence.append(f"{low:g}-{high:g} months (read as {r.calendar_months:g})")
        else:
            cadence.append(f"{r.calendar_months:g} months")
    if r.compute_multiplier:
        cadence.append(f"{r.compute_multiplier:g}x effective compute")
    if cadence:
        parts.append(f"{r.cadence_of or 're-evaluate'} every " + " or ".join(cadence))
    else:
        parts.append("no numeric cadence")
    return "; ".join(parts)


def exception_period(reading: PolicyReading, exc: PolicyException, horizon: float) -> float | None:
    """The period over which uplift accumulates while ``exc`` applies: the cadence plus its
    ``months`` (extends_period), or the horizon (suspends_cadence: no periodic assessment is
    due; never shorter than the cadence itself); None for an exception without a number."""
    if exc.effect == "extends_period":
        return float(reading.calendar_months + exc.months)
    if exc.effect == "suspends_cadence":
        return max(float(horizon), float(reading.calendar_months))
    return None


def policy_rows(
    policies: Sequence[Policy],
    times: np.ndarray,
    uplift_oom: np.ndarray,
    confidence: float,
    horizon_months: float,
) -> list[dict]:
    """One row per policy: its record, this tool's reading, the verdict (the implied buffer
    over the rule's period, and whether a stated buffer covers it), and the same under each
    exception that lengthens or suspends the cadence. A rule whose text could not be
    verified is judged under its stated reading too (``verified`` says which). Schema:
    docs/json-schema.md."""
    rows = []
    for p in policies:
        rule, reading = p.rule, p.rule.reading
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
            "reading": reading.model_dump(mode="json") | {"summary": reading_summary(rule)},
        }
        row |= policy_verdict(
            times,
            uplift_oom,
            confidence,
            horizon_months,
            reading.buffer_multiplier,
            reading.compute_multiplier,
            reading.calendar_months,
        )
        under = []
        for i, exc in enumerate(reading.exceptions):
            months = exception_period(reading, exc, horizon_months)
            if months is None:
                continue
            basis = "cadence extended" if exc.effect == "extends_period" else "horizon"
            under.append(
                {"exception": i, "summary": exc.summary, "effect": exc.effect}
                | period_need(times, uplift_oom, confidence, months, reading.buffer_multiplier)
                | {"period_basis": basis}
            )
        row["under_exceptions"] = under
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- text


def _months(months: float) -> str:
    return f"{months:g} month" + ("" if months == 1 else "s")


def quote_where(q: dict) -> str:
    """Where a quote stands: its ``where`` with the printed page and, when the PDF counts
    pages differently, the PDF page (``3.1. Scope and Timing, p. 10 (PDF p. 11)``)."""

    def pages(ref: str) -> str:
        return ("pp. " if "-" in ref else "p. ") + ref

    text = q["where"]
    if q.get("page"):
        text += f", {pages(q['page'])}"
        if q.get("pdf_page") and q["pdf_page"] != q["page"]:
            text += f" (PDF {pages(q['pdf_page'])})"
    elif q.get("pdf_page"):
        text += f", PDF {pages(q['pdf_page'])}"
    return text


def period_text(row: dict, horizon_months: float | None = None) -> str:
    """``over 6 months``, or for a rule without a numeric cadence ``over the scenario's
    12-month horizon (the rule states no numeric cadence)``."""
    if row["period_basis"].startswith("horizon"):
        return (
            f"over the scenario's {row['period_months']:g}-month horizon (the rule states no "
            "numeric cadence)"
        )
    return f"over {_months(row['period_months'])}"


def verdict_text(row: dict) -> str:
    """The verdict in words: covers / does not cover with the margin, or the implied buffer,
    with its period; a rule whose text was not verified says so."""
    from forecast.core.units import fmt_both

    needed = fmt_both(row["implied_buffer_oom"])
    over = period_text(row)
    if row["covers"] is None:
        text = f"needs {needed} {over}"
    elif row["covers"]:
        text = f"covers: needs {needed} {over}; margin {row['margin_oom']:+.2f} OOM"
    else:
        text = f"does not cover: needs {needed} {over}; short by {-row['margin_oom']:.2f} OOM"
    if not row["verified"]:
        text += " (under the stated reading: the primary text was not verified)"
    return text


def exceptions_text(row: dict) -> str:
    """What each exception does to the verdict, in words (or '-'); exceptions that give the
    same period are said together."""
    from forecast.core.units import fmt_both

    groups: dict[tuple, list[str]] = {}
    for e in row["under_exceptions"]:
        key = (
            e["effect"],
            e["period_months"],
            e["implied_buffer_oom"],
            e["covers"],
            e["margin_oom"],
        )
        groups.setdefault(key, []).append(e["summary"])
    parts = []
    for (effect, months, needed, covers, margin), summaries in groups.items():
        if effect == "suspends_cadence":
            how = f"no periodic update is due; needs {fmt_both(needed)} over the "
            how += f"{months:g}-month horizon"
        else:
            how = f"needs {fmt_both(needed)} over {_months(months)}"
        if covers is not None:
            how += f" ({'covered' if covers else 'not covered'}, {margin:+.2f} OOM)"
        parts.append(f"if {' or '.join(summaries)}: {how}")
    for exc in row["reading"]["exceptions"]:
        if exc["effect"] == "shortens_period":
            parts.append(f"sooner: {exc['summary']} (not modelled)")
    return "; ".join(parts) or "-"


def event_triggers_text(row: dict) -> str:
    """The events that call for an assessment off the calendar, in words (or '')."""
    parts = []
    for t in row["reading"]["event_triggers"]:
        days = t.get("deadline_days")
        parts.append(t["summary"] + (f" (within {days} days)" if days else ""))
    return "; ".join(parts)


def trigger_text(row: dict, confidence: float | None = None) -> str:
    """The compute trigger's timing, or the stated buffer's life, in words (or '-');
    ``confidence`` (the run's) is named where the uplift at month 0 already exceeds it."""
    at = f"at {confidence:.0%} " if confidence else ""
    parts = []
    if row.get("buffer_lasts"):
        lasts = row["buffer_lasts"]
        if lasts["beyond_horizon"]:
            life = f"lasts at least {_months(lasts['months'])}"
        elif lasts["months"] == 0:
            life = f"is used up at once ({at}the uplift already available at month 0 exceeds it)"
        else:
            life = f"lasts {lasts['months']:.1f} months"
        parts.append(f"the {row['buffer_multiplier']:g}x buffer {life}")
    trigger = row.get("compute_trigger")
    if trigger:
        reach = trigger["time_to_reach"]
        m = f"{trigger['multiplier']:g}x"
        if reach["beyond_horizon"]:
            when = f"a {m} margin lasts at least {_months(reach['months'])}"
        elif trigger.get("reached_at_start") or reach["months"] == 0:
            when = f"{at}the uplift already available at month 0 exceeds {m}"
        else:
            when = f"a {m} margin lasts {reach['months']:.1f} months"
        parts.append(
            f"{m} trigger: reached within the period in "
            f"{trigger['p_reached_within_period']:.0%} of draws; {when}"
        )
    return "; ".join(parts) or "-"
