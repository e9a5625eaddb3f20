"""Simulation-based calibration of the CEG catalogue model on the real catalogue's design
(``forecast check sbc --model catalogue``).

The same procedure as :mod:`forecast.checks.sbc` for the catalogue model: truths drawn from its
priors (:func:`forecast.fit.prior_draws.prior_draws`), catalogues simulated on the shipped
catalogue's design (:func:`forecast.checks.synthetic_catalogue.simulate_data`: the same figures,
members, base-model computes, dates, benchmarks, independence flags, censoring thresholds,
"no gain" count and arrival bins), refitted with the compiled model. The ranked quantities are
every scalar of the fit (:data:`forecast.fit.model_data.SCALARS`), the category means and
arrival rates, and ``catalogue_gain``, the mean realised gain of a new enhancement
(:func:`forecast.fit.catalogue.catalogue_gain_draws`): the one output of this model the uplift
model, and so the buffer, reads. Contraction is measured as in :mod:`forecast.checks.sbc`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from forecast.checks.sbc import (
    SbcResult,
    SbcSettings,
    contraction_scale,
    fit_problems,
    fit_seed,
    on_scale,
    rank_of,
)
from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import EvidenceTable
from forecast.fit.model_data import SCALARS, expected_shapes
from forecast.inputs.priors import PriorSet

#: The catalogue model's SBC settings (its fits take a few seconds): L = 100.
CATALOGUE_SETTINGS = SbcSettings(draws=250, tune=300, chains=4, thin=10, target_accept=0.9)
GAIN = "catalogue_gain"


def quantity_names() -> tuple[str, ...]:
    """Every ranked quantity, in output order."""
    return (
        *SCALARS,
        *(f"category_mean[{c}]" for c in CATEGORIES),
        *(f"arrival_rate[{c}]" for c in CATEGORIES),
        GAIN,
    )


def parameter_values(draws: dict) -> dict[str, np.ndarray]:
    """The ranked quantities of posterior-shaped ``draws`` (draw axis first), one (n,) array
    per name."""
    from forecast.fit.catalogue import catalogue_gain_draws

    out = {name: np.asarray(draws[name], dtype=float) for name in SCALARS}
    for j, c in enumerate(CATEGORIES):
        out[f"category_mean[{c}]"] = np.asarray(draws["category_mean"])[:, j]
        out[f"arrival_rate[{c}]"] = np.asarray(draws["arrival_rate"])[:, j]
    out[GAIN] = catalogue_gain_draws(draws)
    return out


def run_catalogue_sbc(
    table: EvidenceTable,
    priors: PriorSet,
    n_fits: int,
    seed: int = 0,
    settings: SbcSettings = CATALOGUE_SETTINGS,
    on_fit: Callable[[int, int, dict], None] | None = None,
) -> SbcResult:
    """Run ``n_fits`` SBC fits of the catalogue model on ``table``'s design (module
    docstring). Imports PyMC and nutpie."""
    from forecast.checks.synthetic_catalogue import one_draw, simulate_data
    from forecast.fit import posterior, sampler
    from forecast.fit.model import build_model
    from forecast.fit.model_data import data_values, structure_key
    from forecast.fit.prior_draws import prior_draws
    from forecast.inputs.priors import fixed_value

    started = time.perf_counter()
    nu = fixed_value(priors, "noise_dof")
    model = build_model(table, priors)
    free = [v.name for v in model.free_RVs]
    compiled, _ = sampler.compiled_for(
        structure_key(table, priors), lambda: model, data_values(table)
    )
    compile_seconds = time.perf_counter() - started
    names = quantity_names()
    scales = tuple(contraction_scale(q, priors) for q in names)
    prior = parameter_values(prior_draws(table, priors, 20_000, seed=seed + 1))
    prior_sd = np.array([np.std(on_scale(prior[q], scales[j])) for j, q in enumerate(names)])
    shapes = tuple(expected_shapes(table))
    keep = settings.kept_index()
    shape = (n_fits, len(names))
    ranks = np.zeros(shape, dtype=np.int64)
    truth_m, mean_m, sd_m, contraction = (np.full(shape, np.nan) for _ in range(4))
    fits = []
    for i in range(n_fits):
        t0 = time.perf_counter()
        s = fit_seed(seed, i)
        truth_draws = prior_draws(table, priors, 1, seed=s)
        data = simulate_data(table, one_draw(truth_draws), nu, np.random.default_rng([s, 1]))
        idata = sampler.sample_on(compiled, data, settings, s % (2**31))
        diag = posterior.diagnose(idata, free)
        draws = posterior.flat_draws(idata, shapes)
        true_values = {k: float(v[0]) for k, v in parameter_values(truth_draws).items()}
        post_values = parameter_values({k: v[keep] for k, v in draws.items()})
        tie_rng = np.random.default_rng([s, 2])
        for j, name in enumerate(names):
            values = post_values[name]
            ranks[i, j] = rank_of(true_values[name], values, tie_rng)
            truth_m[i, j] = true_values[name]
            mean_m[i, j] = float(np.mean(values))
            sd_m[i, j] = float(np.std(values))
            spread = float(np.std(on_scale(values, scales[j])))
            contraction[i, j] = 1.0 - (spread / prior_sd[j]) ** 2 if prior_sd[j] > 0 else np.nan
        record = {
            "fit": i,
            "seed": s,
            "divergences": diag.divergences,
            "r_hat_max": round(float(diag.r_hat_max), 4),
            "worst_r_hat": diag.worst_r_hat,
            "ess_bulk_min": round(float(diag.ess_bulk_min), 1),
            "worst_ess": diag.worst_ess,
            "seconds": round(time.perf_counter() - t0, 2),
            "problems": fit_problems(diag, settings.kept),
        }
        fits.append(record)
        if on_fit is not None:
            on_fit(i + 1, n_fits, record)
    return SbcResult(
        quantities=names,
        n_ranks=settings.kept,
        ranks=ranks,
        truth=truth_m,
        post_mean=mean_m,
        post_sd=sd_m,
        contraction=contraction,
        prior_sd=prior_sd,
        scales=scales,
        fits=fits,
        settings=settings,
        seed=seed,
        scenario="",
        horizon_months=0.0,
        seconds=time.perf_counter() - started,
        compile_seconds=compile_seconds,
        model="catalogue",
        design={
            "figures": int(table.n_rows),
            "continuous_figures": int(table.continuous.sum()),
            "enhancements": int(table.n_enhancements),
            "evidence_sha256": table.digest(),
        },
    )
