"""Draws of the model's parameters from the priors alone (numpy, no sampler).

The same generative story as :mod:`forecast.fit.model`, so that the forward simulation can show
what uplift the priors imply before any evidence is seen, and simulation-based calibration
can draw "true" parameters to simulate catalogues from.
"""

from __future__ import annotations

import numpy as np

from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import REFERENCE_LOG10_FLOP, EvidenceTable
from forecast.inputs.priors import PriorSet

SCALARS = (
    "ceg_global_mean",
    "category_spread",
    "enhancement_spread",
    "benchmark_spread",
    "observation_noise",
    "scale_slope",
    "scale_slope_between",
    "ceg_trend",
    "selection_bias",
    "composability_within",
    "composability_between",
    "relevance",
    "arrival_dispersion",
)


def prior_draws(table: EvidenceTable, priors: PriorSet, n: int, seed: int = 0) -> dict:
    """Parameter draws shaped like ``Fit.draws``, from the priors only."""
    rng = np.random.default_rng([seed, 900])
    out = {name: priors.prior(name).sample(rng, n) for name in SCALARS}
    k = len(CATEGORIES)
    out["category_mean"] = out["ceg_global_mean"][:, None] + out["category_spread"][
        :, None
    ] * rng.standard_normal((n, k))
    missing = ~table.known_compute
    compute = np.broadcast_to(np.where(missing, 0.0, table.log_compute), (n, table.n_rows)).copy()
    if missing.any():
        latent = priors.prior("missing_log_compute").sample(rng, (n, int(missing.sum())))
        out["missing_compute"] = latent - REFERENCE_LOG10_FLOP
        compute[:, missing] = out["missing_compute"]
    weights = table.membership()
    in_rows = weights.sum(axis=1) > 0
    out["enhancement_compute"] = np.where(in_rows, compute @ weights.T, table.compute_center)
    out["ceg_oom"] = (
        out["category_mean"][:, table.enhancement_category]
        + out["scale_slope_between"][:, None] * (out["enhancement_compute"] - table.compute_center)
        + out["ceg_trend"][:, None] * (table.enhancement_year - table.year_center)
        + out["enhancement_spread"][:, None] * rng.standard_normal((n, table.n_enhancements))
    )
    out["arrival_rate"] = priors.prior("arrival_rate").sample(rng, (n, k))
    out["row_compute"] = compute
    return out


def uplift_prior_draws(priors: PriorSet, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Draws of the uplift model's scalars from its priors alone (no histories), shaped like
    the scalars of a fit's draws (what the simulation reads)."""
    from forecast.fit.uplift_model import UPLIFT_PRIORS

    rng = np.random.default_rng([seed, 910])
    out = {name: priors.prior(name).sample(rng, n) for name in UPLIFT_PRIORS}
    out["increment_mean"] = out["increment_share"] * out["catalogue_gain"]
    return out
