"""Checks of a forecast that need no refit: the prior predictive and prior sensitivity.

Both start from a :class:`~forecast.buffer.forecasting.ForecastResult` and re-simulate its scenario
(the same seeds, so differences are the priors' alone). Nothing prints.
"""

from __future__ import annotations

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.core.units import plain_summary, quantile_summary
from forecast.simulate.uplift import simulate

QUANTILES = (0.05, 0.5, 0.95)


def prior_uplift(result: ForecastResult):
    """U(t) for the scenario from parameter draws of the priors alone (no evidence)."""
    from forecast.fit.prior_draws import prior_draws

    n = result.uplift.oom.shape[0]
    draws = prior_draws(result.fitted.table, result.inputs.priors, n, result.seed)
    return simulate(result.inputs, draws, seed=result.seed), draws


def prior_buffer(result: ForecastResult) -> float:
    """The buffer the priors alone imply (the same quantile, horizon and seed)."""
    uplift, _ = prior_uplift(result)
    return float(np.quantile(uplift.oom[:, result.horizon_index], result.confidence))


def prior_check(result: ForecastResult) -> dict:
    """Uplift quantiles over time implied by the priors alone, beside the posterior's."""
    uplift, draws = prior_uplift(result)
    end = result.horizon_index + 1
    prior_q = uplift.quantiles(QUANTILES)[:, :end]
    post_q = result.uplift.quantiles(QUANTILES)[:, :end]
    key = [f"q{int(p * 100):02d}" for p in QUANTILES]
    return {
        "scenario": result.scenario.name,
        "months": result.uplift.times_months[:end].tolist(),
        "prior": {k: prior_q[i].tolist() for i, k in enumerate(key)},
        "posterior": {k: post_q[i].tolist() for i, k in enumerate(key)},
        "prior_parameters": {
            "ceg_global_mean": quantile_summary(draws["ceg_global_mean"]),
            **{
                name: plain_summary(draws[name])
                for name in (
                    "composability_within",
                    "composability_between",
                    "scale_slope",
                    "ceg_trend",
                )
            },
        },
        "confidence": result.confidence,
        "prior_buffer_oom": float(
            np.quantile(uplift.oom[:, result.horizon_index], result.confidence)
        ),
        "posterior_buffer_oom": result.buffer_oom,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }


#: Fixed ceilings (OOM) at which :func:`ceiling_curve` gives the buffer.
CEILINGS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, float("inf"))


def ceiling_curve(result: ForecastResult, ceilings=CEILINGS) -> list[dict]:
    """The buffer if the soft ceiling were fixed at each value (None: no ceiling).

    The ceiling acts only at the end (U = S(raw, ceiling)), so each point is exact from the
    draws' uncapped uplift, without re-simulating.
    """
    from forecast.fit.compose import saturate

    raw = result.uplift.drivers["uncapped"]
    return [
        {
            "ceiling_oom": c if np.isfinite(c) else None,  # None: no ceiling at all
            "buffer_oom": float(
                np.quantile(saturate(raw, np.full_like(raw, c)), result.confidence)
            ),
        }
        for c in ceilings
    ]


def forecast_parameters(drivers: dict) -> dict:
    """Each draw's values of the forecast-only priors' parameters, by prior name."""
    prefix = "prior:"
    return {k.removeprefix(prefix): v for k, v in drivers.items() if k.startswith(prefix)}


def prior_sensitivity(result: ForecastResult, quick: bool = False) -> dict:
    """Every prior ranked by how far tightening, widening or shifting it moves the buffer.

    ``quick`` tries only the two shifts and reweights the forecast priors' draws instead of
    re-simulating (the ranking ``forecast run`` prints); the full ranking (``forecast
    sensitivity``) also tightens and widens, and re-simulates exactly.
    """
    from forecast.explain.sensitivity import VARIATIONS, sensitivity

    horizon = [float(result.horizon_months)]

    def buffer_of(prior_set) -> float:
        # Only U at the horizon matters: simulate that month alone (arrivals are drawn the
        # same whatever the time grid, so the values equal those of the full run).
        u = simulate(
            result.inputs, result.fitted.fit.draws, seed=result.seed, priors=prior_set,
            months=horizon,
        )  # fmt: skip
        return float(np.quantile(u.oom[:, 0], result.confidence))

    index = result.uplift.drivers["posterior_index"]  # each forecast draw's posterior draw
    draws = {name: values[index] for name, values in result.fitted.fit.draws.items()}
    rows, baseline = sensitivity(
        draws,
        result.inputs.priors,
        buffer_of,
        result.confidence,
        result.at_horizon,
        kinds=("shift_down", "shift_up") if quick else VARIATIONS,
        forecast_draws=forecast_parameters(result.uplift.drivers) if quick else None,
    )
    return {
        "scenario": result.scenario.name,
        "horizon_months": result.horizon_months,
        "confidence": result.confidence,
        "buffer_oom": baseline,
        "ceiling_curve": ceiling_curve(result),
        "variations": "shifts only (quick)" if quick else "tighten, widen, shift down, shift up",
        "priors": rows,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }
