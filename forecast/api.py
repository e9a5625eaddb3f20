"""The library API: what the CLI calls, and what a notebook user can call too.

A facade over the pipeline's modules; each function returns plain data (dataclasses,
dicts, numpy arrays) and none prints. A typical session (docs/api.md):

>>> from forecast import api
>>> inputs = api.resolve("frontier-api", horizon_months=12)  # doctest: +SKIP
>>> result = api.forecast(inputs)  # doctest: +SKIP
>>> result.buffer_oom, api.explain(result)["summary"]  # doctest: +SKIP

The stages are called in order and each hands its results down as data: ``resolve``
(inputs) -> ``forecast`` (fit, simulate, buffer) -> ``explain`` and the rest of the
explain stage -> the report, which renders what it is given. :func:`review` is that chain
for a reviewer's bundle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from forecast.buffer.forecasting import ForecastResult, forecast, run_scenario
from forecast.checks.backtest import backtest
from forecast.explain.explanation import explain
from forecast.explain.prior_check import prior_check
from forecast.explain.profiles import profile_table
from forecast.explain.review import review_documents
from forecast.explain.sensitivity import prior_sensitivity
from forecast.explain.summaries import enhancement_rows, hyperparameter_summary
from forecast.fit.catalogue import FittedEvidence, fit_evidence
from forecast.fit.engine import Fit, FitSettings
from forecast.inputs.priors import load_priors
from forecast.inputs.resolve import RunInputs, resolve
from forecast.report.document import bundle_documents, result_document
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
    "result_document",
    "review",
    "run_scenario",
    "simulate",
]


def review(
    result: ForecastResult,
    calibration: Sequence[tuple[str, dict]] = (),
    *,
    quick_sensitivity: bool = False,
    profiles: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Everything a reviewer of ``result`` needs, computed once: the documents of the
    export bundle (``forecast export``; write them with
    :func:`forecast.report.export.write_bundle`).

    The explain stage computes the explanation, the sensitivity ranking (the full one, or
    the shifts only with ``quick_sensitivity``), the buffer under each shipped profile
    (unless ``profiles`` is False) and the prior predictive check
    (:func:`forecast.explain.review.review_documents`); the report stage adds the
    ``run --json`` document and a summary of each ``(name, document)`` pair of
    ``calibration`` (:func:`forecast.report.document.bundle_documents`).

    Returns
    -------
    dict
        ``run``, ``explanation``, ``sensitivity``, ``profiles``, ``prior_check`` and
        ``calibration``.
    """
    reviewed = review_documents(
        result, quick_sensitivity=quick_sensitivity, profiles=profiles, log=log
    )
    return bundle_documents(result, reviewed, calibration)
