"""Assumption profiles: shipped, documented sets of prior overrides (``profiles/*.yaml``).

A profile sits between the defaults and a scenario's own ``priors:`` block: defaults <
profile < scenario < ``--prior``. ``central`` is the defaults themselves; the others move
the assumptions the buffer is most sensitive to, each with its reason, so an analyst can
give a range instead of one number (docs/profiles.md).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

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
    modes = {
        key: value
        for key, value in (
            ("trend", profile.spec.extrapolation.trend),
            ("scale", profile.spec.extrapolation.scale),
        )
        if value is not None
    }
    return priors.with_overrides(overrides, origin=str(profile.path)), profile.name, modes


def profile_table(result, names=None, log=lambda message: None) -> list[dict]:
    """The buffer of a forecast under each shipped profile (or ``names``), same seed.

    Each profile's inputs are the result's with the profile swapped in; the fit comes from
    the cache, reweighted to the profile's fit priors where that is reliable (else refit),
    so the table costs about a simulation per profile.
    """
    import dataclasses

    from forecast.buffer.forecasting import forecast

    rows = []
    for name in names or list(shipped_profiles()):
        priors, profile_name, modes = profile_priors(name)
        inputs = result.inputs
        own = {k: v for k, v in inputs.priors.items() if v.overridden}
        for key, info in own.items():  # keep the scenario's and the command's own overrides
            if key not in load_profile(name).spec.priors:
                priors = priors.with_overrides({key: str(info.prior)})
        extrapolation = inputs.scenario.extrapolation.model_copy(update=modes)
        scenario = inputs.scenario.model_copy(update={"extrapolation": extrapolation})
        other = dataclasses.replace(inputs, priors=priors, profile=profile_name, scenario=scenario)
        settings = _settings_of(result)
        run = forecast(other, seed=result.seed, draws=result.uplift.oom.shape[0], settings=settings,
                       log=log)  # fmt: skip
        rows.append(
            {
                "profile": profile_name,
                "title": load_profile(name).spec.title,
                "buffer_oom": run.buffer_oom,
                "median_oom": float(np.median(run.at_horizon)),
                "uncapped_buffer_oom": run.uncapped_buffer_oom,
                "fit": run.fitted.fit.how,
                "reweighting": run.fitted.fit.provenance.get("reweighted"),
                "extrapolation": extrapolation.model_dump(mode="json"),
                "priors": {k: o.distribution for k, o in load_profile(name).spec.priors.items()},
            }
        )
    return rows


def _settings_of(result):
    from forecast.fit.fitting import FitSettings

    return FitSettings(**result.fitted.fit.provenance.get("settings", {}))
