"""Backtests: forecasts made from a past date, set beside what was measured later.

Pure apart from running the forecast (no printing, no files written).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from forecast.errors import InputError
from forecast.forecasting import run_scenario


def backtest(
    as_of: dt.date,
    scenario: str | Path | None = "gpt4-2023-03",
    seed: int = 0,
    measurements: str | Path | None = None,
    **run_options,
) -> dict:
    """Forecast from ``as_of`` with the catalogue cut there; set it beside later measurements.

    Each eval's ``compare_with`` names measurements (the shipped files, plus the user's
    ``measurements`` file) taken after ``as_of``; the forecast score at that month is
    compared with what was measured. (:func:`forecast.measurements.backtest_pairs` lists
    every before/after pair a backtest could use.)
    """
    import math

    from forecast.evidence import load_catalogue
    from forecast.measurements import load_measurements
    from forecast.scenarios import load_scenario

    catalogue = load_catalogue(
        run_options.get("evidence"), shipped=run_options.get("shipped_evidence", True)
    )
    measured = {m.id: m for m in load_measurements(measurements, catalogue=catalogue).measurements}
    loaded = load_scenario(scenario)
    later = []
    for spec in loaded.scenario.evals:
        for mid in spec.compare_with:
            if mid not in measured:
                from forecast.files import suggest

                raise InputError(
                    f"unknown measurement {mid!r}{suggest(mid, list(measured))}",
                    str(loaded.path),
                    f"evals.{spec.name}.compare_with",
                )
            later.append((spec.name, measured[mid]))
    months_needed = [
        (m.measured - as_of).days / 30.44 for _, m in later if m.measured and m.measured > as_of
    ]
    horizon = max([loaded.scenario.horizon_months, *[math.ceil(x) for x in months_needed]])
    run_options.setdefault("horizon_months", horizon)
    result = run_scenario(
        scenario,
        seed=seed,
        as_of=as_of,
        reference_date=as_of,
        measurements=measurements,
        **run_options,
    )
    evals = {e["name"]: e for e in result.evals}
    rows = []
    for name, m in later:
        point = m.score.point if m.score is not None else None
        months = (m.measured - as_of).days / 30.44 if m.measured else None
        row = {
            "eval": name,
            "measurement": m.id,
            "model": m.model,
            "agent": m.agent,
            "metric": m.metric,
            "measured_on": m.measured.isoformat() if m.measured else None,
            "date_precision": m.date_precision,
            "months_after": round(months, 1) if months is not None else None,
            "measured": point,
            "measured_plus_minus": m.score.plus_minus if m.score is not None else None,
            "where": m.where,
        }
        e = evals[name]
        if point is None:
            row |= {"verdict": "the source prints no score: not a test"}
        elif months is None:
            row |= {"verdict": "the source gives no measurement date: not a test"}
        elif m.measured <= as_of:
            row |= {"verdict": "measured before the as-of date: not a test"}
        elif e["kind"] != "aggregate":
            row |= {"verdict": "only aggregate evals can be compared with a measured score"}
        else:
            grid = e["months"]
            q = {k: float(np.interp(months, grid, v)) for k, v in e["score_over_time"].items()}
            inside = q["q05"] <= point <= q["q95"]
            row |= {
                "forecast_q05": q["q05"],
                "forecast_q50": q["q50"],
                "forecast_q95": q["q95"],
                "inside_90": inside,
                "verdict": "inside the forecast's 90% interval"
                if inside
                else ("above" if point > q["q95"] else "below") + " the forecast's 90% interval",
            }
        rows.append(row)
    return {
        "scenario": result.scenario.name,
        "as_of": as_of.isoformat(),
        "catalogue_enhancements": len(result.fitted.catalogue.enhancements),
        "buffer_oom": result.buffer_oom,
        "horizon_months": result.horizon_months,
        "comparisons": rows,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }
