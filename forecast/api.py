"""The library API: what the CLI calls, and what a notebook user can call too.

A facade over the pipeline's modules; each function returns plain data (dataclasses,
dicts, numpy arrays) and none prints. A typical session (docs/api.md):

>>> from forecast import api
>>> inputs = api.resolve("frontier-api", horizon_months=12)  # doctest: +SKIP
>>> result = api.forecast(inputs)  # doctest: +SKIP
>>> result.buffer_oom, api.explain(result)["summary"]  # doctest: +SKIP
"""

from __future__ import annotations

from forecast.buffer.forecasting import ForecastResult, forecast, run_scenario
from forecast.checks.backtest import backtest
from forecast.explain.explanation import explain
from forecast.explain.prior_check import prior_check, prior_sensitivity
from forecast.explain.profiles import profile_table
from forecast.explain.summaries import enhancement_rows, hyperparameter_summary
from forecast.fit.catalogue import FittedEvidence, fit_evidence
from forecast.fit.engine import Fit, FitSettings
from forecast.inputs.priors import load_priors
from forecast.inputs.resolve import RunInputs, resolve
from forecast.simulate.uplift import simulate

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
