"""Forward simulation on a fake posterior (no sampler): the orderings a user relies on, the
extrapolation modes, the gap before the reference date, and the arrival process."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from forecast.core.schemas.common import CATEGORIES
from forecast.core.schemas.scenario import Absorbed, Elicited, Extrapolation
from forecast.evidence.catalogue import load_catalogue
from forecast.evidence.table import build_table
from forecast.inputs.priors import load_priors
from forecast.inputs.scenarios import load_scenario
from forecast.simulate.setup import ACTOR_ACCESS, scale_target, setup_forecast, trend_years
from forecast.simulate.uplift import simulate_uplift

N = 600


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def table(catalogue):
    return build_table(catalogue)


@pytest.fixture(scope="module")
def draws(table):
    """A posterior-shaped dict of draws, like Fit.draws, from a fixed generator."""
    rng = np.random.default_rng(7)
    n_enh = table.n_enhancements
    return {
        "ceg_global_mean": rng.normal(0.6, 0.1, N),
        "category_mean": rng.normal(0.6, 0.2, (N, len(CATEGORIES))),
        "enhancement_spread": np.abs(rng.normal(0.3, 0.05, N)),
        "ceg_trend": rng.normal(0.05, 0.05, N),
        "scale_slope": rng.normal(0.0, 0.05, N),
        "composability_within": rng.beta(2, 5, N),
        "composability_between": rng.beta(3, 3, N),
        "arrival_rate": rng.gamma(4, 0.5, (N, len(CATEGORIES))),
        "arrival_dispersion": rng.gamma(4, 0.5, N),
        "relevance": rng.beta(6, 3, N),
        "ceg_oom": rng.normal(0.7, 0.4, (N, n_enh)),
        "enhancement_compute": rng.normal(-0.5, 1.0, (N, n_enh)),
    }


def _setup(catalogue, table, scenario="frontier-api", **kw):
    sc = load_scenario(scenario).scenario
    update = {k: kw.pop(k) for k in ("already_elicited", "absorbed") if k in kw}
    if "reference_date" in kw:
        update["base_model"] = sc.base_model.model_copy(
            update={"reference_date": kw.pop("reference_date")}
        )
    if "flop" in kw:
        base = update.get("base_model", sc.base_model)
        update["base_model"] = base.model_copy(update={"training_compute_flop": kw.pop("flop")})
    sc = sc.model_copy(update=update)
    return setup_forecast(sc, catalogue, table, **kw)


def _uplift(catalogue, table, draws, seed=3, priors=None, **kw):
    setup = _setup(catalogue, table, **kw)
    return simulate_uplift(draws, setup, priors or load_priors(), seed=seed)


# --------------------------------------------------------------------------- orderings


def test_uplift_never_falls_over_time(catalogue, table, draws):
    u = _uplift(catalogue, table, draws, horizon_months=24)
    assert (np.diff(u.oom, axis=1) >= -1e-12).all()
    assert (u.oom >= 0).all()


def test_longer_horizon_never_lowers_the_upper_quantiles(catalogue, table, draws):
    short = _uplift(catalogue, table, draws, horizon_months=6)
    long = _uplift(catalogue, table, draws, horizon_months=24)
    # The same arrivals are reused, so the first 6 months agree draw by draw ...
    t6 = int(np.flatnonzero(long.times_months == 6)[0])
    np.testing.assert_allclose(long.oom[:, : t6 + 1], short.oom[:, : t6 + 1])
    # ... and the upper quantiles at the horizon can only grow.
    for q in (0.5, 0.9, 0.95, 0.99):
        assert np.quantile(long.oom[:, -1], q) >= np.quantile(short.oom[:, -1], q)


@pytest.mark.parametrize(
    "weaker,stronger",
    [
        ("public_api", "finetune_api"),
        ("finetune_api", "open_weights"),
        ("open_weights", "developer"),
        ("public_api", "stolen_weights"),
    ],
)
def test_an_actor_with_more_access_never_gets_a_smaller_buffer(
    catalogue, table, draws, weaker, stronger
):
    lo = _uplift(catalogue, table, draws, actor=weaker)
    hi = _uplift(catalogue, table, draws, actor=stronger)
    assert set(ACTOR_ACCESS[weaker]) <= set(ACTOR_ACCESS[stronger])
    assert (hi.oom >= lo.oom - 1e-12).all()  # draw by draw, not only on average
    assert np.quantile(hi.oom[:, -1], 0.95) >= np.quantile(lo.oom[:, -1], 0.95)


@pytest.mark.parametrize("block", ["already_elicited", "absorbed"])
@pytest.mark.parametrize("actor", ["open_weights", "public_api"])
def test_more_applied_before_the_evaluation_never_raises_the_uplift(
    catalogue, table, draws, block, actor
):
    """Draw by draw where the actor could have used what is applied (G is monotone); on
    quantiles otherwise (see test_faster_absorption_never_raises_the_uplift)."""
    kind = Elicited if block == "already_elicited" else Absorbed
    sets = [[], ["prompting"], ["prompting", "scaffolding", "tool"]]
    runs = [
        _uplift(catalogue, table, draws, actor=actor, **{block: kind(categories=c)}) for c in sets
    ]
    for fewer, more in zip(runs, runs[1:], strict=False):
        if actor == "open_weights":
            assert (more.oom <= fewer.oom + 1e-12).all()
        for q in (0.5, 0.9, 0.95, 0.99):
            assert np.quantile(more.oom[:, -1], q) <= np.quantile(fewer.oom[:, -1], q) + 1e-12
    assert runs[-1].oom[:, -1].mean() < runs[0].oom[:, -1].mean()


def test_faster_absorption_never_raises_the_uplift(catalogue, table, draws):
    """Enhancements absorbed by the base model add nothing: the slower absorption is, the
    more of the gap and of the catalogue an actor can still apply.

    For an actor who can use everything, absorbing only moves enhancements from "available"
    to "baseline", so G's monotonicity makes this hold draw by draw. For a public-API actor,
    absorbed enhancements it could not have used also join the baseline; G is monotone but
    not always submodular (docs/method.md, "Composability"), so the check is on quantiles.
    """
    fast = load_priors().with_overrides({"absorption_years": "0.1"})
    slow = load_priors().with_overrides({"absorption_years": "50"})
    lo = _uplift(catalogue, table, draws, priors=fast, actor="open_weights")
    hi = _uplift(catalogue, table, draws, priors=slow, actor="open_weights")
    assert (hi.oom >= lo.oom - 1e-12).all()
    assert hi.drivers["gap_available"].mean() > lo.drivers["gap_available"].mean()
    assert hi.oom[:, 0].mean() > lo.oom[:, 0].mean()
    lo = _uplift(catalogue, table, draws, priors=fast, actor="public_api")
    hi = _uplift(catalogue, table, draws, priors=slow, actor="public_api")
    for q in (0.5, 0.9, 0.95, 0.99):
        assert np.quantile(hi.oom[:, -1], q) >= np.quantile(lo.oom[:, -1], q)


def test_same_seed_same_output_and_another_seed_differs(catalogue, table, draws):
    a = _uplift(catalogue, table, draws, seed=5)
    b = _uplift(catalogue, table, draws, seed=5)
    c = _uplift(catalogue, table, draws, seed=6)
    np.testing.assert_array_equal(a.oom, b.oom)
    assert not np.array_equal(a.oom, c.oom)


def test_uplift_stays_below_the_ceiling_however_long(catalogue, table, draws):
    u = _uplift(catalogue, table, draws, horizon_months=120, actor="developer")
    assert (u.oom <= u.drivers["ceiling"][:, None] + 1e-12).all()
    assert np.isfinite(u.oom).all()
    assert (u.drivers["uncapped"] >= u.oom[:, -1] - 1e-12).all()


def test_resampled_draws_are_reproducible(catalogue, table, draws):
    setup = _setup(catalogue, table)
    a = simulate_uplift(draws, setup, load_priors(), n_draws=5000, seed=1)
    b = simulate_uplift(draws, setup, load_priors(), n_draws=5000, seed=1)
    assert a.oom.shape == (5000, len(setup.times_months))
    np.testing.assert_array_equal(a.oom, b.oom)


def test_enhancements_published_after_the_reference_date_are_not_known(catalogue, table):
    setup = _setup(catalogue, table, scenario="gpt4-2023-03")
    known = {table.enhancement_ids[i] for i in setup.known_index}
    by_id = {e.id: e for e in catalogue.enhancements}
    assert all(by_id[k].published <= dt.date(2023, 3, 14) for k in known)
    assert "lats" not in known  # published October 2023


def test_uplift_at_a_month_does_not_depend_on_the_time_grid(catalogue, table, draws):
    """Sensitivity simulates the horizon alone; it must equal the full run at that month."""
    setup = _setup(catalogue, table)
    full = simulate_uplift(draws, setup, load_priors(), seed=2)
    alone = dataclasses.replace(setup, times_months=np.array([12.0]))
    only = simulate_uplift(draws, alone, load_priors(), seed=2)
    np.testing.assert_array_equal(only.oom[:, 0], full.oom[:, -1])


# --------------------------------------------------------------------------- extrapolation


def test_trend_modes_past_the_evidence(catalogue, table):
    setup = _setup(catalogue, table)
    end, center = setup.last_year, setup.year_center
    years = end + np.array([-1.0, 0.0, 1.0, 5.0, 50.0])
    inside = np.minimum(years, end) - center
    frozen = trend_years(years, dataclasses.replace(setup, trend_mode="frozen"), 1.0)
    linear = trend_years(years, dataclasses.replace(setup, trend_mode="linear"), 1.0)
    damped = trend_years(years, dataclasses.replace(setup, trend_mode="damped"), 1.0)
    # all three agree within the evidence
    np.testing.assert_allclose([frozen[:2], linear[:2], damped[:2]], [inside[:2]] * 3)
    np.testing.assert_allclose(frozen, inside)  # no extrapolation at all
    np.testing.assert_allclose(linear, years - center)  # the fitted line continues
    # damped: tau (1 - exp(-d / tau)), never more than tau past the data
    np.testing.assert_allclose(damped[2:] - inside[2:], 1 - np.exp(-np.array([1, 5, 50.0])))
    assert (np.diff(damped) >= 0).all() and damped[-1] - (end - center) <= 1.0 + 1e-12


def test_frozen_trend_does_not_grow_with_the_reference_date(catalogue, table, draws):
    """Under 'frozen' a later reference date changes nothing about arrivals' mean gains:
    the buffer of a base model does not grow merely because its date is later."""
    far = {"absorbed": Absorbed(), "already_elicited": Elicited()}
    positive = dict(draws, ceg_trend=np.full(N, 0.3))  # a strong upward trend
    setups = {
        mode: [
            _setup(
                catalogue,
                table,
                reference_date=day,
                trend_mode=mode,
                **far,
            )
            for day in (dt.date(2028, 1, 1), dt.date(2032, 1, 1))
        ]
        for mode in ("frozen", "linear")
    }
    growth = {}
    for mode, (early, late) in setups.items():
        u_early = simulate_uplift(positive, early, load_priors(), n_draws=4000, seed=4)
        u_late = simulate_uplift(positive, late, load_priors(), n_draws=4000, seed=4)
        # the quantile before the ceiling, which would hide the difference
        growth[mode] = np.quantile(u_late.drivers["uncapped"], 0.95) - np.quantile(
            u_early.drivers["uncapped"], 0.95
        )
    # No extrapolated trend: a later date adds no gain. (The buffer even falls: the base
    # model has absorbed more enhancements, so a new one must beat a higher best.)
    assert growth["frozen"] <= 0.05
    # The extrapolated line adds 0.3 OOM a year to every new gain: the buffer grows.
    assert growth["linear"] > growth["frozen"] + 0.15


def test_scale_modes(catalogue, table):
    setup = _setup(catalogue, table, flop=3e26)
    lo, hi = setup.compute_range
    assert setup.log_compute > hi  # 3e26 is past the largest base model in the evidence
    clamp = scale_target(dataclasses.replace(setup, scale_mode="clamp"))
    assert clamp == (pytest.approx(hi), pytest.approx(setup.log_compute - hi))
    inside = dataclasses.replace(setup, scale_mode="clamp", log_compute=(lo + hi) / 2)
    assert scale_target(inside) == ((lo + hi) / 2, 0.0)
    linear = scale_target(dataclasses.replace(setup, scale_mode="linear"))
    assert linear == (setup.log_compute, 0.0)


def test_clamp_widens_with_distance_and_off_ignores_scale(catalogue, table, draws):
    steep = dict(draws, scale_slope=np.full(N, -0.3))
    spread = {}
    for flop in (3e25, 3e27):
        setup = _setup(catalogue, table, flop=flop, scale_mode="clamp")
        u = simulate_uplift(steep, setup, load_priors(), seed=1)
        spread[flop] = u.drivers["scale_shift"].std()
    assert spread[3e27] > spread[3e25]  # uncertainty grows past the data ...
    lin = simulate_uplift(
        steep, _setup(catalogue, table, flop=3e27, scale_mode="linear"), load_priors(), seed=1
    )
    clamp = simulate_uplift(
        steep, _setup(catalogue, table, flop=3e27, scale_mode="clamp"), load_priors(), seed=1
    )
    # ... instead of the slope being extrapolated (linear carries -0.3 per OOM all the way)
    assert lin.drivers["scale_shift"].mean() < clamp.drivers["scale_shift"].mean() - 0.3
    off = simulate_uplift(
        steep, _setup(catalogue, table, flop=3e27, scale_mode="off"), load_priors(), seed=1
    )
    np.testing.assert_array_equal(off.drivers["scale_shift"], 0.0)


# --------------------------------------------------------------------------- arrivals


def test_arrivals_are_overdispersed_as_the_fit_says(catalogue, table):
    """Counts of new arrivals over whole half years: mean rate*T/coverage and variance
    mean + sum over blocks (rate*0.5)^2 / dispersion, as a Gamma-Poisson mixture gives."""
    n, rate, dispersion = 20000, 4.0, 0.8
    d = {
        "ceg_global_mean": np.zeros(n),
        "category_mean": np.full((n, len(CATEGORIES)), 5.0),  # every arrival has a gain
        "enhancement_spread": np.full(n, 0.01),
        "ceg_trend": np.zeros(n),
        "scale_slope": np.zeros(n),
        "composability_within": np.full(n, 0.5),
        "composability_between": np.full(n, 0.5),
        "arrival_rate": np.full((n, len(CATEGORIES)), rate),
        "arrival_dispersion": np.full(n, dispersion),
        "relevance": np.ones(n),
        "ceg_oom": np.zeros((n, table.n_enhancements)),
        "enhancement_compute": np.zeros((n, table.n_enhancements)),
    }
    priors = load_priors().with_overrides({"catalogue_coverage": "1"})
    # start exactly at the end of the census (where arrival blocks begin), so blocks align
    # with the reference date
    start = table.arrival_window[1]
    day = dt.date(2022, 6, 1) + dt.timedelta(days=round(start * 365.25))
    setup = _setup(catalogue, table, actor="developer", reference_date=day, horizon_months=12)
    setup = dataclasses.replace(setup, lead_months=0.0, start_year=start, census_end=start)
    u = simulate_uplift(d, setup, priors, seed=9)
    counts = u.arrivals[:, -1] / len(CATEGORIES)  # summed over categories: average per one
    per_category = u.drivers["arrivals"] if "arrivals" in u.drivers else None
    mean = rate * 1.0
    variance = mean + 2 * (rate * 0.5) ** 2 / dispersion
    total = u.arrivals[:, -1]
    assert total.mean() == pytest.approx(len(CATEGORIES) * mean, rel=0.03)
    assert total.var() == pytest.approx(len(CATEGORIES) * variance, rel=0.1)
    assert per_category is not None and counts.mean() == pytest.approx(mean, rel=0.03)


# --------------------------------------------------------------------------- G shortcut


@pytest.mark.parametrize("seed", range(5))
def test_g_over_time_equals_combining_everything_present_at_each_step(seed):
    """The per-arrival-count shortcut gives G exactly as sorting all gains at every step."""
    from forecast.fit.compose import combine, rank_discounted_sum
    from forecast.simulate.uplift import _count_by_step, _within_category_over_time

    rng = np.random.default_rng(seed)
    n, k_known, width = 50, 4, 6
    times = np.array([0.0, 1.0, 2.5, 6.0, 12.0, 18.0])
    known = -np.sort(-np.maximum(rng.normal(0.5, 0.6, (n, len(CATEGORIES), k_known)), 0), -1)
    gains = rng.normal(0.3, 0.8, (n, len(CATEGORIES), width))  # negative ones count as 0
    months = np.sort(rng.uniform(-6, 24, (n, len(CATEGORIES), width)), axis=-1)
    months[rng.random(months.shape) < 0.3] = np.inf  # unusable: never arrive
    months = np.sort(months, axis=-1)  # in arrival order, inf last, as simulate_arrivals gives them
    d_w, d_b = rng.uniform(0, 1, n), rng.uniform(0, 1, n)

    arrived = _count_by_step(months, times)
    seen = months[:, :, None, :] <= times[None, None, :, None]
    np.testing.assert_array_equal(arrived, seen.sum(-1))
    fast = rank_discounted_sum(_within_category_over_time(known, gains, arrived, d_w), d_b[:, None])
    for t, month in enumerate(times):
        present = np.concatenate([known, np.where(months <= month, gains, 0.0)], axis=-1)
        np.testing.assert_allclose(fast[:, t], combine(present, d_w, d_b), rtol=0, atol=1e-12)


def test_extrapolation_block_is_read_from_the_scenario():
    sc = load_scenario("frontier-api").scenario
    assert sc.extrapolation == Extrapolation()  # damped, clamp: the defaults


def test_coverage_near_zero_is_refused_before_the_simulation_explodes(catalogue, table, draws):
    from forecast.core.errors import InputError

    tiny = load_priors().with_overrides({"catalogue_coverage": "0.001"})
    with pytest.raises(InputError, match="catalogue_coverage") as info:
        _uplift(catalogue, table, draws, priors=tiny)
    assert info.value.path == "priors.catalogue_coverage"
