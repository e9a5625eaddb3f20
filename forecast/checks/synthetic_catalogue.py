"""CEG figures simulated from the catalogue model's own generative story, on the real
catalogue's design (the catalogue model's SBC, :mod:`forecast.checks.sbc_catalogue`).

Simulation-based calibration (Talts et al. 2018) draws "true" parameters from the priors,
simulates the evidence those parameters would produce, fits it, and checks that the truth
sits at a uniformly distributed rank within the posterior. For that the simulated evidence
must come from exactly the model :mod:`forecast.fit.model` fits, on the same *design*: the same
figures (members, baselines, base-model computes, dates, benchmarks, which figures are
independent, which report no gain) and the same censoring mechanism.

The censoring mechanism is a fixed threshold: a figure the catalogue gives as a bound "CEG >
b" is reported as a lower bound at b when the simulated value exceeds b, and as an upper
bound "CEG < b" otherwise (the enhanced model did or did not beat the larger one); points
stay points. For such a mechanism the censored likelihood is exact. The number of "no gain"
figures is binomial with probability 1 - relevance; arrival counts per category and half
year are negative binomial. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import EvidenceTable
from forecast.fit.compose import combine
from forecast.fit.likelihood import mixture
from forecast.fit.model_data import data_values


def figure_means(table: EvidenceTable, params: dict, rng: np.random.Generator):
    """Model mean and scale of every figure for one parameter draw (``prior_draws`` with
    ``n=1``, squeezed), with benchmark effects drawn: ``(mean, sd)``, each (n_rows,)."""
    compute = params["row_compute"]
    members = np.where(table.members >= 0, table.members, 0)
    present = table.members >= 0
    theta, enh_compute = params["ceg_oom"], params["enhancement_compute"]
    gain = theta[members] + params["scale_slope"] * (compute[:, None] - enh_compute[members])
    mean = gain[:, 0].copy()
    combo = np.flatnonzero(~table.is_single)
    if combo.size:
        cats = table.enhancement_category[members[combo]]
        in_cat = (cats[:, None, :] == np.arange(len(CATEGORIES))[None, :, None]) & present[combo][
            :, None, :
        ]
        in_base = in_cat & table.in_baseline[combo][:, None, :]
        g = gain[combo][:, None, :]
        d_w, d_b = params["composability_within"], params["composability_between"]
        mean[combo] = combine(np.where(in_cat, g, 0.0), d_w, d_b) - combine(
            np.where(in_base, g, 0.0), d_w, d_b
        )
    mean = mean - params["selection_bias"] * (~table.independent)
    shared = table.shared_benchmark
    effects = rng.standard_normal(len(table.benchmarks)) * params["benchmark_spread"]
    mean = mean + np.where(shared, effects[table.benchmark], 0.0)
    sd = np.sqrt(
        params["observation_noise"] ** 2
        + np.where(shared, 0.0, 1.0) * params["benchmark_spread"] ** 2
    )
    return mean, sd


def simulate_data(
    table: EvidenceTable, params: dict, nu: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The model's data containers (:func:`forecast.fit.model.data_values`) simulated for one
    parameter draw, on ``table``'s design (module docstring).

    Raises
    ------
    ValueError
        If the table has interval figures (the fixed-threshold mechanism has no single
        threshold for them; the shipped catalogue has none).
    """
    base = data_values(table)
    sign = base["figure_sign"]
    if (sign == 2).any():
        raise ValueError("simulation-based calibration does not support interval figures")
    rows = np.flatnonzero(table.continuous)
    mean, sd = figure_means(table, params, rng)
    w, lam = mixture(nu)
    scale = np.sqrt(lam[rng.choice(len(w), size=len(mean), p=w)])
    y = (mean + sd / scale * rng.standard_normal(len(mean)))[rows]
    bound = np.where(sign == 0, y, base["figure_bound"])
    new_sign = np.where(sign == 0, 0.0, np.where(y > base["figure_bound"], 1.0, -1.0))
    no_gain = rng.binomial(table.n_rows, 1.0 - params["relevance"])
    shape = table.arrival_counts.shape
    rate = params["arrival_rate"][:, None] * table.bin_years[None, :]
    d = params["arrival_dispersion"]
    counts = rng.poisson(rng.gamma(d, rate / d, size=shape))
    return {
        "figure_bound": bound,
        "figure_sign": new_sign,
        "figure_upper": base["figure_upper"],
        "no_gain_count": np.asarray(no_gain),
        "arrival_counts": counts.astype(base["arrival_counts"].dtype),
    }


def one_draw(draws: dict, i: int = 0) -> dict:
    """Draw ``i`` of a posterior-shaped dict, as scalars and arrays without the draw axis."""
    return {name: values[i] for name, values in draws.items()}
