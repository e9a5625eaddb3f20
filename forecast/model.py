"""The PyMC model of compute-equivalent gains (stage 2, with :mod:`forecast.fit`).

Everything is in OOM (log10 CEG). For enhancement i in category k, published in year
t_i (years since 2022-06-01), a figure r measured on a base model of c_r OOM of compute
above 1e23 FLOP:

    category_mean[k] = ceg_global_mean + category_spread * z_k
    ceg_oom[i]       = category_mean[k] + ceg_trend * t_i + enhancement_spread * z_i
    gain[i, r]       = ceg_oom[i] + scale_slope * c_r
    y_r              = G(members_r) - G(baseline_r) + benchmark_effect[b_r] + noise_r

G is :func:`forecast.compose.combine` (rank-discounted, without the ceiling); for a single
enhancement it is just ``gain[i, r]``. ``noise_r`` is Student-t with ``noise_dof`` degrees
of freedom; lower and upper bounds are censored observations (their likelihood is
P(Y >= y) or P(Y <= y), never a point).
Category arrival counts in the catalogue window are Poisson(arrival_rate[k] * years).
``selection_bias`` is not in this model: the published figures cannot identify it (it would
have no likelihood term, so its posterior would be its prior), and the forecast draws it
from its prior (:mod:`forecast.simulate`), so tuning it needs no refit.

Importing this module imports PyMC; the warm path never does.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.compose import combine
from forecast.evidence import EvidenceTable
from forecast.priors import Prior, PriorSet
from forecast.schemas import CATEGORIES

#: Names of the variables the forward simulation reads from the posterior.
POSTERIOR_VARIABLES = (
    "ceg_global_mean",
    "category_mean",
    "category_spread",
    "enhancement_spread",
    "ceg_oom",
    "scale_slope",
    "ceg_trend",
    "composability_within",
    "composability_between",
    "arrival_rate",
    "benchmark_spread",
    "observation_noise",
)


def random_variable(name: str, prior: Prior, dims=None):
    """A PyMC variable for ``prior`` (a fixed number becomes a Deterministic)."""
    p = prior.kwargs
    match prior.dist:
        case "Normal":
            return pm.Normal(name, mu=p["mu"], sigma=p["sigma"], dims=dims)
        case "HalfNormal":
            return pm.HalfNormal(name, sigma=p["sigma"], dims=dims)
        case "LogNormal":
            return pm.LogNormal(name, mu=p["mu"], sigma=p["sigma"], dims=dims)
        case "Gamma":
            return pm.Gamma(name, alpha=p["alpha"], beta=p["beta"], dims=dims)
        case "Exponential":
            return pm.Exponential(name, lam=p["lam"], dims=dims)
        case "Beta":
            return pm.Beta(name, alpha=p["alpha"], beta=p["beta"], dims=dims)
        case "Uniform":
            return pm.Uniform(name, lower=p["lower"], upper=p["upper"], dims=dims)
        case "Constant":
            shape = None if dims is None else len(pm.modelcontext(None).coords[dims])
            value = np.full(shape, p["value"]) if shape else p["value"]
            return pm.Deterministic(name, pt.as_tensor_variable(value), dims=dims)
    raise ValueError(f"unsupported distribution {prior.dist}")


def build_model(table: EvidenceTable, priors: PriorSet) -> pm.Model:
    """The PyMC model for ``table`` under ``priors`` (see the module docstring)."""
    coords = {
        "category": list(CATEGORIES),
        "enhancement": list(table.enhancement_ids),
        "row": list(table.row_labels),
    }
    single = table.is_single
    interval = np.isfinite(table.lower) & np.isfinite(table.upper)
    with pm.Model(coords=coords) as model:
        rv = {
            name: random_variable(name, priors.prior(name))
            for name in (
                "ceg_global_mean",
                "category_spread",
                "enhancement_spread",
                "benchmark_spread",
                "observation_noise",
                "noise_dof",
                "scale_slope",
                "ceg_trend",
                "composability_within",
                "composability_between",
            )
        }
        z_category = pm.Normal("z_category", 0.0, 1.0, dims="category")
        category_mean = pm.Deterministic(
            "category_mean",
            rv["ceg_global_mean"] + rv["category_spread"] * z_category,
            dims="category",
        )
        z_enhancement = pm.Normal("z_enhancement", 0.0, 1.0, dims="enhancement")
        ceg_oom = pm.Deterministic(
            "ceg_oom",
            category_mean[table.enhancement_category]
            + rv["ceg_trend"] * table.enhancement_year
            + rv["enhancement_spread"] * z_enhancement,
            dims="enhancement",
        )
        # Benchmark effects are sampled only where a benchmark has several figures; for a
        # benchmark seen once the effect cannot be told from noise and is folded into it.
        shared = table.shared_benchmark
        shared_ids = np.unique(table.benchmark[shared])
        position = np.searchsorted(shared_ids, table.benchmark)
        mean = _predicted_gain(table, ceg_oom, rv, single)
        if shared_ids.size:
            model.add_coord("shared_benchmark", [table.benchmarks[i] for i in shared_ids])
            z_benchmark = pm.Normal("z_benchmark", 0.0, 1.0, dims="shared_benchmark")
            index = np.minimum(position, shared_ids.size - 1)
            mean = mean + pt.where(shared, rv["benchmark_spread"] * z_benchmark[index], 0.0)
        nu = rv["noise_dof"]
        sd = pt.sqrt(
            rv["observation_noise"] ** 2 + pt.where(shared, 0.0, 1.0) * rv["benchmark_spread"] ** 2
        )

        # Point figures and one-sided bounds: a censored normal. A figure "CEG > x" (its
        # lower bound) is right-censored at log10(x): pm.Censored's *upper* limit, so its
        # likelihood is P(Y >= x). A figure "CEG < x" is left-censored: P(Y <= x).
        rows = np.flatnonzero(~interval)
        figure_lower, figure_upper = table.lower[rows], table.upper[rows]
        left_censored_at = np.where(np.isfinite(figure_upper), figure_upper, -np.inf)
        right_censored_at = np.where(np.isfinite(figure_lower), figure_lower, np.inf)
        observed = np.where(
            np.isfinite(table.value[rows]),
            table.value[rows],
            np.where(np.isfinite(figure_lower), figure_lower, figure_upper),
        )
        pm.Censored(
            "ceg_observed",
            pm.StudentT.dist(nu=nu, mu=mean[rows], sigma=sd[rows]),
            lower=left_censored_at,
            upper=right_censored_at,
            observed=observed,
        )
        if interval.any():
            idx = np.flatnonzero(interval)
            dist = pm.StudentT.dist(nu=nu, mu=mean[idx], sigma=sd[idx])
            pm.Potential(
                "ceg_interval",
                pm.math.logdiffexp(
                    pm.logcdf(dist, table.upper[idx]), pm.logcdf(dist, table.lower[idx])
                ).sum(),
            )

        arrival_rate = random_variable("arrival_rate", priors.prior("arrival_rate"), "category")
        pm.Poisson(
            "catalogue_counts",
            mu=arrival_rate * table.window_years,
            observed=table.category_counts,
            dims="category",
        )
    return model


def _predicted_gain(table: EvidenceTable, ceg_oom, rv, single: np.ndarray):
    """Model mean of each figure before the benchmark effect: a gain or G(S) - G(baseline)."""
    scale = rv["scale_slope"] * table.log_compute
    first = ceg_oom[table.members[:, 0]] + scale
    combo = np.flatnonzero(~single)
    if combo.size == 0:
        return first
    members = table.members[combo]
    present = members >= 0
    member_gain = ceg_oom[np.where(present, members, 0)] + scale[combo][:, None]
    categories = table.enhancement_category[np.where(present, members, 0)]
    # (rows, categories, K) masks: which member sits in which category
    in_category = (categories[:, None, :] == np.arange(len(CATEGORIES))[None, :, None]) & (
        present[:, None, :]
    )
    in_baseline = in_category & table.in_baseline[combo][:, None, :]
    gains = member_gain[:, None, :]
    d_w, d_b = rv["composability_within"], rv["composability_between"]
    all_members = combine(pt.where(in_category, gains, 0.0), d_w, d_b, xp=pt)
    baseline = combine(pt.where(in_baseline, gains, 0.0), d_w, d_b, xp=pt)
    return pt.set_subtensor(first[combo], all_members - baseline)
