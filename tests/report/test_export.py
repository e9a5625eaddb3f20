"""``forecast export``: the reviewer's bundle, end to end on the shipped fits.

The bundle is written once for the module (and read by several tests); report.html is
opened in a real headless browser where one is installed (Chromium from the system's
packages; the test skips cleanly without one).

The forecast itself reads the shipped fits. What they cannot serve is made up by a fake
sampler (conftest's ``fake_sampler``): the catalogue model's draws the full sensitivity
reads (only the fit's summary ships) and the uplift model's refits of the variations and
profiles reweighting cannot reach (the cautious profile's). Such fits are marked
``sampled`` in the bundle, and no test reads a model property off them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import FAKE_FIT

FIT = FAKE_FIT
EXPECTED = {
    "report.md",
    "report.html",
    "results.json",
    "explanation.json",
    "uplift.csv",
    "sensitivity.csv",
    "profiles.csv",
    "scenario.yaml",
    "scenario-resolved.yaml",
    "provenance.json",
    "fan_chart.png",
    "p_cross.png",
    "decomposition.png",
    "tornado.png",
    "profiles.png",
    "posterior.nc",
}

#: The export of the module's bundle, in a subprocess with the fake sampler patched in.
FAKE_SAMPLING_EXPORT = """
import os, sys
sys.path.insert(0, sys.argv[1])
os.umask(0o027)
import forecast.fit.engine
from conftest import fake_sampler
forecast.fit.engine._sample = fake_sampler()
from forecast.cli.app import main
main(sys.argv[2:])
"""


@pytest.fixture(autouse=True)
def _no_sampling(sandbox):
    """Every test runs in the sandbox: a run in the test's process never samples (the
    bundle is written by a subprocess with its fake sampler)."""
    return sandbox


@pytest.fixture(scope="module")
def bundle(shared_cache, tmp_path_factory):
    """A bundle of the default scenario written under umask 027 (in a subprocess, so the
    umask of the test process is left alone), with a backtest document given. The cache is
    the module's own: the fake fits never reach another module's."""
    base = tmp_path_factory.mktemp("bundle")
    out = base / "bundle"
    env = dict(os.environ, FORECAST_CACHE_DIR=str(shared_cache), NO_COLOR="1")
    backtest = base / "backtest.json"
    backtest.write_text(json.dumps(BACKTEST_DOC))
    tests = Path(__file__).resolve().parents[1]
    argv = ["export", "--out", out, *FIT, "--calibration", backtest]
    proc = subprocess.run(
        [sys.executable, "-c", FAKE_SAMPLING_EXPORT, tests, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=base,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return out


#: A backtest document in the shape of ``forecast backtest --json`` (forecast.checks.backtest).
BACKTEST_DOC = {
    "scenario": "gpt4-2023-03",
    "as_of": "2023-03-14",
    "catalogue_enhancements": 20,
    "comparisons": [
        {
            "eval": "metr-agent-tasks",
            "measurement": "gpt4_0613_all_tools_rm",
            "model": "gpt-4-0613",
            "agent": "all tools + RM",
            "months_after": 10.6,
            "measured": 0.38,
            "measured_plus_minus": None,
            "forecast_q05": 0.30,
            "forecast_q50": 0.33,
            "forecast_q95": 0.45,
            "inside_90": True,
            "verdict": "inside the 90% interval",
        }
    ],
    "diagnostics": {},
}


def test_the_bundle_holds_every_file_a_reviewer_needs(bundle):
    names = {p.name for p in bundle.iterdir()}
    assert names == EXPECTED | {"calibration-backtest.json"}
    run = json.loads((bundle / "results.json").read_text())
    assert {"explanation", "warnings", "profile"} <= set(run)
    details = json.loads((bundle / "explanation.json").read_text())
    assert set(details) == {"explanation", "sensitivity", "profiles", "prior_check"}
    ex = details["explanation"]
    assert {"decomposition", "tail_profile", "prior_only_buffer_oom", "rule"} <= set(ex)
    # The full sensitivity: every prior, tightened and widened too (not only shifted).
    from forecast.inputs.priors import load_priors

    assert {r["prior"] for r in details["sensitivity"]["priors"]} == set(load_priors())
    hows = {v["how"] for r in details["sensitivity"]["priors"] for v in r["variations"]}
    assert hows == {"tighten", "widen", "shift_down", "shift_up"}
    assert [r["profile"] for r in details["profiles"]] == ["cautious", "central", "optimistic"]
    assert details["prior_check"]["prior_buffer_oom"] == pytest.approx(ex["prior_only_buffer_oom"])
    from forecast.report.plots import is_png

    for name in ("fan_chart", "p_cross", "decomposition", "tornado", "profiles"):
        assert is_png(bundle / f"{name}.png")
    import h5netcdf

    with h5netcdf.File(bundle / "posterior.nc", "r") as nc:
        assert "posterior" in nc.groups
    assert json.loads((bundle / "calibration-backtest.json").read_text()) == BACKTEST_DOC


def test_the_bundle_gets_normal_permissions_under_the_umask(bundle):
    assert bundle.stat().st_mode & 0o777 == 0o750
    for path in bundle.iterdir():
        assert path.stat().st_mode & 0o777 == 0o640, path.name


def test_the_scenario_is_copied_as_run(bundle):
    from forecast.inputs.scenarios import shipped_scenarios

    shipped = shipped_scenarios()["frontier-api"]
    assert (bundle / "scenario.yaml").read_bytes() == shipped.read_bytes()


def test_provenance_names_every_input_by_absolute_path_and_hash(bundle):
    prov = json.loads((bundle / "provenance.json").read_text())
    roles = {r["role"] for r in prov["inputs"]}
    assert {"scenario", "priors", "catalogue", "measurements", "policy", "tasks"} <= roles
    for record in prov["inputs"]:
        path = Path(record["path"])
        assert path.is_absolute() and path.is_file()
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert record["bytes"] == path.stat().st_size
    from forecast.buffer.forecasting import HISTORIES_SETTINGS

    assert prov["run"]["fit_seed"] == 20231212
    assert prov["fit"]["how"] == "shipped"
    assert prov["fit"]["settings"]["draws"] == HISTORIES_SETTINGS.draws
    assert prov["catalogue_fit"]["how"] == "summary"
    report = (bundle / "report.md").read_text()
    for record in prov["inputs"]:
        # a shipped input by its name in the package, a user's by its path
        assert record["shipped"] == (record["name"] != record["path"])
        shown = f"shipped `{record['name']}`" if record["shipped"] else record["path"]
        assert record["sha256"] in report and shown in report
    assert any(r["role"] == "measurements" and r["shipped"] for r in prov["inputs"])


def test_no_python_representation_in_the_text_files(bundle):
    words = re.compile(r"\b(None|True|False|nan|inf)\b")
    for name in ("report.md", "sensitivity.csv", "profiles.csv", "uplift.csv"):
        text = (bundle / name).read_text()
        assert not words.search(text), (name, words.search(text).group())
    assert "Not computed" not in (bundle / "report.md").read_text()


def test_the_report_has_every_section(bundle):
    report = (bundle / "report.md").read_text()
    for heading in (
        "## Summary",
        "## Why this buffer",
        "## Assumption profiles",
        "## Sensitivity",
        "## Inputs",
        "## Uplift over time",
        "## Evaluations",
        "## Policy comparison",
        "## Prior predictive check",
        "## Calibration and backtest",
        "### Backtest against later measurements",
        "## Diagnostics",
        "## Provenance",
    ):
        assert heading in report, heading
    assert "1 of 1 later measurements inside the forecast's 90% interval" in report
    for figure in ("fan_chart", "p_cross", "decomposition", "tornado", "profiles"):
        assert f"]({figure}.png)" in report


def test_the_policy_comparison_judges_every_rule_in_force_with_its_exceptions(bundle):
    report = (bundle / "report.md").read_text()
    section = report.split("## Policy comparison")[1].split("\n## ")[0]
    for title in (
        "Anthropic RSP v3.4",
        "EU GPAI Code of Practice, Safety and Security",
        "Google DeepMind FSF v3.1",
        "OpenAI Preparedness Framework v2",
    ):
        assert f"| {title} |" in section, title
    assert "not verified" not in section and "superseded" not in section
    assert "over the scenario's 12-month horizon (the rule states no numeric cadence)" in section
    assert "Exception, *a more capable model comes to market in less than a month*:" in section
    assert '(Measure 7.6, exceptions to the six-monthly update ("Signatories do not need to ' in (
        section
    )
    assert "Event trigger, *a public deployment of a model judged significantly more" in section
    assert 'Scope and Timing, "Timing.", p. 11)' in section
    summary = report.split("## Summary")[1].split("\n## ")[0]
    assert "- Anthropic RSP v3.4 (current; this tool's reading: no stated buffer; Risk Report" in (
        summary
    )


def test_the_csv_tables_are_complete(bundle):
    rows = list(csv.DictReader(io.StringIO((bundle / "sensitivity.csv").read_text())))
    noise = [r for r in rows if r["prior"] == "noise_dof"]
    assert noise and all(r["buffer_oom"] == "" and r["swing"] == "refit needed" for r in noise)
    assert all(r["swing_oom"] == "" for r in noise)  # not a 0.00 swing
    profiles = list(csv.DictReader(io.StringIO((bundle / "profiles.csv").read_text())))
    assert [r["profile"] for r in profiles] == ["cautious", "central", "optimistic"]
    assert all(float(r["buffer_oom"]) >= 0 for r in profiles)
    fits = {r["profile"]: r["fit"] for r in profiles}
    # served without sampling: shipped, or reweighted when the default fit serves it
    # (tools/build_default_fit.py ships a profile's fit when reweighting cannot)
    assert fits["central"] == "shipped" and fits["optimistic"] in {"shipped", "reweighted"}
    # Ordered as their names say, among the profiles served by real fits (the cautious
    # profile's uplift fit is made up here unless the fits shipped with it).
    real = [float(r["buffer_oom"]) for r in profiles[::-1] if r["fit"] != "sampled"]
    assert len(real) >= 2 and real == sorted(real)


def test_report_html_is_self_contained(bundle):
    page = (bundle / "report.html").read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(sources) == 5
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "@media print" in page


def test_the_resolved_scenario_reruns_to_the_same_forecast(run_cli, cache_dir, tmp_path):
    """Overrides, a profile and a --prior are folded into scenario-resolved.yaml: running it
    with no options gives the same buffer."""
    out = tmp_path / "b"
    options = [
        "--horizon",
        "9",
        "--confidence",
        "0.9",
        "--actor",
        "open_weights",
        "--profile",
        "optimistic",
        "--prior",
        "trend_fade_years=LogNormal(0.2, 0.5)",  # a forecast prior: no refit
        "--policies",
        "anthropic-rsp-v1",
    ]
    code, _, err = run_cli(
        ["export", "--out", out, *options, *FIT, "--quick-sensitivity", "--no-profiles"]
    )
    assert code == 0, err
    original = json.loads((out / "results.json").read_text())
    moved = tmp_path / "elsewhere" / "scenario-resolved.yaml"  # absolute paths: it moves
    moved.parent.mkdir()
    shutil.copy(out / "scenario-resolved.yaml", moved)
    code, stdout, err = run_cli(["run", moved, *FIT, "--json"])
    assert code == 0, err
    again = json.loads(stdout)
    assert again["buffer"]["oom"] == original["buffer"]["oom"]
    assert again["horizon_months"] == 9 and again["actor"] == "open_weights"
    assert again["provenance"]["priors_overridden"]["trend_fade_years"] == "LogNormal(0.2, 0.5)"
    assert [p["name"] for p in again["policies"]] == ["anthropic-rsp-v1"]
    report = (out / "report.md").read_text()
    assert "Not computed for this report (--no-profiles)" in report
    assert not (out / "profiles.csv").exists() and not (out / "profiles.png").exists()


def test_a_bad_calibration_document_is_refused_before_the_work(run_cli, cache_dir, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    code, _, err = run_cli(["export", "--out", tmp_path / "b", *FIT, "--calibration", bad])
    assert code == 2 and str(bad) in err and "forecast check sbc" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"quantities": [')
    code, _, err = run_cli(["export", "--out", tmp_path / "b", *FIT, "--calibration", broken])
    assert code == 2 and f"{broken}:1:" in err and "not a JSON document" in err
    code, _, err = run_cli(["export", "--out", tmp_path / "b", "--calibration", tmp_path / "no"])
    assert code == 2 and "Traceback" not in err
    assert not (tmp_path / "b").exists()


def test_force_replaces_a_bundle_with_calibration_files(tmp_path):
    from forecast.report.export import check_bundle_folder, is_bundle_file

    assert is_bundle_file("calibration-sbc.json") and is_bundle_file("calibration-sbc-2.json")
    assert not is_bundle_file("calibration-notes.json")
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "report.md").write_text("x")
    (folder / "calibration-loo_pit.json").write_text("{}")
    assert check_bundle_folder(folder, force=True) == folder
    (folder / "mine.txt").write_text("x")
    from forecast.core.errors import InputError

    with pytest.raises(InputError, match="mine.txt"):
        check_bundle_folder(folder, force=True)


# --------------------------------------------------------------------------- the browser


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _headless(browser: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


#: Added to a copy of the page (the report itself has no script): on load, each image's
#: decoded size becomes an attribute that --dump-dom shows.
MEASURE = """<script>
window.addEventListener('load', () => {
  for (const img of document.images) {
    img.setAttribute('data-natural', img.naturalWidth + 'x' + img.naturalHeight);
    img.setAttribute('data-complete', img.complete ? 'yes' : 'no');
  }
  document.body.setAttribute('data-measured', 'yes');
});
</script>"""


@pytest.mark.skipif(_browser() is None, reason="no headless browser (chromium) installed")
def test_report_html_renders_its_figures_in_a_headless_browser(bundle, tmp_path):
    browser = _browser()
    page = (bundle / "report.html").read_text()
    # The copy allows the measuring script (and nothing else from outside).
    probe = page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    probe = probe.replace("</body>", MEASURE + "</body>")
    copy = tmp_path / "probe.html"
    copy.write_text(probe)
    proc = _headless(browser, "--virtual-time-budget=10000", "--dump-dom", copy.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-measured="yes"' in dom, dom[:2000]
    sizes = re.findall(r'data-natural="(\d+)x(\d+)"', dom)
    assert len(sizes) == 5
    for width, height in sizes:  # every figure decoded at its drawn size (8 in at 120 dpi)
        assert int(width) == 960 and int(height) > 300
    # The report itself, as shipped: rendered, not blank.
    shot = tmp_path / "shot.png"
    proc = _headless(
        browser,
        f"--screenshot={shot}",
        "--window-size=1200,2400",
        bundle.joinpath("report.html").as_uri(),
    )
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.std() > 0.05  # text and figures, not one colour
    pdf = tmp_path / "report.pdf"
    proc = _headless(browser, f"--print-to-pdf={pdf}", bundle.joinpath("report.html").as_uri())
    assert proc.returncode == 0 and pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_size > 100_000  # the figures are in the printed pages
