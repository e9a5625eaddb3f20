"""The fit of either model: cache, PSIS reweighting, sampling (stage 2).

Both models of the pipeline (the CEG catalogue model, :mod:`forecast.fit.catalogue`, and the
uplift model fitted to the histories, :mod:`forecast.fit.histories`) are fitted the same way.
A :class:`ModelSpec` says what is model-specific: which priors drive it, the digest of its
evidence, the shape of every stored variable, how to build the PyMC model and its data.
:func:`fit_model` then, in order of preference,

1. reads the cached fit with the same key (model, version, evidence, its priors, settings),
   from the user's cache or from the fits shipped with the package;
2. when only its priors differ from a cached fit of the same evidence under the default
   priors, reweights that fit's draws to the new priors by Pareto-smoothed importance sampling
   (PSIS), if the Pareto k diagnostic says the reweighting is reliable (k <= 0.7) and enough
   effective draws remain: tuning a prior then takes a second, not a refit;
3. samples the model with nutpie (:mod:`forecast.fit.sampler`), reporting what it does.

A cached or reweighted fit is read without importing PyMC or ArviZ.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from forecast import __version__
from forecast.core.distributions import Prior
from forecast.fit import cache
from forecast.fit.diagnostics import Diagnostics
from forecast.fit.psis import PARETO_K_MAX, psis_weights
from forecast.inputs.priors import PriorSet, load_priors

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
class ModelSpec:
    """What :func:`fit_model` needs to know of one model (module docstring).

    ``labels`` name the draws' axes (enhancement ids, or suites and series) and are stored
    with the fit and checked on reading; ``shapes`` give the shape of one draw of every
    stored variable. ``build`` returns the PyMC model, ``data`` its ``pm.Data`` values
    (observations and prior parameters), ``structure`` keys its compiled graph (one compile
    per structure and process). ``compile``, when given, returns a model nutpie samples
    directly, without PyMC (the uplift model's numba kernels: nothing to compile per
    process); ``sampler`` names what samples it (provenance). ``variable_of`` maps a prior
    to the stored variable that carries its parameter (None: it cannot be reweighted),
    ``shift_of`` adds a constant to that variable before its prior density is evaluated.
    """

    name: str
    version: str
    drives: str
    evidence_digest: str
    labels: Mapping[str, tuple[str, ...]]
    shapes: Mapping[str, tuple[int, ...]]
    structure: str
    build: Callable[[PriorSet], object]
    data: Callable[[PriorSet], dict]
    variable_of: Callable[[str], str | None] = lambda name: name
    shift_of: Mapping[str, float] = dataclasses.field(default_factory=dict)
    compile: Callable[[PriorSet], object] | None = None
    sampler: str = "nutpie (numba, compiled from the PyMC model)"

    def priors_of(self, priors: PriorSet) -> dict[str, str]:
        """The priors that drive this model, at full precision (part of the key)."""
        return priors.driving(self.drives)

    def key(self, priors: PriorSet, settings: FitSettings) -> str:
        return cache.key_of(
            {
                "model": self.name,
                "model_version": self.version,
                "evidence": self.evidence_digest,
                "priors": self.priors_of(priors),
                "settings": dataclasses.asdict(settings),
            }
        )


@dataclasses.dataclass(frozen=True)
class Fit:
    """A fitted posterior: draws keyed by variable, chains stacked on the first axis.

    ``how`` says where the draws came from: ``sampled``, ``cache``, ``shipped`` (the fit
    installed with the package) or ``reweighted`` (then ``provenance["reweighted"]`` records
    the fit they came from, the Pareto k and the effective sample size of the weights).
    """

    key: str
    draws: dict[str, np.ndarray]
    labels: dict[str, tuple[str, ...]]
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
    def effective_draws(self) -> float:
        """The effective number of draws: the draw count, or the PSIS effective sample size
        of a reweighted fit (its draws were resampled by weight)."""
        reweighted = self.provenance.get("reweighted")
        return float(reweighted["ess"]) if reweighted else float(self.n_draws)


def fit_model(
    spec: ModelSpec,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Log = lambda message: None,
    on_progress: Progress | None = None,
    reweight: bool = True,
    defaults: PriorSet | None = None,
    sample: bool = True,
) -> Fit | None:
    """Fit ``spec`` under ``priors``, or reuse (or reweight) a cached fit (module docstring).

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
        Allow PSIS reweighting of a cached fit when only this model's priors changed.
    defaults
        The priors a reweighting starts from (default: the shipped defaults).
    sample
        With False, return None instead of sampling (a fit only if one is at hand).
    """
    key = spec.key(priors, settings)
    replace = False
    if use_cache:
        try:
            hit = cached_fit(spec, key, settings)
            if hit is not None:
                return hit
        except (cache.CorruptEntry, KeyError, TypeError, ValueError, AttributeError) as exc:
            log(f"cached {spec.name} fit {key[:12]} is damaged or untrusted ({exc}); refitting")
            replace = True
        if reweight:
            reweighted = _reweighted(spec, priors, settings, log, defaults or load_priors())
            if reweighted is not None:
                return reweighted
    if not sample:
        return None
    return _sample(spec, priors, settings, key, use_cache, replace, log, on_progress)


def cached_fit(spec: ModelSpec, key: str, settings: FitSettings) -> Fit | None:
    """The cached (or shipped) fit with ``key``, every array checked (names, dtypes, shapes,
    finite values, the draw count) and its labels matching the evidence; a damaged or
    untrusted entry raises cache.CorruptEntry."""
    hit = cache.read_entry(key, spec.shapes, settings.chains * settings.draws)
    how = "cache"
    if hit is None:
        hit = cache.read_shipped(key, spec.shapes, settings.chains * settings.draws)
        how = "shipped"
    if hit is None:
        return None
    draws, meta, folder = hit
    labels = {name: tuple(values) for name, values in meta["labels"].items()}
    if labels != {name: tuple(values) for name, values in spec.labels.items()}:
        raise cache.CorruptEntry(f"the {spec.name} fit's labels differ from the evidence")
    diagnostics = Diagnostics.from_dict(meta["diagnostics"])
    return Fit(key, draws, labels, diagnostics, dict(meta["provenance"]), folder, how)


# --------------------------------------------------------------------------- reweighting


def prior_log_ratio(
    draws: dict,
    changed: dict[str, tuple[Prior, Prior]],
    variable_of: Callable[[str], str | None] = lambda name: name,
    shift_of: Mapping[str, float] | None = None,
) -> np.ndarray | None:
    """Sum over the changed priors of log p_new(theta) - log p_old(theta), per draw.

    None when a changed prior's parameter is not in the draws or is a fixed number (no
    reweighting possible: refit).
    """
    shift_of = shift_of or {}
    total = None
    for name, (old, new) in changed.items():
        variable = variable_of(name)
        if variable is None or variable not in draws or "Constant" in (old.dist, new.dist):
            return None
        n = len(draws[variable])
        total = np.zeros(n) if total is None else total
        theta = draws[variable].reshape(n, -1) + shift_of.get(name, 0.0)
        total += (new.logpdf(theta) - old.logpdf(theta)).sum(axis=1)
    return total if total is not None and np.isfinite(total).all() else None


def _reweighted(spec: ModelSpec, priors: PriorSet, settings: FitSettings, log: Log, defaults):
    """The cached default-prior fit of this evidence, reweighted to ``priors`` (or None)."""
    changed = {
        name: (defaults.prior(name), priors.prior(name))
        for name, info in priors.items()
        if info.drives == spec.drives and priors.prior(name) != defaults.prior(name)
    }
    if not changed:
        return None
    base_key = spec.key(defaults, settings)
    try:
        base = cached_fit(spec, base_key, settings)
    except (cache.CorruptEntry, KeyError, TypeError, ValueError, AttributeError):
        return None
    if base is None:
        return None
    names = ", ".join(changed)
    log_ratio = prior_log_ratio(base.draws, changed, spec.variable_of, spec.shift_of)
    if log_ratio is None:
        log(f"the cached {spec.name} fit cannot be reweighted to {names}; refitting")
        return None
    weights, k = psis_weights(log_ratio)
    if not k <= PARETO_K_MAX:
        log(
            f"reweighting the cached {spec.name} fit to the new {names} is unreliable "
            f"(Pareto k {k:.2f} > {PARETO_K_MAX}); refitting"
        )
        return None
    n = base.n_draws
    ess = float(1.0 / np.sum(weights**2))
    if ess < MIN_REWEIGHTED_SHARE * n:
        log(
            f"reweighting the cached {spec.name} fit to the new {names} leaves {ess:.0f} "
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
        "priors": spec.priors_of(priors),
    }
    log(
        f"reweighted the cached {spec.name} fit to the new {names} (Pareto k {k:.2f}, "
        f"effective draws {ess:.0f} of {n}); no refit needed"
    )
    key = spec.key(priors, settings)
    return Fit(key, draws, base.labels, base.diagnostics, provenance, None, "reweighted")


# --------------------------------------------------------------------------- sampling


def _sample(spec: ModelSpec, priors, settings, key, use_cache, replace, log, on_progress) -> Fit:
    estimate = _expected_seconds(spec, settings)
    log(
        f"no cached {spec.name} fit for these priors and this evidence: fitting the model "
        + (f"(about {estimate:.0f} s on this machine)" if estimate else "(about a minute)")
    )
    started = time.perf_counter()
    from forecast.fit import posterior, sampler

    compiled, free = sampler.prepare(spec, priors)
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
    diagnostics = posterior.diagnose(idata, free)
    draws = posterior.flat_draws(idata, tuple(spec.shapes))
    provenance = {
        "forecast_version": __version__,
        "model": spec.name,
        "model_version": spec.version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "evidence_sha256": spec.evidence_digest,
        "priors": spec.priors_of(priors),
        "settings": dataclasses.asdict(settings),
        "compile_seconds": round(compiled_at - started, 2),
        "sampling_seconds": round(done - compiled_at, 2),
        "sampler": spec.sampler,
        "libraries": _versions(),
    }
    verdict = "diagnostics ok" if diagnostics.ok else "FAILED: " + "; ".join(diagnostics.problems)
    log(
        f"fitted the {spec.name} model in {done - started:.0f} s (compiling "
        f"{compiled_at - started:.0f} s, sampling {done - compiled_at:.0f} s): {verdict}"
    )
    _record_seconds(spec, compiled_at - started, done - compiled_at, settings)
    labels = {name: list(values) for name, values in spec.labels.items()}
    meta = {"labels": labels, "diagnostics": diagnostics.to_dict(), "provenance": provenance}
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
        {name: tuple(values) for name, values in spec.labels.items()},
        diagnostics,
        provenance,
        folder,
        "sampled",
        inference_data=idata,
    )


def _timing_file(spec: ModelSpec) -> Path:
    return cache.cache_dir() / f"fit-seconds-{spec.name}.json"


def _steps(settings: FitSettings) -> int:
    return settings.chains * (settings.draws + settings.tune)


def _expected_seconds(spec: ModelSpec, settings: FitSettings) -> float | None:
    """How long this fit should take, from the last one of this model on this machine (None
    if unknown): its sampling time scaled to these settings, plus its compile time unless
    this process has already compiled a model of the same structure."""
    try:
        last = json.loads(_timing_file(spec).read_text())
        compile_s, sampling_s = float(last["compile"]), float(last["sampling"])
        steps = max(int(last["steps"]), 1)
    except (OSError, ValueError, KeyError, TypeError, cache.CacheUnavailable):
        return None
    seconds = sampling_s * _steps(settings) / steps
    sampler = sys.modules.get("forecast.fit.sampler")  # only imported once a fit has run
    if sampler is None or not sampler.is_compiled(spec.structure):
        seconds += compile_s
    return seconds


def _record_seconds(spec: ModelSpec, compile_s: float, sampling_s: float, settings) -> None:
    from forecast.core.writing import atomic_write_text

    record = {"compile": round(compile_s, 1), "sampling": round(sampling_s, 1)}
    try:
        atomic_write_text(_timing_file(spec), json.dumps(record | {"steps": _steps(settings)}))
    except (OSError, cache.CacheUnavailable):  # an unusable cache only loses the estimate
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
