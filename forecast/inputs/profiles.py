"""Assumption profiles: shipped, documented sets of prior overrides (``profiles/*.yaml``).

A profile sits between the defaults and a scenario's own ``priors:`` block: defaults <
profile < scenario < ``--prior``. ``central`` is the defaults themselves; the others move
the assumptions the buffer is most sensitive to, each with its reason, so an analyst can
give a range instead of one number (docs/profiles.md). The buffer under each profile is
computed by :mod:`forecast.explain.profiles`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.reading import YamlDocument, exists, read_yaml
from forecast.core.schemas.profile import ProfileFile
from forecast.core.validation import locate, suggest, validate
from forecast.inputs.priors import PriorSet, load_priors

DEFAULT_PROFILE = "central"


@dataclasses.dataclass(frozen=True)
class Profile:
    spec: ProfileFile
    path: Path
    document: YamlDocument | None = None

    def where(self) -> dict[str, tuple[str, int | None, int | None]]:
        """Each prior's field path, line and column in the profile file."""
        out = {}
        for name in self.spec.priors:
            loc = ("priors", name, "distribution")
            line, column = self.document.position(loc) if self.document else (None, None)
            out[name] = (f"priors.{name}.distribution", line, column)
        return out

    @property
    def name(self) -> str:
        return self.spec.name


def shipped_profiles() -> dict[str, Path]:
    """Name -> file of every shipped profile."""
    return {p.stem: p for p in sorted(data_dir("profiles").glob("*.yaml"))}


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name or a profile file; prior names are checked against the
    defaults, with errors at their line in the file. A user's profile may not take a
    shipped profile's name (it would be reported as that profile)."""
    shipped = shipped_profiles()
    if not str(name_or_path).strip():
        raise InputError(
            f"expected a profile name or a profile file, got an empty value (shipped: "
            f"{', '.join(shipped)})",
            "--profile",
        )
    if str(name_or_path) in shipped:
        path = shipped[str(name_or_path)]
    else:
        path = Path(name_or_path)
        if not exists(path, "profile file") and path.suffix not in (".yaml", ".yml"):
            raise InputError(
                f"no shipped profile or file named {str(name_or_path)!r}"
                f"{suggest(str(name_or_path), list(shipped))} (shipped: {', '.join(shipped)})",
                "--profile",
            )
    doc = read_yaml(path)
    spec = validate(ProfileFile, doc, "profile")
    if spec.name in shipped and not _same_file(path, shipped[spec.name]):
        raise locate(
            doc,
            ("name",),
            f"profile name {spec.name!r} is a shipped profile's (shipped: "
            f"{', '.join(shipped)}); give your profile another name, so that the report does "
            "not show it as the shipped one",
        )
    defaults = load_priors()
    for name, override in spec.priors.items():
        try:
            defaults.with_overrides({name: override.distribution}, origin=str(path))
        except InputError as exc:
            raise locate(doc, ("priors", name), exc.message) from None
    return Profile(spec, Path(path), doc)


def _same_file(a: str | Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def profile_priors(name_or_path: str | Path | None) -> tuple[PriorSet, str | None, dict]:
    """The default priors with a profile on top, its name, and its extrapolation modes."""
    priors = load_priors()
    if name_or_path is None:
        return priors, None, {}
    profile = load_profile(name_or_path)
    overrides = {name: o.distribution for name, o in profile.spec.priors.items()}
    trend = profile.spec.extrapolation.trend
    modes = {"trend": trend} if trend is not None else {}
    priors = priors.with_overrides(overrides, origin=str(profile.path), where=profile.where())
    return priors, profile.name, modes
