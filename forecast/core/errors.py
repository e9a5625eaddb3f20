"""Exceptions that carry an exit code for the command line.

The library raises these; the CLI maps them to exit codes (2 bad input, 3 failed
diagnostics under ``--strict``, 1 a fault of the machine or a computation) and prints one
located message without a traceback.

Every part of a message that may come from a user (file names, field paths, values) is
made printable here (:func:`forecast.core.escape.printable`): control characters, line
breaks and invisible formatting characters are shown as escapes, and over-long parts are
cut, so a message is always one line of bounded length whatever the input.
"""

from __future__ import annotations

from forecast.core.escape import printable

#: Longest message part shown (a value echoed in a message is cut to this many characters).
MAX_MESSAGE_CHARS = 2000
MAX_LOCATION_CHARS = 400


class ForecastError(Exception):
    """Base class for errors the CLI reports without a traceback (exit code 1)."""

    exit_code = 1


class LocatedError(ForecastError):
    """An error about a place: a file (with line and column) or an option, and a field.

    Parameters
    ----------
    message
        What was expected, in plain words.
    file
        The file the problem is in (or the option, e.g. ``--out``), if any.
    path
        The field path inside the file, e.g. ``enhancements[2].category``.
    line, column
        1-based position in the file, when known.
    """

    def __init__(
        self,
        message: str,
        file: str | None = None,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ):
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = printable(self.file, MAX_LOCATION_CHARS)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        field = f"{printable(self.path, MAX_LOCATION_CHARS)}: " if self.path else ""
        return f"{where}{field}{printable(self.message, MAX_MESSAGE_CHARS)}"


class InputError(LocatedError):
    """Bad input: a missing or malformed file, a wrong type, a value out of range, an
    output folder that cannot be written (exit code 2)."""

    exit_code = 2


class MachineError(LocatedError):
    """A fault of the machine, not of the input: a full disk, an I/O error (exit code 1)."""

    exit_code = 1


class NumericalError(LocatedError):
    """A computation produced NaN or infinity; nothing is printed or written (exit code 1)."""

    exit_code = 1


class DiagnosticsError(ForecastError):
    """The fit failed its convergence checks and ``--strict`` was asked for."""

    exit_code = 3


class ForecastWarning(UserWarning):
    """Something the user should know that does not stop the run (the CLI prints it once
    as ``warning: ...``), e.g. a cache folder that cannot be written."""


class LocatedValueError(ValueError):
    """A validator's error that points below the field it validates.

    Raise it in a pydantic validator with ``loc`` relative to the validated value, e.g.
    ``LocatedValueError("duplicate name 'x'", (3, "name"))`` from a validator of ``evals``;
    :func:`forecast.core.validation.validate` then reports ``evals[3].name`` at its line.
    """

    def __init__(self, message: str, loc: tuple = ()):
        super().__init__(message)
        self.loc = tuple(loc)


#: Where a value sits in a document: its field path, e.g. ``("enhancements", 2, "category")``.
Loc = tuple[str | int, ...]


def format_loc(loc: Loc, cut: int | None = None) -> str:
    """``('enhancements', 2, 'category')`` -> ``enhancements[2].category``; ``cut`` shortens
    each key to that many characters (a key is text from a file: a message quotes only an
    excerpt of it)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            if cut is not None and len(part) > cut:
                part = part[: cut - 3] + "..."
            out += ("." if out else "") + part
    return out
