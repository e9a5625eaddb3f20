"""From uplift to evaluation scores (MODEL.md section 4), and RSP-style thresholds.

A score moves on the logit scale: ``logit(p_after) = logit(p_now) + b * U`` with b the
eval's slope (logits per OOM, uncertain). The current state is an aggregate score (with
binomial uncertainty when ``n_tasks`` is given) or per-task results (task_id, successes,
attempts), each task's rate carrying its own binomial (Jeffreys Beta) uncertainty.

Pure numerics apart from :func:`read_task_results`, which reads the CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np

from forecast.errors import InputError
from forecast.files import MAX_CSV_BYTES, MAX_CSV_ROWS, read_text, suggest
from forecast.priors import PriorSet, parse_distribution
from forecast.schemas import EvalSpec

TASK_COLUMNS = ("task_id", "successes", "attempts")
_EPS = 1e-6


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
    seen_columns: set[str] = set()
    for col in header:
        if col and col in seen_columns:
            raise InputError(
                f"column {col[:80]!r} appears twice in the header",
                str(path),
                f"line 1, column {col}",
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
                f"duplicate task_id {task[:80]!r} (first on line {first_line[task]})",
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
                    f"expected a whole number, got {row[col][:40]!r}",
                    str(path),
                    f"line {line}, column {col}",
                ) from None
            if not number.is_integer() or not 0 <= number <= 1e9:
                raise InputError(
                    f"expected a whole number >= 0, got {row[col][:40]!r}",
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


def logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def slope_draws(spec: EvalSpec, priors: PriorSet, n: int, rng: np.random.Generator):
    prior = (
        priors.prior("eval_slope") if spec.slope == "default" else parse_distribution(spec.slope)
    )
    return np.maximum(prior.sample(rng, n), 0.0)


def evaluate(
    spec: EvalSpec,
    tasks: TaskResults | None,
    uplift_oom: np.ndarray,
    slope: np.ndarray,
    confidence: float,
    rng: np.random.Generator,
) -> dict:
    """P(cross) over time and the trigger level for one eval.

    The trigger is the level at which P(cross by the horizon) would equal alpha if the
    current state were known exactly: ``expit(logit(threshold) - q)`` with q the
    ``confidence`` quantile of ``slope * U``. ``triggered_now`` is P(cross) > alpha, which
    also counts the measurement uncertainty of the current state (binomial, per task).

    Parameters
    ----------
    uplift_oom
        (N, T) uplift draws; ``uplift_oom[:, -1]`` is the horizon.
    slope
        (N,) logits per OOM.
    """
    n = uplift_oom.shape[0]
    shift = slope[:, None] * uplift_oom  # (N, T) logits
    alpha = 1.0 - confidence
    shift_q = float(np.quantile(shift[:, -1], confidence))
    if tasks is None:
        return _aggregate(spec, shift, shift_q, alpha, rng, n)
    return _per_task(spec, tasks, shift, shift_q, alpha, rng, n)


def _aggregate(spec, shift, shift_q, alpha, rng, n) -> dict:
    if spec.n_tasks:
        k = spec.score * spec.n_tasks
        now = rng.beta(k + 0.5, spec.n_tasks - k + 0.5, n)
    else:
        now = np.full(n, spec.score)
    after = expit(logit(now)[:, None] + shift)
    p_cross = (after >= spec.threshold).mean(axis=0)
    score_q = np.quantile(after, [0.05, 0.5, 0.95], axis=0)
    trigger = float(expit(logit(spec.threshold) - shift_q))
    return {
        "name": spec.name,
        "kind": "aggregate",
        "current": spec.score,
        "threshold": spec.threshold,
        "p_cross": float(p_cross[-1]),
        "p_cross_over_time": p_cross.tolist(),
        "p_already_met": float((now >= spec.threshold).mean()),
        "score_over_time": {k: score_q[i].tolist() for i, k in enumerate(("q05", "q50", "q95"))},
        "trigger": {
            "score": trigger,
            "triggered_now": bool(p_cross[-1] > alpha),
            "point_estimate_past_trigger": spec.score >= trigger,
            "headroom_logits_at_confidence": shift_q,
        },
    }


def _per_task(spec, tasks: TaskResults, shift, shift_q, alpha, rng, n) -> dict:
    s, a = tasks.successes, tasks.attempts
    rates = rng.beta(s + 0.5, a - s + 0.5, size=(n, len(s)))  # Jeffreys posterior per task
    base = logit(rates)
    # A task passes when expit(base + shift) >= task_pass_rate; compared in logits (expit
    # is monotone), which saves an exp per task, draw and step.
    needed = logit(spec.task_pass_rate) - base  # (N, tasks)
    crossed = np.empty(shift.shape, dtype=bool)
    for t in range(shift.shape[1]):
        passing = shift[:, t : t + 1] >= needed
        crossed[:, t] = passing.mean(axis=1) >= spec.tasks_fraction
    p_cross = crossed.mean(axis=0)
    trigger_rate = float(expit(logit(spec.task_pass_rate) - shift_q))
    observed = tasks.rates
    passing_now_at_trigger = float((observed >= trigger_rate).mean())
    passing_now = float((observed >= spec.task_pass_rate).mean())
    return {
        "name": spec.name,
        "kind": "tasks",
        "tasks_file": tasks.path,
        "n_tasks": len(s),
        "task_pass_rate": spec.task_pass_rate,
        "tasks_fraction": spec.tasks_fraction,
        "current": {
            "fraction_passing": passing_now,
            "fraction_passing_at_trigger_rate": passing_now_at_trigger,
        },
        "p_cross": float(p_cross[-1]),
        "p_cross_over_time": p_cross.tolist(),
        "p_already_met": float(
            ((rates >= spec.task_pass_rate).mean(axis=1) >= spec.tasks_fraction).mean()
        ),
        "trigger": {
            "task_pass_rate": trigger_rate,
            "one_in_n_tries": float(1.0 / trigger_rate),
            "tasks_fraction": spec.tasks_fraction,
            "triggered_now": bool(p_cross[-1] > alpha),
            "point_estimate_past_trigger": passing_now_at_trigger >= spec.tasks_fraction,
            "headroom_logits_at_confidence": shift_q,
        },
    }
