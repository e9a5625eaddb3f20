"""The CEG catalogue model fitted to the evidence table (stage 2).

:func:`fit_catalogue` fits (or reads, or reweights) the hierarchical censored model of
compute-equivalent gains (:mod:`forecast.fit.model`) through :func:`forecast.fit.engine.fit_model`;
:func:`catalogue_gain_summary` turns its posterior into the prior of ``catalogue_gain``, the
mean realised gain of a new enhancement, which the uplift model scales (docs/method.md,
section 6.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from forecast.core.schemas.catalogue import Catalogue
from forecast.evidence.table import REFERENCE_LOG10_FLOP, EvidenceTable, build_table
from forecast.fit.engine import Fit, FitSettings, ModelSpec, fit_model
from forecast.inputs.priors import PriorSet

#: Bump when the catalogue model's structure changes (cached and shipped fits are keyed by it).
CATALOGUE_MODEL_VERSION = "5"
#: Decimals of the LogNormal parameters of ``catalogue_gain`` handed to the uplift model: a
#: change below this does not refit or reweight it.
GAIN_DECIMALS = 2


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
class FittedEvidence:
    """A catalogue, its model arrays, the priors and the fit of the CEG model."""

    catalogue: Catalogue
    table: EvidenceTable
    priors: PriorSet
    fit: Fit

    @property
    def enhancement_ids(self) -> tuple[str, ...]:
        return self.fit.labels["enhancements"]

    def enhancement_index(self, enhancement_id: str) -> int:
        return self.enhancement_ids.index(enhancement_id)


def fit_evidence(
    catalogue: Catalogue,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    table: EvidenceTable | None = None,
) -> FittedEvidence:
    """Fit the catalogue model to ``catalogue`` under ``priors`` (or reuse the cached fit)."""
    table = table if table is not None else build_table(catalogue)
    result = fit_catalogue(table, priors, settings, use_cache, log, on_progress)
    return FittedEvidence(catalogue, table, priors, result)


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
    log_gain = np.log(catalogue_gain_draws(fit.draws))
    mu, sd = (
        round(float(log_gain.mean()), GAIN_DECIMALS),
        round(float(log_gain.std()), GAIN_DECIMALS),
    )
    return f"LogNormal({mu:.{GAIN_DECIMALS}f}, {max(sd, 10.0**-GAIN_DECIMALS):.{GAIN_DECIMALS}f})"
