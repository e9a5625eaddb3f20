"""Draws of the model's parameters from the priors alone (numpy, no sampler).

The same generative story as :mod:`forecast.model`, so that the forward simulation can
show what uplift the priors imply before any evidence is seen.
"""

from __future__ import annotations

import numpy as np

from forecast.evidence import EvidenceTable
from forecast.priors import PriorSet
from forecast.schemas import CATEGORIES

SCALARS = (
    "ceg_global_mean",
    "category_spread",
    "enhancement_spread",
    "benchmark_spread",
    "observation_noise",
    "scale_slope",
    "ceg_trend",
    "selection_bias",
    "composability_within",
    "composability_between",
)


def prior_draws(table: EvidenceTable, priors: PriorSet, n: int, seed: int = 0) -> dict:
    """Parameter draws shaped like ``Fit.draws``, from the priors only."""
    rng = np.random.default_rng([seed, 900])
    out = {name: priors.prior(name).sample(rng, n) for name in SCALARS}
    k = len(CATEGORIES)
    out["category_mean"] = out["ceg_global_mean"][:, None] + out["category_spread"][
        :, None
    ] * rng.standard_normal((n, k))
    out["ceg_oom"] = (
        out["category_mean"][:, table.enhancement_category]
        + out["ceg_trend"][:, None] * table.enhancement_year
        + out["enhancement_spread"][:, None] * rng.standard_normal((n, len(table.enhancement_ids)))
    )
    out["arrival_rate"] = priors.prior("arrival_rate").sample(rng, (n, k))
    return out
