"""Forward simulation of the uplift U(t) in OOM (stage 3 of the pipeline).

For each draw of the uplift model's posterior (docs/method.md section 7): improvement events
arrive as a Poisson process whose intensity falls with the model's age, follows the calendar
trend within the histories' span (and the scenario's trend mode past it), is lower the more
elicitation the evaluation applied and higher the more access the actor has, all times the
draw's attention factor (LogNormal, median 1, held over the horizon); each event adds a
LogNormal jump of effective compute.
``U(t)`` is the sum of the jumps of the events up to month ``t``.

Random numbers are drawn in a fixed layout so that comparisons hold draw by draw: event j of a
draw uses row j of every stream whatever the horizon, and events are first drawn for the most
permissive state (no elicitation applied, weights access) and then kept with probability
``exp(-elicitation_effect * e + access_effect * (q - 2))``, so more access or less elicitation
keeps a superset of the events. A draw simulates at most :data:`MAX_ROWS` events exactly;
events past that add their mean jump each (under the defaults fewer than 1 in 1,000 draws at
twelve months get there; at that count the sum's spread is a few percent of its size). Pure
numpy; no sampler is called.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.fit.uplift_model import ELICITED_CENTER
from forecast.inputs.policies import policy_months
from forecast.inputs.priors import PriorSet
from forecast.inputs.resolve import RunInputs
from forecast.simulate.setup import MAX_ACCESS, ForecastSetup, calendar_offset, setup_forecast

#: Draws are simulated in chunks of this size; results do not depend on the total.
CHUNK = 4000
#: Priors the forward simulation draws itself (they do not enter a fit).
FORECAST_PRIORS = ("trend_fade_years",)
#: Resolution of the cumulative intensity (months).
FINE_STEP_MONTHS = 0.25
#: Rows of random numbers are drawn in blocks of this many (row j never depends on how many).
BLOCK = 16
#: Events simulated one by one per draw; past this each adds the mean jump.
MAX_ROWS = 512


@dataclasses.dataclass(frozen=True)
class Uplift:
    """Simulated uplift: ``oom[n, t]`` for draw n at ``times_months[t]``.

    ``events[n, t]`` counts the draw's improvement events up to ``t``; ``drivers`` holds
    per-draw quantities that explain the draw (:mod:`forecast.explain.decompose`): its
    attention factor, the rate at the reference date, its mean jump, the forecast-only
    priors' values and the posterior draw it came from.
    """

    times_months: np.ndarray
    oom: np.ndarray  # (N, T)
    events: np.ndarray  # (N, T)
    drivers: dict = dataclasses.field(default_factory=dict, repr=False)

    def quantiles(self, probs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
        """(len(probs), T) quantiles of U(t) in OOM."""
        return np.quantile(self.oom, probs, axis=0)

    def upto(self, end: int) -> Uplift:
        """The first ``end`` time steps."""
        return dataclasses.replace(
            self,
            times_months=self.times_months[:end],
            oom=self.oom[:, :end],
            events=self.events[:, :end],
        )


def simulate_uplift(
    draws: dict[str, np.ndarray],
    setup: ForecastSetup,
    priors: PriorSet,
    n_draws: int | None = None,
    seed: int = 0,
) -> Uplift:
    """Simulate U(t) for ``n_draws`` draws (default: one per posterior draw).

    Parameters
    ----------
    draws
        The uplift model's posterior draws (``Fit.draws``), the draw on the first axis.
    priors
        Supplies the forecast-only priors (:data:`FORECAST_PRIORS`).
    seed
        Same seed, same inputs: identical output.
    """
    n_post = len(draws["event_rate"])
    n_draws = n_post if n_draws is None else int(n_draws)
    if n_draws == n_post:
        posterior_index = np.arange(n_post)
    else:
        posterior_index = np.random.default_rng([seed, 1]).integers(0, n_post, n_draws)
    parts = []
    for c, start in enumerate(range(0, n_draws, CHUNK)):
        index = posterior_index[start : start + CHUNK]
        p = {name: values[index] for name, values in draws.items() if values.ndim == 1}
        parts.append(_simulate_chunk(p, setup, priors, seed, c))
    drivers = {key: np.concatenate([part[2][key] for part in parts]) for key in parts[0][2]}
    drivers["posterior_index"] = posterior_index
    return Uplift(
        setup.times_months,
        np.concatenate([part[0] for part in parts]),
        np.concatenate([part[1] for part in parts]),
        drivers,
    )


def _simulate_chunk(p: dict, setup: ForecastSetup, priors: PriorSet, seed: int, chunk: int):
    n = len(p["event_rate"])

    def stream(purpose: int) -> np.random.Generator:
        return np.random.default_rng([seed, chunk, purpose])

    fp = {
        name: priors.prior(name).sample(stream(100 + i), n)
        for i, name in enumerate(FORECAST_PRIORS)
    }
    # The intensity at the most permissive state, on a fine grid of months (the lead shifts
    # the grid: the developer sees what others publish lead_months later).
    end = float(setup.times_months[-1]) + setup.lead_months
    fine = np.arange(0.0, end + FINE_STEP_MONTHS, FINE_STEP_MONTHS)
    spread = p["attention_spread"]
    attention = np.exp(spread * stream(10).standard_normal(n))
    top = (
        attention
        * p["event_rate"]
        * np.exp(p["elicitation_effect"] * ELICITED_CENTER + p["access_effect"] * MAX_ACCESS)
    )
    calendar = calendar_offset(
        setup.year + fine[None, :] / 12.0, setup, fp["trend_fade_years"][:, None]
    )
    rate = top[:, None] * np.exp(
        -(setup.age_months + fine[None, :]) / p["rate_decay_months"][:, None]
        + p["rate_trend"][:, None] * calendar
    )
    steps = (rate[:, 1:] + rate[:, :-1]) * (FINE_STEP_MONTHS / 2.0)
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    total = cumulative[:, -1]

    # Unit-rate arrival times, in blocks of rows until every draw has passed its total.
    arrivals = stream(20)
    blocks, last = [], np.zeros(n)
    while (last <= total).any() and len(blocks) * BLOCK < MAX_ROWS:
        block = last + np.cumsum(arrivals.exponential(size=(BLOCK, n)), axis=0)
        blocks.append(block)
        last = block[-1]
    unit = np.concatenate(blocks) if blocks else np.zeros((0, n))
    rows = unit.shape[0]
    keep = _rows(stream(30), rows, n, "random") < _kept_share(p, setup)[None, :]
    z = _rows(stream(40), rows, n, "standard_normal")
    s = p["increment_spread"]
    jumps = np.exp(np.log(p["increment_mean"])[None, :] - s**2 / 2.0 + s * z)
    jumps = np.where(keep, jumps, 0.0)
    jump_sums = np.concatenate([np.zeros((1, n)), np.cumsum(jumps, axis=0)], axis=0)
    kept_counts = np.concatenate([np.zeros((1, n)), np.cumsum(keep, axis=0)], axis=0)

    at = np.clip(setup.times_months + setup.lead_months, 0.0, end)
    cumulative_at = _interp_rows(at, fine, cumulative)  # (n, T)
    index = _count_below(unit, cumulative_at)  # events among the drawn rows by each time
    oom = np.take_along_axis(jump_sums.T, index, axis=1)
    events = np.take_along_axis(kept_counts.T, index, axis=1)
    # Past the last row: the expected further events, thinned, each adding the mean jump.
    beyond = np.where(index >= rows, np.maximum(cumulative_at - last[:, None], 0.0), 0.0)
    beyond = beyond * _kept_share(p, setup)[:, None]
    oom = oom + beyond * p["increment_mean"][:, None]
    events = events + beyond
    h = int(np.searchsorted(setup.times_months, setup.horizon_months))
    kept_share = _kept_share(p, setup)
    expected_events = cumulative_at[:, h] * kept_share  # given the parameters and attention
    drivers = {
        **{f"prior:{name}": fp[name] for name in FORECAST_PRIORS},
        "attention": attention,
        "rate_at_reference": rate[:, 0] * kept_share,
        "increment_mean": p["increment_mean"],
        "expected_oom": expected_events * p["increment_mean"],
        "expected_oom_typical_attention": np.divide(
            expected_events, attention, out=np.zeros(n), where=attention > 0
        )
        * p["increment_mean"],
        "beyond_rows": (last <= total).astype(float),
    }
    return oom, events, drivers


def _kept_share(p: dict, setup: ForecastSetup) -> np.ndarray:
    """The share of the most permissive state's events this scenario keeps (at most 1)."""
    return np.exp(
        -p["elicitation_effect"] * setup.elicited + p["access_effect"] * (setup.access - MAX_ACCESS)
    )


def _rows(generator: np.random.Generator, rows: int, n: int, kind: str) -> np.ndarray:
    """``rows`` rows of ``n`` numbers, drawn in blocks so that row j is the same whatever the
    number of rows asked for."""
    draw = getattr(generator, kind)
    blocks = [draw(size=(BLOCK, n)) for _ in range(-(-rows // BLOCK))]
    return np.concatenate(blocks)[:rows] if blocks else np.zeros((0, n))


def _interp_rows(x: np.ndarray, grid: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each row of ``rows`` (values on ``grid``) interpolated linearly at the points ``x``."""
    i = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
    w = (x - grid[i]) / (grid[i + 1] - grid[i])
    return rows[:, i] * (1.0 - w) + rows[:, i + 1] * w


def _count_below(sorted_columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each draw n (a column, ascending), how many of its entries are <= values[n, k]."""
    rows, n = sorted_columns.shape
    if rows == 0:
        return np.zeros(values.shape, dtype=int)
    top = max(float(sorted_columns.max()), float(values.max())) + 1.0
    offset = np.arange(n) * top
    flat = (sorted_columns + offset[None, :]).T.ravel()
    found = np.searchsorted(flat, values + offset[:, None], side="right")
    return found - np.arange(n)[:, None] * rows


def simulate(
    inputs: RunInputs, posterior_draws: dict, *, seed: int = 0, draws: int | None = None,
    priors: PriorSet | None = None, months=None, **overrides,
) -> Uplift:  # fmt: skip
    """U(t) for the inputs' scenario from the uplift model's posterior draws (the policies'
    periods included in the grid).

    ``priors`` replaces the inputs' forecast priors (sensitivity, profiles); ``months``
    replaces the time grid (e.g. the horizon alone); ``overrides`` go to
    :func:`forecast.simulate.setup.setup_forecast` (``actor``, ``trend_mode``, ...).
    """
    setup = setup_forecast(
        inputs.scenario,
        inputs.histories,
        extra_months=policy_months(inputs.policies),
        **overrides,
    )
    if months is not None:
        setup = dataclasses.replace(setup, times_months=np.asarray(months, dtype=float))
    return simulate_uplift(posterior_draws, setup, priors or inputs.priors, draws, seed)
