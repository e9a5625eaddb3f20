"""forecast.buffer.policies: each rule's row of the comparison, and its verdict in words.

Expected figures come from the code's own functions (implied_buffer, period_need) on
controlled uplift draws, never from a written buffer value: the model behind the real draws
changes, the logic of a verdict does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import LAB_RULE, uplift_draws

from forecast.buffer.intervals import implied_buffer, period_need
from forecast.buffer.policies import (
    event_triggers_text,
    exceptions_text,
    policy_rows,
    quote_where,
    reading_summary,
    trigger_text,
    verdict_text,
)
from forecast.core.schemas.policy import READING_IS_OURS
from forecast.inputs.policies import (
    load_policy_file,
    load_shipped,
    policy_months,
    resolve_policies,
    select_shipped,
)
from forecast.inputs.scenarios import load_scenario


def _grid(policies, horizon=12):
    """The simulation's grid for these rules: whole months to the horizon and every period."""
    return np.array(sorted({*map(float, range(horizon + 1)), *policy_months(policies)}))


def _draws(times, seed=0, n=4000):
    """Made-up non-decreasing uplift draws on an arbitrary grid (conftest's, interpolated)."""
    base = uplift_draws(n=n, t=int(times[-1]) + 2, seed=seed)
    months = np.arange(base.shape[1], dtype=float)
    return np.stack([np.interp(times, months, row) for row in base])


def test_rows_carry_the_reading_next_to_the_verdict(write_yaml):
    chosen = resolve_policies(
        load_scenario("frontier-api"), files=[write_yaml(LAB_RULE, "rule.yaml")]
    )
    times = _grid(chosen)
    u = _draws(times)
    rows = {r["name"]: r for r in policy_rows(chosen, times, u, 0.95, 12)}
    lab = rows["lab-internal-2026"]
    assert lab["reading"]["summary"] == "10x buffer; re-evaluate every 4 months"
    assert lab["reading"]["interpretation"] == READING_IS_OURS
    need = implied_buffer(times, u, 0.95, 4)
    assert lab["period_months"] == 4 and lab["implied_buffer_oom"] == need
    assert lab["covers"] == (need <= 1.0) and lab["under_exceptions"] == []
    assert verdict_text(lab).startswith(("covers", "does not cover"))
    assert "over 4 months" in verdict_text(lab)
    cop = rows["eu-gpai-cop-safety-security"]
    assert cop["covers"] is None and verdict_text(cop).startswith("needs")
    assert cop["implied_buffer_oom"] == implied_buffer(times, u, 0.95, 6)


def test_every_rule_in_force_gets_a_verdict_and_one_without_a_cadence_is_judged_at_the_horizon():
    chosen = select_shipped(None)
    times = _grid(chosen)
    u = _draws(times)
    rows = {r["name"]: r for r in policy_rows(chosen, times, u, 0.95, 12)}
    assert set(rows) == {p.name for p in chosen}
    for name in ("openai-pf-v2", "gdm-fsf-v3-1"):
        row = rows[name]
        assert row["period_months"] == 12 and row["period_basis"].startswith("horizon")
        assert row["implied_buffer_oom"] == implied_buffer(times, u, 0.95, 12)
        text = verdict_text(row)
        assert "12-month horizon" in text and "no numeric cadence" in text
    rsp = rows["anthropic-rsp-v3-4"]
    assert rsp["period_basis"] == "calendar cadence" and rsp["period_months"] == 6
    assert rsp["reading"]["summary"] == "no stated buffer; Risk Report every 3-6 months (read as 6)"
    assert "over 6 months" in verdict_text(rsp) and "horizon" not in verdict_text(rsp)


def test_an_exception_lengthens_or_suspends_the_period_and_is_judged_there():
    chosen = select_shipped(["eu-gpai-cop-safety-security", "anthropic-rsp-v3-4"])
    times = _grid(chosen, horizon=12)
    u = _draws(times)
    rows = {r["name"]: r for r in policy_rows(chosen, times, u, 0.9, 12)}
    eu = rows["eu-gpai-cop-safety-security"]
    periods = {e["summary"]: (e["effect"], e["period_months"]) for e in eu["under_exceptions"]}
    assert sorted(periods.values()) == [
        ("extends_period", 7.0),
        ("suspends_cadence", 12.0),
        ("suspends_cadence", 12.0),
    ]
    for e in eu["under_exceptions"]:
        assert e["implied_buffer_oom"] == implied_buffer(times, u, 0.9, e["period_months"])
        assert e["implied_buffer_oom"] >= eu["implied_buffer_oom"]  # U never decreases
    (lag,) = rows["anthropic-rsp-v3-4"]["under_exceptions"]
    assert lag["period_months"] == 7 and lag["period_basis"] == "cadence extended"
    # the two suspending exceptions give one clause; the month-long one another
    text = exceptions_text(eu)
    assert text.count("no periodic update is due") == 1 and text.count("if ") == 2
    assert "over the 12-month horizon" in text and "over 7 months" in text
    # a suspended cadence is never judged over less than the cadence itself
    short = {r["name"]: r for r in policy_rows(chosen, _grid(chosen, 3), _draws(_grid(chosen, 3)),
                                                0.9, 3)}  # fmt: skip
    eu3 = short["eu-gpai-cop-safety-security"]
    assert {e["period_months"] for e in eu3["under_exceptions"]} == {6.0, 7.0}


def test_a_stated_buffer_that_covers_the_cadence_may_not_cover_its_exception(write_yaml):
    """Controlled draws: U(t) = a t (1 + noise), with a chosen so that a 10x buffer covers
    4 months and not 4.5; the expected verdicts come from period_need."""
    rule = LAB_RULE.replace(
        "  crossing:",
        "  exceptions:\n"
        "    - text: The next run may slip by two weeks.\n"
        "      where: section 4.3\n"
        "      summary: the next run slips by two weeks\n"
        "      effect: extends_period\n"
        "      months: 0.5\n"
        "  crossing:",
    )
    chosen = [load_policy_file(write_yaml(rule, "rule.yaml"))]
    times = _grid(chosen, horizon=6)
    assert 4.5 in times
    rng = np.random.default_rng(1)
    u = np.outer(1 + 0.01 * rng.random(2000), 0.235 * times)
    (row,) = policy_rows(chosen, times, u, 0.95, 6)
    expected = period_need(times, u, 0.95, 4, 10)
    assert (row["covers"], row["margin_oom"]) == (expected["covers"], expected["margin_oom"])
    (late,) = row["under_exceptions"]
    later = period_need(times, u, 0.95, 4.5, 10)
    assert late["covers"] == later["covers"] and late["margin_oom"] == later["margin_oom"]
    assert row["covers"] and not late["covers"]  # what these draws were built for
    assert "(not covered, -" in exceptions_text(row) and verdict_text(row).startswith("covers")


def test_an_unverified_rule_is_judged_under_its_reading_and_says_so(write_yaml):
    lost = load_policy_file(write_yaml(LAB_RULE.replace("verified: true", "verified: false")))
    times = _grid([lost])
    u = _draws(times)
    (row,) = policy_rows([lost], times, u, 0.95, 12)
    assert row["verified"] is False and row["verdict"] in ("covers", "does not cover")
    assert row["implied_buffer_oom"] == implied_buffer(times, u, 0.95, 4)
    assert "primary text was not verified" in verdict_text(row)


def test_readings_in_words():
    shipped = load_shipped()
    summaries = {n: reading_summary(p.rule) for n, p in shipped.items()}
    assert summaries["anthropic-rsp-v1"] == (
        "6x buffer; re-evaluate every 3 months or 4x effective compute"
    )
    assert summaries["eu-gpai-cop-safety-security"] == (
        'no number for "a safety margin"; updated Model Report every 6 months'
    )
    assert summaries["anthropic-rsp-v2"] == (
        'no number for "headroom"; comprehensive assessment every 6 months or 4x effective compute'
    )
    assert summaries["gdm-fsf-v3-1"] == 'no number for "safety buffer"; no numeric cadence'
    assert summaries["openai-pf-v2"] == "no stated buffer; no numeric cadence"
    v33 = shipped["anthropic-rsp-v3-3"].rule.quotes[0].model_dump()
    assert quote_where(v33) == '3.1. Scope and Timing, "Timing.", p. 10 (PDF p. 11)'
    two = shipped["anthropic-rsp-v2-2"].rule.quotes[0].model_dump()
    assert quote_where(two).endswith("pp. 5-6 (PDF pp. 9-10)")
    old = shipped["anthropic-rsp-v1"].rule.quotes[0].model_dump()
    assert quote_where(old) == old["where"]  # pages in words, as older files write them


def test_triggers_and_events_in_words():
    chosen = select_shipped(["anthropic-rsp-v2-2", "openai-pf-beta", "anthropic-rsp-v3-4"])
    times = _grid(chosen)
    u = _draws(times) + math.log10(2) + 0.01  # 2x is exceeded from month 0 in every draw
    rows = {r["name"]: r for r in policy_rows(chosen, times, u, 0.95, 12)}
    beta = trigger_text(rows["openai-pf-beta"], 0.95)
    assert "at 95% the uplift already available at month 0 exceeds 2x" in beta
    assert "0.0 months" not in beta
    two = trigger_text(rows["anthropic-rsp-v2-2"], 0.95)
    assert two.startswith("4x trigger: reached within the period in")
    assert "sooner: the Responsible Scaling Officer" in exceptions_text(rows["anthropic-rsp-v2-2"])
    events = event_triggers_text(rows["anthropic-rsp-v3-4"])
    assert events.count(";") == 1 and events.endswith("(within 30 days)")
    assert event_triggers_text(rows["openai-pf-beta"]) == ""


@pytest.mark.parametrize("confidence", [0.8, 0.95])
def test_a_longer_period_under_an_exception_never_needs_less(confidence):
    chosen = select_shipped(["current"])
    times = _grid(chosen)
    for seed in range(3):
        u = _draws(times, seed=seed, n=1000)
        for row in policy_rows(chosen, times, u, confidence, 12):
            for e in row["under_exceptions"]:
                assert e["period_months"] >= row["period_months"]
                assert e["implied_buffer_oom"] >= row["implied_buffer_oom"]
