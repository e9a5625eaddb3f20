"""What drives the buffer: the same forecast with one assumption changed at a time.

Every row and curve re-simulates the result's scenario from the same posterior draws and
seed, so differences are the changed assumption's alone. Used by docs/method.md ("What
drives the buffer") and by anyone who wants to see how far an assumption carries the number.
Nothing prints; no refit (a changed prior of the uplift model is served by PSIS reweighting,
as ``--prior`` does, or refitted when that is unreliable).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from forecast.buffer.forecasting import ForecastResult
from forecast.core.schemas.scenario import Elicited
from forecast.explain.sensitivity import buffer_with


def _with_scenario(result: ForecastResult, **update):
    scenario = result.inputs.scenario.model_copy(update=update)
    return dataclasses.replace(result.inputs, scenario=scenario)


def _with_trend(result: ForecastResult, trend: str, **base_fields):
    """The result's inputs with the trend mode (and base-model ``base_fields``) changed."""
    scenario = result.inputs.scenario
    update = {"extrapolation": scenario.extrapolation.model_copy(update={"trend": trend})}
    if base_fields:
        update["base_model"] = scenario.base_model.model_copy(update=base_fields)
    return _with_scenario(result, **update)


def _with_base(result: ForecastResult, **fields):
    base = result.inputs.scenario.base_model.model_copy(update=fields)
    return _with_scenario(result, base_model=base)


def what_drives(result: ForecastResult) -> list[dict]:
    """The buffer with one assumption changed, all else equal (same draws, same seed)."""
    from forecast.explain.prior_check import prior_buffer

    scenario = result.inputs.scenario
    reference = scenario.base_model.reference_date
    released = scenario.base_model.released
    later = {
        "reference_date": reference.replace(year=reference.year + 4),
        "released": None if released is None else released.replace(year=released.year + 4),
    }
    rows = [
        ("nothing (the default assumptions)", result.buffer_oom),
        ("calendar trend past the histories frozen (the default)",
         buffer_with(result, inputs=_with_trend(result, "frozen"))),
        ("calendar trend past the histories damped (fades over about a year)",
         buffer_with(result, inputs=_with_trend(result, "damped"))),
        ("calendar trend past the histories linear (continues)",
         buffer_with(result, inputs=_with_trend(result, "linear"))),
        ("reference date four years later (nothing else changed)",
         buffer_with(result, inputs=_with_base(result, **later))),
        ("the model released a year before its evaluation",
         buffer_with(result, inputs=_with_base(
             result, released=reference.replace(year=reference.year - 1)))),
        ("the evaluation applied nothing",
         buffer_with(result, inputs=_with_scenario(result, already_elicited=Elicited()))),
        ("the evaluation applied every category",
         buffer_with(result, inputs=_with_scenario(result, already_elicited=Elicited(
             categories=["tool", "prompting", "scaffolding", "solution_choice", "data"])))),
        ("the actor has the weights (open_weights)",
         buffer_with(result, inputs=_with_scenario(result, actor="open_weights"))),
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
    each trend mode; the model is evaluated at release (its age is kept)."""
    age = result.inputs.scenario.base_model.age_months
    rows = []
    for year in years:
        day = dt.date(year, 1, 1)
        released = None if age == 0 else day - dt.timedelta(days=round(age * 30.44))
        row = {"reference_date": day.isoformat()}
        for mode in modes:
            inputs = _with_trend(result, mode, reference_date=day, released=released)
            row[mode] = buffer_with(result, inputs=inputs)
        rows.append(row)
    return rows


def age_curve(result: ForecastResult, ages=(0, 3, 6, 12, 18, 24, 36)) -> list[dict]:
    """The buffer against the model's age at its evaluation (months since release)."""
    reference = result.inputs.scenario.base_model.reference_date
    rows = []
    for months in ages:
        released = reference - dt.timedelta(days=round(months * 30.44))
        inputs = _with_base(result, released=released)
        rows.append({"age_months": months, "buffer_oom": buffer_with(result, inputs=inputs)})
    return rows
