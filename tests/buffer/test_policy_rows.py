"""forecast.buffer.policies: each rule's row of the comparison, and its verdict in words."""

from __future__ import annotations

import numpy as np
from conftest import LAB_RULE, uplift_draws

from forecast.buffer.policies import policy_rows, trigger_text, verdict_text
from forecast.core.schemas.policy import READING_IS_OURS
from forecast.inputs.policies import policy_months, resolve_policies
from forecast.inputs.scenarios import load_scenario


def test_rows_carry_the_reading_next_to_the_verdict(write_yaml):
    chosen = resolve_policies(
        load_scenario("frontier-api"), files=[write_yaml(LAB_RULE, "rule.yaml")]
    )
    months = sorted({0.0, *range(13), *policy_months(chosen)})
    times = np.array(months)
    rows = {r["name"]: r for r in policy_rows(chosen, times, uplift_draws(), 0.95, 12)}
    lab = rows["lab-internal-2026"]
    assert lab["reading"]["summary"] == "10x buffer; re-evaluate every 4 months"
    assert lab["reading"]["interpretation"] == READING_IS_OURS
    assert lab["period_months"] == 4 and lab["covers"] is not None
    assert verdict_text(lab).startswith(("covers", "does not cover"))
    cop = rows["eu-gpai-cop-safety-security"]
    assert cop["covers"] is None and verdict_text(cop).startswith("needs")
    assert "trigger" in trigger_text(rows["anthropic-rsp-v2-2"])
    pf = rows["openai-pf-beta"]
    assert pf["period_months"] == 12 and pf["period_basis"].startswith("horizon")
