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

from forecast.core.schemas.common import CATEGORIES
from forecast.fit.compose import combine, rank_discounted_sum, saturate
from forecast.inputs.policies import policy_months
from forecast.inputs.priors import PriorSet
from forecast.inputs.resolve import RunInputs
from forecast.simulate.arrivals import simulate_arrivals
from forecast.simulate.setup import ForecastSetup, scale_target, setup_forecast, trend_years

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


def simulate(
    inputs: RunInputs, posterior_draws: dict, *, seed: int = 0, draws: int | None = None,
    priors: PriorSet | None = None, months=None,
) -> Uplift:  # fmt: skip
    """U(t) for the inputs' scenario from posterior draws (the policies' periods included).

    ``priors`` replaces the inputs' forecast priors (sensitivity, profiles); ``months``
    replaces the time grid (e.g. the horizon alone).
    """
    setup = setup_forecast(
        inputs.scenario,
        inputs.catalogue,
        inputs.table,
        extra_months=policy_months(inputs.policies),
    )
    if months is not None:
        setup = dataclasses.replace(setup, times_months=np.asarray(months, dtype=float))
    return simulate_uplift(posterior_draws, setup, priors or inputs.priors, draws, seed)


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """Chunks joined along the draws; gains grouped by category are zero-padded to one width."""
    if parts[0].ndim == 3:
        width = max(p.shape[-1] for p in parts)
        parts = [np.pad(p, ((0, 0), (0, 0), (0, width - p.shape[-1]))) for p in parts]
    return np.concatenate(parts)


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
    gain, month, usable, gap_absorbed = simulate_arrivals(
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
