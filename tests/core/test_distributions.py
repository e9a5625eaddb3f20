"""forecast.core.distributions: the distribution syntax, its errors, and the densities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecast.core.distributions import DISTRIBUTIONS, Prior, parse_distribution

# --------------------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    ("text", "dist", "params"),
    [
        ("Normal(1.0, 0.5)", "Normal", (1.0, 0.5)),
        ("Normal(mu=1, sigma=0.5)", "Normal", (1.0, 0.5)),
        ("Normal(sigma=0.5, mu=-1)", "Normal", (-1.0, 0.5)),
        ("Normal(1, sigma=0.5)", "Normal", (1.0, 0.5)),
        ("HalfNormal(0.4)", "HalfNormal", (0.4,)),
        ("HalfNormal(sigma=2)", "HalfNormal", (2.0,)),
        ("LogNormal(0.92, 0.2)", "LogNormal", (0.92, 0.2)),
        ("LogNormal(mu=0, sigma=1)", "LogNormal", (0.0, 1.0)),
        ("Gamma(2, 1)", "Gamma", (2.0, 1.0)),
        ("Gamma(alpha=2, beta=0.5)", "Gamma", (2.0, 0.5)),
        ("Exponential(3)", "Exponential", (3.0,)),
        ("Exponential(lam=0.5)", "Exponential", (0.5,)),
        ("Beta(2, 5)", "Beta", (2.0, 5.0)),
        ("  Beta( alpha = 2 , beta = 5 )  ", "Beta", (2.0, 5.0)),
        ("Uniform(0.1, 0.9)", "Uniform", (0.1, 0.9)),
        ("Uniform(lower=-1, upper=1)", "Uniform", (-1.0, 1.0)),
        ("Constant(3)", "Constant", (3.0,)),
        ("Constant(value=-2.5)", "Constant", (-2.5,)),
        ("4", "Constant", (4.0,)),
        ("-0.3", "Constant", (-0.3,)),
        ("1e-3", "Constant", (0.001,)),
        (4, "Constant", (4.0,)),
        (0.25, "Constant", (0.25,)),
    ],
)
def test_parse_distribution_forms(text, dist, params):
    prior = parse_distribution(text)
    assert prior == Prior(dist, params)
    assert all(isinstance(p, float) for p in prior.params)


def test_every_distribution_round_trips_through_str():
    for name, (params, _support) in DISTRIBUTIONS.items():
        values = (0.25, 0.75)[: len(params)]
        prior = parse_distribution(f"{name}({', '.join(map(str, values))})")
        assert prior.dist == name
        assert parse_distribution(str(prior)) == prior


def test_prior_properties():
    beta = parse_distribution("Beta(2, 5)")
    assert beta.kwargs == {"alpha": 2.0, "beta": 5.0}
    assert beta.support == (0.0, 1.0)
    assert beta.mean() == pytest.approx(2 / 7)
    lo, hi = beta.interval(0.9)
    assert 0 < lo < beta.mean() < hi < 1
    assert parse_distribution("Uniform(2, 3)").support == (2.0, 3.0)
    assert parse_distribution("HalfNormal(1)").support == (0.0, math.inf)
    assert parse_distribution("Normal(0, 1)").support == (-math.inf, math.inf)
    assert parse_distribution("7").support == (7.0, 7.0)
    assert parse_distribution("7").interval() == (7.0, 7.0)
    assert parse_distribution("7").mean() == 7.0


def test_prior_sample_is_seeded_and_inside_support():
    rng = np.random.default_rng(1)
    draws = parse_distribution("Beta(2, 5)").sample(rng, 1000)
    again = parse_distribution("Beta(2, 5)").sample(np.random.default_rng(1), 1000)
    np.testing.assert_array_equal(draws, again)
    assert draws.shape == (1000,) and ((draws > 0) & (draws < 1)).all()
    assert (parse_distribution("3").sample(rng, (2, 3)) == 3.0).all()


def test_lognormal_scipy_matches_parameters():
    prior = parse_distribution("LogNormal(0.92, 0.2)")
    assert prior.scipy().median() == pytest.approx(math.exp(0.92))


def test_constant_logpdf():
    logp = parse_distribution("2").logpdf(np.array([2.0, 2.5]))
    assert logp[0] == 0.0 and logp[1] == -np.inf


# --------------------------------------------------------------------------- syntax errors


def test_unknown_distribution_suggests_nearest():
    with pytest.raises(ValueError) as info:
        parse_distribution("Normall(0, 1)")
    message = str(info.value)
    assert "unknown distribution 'Normall'" in message
    assert "did you mean 'Normal'" in message
    assert "HalfNormal" in message  # lists the known ones


def test_unknown_distribution_without_near_name_lists_known():
    with pytest.raises(ValueError, match="unknown distribution 'Zeta'.*known: Normal"):
        parse_distribution("Zeta(2)")


@pytest.mark.parametrize(
    "text",
    [
        "Normal(1)",
        "Normal(1, 2, 3)",
        "Beta(2)",
        "HalfNormal(1, 2)",
        "Normal(1, mu=2)",
        "Normal(mu=1)",
        "Beta(alpha=2, beta=5, gamma=1)",
        "Normal(1, scale=2)",
    ],
)
def test_wrong_arity_or_keyword(text):
    name = text.split("(")[0]
    with pytest.raises(ValueError, match=rf"{name} takes {name}\("):
        parse_distribution(text)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Normal(0, 0)", "sigma must be above 0"),
        ("Normal(0, -1)", "sigma must be above 0"),
        ("HalfNormal(-0.5)", "sigma must be above 0"),
        ("LogNormal(0, 0)", "sigma must be above 0"),
        ("Gamma(0, 1)", "alpha must be above 0"),
        ("Gamma(1, -1)", "beta must be above 0"),
        ("Beta(2, 0)", "beta must be above 0"),
        ("Exponential(0)", "lam must be above 0"),
    ],
)
def test_non_positive_scale(text, what):
    with pytest.raises(ValueError, match=what):
        parse_distribution(text)


@pytest.mark.parametrize("text", ["Uniform(1, 1)", "Uniform(2, 1)"])
def test_uniform_lower_not_below_upper(text):
    with pytest.raises(ValueError, match="lower must be below upper"):
        parse_distribution(text)


@pytest.mark.parametrize(
    "value",
    ["", "Beta(2, 5", "beta", "Normal(x, 1)", "Normal('a', 1)", "1e400", "Normal(0, 1e400)"]
    + [math.nan, math.inf, True],
)
def test_malformed_distribution(value):
    with pytest.raises(ValueError):
        parse_distribution(value)


@pytest.mark.parametrize(
    "text",
    [
        "Normal(1, 0.5)",
        "HalfNormal(0.4)",
        "LogNormal(0.69, 0.5)",
        "Gamma(2, 1)",
        "Exponential(1.5)",
        "Beta(2, 5)",
        "Uniform(-1, 3)",
    ],
)
def test_log_densities_agree_with_scipy(text):
    """Prior.logpdf is written out (reweighting calls it on every warm run); it must be
    scipy.stats' log density, including -inf outside the support."""
    prior = parse_distribution(text)
    x = np.linspace(-2.5, 4.5, 141)
    expected = prior.scipy().logpdf(x)
    got = prior.logpdf(x)
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-10, atol=1e-10)
    assert np.all(np.isneginf(got[~finite]))
