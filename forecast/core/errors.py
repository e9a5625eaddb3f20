"""Exceptions that carry an exit code for the command line.

The library raises these; the CLI maps them to exit codes (2 bad input, 3 failed
diagnostics under ``--strict``, 1 a fault of the machine or a computation) and prints one
located message without a traceback.

Every part of a message that may come from a user (file names, field paths, values) is
made printable here (:func:`printable`): control characters, line breaks and invisible
formatting characters are shown as escapes, and over-long parts are cut, so a message is
always one line of bounded length whatever the input.
"""

from __future__ import annotations

import unicodedata

#: Longest message part shown (a value echoed in a message is cut to this many characters).
MAX_MESSAGE_CHARS = 2000
MAX_LOCATION_CHARS = 400

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object, limit: int | None = None, keep_newlines: bool = False) -> str:
    """``text`` safe to show on a terminal: one line, no control or invisible characters.

    Control characters (C0, DEL, C1), line and paragraph separators, format characters
    (bidirectional overrides, zero-width spaces) and lone surrogates (undecodable bytes of
    a file name) become backslash escapes; ``keep_newlines`` keeps ``\\n`` and ``\\t``
    (multi-line text in a table). Text longer than ``limit`` characters is cut with
    ``...``.
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if keep_newlines and ch in "\n\t":
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


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


def format_loc(loc: Loc) -> str:
    """``('enhancements', 2, 'category')`` -> ``enhancements[2].category``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
