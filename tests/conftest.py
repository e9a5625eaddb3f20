"""Shared fixtures: an isolated cache folder and two ways of running the CLI.

``run_cli`` runs ``forecast.cli.app.main`` in-process (fast); ``run_forecast`` runs
``python -m forecast`` in a subprocess (true end to end, about a second each).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import numpy as np
import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def pytest_configure(config):
    """The whole session caches in a folder of its own (fits, kept YAML parses), never in
    the user's cache; a test that needs an empty cache sets its own (``cache_dir``)."""
    import tempfile

    if "FORECAST_CACHE_DIR" not in os.environ:
        os.environ["FORECAST_CACHE_DIR"] = tempfile.mkdtemp(prefix="forecast-tests-")


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


#: A user's measurements: one suite, one model measured before and after an agent scaffold.
USER_MEASUREMENTS = textwrap.dedent(
    """\
    schema_version: 2
    source_document: "Our lab's elicitation log"
    suites:
      - id: lab_cyber_tasks
        name: Lab cyber tasks
        n_tasks: 40
        where: "internal suite v3"
    measurements:
      - id: lab_model_plain
        suite: lab_cyber_tasks
        model: lab-model-v1
        base_model: lab-base-1
        model_date: 2023-05-01
        measured: 2023-05-15
        metric: success_rate
        score: {point: 0.30, plus_minus: 0.07, interval: 0.95}
        applied:
          categories: [prompting]
        where: "log entry 12"
      - id: lab_model_agent
        suite: lab_cyber_tasks
        model: lab-model-v1
        base_model: lab-base-1
        measured: 2024-01-15
        date_precision: month
        metric: success_rate
        score: {point: 0.45, plus_minus: 0.08, interval: 0.95}
        applied:
          categories: [prompting, scaffolding]
        where: "log entry 31"
    elicitation_gains:
      - id: lab_agent_gain
        before: lab_model_plain
        after: lab_model_agent
        added:
          categories: [scaffolding]
          description: "our agent scaffold"
        actor: public_api
        as_of: 2023-06-01
        backtest: true
        where: "log entries 12 and 31"
    """
)


#: A lab's own rule, as a user would write it (docs/policies.md).
LAB_RULE = textwrap.dedent(
    """\
    schema_version: 1
    name: lab-internal-2026
    title: Our lab's elicitation rule
    publisher: Example Lab
    version: "1"
    date: 2026-03-01
    status: current
    verified: true
    source:
      document: Example Lab frontier safety policy, v1
      url: https://example.org/policy.pdf
      section: "4.2"
      checked_in: our internal copy
    quotes:
      - text: We re-run dangerous-capability evaluations every 4 months with a 10x margin.
        where: section 4.2
    reading:
      interpretation: this tool's reading, not the publisher's
      buffer_multiplier: 10
      calendar_months: 4
      crossing: a red-line evaluation is passed
      notes: the stated margin and cadence, taken as they are
    """
)


#: The shape of one draw of each posterior variable (n_enh: enhancements in the catalogue).
SCALARS = (
    "ceg_global_mean",
    "category_spread",
    "enhancement_spread",
    "scale_slope",
    "ceg_trend",
    "composability_within",
    "composability_between",
    "benchmark_spread",
    "observation_noise",
)


def posterior_shapes(n_enh: int, n_cat: int = 5) -> dict[str, tuple[int, ...]]:
    return dict.fromkeys(SCALARS, ()) | {
        "category_mean": (n_cat,),
        "arrival_rate": (n_cat,),
        "ceg_oom": (n_enh,),
    }


#: Plausible values of the uplift model's scalars: (median, log-scale spread) of a LogNormal
#: around the default priors' medians (rate_trend: a Normal(median, spread)).
UPLIFT_FAKE = {
    "catalogue_gain": (1.4, 0.2),
    "event_rate": (0.5, 0.3),
    "rate_decay_months": (24.0, 0.3),
    "rate_trend": (0.0, 0.1),
    "elicitation_effect": (0.3, 0.3),
    "access_effect": (0.3, 0.3),
    "increment_share": (0.2, 0.3),
    "increment_spread": (0.5, 0.2),
    "attention_spread": (0.7, 0.2),
    "eval_slope": (0.8, 0.2),
    "eval_slope_spread": (0.35, 0.2),
    "harness_noise": (0.2, 0.3),
    "scaling_noise": (0.2, 0.3),
}


def fake_uplift_draws(shapes: dict[str, tuple[int, ...]], n: int, seed: int = 3) -> dict:
    """Made-up draws of the uplift model for ``shapes`` (``uplift_model.expected_shapes``):
    every scalar near its default prior's median, ``increment_mean`` their product,
    ``z_suite`` and ``z_series`` standard normal."""
    from forecast.fit.uplift_model import UPLIFT_PRIORS

    rng = np.random.default_rng(seed)
    draws = {}
    for name in UPLIFT_PRIORS:
        median, spread = UPLIFT_FAKE[name]
        if name == "rate_trend":
            draws[name] = rng.normal(median, spread, n)
        else:
            draws[name] = median * np.exp(rng.normal(0.0, spread, n))
    draws["increment_share"] = np.minimum(draws["increment_share"], 0.95)
    draws["increment_mean"] = draws["increment_share"] * draws["catalogue_gain"]
    for name in ("z_suite", "z_series"):
        draws[name] = rng.standard_normal((n, *shapes[name]))
    unknown = set(shapes) - set(draws)
    assert not unknown, f"fake_uplift_draws does not know {sorted(unknown)}"
    return {name: draws[name] for name in shapes}


def fake_posterior(table_or_n_enh, n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Made-up posterior draws with every variable a forecast reads (plausible values).

    Given an EvidenceTable, the variables and shapes of a real catalogue fit of it
    (``model_data.expected_shapes``); given a HistoryTable, those of an uplift model fit
    (``uplift_model.expected_shapes``, :func:`fake_uplift_draws`); given a number of
    enhancements, the generic :func:`posterior_shapes` (for the cache's own checks).
    """
    from forecast.evidence.histories import HistoryTable

    if isinstance(table_or_n_enh, HistoryTable):
        from forecast.fit.uplift_model import expected_shapes as uplift_shapes

        return fake_uplift_draws(uplift_shapes(table_or_n_enh), n, seed)
    from forecast.fit.model_data import expected_shapes

    if isinstance(table_or_n_enh, int):
        shapes, n_enh = posterior_shapes(table_or_n_enh), table_or_n_enh
    else:
        shapes, n_enh = expected_shapes(table_or_n_enh), table_or_n_enh.n_enhancements
    return _fake_catalogue_draws(shapes, n_enh, n, seed)


def _fake_catalogue_draws(shapes, n_enh: int, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    draws = {name: rng.uniform(0.2, 0.6, (n, *shape)) for name, shape in shapes.items()}
    draws["ceg_oom"] = rng.normal(1.0, 0.3, (n, n_enh))
    draws["category_mean"] = rng.normal(1.0, 0.1, (n, 5))
    draws["arrival_rate"] = np.full((n, 5), 1.5)
    draws["scale_slope"] = np.zeros(n)
    draws["ceg_trend"] = np.zeros(n)
    for name, value in (("selection_bias", -0.3), ("arrival_dispersion", 1.0)):
        if name in draws:
            draws[name] = np.full(n, value)
    if "enhancement_compute" in draws:
        draws["enhancement_compute"] = np.zeros((n, n_enh))
    return draws


def fake_spec_draws(spec, n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Made-up draws for a :class:`forecast.fit.engine.ModelSpec` (either model), shaped by
    ``spec.shapes``: what a fake sampler returns."""
    if spec.name == "histories":
        return fake_uplift_draws(spec.shapes, n, seed)
    return _fake_catalogue_draws(spec.shapes, spec.shapes["ceg_oom"][0], n, seed)


#: Diagnostics a fake fit passes with (and one it fails with: bulk ESS below 400).
GOOD_DIAGNOSTICS = (1.001, 900.0, 800.0, 0, 4, 1000)
BAD_DIAGNOSTICS = (1.002, 120.0, 150.0, 0, 2, 150)


def fake_sampler(calls: list | None = None, diagnostics=GOOD_DIAGNOSTICS, seed: int = 3):
    """A stand-in for ``forecast.fit.engine._sample`` (monkeypatch it in): made-up draws for
    the spec (:func:`fake_spec_draws`), stored in the cache like a real fit (draws.npz, a
    posterior.nc of the draws, meta.json with labels, diagnostics and provenance), returned
    as a ``sampled`` Fit. Each call appends
    ``(spec.name, key, priors)`` to ``calls``."""

    def sample(spec, priors, settings, key, use_cache, replace, log, on_progress):
        from forecast.fit import cache
        from forecast.fit.diagnostics import Diagnostics
        from forecast.fit.engine import Fit

        if calls is not None:
            calls.append((spec.name, key, priors))
        n = settings.chains * settings.draws
        draws = fake_spec_draws(spec, n, seed)
        diag = Diagnostics(*diagnostics)
        provenance = {
            "fake": True,
            "model": spec.name,
            "priors": spec.priors_of(priors),
            "settings": dataclasses.asdict(settings),
        }
        labels = {name: list(values) for name, values in spec.labels.items()}
        meta = {"labels": labels, "diagnostics": diag.to_dict(), "provenance": provenance}
        folder = None
        if use_cache:

            def netcdf(tmp):  # as a real fit stores its InferenceData
                from forecast.fit.posterior import write_draws_netcdf

                write_draws_netcdf(draws, tmp / "posterior.nc", {"fake": "true"})

            folder = cache.write_entry(key, draws, meta, extra_writer=netcdf, replace=replace)
        labels = {name: tuple(values) for name, values in spec.labels.items()}
        return Fit(key, draws, labels, diag, provenance, folder, "sampled")

    return sample


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


# --------------------------------------------------------------------------- a warm fake fit

#: Fit options of a run served without sampling: the default settings read the shipped fits
#: (fits/), and :func:`fake_fit` adds a catalogue summary for a user's catalogue.
FAKE_FIT = ["-q"]


def _no_sampling(*args, **kwargs):
    raise AssertionError("sampled")


@pytest.fixture
def sandbox(tmp_path, cache_dir, monkeypatch):
    """``tmp_path`` holds everything a run could touch: inputs, cwd, cache and --out; any
    sampling fails the test."""
    import forecast.fit.engine

    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(forecast.fit.engine, "_sample", _no_sampling)
    assert cache_dir.parent == tmp_path
    return tmp_path


def fake_fit(catalogue_file: Path | None = None, no_shipped: bool = False) -> Path | None:
    """Make a run with :data:`FAKE_FIT` read fits without sampling. The shipped catalogue
    needs nothing (its summary and the uplift fit ship with the package); for
    ``catalogue_file`` (on top of the shipped catalogue, or alone with ``no_shipped``) a
    made-up summary of its catalogue fit is written to the cache, with the default prior of
    ``catalogue_gain``, so the uplift model's shipped fit serves it too. Returns the
    summary's path (None for the shipped catalogue)."""
    if catalogue_file is None and not no_shipped:
        return None
    from forecast.buffer.forecasting import HISTORIES_SETTINGS
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.table import build_table
    from forecast.fit.cache import cache_dir
    from forecast.fit.catalogue import CatalogueSummary, catalogue_spec, write_summary
    from forecast.fit.diagnostics import Diagnostics
    from forecast.fit.engine import FitSettings
    from forecast.inputs.priors import load_priors

    priors = load_priors()
    table = build_table(load_catalogue(catalogue_file, shipped=not no_shipped))
    key = catalogue_spec(table, priors).key(priors, FitSettings(seed=HISTORIES_SETTINGS.seed))
    write_summary(
        CatalogueSummary(
            key,
            str(priors.prior("catalogue_gain")),
            Diagnostics(1.001, 900.0, 800.0, 0, 4, 1500),
            {"fake": True},
        )
    )
    return cache_dir() / "summaries" / f"{key}.json"


@pytest.fixture
def warm(sandbox):
    """The sandbox, where a run with :data:`FAKE_FIT` reads the shipped fits."""
    fake_fit()
    return sandbox


@pytest.fixture
def write_yaml(tmp_path):
    """Write YAML text to ``tmp_path/name`` and return the path."""

    def write(text: str, name: str = "catalogue.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def csv_file(tmp_path):
    """Write CSV text (dedented) to ``tmp_path/name`` and return the path."""

    def write(text: str, name: str = "results.csv"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def uplift_draws(n=2000, t=13, seed=0):
    """(n, t) made-up uplift draws over t months: cumulative exponential steps from 0."""
    rng = np.random.default_rng(seed)
    steps = rng.exponential(0.05, (n, t))
    steps[:, 0] = 0.0
    return np.cumsum(steps, axis=1)
