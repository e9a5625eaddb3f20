"""Exports under concurrent writers, users and edits (issue 22: data loss, wrong content).

Real ``forecast export`` processes served by the shipped fits (conftest's ``warm`` and
``FAKE_FIT``: no sampling, which the sandbox cannot forbid in a subprocess, so the bundles'
provenance is checked for it), paused while their bundle is staged (in the middle of
rendering the report) so that something can happen to the folder meanwhile:

- a second export to the same folder, however it is spelled (relative, absolute, through a
  symbolic link), with or without ``--force``, fails at once with exit 2 and a clear
  message; the first then writes its whole bundle;
- files a user creates in ``--out`` while the bundle is staged are never deleted: the
  export fails with exit 2 and leaves the folder as the user left it (an earlier bundle
  under ``--force`` too);
- ``export --force`` onto a symbolic link to a bundle replaces the bundle at the link's
  target and keeps the link;
- inputs edited, removed, or swapped for a FIFO or a folder while the export runs change
  nothing in its bundle: scenario.yaml and every SHA-256 are what the run read.

The unit properties of the same guarantees (every initial state of the folder, every
intrusion) are in ``tests/core/test_writing.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import FAKE_FIT

FIT = FAKE_FIT
QUICK = ["--quick-sensitivity", "--no-profiles"]

PAUSED_EXPORT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import forecast.report.markdown
    from forecast.cli.app import main

    ready, go = Path(sys.argv[1]), Path(sys.argv[2])
    real = forecast.report.markdown.markdown_report


    def paused(*args, **kwargs):  # inside the staging folder, before it is put in place
        ready.touch()
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return real(*args, **kwargs)


    forecast.report.markdown.markdown_report = paused
    main(sys.argv[3:])
    """
)


def _env(cache_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    return env | {"FORECAST_CACHE_DIR": str(cache_dir), "NO_COLOR": "1"}


class Paused:
    """An export started and held inside its staging folder until :meth:`release`."""

    def __init__(self, folder: Path, cache_dir: Path, argv: list):
        self.ready, self.go = folder / ".ready", folder / ".go"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PAUSED_EXPORT, self.ready, self.go, *map(str, argv)],
            env=_env(cache_dir),
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.proc.communicate()
                pytest.fail(f"the export exited {self.proc.returncode} early:\n{out}\n{err}")
            time.sleep(0.05)

    def release(self) -> tuple[int, str, str]:
        self.go.touch()
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, out, err


def _export(folder: Path, cache_dir: Path, argv: list) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forecast", *map(str, argv)],
        env=_env(cache_dir),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _bundle_complete(folder: Path) -> bool:
    names = set(os.listdir(folder))
    return {"report.md", "report.html", "results.json", "provenance.json"} <= names


def _served_without_sampling(bundle: Path) -> None:
    """The export read the shipped uplift fit and the catalogue fit's summary: a subprocess
    escapes the sandbox's ban on sampling, so a changed fit key would otherwise go unseen
    (and make these tests minutes long)."""
    prov = json.loads((bundle / "provenance.json").read_text())
    assert prov["fit"]["how"] == "shipped", prov["fit"]
    assert prov["catalogue_fit"]["how"] == "summary", prov["catalogue_fit"]


def _left_beside(folder: Path) -> list[str]:
    """Hidden staging folders left next to ``folder``."""
    return [n for n in os.listdir(folder.parent) if n.startswith(f".{folder.name}.")]


def test_a_second_export_to_the_folder_fails_at_once_however_it_is_named(warm, cache_dir):
    """Two exports to one folder used to both exit 0, one bundle silently replacing the
    other; now the second fails at once, before any work, and the first completes."""
    out = warm / "bundle"
    (warm / "link").symlink_to("bundle", target_is_directory=True)
    first = Paused(warm, cache_dir, ["export", "--out", "bundle", *FIT, *QUICK])
    try:
        for spelled in ("bundle", "./bundle", str(out), "link", "sub/../bundle"):
            (warm / "sub").mkdir(exist_ok=True)
            for force in ([], ["--force"]):
                start = time.monotonic()
                second = _export(warm, cache_dir, ["export", "--out", spelled, *force, *FIT])
                assert second.returncode == 2, (spelled, force, second.stderr)
                assert "another forecast command is writing this folder" in second.stderr
                assert "Traceback" not in second.stderr and second.stdout == ""
                assert time.monotonic() - start < 30  # refused before any work
    finally:
        code, stdout, stderr = first.release()
    assert code == 0, stderr
    assert _bundle_complete(out) and _left_beside(out) == []
    _served_without_sampling(out)


@pytest.mark.parametrize(
    ("before", "force", "intrusion"),
    [
        ("empty", False, "draft.txt"),
        ("empty", False, "report.md"),  # even a bundle's name: without --force, never replaced
        ("missing", False, "draft.txt"),
        ("a bundle", True, "draft.txt"),
        ("a bundle", True, "figures/"),
    ],
)
def test_files_made_in_out_while_the_bundle_is_staged_are_never_deleted(
    warm, cache_dir, before, force, intrusion
):
    out = warm / "bundle"
    if before != "missing":
        out.mkdir()
    if before == "a bundle":
        made = _export(warm, cache_dir, ["export", "--out", out, *FIT, *QUICK])
        assert made.returncode == 0, made.stderr
    old = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else {}
    argv = ["export", "--out", out, *FIT, *QUICK] + (["--force"] if force else [])
    paused = Paused(warm, cache_dir, argv)
    out.mkdir(exist_ok=True)
    if intrusion.endswith("/"):
        (out / intrusion).mkdir()
        (out / intrusion / "f.png").write_bytes(b"mine")
    else:
        (out / intrusion).write_bytes(b"my own text")
    code, stdout, stderr = paused.release()
    assert code == 2, stderr
    assert "nothing was replaced" in stderr and "Traceback" not in stderr
    mine = (out / intrusion / "f.png") if intrusion.endswith("/") else out / intrusion
    assert mine.read_bytes() in (b"mine", b"my own text")
    for name, data in old.items():  # an earlier bundle is kept whole
        if name != intrusion:
            assert (out / name).read_bytes() == data
    assert _left_beside(out) == []


def test_force_onto_a_link_replaces_the_bundle_at_its_target(warm, cache_dir):
    """``export --force --out link`` used to replace the link by a folder and leave the old
    bundle at the target."""
    real = warm / "real"
    made = _export(warm, cache_dir, ["export", "--out", real, "--seed", "1", *FIT, *QUICK])
    assert made.returncode == 0, made.stderr
    (warm / "link").symlink_to("real", target_is_directory=True)
    again = _export(
        warm, cache_dir, ["export", "--out", "link", "--force", "--seed", "2", *FIT, *QUICK]
    )
    assert again.returncode == 0, again.stderr
    assert (warm / "link").is_symlink() and os.readlink(warm / "link") == "real"
    assert json.loads((real / "results.json").read_text())["provenance"]["seed"] == 2
    _served_without_sampling(real)
    assert _left_beside(real) == [] and _left_beside(warm / "link") == []
    assert "link" in again.stdout and "\n" not in again.stdout.strip().split(":")[0]


# --------------------------------------------------------------------------- provenance

POLICY = """\
schema_version: 1
name: lab-rule
title: Our rule
publisher: Example Lab
version: "1"
date: 2026-03-01
status: current
verified: true
source: {document: Policy v1, url: https://example.org/p.pdf, section: "4", checked_in: ours}
quotes:
  - {text: We re-run evaluations every 4 months., where: section 4}
reading:
  interpretation: this tool's reading, not the publisher's
  buffer_multiplier: 10
  calendar_months: 4
  crossing: a red line is passed
  notes: as stated
"""
PROFILE = """\
schema_version: 1
name: frozen-trend
title: Frozen trend
description: the date trend frozen past the evidence
extrapolation: {trend: frozen, why: a test}
"""
#: What happens to a user's input while the export renders its report.
CHANGES = ("edited", "removed", "a FIFO", "a folder")


def _change(path: Path, how: str) -> None:
    if how == "edited":
        path.write_bytes(path.read_bytes().replace(b"title:", b"title: EDITED", 1) + b"\n# x\n")
    elif how == "removed":
        path.unlink()
    elif how == "a FIFO":
        path.unlink()
        os.mkfifo(path)
    else:
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("rotation", range(len(CHANGES)))
def test_provenance_holds_what_the_run_read_whatever_happens_to_the_inputs(
    warm, cache_dir, rotation
):
    """The bundle's scenario.yaml and every SHA-256 are those of the bytes the run read:
    inputs edited, removed, swapped for a FIFO (hashing used to block on it forever) or
    for a folder while the export runs change nothing in the bundle."""
    import hashlib
    import shutil

    root = Path(__file__).resolve().parents[2]
    inputs = {
        "scenario": warm / "scenario.yaml",
        "policy": warm / "policy.yaml",
        "profile": warm / "profile.yaml",
        "tasks": warm / "data" / "autonomy-tasks.csv",
    }
    (warm / "data").mkdir()
    shutil.copy(root / "scenarios" / "frontier-api.yaml", inputs["scenario"])
    shutil.copy(root / "scenarios" / "data" / "autonomy-tasks.csv", inputs["tasks"])
    inputs["policy"].write_text(POLICY)
    inputs["profile"].write_text(PROFILE)
    original = {role: hashlib.sha256(p.read_bytes()).hexdigest() for role, p in inputs.items()}
    scenario_bytes = inputs["scenario"].read_bytes()
    argv = ["export", "scenario.yaml", "--out", "bundle", "--policy", "policy.yaml",
            "--profile", "profile.yaml", *FIT, *QUICK]  # fmt: skip
    paused = Paused(warm, cache_dir, argv)
    for k, path in enumerate(inputs.values()):
        _change(path, CHANGES[(k + rotation) % len(CHANGES)])
    start = time.monotonic()
    code, stdout, stderr = paused.release()
    assert code == 0, stderr
    assert time.monotonic() - start < 60
    bundle = warm / "bundle"
    _served_without_sampling(bundle)
    assert (bundle / "scenario.yaml").read_bytes() == scenario_bytes
    prov = json.loads((bundle / "provenance.json").read_text())
    by_path = {Path(r["path"]).name: r for r in prov["inputs"]}
    for role, path in inputs.items():
        record = by_path[path.name]
        assert record["role"] == role and record["sha256"] == original[role], record
    report = (bundle / "report.md").read_text()
    assert "EDITED" not in report and all(h in report for h in original.values())
