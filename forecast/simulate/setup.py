"""A scenario reduced to the arrays the simulation needs (:class:`ForecastSetup`).

Which catalogue enhancements the actor knows and can use (its access, :data:`ACTOR_ACCESS`),
what the evaluation applied and the base model absorbed, the time grid, and how gains are
carried past the evidence to the scenario's date (:func:`trend_years`) and base model
(:func:`scale_target`). Pure numpy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import ACCESS_LEVELS, CATEGORIES
from forecast.core.schemas.scenario import Scenario
from forecast.evidence.table import (
    REFERENCE_LOG10_FLOP,
    EvidenceTable,
    date_of_year,
    years_since_reference,
)

#: Which access levels each actor can use.
ACTOR_ACCESS = {
    "public_api": ("prompt",),
    "finetune_api": ("prompt", "finetune_api"),
    "open_weights": ACCESS_LEVELS,
    "stolen_weights": ACCESS_LEVELS,
    "developer": ACCESS_LEVELS,
}
#: The developer's own post-training work reaches it this many months before publication.
ACTOR_LEAD_MONTHS = {"developer": 6.0}
MAX_LEAD_MONTHS = max(ACTOR_LEAD_MONTHS.values())


@dataclasses.dataclass(frozen=True)
class ForecastSetup:
    """A scenario reduced to the arrays the simulation needs."""

    times_months: np.ndarray  # (T,)
    horizon_months: float  # the month the recommendation is for (in times_months)
    log_compute: float  # base-model log10 FLOP minus the reference 23
    start_year: float  # reference date, years since 2022-06-01
    known_index: np.ndarray  # (n_known,) index into the fit's enhancements
    known_category: np.ndarray  # (n_known,)
    known_age: np.ndarray  # (n_known,) years between publication and the reference date
    known_usable: np.ndarray  # (n_known,) bool: the actor's access allows it
    known_elicited: np.ndarray  # (n_known,) bool: the evaluation already applied it
    known_absorbed: np.ndarray  # (n_known,) bool: the scenario says the base model has it
    absorbed_categories: np.ndarray  # (n_categories,) bool: gap arrivals of these are absorbed
    elicited_categories: np.ndarray  # (n_categories,) bool: the evaluation applied these
    access_counts: np.ndarray  # (n_categories, n_access) catalogue records per access level
    usable_access: np.ndarray  # (n_access,) bool
    lead_months: float
    trend_mode: str
    scale_mode: str
    # What the evidence spans (from the EvidenceTable):
    year_center: float
    last_year: float  # the latest record: the fitted trend applies up to here
    census_end: float  # the end of the seed catalogue's window: arrivals are simulated after
    compute_center: float
    compute_range: tuple[float, float]

    @property
    def gap_years(self) -> float:
        """Years between the end of the catalogue's census and the reference date (0 if none)."""
        return max(self.start_year - self.census_end, 0.0)


def time_grid(horizon: float, step: float, extra_months=()) -> np.ndarray:
    """Months 0, step, 2*step, ... up to the horizon, plus the horizon and ``extra_months``."""
    times = set(np.arange(0, horizon + 1e-9, step).tolist()) | {float(horizon)}
    times |= {float(m) for m in extra_months}
    return np.array(sorted(times), dtype=float)


def setup_forecast(
    scenario: Scenario,
    catalogue: Catalogue,
    table: EvidenceTable,
    horizon_months: int | None = None,
    actor: str | None = None,
    extra_months=(),
    trend_mode: str | None = None,
    scale_mode: str | None = None,
) -> ForecastSetup:
    """Arrays for :func:`simulate_uplift` from a scenario and the fitted catalogue.

    ``extra_months`` are added to the time grid (beyond the horizon too), e.g. the
    re-evaluation periods of the policies being compared. ``trend_mode`` and ``scale_mode``
    override the scenario's ``extrapolation`` block.
    """
    horizon = scenario.horizon_months if horizon_months is None else horizon_months
    actor = actor or scenario.actor
    times = time_grid(horizon, scenario.step_months, extra_months)
    ref = scenario.base_model.reference_date
    usable_access = np.array([a in ACTOR_ACCESS[actor] for a in ACCESS_LEVELS])
    by_id = {e.id: e for e in catalogue.enhancements}
    ids = table.enhancement_ids
    # Known: what the catalogue lists up to the reference date, but only within the seed
    # catalogue's window; after it the catalogue is a sample, not a census, and the period
    # is simulated (the gap), so later records are not counted twice.
    census = date_of_year(table.arrival_window[1])
    known = [
        i for i, eid in enumerate(ids) if eid in by_id and by_id[eid].published <= min(ref, census)
    ]
    elicited, absorbed = scenario.already_elicited, scenario.absorbed
    counts = np.zeros((len(CATEGORIES), len(ACCESS_LEVELS)))
    for e in catalogue.enhancements:
        counts[CATEGORIES.index(e.category), ACCESS_LEVELS.index(e.access)] += 1

    def in_set(i, chosen) -> bool:
        e = by_id[ids[i]]
        return e.id in chosen.enhancements or e.category in chosen.categories

    extrapolation = scenario.extrapolation
    return ForecastSetup(
        times_months=times,
        horizon_months=float(horizon),
        log_compute=float(
            np.log10(scenario.base_model.training_compute_flop) - REFERENCE_LOG10_FLOP
        ),
        start_year=years_since_reference(ref),
        known_index=np.array(known, dtype=int),
        known_category=np.array([CATEGORIES.index(by_id[ids[i]].category) for i in known], int),
        known_age=np.array(
            [(ref - by_id[ids[i]].published).days / 365.25 for i in known], dtype=float
        ),
        known_usable=np.array([by_id[ids[i]].access in ACTOR_ACCESS[actor] for i in known], bool),
        known_elicited=np.array([in_set(i, elicited) for i in known], dtype=bool),
        known_absorbed=np.array([in_set(i, absorbed) for i in known], dtype=bool),
        absorbed_categories=np.array([c in absorbed.categories for c in CATEGORIES]),
        elicited_categories=np.array([c in elicited.categories for c in CATEGORIES]),
        access_counts=counts,
        usable_access=usable_access,
        lead_months=ACTOR_LEAD_MONTHS.get(actor, 0.0),
        trend_mode=trend_mode or extrapolation.trend,
        scale_mode=scale_mode or extrapolation.scale,
        year_center=table.year_center,
        last_year=table.last_year,
        census_end=table.arrival_window[1],
        compute_center=table.compute_center,
        compute_range=table.compute_range,
    )


def trend_years(year, setup: ForecastSetup, fade_years) -> np.ndarray:
    """The effective years of trend for an enhancement dated ``year``, by the trend mode.

    Within the evidence it is ``year - year_center``; past the last record the extra years
    count fully (linear), not at all (frozen), or as ``tau (1 - exp(-d / tau))`` (damped).
    """
    year = np.asarray(year, dtype=float)
    beyond = np.maximum(year - setup.last_year, 0.0)
    inside = np.minimum(year, setup.last_year) - setup.year_center
    if setup.trend_mode == "linear":
        return inside + beyond
    if setup.trend_mode == "frozen":
        return inside
    tau = np.asarray(fade_years, dtype=float)
    return inside + tau * -np.expm1(-beyond / tau)


def scale_target(setup: ForecastSetup) -> tuple[float, float]:
    """The compute the slope is applied up to, and the OOM beyond the data (scale mode)."""
    lo, hi = setup.compute_range
    c = setup.log_compute
    if setup.scale_mode == "clamp":
        clamped = float(np.clip(c, lo, hi))
        return clamped, abs(c - clamped)
    return c, 0.0
