"""Scenario files: the shipped ones, users' own, and their checks against the catalogue."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.reading import YamlDocument, exists, read_yaml
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.scenario import Scenario
from forecast.core.validation import locate, suggest, validate

DEFAULT_SCENARIO = "frontier-api"


@dataclasses.dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with the file it came from (for located errors, relative paths)."""

    scenario: Scenario
    path: Path
    document: YamlDocument

    def resolve(self, relative: str) -> Path:
        """A path written inside the scenario, relative to the scenario file's folder."""
        path = Path(relative)
        return path if path.is_absolute() else (self.path.parent / path)


def shipped_scenarios() -> dict[str, Path]:
    """Name -> file of every scenario shipped with the package."""
    folder = data_dir("scenarios")
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def load_scenario(name_or_path: str | Path | None = None) -> LoadedScenario:
    """A shipped scenario by name, or a scenario file by path (default: the default)."""
    name_or_path = name_or_path or DEFAULT_SCENARIO
    shipped = shipped_scenarios()
    if str(name_or_path) in shipped:
        path = shipped[str(name_or_path)]
    else:
        path = Path(name_or_path)
        if not exists(path, "scenario file") and path.suffix not in (".yaml", ".yml"):
            raise InputError(
                f"no shipped scenario or file named {str(name_or_path)!r}"
                f"{suggest(str(name_or_path), list(shipped))} (see 'forecast scenarios list')",
                str(name_or_path),
            )
    doc = read_yaml(path)
    scenario = validate(Scenario, doc, "scenario")
    return LoadedScenario(scenario, Path(path), doc)


def scenario_priors(loaded: LoadedScenario, base=None):
    """The default priors (or ``base``) with the scenario's ``priors:`` block on top.

    A bad name or value is reported at its line and column in the scenario file, and so
    is a problem with one of these priors found later.
    """
    from forecast.inputs.priors import load_priors

    base = load_priors() if base is None else base
    where = {
        name: (f"priors.{name}", *loaded.document.position(("priors", name)))
        for name in loaded.scenario.priors
    }
    return base.with_overrides(loaded.scenario.priors, origin=str(loaded.path), where=where)


def check_against(
    loaded: LoadedScenario, catalogue: Catalogue, measurements: str | Path | None = None
) -> None:
    """Everything a scenario names must exist and be valid: enhancement ids, prior names and
    values, per-task result files (read in full), the measurements evals compare with (the
    shipped ones, plus the user's ``measurements`` file), and the ``policies:`` block (shipped
    names, policy files, inline rules)."""
    from forecast.evidence.measurements import load_measurements
    from forecast.inputs.policies import scenario_block
    from forecast.inputs.tasks import read_task_results

    scenario_priors(loaded)
    if any(spec.compare_with for spec in loaded.scenario.evals) or measurements is not None:
        measured = [m.id for m in load_measurements(measurements).measurements]
    for j, spec in enumerate(loaded.scenario.evals):
        for k, mid in enumerate(spec.compare_with):
            if mid not in measured:
                hint = "" if measurements else " (your own measurements: --measurements FILE)"
                raise locate(
                    loaded.document,
                    ("evals", j, "compare_with", k),
                    f"unknown measurement {mid!r}{suggest(mid, measured)}{hint}",
                )
    ids = [e.id for e in catalogue.enhancements]
    for j, name in enumerate(loaded.scenario.already_elicited.enhancements):
        if name not in ids:
            raise locate(
                loaded.document,
                ("already_elicited", "enhancements", j),
                f"unknown enhancement {name!r}{suggest(name, ids)}",
            )
    for j, spec in enumerate(loaded.scenario.evals):
        try:
            found = not spec.tasks_file or exists(loaded.resolve(spec.tasks_file), "tasks file")
        except InputError as exc:
            raise locate(loaded.document, ("evals", j, "tasks_file"), exc.message) from None
        if not found:
            raise locate(
                loaded.document,
                ("evals", j, "tasks_file"),
                f"file not found: {loaded.resolve(spec.tasks_file)}",
            )
        if spec.tasks_file:
            read_task_results(loaded.resolve(spec.tasks_file))
    scenario_block(loaded)
