"""Measurements: a fixed model's score before and after later elicitation, and scaling groups.

The shipped files (:data:`SHIPPED_MEASUREMENTS`, in load order) are ``priors/measurements.yaml``
(transcribed from the seeds), ``priors/measurements-outside-seeds.yaml`` (later primary
sources), the measured histories in ``priors/histories/`` and the eval-slope groups in
``priors/eval-slopes.yaml``; a user's file (``--measurements FILE``) is added on top. Ids must
be unique across all of them: a user's file adds records, it does not replace shipped ones, and
a later file may name an earlier file's suites and measurements. The format is documented in
docs/catalogue.md ("Measurements").

:func:`backtest_pairs` lists the elicitation gains a backtest can use, each with everything
a forecast from the BEFORE state needs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.reading import YamlDocument, exists, read_yaml
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.measurements import (
    Applied,
    ElicitationGain,
    Measurement,
    Measurements,
    Suite,
)
from forecast.core.validation import locate, suggest, validate

#: The shipped measurement files (under ``priors/``), in load order: the seeds, later primary
#: sources, the measured histories (a later file names an earlier file's records), the
#: eval-slope groups.
SHIPPED_MEASUREMENTS = (
    "measurements.yaml",
    "measurements-outside-seeds.yaml",
    "histories/coding-agents.yaml",
    "histories/math-reasoning.yaml",
    "histories/web-os-agents.yaml",
    "histories/aider-leaderboards.yaml",
    "histories/github-leaderboards.yaml",
    "eval-slopes.yaml",
)
DAYS_PER_MONTH = 30.44
#: Metrics whose scores are shares of tasks solved (they move on the logit scale).
SHARE_METRICS = ("success_rate", "pass_at_k")

_SECTIONS = ("suites", "measurements", "elicitation_gains", "scaling_groups")


def shipped_measurement_paths() -> list[Path]:
    """Every shipped measurements file present, in load order."""
    folder = data_dir("priors")
    return [folder / name for name in SHIPPED_MEASUREMENTS if (folder / name).is_file()]


def _read(path: Path) -> tuple[Measurements, YamlDocument]:
    doc = read_yaml(path)
    return validate(Measurements, doc, "measurements file"), doc


def load_measurements(
    extra: str | Path | None = None,
    shipped: bool = True,
    catalogue: Catalogue | None = None,
) -> Measurements:
    """The shipped measurements with a user's file on top, checked as one set.

    Parameters
    ----------
    extra
        A user's measurements file (``--measurements``), or None.
    shipped
        Include the shipped files.
    catalogue
        When given, every enhancement id that the user's file names in ``applied`` or
        ``added`` must be in it (the shipped files are checked against the shipped
        catalogue by the tests, so a replaced catalogue does not break them).

    Raises
    ------
    InputError
        For a missing or malformed file, a duplicate id (located in the later file), a
        reference to an unknown suite, measurement or enhancement, or a pair whose two
        measurements do not describe one fixed model.
    """
    parts: list[tuple[Measurements, YamlDocument]] = []
    if shipped:
        parts.extend(_read(p) for p in shipped_measurement_paths())
    if extra is not None:
        extra = Path(extra)
        if not exists(extra, "measurements file"):
            raise InputError("measurements file not found", str(extra))
        if extra.is_dir():
            raise InputError("is a folder; expected a measurements .yaml file", str(extra))
        parts.append(_read(extra))
    n_shipped = len(parts) - (extra is not None)
    _check_unique(parts)
    merged = Measurements(
        schema_version=2,
        source_document="; ".join(m.source_document for m, _ in parts if m.source_document),
        suites=[s for m, _ in parts for s in m.suites],
        measurements=[x for m, _ in parts for x in m.measurements],
        elicitation_gains=[g for m, _ in parts for g in m.elicitation_gains],
        scaling_groups=[g for m, _ in parts for g in m.scaling_groups],
    )
    _check_references(parts, merged, catalogue, n_shipped)
    return merged


def measurement_error(
    mid: str, field: str, message: str, extra: str | Path | None = None
) -> InputError:
    """A problem with measurement ``mid``'s ``field``, found after loading (a backtest's
    date too far ahead), located at that field in the file that holds it (the shipped
    files, then ``extra``)."""
    paths = [*shipped_measurement_paths(), *([Path(extra)] if extra is not None else [])]
    for path in paths:
        data, doc = _read(path)
        for i, m in enumerate(data.measurements):
            if m.id == mid:
                return locate(doc, ("measurements", i, field), message)
    return InputError(message, None, f"measurement {mid}.{field}")


def _check_unique(parts: list[tuple[Measurements, YamlDocument]]) -> None:
    """Ids are unique per section across every file; the later use is the error."""
    for section in _SECTIONS:
        first: dict[str, tuple[str, int]] = {}
        for data, doc in parts:
            for i, record in enumerate(getattr(data, section)):
                if record.id in first:
                    where, j = first[record.id]
                    raise locate(
                        doc,
                        (section, i, "id"),
                        f"duplicate id {record.id!r} (already {section}[{j}] in {where}); "
                        "a measurements file adds records, it cannot replace one: pick a new id",
                    )
                first[record.id] = (doc.path, i)


def _check_references(
    parts: list[tuple[Measurements, YamlDocument]],
    merged: Measurements,
    catalogue: Catalogue | None,
    n_shipped: int,
) -> None:
    suites = [s.id for s in merged.suites]
    by_id = {m.id: m for m in merged.measurements}
    enhancement_ids = [e.id for e in catalogue.enhancements] if catalogue else None
    shipped_docs = [doc for _, doc in parts[:n_shipped]]

    def check_applied(doc: YamlDocument, loc: tuple, applied: Applied) -> None:
        if enhancement_ids is None or any(doc is d for d in shipped_docs):
            return
        for j, name in enumerate(applied.enhancements):
            if name not in enhancement_ids:
                raise locate(
                    doc,
                    (*loc, "enhancements", j),
                    f"unknown enhancement {name!r}{suggest(name, enhancement_ids)}",
                )

    for data, doc in parts:
        for i, m in enumerate(data.measurements):
            if m.suite not in suites:
                raise locate(
                    doc,
                    ("measurements", i, "suite"),
                    f"unknown suite {m.suite!r}{suggest(m.suite, suites)}",
                )
            check_applied(doc, ("measurements", i, "applied"), m.applied)
        for i, g in enumerate(data.elicitation_gains):
            for end in ("before", "after"):
                mid = getattr(g, end)
                if mid not in by_id:
                    raise locate(
                        doc,
                        ("elicitation_gains", i, end),
                        f"unknown measurement {mid!r}{suggest(mid, list(by_id))}",
                    )
            check_applied(doc, ("elicitation_gains", i, "added"), g.added)
            problem = _pair_problem(g, by_id[g.before], by_id[g.after])
            if problem:
                raise locate(doc, ("elicitation_gains", i, problem[0]), problem[1])
        for i, group in enumerate(data.scaling_groups):
            problem = _group_problem(group, by_id, suites)
            if problem:
                raise locate(doc, ("scaling_groups", i, *problem[0]), problem[1])


def _group_problem(group, by_id: dict, suites: list[str]) -> tuple[tuple, str] | None:
    """(field path, message) when a scaling group is not one suite at rising compute."""
    if group.suite not in suites:
        return ("suite",), f"unknown suite {group.suite!r}{suggest(group.suite, suites)}"
    previous = None
    for j, mid in enumerate(group.measurements):
        where = ("measurements", j)
        if mid not in by_id:
            return where, f"unknown measurement {mid!r}{suggest(mid, list(by_id))}"
        m = by_id[mid]
        if m.suite != group.suite:
            return where, f"{mid!r} is on suite {m.suite!r}, the group on {group.suite!r}"
        if m.metric not in SHARE_METRICS:
            return where, f"{mid!r} is a {m.metric}; a scaling group needs shares of tasks solved"
        if m.score is None or m.score.point is None:
            return where, f"{mid!r} has no point score"
        if m.base_compute_flop is None:
            return where, f"{mid!r} has no base_compute_flop"
        if previous is not None and m.base_compute_flop <= previous:
            return where, (
                f"{mid!r} ({m.base_compute_flop:.3g} FLOP) must have more training compute "
                f"than the member before it ({previous:.3g} FLOP): list them smallest first"
            )
        previous = m.base_compute_flop
    return None


def _pair_problem(
    gain: ElicitationGain, before: Measurement, after: Measurement
) -> tuple[str, str] | None:
    """(field, message) when the pair is not one fixed model measured twice comparably."""
    if before.suite != after.suite:
        return "after", f"'before' is on suite {before.suite!r} and 'after' on {after.suite!r}"
    if before.metric != after.metric:
        return "after", f"'before' is a {before.metric} and 'after' a {after.metric}"
    if (before.base_model or "") != (after.base_model or ""):
        return "after", (
            f"'before' and 'after' have different base models ({before.base_model!r}, "
            f"{after.base_model!r}): a pair measures one fixed pre-trained model"
        )
    if not gain.backtest:
        return None
    if any(m.score is None or m.score.point is None for m in (before, after)):
        return "backtest", "'backtest: true' needs a point score on both measurements"
    if after.measured is None:
        return "backtest", "'backtest: true' needs the 'after' measurement's date"
    if after.measured <= gain.as_of:
        return "as_of", (
            f"'as_of' ({gain.as_of}) must be before the 'after' measurement "
            f"({after.measured}) for a backtest: no time elapses"
        )
    return None


# --------------------------------------------------------------------------- backtests


@dataclasses.dataclass(frozen=True)
class BacktestPair:
    """One elicitation gain a backtest can use: forecast from ``before`` at ``as_of``,
    compare with ``after`` ``months`` later.

    ``elicited`` is what the BEFORE state already had (nothing it holds adds uplift);
    ``added`` is what the later elicitation added; ``actor`` the access it needed.
    """

    id: str
    before: Measurement
    after: Measurement
    suite: Suite
    as_of: dt.date
    target_date: dt.date
    months: float
    actor: str
    elicited: Applied
    added: Applied
    base_model: str | None
    base_compute_flop: float | None
    n_tasks: int | None
    gain: ElicitationGain

    @property
    def before_score(self) -> float:
        return self.before.score.point

    @property
    def after_score(self) -> float:
        return self.after.score.point


def backtest_pairs(measurements: Measurements) -> list[BacktestPair]:
    """Every pair marked ``backtest: true``, in file order, with what a forecast needs.

    ``months`` runs from ``as_of`` to the AFTER measurement's date; check
    ``after.date_precision`` before reading much into it.
    """
    suites = {s.id: s for s in measurements.suites}
    by_id = {m.id: m for m in measurements.measurements}
    out = []
    for g in measurements.elicitation_gains:
        if not g.backtest:
            continue
        before, after = by_id[g.before], by_id[g.after]
        out.append(
            BacktestPair(
                id=g.id,
                before=before,
                after=after,
                suite=suites[before.suite],
                as_of=g.as_of,
                target_date=after.measured,
                months=(after.measured - g.as_of).days / DAYS_PER_MONTH,
                actor=g.actor,
                elicited=before.applied,
                added=g.added,
                base_model=before.base_model,
                base_compute_flop=before.base_compute_flop or after.base_compute_flop,
                n_tasks=suites[before.suite].n_tasks,
                gain=g,
            )
        )
    return out


def measurement_rows(measurements: Measurements) -> dict:
    """The measurements as plain data (``forecast evidence measurements --json``)."""

    def score(m: Measurement) -> dict | None:
        if m.score is None:
            return None
        return m.score.model_dump(exclude_none=True) | {"text": m.score.describe()}

    return {
        "suites": [s.model_dump(mode="json") for s in measurements.suites],
        "measurements": [
            m.model_dump(mode="json", exclude={"score"}) | {"score": score(m)}
            for m in measurements.measurements
        ],
        "elicitation_gains": [g.model_dump(mode="json") for g in measurements.elicitation_gains],
    }
