"""The CEG catalogue model fitted to the evidence table (stage 2).

:func:`fit_catalogue` fits (or reads, or reweights) the hierarchical censored model of
compute-equivalent gains (:mod:`forecast.fit.model`) through :func:`forecast.fit.engine.fit_model`;
:func:`catalogue_gain_summary` turns its posterior into the prior of ``catalogue_gain``, the
mean realised gain of a new enhancement, which the uplift model scales (docs/method.md,
section 6.1).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np

from forecast.core.schemas.catalogue import Catalogue
from forecast.evidence.table import REFERENCE_LOG10_FLOP, EvidenceTable, build_table
from forecast.fit import cache
from forecast.fit.diagnostics import Diagnostics
from forecast.fit.engine import Fit, FitSettings, ModelSpec, fit_model
from forecast.inputs.priors import PriorSet

#: Bump when the catalogue model's structure changes (cached and shipped fits are keyed by it).
CATALOGUE_MODEL_VERSION = "5"
#: Decimals of the LogNormal parameters of ``catalogue_gain`` handed to the uplift model: a
#: change below this does not refit or reweight it.
GAIN_DECIMALS = 2
#: The smallest mean gain (OOM) a catalogue draw counts (a millionth of an order of magnitude).
MIN_GAIN_OOM = 1e-6


def catalogue_spec(table: EvidenceTable, priors: PriorSet) -> ModelSpec:
    """The :class:`~forecast.fit.engine.ModelSpec` of the catalogue model for ``table``."""
    from forecast.fit.model_data import data_values, expected_shapes, prior_values, structure_key

    def build(p: PriorSet):
        from forecast.fit.model import build_model

        return build_model(table, p)

    return ModelSpec(
        name="catalogue",
        version=CATALOGUE_MODEL_VERSION,
        drives="catalogue",
        evidence_digest=table.digest(),
        labels={"enhancements": table.enhancement_ids},
        shapes=expected_shapes(table),
        structure=structure_key(table, priors),
        build=build,
        data=lambda p: data_values(table) | prior_values(p),
        variable_of=lambda name: {"missing_log_compute": "missing_compute"}.get(name, name),
        shift_of={"missing_log_compute": REFERENCE_LOG10_FLOP},  # saved as log10 FLOP - 23
    )


def fit_catalogue(
    table: EvidenceTable,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    reweight: bool = True,
) -> Fit:
    """Fit the catalogue model, or reuse (or reweight) a cached or shipped fit."""
    spec = catalogue_spec(table, priors)
    return fit_model(spec, priors, settings, use_cache, log, on_progress, reweight)


@dataclasses.dataclass(frozen=True)
class CatalogueSummary:
    """What a forecast needs of a catalogue fit: the prior of ``catalogue_gain`` it implies,
    its diagnostics and provenance. Small enough to ship with the package and to keep beside
    each cached fit, so a forecast of the shipped catalogue reads it instead of the draws."""

    key: str
    gain_prior: str
    diagnostics: Diagnostics
    provenance: dict

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "gain_prior": self.gain_prior,
            "diagnostics": self.diagnostics.to_dict(),
            "provenance": self.provenance,
        }

    @classmethod
    def of(cls, fit: Fit) -> CatalogueSummary:
        return cls(fit.key, catalogue_gain_summary(fit), fit.diagnostics, fit.provenance)


def read_summary(key: str) -> CatalogueSummary | None:
    """The stored summary of the catalogue fit ``key`` (the user's cache first, then the
    package's), or None; a damaged one is ignored (the fit is then read or redone)."""
    folders = []
    try:
        folders.append(cache.cache_dir() / "summaries")
    except cache.CacheUnavailable:  # a bad FORECAST_CACHE_DIR: warned when the fit is read
        pass
    shipped = cache.shipped_dir()
    if shipped is not None:
        folders.append(shipped / "summaries")
    for folder in folders:
        try:
            data = json.loads((folder / f"{key}.json").read_text())
            if data["key"] != key:
                continue
            return CatalogueSummary(
                key,
                str(data["gain_prior"]),
                Diagnostics.from_dict(data["diagnostics"]),
                dict(data["provenance"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def write_summary(summary: CatalogueSummary) -> None:
    """Keep ``summary`` in the cache (a read-only cache only loses it)."""
    from forecast.core.writing import atomic_write_text

    try:
        atomic_write_text(
            cache.cache_dir() / "summaries" / f"{summary.key}.json",
            json.dumps(summary.to_dict(), indent=2, default=str),
        )
    except (OSError, cache.CacheUnavailable):
        pass


@dataclasses.dataclass(frozen=True)
class FittedEvidence:
    """A catalogue, its model arrays, the priors and the fit of the CEG model.

    ``fit`` is None when only the fit's summary was read (a forecast needs no more of it);
    :func:`fit_evidence` with ``need_draws`` reads or makes the draws.
    """

    catalogue: Catalogue
    table: EvidenceTable
    priors: PriorSet
    fit: Fit | None
    summary: CatalogueSummary

    @property
    def key(self) -> str:
        return self.summary.key

    @property
    def diagnostics(self) -> Diagnostics:
        return self.summary.diagnostics

    @property
    def provenance(self) -> dict:
        return self.summary.provenance

    @property
    def how(self) -> str:
        return self.fit.how if self.fit is not None else "summary"

    @property
    def enhancement_ids(self) -> tuple[str, ...]:
        return self.table.enhancement_ids

    def enhancement_index(self, enhancement_id: str) -> int:
        return self.enhancement_ids.index(enhancement_id)

    def with_draws(self, log: Callable[[str], None] = lambda message: None) -> FittedEvidence:
        """The same, with the fit's draws (read from the cache, or fitted)."""
        if self.fit is not None:
            return self
        settings = FitSettings(**self.provenance["settings"])
        fit = fit_catalogue(self.table, self.priors, settings, log=log)
        return dataclasses.replace(self, fit=fit, summary=CatalogueSummary.of(fit))


def fit_evidence(
    catalogue: Catalogue,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    table: EvidenceTable | None = None,
    need_draws: bool = True,
) -> FittedEvidence:
    """Fit the catalogue model to ``catalogue`` under ``priors`` (or reuse the cached fit).

    Without ``need_draws`` a stored summary of the fit is enough (:class:`CatalogueSummary`),
    so a forecast of the shipped catalogue reads no draws at all.
    """
    table = table if table is not None else build_table(catalogue)
    if use_cache and not need_draws:
        key = catalogue_spec(table, priors).key(priors, settings)
        summary = read_summary(key)
        if summary is not None:
            return FittedEvidence(catalogue, table, priors, None, summary)
    result = fit_catalogue(table, priors, settings, use_cache, log, on_progress)
    summary = CatalogueSummary.of(result)
    if use_cache:
        write_summary(summary)
    return FittedEvidence(catalogue, table, priors, result, summary)


def catalogue_gain_draws(draws: dict[str, np.ndarray]) -> np.ndarray:
    """The mean realised gain (OOM) of a new enhancement on a plain model, per draw.

    ``E[max(0, theta)]`` with ``theta ~ Normal(category_mean[k], enhancement_spread)``,
    averaged over the categories weighted by their arrival rates in the catalogue: an
    enhancement that would hurt is not used (docs/method.md, section 6.1).
    """
    from scipy.special import ndtr

    mean = draws["category_mean"]
    spread = draws["enhancement_spread"][:, None]
    weights = draws["arrival_rate"] / draws["arrival_rate"].sum(axis=1, keepdims=True)
    z = mean / spread
    positive_mean = mean * ndtr(z) + spread * np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi)
    return (weights * positive_mean).sum(axis=1)


def catalogue_gain_summary(fit: Fit) -> str:
    """The LogNormal prior of ``catalogue_gain`` implied by a catalogue fit, as the text of a
    distribution (the mean and standard deviation of log gain, rounded to
    :data:`GAIN_DECIMALS` decimals so that noise-level changes keep the key)."""
    # a draw whose gain underflows (every category mean far below zero) counts as a gain of
    # MIN_GAIN_OOM: its log stays finite, and the summary a valid prior
    log_gain = np.log(np.maximum(catalogue_gain_draws(fit.draws), MIN_GAIN_OOM))
    mu, sd = (
        round(float(log_gain.mean()), GAIN_DECIMALS),
        round(float(log_gain.std()), GAIN_DECIMALS),
    )
    return f"LogNormal({mu:.{GAIN_DECIMALS}f}, {max(sd, 10.0**-GAIN_DECIMALS):.{GAIN_DECIMALS}f})"
