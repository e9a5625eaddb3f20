"""Forward simulation of capability uplift U(t) in OOM (stage 3 of the pipeline).

For each posterior draw and each time step (docs/method.md, "The forecast"):

    U(t) = S(G(B u A u N(t)) - G(B))

- B, the baseline: what the measured score already contains. The enhancements the evaluation
  applied (``already_elicited``), those the scenario says the base model absorbed
  (``absorbed``), and every enhancement published a years before the reference date that
  has been absorbed with probability 1 - exp(-a / absorption_years).
- A, available now: enhancements published before the reference date, not in B, that the
  actor's access allows. They come from the catalogue and from the *gap*: enhancements
  simulated between the end of the evidence and the reference date by the same arrival
  process (the catalogue cannot list them, but they exist).
- N(t): enhancements arriving after the reference date, usable by the actor.
- G is :func:`forecast.fit.compose.combine`, S the soft ceiling on the additional uplift.

Each enhancement helps the evaluated tasks only with probability ``relevance``. Arrivals per
category are a Cox process: rate ``arrival_rate / catalogue_coverage`` times a Gamma(d, d)
multiplier per half year (d = ``arrival_dispersion``), the continuous-time counterpart of the
negative binomial the fit uses. An arrival's access level is drawn from a Dirichlet
posterior of the catalogue's access shares in its category.

Gains are carried to the scenario's date and base model by modes that stay within what the
evidence supports:

- trend (``frozen`` / ``damped`` / ``linear``): the fitted ``ceg_trend`` applies within the
  evidence's dates; beyond the last record it is 0 (frozen), fades with time constant
  ``trend_fade_years`` (damped, the default) or continues (linear).
- scale (``clamp`` / ``linear`` / ``off``): the within-enhancement ``scale_slope`` carries a
  gain to the base model's compute, but only within the evidence's compute range (clamp, the
  default); beyond it each draw adds a shift with standard deviation
  ``scale_extrapolation_sd`` per OOM past the data. ``linear`` extrapolates the slope;
  ``off`` ignores scale.

Random numbers are drawn in a fixed layout so that a longer horizon, more access or more
prior elicitation reuse the same arrivals: comparisons between scenarios are exact per draw.
Pure numpy; no sampler is called.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.core.errors import InputError
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import ACCESS_LEVELS, CATEGORIES
from forecast.core.schemas.scenario import Scenario
from forecast.evidence.table import (
    REFERENCE_LOG10_FLOP,
    EvidenceTable,
    date_of_year,
    years_since_reference,
)
from forecast.fit.compose import combine, rank_discounted_sum, saturate
from forecast.inputs.priors import PriorSet

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
FORECAST_PRIORS = (
    "catalogue_coverage",
    "uplift_ceiling",
    "absorption_years",
    "trend_fade_years",
    "scale_extrapolation_sd",
)
#: Arrival-rate multipliers are redrawn every this many years (as the fit's count bins).
BLOCK_YEARS = 0.5
#: Most arrivals of one category one draw simulates over the window (the gap and the
#: horizon); later ones are dropped. The defaults give about 10-30 on average and more than
#: 256 in under 0.1% of draws (whose 256 best arrivals, rank-discounted, already set G).
MAX_ARRIVALS = 256
#: Largest share of draws allowed to reach :data:`MAX_ARRIVALS` in a category (the defaults
#: reach it in about 1% of draws at a 10-year horizon, where a cap of 2048 gives the same
#: buffer to 3 decimals). A
#: `catalogue_coverage` prior with mass near 0 multiplies arrivals without bound; rather than
#: truncate many draws silently, the run is refused (docs/reliability.md).
MAX_TRUNCATED_SHARE = 0.05


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


@dataclasses.dataclass(frozen=True)
class Uplift:
    """Simulated uplift: ``oom[n, t]`` for draw n at ``times_months[t]``.

    ``drivers`` holds per-draw quantities that explain the draw (for
    :mod:`forecast.explain.decompose`): arrivals, the ceiling, the trend and scale shifts, and
    the gains present at the last time step, grouped by category.
    """

    times_months: np.ndarray
    oom: np.ndarray  # (N, T)
    arrivals: np.ndarray  # (N, T) relevant, usable arrivals after the reference date by t
    baseline_oom: np.ndarray  # (N,) G(B): what the measured score already contains
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
            arrivals=self.arrivals[:, :end],
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
        Posterior draws (``Fit.draws``): arrays with the draw on the first axis.
    priors
        Supplies the forecast-only priors (:data:`FORECAST_PRIORS`).
    seed
        Same seed, same inputs: identical output.
    """
    n_post = len(draws["ceg_global_mean"])
    n_draws = n_post if n_draws is None else int(n_draws)
    if n_draws == n_post:
        posterior_index = np.arange(n_post)
    else:
        posterior_index = np.random.default_rng([seed, 1]).integers(0, n_post, n_draws)
    chunks = [
        _simulate_chunk(draws, posterior_index[start : start + CHUNK], setup, priors, seed, c)
        for c, start in enumerate(range(0, n_draws, CHUNK))
    ]
    for c, start in enumerate(range(0, n_draws, CHUNK)):
        chunks[c][3]["posterior_index"] = posterior_index[start : start + CHUNK]
    drivers = {key: _stack([chunk[3][key] for chunk in chunks]) for key in chunks[0][3]}
    return Uplift(
        setup.times_months,
        np.concatenate([chunk[0] for chunk in chunks]),
        np.concatenate([chunk[1] for chunk in chunks]),
        np.concatenate([chunk[2] for chunk in chunks]),
        drivers,
    )


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """Chunks joined along the draws; gains grouped by category are zero-padded to one width."""
    if parts[0].ndim == 3:
        width = max(p.shape[-1] for p in parts)
        parts = [np.pad(p, ((0, 0), (0, 0), (0, width - p.shape[-1]))) for p in parts]
    return np.concatenate(parts)


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


def _simulate_chunk(draws, idx, setup: ForecastSetup, priors: PriorSet, seed: int, chunk: int):
    n = len(idx)
    times = setup.times_months
    names = (
        "category_mean", "enhancement_spread", "ceg_trend", "scale_slope",
        "composability_within", "composability_between", "arrival_rate",
        "arrival_dispersion", "relevance", "ceg_oom", "enhancement_compute",
    )  # fmt: skip
    p = {name: draws[name][idx] for name in names}
    stream = {
        name: np.random.default_rng([seed, chunk, 100 + i])
        for i, name in enumerate(FORECAST_PRIORS)
    }
    fp = {name: priors.prior(name).sample(stream[name], n) for name in FORECAST_PRIORS}
    coverage = np.clip(fp["catalogue_coverage"], 1e-3, 1.0)
    relevance = p["relevance"]
    d_w, d_b = p["composability_within"], p["composability_between"]

    # Scale: carried with the within-enhancement slope up to the target compute, plus a
    # shift growing with the OOM beyond the evidence (clamp mode).
    target, beyond = scale_target(setup)
    extrapolation = (
        np.random.default_rng([seed, chunk, 700]).standard_normal(n)
        * fp["scale_extrapolation_sd"]
        * beyond
    )
    if setup.scale_mode == "off":
        known_shift = np.zeros((n, len(setup.known_index)))
        arrival_shift = np.zeros(n)
    else:
        slope = p["scale_slope"][:, None]
        known_shift = slope * (target - p["enhancement_compute"][:, setup.known_index])
        arrival_shift = p["scale_slope"] * (target - setup.compute_center)
    known_shift = known_shift + extrapolation[:, None]
    arrival_shift = arrival_shift + extrapolation

    # Known enhancements: relevant, absorbed by the reference date, elicited, usable.
    k = len(setup.known_index)
    u_known = np.random.default_rng([seed, chunk, 200]).random((n, k))
    u_absorb = np.random.default_rng([seed, chunk, 210]).random((n, k))
    known_gain = p["ceg_oom"][:, setup.known_index] + known_shift
    relevant = u_known < relevance[:, None]
    absorbed = u_absorb < -np.expm1(-setup.known_age[None, :] / fp["absorption_years"][:, None])
    in_baseline = relevant & (absorbed | setup.known_absorbed | setup.known_elicited)
    available = relevant & ~in_baseline & setup.known_usable
    known_base = _by_category(known_gain, in_baseline, setup.known_category)
    known_avail = _by_category(known_gain, available, setup.known_category)

    # Arrivals from the end of the evidence to the horizon: (n, C, W) gains, months (from the
    # reference date; negative = in the gap before it), usable and absorbed flags.
    gain, month, usable, gap_absorbed = _arrivals(
        p, fp, arrival_shift, coverage, setup, seed, chunk
    )
    gap = month <= 0
    gap_base = np.where(gap & gap_absorbed & (gain > 0), gain, 0.0)
    gap_avail = np.where(gap & ~gap_absorbed & usable & (gain > 0), gain, 0.0)
    later = ~gap & usable & (gain > 0)  # relevant arrivals the actor can use
    later_gain = np.where(later, gain, 0.0)
    later_month = np.where(later, month - setup.lead_months, np.inf)
    order = np.argsort(later_month, axis=-1, kind="stable")
    later_gain = np.take_along_axis(later_gain, order, axis=-1)
    later_month = np.take_along_axis(later_month, order, axis=-1)

    base = _join(known_base, gap_base)
    present = _join(base, known_avail, gap_avail)
    arrived = _count_by_step(later_month, times)  # (n, C, T)
    within = _within_category_over_time(present, later_gain, arrived, d_w)  # (n, T, C)
    total = rank_discounted_sum(within, d_b[:, None])
    baseline = combine(base, d_w, d_b, presorted=True)
    raw = np.maximum(total - baseline[:, None], 0.0)
    uplift = saturate(raw, fp["uplift_ceiling"][:, None])
    h = int(np.searchsorted(times, setup.horizon_months))
    at_horizon = arrived[:, :, h]
    width = max(int(at_horizon.max(initial=0)), 1)
    horizon_arrivals = np.where(
        np.arange(width)[None, None, :] < at_horizon[:, :, None], later_gain[..., :width], 0.0
    )
    fade = fp["trend_fade_years"]
    drivers = {
        **{f"prior:{name}": fp[name] for name in FORECAST_PRIORS},
        "ceiling": fp["uplift_ceiling"],
        "uncapped": raw[:, h],
        "trend_shift": p["ceg_trend"]
        * (trend_years(setup.start_year, setup, fade) - trend_years(setup.last_year, setup, fade)),
        "scale_shift": arrival_shift,
        "gap_available": (gap_avail > 0).sum(axis=(1, 2)),
        "gap_absorbed": (gap_base > 0).sum(axis=(1, 2)),
        "known_available": available.sum(axis=1),
        "known_absorbed": (relevant & in_baseline).sum(axis=1),
        "arrivals": at_horizon.sum(axis=1),
        "baseline_gains": base,
        "known_available_gains": known_avail,
        "gap_available_gains": _join(gap_avail),
        "arrived_gains": horizon_arrivals,
        "composability_within": d_w,
        "composability_between": d_b,
    }
    return uplift, arrived.sum(axis=1), baseline, drivers


def _join(*parts):
    """Gains grouped by category, (n, C, K_i) each, side by side, largest first, trimmed."""
    out = np.sort(np.concatenate(parts, axis=-1), axis=-1)[..., ::-1]  # a view: no copy
    keep = max(int((out > 0).sum(axis=-1).max(initial=0)), 1)
    return out[..., :keep]


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


def _unit_arrival_times(stream, expected, block=16, most=MAX_ARRIVALS):
    """Unit-rate arrival times, (M, n), until every draw has passed ``expected[n]``.

    Unit-rate exponential gaps drawn in blocks of rows from one stream, so row j is the
    same however many rows are needed (a longer horizon reuses the first arrivals). At most
    ``most`` rows: later arrivals are dropped.
    """
    n = len(expected)
    rows, total = [], np.zeros(n)
    while True:
        cumulative = total + np.cumsum(stream.exponential(size=(block, n)), axis=0)
        rows.append(cumulative)
        total = cumulative[-1]
        if (total > expected).all() or len(rows) * block >= most:
            break
    return np.concatenate(rows, axis=0)


def _arrivals(p, fp, shift, coverage, setup: ForecastSetup, seed, chunk):
    """Arrivals from the end of the evidence to the horizon, by category, in arrival order.

    Returns ``(gain, month, usable, absorbed)``, each (n, C, W): the gain (0 where the slot is
    empty or the enhancement is not relevant), the month relative to the reference date
    (negative: in the gap; ``inf`` where empty), whether the actor's access allows it, and
    (for gap arrivals) whether the base model absorbed it by the reference date.

    Intensity: rate_k / coverage times a Gamma(d, d) multiplier per half-year block from the
    end of the evidence. Unit-rate arrival times are mapped through the inverse of the
    cumulative intensity, so the j-th arrival uses row j of every stream whatever the horizon.
    """
    n = len(shift)
    start = setup.census_end
    end = setup.start_year + (setup.times_months[-1] + MAX_LEAD_MONTHS) / 12.0
    span = max(end - start, 1e-9)
    n_blocks = int(np.ceil(span / BLOCK_YEARS)) + 1
    rate = p["arrival_rate"] / coverage[:, None]  # (n, C) per year
    dispersion = p["arrival_dispersion"]
    results = []
    for k in range(len(CATEGORIES)):
        streams = [np.random.default_rng([seed, chunk, 300 + k, q]) for q in range(6)]
        # Drawn first, in a fixed amount: the same whatever the horizon.
        shares = _access_shares(
            setup.access_counts[k], np.random.default_rng([seed, chunk, 600 + k]), n
        )
        # Row b of the multipliers is the same however many blocks a horizon needs.
        multipliers = streams[4].gamma(dispersion, 1.0 / dispersion, size=(n_blocks, n)).T
        block_mass = rate[:, k : k + 1] * multipliers * BLOCK_YEARS  # (n, B)
        edges = np.concatenate([np.zeros((n, 1)), np.cumsum(block_mass, axis=1)], axis=1)
        full = int(np.floor(span / BLOCK_YEARS))
        expected = edges[:, full] + (span / BLOCK_YEARS - full) * block_mass[:, full]
        truncated = float(np.mean(expected > MAX_ARRIVALS))
        if truncated > MAX_TRUNCATED_SHARE:
            raise InputError(
                f"the arrival rate divided by catalogue_coverage implies more than "
                f"{MAX_ARRIVALS} {CATEGORIES[k]} enhancements over the {span:.1f} years "
                f"simulated in {truncated:.0%} of draws (at most "
                f"{MAX_TRUNCATED_SHARE:.0%} may reach the limit): a catalogue_coverage prior "
                "with mass near 0 (or an extreme arrival-rate prior) makes the simulation "
                "unbounded",
                "--prior",
                "priors.catalogue_coverage",
            )
        unit = _unit_arrival_times(streams[0], expected)  # (M, n)
        inside = unit <= expected[None, :]
        rows = np.flatnonzero(inside.any(axis=1))
        m = rows[-1] + 1 if len(rows) else 1
        unit = unit[:m]
        z = streams[1].standard_normal((m, n))
        u_access = streams[2].random((m, n))
        u_relevant = streams[3].random((m, n))
        u_absorb = streams[5].random((m, n))
        i, j = np.nonzero(inside[:m].T)  # by draw, then in arrival order
        # Invert each draw's piecewise-linear cumulative intensity at unit[j, i]: one
        # searchsorted over all draws, rows kept apart by an offset larger than any value.
        offset = (np.arange(n) * (edges[:, -1].max() + 1.0))[:, None]
        flat = (edges + offset).ravel()
        position = np.searchsorted(flat, unit[j, i] + offset[i, 0], side="right") - 1
        block = np.clip(position - i * (n_blocks + 1), 0, n_blocks - 1)
        within = (unit[j, i] - edges[i, block]) / np.maximum(block_mass[i, block], 1e-300)
        year = start + (block + np.clip(within, 0.0, 1.0)) * BLOCK_YEARS
        month = (year - setup.start_year) * 12.0
        level = np.minimum(
            (u_access[j, i][:, None] > np.cumsum(shares[i], axis=1)).sum(axis=1),
            len(ACCESS_LEVELS) - 1,
        )
        usable = setup.usable_access[level]
        relevant = u_relevant[j, i] < p["relevance"][i]
        trend = p["ceg_trend"][i] * trend_years(year, setup, fp["trend_fade_years"][i])
        gain = p["category_mean"][i, k] + trend + shift[i] + p["enhancement_spread"][i] * z[j, i]
        gain = np.where(relevant, np.maximum(gain, 0.0), 0.0)
        age = np.maximum(-month, 0.0) / 12.0
        absorbed = (setup.absorbed_categories[k] | setup.elicited_categories[k]) | (
            u_absorb[j, i] < -np.expm1(-age / fp["absorption_years"][i])
        )
        slot = np.arange(len(i)) - np.searchsorted(i, i)  # order among the draw's arrivals
        results.append((i, slot, gain, month, usable, absorbed))
    width = max(1, *(int(r[1].max(initial=-1)) + 1 for r in results))
    shape = (n, len(CATEGORIES), width)
    gains, out_month = np.zeros(shape), np.full(shape, np.inf)
    usable_out, absorbed_out = np.zeros(shape, bool), np.zeros(shape, bool)
    for k, (i, slot, g, mo, us, ab) in enumerate(results):
        gains[i, k, slot] = g
        out_month[i, k, slot] = mo
        usable_out[i, k, slot] = us
        absorbed_out[i, k, slot] = ab
    return gains, out_month, usable_out, absorbed_out


def _access_shares(counts: np.ndarray, stream, n: int) -> np.ndarray:
    """Per-draw access-level shares of a category: Dirichlet(1 + catalogue counts)."""
    return stream.dirichlet(1.0 + counts, size=n)
