"""Priors as data: the shipped defaults, user overrides merged on top, and their use.

A prior is written the same way everywhere (``priors/defaults.yaml``, a scenario's
``priors:`` block, ``--prior NAME=VALUE``): the distribution syntax of
:mod:`forecast.core.distributions`. :class:`PriorSet` holds the defaults with a profile,
a scenario's block and the command's overrides merged on top, checked against each
prior's support.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from pathlib import Path

from forecast.core.distributions import SUPPORTS, Prior, parse_distribution
from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.reading import read_yaml
from forecast.core.validation import suggest


@dataclasses.dataclass(frozen=True)
class PriorInfo:
    """A prior with its documentation, as listed by ``forecast priors show``."""

    name: str
    prior: Prior
    default: Prior
    units: str
    meaning: str
    justification: str
    drives: str  # "fit" (changing it refits) or "forecast" (forward simulation only)
    support: tuple[float, float] = (-math.inf, math.inf)  # where an override may put mass

    @property
    def overridden(self) -> bool:
        return self.prior != self.default


class PriorSet(Mapping[str, PriorInfo]):
    """The defaults with overrides merged on top, keyed by prior name."""

    def __init__(self, entries: dict[str, PriorInfo]):
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> PriorInfo:
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def prior(self, name: str) -> Prior:
        return self._entries[name].prior

    def driving(self, drives: str) -> dict[str, str]:
        """The priors with ``drives`` equal to ``drives`` (``catalogue``, ``histories`` or
        ``forecast``), at full precision: what a fit's cache key holds of them."""
        return {
            n: f"{e.prior.dist}{e.prior.params!r}"
            for n, e in self._entries.items()
            if e.drives == drives
        }

    def with_overrides(self, overrides: Mapping[str, str | float], origin: str = "--prior"):
        """A new set with ``overrides`` applied; unknown names and bad values raise."""
        entries = dict(self._entries)
        for name, value in overrides.items():
            if name not in entries:
                raise InputError(
                    f"unknown prior {name!r}{suggest(name, list(entries))} "
                    f"(see 'forecast priors show')",
                    origin,
                    f"priors.{name}",
                )
            try:
                prior = parse_distribution(value)
            except ValueError as exc:
                raise InputError(str(exc), origin, f"priors.{name}") from None
            info = entries[name]
            lo, hi = prior.support
            dlo, dhi = info.support
            if info.support == SUPPORTS["positive"] and prior.dist == "Constant" and lo <= 0:
                raise InputError(
                    f"{prior} puts mass outside (0, inf), the range of {name} (positive)",
                    origin,
                    f"priors.{name}",
                )
            if lo < dlo or hi > dhi:
                raise InputError(
                    f"{prior} puts mass outside [{dlo:g}, {dhi:g}], the range of {name}",
                    origin,
                    f"priors.{name}",
                )
            entries[name] = dataclasses.replace(info, prior=prior)
        return PriorSet(entries)


def fixed_value(priors: PriorSet, name: str, origin: str = "--prior") -> float:
    """The value of a prior that must be a fixed number above 0 (e.g. ``noise_dof``)."""
    prior = priors.prior(name)
    if prior.dist != "Constant" or prior.params[0] <= 0:
        raise InputError(
            f"{name} must be a fixed number above 0, got {prior}", origin, f"priors.{name}"
        )
    return float(prior.params[0])


def load_priors(path: str | Path | None = None) -> PriorSet:
    """The default priors from ``priors/defaults.yaml`` (or another file in that format)."""
    path = Path(path) if path else data_dir("priors") / "defaults.yaml"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _load_priors(str(path), stamp)


@functools.lru_cache(maxsize=8)
def _load_priors(path: str, stamp: int | None) -> PriorSet:
    from forecast.core.schemas.priors import PriorsFile
    from forecast.core.validation import validate

    doc = read_yaml(path)
    parsed = validate(PriorsFile, doc, "priors file")
    entries = {}
    for name, e in parsed.priors.items():
        prior = parse_distribution(e.distribution)
        support = SUPPORTS[e.support] if e.support else prior.support
        entries[name] = PriorInfo(
            name, prior, prior, e.units, e.meaning, e.justification, e.drives, support
        )
    return PriorSet(entries)


def parse_override(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` from the command line."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InputError(
            f"expected NAME=VALUE such as composability_within=Beta(2,5), got {text!r}",
            "--prior",
        )
    return name.strip(), value.strip()
