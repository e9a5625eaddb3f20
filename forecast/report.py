"""Turning a forecast into documents: the JSON schema, CSV rows and the text fan chart.

Stage 5 of the pipeline. Pure functions: they build strings and dicts, they never print
or write files (the CLI and the export bundle do that).
"""

from __future__ import annotations

import numpy as np

from forecast.units import multiplier

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
        row["mean_arrivals"] = float(uplift.arrivals[:, t].mean())
        rows.append(row)
    return rows


def result_document(result) -> dict:
    """The JSON document of ``forecast run --json`` (schema in docs/json-schema.md)."""
    lo, hi = result.buffer_interval()
    fit = result.fitted.fit
    doc = {
        "scenario": result.scenario.name,
        "title": result.scenario.title,
        "actor": result.actor,
        "base_model": result.scenario.base_model.model_dump(mode="json"),
        "already_elicited": result.scenario.already_elicited.model_dump(mode="json"),
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
        },
        "evals": result.evals,
        "policies": result.policies,
        "reevaluation_months": {k: v["months"] for k, v in result.reevaluation.items()},
        "reevaluation": result.reevaluation,
        "diagnostics": fit.diagnostics.to_dict(),
        "provenance": result.provenance,
    }
    return doc


def fan_chart(rows: list[dict], width: int = 36, scale_max: float | None = None) -> list[str]:
    """One text bar per time step: ``-`` q05-q95, ``=`` q25-q75, ``|`` the median."""
    top = scale_max or max((r["q95"] for r in rows), default=1.0) or 1.0
    out = []
    for r in rows:
        cells = [" "] * width

        def pos(x: float) -> int:
            return int(round(min(max(x / top, 0.0), 1.0) * (width - 1)))

        for i in range(pos(r["q05"]), pos(r["q95"]) + 1):
            cells[i] = "─"
        for i in range(pos(r["q25"]), pos(r["q75"]) + 1):
            cells[i] = "━"
        cells[pos(r["q50"])] = "┃"
        out.append("".join(cells))
    return out
