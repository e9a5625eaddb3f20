"""The CLI end to end on the shipped fits (no sampling: conftest's ``sandbox``); the paths
that refit (``--no-cache``, a fit failing its diagnostics) on a fake sampler."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import BAD_DIAGNOSTICS, FAKE_FIT, fake_sampler

#: The default fit settings: the shipped fits answer (a run never samples in this module).
FIT = FAKE_FIT
#: A refit's settings, for the fake sampler (a small fit, cheap to make up).
SMALL = ["--fit-draws", "150", "--fit-tune", "150", "--chains", "2", "--quiet"]
RUN_KEYS = {
    "scenario",
    "horizon_months",
    "confidence",
    "uplift",
    "buffer",
    "evals",
    "policies",
    "reevaluation_months",
    "diagnostics",
    "provenance",
}


@pytest.fixture(autouse=True)
def _no_sampling(sandbox):
    """Every test runs in the sandbox: any sampling fails it (unless it patches in a fake)."""
    return sandbox


def _json(run_cli, *args):
    code, out, err = run_cli(["run", *args, *FIT, "--json"])
    assert code == 0, err
    return json.loads(out)  # stdout holds one JSON document and nothing else


def _stable(doc):
    doc = json.loads(json.dumps(doc))
    for key in ("created", "fit_created", "fit", "fit_from_cache"):
        doc["provenance"].pop(key)
    return doc


def test_run_json_has_every_documented_key(run_cli):
    doc = _json(run_cli)
    assert RUN_KEYS <= set(doc)
    assert doc["scenario"] == "frontier-api"
    assert {"q05", "q25", "q50", "q75", "q95", "month"} <= set(doc["uplift"][0])
    assert doc["buffer"]["multiplier"] == pytest.approx(10 ** doc["buffer"]["oom"])
    assert {"r_hat_max", "ess_bulk_min", "divergences", "ok"} <= set(doc["diagnostics"])
    assert {"version", "seed", "inputs_sha256", "created"} <= set(doc["provenance"])
    from forecast.inputs.policies import select_shipped

    assert [p["name"] for p in doc["policies"]] == [p.name for p in select_shipped(None)]
    assert set(doc["reevaluation_months"]) >= {"2x", "4x", "6x"}
    kinds = {e["name"]: e["kind"] for e in doc["evals"]}
    assert kinds == {"autonomy-tasks": "tasks", "cyber-ctf": "aggregate"}
    for e in doc["evals"]:
        assert 0 <= e["p_cross"] <= 1 and "trigger" in e


def test_same_seed_same_output_and_another_seed_another(run_cli):
    first = _json(run_cli, "--seed", "3")
    assert (first["provenance"]["fit"], first["provenance"]["histories_fit"]) == (
        "summary",
        "shipped",
    )
    assert _stable(_json(run_cli, "--seed", "3")) == _stable(first)
    other = _stable(_json(run_cli, "--seed", "4"))
    assert other["uplift"] != _stable(first)["uplift"]


def test_no_cache_refits_both_models_and_stores_nothing(run_cli, cache_dir, monkeypatch):
    """``--no-cache`` neither reads the cache nor the shipped fits (both models are fitted
    anew) and writes nothing; the same seeds give the same output each time."""
    import forecast.fit.engine

    calls = []
    monkeypatch.setattr(forecast.fit.engine, "_sample", fake_sampler(calls))
    refit = _stable(_json(run_cli, "--seed", "3", "--no-cache"))
    assert sorted(name for name, _, _ in calls) == ["catalogue", "histories"]
    again = _stable(_json(run_cli, "--seed", "3", "--no-cache"))
    assert len(calls) == 4 and again == refit
    # nothing but the kept parses of the YAML read (a cache of inputs, not of fits)
    assert not cache_dir.exists() or {p.name for p in cache_dir.iterdir()} <= {"parsed"}


def test_longer_horizon_and_more_access_never_shrink_the_buffer(run_cli):
    base = _json(run_cli, "--horizon", "6")["buffer"]["oom"]
    longer = _json(run_cli, "--horizon", "18")["buffer"]["oom"]
    weights = _json(run_cli, "--horizon", "6", "--actor", "open_weights")["buffer"]["oom"]
    assert longer >= base
    assert weights >= base
    more_confident = _json(run_cli, "--horizon", "6", "--confidence", "0.99")["buffer"]["oom"]
    assert more_confident >= base


def test_human_output_without_a_diagnostics_warning_on_the_shipped_fits(run_cli):
    code, out, err = run_cli(["run", *FIT])
    assert code == 0, err
    assert "Safety buffer" in out and "OOM" in out and "Anthropic RSP v3.4" in out
    assert "convergence checks" not in err


def _failing_fit(monkeypatch):
    """Refits (``--no-cache``) by a fake sampler whose fits fail the ESS check."""
    import forecast.fit.engine

    monkeypatch.setattr(forecast.fit.engine, "_sample", fake_sampler(diagnostics=BAD_DIAGNOSTICS))
    return [*SMALL, "--no-cache"]


def test_a_fit_failing_its_diagnostics_is_a_visible_warning(run_cli, monkeypatch):
    code, out, err = run_cli(["run", *_failing_fit(monkeypatch)])
    assert code == 0, err
    assert "Safety buffer" in out
    assert "convergence checks" in err  # ESS below 400: a visible warning, still a result


def test_strict_refuses_a_fit_that_fails_its_diagnostics(run_cli, tmp_path, monkeypatch):
    failing = _failing_fit(monkeypatch)
    code, out, err = run_cli(["run", *failing, "--strict", "--out", tmp_path / "res"])
    assert code == 3
    assert "bulk ESS" in err and "Traceback" not in err
    assert not (tmp_path / "res").exists()


def test_run_out_writes_results(run_cli, tmp_path):
    code, _, err = run_cli(["run", *FIT, "--out", tmp_path / "res"])
    assert code == 0, err
    assert json.loads((tmp_path / "res" / "results.json").read_text())["scenario"]
    assert (tmp_path / "res" / "uplift.csv").read_text().startswith("month,")


def _fake_uplift_fits(monkeypatch) -> list:
    """Uplift model fits the shipped ones cannot serve (a profile's priors that reweighting
    cannot reach) made up; any catalogue fit fails the test. Returns the calls."""
    import forecast.fit.engine

    calls, fake = [], fake_sampler()

    def sample(spec, *args):
        assert spec.name == "histories", "sampled the catalogue model"
        calls.append(spec.name)
        return fake(spec, *args)

    monkeypatch.setattr(forecast.fit.engine, "_sample", sample)
    return calls


def test_export_bundle_is_whole(run_cli, tmp_path, monkeypatch):
    """(The full sensitivity reads the catalogue model's draws, which do not ship: it is
    tested on fake fits in tests/report/test_export.py. The cautious profile's uplift fit
    is not among the shipped fits, nor reachable by reweighting: a fake stands in.)"""
    _fake_uplift_fits(monkeypatch)
    out = tmp_path / "bundle"
    code, _, err = run_cli(["export", "--out", out, *FIT, "--quick-sensitivity"])
    assert code == 0, err
    names = {p.name for p in out.iterdir()}
    from forecast.report.export import BUNDLE_FILES

    # every file is tested in tests/report/test_export.py; without --calibration the shipped
    # cross-validation and LOO-PIT come along
    shipped = {"calibration-backtest.json", "calibration-loo_pit.json"}
    assert names == set(BUNDLE_FILES) | shipped
    from forecast.report.plots import is_png

    assert is_png(out / "fan_chart.png") and is_png(out / "p_cross.png")
    assert json.loads((out / "results.json").read_text())["buffer"]["oom"] >= 0
    import h5netcdf

    with h5netcdf.File(out / "posterior.nc", "r") as nc:
        assert "posterior" in nc.groups
    report = (out / "report.md").read_text()
    for heading in (
        "## Summary",
        "## Inputs",
        "## Method",
        "## Policy comparison",
        "## Diagnostics",
        "## Caveats",
        "## Provenance",
    ):
        assert heading in report
    # a non-empty folder is refused without --force, and replaced with it
    code, _, err = run_cli(["export", "--out", out, *FIT, "--quick-sensitivity"])
    assert code == 2 and "not empty" in err
    code, _, err = run_cli(["export", "--out", out, "--force", *FIT, "--quick-sensitivity"])
    assert code == 0, err


def test_export_that_fails_midway_leaves_no_bundle(run_cli, tmp_path, monkeypatch):
    import forecast.report.plots

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(forecast.report.plots, "p_cross_chart", boom)
    out = tmp_path / "bundle"
    code, _, _ = run_cli(["export", "--out", out, *FIT])
    assert code == 1
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]


def test_compare_side_by_side(run_cli):
    code, out, err = run_cli(["compare", "frontier-api", "frontier-open-weights", *FIT, "--json"])
    assert code == 0, err
    rows = json.loads(out)["scenarios"]
    assert [r["scenario"] for r in rows] == ["frontier-api", "frontier-open-weights"]
    assert rows[1]["buffer"]["oom"] >= rows[0]["buffer"]["oom"]
    code, out, _ = run_cli(["compare", "frontier-api", "developer-continued", *FIT])
    assert code == 0 and "buffer" in out


def test_evidence_list_shows_posteriors(run_cli, monkeypatch):
    """The posteriors of the enhancements need the catalogue fit's draws: they ship with the
    package, so nothing is sampled."""
    import forecast.fit.engine

    calls = []
    monkeypatch.setattr(forecast.fit.engine, "_sample", fake_sampler(calls))
    code, out, err = run_cli(["evidence", "list", *FIT, "--json"])
    assert code == 0, err
    doc = json.loads(out)
    cot = next(e for e in doc["enhancements"] if e["id"] == "chain_of_thought")
    assert (
        cot["posterior_ceg"]["lower_oom"]
        < cot["posterior_ceg"]["median_oom"]
        < cot["posterior_ceg"]["upper_oom"]
    )
    assert set(doc["hyperparameters"]["categories"]) == {
        "tool",
        "prompting",
        "scaffolding",
        "solution_choice",
        "data",
    }
    code, out, _ = run_cli(["evidence", "show", "chain_of_thought", *FIT])
    assert code == 0 and "Appendix B" in out
    assert calls == []  # the shipped catalogue fit's draws


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "--actor", "hacker"], "unknown actor"),
        (["run", "--prior", "composability_withn=Beta(2,5)"], "did you mean"),
        (["run", "--prior", "composability_within=Normal(0,1)"], "outside"),
        (["run", "--prior", "nonsense"], "NAME=VALUE"),
        (["run", "--as-of", "2023-13-01"], "YYYY-MM-DD"),
        (["run", "no-such-scenario"], "no shipped scenario"),
        (["run", "--horizon", "-1"], "horizon"),
        (["run", "--confidence", "1.5"], "confidence"),
        (["compare", "frontier-api"], "two or more"),
        (["evidence", "show", "chain_of_thougt"], "did you mean"),
    ],
)
def test_bad_options_exit_2_without_traceback(run_cli, args, needle):
    code, out, err = run_cli([*args, *FIT])
    assert code == 2
    assert needle in " ".join(err.split())
    assert "Traceback" not in err
    assert out == ""


def test_bad_scenario_file_names_the_field(run_cli, tmp_path):
    from forecast.inputs.scenarios import shipped_scenarios

    bad = tmp_path / "bad.yaml"

    source = shipped_scenarios()["frontier-api"].read_text()
    bad.write_text(source.replace("actor: public_api", "actor: pubic_api"))
    code, out, err = run_cli(["scenarios", "validate", bad])
    assert code == 2 and "actor" in err and "did you mean 'public_api'" in err
    code, out, err = run_cli(["run", bad, *FIT])
    assert code == 2 and str(bad) in err and "actor" in err and out == ""


def test_scenarios_list_and_show(run_cli):
    code, out, _ = run_cli(["scenarios", "list", "--json"])
    names = {r["name"] for r in json.loads(out)}
    assert {
        "frontier-api",
        "frontier-open-weights",
        "frontier-stolen-weights",
        "developer-continued",
        "gpt4-2023-03",
    } <= names
    code, out, _ = run_cli(["scenarios", "show", "gpt4-2023-03"])
    assert code == 0 and "GPT-4" in out


def test_scenarios_show_redirected_is_the_file_itself(run_cli, tmp_path):
    """`forecast scenarios show NAME > mine.yaml` starts a valid scenario of one's own."""
    from forecast.inputs.scenarios import load_scenario

    code, out, _ = run_cli(["scenarios", "show", "frontier-api"])
    shipped = load_scenario("frontier-api")
    assert code == 0 and out.splitlines()[0] == f"# {shipped.path}"
    mine = tmp_path / "mine.yaml"
    mine.write_text(out)
    assert load_scenario(str(mine)).scenario == shipped.scenario


def test_warm_run_imports_no_sampler(run_cli):
    """The shipped fits are read without importing PyMC, PyTensor or ArviZ."""
    code = (
        "import sys\n"
        "from forecast.cli.app import main\n"
        "try:\n"
        f"    main(['run', {', '.join(repr(a) for a in FIT)}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', [m for m in ('pymc', 'pytensor', 'arviz') if m in sys.modules],\n"
        "      file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "LOADED []" in proc.stderr, proc.stderr[-2000:]
