"""One pass over the inputs of a run: a scenario and its options, resolved and checked once.

:func:`resolve` reads and validates everything a forecast needs (the scenario with the
command's overrides, the priors with a profile, the scenario's ``priors:`` block and
``--prior`` on top, the catalogue cut at ``--as-of``, the evals' task files, the policy
rules, the measurements the evals compare with) and returns one frozen :class:`RunInputs`.
The later stages (fit, simulate, evals, policies, report) only read it, so every bad input
is reported before any work starts, at the line of the file it came from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.reading import FileRead, YamlDocument, exists, recording
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import ACTORS
from forecast.core.schemas.measurements import Measurements
from forecast.core.schemas.scenario import (
    MAX_HORIZON_MONTHS,
    TREND_MODES,
    Scenario,
)
from forecast.core.validation import locate, suggest
from forecast.evidence.histories import HistoryTable, build_history_table
from forecast.evidence.table import EvidenceTable, build_table
from forecast.inputs.priors import PriorSet, fixed_value
from forecast.inputs.tasks import TaskResults, read_task_results


@dataclasses.dataclass(frozen=True)
class RunInputs:
    """Everything one forecast reads, checked.

    ``scenario`` already carries the command's overrides (horizon, confidence, actor,
    reference date, extrapolation modes); ``priors`` are the defaults with the profile, the
    scenario's block and the command's overrides merged in that order.
    """

    scenario: Scenario
    path: Path
    document: YamlDocument
    priors: PriorSet
    profile: str | None
    catalogue: Catalogue
    table: EvidenceTable
    histories: HistoryTable
    tasks: tuple[TaskResults | None, ...]  # one per eval, None for aggregate evals
    policies: tuple  # forecast.inputs.policies.Policy
    as_of: dt.date | None
    measurements: Path | None = None
    evidence: Path | None = None
    shipped_evidence: bool = True
    profile_file: Path | None = None
    #: Things the user should know that do not stop the run (printed on stderr by the CLI,
    #: carried in the JSON as ``warnings``).
    warnings: tuple[str, ...] = ()
    #: Every file read while resolving, by absolute path: the hash and size of the bytes
    #: read then (provenance records these, never the file as it is later).
    reads: Mapping[str, FileRead] = dataclasses.field(default_factory=dict)
    #: The scenario file's bytes as read and validated (the bundle's ``scenario.yaml``).
    scenario_bytes: bytes | None = None

    @property
    def horizon_months(self) -> int:
        return self.scenario.horizon_months

    @property
    def confidence(self) -> float:
        return self.scenario.confidence

    @property
    def actor(self) -> str:
        return self.scenario.actor

    def resolve_path(self, relative: str) -> Path:
        """A path written inside the scenario, relative to the scenario file's folder."""
        path = Path(relative)
        return path if path.is_absolute() else (self.path.parent / path)

    def files(self) -> list[tuple[str, Path]]:
        """Every file this run read, as (role, absolute path), in reading order: the
        scenario, the default priors, the profile, the catalogue files, the measurements
        files (the histories the uplift model is fitted to), the policy files and the tasks
        files."""
        from forecast.core.paths import data_dir
        from forecast.evidence.catalogue import _catalogue_files, shipped_catalogue_paths
        from forecast.inputs.policies import shipped_policy_files

        found: list[tuple[str, Path]] = [
            ("scenario", self.path),
            ("priors", data_dir("priors") / "defaults.yaml"),
        ]
        if self.profile_file is not None:
            found.append(("profile", self.profile_file))
        if self.shipped_evidence:
            found += [("catalogue", p) for p in shipped_catalogue_paths()]
        if self.evidence is not None:
            found += [("catalogue", p) for p in _catalogue_files(self.evidence)]
        # the measured histories and eval-slope groups: the uplift model's evidence, read
        # by every run
        from forecast.evidence.measurements import shipped_measurement_paths

        found += [("measurements", p) for p in shipped_measurement_paths()]
        if self.measurements is not None:
            found.append(("measurements", self.measurements))
        shipped = shipped_policy_files()
        for policy in self.policies:
            if policy.origin == "shipped":
                found.append(("policy", shipped[policy.name]))
            elif " policies[" not in policy.origin:  # an inline rule lives in the scenario
                found.append(("policy", Path(policy.origin)))
        found += [("tasks", Path(t.path)) for t in self.tasks if t is not None]
        seen: dict[Path, str] = {}
        for role, path in found:
            seen.setdefault(Path(path).absolute(), role)
        return [(role, path) for path, role in seen.items()]


def resolve(
    scenario: str | Path | None = None,
    *,
    horizon_months: int | None = None,
    confidence: float | None = None,
    actor: str | None = None,
    reference_date: dt.date | None = None,
    trend_mode: str | None = None,
    priors: Mapping[str, str | float] | None = None,
    profile: str | None = None,
    evidence: str | Path | None = None,
    shipped_evidence: bool = True,
    as_of: dt.date | None = None,
    measurements: str | Path | None = None,
    policy_select: Sequence[str] | None = None,
    policy_files: Sequence[str | Path] = (),
) -> RunInputs:
    """Read and check every input of a forecast (module docstring).

    Parameters
    ----------
    scenario
        A shipped scenario's name or a scenario file; None for the default.
    horizon_months, confidence, actor, reference_date, trend_mode
        Override the scenario's own values.
    priors
        ``--prior`` overrides, merged last.
    profile
        A shipped assumption profile (``forecast profiles list``) or a profile file.
    evidence, shipped_evidence
        A user's catalogue file or folder, on top of the shipped one (or instead of it).
    as_of
        Cut the catalogue at this date (enhancements published before it only).
    measurements
        A user's measurements file; evals' ``compare_with`` may name its records.
    policy_select, policy_files
        ``--policies`` (shipped names or keywords) and ``--policy FILE``s.

    Raises
    ------
    InputError
        For the first bad input, located in its file (or a file that changed while it was
        read).
    """
    import os

    with recording() as log:
        from forecast.evidence.catalogue import catalogue_cut, load_catalogue
        from forecast.inputs.policies import resolve_policies
        from forecast.inputs.profiles import profile_priors
        from forecast.inputs.scenarios import load_scenario, scenario_priors

        loaded = load_scenario(scenario)
        prior_set, profile_name, profile_modes = profile_priors(profile)
        # Extrapolation modes: the command, else the scenario's own block, else the profile's.
        written = (loaded.document.data or {}).get("extrapolation") or {}
        modes = {f"{k}_mode": v for k, v in profile_modes.items() if k not in written}
        if trend_mode is not None:  # '' is a mode to refuse, not the default
            modes["trend_mode"] = trend_mode
        sc = _with_overrides(
            loaded.scenario,
            horizon_months=horizon_months,
            confidence=confidence,
            actor=actor,
            reference_date=reference_date,
            **modes,
        )
        prior_set = scenario_priors(loaded, prior_set)
        if priors:
            prior_set = prior_set.with_overrides(priors)
        fixed_value(prior_set, "noise_dof")  # blamed on whoever set it
        catalogue = load_catalogue(evidence, shipped=shipped_evidence)
        if as_of is not None:
            catalogue = catalogue_cut(catalogue, as_of)
            if not catalogue.enhancements:
                raise InputError(
                    f"no enhancement in the catalogue was published before {as_of}", "--as-of"
                )
        _check_names(loaded, catalogue)
        tasks = _read_tasks(loaded)
        measured = _load_measurements(loaded, measurements, catalogue)
        policies = resolve_policies(loaded, policy_select, policy_files)
        profile_file = None
        if profile is not None:
            from forecast.inputs.profiles import load_profile

            profile_file = load_profile(profile).path
        histories = build_history_table(measured, as_of)
        inputs = RunInputs(
            scenario=sc,
            path=loaded.path,
            document=loaded.document,
            priors=prior_set,
            profile=profile_name,
            catalogue=catalogue,
            table=build_table(catalogue),
            histories=histories,
            tasks=tuple(tasks),
            policies=tuple(policies),
            as_of=as_of,
            measurements=Path(measurements) if measurements else None,
            evidence=Path(evidence) if evidence is not None else None,
            shipped_evidence=shipped_evidence,
            profile_file=profile_file,
            warnings=tuple(run_warnings(sc, catalogue, as_of) + elicited_warnings(sc, histories)),
        )

    return dataclasses.replace(
        inputs,
        reads=dict(log.reads),
        scenario_bytes=log.data.get(os.path.abspath(inputs.path)),
    )


def run_warnings(sc: Scenario, catalogue: Catalogue, as_of: dt.date | None) -> list[str]:
    """What the user should know about a run that does not stop it.

    - Open weights with a ``public_api`` actor: whoever holds open weights can fine-tune
      and change them, so an API-only actor understates the uplift.
    - Evidence published after the scenario's reference date, without ``--as-of``: a
      forecast "as of" that date would use figures nobody had then.
    """
    out = []
    if sc.base_model.weights == "open" and sc.actor == "public_api":
        out.append(
            "the base model's weights are open but the actor is public_api: anyone can "
            "download open weights and fine-tune them, so this forecast leaves out "
            "fine-tuning and weight-level enhancements (use --actor open_weights for them)"
        )
    reference = sc.base_model.reference_date
    if as_of is None and catalogue.enhancements:
        later = [e for e in catalogue.enhancements if e.published > reference]
        if later:
            last = max(e.published for e in later)
            out.append(
                f"{len(later)} of the catalogue's {len(catalogue.enhancements)} enhancements "
                f"were published after the scenario's reference date {reference} (the last "
                f"on {last}): the forecast uses evidence nobody had then; use --as-of "
                f"{reference} for a forecast made with what was known at the time"
            )
    return out


def elicited_warnings(sc: Scenario, histories: HistoryTable) -> list[str]:
    """A warning when the evaluation applied fewer or more categories of elicitation than any
    measured history's BEFORE state: the forecast reads it as the nearest measured count
    (:func:`forecast.evidence.histories.elicited_in_range`), an assumption, not a finding."""
    from forecast.evidence.histories import elicited_in_range

    applied = len(set(sc.already_elicited.categories))
    used = elicited_in_range(applied, histories)
    if used == applied:
        return []
    lo, hi = histories.inc_elicited.min(), histories.inc_elicited.max()
    return [
        f"the evaluation applied {applied} categories of elicitation, outside the {lo:g} to "
        f"{hi:g} the measured histories' starting states applied: the forecast reads it as "
        f"{used:g} (the elicitation effect is not extrapolated beyond its evidence)"
    ]


def _with_overrides(sc: Scenario, **values) -> Scenario:
    """The scenario with the command's values (None keeps the scenario's own)."""
    update = {}
    if values.get("horizon_months") is not None:
        if not 0 <= values["horizon_months"] <= MAX_HORIZON_MONTHS:
            raise InputError(
                f"expected a horizon from 0 to {MAX_HORIZON_MONTHS} months, got "
                f"{values['horizon_months']!r}",
                "--horizon",
            )
        update["horizon_months"] = values["horizon_months"]
    if values.get("confidence") is not None:
        update["confidence"] = values["confidence"]
    if values.get("actor") is not None:
        if values["actor"] not in ACTORS:
            raise InputError(
                f"unknown actor {values['actor']!r}{suggest(values['actor'], list(ACTORS))} "
                f"(expected one of: {', '.join(ACTORS)})",
                "--actor",
            )
        update["actor"] = values["actor"]
    if values.get("reference_date") is not None:
        update["base_model"] = sc.base_model.model_copy(
            update={"reference_date": values["reference_date"]}
        )
    if values.get("trend_mode") is not None:
        trend = _trend_mode(values["trend_mode"])
        update["extrapolation"] = sc.extrapolation.model_copy(update={"trend": trend})
    return sc.model_copy(update=update) if update else sc


def _trend_mode(value: str) -> str:
    if value not in TREND_MODES:
        raise InputError(
            f"unknown trend mode {value!r}{suggest(value, list(TREND_MODES))} "
            f"(expected one of: {', '.join(TREND_MODES)})",
            "--trend",
        )
    return value


def _check_names(loaded, catalogue: Catalogue) -> None:
    """Enhancement ids the scenario names must be in the catalogue."""
    ids = [e.id for e in catalogue.enhancements]
    for block in ("already_elicited",):
        for j, name in enumerate(getattr(loaded.scenario, block).enhancements):
            if name not in ids:
                raise locate(
                    loaded.document,
                    (block, "enhancements", j),
                    f"unknown enhancement {name!r}{suggest(name, ids)} "
                    "(see 'forecast evidence list')",
                )


def _read_tasks(loaded) -> list[TaskResults | None]:
    """Each eval's per-task results, read once (None for an aggregate eval)."""
    out = []
    for j, spec in enumerate(loaded.scenario.evals):
        if not spec.tasks_file:
            out.append(None)
            continue
        path = loaded.resolve(spec.tasks_file)
        try:
            found = exists(path, "tasks file")
        except InputError as exc:
            raise locate(loaded.document, ("evals", j, "tasks_file"), exc.message) from None
        if not found:
            raise locate(loaded.document, ("evals", j, "tasks_file"), f"file not found: {path}")
        out.append(read_task_results(path))
    return out


def _load_measurements(loaded, measurements, catalogue: Catalogue) -> Measurements:
    """The shipped measurements and the user's, checked; measurement ids in the evals'
    ``compare_with`` must exist among them."""
    from forecast.evidence.measurements import load_measurements

    merged = load_measurements(measurements, catalogue=catalogue)
    measured = [m.id for m in merged.measurements]
    for j, spec in enumerate(loaded.scenario.evals):
        for k, mid in enumerate(spec.compare_with):
            if mid not in measured:
                hint = "" if measurements else " (your own measurements: --measurements FILE)"
                raise locate(
                    loaded.document,
                    ("evals", j, "compare_with", k),
                    f"unknown measurement {mid!r}{suggest(mid, measured)}{hint}",
                )
    return merged


def resolved_scenario(inputs) -> dict:
    """The scenario exactly as forecast, as a scenario document: the command's overrides
    (horizon, confidence, actor, reference date, extrapolation) applied, every prior that
    differs from the defaults (profile, the scenario's block, ``--prior``) in ``priors``
    at full precision, tasks files and policy files as absolute paths, and the policies
    shown. ``forecast run`` on it (with the same seeds, ``--as-of`` and evidence) gives the
    same forecast without the profile or the command's options."""
    doc = inputs.scenario.model_dump(mode="json")
    for spec in doc["evals"]:
        if spec.get("tasks_file"):
            spec["tasks_file"] = str(inputs.resolve_path(spec["tasks_file"]).resolve())
    doc["priors"] = {
        name: _exact(info.prior) for name, info in inputs.priors.items() if info.overridden
    }
    policies: list = []
    for p in inputs.policies:
        if p.origin == "shipped":
            policies.append(p.name)
        elif " policies[" in p.origin:  # an inline rule of the scenario
            policies.append(p.rule.model_dump(mode="json"))
        else:
            policies.append(str(Path(p.origin).resolve()))
    doc["policies"] = policies or ["none"]
    return doc


def _exact(prior) -> str:
    """A prior in the distribution syntax at full precision (``str`` rounds to 6 digits)."""
    return f"{prior.dist}({', '.join(repr(float(p)) for p in prior.params)})"
