"""Benchmark results for a CEG estimate (:mod:`forecast.evidence.ceg_estimate`): the CSV.

One row per model and benchmark: ``model``, ``compute_flop``, ``enhanced``, ``score``,
optionally ``benchmark`` and ``higher_is_better`` (:func:`read_results_csv`). Every problem
(a missing column, a bad number, a model listed twice) is an
:class:`~forecast.core.errors.InputError` naming the line and column; :func:`check_rows`
checks rows that come from elsewhere the same way.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.escape import excerpt
from forecast.core.reading import MAX_CSV_BYTES, read_text
from forecast.core.validation import refuse_foreign_header, suggest

REQUIRED_COLUMNS = ("model", "compute_flop", "enhanced", "score")
OPTIONAL_COLUMNS = ("benchmark", "higher_is_better")
DEFAULT_BENCHMARK = "benchmark"

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_EXPECTED_BOOL = "expected true or false (also yes/no or 1/0)"
#: Training compute accepted (any unit: FLOP, PF-days, GPU-hours): every ratio of two
#: computes, and every point estimate, then stays within 10**+-100.
COMPUTE_RANGE = (1e-30, 1e60)
#: Largest magnitude of a benchmark score (squares and sums of scores stay finite).
MAX_ABS_SCORE = 1e12
#: Most data rows in a benchmark results CSV (a paper's table has dozens; the table and the
#: emitted records of 10,000 take a few seconds).
MAX_CSV_ROWS = 10_000


@dataclass(frozen=True)
class Row:
    """One benchmark result.

    Attributes
    ----------
    model
        The model's name (free text).
    compute_flop
        Training compute of the model, in FLOP (any unit works for the ratios, but
        catalogue records need FLOP).
    enhanced
        Whether the post-training enhancement is applied.
    score
        The benchmark result.
    benchmark
        The benchmark's name; one set of estimates per benchmark.
    higher_is_better
        False for perplexity, loss or error rates.
    line
        The line of the row in its CSV file (the header is line 1); 0 if not from a file.
    """

    model: str
    compute_flop: float
    enhanced: bool
    score: float
    benchmark: str = DEFAULT_BENCHMARK
    higher_is_better: bool = True
    line: int = 0


# --------------------------------------------------------------------------- reading


def read_results_csv(path: str | Path) -> list[Row]:
    """Read benchmark results from a CSV file.

    Parameters
    ----------
    path
        A CSV file with a header line. Required columns: ``model``, ``compute_flop``,
        ``enhanced`` (true/false, yes/no or 1/0, any case) and ``score``; optional
        ``benchmark`` (default ``"benchmark"``) and ``higher_is_better`` (default true).
        Column names are matched without regard to case or surrounding spaces; other
        columns are ignored unless they look like a misspelt known column.

    Returns
    -------
    list of Row
        In file order.

    Raises
    ------
    InputError
        For a missing, unreadable or empty file, a missing or misspelt column, a value
        that is not what its column expects, ``higher_is_better`` varying within a
        benchmark, or a benchmark without both enhanced and non-enhanced rows. The
        error names the file, the line (the header is line 1) and the column.
    """
    path = Path(path)
    file = str(path)
    text = read_text(path, "CSV file", MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = _records(reader, file)
    except csv.Error as exc:
        raise InputError(f"not a valid CSV file: {exc}", file, f"line {reader.line_num}") from None

    if not records:
        raise InputError(
            "file is empty: expected a header line naming the columns "
            + ", ".join(REQUIRED_COLUMNS),
            file,
        )
    header_line, header = records[0]
    columns = _columns(header, file, header_line)
    rows: list[Row] = []
    for line, cells in records[1:]:
        rows.append(_row(cells, columns, len(header), file, line))
    if not rows:
        raise InputError("no data rows after the header line", file, f"line {header_line + 1}")
    check_rows(rows, file)
    return rows


def _records(reader, file: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each ends on (at most the header and
    :data:`~forecast.core.reading.MAX_CSV_ROWS` rows)."""
    out = []
    for cells in reader:
        if any(c.strip() for c in cells):
            out.append((reader.line_num, cells))
            if len(out) > MAX_CSV_ROWS + 1:
                raise InputError(
                    f"more than {MAX_CSV_ROWS:,} rows (see the limits in docs/reliability.md)",
                    file,
                    f"line {reader.line_num}",
                )
    return out


def _columns(header: list[str], file: str, line: int) -> dict[str, int]:
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    refuse_foreign_header(header, known, file, "benchmark results CSV")
    names = [h.strip().lower() for h in header]
    columns: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name in columns:
            raise InputError(
                f"column {excerpt(name)} appears twice in the header",
                file,
                f"line {line}, column {name[:40]}",
            )
        columns[name] = i
    unknown = [n for n in columns if n not in known]
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            near = difflib.get_close_matches(name, unknown, n=1, cutoff=0.6)
            hint = f"; the header has {excerpt(near[0])}{suggest(near[0], [name])}" if near else ""
            raise InputError(
                f"required column {name!r} is missing{hint} (the header needs "
                f"{', '.join(REQUIRED_COLUMNS)}; optional {', '.join(OPTIONAL_COLUMNS)})",
                file,
                f"line {line}, column {name}",
            )
    # A near-miss of an optional column would otherwise be silently ignored.
    for name in unknown:
        near = difflib.get_close_matches(name, OPTIONAL_COLUMNS, n=1, cutoff=0.8)
        if near and near[0] not in columns:
            raise InputError(
                f"unknown column {excerpt(name)}{suggest(name, list(OPTIONAL_COLUMNS))}",
                file,
                f"line {line}, column {name[:40]}",
            )
    return columns


def _row(cells: list[str], columns: dict[str, int], width: int, file: str, line: int) -> Row:
    if len(cells) > width:
        raise InputError(
            f"{len(cells)} values but the header names {width} columns", file, f"line {line}"
        )

    def cell(name: str) -> str | None:
        i = columns.get(name)
        if i is None or i >= len(cells):
            return None
        return cells[i].strip()

    def where(name: str) -> str:
        return f"line {line}, column {name}"

    model = cell("model")
    if not model:
        raise InputError("expected a model name, got an empty value", file, where("model"))

    text = cell("compute_flop") or ""
    compute = _number(text)
    lo, hi = COMPUTE_RANGE
    if compute is None or not lo <= compute <= hi:
        got = f"got {excerpt(text)}" if text else "got an empty value"
        raise InputError(
            f"expected a positive number of training FLOP (e.g. 2e24) from {lo:g} to {hi:g}, {got}",
            file,
            where("compute_flop"),
        )

    text = cell("enhanced") or ""
    enhanced = _boolean(text)
    if enhanced is None:
        got = f"got {excerpt(text)}" if text else "got an empty value"
        raise InputError(f"{_EXPECTED_BOOL}, {got}", file, where("enhanced"))

    text = cell("score") or ""
    score = _number(text)
    if score is None or abs(score) > MAX_ABS_SCORE:
        got = f"got {excerpt(text)}" if text else "got an empty value"
        raise InputError(
            f"expected a number (e.g. 52.5) between {-MAX_ABS_SCORE:g} and {MAX_ABS_SCORE:g}, "
            f"{got}",
            file,
            where("score"),
        )

    benchmark = cell("benchmark") or DEFAULT_BENCHMARK
    text = cell("higher_is_better")
    higher = True if not text else _boolean(text)
    if higher is None:
        raise InputError(f"{_EXPECTED_BOOL}, got {excerpt(text)}", file, where("higher_is_better"))
    return Row(model, compute, enhanced, score, benchmark, higher, line)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _boolean(text: str | None) -> bool | None:
    value = (text or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def check_rows(rows: Sequence[Row], file: str | None = None) -> None:
    """Check what :func:`estimate` needs of each benchmark.

    Raises
    ------
    InputError
        If ``higher_is_better`` differs within a benchmark, or a benchmark lacks
        enhanced or non-enhanced rows.
    """
    if not rows:
        raise InputError("no benchmark results given", file)
    for name, group in _by_benchmark(rows).items():
        first = group[0]

        def at(r: Row, column: str) -> str:
            return f"line {r.line}, column {column}" if r.line else f"column {column}"

        for r in group[1:]:
            if r.higher_is_better != first.higher_is_better:
                earlier = f"on line {first.line}" if first.line else "in an earlier row"
                raise InputError(
                    f"benchmark {name!r} has higher_is_better "
                    f"{str(r.higher_is_better).lower()} here but "
                    f"{str(first.higher_is_better).lower()} {earlier}; "
                    "give one value per benchmark",
                    file,
                    at(r, "higher_is_better"),
                )
        if not any(r.enhanced for r in group):
            raise InputError(
                f"benchmark {name!r} has no enhanced rows (enhanced = true): nothing to estimate",
                file,
                at(first, "enhanced"),
            )
        if all(r.enhanced for r in group):
            raise InputError(
                f"benchmark {name!r} has no non-enhanced rows (enhanced = false): no "
                "baseline to compare with",
                file,
                at(first, "enhanced"),
            )


def _by_benchmark(rows: Iterable[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.benchmark, []).append(r)
    return groups
