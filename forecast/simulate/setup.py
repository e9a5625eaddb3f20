"""A scenario reduced to the numbers the simulation needs (:class:`ForecastSetup`).

The model's age and the calendar date at the evaluation, how much elicitation the evaluation
applied, the actor's access and lead, the time grid, and how the calendar trend is carried
past the histories (:func:`calendar_offset`). Pure numpy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.core.schemas.scenario import Scenario
from forecast.evidence.histories import ACCESS_LEVEL, HistoryTable, years
from forecast.fit.uplift_model import YEAR_CENTER

#: The developer's own post-training work reaches it this many months before publication.
ACTOR_LEAD_MONTHS = {"developer": 6.0}
MAX_LEAD_MONTHS = max(ACTOR_LEAD_MONTHS.values())
#: The access level events are drawn at before thinning (weights: every kind of elicitation).
MAX_ACCESS = max(ACCESS_LEVEL.values())


@dataclasses.dataclass(frozen=True)
class ForecastSetup:
    """A scenario reduced to what the simulation needs."""

    times_months: np.ndarray  # (T,) months after the reference date
    horizon_months: float  # the month the recommendation is for (in times_months)
    age_months: float  # the model's age at the reference date
    year: float  # the reference date, years since HISTORY_YEAR_ORIGIN
    elicited: float  # categories of elicitation the evaluation applied
    access: int  # the actor's access level (0 prompts, 1 fine-tuning API, 2 weights)
    lead_months: float  # the developer sees improvements this much before publication
    trend_mode: str  # frozen / damped / linear past the histories' span
    data_years: tuple[float, float]  # the span the histories cover (years)


def time_grid(horizon: float, step: float, extra_months=()) -> np.ndarray:
    """Months 0, step, 2*step, ... up to the horizon, plus the horizon and ``extra_months``."""
    times = set(np.arange(0, horizon + 1e-9, step).tolist()) | {float(horizon)}
    times |= {float(m) for m in extra_months}
    return np.array(sorted(times), dtype=float)


def setup_forecast(
    scenario: Scenario,
    histories: HistoryTable,
    horizon_months: float | None = None,
    actor: str | None = None,
    extra_months=(),
    trend_mode: str | None = None,
) -> ForecastSetup:
    """What :func:`forecast.simulate.uplift.simulate_uplift` needs for ``scenario``.

    ``extra_months`` are added to the time grid (beyond the horizon too), e.g. the
    re-evaluation periods of the policies being compared; ``trend_mode`` and ``actor``
    override the scenario's.
    """
    horizon = scenario.horizon_months if horizon_months is None else horizon_months
    actor = actor or scenario.actor
    return ForecastSetup(
        times_months=time_grid(horizon, scenario.step_months, extra_months),
        horizon_months=float(horizon),
        age_months=scenario.base_model.age_months,
        year=years(scenario.base_model.reference_date),
        elicited=elicited_in_range(scenario, histories),
        access=ACCESS_LEVEL[actor],
        lead_months=ACTOR_LEAD_MONTHS.get(actor, 0.0),
        trend_mode=trend_mode or scenario.extrapolation.trend,
        data_years=histories.year_range,
    )


def elicited_in_range(scenario: Scenario, histories: HistoryTable) -> float:
    """The categories of elicitation the evaluation applied, as the rate reads them: kept
    within the range the histories measured (their BEFORE states applied one to three), so
    the elicitation effect is never extrapolated beyond its evidence (an evaluation that
    applied nothing is read as one that applied the fewest any history did; the run warns)."""
    from forecast.evidence.histories import elicited_in_range as clip

    return clip(len(set(scenario.already_elicited.categories)), histories)


def calendar_offset(year, setup: ForecastSetup, fade_years=1.0) -> np.ndarray:
    """The calendar covariate of the rate (years from YEAR_CENTER) at ``year``.

    Within the histories' span it is ``year - YEAR_CENTER``; before it, the span's start;
    past its end the years count fully (``linear``), not at all (``frozen``) or as
    ``tau (1 - exp(-d / tau))`` with ``tau = fade_years`` (``damped``).
    """
    lo, hi = setup.data_years
    year = np.asarray(year, dtype=float)
    inside = np.clip(year, lo, hi) - YEAR_CENTER
    beyond = np.maximum(year - hi, 0.0)
    if setup.trend_mode == "linear":
        return inside + beyond
    if setup.trend_mode == "frozen":
        return inside + 0.0 * beyond
    tau = np.asarray(fade_years, dtype=float)
    return inside + tau * -np.expm1(-beyond / tau)
