"""What every command shares: consoles, options, JSON output and the fit step."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from forecast.errors import DiagnosticsError, InputError

out = Console(highlight=False, soft_wrap=False)
if not out.is_terminal:  # piped or captured: wide enough for the tables
    out = Console(highlight=False, soft_wrap=False, width=130)
err = Console(stderr=True, highlight=False)

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
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Seed of the forecast's random draws (the fit: --fit-seed).")
]
FitSeedOpt = Annotated[int, typer.Option("--fit-seed", help="Seed of the NUTS fit.")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Refit; neither read nor write the cache.")
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 3 if the fit fails diagnostics.")]
FitDrawsOpt = Annotated[
    int, typer.Option("--fit-draws", min=10, help="NUTS draws per chain (after tuning).")
]
FitTuneOpt = Annotated[int, typer.Option("--fit-tune", min=0, help="NUTS tuning steps per chain.")]
ChainsOpt = Annotated[int, typer.Option("--chains", min=1, max=16, help="NUTS chains.")]

MeasurementsOpt = Annotated[
    Path | None,
    typer.Option(
        "--measurements",
        help="Your own measurements file, on top of the shipped ones (for compare_with "
        "and backtests).",
        show_default=False,
    ),
]

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


#: Options of every fitting command that runs a scenario (its evals' ``compare_with`` may
#: name a user's measurements): given by :func:`with_fit_options` to commands that take a
#: ``scenario`` or ``scenarios`` argument.
SCENARIO_OPTIONS = {"measurements": (MeasurementsOpt, None)}


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


def fit_arguments(fit: dict) -> dict:
    """Keyword arguments of ``forecast.api.run_scenario`` (and the functions that pass theirs
    on to it) from the fit options."""
    from forecast.fit import FitSettings

    quiet = fit["quiet"]
    scenario_options = {"measurements": fit["measurements"]} if "measurements" in fit else {}
    return dict(
        **scenario_options,
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
        err.print(f"[dim]{message}[/dim]")


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
