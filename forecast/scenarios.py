"""Scenario files: the shipped ones, users' own, and their checks against the catalogue."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from forecast.errors import InputError
from forecast.files import YamlDocument, data_dir, locate, read_yaml, suggest, validate
from forecast.schemas import Catalogue, Scenario

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
        if not path.exists() and path.suffix not in (".yaml", ".yml"):
            raise InputError(
                f"no shipped scenario or file named {str(name_or_path)!r}"
                f"{suggest(str(name_or_path), list(shipped))} (see 'forecast scenarios list')",
                str(name_or_path),
            )
    doc = read_yaml(path)
    scenario = validate(Scenario, doc, "scenario")
    return LoadedScenario(scenario, Path(path), doc)


def check_against(loaded: LoadedScenario, catalogue: Catalogue) -> None:
    """Enhancement ids named by the scenario must exist in the catalogue; files must exist."""
    ids = [e.id for e in catalogue.enhancements]
    for j, name in enumerate(loaded.scenario.already_elicited.enhancements):
        if name not in ids:
            raise locate(
                loaded.document,
                ("already_elicited", "enhancements", j),
                f"unknown enhancement {name!r}{suggest(name, ids)}",
            )
    for j, spec in enumerate(loaded.scenario.evals):
        if spec.tasks_file and not loaded.resolve(spec.tasks_file).is_file():
            raise locate(
                loaded.document,
                ("evals", j, "tasks_file"),
                f"file not found: {loaded.resolve(spec.tasks_file)}",
            )
