"""Exceptions that carry an exit code for the command line.

The library raises these; the CLI maps them to exit codes (2 bad input, 3 failed
diagnostics under ``--strict``) and prints one located message without a traceback.
"""

from __future__ import annotations


class ForecastError(Exception):
    """Base class for errors the CLI reports without a traceback."""

    exit_code = 1


class InputError(ForecastError):
    """Bad input: a missing or malformed file, a wrong type, a value out of range.

    Parameters
    ----------
    message
        What was expected, in plain words.
    file
        The file the problem is in, if any.
    path
        The field path inside the file, e.g. ``enhancements[2].category``.
    line, column
        1-based position in the file, when known.
    """

    exit_code = 2

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
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        field = f"{self.path}: " if self.path else ""
        return f"{where}{field}{self.message}"


class DiagnosticsError(ForecastError):
    """The fit failed its convergence checks and ``--strict`` was asked for."""

    exit_code = 3
