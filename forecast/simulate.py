"""Forward simulation of capability uplift U(t) in OOM (stage 3 of the pipeline).

For each posterior draw and each time step:

    U(t) = S(G(E u A u N(t)) - G(E))

E are the catalogue enhancements the evaluation already applied, A those the actor can
apply (its access level allows them) and the evaluation did not, N(t) the enhancements
that have arrived by t; G is :func:`forecast.compose.combine` and S the soft ceiling on
the additional uplift (scaling every gain up never lowers U; more prior elicitation of
what the actor could use lowers it).
Each enhancement helps on the evaluated tasks only with probability ``relevance``.

Arrivals per category form a Poisson process with rate ``arrival_rate / catalogue_coverage``
(per year); their gains follow the category's posterior distribution, shifted by
``ceg_trend`` for their arrival date, ``scale_slope`` for the base model's compute and
``selection_bias``. Random numbers are drawn so that a longer horizon, more access or
less prior elicitation reuse the same arrivals: comparisons between scenarios are exact
per draw, not only in distribution. Pure numpy; no sampler is called.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.compose import combine, rank_discounted_sum, saturate
from forecast.evidence import REFERENCE_LOG10_FLOP, years_since_reference
from forecast.priors import PriorSet
from forecast.schemas import ACCESS_LEVELS, CATEGORIES, Catalogue, Scenario

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
#: Draws are simulated in chunks of this size; results do not depend on the total.
CHUNK = 4000
#: Priors the forward simulation draws itself (they do not enter the fit).
FORECAST_PRIORS = ("catalogue_coverage", "relevance", "uplift_ceiling", "selection_bias")


@dataclasses.dataclass(frozen=True)
class ForecastSetup:
    """A scenario reduced to the arrays the simulation needs."""

    times_months: np.ndarray  # (T,)
    log_compute: float  # base-model log10 FLOP minus the reference 23
    start_year: float  # reference date, years since 2022-06-01
    known_index: np.ndarray  # (n_known,) index into the fit's enhancements
    known_category: np.ndarray  # (n_known,)
    known_usable: np.ndarray  # (n_known,) bool: the actor's access allows it
    known_elicited: np.ndarray  # (n_known,) bool: the evaluation already applied it
    arrival_access_share: np.ndarray  # (n_categories, n_access) share of access levels
    usable_access: np.ndarray  # (n_access,) bool
    lead_months: float


def time_grid(horizon: float, step: float, extra_months=()) -> np.ndarray:
    """Months 0, step, 2*step, ... up to the horizon, plus the horizon and ``extra_months``."""
    times = set(np.arange(0, horizon + 1e-9, step).tolist()) | {float(horizon)}
    times |= {float(m) for m in extra_months}
    return np.array(sorted(times), dtype=float)


def setup_forecast(
    scenario: Scenario,
    catalogue: Catalogue,
    enhancement_ids,
    horizon_months: int | None = None,
    actor: str | None = None,
    extra_months=(),
) -> ForecastSetup:
    """Arrays for :func:`simulate_uplift` from a scenario and the fitted catalogue.

    ``extra_months`` are added to the time grid (beyond the horizon too), e.g. the
    re-evaluation periods of the policies being compared.
    """
    horizon = scenario.horizon_months if horizon_months is None else horizon_months
    actor = actor or scenario.actor
    times = time_grid(horizon, scenario.step_months, extra_months)
    ref = scenario.base_model.reference_date
    usable_access = np.array([a in ACTOR_ACCESS[actor] for a in ACCESS_LEVELS])
    by_id = {e.id: e for e in catalogue.enhancements}
    known = [
        i for i, eid in enumerate(enhancement_ids) if eid in by_id and by_id[eid].published <= ref
    ]
    elicited = scenario.already_elicited
    share = np.ones((len(CATEGORIES), len(ACCESS_LEVELS)))  # add-one smoothing
    for e in catalogue.enhancements:
        share[CATEGORIES.index(e.category), ACCESS_LEVELS.index(e.access)] += 1
    share /= share.sum(axis=1, keepdims=True)
    return ForecastSetup(
        times_months=times,
        log_compute=float(
            np.log10(scenario.base_model.training_compute_flop) - REFERENCE_LOG10_FLOP
        ),
        start_year=years_since_reference(ref),
        known_index=np.array(known, dtype=int),
        known_category=np.array(
            [CATEGORIES.index(by_id[enhancement_ids[i]].category) for i in known], dtype=int
        ),
        known_usable=np.array(
            [by_id[enhancement_ids[i]].access in ACTOR_ACCESS[actor] for i in known], dtype=bool
        ),
        known_elicited=np.array(
            [
                enhancement_ids[i] in elicited.enhancements
                or by_id[enhancement_ids[i]].category in elicited.categories
                for i in known
            ],
            dtype=bool,
        ),
        arrival_access_share=share,
        usable_access=usable_access,
        lead_months=ACTOR_LEAD_MONTHS.get(actor, 0.0),
    )


@dataclasses.dataclass(frozen=True)
class Uplift:
    """Simulated uplift: ``oom[n, t]`` for draw n at ``times_months[t]``."""

    times_months: np.ndarray
    oom: np.ndarray  # (N, T)
    arrivals: np.ndarray  # (N, T) relevant, usable arrivals by t
    elicited_oom: np.ndarray  # (N,) G(E): what the evaluation already captured

    def quantiles(self, probs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> np.ndarray:
        """(len(probs), T) quantiles of U(t) in OOM."""
        return np.quantile(self.oom, probs, axis=0)


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
        Posterior draws (``Fit.draws``): arrays with the draw on the first axis.
    priors
        Supplies the forecast-only priors (coverage, relevance, ceiling).
    seed
        Same seed, same inputs: identical output.
    """
    n_post = len(draws["ceg_global_mean"])
    n_draws = n_post if n_draws is None else int(n_draws)
    if n_draws == n_post:
        posterior_index = np.arange(n_post)
    else:
        posterior_index = np.random.default_rng([seed, 1]).integers(0, n_post, n_draws)
    chunks = []
    for c, start in enumerate(range(0, n_draws, CHUNK)):
        idx = posterior_index[start : start + CHUNK]
        chunks.append(_simulate_chunk(draws, idx, setup, priors, seed, c))
    return Uplift(
        setup.times_months, *(np.concatenate(parts) for parts in zip(*chunks, strict=True))
    )


def _simulate_chunk(draws, idx, setup: ForecastSetup, priors: PriorSet, seed: int, chunk: int):
    n = len(idx)
    times = setup.times_months
    p = {
        name: draws[name][idx]
        for name in (
            "category_mean",
            "enhancement_spread",
            "ceg_trend",
            "scale_slope",
            "composability_within",
            "composability_between",
            "arrival_rate",
            "ceg_oom",
        )
    }
    stream = {
        name: np.random.default_rng([seed, chunk, 100 + i])
        for i, name in enumerate(FORECAST_PRIORS)
    }
    forecast_params = {name: priors.prior(name).sample(stream[name], n) for name in FORECAST_PRIORS}
    coverage = np.clip(forecast_params["catalogue_coverage"], 1e-3, 1.0)
    relevance = forecast_params["relevance"]
    ceiling = forecast_params["uplift_ceiling"]
    # selection_bias has no likelihood term, so its posterior is its prior: it is drawn
    # here, and changing it needs no refit.
    shift = p["scale_slope"] * setup.log_compute + forecast_params["selection_bias"]  # (n,)
    d_w, d_b = p["composability_within"], p["composability_between"]

    # Known enhancements, grouped by category: (n, C, K_known)
    u_known = np.random.default_rng([seed, chunk, 200]).random((n, len(setup.known_index)))
    known_gain = p["ceg_oom"][:, setup.known_index] + shift[:, None]
    relevant = u_known < relevance[:, None]
    in_all = relevant & (setup.known_usable | setup.known_elicited)[None, :]
    in_elicited = relevant & setup.known_elicited[None, :]
    known_all = _by_category(known_gain, in_all, setup.known_category)
    known_elicited = _by_category(known_gain, in_elicited, setup.known_category)

    # Arrivals: (n, C, W) gains and the month the actor can first use each one.
    arrival_gain, arrival_month = _arrivals(
        p, shift, coverage, relevance, setup, seed, chunk, horizon=float(times[-1])
    )
    arrived = _count_by_step(arrival_month, times)  # (n, C, T)
    within = _within_category_over_time(known_all, arrival_gain, arrived, d_w)  # (n, T, C)
    total = rank_discounted_sum(within, d_b[:, None])
    baseline = combine(known_elicited, d_w, d_b)
    uplift = saturate(np.maximum(total - baseline[:, None], 0.0), ceiling[:, None])
    return uplift, arrived.sum(axis=1), baseline


def _count_by_step(months, times):
    """How many of ``months`` (n, C, W) are at or before each of ``times``: (n, C, T)."""
    n, n_categories, _ = months.shape
    steps = len(times)
    first_step = np.searchsorted(times, months)  # steps >= this one see it; inf -> steps
    cell = np.arange(n * n_categories).reshape(n, n_categories, 1) * (steps + 1)
    counts = np.bincount((cell + first_step).ravel(), minlength=n * n_categories * (steps + 1))
    return counts.reshape(n, n_categories, steps + 1)[..., :steps].cumsum(axis=-1)


def _within_category_over_time(known, arrival_gain, arrived, d_within):
    """Each category's rank-discounted sum at each time step, (n, T, C).

    ``known`` (n, C, K) are present throughout; the first ``arrived[n, c, t]`` columns of
    ``arrival_gain`` (n, C, M), in arrival order, have arrived by step t. The sum only
    changes when an arrival lands, so it is computed once per (draw, arrivals so far) and
    looked up for every step, instead of sorting every step.
    """
    n, n_categories, n_times = arrived.shape
    out = np.empty((n, n_times, n_categories))
    for k in range(n_categories):
        most = arrived[:, k, -1]  # steps are ascending, so the last has the most
        by_count = np.zeros((n, int(most.max(initial=0)) + 1))
        for a in range(by_count.shape[1]):
            rows = np.flatnonzero(most >= a)
            gains = np.concatenate(
                [known[rows, k], np.maximum(arrival_gain[rows, k, :a], 0.0)], axis=-1
            )
            by_count[rows, a] = rank_discounted_sum(gains, d_within[rows])
        out[:, :, k] = np.take_along_axis(by_count, arrived[:, k], axis=1)
    return out


def _by_category(gains, present, category):
    """(n, k) gains -> (n, C, K) zero-padded, grouped by category, largest first.

    Columns that are zero (absent or no gain) in every draw are dropped: G is unchanged.
    """
    n = gains.shape[0]
    counts = np.bincount(category, minlength=len(CATEGORIES))
    out = np.zeros((n, len(CATEGORIES), max(int(counts.max(initial=0)), 1)))
    slot = np.zeros(len(CATEGORIES), dtype=int)
    for j, k in enumerate(category):
        out[:, k, slot[k]] = np.where(present[:, j], np.maximum(gains[:, j], 0.0), 0.0)
        slot[k] += 1
    out = -np.sort(-out, axis=-1)
    keep = max(int((out > 0).sum(axis=-1).max(initial=0)), 1)
    return out[..., :keep]


def _arrival_times(stream, rate, window, block=16, most=2000):
    """Unit-rate arrival times, (M, n), until every draw has passed ``window`` (months).

    Unit-rate exponential gaps, time-changed by each draw's rate. Gaps are drawn in blocks
    of rows from one stream, so row j is the same however many rows are needed.
    """
    n = len(rate)
    rows, total = [], np.zeros(n)
    while True:
        gaps = stream.exponential(size=(block, n))
        cumulative = total + np.cumsum(gaps, axis=0)
        rows.append(cumulative)
        total = cumulative[-1]
        if (total / rate * 12.0 > window).all() or len(rows) * block >= most:
            break
    return np.concatenate(rows, axis=0)


def _arrivals(p, shift, coverage, relevance, setup: ForecastSetup, seed, chunk, horizon):
    """Usable arrivals in arrival order: gains and usable-from months, (n, C, W).

    Slots past a draw's last usable arrival hold month inf. The j-th arrival of category k
    uses the j-th row of streams keyed by (seed, chunk, k), so the first arrivals are the
    same whatever the horizon.
    """
    n = len(shift)
    window = horizon + MAX_LEAD_MONTHS
    rate = p["arrival_rate"] / coverage[:, None]  # (n, C) per year
    cumulative_share = np.cumsum(setup.arrival_access_share, axis=1)
    found = []
    for k in range(len(CATEGORIES)):
        streams = [np.random.default_rng([seed, chunk, 300 + k, q]) for q in range(4)]
        unit_time = _arrival_times(streams[0], rate[:, k], window)  # (M, n)
        inside = unit_time / rate[:, k] * 12.0 <= window
        rows = np.flatnonzero(inside.any(axis=1))
        shape = (rows[-1] + 1 if len(rows) else 1, n)
        # The other streams are drawn for these rows only (row j is the same whatever the
        # number of rows); after drawing, only the arrivals inside the window are used.
        z = streams[1].standard_normal(shape)
        u_access = streams[2].random(shape)
        u_relevant = streams[3].random(shape)
        i, j = np.nonzero(inside[: shape[0]].T)  # by draw, then in arrival order
        level = np.minimum(
            np.searchsorted(cumulative_share[k], u_access[j, i]), len(ACCESS_LEVELS) - 1
        )
        usable = setup.usable_access[level] & (u_relevant[j, i] < relevance[i])
        i, j = i[usable], j[usable]
        slot = np.arange(len(i)) - np.searchsorted(i, i)  # order among the draw's usable ones
        month = unit_time[j, i] / rate[i, k] * 12.0
        year = setup.start_year + month / 12.0
        mean = p["category_mean"][i, k] + p["ceg_trend"][i] * year + shift[i]
        gains = mean + p["enhancement_spread"][i] * z[j, i]
        found.append((i, slot, gains, month - setup.lead_months))
    width = max(1, *(int(slot.max(initial=-1)) + 1 for _, slot, _, _ in found))
    gains = np.zeros((n, len(CATEGORIES), width))
    months = np.full((n, len(CATEGORIES), width), np.inf)
    for k, (i, slot, g, mo) in enumerate(found):
        gains[i, k, slot] = g
        months[i, k, slot] = mo
    return gains, months
