"""Reliability: the fit cache under concurrent and interrupted writers, damaged entries,
unsafe deserialisation, relative paths in scenarios, and the imports of the light commands.

- two processes writing one cache key at once leave one valid entry and no temp folders;
- a writer killed (SIGKILL) mid-write leaves no entry (or the old one), and a later write
  succeeds; ``run`` killed mid-fit and ``export`` killed mid-bundle leave nothing at the
  final names;
- a damaged entry of either model (the catalogue's, the uplift model's) is detected by
  ``forecast.fit.engine.fit_model``, which says so and refits with ``replace=True``
  (``forecast.fit.engine._sample`` is replaced: no NUTS here);
- no module under ``forecast/`` unpickles or loads YAML unsafely;
- a scenario's ``tasks_file`` is relative to the scenario file, not the working folder;
- ``--help``, ``scenarios list`` and ``evidence validate`` import neither PyMC, PyTensor
  nor ArviZ.

Bugs found while writing these tests are covered by ``test_fixed_bug_*`` regression tests.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import fake_sampler

import forecast.fit.engine
from forecast.fit.cache import entry_dir, read_entry, write_entry
from forecast.fit.engine import FitSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "forecast"
KEY = "5e" * 32


def _env(cache_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env["FORECAST_CACHE_DIR"] = str(cache_dir)
    env["NO_COLOR"] = "1"
    return env


def _wait_for(path: Path, procs, timeout: float = 60.0) -> None:
    """Wait until ``path`` exists; fail with the output of any process that died first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        for p in procs:
            if p.poll() is not None:
                out, err = p.communicate()
                pytest.fail(f"writer exited {p.returncode} before {path.name}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {path}")
        time.sleep(0.005)


def _leftovers(cache_dir: Path, key: str) -> list[str]:
    """Everything in the fits folder other than the entry itself."""
    fits = cache_dir / "fits"
    return sorted(n for n in os.listdir(fits) if n != key[:32]) if fits.exists() else []


def _assert_valid_entry(key: str, writers: set) -> dict:
    hit = read_entry(key)  # raises CorruptEntry on a bad checksum
    assert hit is not None, "no entry after the writers finished"
    draws, meta, folder = hit
    assert meta["writer"] in writers
    np.testing.assert_array_equal(draws["x"], np.full((50, 7), float(meta["writer"])))
    assert sorted(os.listdir(folder)) == ["draws.npz", "meta.json"]
    return meta


# --------------------------------------------------------------------------- (a) two writers

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    import numpy as np

    from forecast.fit import cache

    sync, name, key, rounds, replace, slow = sys.argv[1:7]
    sync = Path(sync)
    if float(slow):  # a slow file system: every rename waits, widening the race window
        real_replace = os.replace

        def slow_replace(src, dst):
            time.sleep(float(slow))
            return real_replace(src, dst)

        os.replace = slow_replace
    writer = int(name)
    draws = {"x": np.full((50, 7), float(writer)), "y": np.arange(10.0) * writer}
    (sync / f"ready-{name}").touch()
    deadline = time.monotonic() + 60
    while not (sync / "go").exists():  # the barrier: both start writing together
        if time.monotonic() > deadline:
            sys.exit("no barrier")
        time.sleep(0.0002)
    errors = []
    for i in range(int(rounds)):
        try:
            cache.write_entry(key, draws, {"writer": writer, "round": i}, replace=replace == "1")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    print("ERRORS", len(errors))
    for error in errors:
        print("ERR", error)
    sys.exit(1 if errors else 0)
    """
)


def _race(cache_dir, tmp_path, key, rounds, replace=False, slow=0.0, writers=2):
    """Start the writers, release them together, return [(exit code, stdout, stderr)]."""
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = []
    try:
        for n in range(1, writers + 1):
            argv = [str(sync), str(n), key, str(rounds), "1" if replace else "0", str(slow)]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, *argv],
                    env=_env(cache_dir),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for n in range(1, writers + 1):
            _wait_for(sync / f"ready-{n}", procs)
        (sync / "go").touch()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            results.append((p.returncode, out, err))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


#: The first-write race of staged_dir (pinned below): tolerated here, nothing else is.
KNOWN_RACE = re.compile(rf"^ERR OSError: \[Errno {errno.ENOTEMPTY}\] ")


def test_two_processes_write_one_key_at_once(cache_dir, tmp_path):
    """200 writes each, released together: one valid entry, no temp folder left behind."""
    results = _race(cache_dir, tmp_path, KEY, rounds=200)
    for code, out, err in results:
        errors = [line for line in out.splitlines() if line.startswith("ERR ")]
        unexpected = [e for e in errors if not KNOWN_RACE.match(e)]
        assert unexpected == [], f"{out}\n{err}"
        assert code == 0 or errors, f"{out}\n{err}"
    _assert_valid_entry(KEY, {1, 2})
    assert _leftovers(cache_dir, KEY) == []


# regression test (was a package bug: forecast/files.py staged_dir: when two writers both find
# no entry, the second  os.replace(tmp, final) fails with ENOTEMPTY (OSError escapes write_entry
# and fit))
def test_two_processes_first_write_race(cache_dir, tmp_path):
    results = _race(cache_dir, tmp_path, KEY, rounds=1, slow=0.3)
    for code, out, err in results:
        assert code == 0, f"{out}\n{err}"
    _assert_valid_entry(KEY, {1, 2})
    assert _leftovers(cache_dir, KEY) == []


# regression test (was a package bug: forecast/files.py staged_dir(replace=True): concurrent
# replacers race between  os.replace(final, old) and os.replace(tmp, final)
# (FileNotFoundError/ENOTEMPTY,  '.old-PID' folders left behind))
def test_two_processes_replace_one_key_at_once(cache_dir, tmp_path):
    write_entry(KEY, {"x": np.full((50, 7), 0.0)}, {"writer": 0})  # the damaged entry, say
    results = _race(cache_dir, tmp_path, KEY, rounds=3, replace=True, slow=0.3)
    for code, out, err in results:
        assert code == 0, f"{out}\n{err}"
    _assert_valid_entry(KEY, {1, 2})
    assert _leftovers(cache_dir, KEY) == []


# --------------------------------------------------------------------------- (b) SIGKILL

KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import numpy as np

    from forecast.fit import cache

    key, ready, replace = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"


    def stall(folder):  # stands in for a slow posterior.nc
        (folder / "posterior.nc").write_bytes(b"half a netCDF file")
        ready.touch()
        time.sleep(300)


    draws = {"x": np.full((50, 7), 9.0)}
    cache.write_entry(key, draws, {"writer": "killed"}, extra_writer=stall, replace=replace)
    """
)


@pytest.mark.parametrize("existing", [False, True], ids=["new-key", "replacing"])
def test_writer_killed_mid_write_leaves_no_entry(cache_dir, tmp_path, existing):
    if existing:
        write_entry(KEY, {"x": np.full((50, 7), 3.0)}, {"writer": 3})
    ready = tmp_path / "ready"
    _kill_when_ready(
        [KILLED_WRITER, KEY, str(ready), "1" if existing else "0"], ready, cache_dir, tmp_path
    )

    if existing:  # the old entry is untouched, whole and valid
        meta = _assert_valid_entry(KEY, {3})
        assert meta["writer"] == 3
    else:
        assert read_entry(KEY) is None
        assert not entry_dir(KEY).exists()
    # What a killed writer leaves: its own hidden staging folder, never the entry's name.
    left = _leftovers(cache_dir, KEY)
    assert left and all(n.startswith(f".{KEY[:32]}.tmp-") for n in left), left

    # A later write succeeds (and replaces the old entry when asked to).
    write_entry(KEY, {"x": np.full((50, 7), 4.0)}, {"writer": 4}, replace=existing)
    assert _assert_valid_entry(KEY, {4})["writer"] == 4


KILLED_COMMAND = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import forecast.fit.engine, forecast.report.plots
    from forecast.cli.app import main

    ready, stage = Path(sys.argv[1]), sys.argv[2]


    def stall(*args, **kwargs):  # the process is killed here
        staged = ready.with_suffix(".tmp")  # which model was being fitted, if any
        staged.write_text(getattr(args[0], "name", "") if args else "")
        staged.rename(ready)
        time.sleep(300)


    if stage == "fit":
        forecast.fit.engine._sample = stall  # in the middle of NUTS
    else:
        forecast.report.plots.p_cross_chart = stall  # the bundle's second chart
    main(sys.argv[3:])
    """
)


def _kill_when_ready(script_and_args, ready: Path, cache_dir, cwd, timeout=60.0) -> None:
    """Run ``python -c SCRIPT ARGS...``, SIGKILL it once it creates ``ready``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", *script_and_args],
        env=_env(cache_dir),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(ready, [proc], timeout=timeout)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def _killed_command(cache_dir, tmp_path, stage, argv) -> None:
    ready = tmp_path / "ready"
    script = [KILLED_COMMAND, str(ready), stage, *map(str, argv)]
    _kill_when_ready(script, ready, cache_dir, tmp_path, timeout=240)


# --------------------------------------------------------------------------- fake fits

#: Small sampler settings (what FIT_OPTIONS below ask for): fake fits of this size are cheap.
SMALL = dict(draws=60, tune=10, chains=2)


#: Stands in for ``forecast.fit.engine._sample``: made-up draws of either model, stored in
#: the cache like a real fit (conftest.fake_sampler).
fake_sample = fake_sampler()


def warm_fake_fits():
    """The cache (``FORECAST_CACHE_DIR``) warmed with fake fits of everything ``run`` and
    ``evidence list`` read with FIT_OPTIONS: the catalogue model (the run's default settings,
    and SMALL) and the uplift model (SMALL). Returns the run's
    :class:`~forecast.buffer.forecasting.Fits`."""
    from forecast.buffer.forecasting import HISTORIES_SETTINGS, fit_both
    from forecast.fit.catalogue import fit_evidence
    from forecast.inputs.resolve import resolve

    inputs = resolve(None)
    histories = dataclasses.replace(HISTORIES_SETTINGS, **SMALL)
    real = forecast.fit.engine._sample
    forecast.fit.engine._sample = fake_sample
    try:
        fits = fit_both(inputs, FitSettings(seed=histories.seed), histories)
        fit_evidence(inputs.catalogue, inputs.priors, FitSettings(**SMALL), table=inputs.table)
    finally:
        forecast.fit.engine._sample = real
    return fits


def _entries(cache_dir: Path) -> list[str]:
    fits = cache_dir / "fits"
    return sorted(n for n in os.listdir(fits) if not n.startswith(".")) if fits.exists() else []


@pytest.mark.parametrize("model", ["catalogue", "histories"])
def test_run_killed_mid_fit_leaves_no_entry_and_no_results(cache_dir, tmp_path, model):
    """Killed while fitting the catalogue model (another fit seed: no fit of it at hand, not
    even the shipped summary) or the uplift model (the catalogue's fit cached): no new entry,
    no results."""
    argv = ["run", "--quiet", "--out", tmp_path / "results", *FIT_OPTIONS]
    if model == "histories":
        fits = warm_fake_fits()
        shutil.rmtree(fits.histories.directory)
    else:
        argv += ["--fit-seed", "7"]
    before = _entries(cache_dir)
    _killed_command(cache_dir, tmp_path, "fit", argv)
    assert (tmp_path / "ready").read_text() == model  # killed while fitting this model
    assert _entries(cache_dir) == before
    assert not (tmp_path / "results").exists()


def test_export_killed_mid_bundle_leaves_no_bundle(cache_dir, tmp_path):
    warm_fake_fits()
    out = tmp_path / "bundle"
    argv = ["export", "--quiet", "--out", out, "--quick-sensitivity", "--no-profiles"]
    _killed_command(cache_dir, tmp_path, "export", [*argv, *FIT_OPTIONS])
    assert not out.exists()  # only the hidden staging folder, never a half bundle
    staged = [n for n in os.listdir(tmp_path) if n.startswith(".bundle.tmp-")]
    assert len(staged) == 1 and "results.json" in os.listdir(tmp_path / staged[0])


# --------------------------------------------------------------------------- (c) damage


@pytest.fixture(scope="module")
def specs():
    """Each model's spec, priors and small settings: (spec, priors, settings, fit())."""
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.histories import build_history_table
    from forecast.evidence.measurements import load_measurements
    from forecast.evidence.table import build_table
    from forecast.fit.catalogue import catalogue_spec, fit_catalogue
    from forecast.fit.histories import fit_histories, histories_spec
    from forecast.inputs.priors import load_priors

    priors = load_priors()
    catalogue = load_catalogue()
    table = build_table(catalogue)
    histories = build_history_table(load_measurements(catalogue=catalogue))
    settings = FitSettings(**SMALL)
    return {
        "catalogue": (
            catalogue_spec(table, priors),
            priors,
            settings,
            lambda **kw: fit_catalogue(table, priors, settings, **kw),
        ),
        "uplift": (
            histories_spec(histories, priors),
            priors,
            settings,
            lambda **kw: fit_histories(histories, priors, settings, **kw),
        ),
    }


SENTINEL = object()


@pytest.fixture
def recorder(monkeypatch):
    """Replace ``forecast.fit.engine._sample``: record its arguments, return a sentinel."""
    signature = inspect.signature(forecast.fit.engine._sample)
    calls: list[dict] = []

    def fake(*args, **kwargs):
        calls.append(dict(signature.bind(*args, **kwargs).arguments))
        return SENTINEL

    monkeypatch.setattr(forecast.fit.engine, "_sample", fake)
    return calls


def _cached_fit(spec, priors, settings) -> Path:
    """A valid cache entry of ``spec``'s model for these priors and settings (fake draws)."""
    fit = fake_sample(spec, priors, settings, spec.key(priors, settings), True, False, None, None)
    return fit.directory


def _edit_meta(change):
    def damage(folder: Path):
        meta = json.loads((folder / "meta.json").read_text())
        change(meta)
        (folder / "meta.json").write_text(json.dumps(meta))

    return damage


def _truncate(folder):
    blob = (folder / "draws.npz").read_bytes()
    (folder / "draws.npz").write_bytes(blob[: len(blob) // 2])


def _flip_byte(folder):
    blob = bytearray((folder / "draws.npz").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (folder / "draws.npz").write_bytes(bytes(blob))


def _empty_draws(folder):
    (folder / "draws.npz").write_bytes(b"")


def _delete(name):
    return lambda folder: (folder / name).unlink()


def _meta_text(text):
    return lambda folder: (folder / "meta.json").write_text(text)


def _first_labels(change):
    """Change the first list of labels (enhancement ids, or suites)."""

    def edit(meta):
        name = next(iter(meta["labels"]))
        meta["labels"][name] = change(meta["labels"][name])

    return edit


DAMAGES = {
    "draws-truncated": _truncate,
    "draws-byte-flipped": _flip_byte,
    "draws-empty": _empty_draws,
    "draws-deleted": _delete("draws.npz"),
    "meta-deleted": _delete("meta.json"),
    "meta-not-json": _meta_text('{"key": '),
    "meta-empty-object": _meta_text("{}"),
    "meta-a-list": _meta_text("[]"),
    "meta-other-key": _edit_meta(lambda m: m.update(key="0" * 64)),
    "meta-other-checksum": _edit_meta(lambda m: m.update(draws_sha256="0" * 64)),
    "meta-other-draw-count": _edit_meta(lambda m: m.update(n_draws=m["n_draws"] - 1)),
    "meta-no-diagnostics": _edit_meta(lambda m: m.pop("diagnostics")),
    "meta-no-labels": _edit_meta(lambda m: m.pop("labels")),
    "meta-labels-not-a-mapping": _edit_meta(lambda m: m.update(labels=5)),
    "meta-labels-not-a-list": _edit_meta(_first_labels(lambda ids: 5)),
    "meta-labels-one-missing": _edit_meta(_first_labels(lambda ids: ids[:-1])),
    "meta-diagnostics-unknown-fields": _edit_meta(lambda m: m.update(diagnostics={"x": 1})),
}
MODELS = ["catalogue", "uplift"]


def _assert_refit(spec, priors, settings, calls, logs):
    assert len(calls) == 1, "the damaged entry was used instead of refitting"
    call = calls[0]
    assert call["replace"] is True
    assert call["use_cache"] is True
    assert call["key"] == spec.key(priors, settings)
    assert call["spec"].name == spec.name
    assert any("damaged" in m for m in logs), logs


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("damage", list(DAMAGES.values()), ids=list(DAMAGES))
def test_damaged_entry_is_detected_and_refit(cache_dir, specs, recorder, damage, model):
    spec, priors, settings, fit = specs[model]
    damage(_cached_fit(spec, priors, settings))
    logs: list[str] = []
    result = fit(log=logs.append)
    assert result is SENTINEL
    _assert_refit(spec, priors, settings, recorder, logs)


@pytest.mark.parametrize("model", MODELS)
def test_intact_entry_is_used_without_sampling(cache_dir, specs, recorder, model):
    spec, priors, settings, fit = specs[model]
    _cached_fit(spec, priors, settings)
    result = fit()
    assert recorder == []
    assert result.how == "cache" and result.from_cache
    assert result.labels == {name: tuple(v) for name, v in spec.labels.items()}
    assert result.n_draws == settings.chains * settings.draws


# regression test (was a package bug: forecast/fit.py trusts meta.json beyond key and checksum:
# edited enhancement_ids or  diagnostics are used as they are (neither is covered by a
# checksum), and a  diagnostics value that is not a mapping raises AttributeError (not caught))
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "change",
    [
        _first_labels(lambda ids: ids[::-1]),
        lambda m: m["diagnostics"].update(r_hat_max="not a number"),
        lambda m: m.update(diagnostics=[1, 2]),
        lambda m: m.update(diagnostics="ok"),
    ],
    ids=["labels-reordered", "r_hat-not-a-number", "diagnostics-a-list", "diagnostics-a-string"],
)
def test_fixed_bug_edited_meta_is_used(cache_dir, specs, recorder, change, model):
    spec, priors, settings, fit = specs[model]
    _edit_meta(change)(_cached_fit(spec, priors, settings))
    logs: list[str] = []
    fit(log=logs.append)
    _assert_refit(spec, priors, settings, recorder, logs)


# --------------------------------------------------------------------------- (d) source scan

UNSAFE = {
    "pickle import": re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|_pickle|dill|cloudpickle|shelve|marshal|joblib)\b",
        re.M,
    ),
    "pickle call": re.compile(r"\b(pickle|dill|cloudpickle|joblib)\.(loads?|Unpickler)\b"),
    "pandas/torch unpickling": re.compile(r"\b(read_pickle|torch\.load)\s*\("),
    "unsafe yaml.load": re.compile(
        r"\byaml\.(load|load_all|unsafe_load|unsafe_load_all|full_load|full_load_all)\s*\("
    ),
    "unsafe YAML loader": re.compile(r"\byaml\.C?(Unsafe|Full)?Loader\b"),
    "unsafe yaml import": re.compile(
        r"^\s*from\s+yaml\s+import\s+[^\n]*\b(C?(Unsafe|Full)?Loader|load|unsafe_load|full_load)\b",
        re.M,
    ),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
}


def _sources() -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def test_scan_covers_the_package():
    sources = _sources()
    assert len(sources) >= 20
    assert "forecast/fit/cache.py" in sources and "forecast/core/reading.py" in sources


@pytest.mark.parametrize("name", list(UNSAFE))
def test_no_unsafe_deserialisation_in_the_package(name):
    pattern = UNSAFE[name]
    found = [
        f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0).strip()}"
        for path, text in _sources().items()
        for m in pattern.finditer(text)
    ]
    assert found == [], f"{name}:\n" + "\n".join(found)


def test_every_yaml_loader_is_a_safe_one():
    """Whatever loader class is named, it is SafeLoader or CSafeLoader."""
    named = {
        m.group(1)
        for text in _sources().values()
        for m in re.finditer(r"\byaml\.(\w*Loader)\b", text)
    }
    assert named <= {"SafeLoader", "CSafeLoader"}, named
    assert "SafeLoader" in named


def test_every_numpy_load_refuses_pickles():
    """Every np.load / np.lib.format.read_array passes allow_pickle=False."""
    calls = [
        (path, m.group(0))
        for path, text in _sources().items()
        for m in re.finditer(
            r"\b(?:np\.load|np\.lib\.format\.read_array|read_array)\((?:[^()]|\([^()]*\))*\)",
            text,
        )
    ]
    assert calls, "expected a numpy array reader in forecast/fit/cache.py"
    for path, call in calls:
        assert "allow_pickle=False" in call, f"{path}: {call}"


# --------------------------------------------------------------------------- (e) tasks_file


def _copy_scenario(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "data").mkdir()
    shutil.copy(ROOT / "scenarios" / "data" / "autonomy-tasks.csv", folder / "data")
    scenario = folder / "mine.yaml"
    shutil.copy(ROOT / "scenarios" / "frontier-api.yaml", scenario)
    assert "tasks_file: data/autonomy-tasks.csv" in scenario.read_text()
    return scenario


def test_tasks_file_is_relative_to_the_scenario_file(run_cli, tmp_path, monkeypatch):
    scenario = _copy_scenario(tmp_path / "project" / "scenarios")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for given in (scenario, Path("..") / "project" / "scenarios" / "mine.yaml"):
        code, out, err = run_cli(["scenarios", "validate", given])
        assert code == 0, err
        assert "valid" in out

    from forecast.inputs.scenarios import load_scenario
    from forecast.inputs.tasks import read_task_results

    loaded = load_scenario(Path("..") / "project" / "scenarios" / "mine.yaml")
    tasks_path = loaded.resolve(loaded.scenario.evals[0].tasks_file)
    assert tasks_path.resolve() == (scenario.parent / "data" / "autonomy-tasks.csv").resolve()
    assert len(read_task_results(tasks_path).task_ids) > 0


def test_tasks_file_is_not_looked_up_in_the_working_folder(run_cli, tmp_path, monkeypatch):
    """The CSV beside the working folder, not beside the scenario: not found."""
    scenario = _copy_scenario(tmp_path / "project")
    decoy = tmp_path / "decoy"
    shutil.move(scenario.parent / "data", decoy / "data")
    monkeypatch.chdir(decoy)
    assert Path("data/autonomy-tasks.csv").is_file()
    code, out, err = run_cli(["scenarios", "validate", scenario])
    assert code == 2, out + err
    flat = "".join(err.split())
    assert str(scenario) in flat and "evals[0].tasks_file" in flat
    assert "Traceback" not in err and out == ""


# --------------------------------------------------------------------------- (f) imports

IMPORTS = textwrap.dedent(
    """
    import contextlib, io, json, sys

    from forecast.cli.app import main

    argv = json.loads(sys.argv[1])
    shown = io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(shown):
            main(argv)
    except SystemExit as exc:
        code = exc.code
    heavy = sorted(
        m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor", "arviz")
    )
    print(json.dumps({"code": code, "heavy": heavy, "printed": len(shown.getvalue())}))
    """
)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["scenarios", "list"],
        ["scenarios", "show", "frontier-api"],
        ["evidence", "validate"],
        ["scenarios", "validate", str(ROOT / "scenarios" / "frontier-api.yaml")],
        ["evidence", "list", "--no-posterior"],
    ],
    ids=lambda a: " ".join(Path(x).name if "/" in x else x for x in a),
)
def test_light_commands_import_no_sampler(cache_dir, tmp_path, argv):
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS, json.dumps(argv)],
        capture_output=True,
        text=True,
        env=_env(cache_dir),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    assert report["printed"] > 0
    assert report["heavy"] == [], f"{argv} imported {report['heavy']}"
    assert not (cache_dir / "fits").exists()  # nothing was fitted or cached either


# --------------------------------------------------------------------------- (g) terminals

FIT_OPTIONS = ["--fit-draws", "60", "--fit-tune", "10", "--chains", "2", "-q"]


@pytest.fixture
def small_warm_fit(cache_dir):
    """Valid cached fits for FIT_OPTIONS (made-up draws): commands run without sampling."""
    return warm_fake_fits()


def _run(cache_dir, tmp_path, argv, **env):
    return subprocess.run(
        [sys.executable, "-m", "forecast", *map(str, argv)],
        capture_output=True,
        env=_env(cache_dir) | env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize(
    "argv",
    [["run", *FIT_OPTIONS], ["evidence", "list", *FIT_OPTIONS], ["scenarios", "show", "x"]],
    ids=["run", "evidence-list", "scenarios-show"],
)
def test_a_terminal_without_utf8_gets_output_not_a_traceback(
    cache_dir, tmp_path, small_warm_fit, encoding, argv
):
    """PYTHONIOENCODING=ascii forecast run used to die on the first box-drawing character;
    characters the terminal lacks are now replaced."""
    if argv[-1] == "x":
        argv = ["scenarios", "show", "frontier-api"]
    proc = _run(cache_dir, tmp_path, argv, PYTHONIOENCODING=encoding)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr
    proc.stdout.decode(encoding)  # every byte is in the terminal's encoding
    assert len(proc.stdout) > 200


def test_emitted_records_in_an_ascii_terminal_stay_exact(cache_dir, tmp_path):
    """Non-ASCII names are written as YAML escapes, never replaced by '?'."""
    import yaml

    path = tmp_path / "r.csv"
    path.write_text(
        "model,compute_flop,enhanced,score\nsmäll,1e22,false,20\nmïd,1e23,false,30\n"
        "large,1e24,false,40\ntööl,1e22,true,35\n",
        encoding="utf-8",
    )
    proc = _run(
        cache_dir,
        tmp_path,
        ["ceg", "estimate", path, "--emit-record", "x"],
        PYTHONIOENCODING="ascii",
    )
    assert proc.returncode == 0, proc.stderr
    (record,) = yaml.safe_load(proc.stdout.decode("ascii"))
    assert "tööl" in record["notes"]


def test_a_fifo_as_input_never_blocks_a_real_process(cache_dir, tmp_path):
    """The whole program, not just the reader: a FIFO scenario exits 2 at once."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    proc = _run(cache_dir, tmp_path, ["run", "-q", fifo])  # timeout=120 would fail the test
    assert proc.returncode == 2
    assert b"named pipe" in proc.stderr and b"Traceback" not in proc.stderr


def test_an_unwritable_cache_folder_is_known_before_the_fit(cache_dir, tmp_path):
    """FORECAST_CACHE_DIR a file: the warning comes before any sampling starts (the run is
    killed at the start of the fit, and the warning is already out)."""
    (tmp_path / "cachefile").write_text("x")
    script = textwrap.dedent(
        """
        import sys
        import forecast.fit.engine
        from forecast.cli.app import main

        def stop(*args, **kwargs):
            sys.stderr.write("SAMPLING STARTS\\n")
            sys.exit(9)

        forecast.fit.engine._sample = stop
        main(sys.argv[1:])
        """
    )
    proc = subprocess.run(
        # another fit seed: no fit at hand, not even a shipped one
        [sys.executable, "-c", script, "run", "-q", "--fit-seed", "7"],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "cachefile"),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 9
    warning = proc.stderr.find("the fit cache cannot be written")
    assert 0 <= warning < proc.stderr.find("SAMPLING STARTS"), proc.stderr


# --------------------------------------------------------------------------- (f) processes

SAMPLING = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import forecast.fit.sampler
    from forecast.cli.app import main

    ready, original = Path(sys.argv[1]), forecast.fit.sampler.sample

    def sample(*args, **kwargs):  # mark the moment NUTS starts, then really sample
        ready.touch()
        return original(*args, **kwargs)

    forecast.fit.sampler.sample = sample
    main(sys.argv[2:])
    """
)


def _children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True)
    return [line for line in out.stdout.decode().splitlines() if line.strip()]


def test_a_fit_starts_no_worker_process_and_ctrl_c_stops_it_cleanly(cache_dir, tmp_path):
    """Version 3 sampled in worker processes that a killed run left blocked forever. nutpie
    runs the chains as threads of the one process: there is nothing to leave behind, and
    Ctrl-C (SIGINT) cancels the chains at once, writing no cache entry and no results."""
    ready, out = tmp_path / "ready", tmp_path / "results"
    long_fit = ["--no-cache", "--fit-draws", "20000", "--fit-tune", "2000", "--chains", "4"]
    long_fit += ["--draws", "4000"]  # forecast draws within the limit
    proc = subprocess.Popen(
        [sys.executable, "-c", SAMPLING, str(ready), "run", "--out", str(out), *long_fit],
        env=_env(cache_dir),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(ready, [proc], timeout=240)
        time.sleep(2.0)  # the chains are running now
        assert proc.poll() is None
        assert _children(proc.pid) == [], "the sampler started worker processes"
        started = time.perf_counter()
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        assert time.perf_counter() - started < 15, "Ctrl-C did not stop the fit promptly"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err, err
    fits = cache_dir / "fits"
    assert not fits.exists() or not [n for n in os.listdir(fits) if not n.startswith(".")]
    assert not out.exists()
    # nothing of the process group is left
    alive = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True)
    assert alive.stdout.strip() == b""
