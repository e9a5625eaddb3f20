"""The uplift model fitted to the measured histories and eval-slope groups (stage 2).

:func:`fit_histories` fits (or reads, or reweights) :mod:`forecast.fit.uplift_model` through
:func:`forecast.fit.engine.fit_model`. Its priors are those with ``drives: histories``;
``catalogue_gain`` among them comes from the catalogue fit
(:func:`forecast.fit.catalogue.catalogue_gain_summary`) unless the user sets it.
"""

from __future__ import annotations

from collections.abc import Callable

from forecast.evidence.histories import HistoryTable
from forecast.fit.engine import Fit, FitSettings, ModelSpec, fit_model
from forecast.fit.uplift_model import (
    data_values,
    expected_shapes,
    prior_values,
    structure_key,
)
from forecast.inputs.priors import PriorSet

#: Bump when the uplift model's structure changes (cached and shipped fits are keyed by it).
UPLIFT_MODEL_VERSION = "2"


def histories_spec(table: HistoryTable, priors: PriorSet) -> ModelSpec:
    """The :class:`~forecast.fit.engine.ModelSpec` of the uplift model for ``table``."""

    def build(p: PriorSet):
        from forecast.fit.uplift_model import build_uplift_model

        return build_uplift_model(table, p)

    def compile_kernels(p: PriorSet):
        from forecast.fit.uplift_compiled import compile_uplift

        return compile_uplift(table, p)

    return ModelSpec(
        name="histories",
        version=UPLIFT_MODEL_VERSION,
        drives="histories",
        evidence_digest=table.digest(),
        labels={"suites": table.suites, "series": table.series},
        shapes=expected_shapes(table),
        structure=structure_key(table, priors),
        build=build,
        data=lambda p: data_values(table) | prior_values(p),
        compile=compile_kernels,
        sampler="nutpie (numba kernels: forecast.fit.uplift_density; low-rank mass matrix)",
    )


def fit_histories(
    table: HistoryTable,
    priors: PriorSet,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    reweight: bool = True,
    sample: bool = True,
) -> Fit | None:
    """Fit the uplift model, or reuse (or reweight) a cached or shipped fit (with
    ``sample`` False: None when neither is at hand)."""
    spec = histories_spec(table, priors)
    return fit_model(spec, priors, settings, use_cache, log, on_progress, reweight, sample=sample)
