"""The uplift model's predictive distribution of a history's best score at later dates.

What "score after T months" means (docs/backtest.md): from a starting state of a series (a
fixed model on a suite: the best score known then, the model's age, the elicitation applied,
the calendar date), the forward simulation (:func:`forecast.simulate.uplift.simulate_uplift`)
draws the uplift U(T) for each posterior draw; the score measured at T is

    p0 ~ Beta(k + 1/2, n - k + 1/2)                  the true rate behind the start, k = n * score
    measured ~ Binomial(n, expit(logit p0 + b_s U(T) + e)) / n,   e ~ Normal(0, harness_noise)

with ``b_s = eval_slope * exp(eval_slope_spread * z_s)`` the suite's slope (``z_s`` the fit's
draw for a suite it knows, a standard normal for one it does not: the population), and the
best score known at T is the start when no improvement event happened (U(T) = 0) and
max(start, measured) otherwise. This is the model's own story for an interval of a history
(:mod:`forecast.fit.uplift_model`), carried from the start to each later date. Pure numpy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from forecast.evidence.histories import HistoryTable, months_between, years
from forecast.inputs.priors import PriorSet
from forecast.simulate.setup import ForecastSetup
from forecast.simulate.uplift import simulate_uplift

#: Predictive draws per series (resampled from the posterior draws).
PREDICTIVE_DRAWS = 4000


@dataclasses.dataclass(frozen=True)
class Start:
    """The state a series is forecast from."""

    date: dt.date
    score: float  # the best score known then
    age_months: float  # the model's age then
    elicited: float  # categories of elicitation the best state had applied

    @property
    def year(self) -> float:
        return years(self.date)


def series_rows(table: HistoryTable) -> dict[str, list[int]]:
    """Snapshot indices of each series, in date order (the table keeps that order)."""
    out: dict[str, list[int]] = {}
    for k, s in enumerate(table.snapshots):
        out.setdefault(s.series, []).append(k)
    return out


def start_of(table: HistoryTable, rows: list[int], at: dt.date | None = None) -> Start:
    """A series' state at its baseline (``at`` None), or at the date ``at`` (its best score
    known by then: published on or before ``at``). ``rows`` are the series' snapshot indices
    in date order; at least one must end after ``at``."""
    first = rows[0]
    if at is None or at <= table.snapshots[first].baseline_date:
        s = table.snapshots[first]
        return Start(s.baseline_date, s.baseline_score, float(table.inc_age[first]),
                     float(table.inc_elicited[first]))  # fmt: skip
    after = [k for k in rows if table.snapshots[k].end > at]
    if not after:
        raise ValueError(f"series {table.snapshots[first].series!r} has nothing after {at}")
    k = after[0]  # its interval starts at the last date on or before ``at``: the state then
    s = table.snapshots[k]
    age = float(table.inc_age[k]) + months_between(s.start, at)
    return Start(at, s.best_before, age, float(table.inc_elicited[k]))


def slope_draws(
    draws: dict, index: np.ndarray, suite: int | None, rng: np.random.Generator
) -> np.ndarray:
    """The suite's eval slope in the posterior draws ``index``: its own ``z_suite`` draw when
    the fit knows the suite (``suite`` its index), else a standard normal (the population)."""
    if suite is None:
        z = rng.standard_normal(len(index))
    else:
        z = np.asarray(draws["z_suite"])[index, suite]
    return draws["eval_slope"][index] * np.exp(draws["eval_slope_spread"][index] * z)


def best_score_draws(
    draws: dict,
    start: Start,
    months: np.ndarray,
    access: int,
    n_tasks: int,
    suite: int | None,
    priors: PriorSet,
    data_years: tuple[float, float],
    *,
    trend_mode: str = "frozen",
    n: int = PREDICTIVE_DRAWS,
    seed: int = 0,
) -> np.ndarray:
    """Draws of the best score known ``months`` after ``start`` (module docstring), shape
    ``(len(months), n)``.

    ``access`` is the access level of the parties improving the series (0 prompts, 1
    fine-tuning API, 2 weights), ``suite`` the suite's index in the fit (None: a suite the fit
    has not seen), ``data_years`` the span of the histories the fit saw (the calendar trend
    is carried past it by ``trend_mode``).
    """
    months = np.asarray(months, dtype=float)
    grid = np.unique(np.concatenate([[0.0], months]))
    setup = ForecastSetup(
        times_months=grid,
        horizon_months=float(grid[-1]),
        age_months=start.age_months,
        year=start.year,
        elicited=start.elicited,
        access=int(access),
        lead_months=0.0,
        trend_mode=trend_mode,
        data_years=data_years,
    )
    uplift = simulate_uplift(draws, setup, priors, n, seed)
    index = uplift.drivers["posterior_index"]
    rng = np.random.default_rng([seed, 2])
    slope = slope_draws(draws, index, suite, rng)
    k = start.score * n_tasks
    logit0 = _logit(rng.beta(k + 0.5, n_tasks - k + 0.5, n))
    noise = draws["harness_noise"][index]
    out = np.empty((len(months), n))
    for j, m in enumerate(months):
        u = uplift.oom[:, int(np.searchsorted(grid, m))]
        rate = _expit(logit0 + slope * u + noise * rng.standard_normal(n))
        measured = rng.binomial(n_tasks, rate) / n_tasks
        out[j] = np.where(u > 0, np.maximum(start.score, measured), start.score)
    return out


def _logit(p):
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    return np.log(p) - np.log1p(-p)


def _expit(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))
