"""What every command shares: consoles, options, JSON output and the fit step."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from forecast.buffer.forecasting import HISTORIES_SETTINGS
from forecast.core.errors import DiagnosticsError, InputError
from forecast.core.escape import terminal
from forecast.fit.engine import FitSettings

#: Console widths used as they are; outside them (``COLUMNS=0``, a one-column pane, a
#: width of millions) the console is this wide.
MIN_WIDTH, MAX_WIDTH, FALLBACK_WIDTH = 20, 1000, 80


def _console(stderr: bool = False) -> Console:
    """A console on stdout or stderr. emoji=False: ":warning:" in a user's title stays text;
    highlight=False: no colouring guesses. Piped or captured stdout is 130 columns (wide
    enough for the tables); an odd width (``COLUMNS=0`` printed nothing at all) is replaced."""
    options = dict(stderr=stderr, highlight=False, emoji=False)
    if not stderr:
        options["soft_wrap"] = False
    console = Console(**options)
    if not stderr and not console.is_terminal:
        return Console(**options, width=130)
    if not MIN_WIDTH <= console.width <= MAX_WIDTH:
        return Console(**options, width=FALLBACK_WIDTH)
    return console


out = _console()
err = _console(stderr=True)


#: ``value`` (a document of dicts, lists and strings) ready to print with Rich: the
#: terminal's escaping rule (:func:`forecast.core.escape.terminal`). ``shown(text,
#: keep_newlines=False)`` for text that must stay on one line.
shown = terminal


def out_folder(text: str) -> Path:
    """``--out``'s value as a path; an empty value is refused (``Path('')`` is the working
    folder: ``--out ''`` used to write there without a word)."""
    if not str(text).strip():
        raise typer.BadParameter("expected a folder, got an empty name")
    return Path(text)


# Options shared by several commands (Typer reads them from the signature).
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]
EvidenceOpt = Annotated[
    Path | None,
    typer.Option(
        "--evidence",
        help="A catalogue file or folder, on top of the shipped one.",
        show_default=False,
    ),
]
NoShippedOpt = Annotated[
    bool, typer.Option("--no-shipped-evidence", help="Use only --evidence, not the shipped one.")
]
PriorOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--prior",
        help="Override a prior: NAME=VALUE, e.g. composability_within='Beta(2,5)' (repeatable).",
        show_default=False,
    ),
]
#: Work limits of the options that size work (docs/reliability.md): each is checked before
#: any work starts, so the largest allowed value still runs in bounded time and memory.
MAX_SEED = 2**32 - 1
MAX_FIT_DRAWS = 50_000
MAX_FIT_TUNE = 50_000
MAX_CHAINS = 16
#: chains x draws per chain: the posterior draws held in memory and in the cache.
MAX_POSTERIOR_DRAWS = 100_000
#: forecast draws x time steps of the simulation (about 200 bytes and 5 microseconds each).
MAX_DRAW_STEPS = 2_500_000
#: forecast draws held at once: each keeps its gains by source for the explanation (about
#: 35 kB a draw for the default scenario: 40,000 draws peak at about 2 GB).
MAX_FORECAST_DRAWS = 40_000
#: forecast draws x tasks of one per-task eval (about 30 bytes each).
MAX_DRAW_TASKS = 10_000_000
#: fits of one simulation-based calibration run (``forecast check sbc``): each is a NUTS fit
#: of a few seconds, so 1,000 fits take about two hours on 2 cores.
MAX_SBC_FITS = 1_000
#: chains x draws per chain of each SBC fit.
MAX_SBC_FIT_DRAWS = 10_000

SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        min=0,
        max=MAX_SEED,
        help="Seed of the forecast's random draws (the fit: --fit-seed).",
    ),
]
FitSeedOpt = Annotated[
    int, typer.Option("--fit-seed", min=0, max=MAX_SEED, help="Seed of the NUTS fit.")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Refit; neither read nor write the cache.")
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 3 if the fit fails diagnostics.")]
FitDrawsOpt = Annotated[
    int | None,
    typer.Option(
        "--fit-draws",
        min=10,
        max=MAX_FIT_DRAWS,
        help="NUTS draws per chain after tuning (default: 2,500 for the uplift model, 1,500 "
        "for the catalogue model); chains x draws at most 100,000.",
        show_default=False,
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="An assumption profile: central, cautious, optimistic or a profile file "
        "(docs/profiles.md).",
        show_default=False,
    ),
]
TrendOpt = Annotated[
    str | None,
    typer.Option(
        "--trend",
        help="Calendar trend of the rate of improvements past the histories' dates: frozen, "
        "damped or linear (default: the scenario's, frozen unless it says).",
        show_default=False,
    ),
]
FitTuneOpt = Annotated[
    int | None,
    typer.Option(
        "--fit-tune",
        min=0,
        max=MAX_FIT_TUNE,
        help="NUTS tuning steps per chain (default: 2,000 for the uplift model, 1,000 for the "
        "catalogue model).",
        show_default=False,
    ),
]
ChainsOpt = Annotated[int, typer.Option("--chains", min=1, max=MAX_CHAINS, help="NUTS chains.")]
TargetAcceptOpt = Annotated[
    float | None,
    typer.Option(
        "--target-accept",
        min=0.5,
        max=0.999,
        help="NUTS target acceptance rate (default: 0.95 for the uplift model, 0.9 for the "
        "catalogue model); higher takes smaller steps (fewer divergences, slower).",
        show_default=False,
    ),
]

MeasurementsOpt = Annotated[
    Path | None,
    typer.Option(
        "--measurements",
        help="Your own measurements file, on top of the shipped ones (for compare_with "
        "and backtests).",
        show_default=False,
    ),
]

_FIT = FitSettings()
DEFAULT_SEED = _FIT.seed

#: Options of every command that fits the model: name -> (Typer annotation, default).
#: :func:`with_fit_options` gives them to a command, which receives them as ``**fit``.
FIT_OPTIONS = {
    "prior": (PriorOpt, None),
    "evidence": (EvidenceOpt, None),
    "no_shipped": (NoShippedOpt, False),
    "strict": (StrictOpt, False),
    "no_cache": (NoCacheOpt, False),
    "quiet": (QuietOpt, False),
    "fit_draws": (FitDrawsOpt, None),
    "fit_tune": (FitTuneOpt, None),
    "chains": (ChainsOpt, _FIT.chains),
    "target_accept": (TargetAcceptOpt, None),
    "fit_seed": (FitSeedOpt, _FIT.seed),
}


#: Options of every fitting command that runs a scenario (its evals' ``compare_with`` may
#: name a user's measurements): given by :func:`with_fit_options` to commands that take a
#: ``scenario`` or ``scenarios`` argument.
SCENARIO_OPTIONS = {
    "measurements": (MeasurementsOpt, None),
    "profile": (ProfileOpt, None),
    "trend": (TrendOpt, None),
}


def with_fit_options(command):
    """Append :data:`FIT_OPTIONS` to ``command``'s parameters, so every fitting command has
    all of them, and :data:`SCENARIO_OPTIONS` when it runs scenarios (Typer reads the
    options from the signature set here)."""
    import inspect

    own = inspect.signature(command, eval_str=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    options = dict(FIT_OPTIONS)
    if {"scenario", "scenarios"} & set(own.parameters):
        options |= SCENARIO_OPTIONS
    parameters += [
        inspect.Parameter(name, keyword, default=default, annotation=annotation)
        for name, (annotation, default) in options.items()
    ]
    command.__signature__ = own.replace(parameters=parameters)
    return command


#: ``--quiet`` of the running command (set by :func:`fit_arguments`): numerical warnings are
#: not shown then (``forecast.cli.app``).
QUIET = False


def holds_out_lock(command):
    """Run ``command`` holding the lock of its ``--out`` folder
    (:func:`forecast.core.destinations.output_lock`): a second command writing the same
    folder fails at once, before any work, instead of replacing a bundle that was reported
    written."""
    import functools

    @functools.wraps(command)
    def locked(*args, **kwargs):
        from forecast.core.destinations import output_lock

        with output_lock(kwargs["out"]):
            return command(*args, **kwargs)

    return locked


def fit_arguments(fit: dict) -> dict:
    """Keyword arguments of ``forecast.api.run_scenario`` (and the functions that pass theirs
    on to it) from the fit options (and the scenario options, where the command has them)."""
    global QUIET
    quiet = QUIET = fit["quiet"]
    check_fit_size(fit)
    reporter = FitReporter(quiet)
    scenario_options = {
        key: fit[option]
        for key, option in (
            ("measurements", "measurements"),
            ("profile", "profile"),
            ("trend_mode", "trend"),
        )
        if option in fit
    }
    return dict(
        **scenario_options,
        priors=parse_overrides(fit["prior"]),
        evidence=fit["evidence"],
        shipped_evidence=not fit["no_shipped"],
        settings=model_settings(fit, HISTORIES_SETTINGS),
        use_cache=not fit["no_cache"],
        log=reporter.log,
        on_progress=None if quiet else reporter.progress,
    )


def evidence_fit(fit: dict, catalogue=None):
    """The fit of the catalogue the fit options name (or of ``catalogue``, already loaded
    from them) under the default priors and the command's ``--prior`` overrides, cached or
    new, with its diagnostics checked. Reads no scenario (for the commands about the
    evidence alone). Returns :class:`forecast.fit.catalogue.FittedEvidence`."""
    from forecast import api
    from forecast.evidence.catalogue import load_catalogue
    from forecast.inputs.priors import fixed_value

    arguments = fit_arguments(fit)
    priors = api.load_priors()
    if arguments["priors"]:
        priors = priors.with_overrides(arguments["priors"])
    fixed_value(priors, "noise_dof")  # as a run checks it, before any fit
    if catalogue is None:
        catalogue = load_catalogue(arguments["evidence"], shipped=arguments["shipped_evidence"])
    fitted = api.fit_evidence(
        catalogue,
        priors,
        settings=model_settings(fit, FitSettings()),
        use_cache=arguments["use_cache"],
        log=arguments["log"],
        on_progress=arguments["on_progress"],
    )
    check_diagnostics(fitted.fit.diagnostics, fit["strict"], fit["quiet"])
    return fitted


def histories_fit(fit: dict, fitted, measurements=None):
    """The uplift model's fit to the shipped histories (and ``measurements``, a user's file)
    under the command's priors, with ``catalogue_gain`` from the catalogue fit ``fitted``;
    diagnostics checked. Returns ``(Fit, PriorSet)``: the fit and the priors it used."""
    from forecast.buffer.forecasting import histories_priors
    from forecast.evidence.histories import build_history_table
    from forecast.evidence.measurements import load_measurements
    from forecast.fit.histories import fit_histories

    arguments = fit_arguments(fit)
    priors = histories_priors(fitted.priors, fitted)
    table = build_history_table(load_measurements(measurements, catalogue=fitted.catalogue))
    result = fit_histories(
        table,
        priors,
        arguments["settings"],
        use_cache=arguments["use_cache"],
        log=arguments["log"],
        on_progress=arguments["on_progress"],
    )
    check_diagnostics(result.diagnostics, fit["strict"], fit["quiet"], "the uplift model")
    return result, priors


def model_settings(fit: dict, base: FitSettings) -> FitSettings:
    """``base`` (a model's default sampler settings) with the fit options the user gave."""
    given = {
        key: fit[option]
        for key, option in (
            ("draws", "fit_draws"),
            ("tune", "fit_tune"),
            ("chains", "chains"),
            ("seed", "fit_seed"),
            ("target_accept", "target_accept"),
        )
        if fit.get(option) is not None
    }
    return dataclasses.replace(base, **given)


def check_fit_size(fit: dict) -> None:
    """Refuse more than :data:`MAX_POSTERIOR_DRAWS` posterior draws (chains x draws)."""
    draws = fit["fit_draws"] if fit["fit_draws"] is not None else HISTORIES_SETTINGS.draws
    total = fit["chains"] * draws
    if total > MAX_POSTERIOR_DRAWS:
        raise InputError(
            f"--chains {fit['chains']} x --fit-draws {draws} = {total:,} posterior "
            f"draws, above the limit of {MAX_POSTERIOR_DRAWS:,} (memory and cache size)",
            "--fit-draws",
        )


class FitReporter:
    """What a fit shows on stderr: a line before (why, about how long), a progress bar in
    the tool's style while sampling, a line after (time, diagnostics verdict). Silent
    under ``--quiet``; never on stdout, so ``--json`` stays clean."""

    active: list[FitReporter] = []

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._progress = None
        self._task = None

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self._progress is not None and "fitted in" in message:
            self.stop()
        err.print(f"[dim]{shown(message, keep_newlines=False)}[/dim]")

    def progress(self, done: int, total: int) -> None:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[dim]sampling (NUTS, tuning included)[/dim]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("draws"),
                TimeElapsedColumn(),
                TextColumn("[dim]left[/dim]"),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("fit", total=total)
            FitReporter.active.append(self)
        self._progress.update(self._task, completed=done, total=total)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            if self in FitReporter.active:
                FitReporter.active.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for reporter in list(cls.active):
            reporter.stop()


def emit_json(document) -> None:
    """Write one JSON document to stdout (NaN and inf become null)."""
    from forecast.report.results import json_text

    sys.stdout.write(json_text(document))
    sys.stdout.flush()


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    from forecast.inputs.priors import parse_override

    return dict(parse_override(item) for item in items or [])


def note(message: str, quiet: bool = False) -> None:
    if not quiet:
        err.print(f"[dim]{shown(message, keep_newlines=False)}[/dim]")


def check_work(inputs, draws: int | None, fit: dict, copies: int = 1) -> None:
    """Refuse, before any work, a forecast too large for the work limits.

    The forecast simulates ``draws`` (default: chains x draws per chain) over every time
    step up to the horizon (and the policies' re-evaluation periods), and compares each
    draw with every task of each per-task eval; ``copies`` counts simulations held at
    once (the prior check holds two). Limits: :data:`MAX_FORECAST_DRAWS` draws,
    :data:`MAX_DRAW_STEPS` draws x steps and :data:`MAX_DRAW_TASKS` draws x tasks,
    documented in docs/reliability.md.

    Raises
    ------
    InputError
        Naming the options that size the work and the largest value that fits.
    """
    from forecast.inputs.policies import policy_months
    from forecast.simulate.setup import time_grid

    check_fit_size(fit)
    sc = inputs.scenario
    months = sc.horizon_months
    steps = len(time_grid(months, sc.step_months, policy_months(inputs.policies)))
    from forecast.buffer.forecasting import DEFAULT_DRAWS

    n = draws if draws is not None else DEFAULT_DRAWS
    what = f"{n:,} draws" + ("" if draws is not None else " (the default)")
    option = "--draws"
    if n * copies > MAX_FORECAST_DRAWS:
        raise InputError(
            f"{what}"
            + (f" x {copies} simulations" if copies > 1 else "")
            + f" is above the limit of {MAX_FORECAST_DRAWS:,} forecast draws held at once "
            f"(memory): use --draws {MAX_FORECAST_DRAWS // copies:,} or fewer",
            option,
        )
    if n * steps * copies > MAX_DRAW_STEPS:
        most = MAX_DRAW_STEPS // (steps * copies)
        raise InputError(
            f"{what} x {steps} time steps (horizon {months} months)"
            + (f" x {copies} simulations" if copies > 1 else "")
            + f" is above the limit of {MAX_DRAW_STEPS:,}: use at most {most:,} draws at "
            "this horizon, or a shorter --horizon",
            option,
        )
    for spec, tasks in zip(sc.evals, inputs.tasks, strict=True):
        if tasks is not None and n * len(tasks.task_ids) > MAX_DRAW_TASKS:
            count = len(tasks.task_ids)
            raise InputError(
                f"{what} x {count:,} tasks of eval {spec.name!r} is above the limit "
                f"of {MAX_DRAW_TASKS:,}: use at most {MAX_DRAW_TASKS // count:,} draws",
                option,
            )


def forecast_with_options(scenario, *, draws=None, seed=0, copies=1, fit: dict, **resolve_options):
    """Resolve a scenario with the command's options, check the work it sizes, and forecast
    it (diagnostics checked, refused under --strict): what every forecasting command does."""
    from forecast import api

    arguments = fit_arguments(fit)
    run_options = {k: arguments.pop(k) for k in ("settings", "use_cache", "log", "on_progress")}
    inputs = api.resolve(scenario, **resolve_options, **arguments)
    check_work(inputs, draws, fit, copies)
    print_warnings(inputs.warnings)
    from forecast.core.errors import InputError as _InputError
    from forecast.inputs.priors import blame_prior

    try:
        result = api.forecast(inputs, seed=seed, draws=draws, **run_options)
    except _InputError as exc:  # a limit met in the simulation: blame the prior's origin
        raise blame_prior(exc, inputs.priors) from None
    check_diagnostics(
        result.fits.histories.diagnostics, fit["strict"], fit["quiet"], "the uplift model"
    )
    check_diagnostics(result.fitted.diagnostics, fit["strict"], fit["quiet"], "the catalogue model")
    return result


def print_warnings(messages) -> None:
    """Each of a run's warnings (:attr:`forecast.inputs.resolve.RunInputs.warnings`) on stderr, also
    under --quiet: they qualify the numbers, as a failed diagnostic does."""
    for message in messages:
        err.print(f"[bold yellow]warning:[/] {shown(message, keep_newlines=False)}", soft_wrap=True)


def check_diagnostics(diagnostics, strict: bool, quiet: bool, model: str = "") -> None:
    """Refuse under --strict, warn otherwise, when a fit fails its checks, saying which
    check failed and what to try.

    ``diagnostics`` is a :class:`forecast.fit.diagnostics.Diagnostics` or its ``to_dict()``;
    ``model`` names the fit (``the uplift model``, ``the catalogue model``).
    """
    if isinstance(diagnostics, dict):
        from forecast.fit.diagnostics import Diagnostics

        diagnostics = Diagnostics.from_dict(diagnostics)
    if diagnostics.ok:
        return
    problems = "; ".join(diagnostics.problems)
    which = f"the fit of {model}" if model else "the fit"
    remedy = remedy_text(diagnostics)
    if strict:
        raise DiagnosticsError(f"{which} failed its convergence checks: {problems}. {remedy}")
    err.print(
        f"[bold yellow]warning:[/] {which} failed its convergence checks ({problems}); "
        f"treat every figure below with caution (use --strict to refuse). {remedy}",
        soft_wrap=True,
    )


def remedy_text(diagnostics) -> str:
    """What to try when a fit fails its checks, with the exact options (a failed fit is kept
    apart from good ones in the cache: a run with other settings refits)."""
    tries = [
        f"more tuning and draws (--fit-tune 3000 --fit-draws {max(2 * diagnostics.draws, 3000)})",
        "another fit seed (--fit-seed 1)",
    ]
    if diagnostics.divergences:
        tries.insert(0, "a higher acceptance target (--target-accept 0.98)")
    return "To try: " + "; or ".join(tries) + "."


def require_file(path: Path, what: str = "file") -> Path:
    from forecast.core.reading import exists

    if not exists(path, what):
        raise InputError(f"{what} not found", str(path))
    return path
