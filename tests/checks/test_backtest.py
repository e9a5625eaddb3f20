"""forecast.checks.backtest and ``forecast backtest``: the histories' backtest computed or read
back from the shipped results, its tables at 80 and 120 columns, the summary a run reads, and
one scenario from a date.

The NUTS fits are replaced by prior draws here (``fast``): what is tested is the plumbing
and the scoring; the real fits are in benchmarks/backtest.py and the slow tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re

import numpy as np
import pytest
from conftest import MINIMAL_CATALOGUE, USER_MEASUREMENTS, words

from forecast.checks import backtest as bt
from forecast.checks import crossval
from forecast.checks.synthetic import uplift_prior_draws
from forecast.fit.diagnostics import Diagnostics
from forecast.fit.engine import FitSettings

OK = Diagnostics(1.0, 1000.0, 1000.0, 0, 4, 100)
BAD = Diagnostics(1.05, 50.0, 50.0, 3, 4, 100, "event_rate", "event_rate")


@dataclasses.dataclass
class FakeFit:
    draws: dict
    key: str = "f" * 64
    how: str = "sampled"
    diagnostics: Diagnostics = OK


def tame_draws(table, priors, n, seed):
    """Prior draws with the event rate and attention held to modest values (so a simulation
    of them is quick)."""
    draws = uplift_prior_draws(table, priors, n, seed)
    draws["event_rate"] = np.minimum(draws["event_rate"], 1.0)
    draws["attention_spread"] = np.minimum(draws["attention_spread"], 1.0)
    return draws


@pytest.fixture
def fast(monkeypatch, tmp_path):
    """Every fit replaced by prior draws (the publisher fold of 'Aider' fails its
    diagnostics); the shipped results folder is an empty temporary one; 300 predictive draws
    a snapshot. Returns the calls."""
    # forecast.api and forecasting bind fit_evidence and fit_histories at import: import them
    # before the fakes go in, or every later test in the process would still run the fakes
    import forecast.api  # noqa: F401
    import forecast.checks.predictive as predictive
    import forecast.fit.catalogue as catalogue_fit
    import forecast.fit.histories as histories_fit

    calls = {"folds": [], "histories": [], "settings": []}
    monkeypatch.setattr(predictive, "PREDICTIVE_DRAWS", 300)

    def fit_folds(table, priors, schemes, settings=None, on_fold=None):
        calls["settings"].append(("fold", settings))
        plan = [(s, g) for s in schemes for g in crossval.fold_groups(table, s)]
        for i, (scheme, group) in enumerate(plan):
            calls["folds"].append((scheme, group, table))
            fold = crossval.Fold(
                scheme, group, table.groups(scheme) == group, 0,
                tame_draws(table, priors, 100, seed=i), BAD if group == "Aider" else OK,
                0.1,
            )  # fmt: skip
            if on_fold:
                on_fold(i + 1, len(plan), fold.record())
            yield fold

    def fit_evidence(catalogue, priors, settings=None, **kw):
        from forecast.evidence.table import build_table

        calls["settings"].append(("catalogue", settings, kw.get("need_draws", True)))
        table = kw.get("table") or build_table(catalogue)
        summary = catalogue_fit.CatalogueSummary("c" * 64, "LogNormal(0.36, 0.21)", OK, {})
        return catalogue_fit.FittedEvidence(catalogue, table, priors, None, summary)

    def fit_histories(table, priors, settings=None, **kw):
        calls["histories"].append(table)
        calls["settings"].append(("cut", settings))
        return FakeFit(tame_draws(table, priors, 100, seed=0))

    monkeypatch.setattr(crossval, "fit_folds", fit_folds)
    monkeypatch.setattr(catalogue_fit, "fit_evidence", fit_evidence)
    monkeypatch.setattr(histories_fit, "fit_histories", fit_histories)
    monkeypatch.setattr("forecast.buffer.forecasting.histories_priors", lambda priors, fit: priors)
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(bt, "results_dir", lambda: results)
    calls["results"] = results
    return calls


QUICK = dict(cuts=[dt.date(2025, 1, 1)])


def test_the_histories_backtest_scores_every_snapshot_and_lists_failed_folds(fast):
    doc = bt.backtest_histories(**QUICK)
    assert doc["mode"] == "histories" and doc["source"] == "computed"
    n = doc["histories"]["snapshots"]
    for part in doc["crossval"]["schemes"].values():
        assert part["totals"]["n"] == n == len(part["rows"])
        assert {r["group"] for r in part["rows"]} == {f["group"] for f in part["folds"]}
    publisher = doc["crossval"]["schemes"]["publisher"]
    assert [f["group"] for f in publisher["failed_folds"]] == ["Aider"]
    aider = sum(r["group"] == "Aider" for r in publisher["rows"])
    assert publisher["totals_passing_folds"]["n"] == n - aider > 0
    (cut,) = doc["cuts"]
    assert cut["cut"] == "2025-01-01" and cut["totals"]["n"] == len(cut["rows"]) > 0
    assert doc["inputs"]["cuts"] == ["2025-01-01"] and doc["inputs_key"] == bt.inputs_key(
        doc["inputs"]
    )


def test_folds_and_cuts_fit_the_uplift_model_on_the_backtest_settings(fast):
    doc = bt.backtest_histories(**QUICK)
    # the catalogue on its own default settings, its summary only (the shipped one serves)
    assert fast["settings"] == [
        ("catalogue", FitSettings(), False), ("fold", bt.BACKTEST_SETTINGS),
        ("catalogue", FitSettings(), False), ("cut", bt.BACKTEST_SETTINGS),
    ]  # fmt: skip
    assert doc["inputs"]["histories_settings"] == dataclasses.asdict(bt.BACKTEST_SETTINGS)
    from forecast.buffer.forecasting import HISTORIES_SETTINGS

    assert bt.BACKTEST_SETTINGS == HISTORIES_SETTINGS  # folds are judged on production fits


def test_the_cli_reads_back_results_computed_for_its_default_inputs(fast, run_cli):
    """What benchmarks/backtest.py ships (backtest_histories' defaults) is what
    ``forecast backtest`` reads back when given no options: nothing is fitted."""
    doc = bt.backtest_histories(**QUICK)
    (fast["results"] / bt.RESULTS_FILE).write_text(json.dumps(doc))
    fast["folds"].clear()
    code, out, err = run_cli(["backtest", "--cut", "2025-01", "--json"])
    assert code == 0, err
    shown = json.loads(out)
    assert shown["inputs"] == doc["inputs"]
    assert shown["source"] == "shipped" and fast["folds"] == []


def test_shipped_results_are_read_back_only_for_the_same_inputs(fast, write_yaml):
    doc = bt.backtest_histories(**QUICK)
    (fast["results"] / bt.RESULTS_FILE).write_text(json.dumps(doc))
    fast["folds"].clear()
    again = bt.backtest_histories(**QUICK)
    assert again["source"] == "shipped" and fast["folds"] == []  # nothing fitted
    assert again["crossval"] == json.loads(json.dumps(doc["crossval"]))
    # a user's history changes the inputs: computed, with the user's snapshot in every fold
    mine = write_yaml(USER_MEASUREMENTS, "mine.yaml")
    theirs = bt.backtest_histories(mine, **QUICK)
    assert theirs["source"] == "computed" and theirs["inputs_key"] != doc["inputs_key"]
    assert all("lab-base-1 | lab_cyber_tasks" in t.series for _, _, t in fast["folds"])
    assert theirs["histories"]["snapshots"] == doc["histories"]["snapshots"] + 1
    # another prior or seed: computed too
    assert bt.backtest_histories(seed=3, **QUICK)["source"] == "computed"
    assert bt.backtest_histories(refit=True, **QUICK)["source"] == "computed"


def test_the_summary_a_run_reads_needs_no_fit(fast):
    assert bt.shipped_summary() is None  # nothing shipped
    doc = bt.backtest_histories(**QUICK)
    (fast["results"] / bt.RESULTS_FILE).write_text(json.dumps(doc))
    s = bt.shipped_summary()
    assert s["source"] == "shipped" and s["fit_key"] == doc["fit_key"]
    for name in ("suite", "publisher"):
        t = doc["crossval"]["schemes"][name]["totals"]
        assert s["crossval"][name]["mean_pit"] == pytest.approx(t["mean_pit"])
        assert s["crossval"][name]["inside_90"] == t["inside_90"]
    assert s["crossval"]["publisher"]["failed_folds"] == ["Aider"]
    assert s["cuts"][0]["cut"] == "2025-01-01"
    (fast["results"] / bt.RESULTS_FILE).write_text("{not json")
    assert bt.shipped_summary() is None
    # a bundle given the document (export --calibration) shows it
    from forecast.report.calibration import calibration_kind, calibration_summary

    assert calibration_kind(doc) == "backtest"
    shown = calibration_summary("calibration-backtest.json", doc)
    assert [row[0] for row in shown["table"]["rows"]] == [
        "leave one suite out", "leave one publisher out", "cut at 2025-01-01",
    ]  # fmt: skip
    assert "1 cross-validation folds failed" in shown["lines"][0]


NUMBER = re.compile(r"\d+(?:\.\d+)?%?")


@pytest.mark.parametrize("width", [80, 120])
def test_the_tables_fit_the_terminal_without_splitting_a_number(fast, width, monkeypatch):
    from rich.console import Console

    from forecast.cli import checks
    from forecast.cli import common as c

    doc = bt.backtest_histories(cuts=[dt.date(2024, 7, 1), dt.date(2025, 1, 1)])
    console = Console(width=width, record=True, highlight=False, emoji=False)
    monkeypatch.setattr(c, "out", console)
    checks.print_histories_backtest(c.shown(doc), width=width)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    schemes = doc["crossval"]["schemes"]
    headers, rows = checks.crossval_rows(schemes)
    cells = [cell for row in rows for cell in row[1:]]
    headers, cut_rows = checks.cut_rows(doc["cuts"])
    cells += [re.sub(r"\[/?\w*\]", "", cell) for row in cut_rows for cell in row[1:]]
    table_words = set(re.findall(r"\S+", text))
    for cell in cells:
        for number in NUMBER.findall(cell):
            assert any(number in w for w in table_words), (number, cell)
    assert "leave one suite out" in words(text) and "2024-07-01" in text


def test_the_cli_shows_the_backtest_and_refuses_bad_options(fast, run_cli):
    code, out, err = run_cli(["backtest", "--cut", "2025-01", "--scheme", "suite", "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc["crossval"]["schemes"]) == ["suite"] and doc["inputs"]["cuts"] == ["2025-01-01"]
    code, out, err = run_cli(["backtest", "--cut", "2025-01", "--scheme", "publisher"])
    assert code == 0, err
    assert "leave one publisher out" in words(out) and "fold Aider failed" in words(out)
    assert "Time cuts" in out
    for args, needle in (
        (["--scheme", "suites"], "did you mean 'suite'"),
        (["--cut", "2025-13"], "--cut"),
        (["--as-of", "2023-06", "--cut", "2024-01"], "--scheme, --cut and --refit"),
    ):
        code, out, err = run_cli(["backtest", *args])
        assert code == 2 and out == "" and needle in words(err), (args, err)


# --------------------------------------------------------------------------- one scenario


def test_score_draws_no_uplift_keeps_the_score_and_uplift_raises_it():
    rng = np.random.default_rng(1)
    same = bt.score_draws(0.3, None, np.zeros(100), np.ones(100), rng)
    assert np.allclose(same, 0.3)
    up = bt.score_draws(0.3, 195, np.full(4000, 1.0), np.full(4000, 0.8), rng)
    flat = bt.score_draws(0.3, 195, np.zeros(4000), np.full(4000, 0.8), rng)
    assert np.median(up) > np.median(flat) + 0.1
    assert abs(np.median(flat) - 0.3) < 0.02
    # measured scores are counts out of the suite's tasks
    assert np.allclose(up * 195, np.round(up * 195))
    # harness noise widens the forecast
    noisy = bt.score_draws(0.3, 195, np.zeros(4000), np.ones(4000), rng, np.full(4000, 0.5))
    assert np.std(noisy) > 1.5 * np.std(flat)


def test_compare_reads_the_quantile_intervals():
    draws = np.linspace(0, 1, 1001)
    row = bt.compare(draws, np.full(1001, 0.3), 0.8)
    assert row["inside_50"] is False and row["inside_90"] is True
    assert row["forecast_q25"] == pytest.approx(0.25) and row["pit"] == pytest.approx(0.8, 1e-2)
    assert row["crps_no_change"] == pytest.approx(0.5)
    assert row["verdict"] == "inside the 90% interval"


NO_COMPARE = """\
schema_version: 1
name: lab-plain
title: Lab model, nothing measured later
base_model:
  name: lab-model-v1
  training_compute_flop: 1.0e+24
  reference_date: 2023-06-01
  weights: closed
actor: public_api
horizon_months: 3
evals:
  - name: lab-cyber
    score: 0.30
    n_tasks: 40
    threshold: 0.60
"""


def test_a_scenario_with_nothing_to_compare_says_so(run_cli, write_yaml, monkeypatch):
    """The fits are made-up draws (conftest.fake_sampler): what is tested is the output."""
    from conftest import fake_sampler

    from forecast.fit import engine

    calls = []
    monkeypatch.setattr(engine, "_sample", fake_sampler(calls))
    scenario = write_yaml(NO_COMPARE, "plain.yaml")
    evidence = write_yaml(MINIMAL_CATALOGUE, "tiny.yaml")
    args = ["backtest", scenario, "--as-of", "2023-06", "--evidence", evidence]
    code, out, err = run_cli([*args, "--no-shipped-evidence", "--quiet"])
    assert code == 0, err
    assert "nothing to compare" in words(out) and "┏" not in out  # no empty table
    assert "from 2023-06-01" in words(out)  # YYYY-MM is the month's first day
    # both models fitted to what was known then: the user's catalogue, histories cut there
    assert [name for name, _, _ in calls] == ["catalogue", "histories"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--as-of", "2023-13"], "YYYY-MM or YYYY-MM-DD, got '2023-13'"),
        (["--as-of", "1900-01"], "from 1950-01-01"),
        (["--as-of", "June"], "YYYY-MM"),
        (["gpt4-2023-03"], "give --as-of"),
    ],
)
def test_bad_as_of_exits_2(run_cli, args, needle):
    code, out, err = run_cli(["backtest", *args])
    assert code == 2 and out == "" and needle in words(err) and "--as-of" in err
