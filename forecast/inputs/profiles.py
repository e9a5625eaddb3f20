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
from forecast.core.reading import exists, read_yaml
from forecast.core.schemas.profile import ProfileFile
from forecast.core.validation import locate, suggest, validate
from forecast.inputs.priors import PriorSet, load_priors

DEFAULT_PROFILE = "central"


@dataclasses.dataclass(frozen=True)
class Profile:
    spec: ProfileFile
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name


def shipped_profiles() -> dict[str, Path]:
    """Name -> file of every shipped profile."""
    return {p.stem: p for p in sorted(data_dir("profiles").glob("*.yaml"))}


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name or a profile file; prior names are checked against the
    defaults, with errors at their line in the file."""
    shipped = shipped_profiles()
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
    defaults = load_priors()
    for name, override in spec.priors.items():
        try:
            defaults.with_overrides({name: override.distribution}, origin=str(path))
        except InputError as exc:
            raise locate(doc, ("priors", name), exc.message) from None
    return Profile(spec, Path(path))


def profile_priors(name_or_path: str | Path | None) -> tuple[PriorSet, str | None, dict]:
    """The default priors with a profile on top, its name, and its extrapolation modes."""
    priors = load_priors()
    if name_or_path is None:
        return priors, None, {}
    profile = load_profile(name_or_path)
    overrides = {name: o.distribution for name, o in profile.spec.priors.items()}
    trend = profile.spec.extrapolation.trend
    modes = {"trend": trend} if trend is not None else {}
    return priors.with_overrides(overrides, origin=str(profile.path)), profile.name, modes
