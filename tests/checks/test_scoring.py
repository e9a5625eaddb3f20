"""forecast.checks.scoring: PIT (mid and randomised), interval hits, CRPS and totals, on
distributions whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecast.checks import scoring


def test_crps_of_a_point_mass_is_the_distance_and_of_a_normal_its_formula():
    assert scoring.crps(np.full(10, 0.3), 0.5) == pytest.approx(0.2)
    x = np.random.default_rng(0).standard_normal(200_000)
    # CRPS of N(0, 1) at y: y (2 Phi(y) - 1) + 2 phi(y) - 1 / sqrt(pi)
    for y in (0.0, 1.3):
        phi = math.exp(-(y**2) / 2) / math.sqrt(2 * math.pi)
        cdf = 0.5 * (1 + math.erf(y / math.sqrt(2)))
        expected = y * (2 * cdf - 1) + 2 * phi - 1 / math.sqrt(math.pi)
        assert scoring.crps(x, y) == pytest.approx(expected, abs=3e-3)


def test_mid_pit_counts_half_the_ties_and_the_randomised_pit_u_of_them():
    x = np.array([0.1, 0.2, 0.2, 0.5])
    assert scoring.mid_pit(x, 0.2) == pytest.approx(0.25 + 0.25)
    assert scoring.randomised_pit(x, 0.2, 0.0) == pytest.approx(0.25)
    assert scoring.randomised_pit(x, 0.2, 1.0) == pytest.approx(0.75)
    assert scoring.mid_pit(np.array([0.1, 0.2]), 1.0) == 1.0


def _atom_forecast(rng, n):
    """A best-score forecast: a point mass of 40% at the start (0.3), the rest above it."""
    return np.where(rng.random(n) < 0.4, 0.3, 0.3 + rng.gamma(2.0, 0.05, n))


def test_the_randomised_pit_is_uniform_with_an_atom_and_the_mid_pit_is_not():
    rng = np.random.default_rng(1)
    forecast = _atom_forecast(rng, 20_000)
    measured = _atom_forecast(rng, 3000)  # calibrated: drawn from the forecast itself
    pits = np.array([scoring.randomised_pit(forecast, y, u)
                     for y, u in zip(measured, rng.random(3000), strict=True)])  # fmt: skip
    counts = np.array(scoring.pit_histogram(pits))
    assert counts.sum() == 3000 and np.abs(counts - 300).max() < 60  # about 5 sd of a bin
    mids = np.array([scoring.mid_pit(forecast, y) for y in measured])
    # the atom's 40% all land at a mid-PIT of 0.2: the histogram piles up there
    assert scoring.pit_histogram(mids)[2] > 1100
    assert abs(pits.mean() - 0.5) < 0.02 and abs(mids.mean() - 0.5) < 0.02


def test_calibrated_forecasts_cover_at_their_level_and_overconfident_ones_do_not():
    rng = np.random.default_rng(2)
    rows, narrow = [], []
    for _ in range(300):
        centre = rng.normal()
        y = centre + rng.normal()
        draws = centre + rng.normal(size=4000)
        rows.append(scoring.score(draws, y, centre, rng.random()))
        narrow.append(scoring.score(centre + 0.3 * rng.normal(size=4000), y, centre, rng.random()))
    t = scoring.totals(rows)
    # ranges a calibrated forecast leaves only 1 time in 1,000 (the test must not be luck)
    lo, hi = scoring.calibrated_range(300, 0.9, mass=0.999)
    assert lo <= t["inside_90"] <= hi and abs(t["mean_pit"] - 0.5) < 0.05
    lo50, hi50 = scoring.calibrated_range(300, 0.5, mass=0.999)
    assert lo50 <= t["inside_50"] <= hi50
    assert 0.4 < t["share_above_median"] < 0.6
    over = scoring.totals(narrow)
    assert over["inside_90"] < lo and over["inside_50"] < lo50
    # a U-shaped PIT histogram: the outer bins hold far more than a fifth
    hist = over["pit_histogram"]
    assert hist[0] + hist[-1] > 0.4 * over["n"]


def test_score_of_one_forecast():
    draws = np.linspace(0, 1, 1001)
    row = scoring.score(draws, 0.8, 0.3, u=0.5)
    assert row["forecast_q25"] == pytest.approx(0.25) and row["pit"] == pytest.approx(0.8, 1e-2)
    assert row["inside_50"] is False and row["inside_90"] is True and row["above_median"] is True
    assert row["crps_no_change"] == pytest.approx(0.5)  # no change: a point mass at 0.3
    # the measured value on the atom: inside the 50% interval for u in the middle only
    atom = np.concatenate([np.full(600, 0.3), np.linspace(0.31, 0.9, 400)])
    assert scoring.score(atom, 0.3, 0.3, u=0.5)["inside_50"] is True
    assert scoring.score(atom, 0.3, 0.3, u=0.1)["inside_50"] is False
    assert scoring.score(atom, 0.3, 0.3, u=0.5)["above_median"] is False


def test_totals_count_what_they_say():
    rows = [scoring.score(np.linspace(0, 1, 101), y, 0.5, 0.5) for y in (0.1, 0.5, 0.97)]
    t = scoring.totals([*rows, {"verdict": "not a test"}])
    assert (t["n"], t["inside_50"], t["inside_90"], t["above_median"]) == (3, 1, 2, 1)
    assert t["expected_90"] == pytest.approx(2.7) and sum(t["pit_histogram"]) == 3
    assert t["range_90_if_calibrated"] == scoring.calibrated_range(3, 0.9)
    assert t["crps_skill"] == pytest.approx(1 - t["mean_crps"] / t["mean_crps_no_change"])
    assert scoring.totals([{"verdict": "x"}]) == {"n": 0}
    assert scoring.calibrated_range(100, 0.9) == [85, 95]
