"""Forward simulation on a fake posterior (no sampler): the orderings a user relies on."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from forecast.evidence import load_catalogue
from forecast.priors import load_priors
from forecast.scenarios import load_scenario
from forecast.schemas import CATEGORIES
from forecast.simulate import setup_forecast, simulate_uplift

N = 600


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def draws(catalogue):
    """A posterior-shaped dict of draws, like Fit.draws, from a fixed generator."""
    rng = np.random.default_rng(7)
    n_enh = len(catalogue.enhancements)
    return {
        "ceg_global_mean": rng.normal(0.6, 0.1, N),
        "category_mean": rng.normal(0.6, 0.2, (N, len(CATEGORIES))),
        "enhancement_spread": np.abs(rng.normal(0.3, 0.05, N)),
        "ceg_trend": rng.normal(0.05, 0.05, N),
        "scale_slope": rng.normal(0.0, 0.05, N),
        "selection_bias": rng.normal(-0.3, 0.1, N),
        "composability_within": rng.beta(2, 5, N),
        "composability_between": rng.beta(3, 3, N),
        "arrival_rate": rng.gamma(4, 0.5, (N, len(CATEGORIES))),
        "ceg_oom": rng.normal(0.7, 0.4, (N, n_enh)),
    }


@pytest.fixture(scope="module")
def ids(catalogue):
    return tuple(e.id for e in catalogue.enhancements)


def _uplift(catalogue, ids, draws, scenario="frontier-api", seed=3, **kw):
    sc = load_scenario(scenario).scenario
    if "elicited" in kw:
        sc = sc.model_copy(update={"already_elicited": kw.pop("elicited")})
    setup = setup_forecast(sc, catalogue, ids, **kw)
    return simulate_uplift(draws, setup, load_priors(), seed=seed)


def test_uplift_never_falls_over_time(catalogue, ids, draws):
    u = _uplift(catalogue, ids, draws, horizon_months=24)
    assert (np.diff(u.oom, axis=1) >= -1e-12).all()
    assert (u.oom >= 0).all()


def test_longer_horizon_never_lowers_the_upper_quantiles(catalogue, ids, draws):
    short = _uplift(catalogue, ids, draws, horizon_months=6)
    long = _uplift(catalogue, ids, draws, horizon_months=24)
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
    catalogue, ids, draws, weaker, stronger
):
    lo = _uplift(catalogue, ids, draws, actor=weaker)
    hi = _uplift(catalogue, ids, draws, actor=stronger)
    assert (hi.oom >= lo.oom - 1e-12).all()  # draw by draw, not only on average
    assert np.quantile(hi.oom[:, -1], 0.95) >= np.quantile(lo.oom[:, -1], 0.95)


def test_elicitation_already_applied_lowers_the_uplift(catalogue, ids, draws):
    from forecast.schemas import Elicited

    none = _uplift(catalogue, ids, draws, elicited=Elicited(), actor="open_weights")
    some = _uplift(
        catalogue, ids, draws, elicited=Elicited(categories=["prompting"]), actor="open_weights"
    )
    more = _uplift(
        catalogue,
        ids,
        draws,
        elicited=Elicited(categories=["prompting", "scaffolding", "tool"]),
        actor="open_weights",
    )
    assert (some.oom <= none.oom + 1e-12).all()
    assert (more.oom <= some.oom + 1e-12).all()
    assert more.oom[:, 0].mean() < none.oom[:, 0].mean()


def test_same_seed_same_output_and_another_seed_differs(catalogue, ids, draws):
    a = _uplift(catalogue, ids, draws, seed=5)
    b = _uplift(catalogue, ids, draws, seed=5)
    c = _uplift(catalogue, ids, draws, seed=6)
    np.testing.assert_array_equal(a.oom, b.oom)
    assert not np.array_equal(a.oom, c.oom)


def test_uplift_stays_below_the_ceiling_however_long(catalogue, ids, draws):
    u = _uplift(catalogue, ids, draws, horizon_months=120, actor="developer")
    # the soft ceiling is LogNormal(0.92, 0.2): its 99.9th percentile is about 4.7 OOM
    assert u.oom.max() < 5.0
    assert np.isfinite(u.oom).all()


def test_resampled_draws_are_reproducible(catalogue, ids, draws):
    sc = load_scenario("frontier-api").scenario
    setup = setup_forecast(sc, catalogue, ids)
    a = simulate_uplift(draws, setup, load_priors(), n_draws=5000, seed=1)
    b = simulate_uplift(draws, setup, load_priors(), n_draws=5000, seed=1)
    assert a.oom.shape == (5000, len(setup.times_months))
    np.testing.assert_array_equal(a.oom, b.oom)


def test_enhancements_published_after_the_reference_date_are_not_known(catalogue, ids):
    sc = load_scenario("gpt4-2023-03").scenario
    setup = setup_forecast(sc, catalogue, ids)
    known = {ids[i] for i in setup.known_index}
    by_id = {e.id: e for e in catalogue.enhancements}
    assert all(by_id[k].published <= dt.date(2023, 3, 14) for k in known)
    assert "lats" not in known  # published October 2023


def test_uplift_at_a_month_does_not_depend_on_the_time_grid(catalogue, ids, draws):
    """Sensitivity simulates the horizon alone; it must equal the full run at that month."""
    import dataclasses

    sc = load_scenario("frontier-api").scenario
    setup = setup_forecast(sc, catalogue, ids)
    full = simulate_uplift(draws, setup, load_priors(), seed=2)
    alone = dataclasses.replace(setup, times_months=np.array([12.0]))
    only = simulate_uplift(draws, alone, load_priors(), seed=2)
    np.testing.assert_array_equal(only.oom[:, 0], full.oom[:, -1])


@pytest.mark.parametrize("seed", range(5))
def test_g_over_time_equals_combining_everything_present_at_each_step(seed):
    """The per-arrival-count shortcut gives G exactly as sorting all gains at every step."""
    from forecast.compose import combine, rank_discounted_sum
    from forecast.simulate import _count_by_step, _within_category_over_time

    rng = np.random.default_rng(seed)
    n, k_known, width = 50, 4, 6
    times = np.array([0.0, 1.0, 2.5, 6.0, 12.0, 18.0])
    known = -np.sort(-np.maximum(rng.normal(0.5, 0.6, (n, len(CATEGORIES), k_known)), 0), -1)
    gains = rng.normal(0.3, 0.8, (n, len(CATEGORIES), width))  # negative ones count as 0
    months = np.sort(rng.uniform(-6, 24, (n, len(CATEGORIES), width)), axis=-1)
    months[rng.random(months.shape) < 0.3] = np.inf  # unusable: never arrive
    months = np.sort(months, axis=-1)  # in arrival order, inf last, as _arrivals gives them
    d_w, d_b = rng.uniform(0, 1, n), rng.uniform(0, 1, n)

    arrived = _count_by_step(months, times)
    seen = months[:, :, None, :] <= times[None, None, :, None]
    np.testing.assert_array_equal(arrived, seen.sum(-1))
    fast = rank_discounted_sum(_within_category_over_time(known, gains, arrived, d_w), d_b[:, None])
    for t, month in enumerate(times):
        present = np.concatenate([known, np.where(months <= month, gains, 0.0)], axis=-1)
        np.testing.assert_allclose(fast[:, t], combine(present, d_w, d_b), rtol=0, atol=1e-12)
