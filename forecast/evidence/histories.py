"""Measured uplift histories as arrays for the uplift model (stage 1 -> 2).

A *history* is one fixed model checkpoint on one task suite: a dated BEFORE score and the
later scores others reached by adding elicitation (shipped and user measurement files,
``elicitation_gains`` with ``backtest: true``). :func:`build_history_table` turns them into
one row per *snapshot*: each later publication date of a series after its first measurement,
with the best score known by then (the running best). Between two snapshots the best either
rose (a record: the logit increment is observed, with its binomial noise) or did not (the
increment of the published best is exactly zero). Scaling groups (one model family, one
setup, several training computes) become consecutive pairs whose logit difference per OOM of
training compute measures the suite's eval slope.

Dates are years since :data:`HISTORY_YEAR_ORIGIN`; durations are months. Pure functions; no
file I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import numpy as np

from forecast.core.schemas.measurements import Measurement, Measurements, Suite
from forecast.evidence.measurements import DAYS_PER_MONTH, SHARE_METRICS

#: Dates in the uplift model are years since this day.
HISTORY_YEAR_ORIGIN = dt.date(2024, 1, 1)
DAYS_PER_YEAR = 365.25
#: Access levels in the order of the model's access effect (0 = prompts only).
ACCESS_LEVEL = {
    "public_api": 0,
    "finetune_api": 1,
    "open_weights": 2,
    "stolen_weights": 2,
    "developer": 2,
}


def years(day: dt.date) -> float:
    return (day - HISTORY_YEAR_ORIGIN).days / DAYS_PER_YEAR


def months_between(start: dt.date, end: dt.date) -> float:
    return (end - start).days / DAYS_PER_MONTH


def logit_of_count(score: float, n: int) -> float:
    """logit of a score of ``n`` tasks, with half a task added to each side (0% and 100%
    stay finite)."""
    p = (score * n + 0.5) / (n + 1.0)
    return float(np.log(p / (1.0 - p)))


def logit_variance(score: float, n: int) -> float:
    """Binomial variance of :func:`logit_of_count` (delta method)."""
    p = (score * n + 0.5) / (n + 1.0)
    return float(1.0 / ((n + 1.0) * p * (1.0 - p)))


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One later publication date of a series, for reports and cross-validation."""

    series: str
    suite: str
    measurement: str  # the AFTER measurement's id
    publisher: str
    start: dt.date  # the previous snapshot (or the baseline)
    end: dt.date
    baseline_date: dt.date
    baseline_score: float
    best_before: float
    best_after: float
    record: bool


@dataclasses.dataclass(frozen=True)
class HistoryTable:
    """Histories and scaling groups as arrays (module docstring).

    Increment arrays have one entry per snapshot; scaling arrays one per consecutive pair
    of a scaling group. Suites are indexed over both (a suite may have both kinds).
    """

    suites: tuple[str, ...]
    series: tuple[str, ...]
    snapshots: tuple[Snapshot, ...]
    inc_suite: np.ndarray  # int
    inc_series: np.ndarray  # int
    inc_y: np.ndarray  # logit increment of the best score (0 when no record)
    inc_v: np.ndarray  # its binomial variance (records), 0 otherwise
    inc_record: np.ndarray  # bool
    inc_months: np.ndarray  # length of the interval
    inc_age: np.ndarray  # model age at its start, months
    inc_year: np.ndarray  # calendar year at its start, years since HISTORY_YEAR_ORIGIN
    inc_elicited: np.ndarray  # categories applied in the state at its start
    inc_access: np.ndarray  # access level of the eliciting party
    scale_suite: np.ndarray  # int
    scale_y: np.ndarray  # logit difference, larger minus smaller model
    scale_v: np.ndarray
    scale_oom: np.ndarray  # log10 of the compute ratio
    scale_labels: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (pair id, reason) of pairs left out

    @property
    def n_increments(self) -> int:
        return len(self.inc_y)

    @property
    def n_scaling(self) -> int:
        return len(self.scale_y)

    @property
    def year_range(self) -> tuple[float, float]:
        """The calendar span the increments cover (start of the first, end of the last)."""
        if not self.n_increments:
            return (0.0, 0.0)
        ends = self.inc_year + self.inc_months / 12.0
        return float(self.inc_year.min()), float(ends.max())

    @property
    def elicited_center(self) -> float:
        return float(self.inc_elicited.mean()) if self.n_increments else 0.0

    def groups(self, by: str) -> np.ndarray:
        """A label per increment for cross-validation: ``suite``, ``publisher`` or ``series``."""
        if by == "suite":
            return np.array([self.suites[i] for i in self.inc_suite])
        if by == "series":
            return np.array([self.series[i] for i in self.inc_series])
        if by == "publisher":
            return np.array([s.publisher or "(unnamed)" for s in self.snapshots])
        raise ValueError(f"unknown grouping {by!r}")

    def digest(self) -> str:
        arrays = {
            f.name: np.asarray(getattr(self, f.name)).tolist()
            for f in dataclasses.fields(self)
            if f.name.startswith(("inc_", "scale_")) and f.name != "scale_labels"
        }
        arrays["suites"] = list(self.suites)
        arrays["series"] = list(self.series)
        return hashlib.sha256(json.dumps(arrays, sort_keys=True).encode()).hexdigest()


def _date(m: Measurement, fallback: dt.date | None = None) -> dt.date | None:
    return m.published or m.measured or fallback


def build_history_table(measurements: Measurements, as_of: dt.date | None = None) -> HistoryTable:
    """Histories and scaling groups of ``measurements`` (merged and checked by
    :func:`forecast.evidence.measurements.load_measurements`), cut at ``as_of``: a figure
    published after it is not seen."""
    suites = {s.id: s for s in measurements.suites}
    by_id = {m.id: m for m in measurements.measurements}
    skipped: list[tuple[str, str]] = []
    points: dict[tuple[str, str], dict[str, tuple]] = {}
    for g in measurements.elicitation_gains:
        if not g.backtest:
            continue
        before, after = by_id[g.before], by_id[g.after]
        reason = _unusable(before, after, suites)
        if g.actor == "developer":
            reason = "the developer's own post-training (a new checkpoint, not later elicitation)"
        if reason:
            skipped.append((g.id, reason))
            continue
        start = g.as_of or _date(before)
        end = _date(after)
        if as_of is not None and (_date(before, start) > as_of or end > as_of):
            continue
        key = (before.base_model or before.model, before.suite)
        series = points.setdefault(key, {})
        series.setdefault(before.id, (start, before.score.point, None, before))
        series[after.id] = (end, after.score.point, g.actor, after)

    suite_ids: list[str] = []
    series_ids: list[str] = []
    rows: list[dict] = []
    snaps: list[Snapshot] = []
    for (model, suite_id), pts in points.items():
        n = suites[suite_id].n_tasks
        ordered = sorted(pts.values(), key=lambda p: (p[0], p[1]))
        base = ordered[0]
        release = base[3].model_date or base[0]
        later: dict[dt.date, tuple] = {}
        for p in ordered[1:]:
            if p[0] > base[0] and (p[0] not in later or p[1] > later[p[0]][1]):
                later[p[0]] = p
        if not later:
            continue
        label = f"{model} | {suite_id}"
        if suite_id not in suite_ids:
            suite_ids.append(suite_id)
        series_ids.append(label)
        best, previous = base, base[0]
        for day in sorted(later):
            p = later[day]
            record = p[1] > best[1]
            y = logit_of_count(p[1], n) - logit_of_count(best[1], n) if record else 0.0
            v = logit_variance(p[1], n) + logit_variance(best[1], n) if record else 0.0
            rows.append(
                dict(
                    suite=suite_ids.index(suite_id),
                    series=len(series_ids) - 1,
                    y=y,
                    v=v,
                    record=record,
                    months=months_between(previous, day),
                    age=max(months_between(release, previous), 0.0),
                    year=years(previous),
                    elicited=len(set(best[3].applied.categories)),
                    access=ACCESS_LEVEL[p[2]],
                )
            )
            snaps.append(
                Snapshot(
                    series=label,
                    suite=suite_id,
                    measurement=p[3].id,
                    publisher=p[3].publisher,
                    start=previous,
                    end=day,
                    baseline_date=base[0],
                    baseline_score=base[1],
                    best_before=best[1],
                    best_after=max(best[1], p[1]),
                    record=record,
                )
            )
            if record:
                best = p
            previous = day

    scale = _scaling_pairs(measurements, by_id, suites, as_of)
    for s in scale:
        if s["suite"] not in suite_ids:
            suite_ids.append(s["suite"])

    def col(key, dtype=float):
        return np.array([r[key] for r in rows], dtype=dtype)

    return HistoryTable(
        suites=tuple(suite_ids),
        series=tuple(series_ids),
        snapshots=tuple(snaps),
        inc_suite=col("suite", int),
        inc_series=col("series", int),
        inc_y=col("y"),
        inc_v=col("v"),
        inc_record=col("record", bool),
        inc_months=col("months"),
        inc_age=col("age"),
        inc_year=col("year"),
        inc_elicited=col("elicited"),
        inc_access=col("access"),
        scale_suite=np.array([suite_ids.index(s["suite"]) for s in scale], dtype=int),
        scale_y=np.array([s["y"] for s in scale], dtype=float),
        scale_v=np.array([s["v"] for s in scale], dtype=float),
        scale_oom=np.array([s["oom"] for s in scale], dtype=float),
        scale_labels=tuple(s["label"] for s in scale),
        skipped=tuple(skipped),
    )


def _unusable(before: Measurement, after: Measurement, suites: dict[str, Suite]) -> str | None:
    """Why a pair cannot enter the histories (None if it can)."""
    if (before.base_model or before.model) != (after.base_model or after.model):
        return f"different models ({before.model!r}, {after.model!r})"
    if before.metric not in SHARE_METRICS:
        return f"metric {before.metric!r} is not a share of tasks solved"
    if before.metric == "pass_at_k" and before.k != after.k:
        return "pass@k with different k"
    if suites[before.suite].n_tasks is None:
        return f"suite {before.suite!r} has no task count"
    if any(m.score is None or m.score.point is None for m in (before, after)):
        return "a score without a point value"
    return None


def _scaling_pairs(
    measurements: Measurements, by_id: dict, suites: dict[str, Suite], as_of: dt.date | None
) -> list[dict]:
    out = []
    for group in measurements.scaling_groups:
        members = [by_id[i] for i in group.measurements]
        if as_of is not None:
            members = [m for m in members if _date(m) is not None and _date(m) <= as_of]
        n = suites[group.suite].n_tasks
        for small, large in zip(members, members[1:], strict=False):
            if n:
                y = logit_of_count(large.score.point, n) - logit_of_count(small.score.point, n)
                v = logit_variance(large.score.point, n) + logit_variance(small.score.point, n)
            else:  # no task count: the logits of the scores, their noise left to scaling_noise
                y = float(np.log(large.score.point / (1 - large.score.point)))
                y -= float(np.log(small.score.point / (1 - small.score.point)))
                v = 0.0
            out.append(
                dict(
                    suite=group.suite,
                    y=y,
                    v=v,
                    oom=float(np.log10(large.base_compute_flop / small.base_compute_flop)),
                    label=f"{group.id}: {small.id} -> {large.id}",
                )
            )
    return out


def elicited_in_range(count: float, table: HistoryTable) -> float:
    """A count of elicitation categories applied, kept within the range the histories'
    starting states measured (the elicitation effect is never extrapolated beyond its
    evidence); unchanged when the table has no increments."""
    if not table.n_increments:
        return float(count)
    lo, hi = float(np.min(table.inc_elicited)), float(np.max(table.inc_elicited))
    return float(np.clip(count, lo, hi))
