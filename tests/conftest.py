"""Shared fixtures: an isolated cache folder and two ways of running the CLI.

``run_cli`` runs ``forecast.cli.app.main`` in-process (fast); ``run_forecast`` runs
``python -m forecast`` in a subprocess (true end to end, about a second each).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: A minimal valid user catalogue: one enhancement with one lower-bound observation.
MINIMAL_CATALOGUE = textwrap.dedent(
    """\
    schema_version: 1
    enhancements:
      - id: my_tool
        name: My tool
        category: tool
        published: 2023-01-01
        access: prompt
        source: "a paper, table 1"
        observations:
          - benchmark: GSM8k
            domain: math
            ceg: {lower: 5}
            where: "table 1"
    """
)


def flat(text: str) -> str:
    """Output with line breaks removed (rich wraps long messages at the console width).

    Use it to find a token without spaces (a file path, a field path) that rich may have
    broken across lines.
    """
    return ANSI.sub("", text).replace("\n", "")


def words(text: str) -> str:
    """Output with every run of whitespace made one space: find a phrase in wrapped text."""
    return " ".join(ANSI.sub("", text).split())


@pytest.fixture(scope="module")
def shared_cache(request, tmp_path_factory) -> Path:
    """A fit cache for every test of a module (one small fit per module). A module that sets
    ``SHARED_CACHE`` to a folder name shares that folder with the other modules that name it
    (the report's modules: one small fit for all of them)."""
    name = getattr(request.module, "SHARED_CACHE", None)
    if name is None:
        return tmp_path_factory.mktemp("cache")
    folder = tmp_path_factory.getbasetemp() / name
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty fit cache, used through ``FORECAST_CACHE_DIR``."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def run_cli(capsys, cache_dir):
    """Run the CLI in-process: ``run_cli(["evidence", "validate", path])``.

    Returns ``(exit_code, stdout, stderr)``. An exception that escapes ``main`` is turned
    into what the interpreter would do with it (a traceback on stderr, exit code 1), so a
    test can assert that no traceback is shown.
    """
    from forecast.cli.app import main

    def run(argv: list[str | os.PathLike]) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before the call
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - mimic the interpreter's top level
            traceback.print_exc(file=sys.stderr)
            code = 1
        captured = capsys.readouterr()
        return code, ANSI.sub("", captured.out), ANSI.sub("", captured.err)

    return run


@pytest.fixture
def run_forecast(cache_dir, tmp_path):
    """Run ``python -m forecast ARGS`` in a subprocess; returns (exit_code, stdout, stderr).

    The console width is left at rich's default for pipes (no ``COLUMNS``), stdin is
    empty, and the cache is the test's own folder.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env["FORECAST_CACHE_DIR"] = str(cache_dir)
    env["NO_COLOR"] = "1"

    def run(*args: str | os.PathLike, timeout: float = 120) -> tuple[int, str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "forecast", *map(str, args)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
            timeout=timeout,
        )
        return proc.returncode, proc.stdout, proc.stderr

    return run


@pytest.fixture
def write_yaml(tmp_path):
    """Write YAML text to ``tmp_path/name`` and return the path."""

    def write(text: str, name: str = "catalogue.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
