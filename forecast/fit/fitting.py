"""Fitting the CEG model with NUTS, with diagnostics, an on-disk cache and reweighting.

Stage 2 of the pipeline. :func:`fit` returns a :class:`Fit`: the posterior draws as numpy
arrays, the diagnostics and the provenance. In order of preference it

1. reads the cached fit with the same key (evidence, fit priors, model version, settings);
2. when only fit priors differ from a cached fit of the same evidence, reweights that fit's
   draws to the new priors by Pareto-smoothed importance sampling (PSIS), if the Pareto k
   diagnostic says the reweighting is reliable (k <= 0.7): tuning a prior then takes a
   second, not a refit;
3. samples the model with nutpie (:mod:`forecast.fit.sampler`), reporting what it does.

A cached or reweighted fit is read without importing PyMC or ArviZ (PSIS needs ArviZ).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from forecast import __version__
from forecast.core.distributions import Prior
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import REFERENCE_LOG10_FLOP, EvidenceTable, build_table
from forecast.fit import cache
from forecast.fit.diagnostics import Diagnostics
from forecast.fit.psis import PARETO_K_MAX, psis_weights
from forecast.inputs.priors import PriorSet, load_priors

#: Shown to users and stored with fits; bump when the model's structure changes.
MODEL_VERSION = "4"
#: A reweighted fit is used only if its effective draws are at least this share of the
#: cached fit's (besides Pareto k <= 0.7): the buffer is a tail quantile, and 1,000 of the
#: default 6,000 draws leave about 50 effective draws above a 95% quantile.
MIN_REWEIGHTED_SHARE = 1 / 6
Log = Callable[[str], None]
Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """Sampler settings; all of them are part of the cache key."""

    draws: int = 1500
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    seed: int = 20231212

    def __post_init__(self):
        if self.draws < 10 or self.tune < 0 or self.chains < 1:
            raise ValueError("draws >= 10, tune >= 0 and chains >= 1 are required")


@dataclasses.dataclass(frozen=True)
class Fit:
    """A fitted posterior: draws keyed by variable, chains stacked on the first axis.

    ``how`` says where the draws came from: ``sampled``, ``cache`` or ``reweighted`` (then
    ``provenance["reweighted"]`` records the fit they came from, the Pareto k and the
    effective sample size of the weights).
    """

    key: str
    draws: dict[str, np.ndarray]
    enhancement_ids: tuple[str, ...]
    diagnostics: Diagnostics
    provenance: dict
    directory: Path | None
    how: str
    inference_data: object | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def from_cache(self) -> bool:
        return self.how != "sampled"

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
    log: Log = lambda message: None,
    on_progress: Progress | None = None,
    reweight: bool = True,
) -> Fit:
    """Fit the model, or reuse (or reweight) a cached fit: see the module docstring.

    Parameters
    ----------
    use_cache
        Read and write the cache. With False the fit is always recomputed and not stored.
    log
        Called with one-line messages: why a fit is needed and about how long it takes
        before, the time and the diagnostics verdict after, cache and reweighting notes.
    on_progress
        Called with (draws done, draws in all) while sampling.
    reweight
        Allow PSIS reweighting of a cached fit when only fit priors changed.
    """
    key = fit_key(table, priors, settings)
    replace = False
    if use_cache:
        try:
            hit = _cached(key, table, settings)
            if hit is not None:
                return hit
        except (cache.CorruptEntry, KeyError, TypeError, ValueError, AttributeError) as exc:
            log(f"cached fit {key[:12]} is damaged or untrusted ({exc}); refitting")
            replace = True
        if reweight:
            reweighted = _reweighted(table, priors, settings, log)
            if reweighted is not None:
                return reweighted
    return _sample(table, priors, settings, key, use_cache, replace, log, on_progress)


def _cached(key: str, table: EvidenceTable, settings: FitSettings) -> Fit | None:
    """The cached fit with ``key``, every array checked (names, dtypes, shapes, finite
    values, the draw count); a damaged or untrusted entry raises cache.CorruptEntry."""
    from forecast.fit.model_data import expected_shapes

    hit = cache.read_entry(key, expected_shapes(table), settings.chains * settings.draws)
    if hit is None:
        return None
    draws, meta, folder = hit
    ids = tuple(meta["enhancement_ids"])
    if ids != table.enhancement_ids:
        raise cache.CorruptEntry("enhancement ids differ from the catalogue")
    if draws["ceg_oom"].shape[-1] != len(ids):
        raise cache.CorruptEntry("draws do not match the catalogue")
    diagnostics = Diagnostics.from_dict(meta["diagnostics"])
    return Fit(key, draws, ids, diagnostics, dict(meta["provenance"]), folder, "cache")


# --------------------------------------------------------------------------- reweighting


def reweightable(name: str) -> str | None:
    """The posterior variable that carries prior ``name``'s parameter, if it is saved."""
    return {"missing_log_compute": "missing_compute"}.get(name, name)


def prior_log_ratio(draws: dict, changed: dict[str, tuple[Prior, Prior]]) -> np.ndarray | None:
    """Sum over the changed priors of log p_new(theta) - log p_old(theta), per draw.

    None when a changed prior's parameter is not in the draws or is a fixed number (no
    reweighting possible: refit).
    """
    total = None
    for name, (old, new) in changed.items():
        variable = reweightable(name)
        if variable not in draws or "Constant" in (old.dist, new.dist):
            return None
        n = len(draws[variable])
        total = np.zeros(n) if total is None else total
        theta = draws[variable].reshape(n, -1)
        if name == "missing_log_compute":
            theta = theta + REFERENCE_LOG10_FLOP  # saved as log10 FLOP - 23
        total += (new.logpdf(theta) - old.logpdf(theta)).sum(axis=1)
    return total if total is not None and np.isfinite(total).all() else None


def _reweighted(table: EvidenceTable, priors: PriorSet, settings: FitSettings, log: Log):
    """The cached default-prior fit of this evidence, reweighted to ``priors`` (or None)."""
    defaults = load_priors()
    changed = {
        name: (defaults.prior(name), priors.prior(name))
        for name, info in priors.items()
        if info.drives == "fit" and priors.prior(name) != defaults.prior(name)
    }
    if not changed:
        return None
    base_key = fit_key(table, defaults, settings)
    try:
        base = _cached(base_key, table, settings)
    except (cache.CorruptEntry, KeyError, TypeError, ValueError, AttributeError):
        return None
    if base is None:
        return None
    log_ratio = prior_log_ratio(base.draws, changed)
    if log_ratio is None:
        log(f"the cached fit cannot be reweighted to {', '.join(changed)}; refitting")
        return None
    weights, k = psis_weights(log_ratio)
    if not k <= PARETO_K_MAX:
        log(
            f"reweighting the cached fit to the new {', '.join(changed)} is unreliable "
            f"(Pareto k {k:.2f} > {PARETO_K_MAX}); refitting"
        )
        return None
    n = base.n_draws
    ess = float(1.0 / np.sum(weights**2))
    if ess < MIN_REWEIGHTED_SHARE * n:
        log(
            f"reweighting the cached fit to the new {', '.join(changed)} leaves {ess:.0f} "
            f"effective draws of {n} (fewer than {MIN_REWEIGHTED_SHARE:.0%}: too few for a "
            "tail quantile); refitting"
        )
        return None
    index = np.random.default_rng([settings.seed, 77]).choice(n, size=n, p=weights)
    draws = {name: values[index] for name, values in base.draws.items()}
    provenance = dict(base.provenance) | {
        "reweighted": {
            "from_fit": base.key,
            "priors": {name: str(new) for name, (_, new) in changed.items()},
            "pareto_k": round(float(k), 3),
            "ess": round(ess, 1),
        },
        "priors": priors.fit_priors(),
    }
    log(
        f"reweighted the cached fit to the new {', '.join(changed)} (Pareto k {k:.2f}, "
        f"effective draws {ess:.0f} of {n}); no refit needed"
    )
    key = fit_key(table, priors, settings)
    return Fit(key, draws, base.enhancement_ids, base.diagnostics, provenance, None, "reweighted")


# --------------------------------------------------------------------------- sampling


def _sample(table, priors, settings, key, use_cache, replace, log, on_progress) -> Fit:
    from forecast.fit.model_data import data_values, expected_shapes, prior_values, structure_key

    structure = structure_key(table, priors)
    estimate = _expected_seconds(structure, settings)
    log(
        "no cached fit for these priors and this evidence: fitting the model "
        + (f"(about {estimate:.0f} s on this machine)" if estimate else "(about a minute)")
    )
    started = time.perf_counter()
    from forecast.fit import posterior, sampler
    from forecast.fit.model import build_model

    model = build_model(table, priors)
    compiled, _ = sampler.compiled_for(
        structure, lambda: model, data_values(table) | prior_values(priors)
    )
    compiled_at = time.perf_counter()
    idata = sampler.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        target_accept=settings.target_accept,
        seed=settings.seed,
        on_progress=on_progress,
    )
    done = time.perf_counter()
    free = [v.name for v in model.free_RVs]
    diagnostics = posterior.diagnose(idata, free)
    draws = posterior.flat_draws(idata, tuple(expected_shapes(table)))
    provenance = {
        "forecast_version": __version__,
        "model_version": MODEL_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "evidence_sha256": table.digest(),
        "priors": priors.fit_priors(),
        "settings": dataclasses.asdict(settings),
        "compile_seconds": round(compiled_at - started, 2),
        "sampling_seconds": round(done - compiled_at, 2),
        "sampler": "nutpie (numba)",
        "libraries": _versions(),
    }
    verdict = "diagnostics ok" if diagnostics.ok else "FAILED: " + "; ".join(diagnostics.problems)
    log(
        f"fitted in {done - started:.0f} s (compiling {compiled_at - started:.0f} s, sampling "
        f"{done - compiled_at:.0f} s): {verdict}"
    )
    _record_seconds(compiled_at - started, done - compiled_at, settings)
    meta = {
        "enhancement_ids": list(table.enhancement_ids),
        "diagnostics": diagnostics.to_dict(),
        "provenance": provenance,
    }
    folder = None
    if use_cache:
        idata.attrs["forecast_provenance"] = json.dumps(provenance, sort_keys=True, default=str)
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
        "sampled",
        inference_data=idata,
    )


def _timing_file() -> Path:
    return cache.cache_dir() / "fit-seconds.json"


def _steps(settings: FitSettings) -> int:
    return settings.chains * (settings.draws + settings.tune)


def _expected_seconds(structure: str, settings: FitSettings) -> float | None:
    """How long this fit should take, from the last one on this machine (None if unknown):
    its sampling time scaled to these settings, plus its compile time unless this process
    has already compiled a model of the same structure."""
    try:
        last = json.loads(_timing_file().read_text())
        compile_s, sampling_s = float(last["compile"]), float(last["sampling"])
        steps = max(int(last["steps"]), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    seconds = sampling_s * _steps(settings) / steps
    sampler = sys.modules.get("forecast.fit.sampler")  # only imported once a fit has run
    if sampler is None or not sampler.is_compiled(structure):
        seconds += compile_s
    return seconds


def _record_seconds(compile_s: float, sampling_s: float, settings: FitSettings) -> None:
    from forecast.core.writing import atomic_write_text

    record = {"compile": round(compile_s, 1), "sampling": round(sampling_s, 1)}
    try:
        atomic_write_text(_timing_file(), json.dumps(record | {"steps": _steps(settings)}))
    except OSError:  # a read-only cache only loses the estimate
        pass


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pymc", "pytensor", "nutpie", "numba", "arviz", "numpy", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


@dataclasses.dataclass(frozen=True)
class FittedEvidence:
    """A catalogue, its model arrays, the priors and the fit of the CEG model."""

    catalogue: Catalogue
    table: EvidenceTable
    priors: PriorSet
    fit: Fit


def fit_evidence(
    catalogue: Catalogue,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    table: EvidenceTable | None = None,
) -> FittedEvidence:
    """Fit the model to ``catalogue`` under ``priors`` (or reuse the cached fit)."""
    table = table if table is not None else build_table(catalogue)
    result = fit(table, priors, settings, use_cache=use_cache, log=log, on_progress=on_progress)
    return FittedEvidence(catalogue, table, priors, result)
