"""Fitting the CEG model with NUTS, with diagnostics and an on-disk cache.

Stage 2 of the pipeline. :func:`fit` returns a :class:`Fit`: the posterior draws as numpy
arrays, the diagnostics and the provenance. A cached fit is read without importing PyMC
or ArviZ; only a cache miss imports them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from forecast import __version__, cache
from forecast.diagnostics import Diagnostics
from forecast.evidence import EvidenceTable
from forecast.priors import PriorSet
from forecast.schemas import CATEGORIES

#: Shown to users and stored with fits; bump when the model's structure changes.
MODEL_VERSION = "3"


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """Sampler settings; all of them are part of the cache key."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.95
    seed: int = 20231212

    def __post_init__(self):
        if self.draws < 10 or self.tune < 0 or self.chains < 1:
            raise ValueError("draws >= 10, tune >= 0 and chains >= 1 are required")


@dataclasses.dataclass(frozen=True)
class Fit:
    """A fitted posterior: draws keyed by variable, chains stacked on the first axis."""

    key: str
    draws: dict[str, np.ndarray]
    enhancement_ids: tuple[str, ...]
    diagnostics: Diagnostics
    provenance: dict
    directory: Path | None
    from_cache: bool
    inference_data: object | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def n_draws(self) -> int:
        return len(next(iter(self.draws.values())))

    @property
    def categories(self) -> tuple[str, ...]:
        return CATEGORIES

    def enhancement_index(self, enhancement_id: str) -> int:
        return self.enhancement_ids.index(enhancement_id)


def fit_key(table: EvidenceTable, priors: PriorSet, settings: FitSettings) -> str:
    return cache.key_of(
        {
            "model_version": MODEL_VERSION,
            "evidence": table.digest(),
            "priors": priors.fit_priors(),
            "settings": dataclasses.asdict(settings),
        }
    )


def fit(
    table: EvidenceTable,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> Fit:
    """Fit the model (or reuse the cached fit with the same key).

    Parameters
    ----------
    use_cache
        Read and write the cache. With False the fit is always recomputed and not stored.
    progress
        Show PyMC's progress bar (on stderr).
    log
        Called with short status messages (cache hit, corrupt entry, sampling time).
    """
    key = fit_key(table, priors, settings)
    replace = False
    if use_cache:
        try:
            # The variables of model.POSTERIOR_VARIABLES and the shape of one draw of each
            # (importing model.py would import PyMC; tests/test_cache.py checks they agree).
            scalars = (
                "ceg_global_mean",
                "category_spread",
                "enhancement_spread",
                "scale_slope",
                "ceg_trend",
                "composability_within",
                "composability_between",
                "benchmark_spread",
                "observation_noise",
            )
            expected = dict.fromkeys(scalars, ()) | {
                "category_mean": (len(CATEGORIES),),
                "arrival_rate": (len(CATEGORIES),),
                "ceg_oom": (len(table.enhancement_ids),),
            }
            hit = cache.read_entry(key, expected, settings.chains * settings.draws)
            if hit is not None:
                draws, meta, folder = hit
                ids = tuple(meta["enhancement_ids"])
                if ids != table.enhancement_ids:
                    raise cache.CorruptEntry("enhancement ids differ from the catalogue")
                if draws["ceg_oom"].shape[-1] != len(ids):
                    raise cache.CorruptEntry("draws do not match the catalogue")
                diagnostics = Diagnostics.from_dict(meta["diagnostics"])
                return Fit(key, draws, ids, diagnostics, dict(meta["provenance"]), folder, True)
        except (cache.CorruptEntry, KeyError, TypeError, ValueError, AttributeError) as exc:
            log(f"cached fit {key[:12]} is damaged or untrusted ({exc}); refitting")
            replace = True
    return _sample(table, priors, settings, key, use_cache, replace, progress, log)


def _sample(table, priors, settings, key, use_cache, replace, progress, log) -> Fit:
    import logging

    import pymc as pm

    from forecast import posterior
    from forecast.model import POSTERIOR_VARIABLES, build_model

    logging.getLogger("pymc").setLevel(logging.INFO if progress else logging.WARNING)
    model = build_model(table, priors)
    started = time.perf_counter()
    # PyMC's progress bar writes to stdout; keep stdout for --json.
    with contextlib.redirect_stdout(sys.stderr), model:
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, 2),
            target_accept=settings.target_accept,
            random_seed=settings.seed,
            progressbar=progress,
            compute_convergence_checks=False,
        )
    seconds = time.perf_counter() - started
    free = [v.name for v in model.free_RVs]
    diagnostics = posterior.diagnose(idata, free)
    draws = posterior.flat_draws(idata, POSTERIOR_VARIABLES)
    provenance = {
        "forecast_version": __version__,
        "model_version": MODEL_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "evidence_sha256": table.digest(),
        "priors": priors.fit_priors(),
        "settings": dataclasses.asdict(settings),
        "sampling_seconds": round(seconds, 2),
        "libraries": _versions(),
    }
    log(f"sampled {settings.chains} chains x {settings.draws} draws in {seconds:.1f} s")
    meta = {
        "enhancement_ids": list(table.enhancement_ids),
        "diagnostics": diagnostics.to_dict(),
        "provenance": provenance,
    }
    folder = None
    if use_cache:
        idata.attrs["forecast_provenance"] = _flat_json(provenance)
        folder = cache.write_entry(
            key,
            draws,
            meta,
            extra_writer=lambda tmp: posterior.write_netcdf(idata, tmp / "posterior.nc"),
            replace=replace,
        )
    return Fit(
        key,
        draws,
        table.enhancement_ids,
        diagnostics,
        provenance,
        folder,
        False,
        inference_data=idata,
    )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pymc", "pytensor", "arviz", "numpy", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _flat_json(d: dict) -> str:
    import json

    return json.dumps(d, sort_keys=True, default=str)
