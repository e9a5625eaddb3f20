"""What the priors alone imply: the buffer without evidence and the prior predictive check.

Both start from a :class:`~forecast.buffer.forecasting.ForecastResult` and re-simulate its
scenario from draws of the uplift model's priors
(:func:`forecast.fit.prior_draws.uplift_prior_draws`), with the same seed and number of
draws, so differences are the evidence's alone. Nothing prints.
"""

from __future__ import annotations

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.core.units import plain_summary
from forecast.fit.prior_draws import uplift_prior_draws
from forecast.simulate.uplift import simulate

QUANTILES = (0.05, 0.5, 0.95)
#: Parameters the prior check summarises.
SUMMARISED = ("event_rate", "rate_decay_months", "increment_mean", "attention_spread", "eval_slope")


def prior_uplift(result: ForecastResult):
    """U(t) for the scenario from parameter draws of the priors alone (no evidence)."""
    n = result.uplift.oom.shape[0]
    draws = uplift_prior_draws(result.fits.histories_priors, n, result.seed)
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
        "prior_parameters": {name: plain_summary(draws[name]) for name in SUMMARISED},
        "confidence": result.confidence,
        "prior_buffer_oom": float(
            np.quantile(uplift.oom[:, result.horizon_index], result.confidence)
        ),
        "posterior_buffer_oom": result.buffer_oom,
        "diagnostics": result.fits.histories.diagnostics.to_dict(),
    }
