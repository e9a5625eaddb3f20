"""The ``forecast`` command: a thin layer over :mod:`forecast.api`.

Exit codes: 0 success; 2 bad input or usage; 3 diagnostics failed under ``--strict``;
1 anything else. Errors are one located message on stderr, never a traceback.
"""

from __future__ import annotations

import sys
import warnings

import typer

try:  # Typer >= 0.20 vendors click as typer._click; older versions use click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

from forecast import __version__
from forecast.cli import (
    ceg,
    check,
    checks,
    compare,
    evidence,
    explain,
    priors,
    run,
    scenarios,
)
from forecast.core.errors import ForecastError

app = typer.Typer(
    name="forecast",
    help="Bayesian forecasts of post-training enhancement uplift and safety buffers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(evidence.app, name="evidence")
app.add_typer(priors.app, name="priors")
app.add_typer(scenarios.app, name="scenarios")
app.add_typer(ceg.app, name="ceg")
app.add_typer(explain.profiles_app, name="profiles")
app.add_typer(check.app, name="check")
app.command("run")(run.run)
app.command("explain")(explain.explain)
app.command("compare")(compare.compare)
app.command("export")(compare.export)
app.command("sensitivity")(checks.sensitivity)
app.command("backtest")(checks.backtest)
priors.app.command("check")(checks.priors_check)
priors.app.command("posterior")(priors.posterior)


def _version(value: bool):
    if value:
        print(f"forecast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
):
    """Bayesian forecasts of post-training enhancement uplift and safety buffers."""


def _tolerant_streams() -> None:
    """Never fail on a character the terminal's encoding lacks (``PYTHONIOENCODING=ascii``,
    a Latin-1 terminal, an undecodable file name): replace it instead. Rich draws its
    tables with ASCII when the encoding is not UTF-8."""
    for stream, errors in ((sys.stdout, "replace"), (sys.stderr, "backslashreplace")):
        try:
            stream.reconfigure(errors=errors)
        except (AttributeError, ValueError, OSError):  # not a text stream we can change
            pass


def _show_warnings() -> None:
    """Print :class:`ForecastWarning` as ``warning: ...`` on stderr (the library warns
    once per message and run; call inside ``warnings.catch_warnings``). A numerical
    warning of numpy (an overflow in an intermediate step: every result is checked for NaN
    and infinity before it is shown) is one dim line, and nothing under ``--quiet``."""
    from forecast.cli import common
    from forecast.cli.common import err, shown
    from forecast.core.errors import ForecastWarning
    from forecast.fit import cache

    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RuntimeWarning):
            if not common.QUIET:
                text = f"note: numerical warning ({message}); the results are checked for NaN "
                err.print(f"[dim]{shown(text + 'and infinity', keep_newlines=False)}[/dim]")
        elif issubclass(category, ForecastWarning):
            err.print(
                f"[bold yellow]warning:[/] {shown(str(message), keep_newlines=False)}",
                soft_wrap=True,
            )
        else:
            original(message, category, filename, lineno, file, line)

    cache.reset_warnings()
    warnings.showwarning = show
    warnings.simplefilter("always", ForecastWarning)
    warnings.simplefilter("once", RuntimeWarning)


def _usage_error(exc) -> None:
    """Click's usage message, with the user's text in it made printable."""
    from forecast.core.escape import printable

    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
        if ctx.command.get_help_option(ctx) is not None:
            print(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.", file=sys.stderr)
        print(file=sys.stderr)
    print(f"Error: {printable(exc.format_message(), 2000)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map errors to exit codes."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*BLAS.*")
    _tolerant_streams()
    from forecast.cli import common
    from forecast.cli.common import err

    common.QUIET = False  # until a command says --quiet
    try:
        with warnings.catch_warnings():
            _show_warnings()
            code = app(args=argv, standalone_mode=False)
    except ForecastError as exc:
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click_exceptions.UsageError as exc:
        _usage_error(exc)
        sys.exit(2)
    except click_exceptions.ClickException as exc:
        exc.show(file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _interrupted(err)
    if code == INTERRUPTED:  # Typer turns Ctrl-C into this return code (no command uses it)
        _interrupted(err)
    sys.exit(code if isinstance(code, int) else 0)


#: The exit code of an interrupted run (128 + SIGINT), as Typer reports it.
INTERRUPTED = 130


def _interrupted(err) -> None:
    """Ctrl-C: say so and leave at once (exit code 130). Outputs are written whole or not at
    all, so nothing partial is left; a compile still running in a helper thread (numba's LLVM
    does not look at signals) must not hold the process, hence ``os._exit`` after flushing."""
    import os

    from forecast.cli.common import FitReporter

    FitReporter.stop_all()
    err.print("interrupted: nothing was written")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(INTERRUPTED)
