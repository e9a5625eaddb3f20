"""The PyMC model of compute-equivalent gains (stage 2, fitted by :mod:`forecast.fit.catalogue`).

Everything is in OOM (log10 CEG). The math, with every prior's basis, is in docs/method.md
("The model"); in short, for enhancement i of category k published in year t_i, measured in
figure r on a base model of c_r OOM of compute (log10 FLOP - 23):

    category_mean[k] = ceg_global_mean + category_spread * z_k
    cbar_i           = mean of c_r over the figures i appears in      (between-scale)
    ceg_oom[i]       = category_mean[k] + scale_slope_between * (cbar_i - cbar)
                       + ceg_trend * (t_i - tbar) + enhancement_spread * z_i
    gain[i, r]       = ceg_oom[i] + scale_slope * (c_r - cbar_i)      (within-scale)
    y_r              = G(members_r) - G(baseline_r) - selection_bias * published_r
                       + benchmark_effect[b_r] + noise_r

``ceg_oom`` is the gain an actor *realises* (selection bias removed) at the enhancement's own
typical scale. ``scale_slope`` is the within-enhancement effect of base-model compute (the
same enhancement measured on bigger models), identified by enhancements with figures at
several scales; ``scale_slope_between`` absorbs the between-enhancement association (which
enhancements happened to be measured on which models), which says how the catalogue was
made, not what scale does, and is not used to extrapolate (Mundlak's decomposition). Unknown
compute c_r is a latent value with the prior ``missing_log_compute``.

G is :func:`forecast.fit.compose.combine` without the ceiling. ``noise_r`` is Student-t with
``noise_dof`` degrees of freedom, written as a scale mixture of normals
(:mod:`forecast.fit.likelihood`), so lower and upper bounds are censored exactly. Published
figures are inflated by ``-selection_bias``; figures flagged ``independent`` are not, which
is what lets the evidence inform it. "No gain" figures (CEG exactly 1) inform ``relevance``
(a hurdle: with probability 1 - relevance an enhancement does nothing on a benchmark), not
the size of gains. Arrivals: enhancements per category and half year in the seed catalogue
are negative binomial with mean ``arrival_rate[k] * years`` and dispersion
``arrival_dispersion``.

Importing this module imports PyMC; the warm path never does.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.core.distributions import Prior
from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import REFERENCE_LOG10_FLOP, EvidenceTable
from forecast.fit.compose import combine
from forecast.fit.likelihood import log_likelihood
from forecast.fit.model_data import data_values, likelihood_groups
from forecast.inputs.priors import PriorSet, fixed_value

#: The scalar priors that are sampled (the rest of the model's inputs are arrays or data).
SCALAR_PRIORS = (
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


def random_variable(name: str, prior: Prior, dims=None, shift: float = 0.0):
    """A PyMC variable for ``prior`` (a fixed number becomes a Deterministic).

    The prior's parameters are ``pm.Data`` containers named ``prior:NAME:PARAM``
    (:func:`forecast.fit.model_data.prior_values`), so a refit under other values of the same
    distribution family reuses the compiled model. ``shift`` is subtracted from the
    variable (a prior on log10 FLOP becomes one on log10 FLOP - 23); it must be 0 for
    priors without a location.
    """
    p = {key: pm.Data(f"prior:{name}:{key}", value) for key, value in prior.kwargs.items()}
    match prior.dist:
        case "Normal":
            return pm.Normal(name, mu=p["mu"] - shift, sigma=p["sigma"], dims=dims)
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
            return pm.Uniform(name, lower=p["lower"] - shift, upper=p["upper"] - shift, dims=dims)
        case "Constant":
            shape = None if dims is None else len(pm.modelcontext(None).coords[dims])
            value = p["value"] - shift
            value = pt.full(shape, value) if shape else value
            return pm.Deterministic(name, value, dims=dims)
    raise ValueError(f"unsupported distribution {prior.dist}")


def build_model(table: EvidenceTable, priors: PriorSet) -> pm.Model:
    """The PyMC model for ``table`` under ``priors`` (see the module docstring)."""
    nu = fixed_value(priors, "noise_dof")  # the quadrature of fit/likelihood.py is built for it
    missing = np.flatnonzero(~table.known_compute)
    coords = {
        "category": list(CATEGORIES),
        "enhancement": list(table.enhancement_ids),
        "figure": list(table.row_labels),
        "missing_compute_figure": [table.row_labels[r] for r in missing],
    }
    with pm.Model(coords=coords) as model:
        rv = {name: random_variable(name, priors.prior(name)) for name in SCALAR_PRIORS}

        # Base-model compute of each figure: known, or latent with a stated prior.
        row_compute = np.where(table.known_compute, table.log_compute, 0.0)
        if missing.size:
            latent = random_variable(
                "missing_compute",
                priors.prior("missing_log_compute"),
                "missing_compute_figure",
                shift=REFERENCE_LOG10_FLOP,
            )
            row_compute = pt.set_subtensor(pt.as_tensor_variable(row_compute)[missing], latent)
        center = table.compute_center
        weights = table.membership()
        in_rows = weights.sum(axis=1) > 0
        enhancement_compute = pm.Deterministic(
            "enhancement_compute",
            # a weighted mean over rows (elementwise: cheaper than a dot without BLAS)
            pt.where(in_rows, (weights * row_compute[None, :]).sum(axis=1), center),
            dims="enhancement",
        )

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
            + rv["scale_slope_between"] * (enhancement_compute - center)
            + rv["ceg_trend"] * (table.enhancement_year - table.year_center)
            + rv["enhancement_spread"] * z_enhancement,
            dims="enhancement",
        )

        mean = _combined_gain(table, ceg_oom, enhancement_compute, row_compute, rv)
        mean = mean - rv["selection_bias"] * (~table.independent).astype(float)
        # Benchmark effects are sampled only where a benchmark has several figures; for a
        # benchmark seen once the effect cannot be told from noise and is folded into it.
        shared = table.shared_benchmark
        shared_ids = np.unique(table.benchmark[shared])
        if shared_ids.size:
            model.add_coord("shared_benchmark", [table.benchmarks[i] for i in shared_ids])
            z_benchmark = pm.Normal("z_benchmark", 0.0, 1.0, dims="shared_benchmark")
            index = np.minimum(np.searchsorted(shared_ids, table.benchmark), shared_ids.size - 1)
            mean = mean + pt.where(shared, rv["benchmark_spread"] * z_benchmark[index], 0.0)
        sd = pt.sqrt(
            rv["observation_noise"] ** 2 + np.where(shared, 0.0, 1.0) * rv["benchmark_spread"] ** 2
        )
        pm.Deterministic("figure_mean", mean, dims="figure")
        pm.Deterministic("figure_sd", sd, dims="figure")

        rows = np.flatnonzero(table.continuous)
        data = {name: pm.Data(name, value) for name, value in data_values(table).items()}
        sign = data_values(table)["figure_sign"]
        pm.Potential(
            "ceg_figures",
            log_likelihood(
                mean[rows],
                sd[rows],
                data["figure_bound"],
                data["figure_sign"],
                data["figure_upper"],
                nu,
                xp=pt,
                groups=likelihood_groups(sign),
            ).sum(),
        )
        # The hurdle: each figure shows a gain with probability `relevance`.
        pm.Binomial(
            "no_gain_figures",
            n=table.n_rows,
            p=1.0 - rv["relevance"],
            observed=data["no_gain_count"],
        )

        arrival_rate = random_variable("arrival_rate", priors.prior("arrival_rate"), "category")
        model.add_coord("arrival_bin", list(range(table.bin_years.size)))
        pm.NegativeBinomial(
            "catalogue_counts",
            mu=arrival_rate[:, None] * table.bin_years[None, :],
            alpha=rv["arrival_dispersion"],
            observed=data["arrival_counts"],
            dims=("category", "arrival_bin"),
        )
    return model


def _combined_gain(table: EvidenceTable, ceg_oom, enhancement_compute, row_compute, rv):
    """Model gain of each figure before bias and benchmark: a gain, or G(S) - G(baseline).

    Each member's gain is moved from its own typical scale to the figure's base model with
    the within-enhancement slope.
    """
    members = np.where(table.members >= 0, table.members, 0)
    present = table.members >= 0
    member_gain = ceg_oom[members] + rv["scale_slope"] * (
        row_compute[:, None] - enhancement_compute[members]
    )
    first = member_gain[:, 0]
    combo = np.flatnonzero(~table.is_single)
    if combo.size == 0:
        return first
    categories = table.enhancement_category[members[combo]]
    # (rows, categories, K) masks: which member sits in which category
    in_category = (categories[:, None, :] == np.arange(len(CATEGORIES))[None, :, None]) & (
        present[combo][:, None, :]
    )
    in_baseline = in_category & table.in_baseline[combo][:, None, :]
    gains = member_gain[combo][:, None, :]
    d_w, d_b = rv["composability_within"], rv["composability_between"]
    all_members = combine(pt.where(in_category, gains, 0.0), d_w, d_b, xp=pt)
    baseline = combine(pt.where(in_baseline, gains, 0.0), d_w, d_b, xp=pt)
    return pt.set_subtensor(first[combo], all_members - baseline)
