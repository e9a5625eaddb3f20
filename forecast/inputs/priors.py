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
from forecast.core.reading import FileRead, note_read, read_yaml, recording
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
    #: Who set the prior: a file (a profile, a scenario) or an option (``--prior``); None
    #: for the defaults file. A problem with the prior found later is blamed there.
    origin: str | None = None
    #: Where in ``origin``: the field path, line and column (None where not known).
    where: tuple[str | None, int | None, int | None] = (None, None, None)

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

    def with_overrides(
        self,
        overrides: Mapping[str, str | float],
        origin: str = "--prior",
        where: Mapping[str, tuple[str, int | None, int | None]] | None = None,
    ):
        """A new set with ``overrides`` applied; unknown names and bad values raise.

        ``origin`` is the file or option the overrides come from and ``where`` the field
        path, line and column of each in it: errors found now or later name them."""
        entries = dict(self._entries)
        where = where or {}
        for name, value in overrides.items():
            field, line, column = where.get(name, (f"priors.{name}", None, None))
            prior, problem = _override(entries, name, value)
            if problem is not None:
                raise InputError(problem, origin, field, line, column)
            entries[name] = dataclasses.replace(
                entries[name], prior=prior, origin=origin, where=(field, line, column)
            )
        return PriorSet(entries)


def _override(entries: dict, name: str, value) -> tuple[Prior | None, str | None]:
    """Prior ``name`` set to ``value``, or what is wrong with that."""
    if name not in entries:
        return (
            None,
            f"unknown prior {name!r}{suggest(name, list(entries))} (see 'forecast priors show')",
        )
    try:
        prior = parse_distribution(value)
    except ValueError as exc:
        return None, str(exc)
    info = entries[name]
    lo, hi = prior.support
    dlo, dhi = info.support
    if info.support == SUPPORTS["positive"] and prior.dist == "Constant" and lo <= 0:
        return None, f"{prior} puts mass outside (0, inf), the range of {name} (positive)"
    if lo < dlo or hi > dhi:
        return None, f"{prior} puts mass outside [{dlo:g}, {dhi:g}], the range of {name}"
    return prior, None


def prior_error(priors: PriorSet, name: str, message: str) -> InputError:
    """A problem with prior ``name``, blamed on whoever set it: the profile's or the
    scenario's file and field (with its line), ``--prior``, or the defaults file."""
    info = priors.get(name)
    if info is None or info.origin is None:
        defaults = data_dir("priors") / "defaults.yaml"
        return InputError(message, str(defaults), f"priors.{name}.distribution")
    field, line, column = info.where
    return InputError(message, info.origin, field or f"priors.{name}", line, column)


def blame_prior(exc: InputError, priors: PriorSet) -> InputError:
    """``exc`` located at its prior's origin when it names a prior (``priors.NAME``) but
    no file: a limit of the simulation found after the inputs were read."""
    if exc.file is None and exc.path and exc.path.startswith("priors."):
        name = exc.path.removeprefix("priors.").split(".")[0]
        if name in priors:
            return prior_error(priors, name, exc.message)
    return exc


def fixed_value(priors: PriorSet, name: str, origin: str | None = None) -> float:
    """The value of a prior that must be a fixed number above 0 (e.g. ``noise_dof``);
    otherwise an error blamed on ``origin`` if given, else on whoever set the prior."""
    prior = priors.prior(name)
    if prior.dist != "Constant" or prior.params[0] <= 0:
        message = f"{name} must be a fixed number above 0, got {prior}"
        if origin is not None:
            raise InputError(message, origin, f"priors.{name}")
        raise prior_error(priors, name, message)
    return float(prior.params[0])


def load_priors(path: str | Path | None = None) -> PriorSet:
    """The default priors from ``priors/defaults.yaml`` (or another file in that format)."""
    path = Path(path) if path else data_dir("priors") / "defaults.yaml"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    priors, read = _load_priors(str(path), stamp)
    if read is not None:  # a cached set stands for the read that made it (provenance)
        note_read(read)
    return priors


@functools.lru_cache(maxsize=8)
def _load_priors(path: str, stamp: int | None) -> tuple[PriorSet, FileRead | None]:
    import os

    from forecast.core.schemas.priors import PriorsFile
    from forecast.core.validation import validate

    with recording() as log:
        doc = read_yaml(path)
    parsed = validate(PriorsFile, doc, "priors file")
    entries = {}
    for name, e in parsed.priors.items():
        prior = parse_distribution(e.distribution)
        support = SUPPORTS[e.support] if e.support else prior.support
        entries[name] = PriorInfo(
            name, prior, prior, e.units, e.meaning, e.justification, e.drives, support
        )
    return PriorSet(entries), log.reads.get(os.path.abspath(path))


def parse_override(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` from the command line."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InputError(
            f"expected NAME=VALUE such as composability_within=Beta(2,5), got {text!r}",
            "--prior",
        )
    return name.strip(), value.strip()
