"""The ``forecast run --json`` document of a forecast (schema: docs/json-schema.md).

:func:`result_document` turns a :class:`~forecast.buffer.forecasting.ForecastResult` and its
explanation (computed by :mod:`forecast.explain`, passed in) into plain data; every other
rendering (text, Markdown, HTML, figures, the export bundle) starts from this document.
:func:`bundle_documents` adds it, and the calibration summaries, to the explain stage's
documents of a review. Pure: nothing prints or writes files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecast.core.units import multiplier
from forecast.fit.diagnostics import combined
from forecast.report.calibration import calibration_summary

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_KEYS = ("q05", "q25", "q50", "q75", "q95")


def uplift_rows(result) -> list[dict]:
    """One row per time step: uplift quantiles in OOM and as multipliers."""
    uplift = result.reported
    q = uplift.quantiles(QUANTILES)
    upper = np.quantile(uplift.oom, result.confidence, axis=0)
    rows = []
    for t, month in enumerate(uplift.times_months):
        row = {"month": float(month)}
        row |= {k: float(q[i, t]) for i, k in enumerate(QUANTILE_KEYS)}
        row |= {f"{k}_multiplier": multiplier(q[i, t]) for i, k in enumerate(QUANTILE_KEYS)}
        row["upper_at_confidence"] = float(upper[t])
        row["mean_events"] = float(uplift.events[:, t].mean())
        rows.append(row)
    return rows


def result_document(result, explanation: dict | None = None) -> dict:
    """The JSON document of ``forecast run --json`` (schema in docs/json-schema.md).

    ``explanation`` (:func:`forecast.explain.explanation.explain`) is included when given.
    """
    lo, hi = result.buffer_interval()
    doc = {
        "scenario": result.scenario.name,
        "title": result.scenario.title,
        "actor": result.actor,
        "profile": result.inputs.profile or "central",
        "base_model": result.scenario.base_model.model_dump(mode="json"),
        "already_elicited": result.scenario.already_elicited.model_dump(mode="json"),
        "extrapolation": result.scenario.extrapolation.model_dump(mode="json"),
        "horizon_months": result.horizon_months,
        "confidence": result.confidence,
        "units": {
            "uplift": "OOM (log10 of the compute-equivalent multiplier)",
            "multiplier": "10**OOM",
        },
        "uplift": uplift_rows(result),
        "buffer": {
            "oom": result.buffer_oom,
            "multiplier": multiplier(result.buffer_oom),
            "quantile": result.confidence,
            "month": result.horizon_months,
            "mc_interval_oom": [lo, hi],
            "draws": int(result.uplift.oom.shape[0]),
            "posterior_draws": result.fits.histories.n_draws,
            "effective_posterior_draws": result.fits.histories.effective_draws,
        },
        "evals": result.evals,
        "policies": result.policies,
        "reevaluation_months": {k: v["months"] for k, v in result.reevaluation.items()},
        "reevaluation": result.reevaluation,
        "diagnostics": combined(
            {
                "histories": result.fits.histories.diagnostics,
                "catalogue": result.fitted.diagnostics,
            }
        ),
        "provenance": result.provenance,
    }
    doc["warnings"] = list(result.warnings)
    if explanation is not None:
        doc["buffer"]["prior_only_oom"] = explanation["prior_only_buffer_oom"]
        doc["headline"] = explanation["headline"]
        doc["explanation"] = explanation
    return doc


def bundle_documents(result, reviewed: dict, calibration: Sequence[tuple[str, dict]] = ()) -> dict:
    """The documents of a review bundle for ``result``: the run document with the
    explanation, the explain stage's documents ``reviewed``
    (:func:`forecast.explain.review.review_documents`: ``explanation``, ``sensitivity``,
    ``profiles``, ``prior_check``), and one summary per calibration document
    (``(name, document)`` pairs of ``forecast check sbc``, ``forecast check figures`` or
    ``forecast backtest``: :func:`forecast.report.calibration.calibration_summary`).

    Returns ``run``, ``explanation``, ``sensitivity``, ``profiles``, ``prior_check`` and
    ``calibration``; nothing is recomputed.
    """
    return {
        "run": result_document(result, reviewed["explanation"]),
        **{k: reviewed[k] for k in ("explanation", "sensitivity", "profiles", "prior_check")},
        "calibration": [calibration_summary(name, doc) for name, doc in calibration],
    }
