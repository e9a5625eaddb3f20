"""Tuning priors, the prior check, sensitivity and the scenario backtest, on made-up fits.

No NUTS here: ``forecast.fit.engine._sample`` is a fake sampler (conftest.fake_sampler) that
stores made-up draws like a fit, and the cache holds a summary of the catalogue fit whose
``catalogue_gain`` is the default (as the shipped summary is), so the uplift model's
default-prior fit is the base that a changed prior is reweighted from, as in a real run.
What is tested is the pipeline around the fits: which fit is used, reweighting, the checks'
documents and the CLI's refusals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from conftest import BAD_DIAGNOSTICS, GOOD_DIAGNOSTICS, fake_sampler, words

from forecast import api
from forecast.buffer.forecasting import HISTORIES_SETTINGS
from forecast.fit.engine import FitSettings

SMALL = FitSettings(draws=150, tune=150, chains=2, seed=5)
CLI_SMALL = ["--fit-draws", "150", "--fit-tune", "150", "--chains", "2", "--quiet"]
DRAWS = 3000


@pytest.fixture
def sampled(shared_cache, monkeypatch):
    """The module's cache (with the catalogue summaries of both fit seeds) and the fake
    sampler; the list records each fit."""
    from forecast.fit import engine

    monkeypatch.setenv("FORECAST_CACHE_DIR", str(shared_cache))
    _default_summaries()
    calls: list = []
    monkeypatch.setattr(engine, "_sample", fake_sampler(calls))
    return calls


@pytest.fixture
def cache_dir(sampled, shared_cache):
    """run_cli's cache: the module's (with the fake sampler)."""
    return shared_cache


def _default_summaries(seeds=(SMALL.seed, HISTORIES_SETTINGS.seed)) -> None:
    """Summaries of the shipped catalogue's fit, one per fit seed, giving the default
    catalogue_gain (what the shipped summary gives)."""
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.table import build_table
    from forecast.fit.catalogue import CatalogueSummary, catalogue_spec, read_summary, write_summary
    from forecast.fit.diagnostics import Diagnostics

    priors = api.load_priors()
    table = build_table(load_catalogue())
    for seed in seeds:
        settings = FitSettings(seed=seed)
        key = catalogue_spec(table, priors).key(priors, settings)
        if read_summary(key) is None or read_summary(key).provenance.get("fake") is None:
            write_summary(
                CatalogueSummary(
                    key,
                    str(priors.prior("catalogue_gain")),
                    Diagnostics(*GOOD_DIAGNOSTICS),
                    {"fake": True, "settings": dataclasses.asdict(settings)},
                )
            )


def _run(**priors):
    return api.run_scenario("frontier-open-weights", settings=SMALL, priors=priors, draws=DRAWS)


# --------------------------------------------------------------------------- tuning priors


def test_tuning_an_uplift_prior_reweights_the_fit_and_moves_the_buffer(sampled):
    default = _run()
    assert default.provenance["fit"] == "summary"  # the catalogue: its summary only
    assert default.fits.histories_priors.prior("catalogue_gain") == api.load_priors().prior(
        "catalogue_gain"
    )
    fits = len(sampled)  # the default uplift fit (once per module)
    up = _run(increment_share="Beta(2.6, 8)")
    down = _run(increment_share="Beta(1.6, 8)")
    assert len(sampled) == fits, "a small change of a prior should not refit"
    for result in (up, down):
        assert result.provenance["histories_fit"] == "reweighted"
        assert result.provenance["histories_reweighted"]["from_fit"] == default.fits.histories.key
    assert down.buffer_oom < default.buffer_oom < up.buffer_oom
    # a forecast prior is not fitted: it changes nothing about the fits
    same = _run(trend_fade_years="LogNormal(1, 0.5)")
    assert same.provenance["histories_fit"] == "cache" and same.buffer_oom == default.buffer_oom


def test_a_catalogue_gain_the_user_sets_wins_over_the_catalogue_fit(sampled):
    default = _run()
    result = _run(catalogue_gain="LogNormal(0.45, 0.21)")
    assert result.fits.histories_priors["catalogue_gain"].overridden
    assert result.provenance["catalogue_gain"] == "LogNormal(0.45, 0.21)"
    assert result.provenance["priors_overridden"] == {"catalogue_gain": "LogNormal(0.45, 0.21)"}
    assert result.buffer_oom > default.buffer_oom


def test_a_scenario_priors_block_is_applied_and_checked(sampled, tmp_path, run_cli):
    import shutil

    from forecast.inputs.scenarios import shipped_scenarios

    source = shipped_scenarios()["frontier-api"]
    shutil.copytree(source.parent / "data", tmp_path / "data")
    text = source.read_text()
    good = tmp_path / "tuned.yaml"
    good.write_text(text.replace("priors: {}", "priors:\n  increment_share: Beta(2, 6)"))
    result = api.run_scenario(good, settings=SMALL, draws=DRAWS)
    assert result.provenance["priors_overridden"] == {"increment_share": "Beta(2, 6)"}
    assert result.fits.histories_priors.prior("increment_share") == result.inputs.priors.prior(
        "increment_share"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("priors: {}", "priors:\n  incremnt_share: Beta(2, 6)"))
    code, out, err = run_cli(["run", bad, *CLI_SMALL])
    assert code == 2 and "priors.incremnt_share" in err
    assert "did you mean 'increment_share'" in err
    line = 1 + text[: text.index("priors: {}")].count("\n") + 1  # the line after "priors:"
    assert f"{bad}:{line}:" in err  # located in the file, not only named
    outside = tmp_path / "outside.yaml"
    outside.write_text(text.replace("priors: {}", "priors:\n  increment_share: Normal(0, 1)"))
    code, out, err = run_cli(["scenarios", "validate", outside])
    assert code == 2 and f"{outside}:{line}:" in err and "priors.increment_share" in err


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_lists_every_prior_largest_swing_first(sampled, run_cli, tmp_path):
    from forecast.report.plots import is_png

    code, out, err = run_cli(
        ["sensitivity", "--trend", "damped", *CLI_SMALL, "--json", "--out", tmp_path]
    )
    assert code == 0, err
    doc = json.loads(out)
    priors = api.load_priors()
    assert {r["prior"] for r in doc["priors"]} == set(priors)
    assert doc["not_ranked"] is None  # the full ranking reads the catalogue fit's draws
    swings = [r["swing_oom"] for r in doc["priors"]]
    assert swings == sorted(swings, reverse=True)
    by_drives = {}
    for r in doc["priors"]:
        assert r["drives"] == priors[r["prior"]].drives
        for v in r["variations"]:
            by_drives.setdefault(r["drives"], set()).add(v["method"])
            if v["method"] == "reweighted":
                assert v["pareto_k"] is not None and v["pareto_k"] <= 0.7
            if v["method"] == "refitted":
                assert v["seconds"] is not None
    assert "reweighted" in by_drives["histories"]
    assert by_drives["histories"] <= {"reweighted", "refitted"}  # refit allowed
    assert by_drives["forecast"] == {"resimulated"}  # damped: trend_fade_years matters
    assert by_drives["catalogue"] <= {"through_catalogue_gain", "unreliable", "no_effect"}
    assert is_png(tmp_path / "tornado.png")
    # The table says why a swing is missing instead of printing 0.00.
    code, out, err = run_cli(["sensitivity", *CLI_SMALL])
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if line.startswith("│ noise_dof ")]
    assert "0.00" not in row
    assert "eval_slope_spread" in out  # names are never split across lines
    assert "trend_fade_years" in words(out)


def test_a_forecast_prior_has_no_effect_on_a_frozen_trend(sampled):
    result = _run()
    assert result.scenario.extrapolation.trend == "frozen"
    doc = api.prior_sensitivity(result, names=("trend_fade_years",))
    (row,) = doc["priors"]
    assert {v["method"] for v in row["variations"]} == {"no_effect"}
    assert row["swing_oom"] == 0.0


def test_the_quick_ranking_leaves_the_catalogue_priors_to_the_full_one(sampled):
    result = _run()
    assert result.fitted.fit is None  # only the summary was read
    doc = api.prior_sensitivity(result, quick=True)
    skipped = {n for n, info in api.load_priors().items() if info.drives == "catalogue"}
    assert set(doc["not_ranked"]["priors"]) == skipped
    assert not skipped & {r["prior"] for r in doc["priors"]}
    assert all(len(r["variations"]) <= 2 for r in doc["priors"])


# --------------------------------------------------------------------------- prior check


def test_prior_check_sets_prior_beside_posterior(sampled, run_cli):
    code, out, err = run_cli(["priors", "check", *CLI_SMALL, "--json"])
    assert code == 0, err
    doc = json.loads(out)
    n = len(doc["months"])
    assert doc["months"][0] == 0 and n == 13
    for side in ("prior", "posterior"):
        q = [doc[side][k] for k in ("q05", "q50", "q95")]
        assert all(len(values) == n for values in q)
        assert all(lo <= mid <= hi for lo, mid, hi in zip(*q, strict=True))
        assert q[2][0] == 0  # nothing at month 0 (public API: no lead)
    assert doc["prior_buffer_oom"] > 0 and doc["posterior_buffer_oom"] > 0
    assert set(doc["prior_parameters"]) >= {"event_rate", "increment_mean"}


def test_priors_show_documents_every_prior(run_cli):
    code, out, _ = run_cli(["priors", "show", "--json"])
    rows = json.loads(out)["priors"]
    assert {r["name"] for r in rows} == set(api.load_priors())
    assert all(r["justification"] and r["meaning"] for r in rows)
    code, out, _ = run_cli(["priors", "show", "--prior", "increment_share=Beta(2,6)", "--json"])
    row = next(r for r in json.loads(out)["priors"] if r["name"] == "increment_share")
    assert row["overridden"] and row["distribution"] == "Beta(2, 6)"


# --------------------------------------------------------------------------- backtest


def test_backtest_compares_with_metr(sampled):
    first = api.backtest(dt.date(2023, 3, 14), settings=SMALL, draws=DRAWS)
    # the second run reads the cut catalogue's fit summary, not its draws
    for doc in (first, api.backtest(dt.date(2023, 3, 14), settings=SMALL, draws=DRAWS)):
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
        assert doc["catalogue_diagnostics"]["ok"] and doc["diagnostics"]["ok"]


def _bad_fits(monkeypatch, seed: int) -> list:
    """Fits with another seed that fail their diagnostics (bulk ESS 120): the calls."""
    from forecast.fit import engine

    _default_summaries((seed,))
    calls: list = []
    monkeypatch.setattr(engine, "_sample", fake_sampler(calls, diagnostics=BAD_DIAGNOSTICS))
    return calls


# regression test (was a package bug: forecast/cli/compare.py export and compare, and
# forecast/cli/checks.py sensitivity, priors check and backtest had no --fit-seed, so a fit
# made with `run --fit-seed N` could not be exported or checked; the checks had no --strict
# and printed no warning for a fit that failed its diagnostics)
def test_every_fitting_command_takes_the_fit_seed_and_refuses_a_bad_fit(
    sampled, run_cli, tmp_path, monkeypatch
):
    seed = 77
    calls = _bad_fits(monkeypatch, seed)
    seeded = [*CLI_SMALL, "--fit-seed", str(seed)]
    code, out, err = run_cli(["run", *seeded, "--json"])
    assert code == 0 and "convergence checks" in err
    provenance = json.loads(out)["provenance"]
    assert provenance["fit_seed"] == seed
    assert [(name, key) for name, key, _ in calls] == [
        ("histories", provenance["histories_fit_key"])
    ]
    code, out, err = run_cli(["compare", "frontier-api", "gpt4-2023-03", *seeded, "--json"])
    assert code == 0, err

    # The fake fit fails ESS >= 400: a warning without --strict, exit 3 with it.
    code, out, err = run_cli(["priors", "check", *seeded, "--json"])
    assert code == 0 and "convergence checks" in err
    assert json.loads(out)["diagnostics"]["ok"] is False
    for command in (["sensitivity", "--out", tmp_path / "tornado"], ["priors", "check"], ["run"]):
        code, out, err = run_cli([*command, *seeded, "--strict"])
        assert code == 3 and "bulk ESS" in err and out == "", (command, err)
    assert not (tmp_path / "tornado").exists()
    code, out, err = run_cli(["backtest", "--as-of", "2023-03-14", *seeded, "--strict"])
    assert code == 3 and "bulk ESS" in err
    assert len({key for _, key, _ in calls}) == len(calls)  # each fit once, then cached


def test_export_takes_the_fit_seed_and_reports_a_failed_fit(
    sampled, run_cli, tmp_path, monkeypatch
):
    seed = 78
    calls = _bad_fits(monkeypatch, seed)
    code, _, err = run_cli(["export", "--out", tmp_path / "bundle", *CLI_SMALL,
                            "--fit-seed", str(seed)])  # fmt: skip
    assert code == 0, err
    assert "convergence checks" in err
    results = json.loads((tmp_path / "bundle" / "results.json").read_text())
    assert results["provenance"]["fit_seed"] == seed
    assert results["provenance"]["histories_fit_key"] == calls[0][1]
    assert (tmp_path / "bundle" / "posterior.nc").is_file()
    report = (tmp_path / "bundle" / "report.md").read_text()
    assert "FAILED" in report and "bulk ESS" in report
    code, _, err = run_cli(["export", "--out", tmp_path / "strict", *CLI_SMALL,
                            "--fit-seed", str(seed), "--strict"])  # fmt: skip
    assert code == 3 and "bulk ESS" in err and not (tmp_path / "strict").exists()
