"""The library API: what the CLI calls, and what a notebook user can call too.

A facade over the pipeline's modules; each function returns plain data (dataclasses,
dicts, numpy arrays) and none prints. A typical session (docs/api.md):

>>> from forecast import api
>>> inputs = api.resolve("frontier-api", horizon_months=12)  # doctest: +SKIP
>>> result = api.forecast(inputs)  # doctest: +SKIP
>>> result.buffer_oom, api.explain(result)["summary"]  # doctest: +SKIP
"""

from __future__ import annotations

from forecast.backtest import backtest
from forecast.checks import prior_check, prior_sensitivity
from forecast.explain import explain
from forecast.fit import Fit, FitSettings
from forecast.forecasting import (
    FittedEvidence,
    ForecastResult,
    fit_evidence,
    forecast,
    run_scenario,
    simulate,
)
from forecast.inputs import RunInputs, resolve
from forecast.priors import load_priors
from forecast.profiles import profile_table
from forecast.summaries import enhancement_rows, hyperparameter_summary

__all__ = [
    "Fit",
    "FitSettings",
    "FittedEvidence",
    "ForecastResult",
    "RunInputs",
    "backtest",
    "enhancement_rows",
    "explain",
    "fit_evidence",
    "forecast",
    "hyperparameter_summary",
    "load_priors",
    "prior_check",
    "prior_sensitivity",
    "profile_table",
    "resolve",
    "run_scenario",
    "simulate",
]
