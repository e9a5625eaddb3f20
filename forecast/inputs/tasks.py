"""Per-task eval results: the CSV of ``task_id``, ``successes`` and ``attempts``.

Every problem (a missing or repeated column, a bad count, more successes than attempts, a
task listed twice) is an :class:`~forecast.core.errors.InputError` naming the line and
column.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np

from forecast.core.errors import InputError
from forecast.core.escape import excerpt
from forecast.core.reading import MAX_CSV_BYTES, MAX_CSV_ROWS, read_text
from forecast.core.validation import refuse_foreign_header, suggest

TASK_COLUMNS = ("task_id", "successes", "attempts")


@dataclasses.dataclass(frozen=True)
class TaskResults:
    task_ids: tuple[str, ...]
    successes: np.ndarray
    attempts: np.ndarray
    path: str

    @property
    def rates(self) -> np.ndarray:
        return self.successes / self.attempts


def read_task_results(path: str | Path) -> TaskResults:
    """Read a per-task results CSV; every problem is an InputError naming line and column."""
    path = Path(path)
    text = read_text(path, "CSV file", MAX_CSV_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise InputError(f"not a valid CSV file: {exc}", str(path), "line 1") from None
    refuse_foreign_header(header, TASK_COLUMNS, str(path), "per-task results CSV")
    seen_columns: set[str] = set()
    for col in header:
        if col and col in seen_columns:
            raise InputError(
                f"column {excerpt(col)} appears twice in the header",
                str(path),
                f"line 1, column {col[:40]}",
            )
        seen_columns.add(col)
    for col in TASK_COLUMNS:
        if col not in header:
            raise InputError(
                f"missing column {col!r}{suggest(col, header)} (expected columns: "
                f"{', '.join(TASK_COLUMNS)})",
                str(path),
                "line 1",
            )
    ids, successes, attempts = [], [], []
    first_line: dict[str, int] = {}  # task_id -> its line: a linear-time duplicate check
    for line, row in _task_rows(reader, path):
        task = row["task_id"]
        if not task:
            raise InputError("empty task_id", str(path), f"line {line}, column task_id")
        if task in first_line:
            raise InputError(
                f"duplicate task_id {excerpt(task)} (first on line {first_line[task]})",
                str(path),
                f"line {line}, column task_id",
            )
        if len(ids) >= MAX_CSV_ROWS:
            raise InputError(
                f"more than {MAX_CSV_ROWS:,} tasks (see the limits in docs/reliability.md)",
                str(path),
                f"line {line}",
            )
        first_line[task] = line
        values = {}
        for col in ("successes", "attempts"):
            try:
                number = float(row[col])
            except (ValueError, OverflowError):
                raise InputError(
                    f"expected a whole number, got {excerpt(row[col])}",
                    str(path),
                    f"line {line}, column {col}",
                ) from None
            if not number.is_integer() or not 0 <= number <= 1e9:
                raise InputError(
                    f"expected a whole number >= 0, got {excerpt(row[col])}",
                    str(path),
                    f"line {line}, column {col}",
                )
            values[col] = int(number)
        if values["attempts"] == 0 or values["successes"] > values["attempts"]:
            raise InputError(
                f"expected 0 <= successes <= attempts and attempts > 0, got "
                f"{values['successes']} of {values['attempts']}",
                str(path),
                f"line {line}",
            )
        ids.append(task)
        successes.append(values["successes"])
        attempts.append(values["attempts"])
    if not ids:
        raise InputError("no task rows", str(path))
    return TaskResults(tuple(ids), np.array(successes, float), np.array(attempts, float), str(path))


def _task_rows(reader: csv.DictReader, path: Path):
    """(line, row) pairs; the line is where the row ends in the file (1 = the header)."""
    line = reader.line_num
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # at least the line after the last good row
            where = f"line {max(reader.line_num, line + 1)}"
            raise InputError(f"not a valid CSV row: {exc}", str(path), where) from None
        line = reader.line_num
        if "\0extra" in raw:
            raise InputError("more cells than the header has columns", str(path), f"line {line}")
        if any(v is None for v in raw.values()):
            raise InputError("fewer cells than the header has columns", str(path), f"line {line}")
        yield line, {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
