"""What drives the buffer: the same forecast with one assumption changed at a time.

Every row and curve re-simulates the result's scenario from the same posterior draws and
seed, so differences are the changed assumption's alone. Used by docs/method.md ("What
drives the buffer") and by anyone who wants to see how far an assumption carries the
number. Nothing prints; no refit (fit priors are changed by PSIS reweighting, as `--prior`
does).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.core.schemas.scenario import Absorbed, Elicited
from forecast.simulate.uplift import simulate


def _buffer(result: ForecastResult, inputs=None, priors=None, draws=None) -> float:
    inputs = inputs or result.inputs
    u = simulate(
        inputs,
        draws if draws is not None else result.fitted.fit.draws,
        seed=result.seed,
        priors=priors,
        months=[float(inputs.horizon_months)],
    )
    return float(np.quantile(u.oom[:, 0], inputs.confidence))


def _with_scenario(result: ForecastResult, **update):
    scenario = result.inputs.scenario.model_copy(update=update)
    return dataclasses.replace(result.inputs, scenario=scenario)


def _with_modes(result: ForecastResult, **modes):
    extrapolation = result.inputs.scenario.extrapolation.model_copy(update=modes)
    return _with_scenario(result, extrapolation=extrapolation)


def _with_base(result: ForecastResult, modes: dict | None = None, **fields):
    """The result's inputs with base-model ``fields`` changed (and extrapolation ``modes``)."""
    scenario = result.inputs.scenario
    update = {"base_model": scenario.base_model.model_copy(update=fields)}
    if modes:
        update["extrapolation"] = scenario.extrapolation.model_copy(update=modes)
    return _with_scenario(result, **update)


def what_drives(result: ForecastResult) -> list[dict]:
    """The buffer with one assumption changed, all else equal (same draws, same seed)."""
    from forecast.evidence.table import date_of_year
    from forecast.explain.prior_check import prior_buffer
    from forecast.explain.sensitivity import ceiling_curve

    priors = result.inputs.priors
    curve = {row["ceiling_oom"]: row["buffer_oom"] for row in ceiling_curve(result)}
    curve[float("inf")] = curve[None]
    evidence_end = date_of_year(result.fitted.table.last_year)
    rows = [
        ("nothing (the default assumptions)", result.buffer_oom),
        ("date trend past the evidence frozen",
         _buffer(result, _with_modes(result, trend="frozen"))),
        ("date trend past the evidence linear (extrapolated)",
         _buffer(result, _with_modes(result, trend="linear"))),
        ("scale slope extrapolated linearly past the largest model",
         _buffer(result, _with_modes(result, scale="linear"))),
        ("scale ignored (gains as measured on the catalogue's models)",
         _buffer(result, _with_modes(result, scale="off"))),
        ("no uplift ceiling", curve[float("inf")]),
        ("ceiling fixed at 1.5 OOM", curve[1.5]),
        ("ceiling fixed at 4 OOM", curve[4.0]),
        ("nothing absorbed (absorption_years = 1000)",
         _buffer(result, priors=priors.with_overrides({"absorption_years": "1000"}))),
        ("everything published before the reference date absorbed (absorption_years = 0.001)",
         _buffer(result, priors=priors.with_overrides({"absorption_years": "0.001"}))),
        ("reference date at the end of the evidence (no gap)",
         _buffer(result, _with_base(result, reference_date=evidence_end))),
        ("the evaluation applied nothing", _buffer(result, _with_scenario(
            result, already_elicited=Elicited(), absorbed=Absorbed()))),
        ("the prior alone (no evidence)", prior_buffer(result)),
    ]  # fmt: skip
    return [
        {"change": change, "buffer_oom": value, "difference_oom": value - result.buffer_oom}
        for change, value in rows
    ]


def reference_date_curve(
    result: ForecastResult, years=range(2024, 2033), modes=("frozen", "damped", "linear")
) -> list[dict]:
    """The buffer against the base model's reference date (1 January of each year), under
    each trend mode."""
    rows = []
    for year in years:
        day = dt.date(year, 1, 1)
        row = {"reference_date": day.isoformat()}
        for mode in modes:
            inputs = _with_base(result, {"trend": mode}, reference_date=day)
            row[mode] = _buffer(result, inputs)
        rows.append(row)
    return rows


def compute_curve(
    result: ForecastResult,
    flops=(1e24, 3e24, 1e25, 3e25, 1e26, 3e26, 1e27, 3e27, 1e28),
    modes=("clamp", "linear", "off"),
) -> list[dict]:
    """The buffer against the base model's training compute, under each scale mode."""
    rows = []
    for flop in flops:
        row = {"training_compute_flop": flop}
        for mode in modes:
            inputs = _with_base(result, {"scale": mode}, training_compute_flop=flop)
            row[mode] = _buffer(result, inputs)
        rows.append(row)
    return rows
