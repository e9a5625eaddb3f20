"""Tuning priors, the prior check, sensitivity and the backtest, on small real fits."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from forecast import api
from forecast.fit.fitting import FitSettings

SMALL = FitSettings(draws=150, tune=150, chains=2, seed=5)
CLI_SMALL = ["--fit-draws", "150", "--fit-tune", "150", "--chains", "2", "--quiet"]


@pytest.fixture
def cache_dir(shared_cache, monkeypatch):
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(shared_cache))
    return shared_cache


def _buffer(cache_dir, **priors):
    return api.run_scenario(
        "frontier-open-weights", settings=SMALL, priors=priors, draws=4000
    ).buffer_oom


def test_composability_toward_one_raises_and_toward_zero_lowers_the_buffer(cache_dir):
    default = _buffer(cache_dir)
    multiply = _buffer(
        cache_dir, composability_within="Beta(60, 1)", composability_between="Beta(60, 1)"
    )
    best_only = _buffer(
        cache_dir, composability_within="Beta(1, 60)", composability_between="Beta(1, 60)"
    )
    assert best_only < default < multiply


def test_a_scenario_priors_block_is_applied_and_checked(cache_dir, tmp_path, run_cli):
    import shutil

    from forecast.inputs.scenarios import shipped_scenarios

    source = shipped_scenarios()["frontier-api"]
    shutil.copytree(source.parent / "data", tmp_path / "data")
    text = source.read_text()
    good = tmp_path / "tuned.yaml"
    good.write_text(text.replace("priors: {}", "priors:\n  relevance: Beta(2, 2)"))
    result = api.run_scenario(good, settings=SMALL)
    assert result.provenance["priors_overridden"] == {"relevance": "Beta(2, 2)"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("priors: {}", "priors:\n  relevanse: Beta(2, 2)"))
    code, out, err = run_cli(["run", bad, *CLI_SMALL])
    assert code == 2 and "priors.relevanse" in err
    assert "did you mean 'relevance'" in err
    line = 1 + text[: text.index("priors: {}")].count("\n") + 1  # the line after "priors:"
    assert f"{bad}:{line}:" in err  # located in the file, not only named
    outside = tmp_path / "outside.yaml"
    outside.write_text(text.replace("priors: {}", "priors:\n  relevance: Normal(0, 1)"))
    code, out, err = run_cli(["scenarios", "validate", outside])
    assert code == 2 and f"{outside}:{line}:" in err and "priors.relevance" in err


def test_sensitivity_lists_every_prior_largest_swing_first(cache_dir, run_cli, tmp_path):
    code, out, err = run_cli(["sensitivity", *CLI_SMALL, "--json", "--out", tmp_path])
    assert code == 0, err
    doc = json.loads(out)
    from forecast.inputs.priors import load_priors

    assert {r["prior"] for r in doc["priors"]} == set(load_priors())
    swings = [r["swing_oom"] for r in doc["priors"]]
    assert swings == sorted(swings, reverse=True)
    methods = {v["method"] for r in doc["priors"] for v in r["variations"]}
    assert {"reweighted", "resimulated"} <= methods
    for r in doc["priors"]:
        for v in r["variations"]:
            if v["method"] == "reweighted":
                assert v["pareto_k"] is not None
    from forecast.report.plots import is_png

    assert is_png(tmp_path / "tornado.png")
    # The table says why a swing is missing instead of printing 0.00, and explains k.
    code, out, err = run_cli(["sensitivity", *CLI_SMALL])
    assert code == 0, err
    from conftest import words

    (row,) = [line for line in out.splitlines() if line.startswith("│ noise_dof ")]
    assert "refit needed" in row and "0.00" not in row
    assert "negative k means the weights have a bounded tail" in words(out)
    assert "catalogue_coverage" in out  # names are never split across lines


def test_prior_check_sets_prior_beside_posterior(cache_dir, run_cli):
    code, out, err = run_cli(["priors", "check", *CLI_SMALL, "--json"])
    assert code == 0, err
    doc = json.loads(out)
    n = len(doc["months"])
    assert all(len(doc[s][q]) == n for s in ("prior", "posterior") for q in ("q05", "q50", "q95"))
    assert doc["prior_buffer_oom"] > 0 and doc["posterior_buffer_oom"] > 0


def test_priors_show_documents_every_prior(run_cli):
    code, out, _ = run_cli(["priors", "show", "--json"])
    rows = json.loads(out)["priors"]
    assert rows and all(r["justification"] and r["meaning"] for r in rows)
    code, out, _ = run_cli(["priors", "show", "--prior", "relevance=Beta(2,2)", "--json"])
    row = next(r for r in json.loads(out)["priors"] if r["name"] == "relevance")
    assert row["overridden"] and row["distribution"] == "Beta(2, 2)"


def test_backtest_compares_with_metr(cache_dir):
    doc = api.backtest(dt.date(2023, 3, 14), settings=SMALL)
    assert doc["catalogue_enhancements"] < 35  # the catalogue is cut at the as-of date
    (row,) = doc["comparisons"]
    assert row["measurement"] == "gpt4_0613_all_tools_rm"
    assert row["measured"] == pytest.approx(0.38)
    assert 10 < row["months_after"] < 11.5
    assert row["forecast_q05"] <= row["forecast_q50"] <= row["forecast_q95"]
    assert row["forecast_q25"] <= row["forecast_q50"] <= row["forecast_q75"]
    assert row["verdict"].startswith(("inside", "above", "below"))
    assert doc["mode"] == "scenario" and row["crps"] >= 0 and 0 <= row["pit"] <= 1
    assert row["inside_90"] == (row["forecast_q05"] <= 0.38 <= row["forecast_q95"])
    assert row["inside_50"] == (row["forecast_q25"] <= 0.38 <= row["forecast_q75"])
    assert doc["totals"]["n"] == 1 and doc["totals"]["inside_90"] == int(row["inside_90"])


# regression test (was a package bug: forecast/cli/compare.py export and compare, and
# forecast/cli/checks.py sensitivity, priors check and backtest had no --fit-seed, so a fit
# made with `run --fit-seed N` could not be exported or checked; the checks had no --strict
# and printed no warning for a fit that failed its diagnostics)
def test_every_fitting_command_takes_the_fit_seed_and_refuses_a_bad_fit(
    cache_dir, run_cli, tmp_path
):
    from forecast.evidence.catalogue import load_catalogue

    fit_key = api.fit_evidence(load_catalogue(), api.load_priors(), settings=SMALL).fit.key
    seeded = [*CLI_SMALL, "--fit-seed", str(SMALL.seed)]

    code, _, err = run_cli(["export", "--out", tmp_path / "bundle", *seeded])
    assert code == 0, err
    provenance = json.loads((tmp_path / "bundle" / "results.json").read_text())["provenance"]
    assert provenance["fit_seed"] == SMALL.seed and provenance["fit_key"] == fit_key
    code, out, err = run_cli(["compare", "frontier-api", "gpt4-2023-03", *seeded, "--json"])
    assert code == 0, err

    # The small fit fails ESS >= 400: a warning without --strict, exit 3 with it.
    code, out, err = run_cli(["priors", "check", *seeded, "--json"])
    assert code == 0 and "convergence checks" in err
    assert json.loads(out)["diagnostics"]["ok"] is False
    for command in (["sensitivity", "--out", tmp_path / "tornado"], ["priors", "check"]):
        code, out, err = run_cli([*command, *seeded, "--strict"])
        assert code == 3 and "bulk ESS" in err and out == "", (command, err)
    assert not (tmp_path / "tornado").exists()
    code, out, err = run_cli(["backtest", "--as-of", "2023-03-14", *seeded, "--strict"])
    assert code == 3 and "bulk ESS" in err


def test_a_variation_beyond_the_simulation_limits_is_reported_not_raised():
    """Widening catalogue_coverage to Beta(1, 1) puts mass near 0, where the arrival limit
    stops the simulation: that variation is 'out_of_range', the ranking goes on."""
    import numpy as np

    from forecast.core.errors import InputError
    from forecast.explain.sensitivity import sensitivity
    from forecast.inputs.priors import load_priors

    priors = load_priors()

    def buffer_of(prior_set):
        if str(prior_set["catalogue_coverage"].prior) == "Beta(1, 1)":
            raise InputError("unbounded", "--prior")
        return 0.5

    uplift = np.linspace(0, 1, 200)
    rows, _ = sensitivity({}, priors, buffer_of, 0.95, uplift, kinds=("widen", "shift_up"))
    row = next(r for r in rows if r["prior"] == "catalogue_coverage")
    methods = {v["how"]: v["method"] for v in row["variations"]}
    assert methods == {"widen": "out_of_range", "shift_up": "resimulated"}
    assert row["buffer_min_oom"] == row["buffer_max_oom"] == 0.5
