"""Posterior predictive checks of the catalogue's figures: leave-one-out PIT with PSIS-LOO.

For figure i with observation y_i and posterior draws theta_s (s = 1..S) of its model mean
m_s and scale sigma_s (``figure_mean`` and ``figure_sd`` in ``Fit.draws``):

- the pointwise log-likelihood l_is is the model's own (:func:`forecast.fit.likelihood.
  log_likelihood`, the Student-t scale mixture with exact censoring), in numpy;
- Pareto-smoothed importance sampling with raw weights 1 / p(y_i | theta_s) gives the
  leave-one-out weights W_is (Vehtari, Gelman and Gabry 2017) and the Pareto k of figure i;
  k > 0.7 means the LOO estimate is unreliable: the figure alone moves the posterior a lot;
- the LOO predictive CDF is F_i(y) = sum_s W_is F(y | m_s, sigma_s), with F the mixture's
  CDF;
- the LOO-PIT is F_i(y_i) for a point. A censored figure's PIT is randomised within what
  the figure says (seeded): for "CEG > b", u ~ Uniform(F_i(b), 1); for "CEG < b",
  u ~ Uniform(0, F_i(b)); for an interval, u ~ Uniform(F_i(lo), F_i(hi)). Under a
  calibrated model these are uniform too.

A figure is one the model cannot explain when its PIT is certainly in the outer 5% on either
side (a point below 0.05 or above 0.95; a censored figure whose whole PIT range is), or when
its Pareto k is above 0.7. "No gain" figures (a CEG of exactly 1) inform only the hurdle
``relevance`` through a count, not the continuous likelihood, so they get no PIT and are
listed as left out.

Pure: no printing, no files (PSIS through :func:`forecast.fit.psis.psis_weights`, numpy only).
"""

from __future__ import annotations

import numpy as np

from forecast.evidence.table import EvidenceTable
from forecast.fit.likelihood import KINDS, censoring_arrays, log_likelihood, mixture

#: The outer tail on each side in which a PIT counts as unexplained.
TAIL = 0.05
#: Above this Pareto k a figure's LOO estimate is unreliable (Vehtari et al. 2024).
PARETO_K_MAX = 0.7
#: Draws of each LOO predictive distribution used for its quantiles.
PREDICTIVE_DRAWS = 4000


def mixture_cdf(y, mean, sd, nu: float) -> np.ndarray:
    """CDF of the Student-t scale mixture at ``y`` for each (mean, sd) (broadcast)."""
    from scipy.special import ndtr

    w, lam = mixture(float(nu))
    z = (
        (np.asarray(y)[..., None] - np.asarray(mean)[..., None])
        * np.sqrt(lam)
        / (np.asarray(sd)[..., None])
    )
    return (ndtr(z) * w).sum(axis=-1)


def pointwise_log_likelihood(table: EvidenceTable, draws: dict, nu: float):
    """(S, n) log-likelihood of the continuous figures, and their row indices in ``table``."""
    rows = np.flatnonzero(table.continuous)
    bound, sign = censoring_arrays(table.value, table.lower, table.upper, table.kind_code)
    upper = np.where(np.isfinite(table.upper), table.upper, 0.0)
    mean = np.asarray(draws["figure_mean"])[:, rows]
    sd = np.asarray(draws["figure_sd"])[:, rows]
    ll = log_likelihood(mean, sd, bound[rows], sign[rows], upper[rows], nu)
    return ll, rows


def loo_pit(table: EvidenceTable, draws: dict, nu: float, seed: int = 0) -> dict:
    """The LOO-PIT, Pareto k and LOO predictive summary of every continuous figure.

    Returns
    -------
    A document: ``figures`` (one dict per continuous figure, in table order), ``left_out``
    (the "no gain" figures), ``summary`` (counts, mean PIT, the share below 0.5, the
    uniformity test of the PIT values) and the method in words.
    """
    from forecast.fit.psis import psis_weights

    ll, rows = pointwise_log_likelihood(table, draws, nu)
    rng = np.random.default_rng([seed, 41])
    w_mix, lam = mixture(float(nu))
    figures = []
    for col, r in enumerate(rows):
        weights, k = psis_weights(-ll[:, col])
        mean = np.asarray(draws["figure_mean"])[:, r]
        sd = np.asarray(draws["figure_sd"])[:, r]
        kind = KINDS[int(table.kind_code[r])]

        def cdf(y, mean=mean, sd=sd, weights=weights):
            return float(np.dot(weights, mixture_cdf(y, mean, sd, nu)))

        if kind == "point":
            observed = float(table.value[r])
            lo = hi = cdf(observed)
        elif kind == "lower":
            observed = float(table.lower[r])
            lo, hi = cdf(observed), 1.0
        elif kind == "upper":
            observed = float(table.upper[r])
            lo, hi = 0.0, cdf(observed)
        else:
            observed = float(table.lower[r])
            lo, hi = cdf(observed), cdf(float(table.upper[r]))
        pit = lo if hi == lo else float(rng.uniform(lo, hi))
        # LOO predictive draws: a posterior draw by its weight, a mixture node, a normal.
        s = rng.choice(len(weights), size=PREDICTIVE_DRAWS, p=weights)
        j = rng.choice(len(w_mix), size=PREDICTIVE_DRAWS, p=w_mix)
        y = mean[s] + sd[s] / np.sqrt(lam[j]) * rng.standard_normal(PREDICTIVE_DRAWS)
        q05, q50, q95 = np.quantile(y, [0.05, 0.5, 0.95])
        elpd = float(np.log(np.dot(weights, np.exp(ll[:, col] - ll[:, col].max()))))
        elpd += float(ll[:, col].max())
        reasons = []
        if hi < TAIL:
            reasons.append("below the model's LOO 5% quantile: the model over-predicts it")
        if lo > 1 - TAIL:
            reasons.append("above the model's LOO 95% quantile: the model under-predicts it")
        if not k <= PARETO_K_MAX:
            reasons.append(f"Pareto k {k:.2f} > {PARETO_K_MAX}: the fit leans on this figure")
        figures.append(
            {
                "row": int(r),
                "label": table.row_labels[r],
                "kind": kind,
                "observed_oom": observed,
                "observed_upper_oom": float(table.upper[r]) if kind == "interval" else None,
                "pit": pit,
                "pit_range": [lo, hi],
                "pareto_k": float(k),
                "elpd_loo": elpd,
                "loo_q05": float(q05),
                "loo_q50": float(q50),
                "loo_q95": float(q95),
                "unexplained": bool(reasons),
                "reasons": reasons,
            }
        )
    left_out = [
        {"row": int(r), "label": table.row_labels[r], "why": "no gain (CEG = 1): hurdle only"}
        for r in np.flatnonzero(table.no_gain)
    ]
    return {
        "method": "PSIS-LOO (Vehtari et al. 2017) leave-one-out PIT; censored figures get a "
        "PIT drawn uniformly within the LOO predictive CDF's range for what they say",
        "seed": seed,
        "noise_dof": nu,
        "figures": figures,
        "left_out": left_out,
        "summary": summary(figures, seed),
    }


def summary(figures: list[dict], seed: int = 0) -> dict:
    """Counts and the uniformity of the PIT values (ECDF band, PIT binned to 1/100), for
    every figure and for the points alone."""
    from forecast.checks.uniformity import ecdf_band

    pit = np.array([f["pit"] for f in figures])
    points = np.array([f["kind"] == "point" for f in figures])
    n_ranks = 99
    ranks = np.minimum((pit * (n_ranks + 1)).astype(int), n_ranks)
    band = ecdf_band(len(pit), n_ranks, seed=seed)
    point_band = ecdf_band(int(points.sum()), n_ranks, seed=seed) if points.any() else None
    point_ranks = ranks[points][:, None]
    return {
        "n_figures": len(figures),
        "n_points": int(points.sum()),
        "n_censored": int((~points).sum()),
        "mean_pit": float(pit.mean()),
        "share_below_half": float((pit < 0.5).mean()),
        "points_below_0_4": int((pit[points] < 0.4).sum()),
        "n_unexplained": sum(f["unexplained"] for f in figures),
        "n_high_pareto_k": sum(not f["pareto_k"] <= PARETO_K_MAX for f in figures),
        "pit_inside_band": bool(band.inside(ranks[:, None])[0]),
        "pit_band_p_value": float(band.p_value(ranks[:, None])[0]),
        # the points alone: their PIT is not randomised, so it is the sharper test
        "points_mean_pit": float(pit[points].mean()) if points.any() else None,
        "points_inside_band": bool(point_band.inside(point_ranks)[0]) if point_band else None,
        "points_band_p_value": float(point_band.p_value(point_ranks)[0]) if point_band else None,
    }
