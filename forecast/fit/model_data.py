"""What the model reads and stores, without importing PyMC.

- its data containers (:func:`data_values`): the figures in a form that does not depend on
  their kinds, so a refit with new values of the same shape reuses the compiled model;
- the key of its graph's structure (:func:`structure_key`);
- the posterior variables the forecast reads and the shape of one draw of each
  (:data:`POSTERIOR_VARIABLES`, :func:`expected_shapes`), which the cache checks.

Kept apart from :mod:`forecast.fit.model` (which imports PyMC) so that reading a cached fit and
simulating data import nothing heavy; ``tests/fit/test_model.py`` checks the model stores exactly
these variables.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import EvidenceTable
from forecast.fit.likelihood import censoring_arrays
from forecast.inputs.priors import PriorSet

#: Scalars: one number per draw.
SCALARS = (
    "ceg_global_mean",
    "category_spread",
    "enhancement_spread",
    "scale_slope",
    "scale_slope_between",
    "ceg_trend",
    "selection_bias",
    "composability_within",
    "composability_between",
    "relevance",
    "arrival_dispersion",
    "benchmark_spread",
    "observation_noise",
)
#: Every variable of ``Fit.draws`` (``missing_compute`` only when a figure lacks compute).
POSTERIOR_VARIABLES = (
    *SCALARS,
    "category_mean",
    "arrival_rate",
    "ceg_oom",
    "enhancement_compute",
    "figure_mean",
    "figure_sd",
)


def expected_shapes(table: EvidenceTable) -> dict[str, tuple[int, ...]]:
    """Name -> shape of one draw, for the fit of ``table``."""
    n_cat, n_enh, n_rows = len(CATEGORIES), table.n_enhancements, table.n_rows
    shapes = dict.fromkeys(SCALARS, ()) | {
        "category_mean": (n_cat,),
        "arrival_rate": (n_cat,),
        "ceg_oom": (n_enh,),
        "enhancement_compute": (n_enh,),
        "figure_mean": (n_rows,),
        "figure_sd": (n_rows,),
    }
    missing = int((~table.known_compute).sum())
    if missing:
        shapes["missing_compute"] = (missing,)
    return shapes


def data_values(table: EvidenceTable) -> dict[str, np.ndarray]:
    """The observed data of ``table`` as the model's ``pm.Data`` containers.

    Figures are given in the kind-independent form of
    :func:`forecast.fit.likelihood.censoring_arrays`, so a refit with other values of the same
    shape (a simulated catalogue, a prior-predictive draw) reuses the compiled model.
    """
    rows = np.flatnonzero(table.continuous)
    bound, sign = censoring_arrays(table.value, table.lower, table.upper, table.kind_code)
    upper = np.where(np.isfinite(table.upper), table.upper, 0.0)
    return {
        "figure_bound": bound[rows],
        "figure_sign": sign[rows],
        "figure_upper": upper[rows],
        "no_gain_count": np.asarray(int(table.no_gain.sum())),
        "arrival_counts": table.arrival_counts,
    }


def structure_key(table: EvidenceTable, priors: PriorSet) -> str:
    """A digest of everything that shapes the model's graph (not the values of its data).

    Two tables with the same key differ only in :func:`data_values`, so one compiled model
    serves both (:func:`forecast.fit.sampler.compiled_for`).
    """
    h = hashlib.sha256()
    for name in (
        "enhancement_category", "enhancement_year", "members", "in_baseline", "log_compute",
        "independent", "benchmark", "bin_years",
    ):  # fmt: skip
        arr = np.ascontiguousarray(getattr(table, name))
        h.update(name.encode() + str(arr.shape).encode() + arr.tobytes())
    sign = data_values(table)["figure_sign"]
    for part in (table.continuous, *likelihood_groups(sign)):
        h.update(np.ascontiguousarray(part).tobytes() + b"|")
    # The prior's families shape the graph; their parameters are data (prior_values), except
    # noise_dof, for which the likelihood's quadrature is built.
    families = {
        name: info.prior.dist for name, info in priors.items() if info.drives == "catalogue"
    }
    noise = str(priors.prior("noise_dof"))
    h.update(json.dumps([families, noise, table.arrival_counts.shape]).encode())
    return h.hexdigest()


def prior_values(priors: PriorSet) -> dict[str, np.ndarray]:
    """The fit priors' parameters as the model's ``pm.Data`` containers."""
    return {
        f"prior:{name}:{key}": np.asarray(value, dtype=float)
        for name, info in priors.items()
        if info.drives == "catalogue"
        for key, value in info.prior.kwargs.items()
    }


def likelihood_groups(sign: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the points, one-sided bounds and intervals among the fitted figures."""
    return (
        np.flatnonzero(sign == 0),
        np.flatnonzero(np.abs(sign) == 1),
        np.flatnonzero(sign == 2),
    )
