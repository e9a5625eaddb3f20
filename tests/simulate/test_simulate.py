"""Forward simulation of the uplift on made-up posterior draws (no sampler): the orderings a
user relies on (time, access, elicitation, age, horizon), reproducibility, the trend modes
past the histories, and the event process itself."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from conftest import fake_posterior

from forecast.core.schemas.scenario import Elicited, Extrapolation
from forecast.evidence.histories import ACCESS_LEVEL
from forecast.inputs.priors import load_priors
from forecast.inputs.resolve import resolve
from forecast.inputs.scenarios import load_scenario
from forecast.simulate.setup import (
    ACTOR_LEAD_MONTHS,
    calendar_offset,
    setup_forecast,
)
from forecast.simulate.uplift import simulate, simulate_uplift

N = 600


@pytest.fixture(scope="module")
def histories():
    return resolve(None).histories


@pytest.fixture(scope="module")
def draws(histories):
    """Uplift-model draws shaped like ``Fit.draws`` (conftest.fake_posterior)."""
    return fake_posterior(histories, N, seed=7)


def _setup(histories, scenario="frontier-api", **kw):
    sc = load_scenario(scenario).scenario
    update = {k: kw.pop(k) for k in ("already_elicited",) if k in kw}
    base = {k: kw.pop(k) for k in ("reference_date", "released") if k in kw}
    if base:
        update["base_model"] = sc.base_model.model_copy(update=base)
    sc = sc.model_copy(update=update)
    return setup_forecast(sc, histories, **kw)


def _uplift(histories, draws, seed=3, priors=None, n=None, **kw):
    return simulate_uplift(draws, _setup(histories, **kw), priors or load_priors(), n, seed)


# --------------------------------------------------------------------------- orderings


def test_uplift_starts_at_zero_and_never_falls_over_time(histories, draws):
    u = _uplift(histories, draws, horizon_months=24)
    assert u.times_months[0] == 0.0 and u.oom.shape == (N, len(u.times_months))
    np.testing.assert_array_equal(u.oom[:, 0], 0.0)  # lead 0 (public_api): nothing yet
    np.testing.assert_array_equal(u.events[:, 0], 0.0)
    assert (np.diff(u.oom, axis=1) >= 0).all()  # per draw, not only on average
    assert (np.diff(u.events, axis=1) >= 0).all()
    assert np.isfinite(u.oom).all() and u.oom[:, -1].max() > 0


def test_the_developer_starts_with_its_lead(histories, draws):
    """The developer sees improvements lead_months before publication: its uplift at month 0
    is what others would have by month lead_months."""
    assert ACTOR_LEAD_MONTHS["developer"] > 0
    dev = _uplift(histories, draws, actor="developer", horizon_months=12)
    assert (dev.oom[:, 0] > 0).any()
    weights = _uplift(histories, draws, actor="open_weights", horizon_months=24)
    lead = int(ACTOR_LEAD_MONTHS["developer"])
    np.testing.assert_allclose(dev.oom[:, 0], weights.oom[:, lead])


def test_longer_horizon_never_lowers_the_upper_quantiles(histories, draws):
    short = _uplift(histories, draws, horizon_months=6)
    long = _uplift(histories, draws, horizon_months=24)
    # The same events are drawn whatever the horizon: the first 6 months agree draw by draw
    t6 = int(np.flatnonzero(long.times_months == 6)[0])
    np.testing.assert_allclose(long.oom[:, : t6 + 1], short.oom)
    # ... and the quantiles at the horizon can only grow.
    for q in (0.5, 0.9, 0.95, 0.99):
        assert np.quantile(long.oom[:, -1], q) >= np.quantile(short.oom[:, -1], q)
    assert np.quantile(long.oom[:, -1], 0.95) > np.quantile(short.oom[:, -1], 0.95)


@pytest.mark.parametrize(
    "weaker,stronger",
    [
        ("public_api", "finetune_api"),
        ("finetune_api", "open_weights"),
        ("open_weights", "developer"),
        ("public_api", "stolen_weights"),
    ],
)
def test_an_actor_with_more_access_never_gets_a_smaller_uplift(histories, draws, weaker, stronger):
    lo = _uplift(histories, draws, actor=weaker)
    hi = _uplift(histories, draws, actor=stronger)
    assert ACCESS_LEVEL[weaker] <= ACCESS_LEVEL[stronger]
    assert (hi.oom >= lo.oom).all()  # draw by draw, with the same seed
    assert np.quantile(hi.oom[:, -1], 0.95) >= np.quantile(lo.oom[:, -1], 0.95)
    if ACCESS_LEVEL[weaker] < ACCESS_LEVEL[stronger]:
        assert hi.oom[:, -1].mean() > lo.oom[:, -1].mean()


def test_the_same_access_and_lead_give_the_same_uplift(histories, draws):
    a = _uplift(histories, draws, actor="open_weights")
    b = _uplift(histories, draws, actor="stolen_weights")
    np.testing.assert_array_equal(a.oom, b.oom)


@pytest.mark.parametrize("actor", ["open_weights", "public_api"])
def test_more_elicitation_already_applied_never_raises_the_uplift(histories, draws, actor):
    sets = [[], ["prompting"], ["prompting", "scaffolding", "tool"]]
    runs = [
        _uplift(histories, draws, actor=actor, already_elicited=Elicited(categories=c))
        for c in sets
    ]
    for fewer, more in zip(runs, runs[1:], strict=False):
        assert (more.oom <= fewer.oom).all()  # draw by draw: a subset of the events
        assert (more.events <= fewer.events).all()
    assert runs[-1].oom[:, -1].mean() < runs[0].oom[:, -1].mean()


def test_an_older_model_never_gets_more_uplift(histories, draws):
    """The rate falls with the model's age: a model released a year before its evaluation
    gets at most what a new one gets, draw by draw."""
    day = load_scenario("frontier-api").scenario.base_model.reference_date
    new = _uplift(histories, draws)
    old = _uplift(histories, draws, released=day - dt.timedelta(days=365))
    assert _setup(histories, released=day - dt.timedelta(days=365)).age_months > 11.9
    assert (old.oom <= new.oom).all()
    assert old.oom[:, -1].mean() < new.oom[:, -1].mean()


def test_a_larger_increment_or_rate_never_lowers_the_uplift(histories, draws):
    base = _uplift(histories, draws)
    bigger = dict(draws, increment_mean=draws["increment_mean"] * 2)
    faster = dict(draws, event_rate=draws["event_rate"] * 2)
    assert (_uplift(histories, bigger).oom >= base.oom).all()
    assert (_uplift(histories, faster).oom >= base.oom).all()


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_same_output_and_another_seed_differs(histories, draws):
    a = _uplift(histories, draws, seed=5)
    b = _uplift(histories, draws, seed=5)
    c = _uplift(histories, draws, seed=6)
    np.testing.assert_array_equal(a.oom, b.oom)
    np.testing.assert_array_equal(a.drivers["attention"], b.drivers["attention"])
    assert not np.array_equal(a.oom, c.oom)


def test_resampled_draws_are_reproducible(histories, draws):
    setup = _setup(histories)
    a = simulate_uplift(draws, setup, load_priors(), n_draws=5000, seed=1)
    b = simulate_uplift(draws, setup, load_priors(), n_draws=5000, seed=1)
    assert a.oom.shape == (5000, len(setup.times_months))
    np.testing.assert_array_equal(a.oom, b.oom)
    index = a.drivers["posterior_index"]
    assert index.min() >= 0 and index.max() < N
    np.testing.assert_array_equal(a.drivers["increment_mean"], draws["increment_mean"][index])
    one_each = simulate_uplift(draws, setup, load_priors(), seed=1)
    np.testing.assert_array_equal(one_each.drivers["posterior_index"], np.arange(N))


def test_uplift_at_a_month_does_not_depend_on_the_time_grid(histories, draws):
    """Sensitivity simulates the horizon alone; it must equal the full run at that month."""
    setup = _setup(histories)
    full = simulate_uplift(draws, setup, load_priors(), seed=2)
    alone = dataclasses.replace(setup, times_months=np.array([12.0]))
    only = simulate_uplift(draws, alone, load_priors(), seed=2)
    np.testing.assert_array_equal(only.oom[:, 0], full.oom[:, -1])


def test_simulate_takes_the_inputs_and_its_overrides(draws):
    inputs = resolve(None, horizon_months=6)
    u = simulate(inputs, draws, seed=4, draws=300)
    assert u.oom.shape[0] == 300 and u.times_months[-1] >= 6
    only = simulate(inputs, draws, seed=4, draws=300, months=[6.0])
    np.testing.assert_array_equal(only.oom[:, 0], u.oom[:, list(u.times_months).index(6.0)])
    more = simulate(inputs, draws, seed=4, draws=300, actor="open_weights")
    assert (more.oom >= u.oom).all()


# --------------------------------------------------------------------------- attention


def test_attention_spread_zero_gives_every_draw_the_same_attention(histories, draws):
    flat = dict(draws, attention_spread=np.zeros(N))
    u = _uplift(histories, flat)
    np.testing.assert_array_equal(u.drivers["attention"], 1.0)
    spread = _uplift(histories, draws).drivers["attention"]
    assert spread.std() > 0.3 and abs(np.median(np.log(spread))) < 0.15  # median 1


def test_events_are_poisson_given_the_attention_and_overdispersed_over_it(histories):
    """With fixed parameters and no attention spread the event count at the horizon is
    Poisson (variance = mean = the expected count); with a spread s, each draw's count is
    Poisson given its LogNormal factor, so the variance is mean + mean^2 (exp(s^2) - 1)."""
    n = 20000
    fixed = {name: np.full(n, float(np.median(v))) for name, v in fake_posterior(
        histories, 50, seed=1).items() if v.ndim == 1}  # fmt: skip
    fixed["event_rate"] = np.full(n, 1.0)
    calm = dict(fixed, attention_spread=np.zeros(n))
    u = _uplift(histories, calm, actor="open_weights")
    count = u.events[:, -1]
    expected = u.drivers["expected_oom"] / u.drivers["increment_mean"]
    np.testing.assert_allclose(expected, expected[0])  # the same for every draw
    assert count.mean() == pytest.approx(expected[0], rel=0.03)
    assert count.var() == pytest.approx(expected[0], rel=0.06)
    # the uplift is the sum of the jumps: mean = count x increment_mean
    assert u.oom[:, -1].mean() == pytest.approx(u.drivers["expected_oom"][0], rel=0.04)

    s = 0.6
    wide = _uplift(histories, dict(fixed, attention_spread=np.full(n, s)), actor="open_weights")
    count = wide.events[:, -1]
    mean = expected[0] * np.exp(s**2 / 2)  # E[w] for log w ~ Normal(0, s)
    assert count.mean() == pytest.approx(mean, rel=0.05)
    assert count.var() == pytest.approx(mean + mean**2 * (np.exp(s**2) - 1), rel=0.15)


def test_a_draw_past_the_event_limit_adds_the_mean_jump_for_each_further_event(histories):
    """A huge rate exceeds the events simulated one by one; the rest add their mean jump,
    so the uplift stays finite and close to its expectation."""
    d = fake_posterior(histories, 200, seed=2)
    d = dict(d, event_rate=np.full(200, 500.0), attention_spread=np.zeros(200))
    u = _uplift(histories, d, actor="developer")
    assert (u.drivers["beyond_rows"] == 1).all()
    assert np.isfinite(u.oom).all() and (np.diff(u.oom, axis=1) >= 0).all()
    np.testing.assert_allclose(u.oom[:, -1], u.drivers["expected_oom"], rtol=0.1)


# --------------------------------------------------------------------------- trend modes


def test_trend_modes_past_the_histories(histories):
    setup = _setup(histories)
    lo, hi = setup.data_years
    assert (lo, hi) == histories.year_range
    from forecast.fit.uplift_model import YEAR_CENTER

    years = hi + np.array([-1.0, 0.0, 1.0, 5.0, 50.0])
    inside = np.minimum(years, hi) - YEAR_CENTER
    frozen = calendar_offset(years, dataclasses.replace(setup, trend_mode="frozen"))
    linear = calendar_offset(years, dataclasses.replace(setup, trend_mode="linear"))
    damped = calendar_offset(years, dataclasses.replace(setup, trend_mode="damped"), 1.0)
    # all three agree within the histories
    np.testing.assert_allclose([frozen[:2], linear[:2], damped[:2]], [inside[:2]] * 3)
    np.testing.assert_allclose(frozen, inside)  # no extrapolation at all
    np.testing.assert_allclose(linear, years - YEAR_CENTER)  # the fitted line continues
    # damped: tau (1 - exp(-d / tau)), never more than tau past the data
    np.testing.assert_allclose(damped[2:] - inside[2:], 1 - np.exp(-np.array([1, 5, 50.0])))
    assert (np.diff(damped) >= 0).all() and damped[-1] - (hi - YEAR_CENTER) <= 1.0 + 1e-12
    # before the histories the rate stays at the span's start
    before = calendar_offset(np.array([lo - 3.0]), setup)
    np.testing.assert_allclose(before, lo - YEAR_CENTER)


def test_frozen_trend_does_not_grow_with_the_reference_date(histories, draws):
    """Under 'frozen' a later reference date past the histories changes nothing: the buffer
    of a new model does not grow merely because its date is later."""
    rising = dict(draws, rate_trend=np.full(N, 0.5))  # a strong upward trend
    runs = {
        mode: [
            _uplift(histories, rising, reference_date=day, trend_mode=mode, seed=4)
            for day in (dt.date(2028, 1, 1), dt.date(2032, 1, 1))
        ]
        for mode in ("frozen", "damped", "linear")
    }
    early, late = runs["frozen"]
    np.testing.assert_array_equal(early.oom, late.oom)
    early, late = runs["damped"]
    assert (late.oom >= early.oom).all()  # what is left of the fade, at most tau
    early, late = runs["linear"]
    assert (late.oom >= early.oom).all()
    assert np.quantile(late.oom[:, -1], 0.95) > 1.5 * np.quantile(early.oom[:, -1], 0.95)


def test_trend_fade_years_matters_only_when_damped(histories, draws):
    rising = dict(draws, rate_trend=np.full(N, 0.5))
    short = load_priors().with_overrides({"trend_fade_years": "LogNormal(-1, 0.3)"})
    long = load_priors().with_overrides({"trend_fade_years": "LogNormal(1, 0.3)"})
    day = dt.date(2030, 1, 1)
    for mode in ("frozen", "linear"):
        a = _uplift(histories, rising, priors=short, reference_date=day, trend_mode=mode)
        b = _uplift(histories, rising, priors=long, reference_date=day, trend_mode=mode)
        np.testing.assert_array_equal(a.oom, b.oom)
    a = _uplift(histories, rising, priors=short, reference_date=day, trend_mode="damped")
    b = _uplift(histories, rising, priors=long, reference_date=day, trend_mode="damped")
    assert (b.oom >= a.oom).all() and b.oom[:, -1].mean() > a.oom[:, -1].mean()
    assert "prior:trend_fade_years" in a.drivers


def test_extrapolation_block_is_read_from_the_scenario():
    from pydantic import ValidationError

    sc = load_scenario("frontier-api").scenario
    assert sc.extrapolation == Extrapolation()  # frozen: the default
    assert Extrapolation().trend == "frozen"
    with pytest.raises(ValidationError, match="removed in model 5"):
        Extrapolation.model_validate({"trend": "frozen", "scale": "clamp"})
