"""What every command shares: consoles, options, JSON output and the fit step."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from forecast.errors import DiagnosticsError, InputError

# emoji=False: ":warning:" in a user's title stays text; highlight=False: no colouring guesses.
out = Console(highlight=False, soft_wrap=False, emoji=False)
if not out.is_terminal:  # piped or captured: wide enough for the tables
    out = Console(highlight=False, soft_wrap=False, width=130, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


def shown(value):
    """``value`` (a document of dicts, lists and strings) ready to print with Rich: every
    string has its markup escaped and its control characters shown as escapes, so a
    title like ``oops [/]`` or ``[link=...]`` prints as written and a terminal escape in
    a name is never sent to the terminal. Numbers and other values are unchanged."""
    from rich.markup import escape

    from forecast.errors import printable

    if isinstance(value, str):
        return escape(printable(value, keep_newlines=True))
    if isinstance(value, dict):
        return {shown(k): shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(shown(v) for v in value)
    return value


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
#: forecast draws x tasks of one per-task eval (about 30 bytes each).
MAX_DRAW_TASKS = 10_000_000

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
    int,
    typer.Option(
        "--fit-draws",
        min=10,
        max=MAX_FIT_DRAWS,
        help="NUTS draws per chain (after tuning); chains x draws at most 100,000.",
    ),
]
FitTuneOpt = Annotated[
    int,
    typer.Option("--fit-tune", min=0, max=MAX_FIT_TUNE, help="NUTS tuning steps per chain."),
]
ChainsOpt = Annotated[int, typer.Option("--chains", min=1, max=MAX_CHAINS, help="NUTS chains.")]

DEFAULT_SEED = 20231212

#: Options of every command that fits the model: name -> (Typer annotation, default).
#: :func:`with_fit_options` gives them to a command, which receives them as ``**fit``.
FIT_OPTIONS = {
    "prior": (PriorOpt, None),
    "evidence": (EvidenceOpt, None),
    "no_shipped": (NoShippedOpt, False),
    "strict": (StrictOpt, False),
    "no_cache": (NoCacheOpt, False),
    "quiet": (QuietOpt, False),
    "fit_draws": (FitDrawsOpt, 1000),
    "fit_tune": (FitTuneOpt, 1000),
    "chains": (ChainsOpt, 4),
    "fit_seed": (FitSeedOpt, DEFAULT_SEED),
}


def with_fit_options(command):
    """Append :data:`FIT_OPTIONS` to ``command``'s parameters, so every fitting command has
    all of them (Typer reads the options from the signature set here)."""
    import inspect

    own = inspect.signature(command, eval_str=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    parameters += [
        inspect.Parameter(name, keyword, default=default, annotation=annotation)
        for name, (annotation, default) in FIT_OPTIONS.items()
    ]
    command.__signature__ = own.replace(parameters=parameters)
    return command


def fit_arguments(fit: dict) -> dict:
    """Keyword arguments of ``forecast.api.run_scenario`` (and the functions that pass theirs
    on to it) from the fit options."""
    from forecast.fit import FitSettings

    quiet = fit["quiet"]
    check_fit_size(fit)
    return dict(
        priors=parse_overrides(fit["prior"]),
        evidence=fit["evidence"],
        shipped_evidence=not fit["no_shipped"],
        settings=FitSettings(
            draws=fit["fit_draws"], tune=fit["fit_tune"], chains=fit["chains"], seed=fit["fit_seed"]
        ),
        use_cache=not fit["no_cache"],
        progress=not quiet,
        log=lambda m: note(m, quiet),
    )


def check_fit_size(fit: dict) -> None:
    """Refuse more than :data:`MAX_POSTERIOR_DRAWS` posterior draws (chains x draws)."""
    total = fit["chains"] * fit["fit_draws"]
    if total > MAX_POSTERIOR_DRAWS:
        raise InputError(
            f"--chains {fit['chains']} x --fit-draws {fit['fit_draws']} = {total:,} posterior "
            f"draws, above the limit of {MAX_POSTERIOR_DRAWS:,} (memory and cache size)",
            "--fit-draws",
        )


def emit_json(document) -> None:
    """Write one JSON document to stdout (NaN and inf become null)."""
    from forecast.export import json_text

    sys.stdout.write(json_text(document))
    sys.stdout.flush()


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    from forecast.priors import parse_override

    return dict(parse_override(item) for item in items or [])


def note(message: str, quiet: bool = False) -> None:
    if not quiet:
        err.print(f"[dim]{shown(message)}[/dim]")


def check_work(scenario, horizon: int | None, draws: int | None, fit: dict, copies: int = 1):
    """Refuse, before any work, a forecast too large for the work limits.

    The forecast simulates ``draws`` (default: chains x draws per chain) over every time
    step up to the horizon (and the policies' re-evaluation periods), and compares each
    draw with every task of each per-task eval; ``copies`` counts simulations held at
    once (the prior check holds two). Limits: :data:`MAX_DRAW_STEPS` draws x steps and
    :data:`MAX_DRAW_TASKS` draws x tasks, documented in docs/reliability.md.

    Raises
    ------
    InputError
        Naming the options that size the work and the largest value that fits.
    """
    from forecast.buffer import POLICY_MONTHS
    from forecast.evals import read_task_results
    from forecast.scenarios import load_scenario
    from forecast.simulate import time_grid

    check_fit_size(fit)
    loaded = load_scenario(scenario)
    sc = loaded.scenario
    months = sc.horizon_months if horizon is None else horizon
    steps = len(time_grid(months, sc.step_months, POLICY_MONTHS))
    n = draws if draws is not None else fit["chains"] * fit["fit_draws"]
    what = f"{n:,} draws" + ("" if draws is not None else " (one per posterior draw)")
    option = "--draws" if draws is not None or copies > 1 else "--draws / --fit-draws"
    if n * steps * copies > MAX_DRAW_STEPS:
        most = MAX_DRAW_STEPS // (steps * copies)
        raise InputError(
            f"{what} x {steps} time steps (horizon {months} months)"
            + (f" x {copies} simulations" if copies > 1 else "")
            + f" is above the limit of {MAX_DRAW_STEPS:,}: use at most {most:,} draws at "
            "this horizon, or a shorter --horizon",
            option,
        )
    for spec in sc.evals:
        if spec.tasks_file:
            tasks = len(read_task_results(loaded.resolve(spec.tasks_file)).task_ids)
            if n * tasks > MAX_DRAW_TASKS:
                raise InputError(
                    f"{what} x {tasks:,} tasks of eval {spec.name!r} is above the limit "
                    f"of {MAX_DRAW_TASKS:,}: use at most {MAX_DRAW_TASKS // tasks:,} draws",
                    option,
                )


def check_diagnostics(diagnostics, strict: bool, quiet: bool) -> None:
    """Refuse under --strict, warn otherwise, when the fit fails its checks.

    ``diagnostics`` is a :class:`forecast.diagnostics.Diagnostics` or its ``to_dict()``.
    """
    if isinstance(diagnostics, dict):
        from forecast.diagnostics import Diagnostics

        diagnostics = Diagnostics.from_dict(diagnostics)
    if diagnostics.ok:
        return
    problems = "; ".join(diagnostics.problems)
    if strict:
        raise DiagnosticsError(f"the fit failed its convergence checks: {problems}")
    err.print(
        f"[bold yellow]warning:[/] the fit failed its convergence checks ({problems}); "
        "treat every figure below with caution (use --strict to refuse)."
    )


def require_file(path: Path, what: str = "file") -> Path:
    from forecast.files import exists

    if not exists(path, what):
        raise InputError(f"{what} not found", str(path))
    return path
