"""The shipped histories and eval-slope groups (priors/histories/*.yaml, priors/eval-slopes.yaml):
every record quoted from its primary source, dated and attributed, and what the issue asks of
the dataset (enough pairs, suites and publishers, recent ones, the reserved sources left out).
"""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from forecast.core.paths import data_dir
from forecast.evidence.catalogue import load_catalogue
from forecast.evidence.histories import build_history_table
from forecast.evidence.measurements import SHIPPED_MEASUREMENTS, load_measurements

HISTORY_FILES = [name for name in SHIPPED_MEASUREMENTS if name.startswith("histories/")]


@pytest.fixture(scope="module")
def measurements():
    return load_measurements(catalogue=load_catalogue())


@pytest.fixture(scope="module")
def table(measurements):
    return build_history_table(measurements)


def _records(name: str) -> dict:
    return yaml.safe_load((data_dir("priors") / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [*HISTORY_FILES, "eval-slopes.yaml"])
def test_every_record_is_quoted_from_its_primary_source(name):
    data = _records(name)
    records = [
        r
        for section in ("suites", "measurements", "elicitation_gains")
        for r in data.get(section) or []
    ]
    assert records
    for r in records:
        assert r["origin"] == "outside_seeds", r["id"]
        assert r["reference"].strip() and r["quote"].strip() and r["where"].strip(), r["id"]
    for m in data.get("measurements") or []:
        assert m.get("published") or m.get("measured"), m["id"]
        assert m.get("publisher", "").strip(), m["id"]


def test_the_reserved_sources_are_not_in_the_new_files():
    """SWE-bench leaderboard series beyond the rows already shipped and the Terminal-Bench 1.0
    leaderboard are kept for an independent check (the issue)."""
    for name in [*HISTORY_FILES, "eval-slopes.yaml"]:
        data = _records(name)
        for section in ("suites", "measurements"):
            for r in data.get(section) or []:
                text = " ".join(str(r.get(k, "")) for k in ("id", "suite", "name", "reference"))
                assert "swe-bench" not in text.lower() and "swe_bench" not in text.lower(), r["id"]
                assert "terminal-bench" not in text.lower(), r["id"]


def test_the_histories_meet_the_issue_targets(table):
    """At least 60 usable before/after pairs (snapshots), 12 suites and 6 publishers, from 2023
    to 2026, agentic coding, ML engineering, web/OS agents and math among them."""
    assert table.n_increments >= 60
    suites = {table.suites[i] for i in table.inc_suite}
    assert len(suites) >= 12
    publishers = {s.publisher for s in table.snapshots if s.publisher}
    assert len(publishers) >= 6
    years = {s.end.year for s in table.snapshots}
    assert {2023, 2024, 2025} <= years and max(years) >= 2026
    for kind in ("mle_bench", "aider", "osworld", "aime", "humaneval"):
        assert any(kind in suite for suite in suites), kind


def test_snapshots_follow_the_running_best(table):
    """A record raises the best score; a snapshot that does not has no increment."""
    for k, s in enumerate(table.snapshots):
        assert s.end > s.start and s.baseline_date <= s.start
        assert s.best_after >= s.best_before
        assert table.inc_record[k] == (s.best_after > s.best_before)
        assert (table.inc_y[k] > 0) == bool(table.inc_record[k])


def test_a_cut_sees_no_figure_published_after_it(measurements):
    cut = dt.date(2024, 7, 1)
    early = build_history_table(measurements, as_of=cut)
    assert 0 < early.n_increments < build_history_table(measurements).n_increments
    assert all(s.end <= cut for s in early.snapshots)
    by_id = {m.id: m for m in measurements.measurements}
    for s in early.snapshots:
        m = by_id[s.measurement]
        assert (m.published or m.measured) <= cut


def test_eval_slope_groups_rise_in_compute_on_one_suite(measurements):
    by_id = {m.id: m for m in measurements.measurements}
    assert len(measurements.scaling_groups) >= 25
    for group in measurements.scaling_groups:
        members = [by_id[i] for i in group.measurements]
        assert {m.suite for m in members} == {group.suite}
        flops = [m.base_compute_flop for m in members]
        assert flops == sorted(flops) and len(set(flops)) == len(flops)
