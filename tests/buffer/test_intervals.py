"""forecast.buffer.intervals: re-evaluation intervals, implied buffers, a rule's verdict."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import uplift_draws

from forecast.buffer.intervals import (
    implied_buffer,
    period_need,
    policy_verdict,
    reevaluation_months,
)

# --------------------------------------------------------------------------- buffers


def test_a_larger_buffer_never_gives_a_shorter_reevaluation_interval():
    u = uplift_draws()
    times = np.arange(u.shape[1], dtype=float)
    months = [
        reevaluation_months(times, u, 0.95, np.log10(b))["months"]
        for b in (1.5, 2, 3, 4, 6, 10, 30, 100)
    ]
    assert months == sorted(months)


def test_reevaluation_interval_is_where_the_quantile_meets_the_buffer():
    times = np.arange(13, dtype=float)
    u = np.tile(np.linspace(0, 1.2, 13), (100, 1))  # deterministic: 0.1 OOM a month
    out = reevaluation_months(times, u, 0.95, 0.55)
    assert out["months"] == pytest.approx(5.5)
    assert not out["beyond_horizon"]
    assert reevaluation_months(times, u, 0.95, 5.0)["beyond_horizon"]


def test_higher_confidence_or_a_longer_period_never_lowers_the_implied_buffer():
    u = uplift_draws(3000)
    times = np.arange(u.shape[1], dtype=float)
    grid = [
        [implied_buffer(times, u, c, m) for m in range(13)] for c in (0.5, 0.8, 0.9, 0.95, 0.99)
    ]
    for row in grid:
        assert row == sorted(row)  # longer period
    for col in zip(*grid, strict=True):
        assert list(col) == sorted(col)  # higher confidence


def test_a_stated_buffer_covers_exactly_when_it_exceeds_the_uplift_over_the_period():
    times = np.arange(13, dtype=float)
    u = np.tile(np.linspace(0, 1.2, 13), (100, 1))  # 0.1 OOM a month
    six = policy_verdict(times, u, 0.95, 12, buffer_multiplier=6, calendar_months=3)
    assert six["covers"] and six["verdict"] == "covers"
    assert six["margin_oom"] == pytest.approx(np.log10(6) - 0.3)
    assert six["buffer_lasts"]["months"] == pytest.approx(10 * np.log10(6))
    short = policy_verdict(times, u, 0.95, 12, buffer_multiplier=2, calendar_months=6)
    assert not short["covers"] and short["margin_oom"] == pytest.approx(np.log10(2) - 0.6)


def test_a_rule_without_a_buffer_gets_the_implied_buffer_and_its_compute_trigger():
    times = np.arange(13, dtype=float)
    u = np.tile(np.linspace(0, 1.2, 13), (100, 1))
    out = policy_verdict(times, u, 0.95, 12, compute_multiplier=4, calendar_months=6)
    assert out["covers"] is None and out["verdict"] == "implied buffer"
    assert out["implied_buffer_oom"] == pytest.approx(0.6)
    trigger = out["compute_trigger"]
    assert trigger["p_reached_within_period"] == 0.0  # 0.6 OOM < log10(4) = 0.602
    assert trigger["time_to_reach"]["months"] == pytest.approx(10 * np.log10(4))
    no_cadence = policy_verdict(times, u, 0.95, 12, compute_multiplier=2)
    assert no_cadence["period_months"] == 12 and no_cadence["period_basis"].startswith("horizon")


def test_a_period_off_the_time_grid_is_a_programming_error():
    times = np.arange(13, dtype=float)
    with pytest.raises(ValueError, match="not on the simulation's time grid"):
        implied_buffer(times, uplift_draws(), 0.95, 2.5)


def test_period_need_is_the_implied_buffer_and_the_stated_buffers_margin():
    u = uplift_draws(3000)
    times = np.arange(u.shape[1], dtype=float)
    for months in (3, 6, 7, 12):
        need = period_need(times, u, 0.95, months, buffer_multiplier=4)
        expected = implied_buffer(times, u, 0.95, months)
        assert need["implied_buffer_oom"] == expected
        assert need["covers"] == (expected <= np.log10(4))
        assert need["margin_oom"] == pytest.approx(np.log10(4) - expected)
        assert period_need(times, u, 0.95, months)["covers"] is None
    # the verdict's own figures are the same function's
    verdict = policy_verdict(times, u, 0.95, 12, buffer_multiplier=4, calendar_months=6)
    need = period_need(times, u, 0.95, 6, buffer_multiplier=4)
    assert verdict["implied_buffer_oom"] == need["implied_buffer_oom"]
    assert (verdict["covers"], verdict["margin_oom"]) == (need["covers"], need["margin_oom"])


def test_a_compute_trigger_the_uplift_at_month_0_already_reaches_says_so():
    times = np.arange(13, dtype=float)
    u = np.tile(np.linspace(0.4, 1.6, 13), (100, 1))  # 0.4 OOM available at once
    out = policy_verdict(times, u, 0.95, 12, compute_multiplier=2)
    assert out["compute_trigger"]["reached_at_start"]
    assert out["compute_trigger"]["time_to_reach"]["months"] == 0
    later = policy_verdict(times, u, 0.95, 12, compute_multiplier=4)["compute_trigger"]
    assert not later["reached_at_start"] and later["time_to_reach"]["months"] > 0
