"""The fast forward simulation gives the straightforward simulation's numbers, bit for bit.

``forecast.simulate.uplift`` computes each draw's jumps only for the rows it reads, counts
events by a binary search, and keeps the random streams of the last seed for the next
simulation. :func:`_straightforward_chunk` below is the simulation as first written (every
row of every draw, full arrays); the tests run both on the same draws and compare every
byte, so an optimisation that changes a result, however slightly, fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fake_posterior

from forecast.inputs.priors import load_priors
from forecast.inputs.resolve import resolve
from forecast.inputs.scenarios import load_scenario
from forecast.simulate import uplift
from forecast.simulate.setup import MAX_ACCESS, calendar_offset, setup_forecast


def _straightforward_chunk(p, setup, priors, seed, chunk):
    """The chunk as first written (model v5): full (rows, n) arrays of every stream."""
    n = len(p["event_rate"])

    def stream(purpose):
        return np.random.default_rng([seed, chunk, purpose])

    fp = {
        name: priors.prior(name).sample(stream(100 + i), n)
        for i, name in enumerate(uplift.FORECAST_PRIORS)
    }
    end = float(setup.times_months[-1]) + setup.lead_months
    fine = np.arange(0.0, end + uplift.FINE_STEP_MONTHS, uplift.FINE_STEP_MONTHS)
    attention = np.exp(p["attention_spread"] * stream(10).standard_normal(n))
    top = (
        attention
        * p["event_rate"]
        * np.exp(p["elicitation_effect"] * uplift.ELICITED_CENTER + p["access_effect"] * MAX_ACCESS)
    )
    calendar = calendar_offset(
        setup.year + fine[None, :] / 12.0, setup, fp["trend_fade_years"][:, None]
    )
    rate = top[:, None] * np.exp(
        -(setup.age_months + fine[None, :]) / p["rate_decay_months"][:, None]
        + p["rate_trend"][:, None] * calendar
    )
    steps = (rate[:, 1:] + rate[:, :-1]) * (uplift.FINE_STEP_MONTHS / 2.0)
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    total = cumulative[:, -1]
    arrivals = stream(20)
    blocks, last = [], np.zeros(n)
    while (last <= total).any() and len(blocks) * uplift.BLOCK < uplift.MAX_ROWS:
        block = last + np.cumsum(arrivals.exponential(size=(uplift.BLOCK, n)), axis=0)
        blocks.append(block)
        last = block[-1]
    unit = np.concatenate(blocks) if blocks else np.zeros((0, n))
    rows = unit.shape[0]
    share = uplift._kept_share(p, setup)
    keep = _all_rows(stream(30), rows, n, "random") < share[None, :]
    z = _all_rows(stream(40), rows, n, "standard_normal")
    s = p["increment_spread"]
    jumps = np.exp(np.log(p["increment_mean"])[None, :] - s**2 / 2.0 + s * z)
    jumps = np.where(keep, jumps, 0.0)
    jump_sums = np.concatenate([np.zeros((1, n)), np.cumsum(jumps, axis=0)], axis=0)
    kept_counts = np.concatenate([np.zeros((1, n)), np.cumsum(keep, axis=0)], axis=0)
    at = np.clip(setup.times_months + setup.lead_months, 0.0, end)
    cumulative_at = uplift._interp_rows(at, fine, cumulative)
    index = _searched_end_to_end(unit, cumulative_at)
    oom = np.take_along_axis(jump_sums.T, index, axis=1)
    events = np.take_along_axis(kept_counts.T, index, axis=1)
    beyond = np.where(index >= rows, np.maximum(cumulative_at - last[:, None], 0.0), 0.0)
    beyond = beyond * share[:, None]
    oom = oom + beyond * p["increment_mean"][:, None]
    events = events + beyond
    h = int(np.searchsorted(setup.times_months, setup.horizon_months))
    expected_events = cumulative_at[:, h] * share
    drivers = {
        **{f"prior:{name}": fp[name] for name in uplift.FORECAST_PRIORS},
        "attention": attention,
        "rate_at_reference": rate[:, 0] * share,
        "increment_mean": p["increment_mean"],
        "expected_oom": expected_events * p["increment_mean"],
        "expected_oom_typical_attention": np.divide(
            expected_events, attention, out=np.zeros(n), where=attention > 0
        )
        * p["increment_mean"],
        "beyond_rows": (last <= total).astype(float),
    }
    return oom, events, drivers


def _all_rows(generator, rows, n, kind):
    draw = getattr(generator, kind)
    blocks = [draw(size=(uplift.BLOCK, n)) for _ in range(-(-rows // uplift.BLOCK))]
    return np.concatenate(blocks)[:rows] if blocks else np.zeros((0, n))


def _searched_end_to_end(sorted_columns, values):
    """Counts by one search of all columns laid end to end (each shifted by n * top)."""
    rows, n = sorted_columns.shape
    if rows == 0:
        return np.zeros(values.shape, dtype=int)
    top = max(float(sorted_columns.max()), float(values.max())) + 1.0
    offset = np.arange(n) * top
    flat = (sorted_columns + offset[None, :]).T.ravel()
    found = np.searchsorted(flat, values + offset[:, None], side="right")
    return found - np.arange(n)[:, None] * rows


@pytest.fixture(scope="module")
def histories():
    return resolve(None).histories


def _setup(histories, **kw):
    return setup_forecast(load_scenario("frontier-api").scenario, histories, **kw)


def _assert_same(a, b):
    assert a.oom.tobytes() == b.oom.tobytes()
    assert a.events.tobytes() == b.events.tobytes()
    assert a.drivers.keys() == b.drivers.keys()
    for key in a.drivers:
        assert a.drivers[key].tobytes() == b.drivers[key].tobytes(), key


@pytest.mark.parametrize(
    ("n_post", "n_draws", "setup_kw", "rate_factor"),
    [
        (700, None, {}, 1.0),
        (4100, None, {"horizon_months": 36}, 1.0),  # two chunks, the second of 100 draws
        (500, 900, {"actor": "developer"}, 1.0),  # resampled draws, a lead
        (300, None, {"horizon_months": 60}, 30.0),  # many draws past MAX_ROWS
        (300, None, {"horizon_months": 0, "extra_months": (3, 6)}, 1.0),
        (300, None, {"trend_mode": "linear", "actor": "open_weights"}, 1.0),
    ],
)
def test_the_fast_simulation_is_the_straightforward_one(
    histories, monkeypatch, n_post, n_draws, setup_kw, rate_factor
):
    draws = fake_posterior(histories, n_post, seed=11)
    draws = dict(draws, event_rate=draws["event_rate"] * rate_factor)
    setup, priors = _setup(histories, **setup_kw), load_priors()
    uplift.clear_stream_cache()
    fast = uplift.simulate_uplift(draws, setup, priors, n_draws, seed=5)
    again = uplift.simulate_uplift(draws, setup, priors, n_draws, seed=5)  # kept streams
    monkeypatch.setattr(uplift, "_simulate_chunk", _straightforward_chunk)
    plain = uplift.simulate_uplift(draws, setup, priors, n_draws, seed=5)
    _assert_same(fast, plain)
    _assert_same(again, plain)
    if rate_factor > 1:
        assert fast.drivers["beyond_rows"].mean() > 0.5


def test_counting_by_binary_search_is_the_search_end_to_end():
    rng = np.random.default_rng(4)
    for rows, n in ((512, 300), (16, 5), (48, 2000), (1, 1)):
        columns = np.cumsum(rng.exponential(size=(rows, n)), axis=0)
        values = np.sort(rng.uniform(0, columns[-1].max() * 1.2, (n, 7)), axis=1)
        # ties and near-ties, where the shift by n * top rounds both sides
        pick = rng.integers(0, rows, (n, 3))
        exact = np.take_along_axis(columns.T, pick, axis=1)
        values = np.concatenate(
            [values, exact, np.nextafter(exact, 0), np.nextafter(exact, np.inf), np.zeros((n, 1))],
            axis=1,
        )
        np.testing.assert_array_equal(
            uplift._count_below(columns, values), _searched_end_to_end(columns, values)
        )
    empty = uplift._count_below(np.zeros((0, 3)), np.ones((3, 2)))
    np.testing.assert_array_equal(empty, np.zeros((3, 2)))


def test_streams_are_kept_for_one_seed_and_draws_only(histories):
    draws = fake_posterior(histories, 200, seed=3)
    setup, priors = _setup(histories), load_priors()
    uplift.clear_stream_cache()
    uplift.simulate_uplift(draws, setup, priors, None, seed=1)
    kept = dict(uplift._STREAMS)
    assert {key[2] for key in kept} == {20, 30, 40}
    assert all(not s.rows(s.drawn).flags.writeable for s in kept.values())
    uplift.simulate_uplift(draws, setup, priors, None, seed=1)
    assert all(uplift._STREAMS[key] is s for key, s in kept.items())  # read, not redrawn
    uplift.simulate_uplift(draws, setup, priors, None, seed=2)
    assert all(key[0] == 2 for key in uplift._STREAMS)  # another seed: the first is gone


def test_streams_past_the_memory_bound_are_drawn_each_time(histories, monkeypatch):
    draws = fake_posterior(histories, 400, seed=3)
    setup, priors = _setup(histories), load_priors()
    uplift.clear_stream_cache()
    expected = uplift.simulate_uplift(draws, setup, priors, None, seed=1)
    one_stream = uplift.MAX_ROWS * 400 * 8
    monkeypatch.setattr(uplift, "STREAM_CACHE_BYTES", one_stream)
    uplift.clear_stream_cache()
    bounded = uplift.simulate_uplift(draws, setup, priors, None, seed=1)
    assert len(uplift._STREAMS) == 1
    assert sum(s.nbytes for s in uplift._STREAMS.values()) <= one_stream
    _assert_same(bounded, expected)
    _assert_same(uplift.simulate_uplift(draws, setup, priors, None, seed=1), expected)
