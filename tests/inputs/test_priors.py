"""forecast.inputs.priors: the distribution syntax, overrides, and the shipped defaults."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import words

from forecast.core.errors import InputError
from forecast.inputs.priors import (
    DISTRIBUTIONS,
    Prior,
    load_priors,
    parse_distribution,
    parse_override,
)


@pytest.fixture(scope="module")
def defaults():
    return load_priors()


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


# --------------------------------------------------------------------------- shipped defaults


def test_load_priors_reads_shipped_defaults(defaults):
    expected = {
        "ceg_global_mean",
        "category_spread",
        "enhancement_spread",
        "benchmark_spread",
        "observation_noise",
        "noise_dof",
        "scale_slope",
        "ceg_trend",
        "selection_bias",
        "composability_within",
        "composability_between",
        "arrival_rate",
        "catalogue_coverage",
        "relevance",
        "uplift_ceiling",
    }
    assert expected <= set(defaults)
    assert defaults.prior("composability_within") == Prior("Beta", (2.0, 5.0))
    assert defaults.prior("noise_dof") == Prior("Constant", (4.0,))
    for name, info in defaults.items():
        assert info.name == name
        assert info.meaning.strip(), name
        assert info.justification.strip(), name
        assert info.units.strip(), name
        assert info.drives in ("fit", "forecast"), name
        assert info.prior == info.default and not info.overridden
    from forecast.fit.model import SCALAR_PRIORS
    from forecast.simulate.uplift import FORECAST_PRIORS

    forecast_side = {n for n, i in defaults.items() if i.drives == "forecast"}
    assert forecast_side == {*FORECAST_PRIORS, "eval_slope"}
    # Every prior the model samples is a fit prior (changing it refits or reweights).
    assert {n for n, i in defaults.items() if i.drives == "fit"} >= set(SCALAR_PRIORS)


def test_load_priors_rejects_bad_distribution_with_location(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "schema_version: 1\npriors:\n  x:\n    distribution: Betta(2, 5)\n"
        "    units: u\n    meaning: m\n    justification: j\n    drives: fit\n"
    )
    with pytest.raises(InputError) as info:
        load_priors(path)
    err = info.value
    assert (err.file, err.path, err.line) == (str(path), "priors.x.distribution", 4)
    assert "did you mean 'Beta'" in err.message


# --------------------------------------------------------------------------- overrides


def test_good_override_changes_prior_and_overridden(defaults):
    changed = defaults.with_overrides({"composability_within": "Beta(5, 2)"})
    info = changed["composability_within"]
    assert info.prior == Prior("Beta", (5.0, 2.0))
    assert info.default == Prior("Beta", (2.0, 5.0))
    assert info.overridden
    # the original set is untouched, the others are unchanged
    assert not defaults["composability_within"].overridden
    assert all(not changed[n].overridden for n in changed if n != "composability_within")
    assert len(changed) == len(defaults)


def test_override_with_number_and_same_value(defaults):
    assert defaults.with_overrides({"composability_within": 0.5})["composability_within"].prior == (
        Prior("Constant", (0.5,))
    )
    same = defaults.with_overrides({"composability_within": "Beta(2.0, 5.0)"})
    assert not same["composability_within"].overridden


def test_unknown_prior_name_suggests_nearest(defaults):
    with pytest.raises(InputError) as info:
        defaults.with_overrides({"composability_withn": "Beta(2, 5)"})
    err = info.value
    assert err.file == "--prior"
    assert err.path == "priors.composability_withn"
    assert "did you mean 'composability_within'" in err.message


def test_override_origin_is_reported(defaults):
    with pytest.raises(InputError) as info:
        defaults.with_overrides({"nope": 1}, origin="scenario.yaml")
    assert info.value.file == "scenario.yaml"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("composability_within", "Normal(0, 1)"),
        ("composability_within", "Uniform(0.5, 1.5)"),
        ("composability_within", "2"),
        ("relevance", "HalfNormal(1)"),
        ("category_spread", "Normal(0, 1)"),
        ("uplift_ceiling", "-1"),
    ],
)
def test_override_outside_support_is_rejected(defaults, name, value):
    with pytest.raises(InputError) as info:
        defaults.with_overrides({name: value})
    assert info.value.path == f"priors.{name}"
    assert "outside" in info.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("composability_within", "Uniform(0.2, 0.8)"),
        ("composability_within", "1"),
        ("category_spread", "Gamma(2, 4)"),
        ("ceg_global_mean", "Uniform(-1, 3)"),
    ],
)
def test_override_inside_support_is_accepted(defaults, name, value):
    assert defaults.with_overrides({name: value})[name].prior == parse_distribution(value)


def test_override_bad_syntax_is_input_error(defaults):
    with pytest.raises(InputError) as info:
        defaults.with_overrides({"relevance": "Beta(2)"})
    assert info.value.path == "priors.relevance"
    assert "Beta takes Beta(alpha, beta)" in info.value.message


def test_fixed_default_can_be_overridden(defaults):
    assert defaults.with_overrides({"noise_dof": "10"})["noise_dof"].prior.params == (10.0,)
    gamma = defaults.with_overrides({"noise_dof": "Gamma(2, 0.1)"})["noise_dof"]
    assert gamma.prior == Prior("Gamma", (2.0, 0.1)) and gamma.overridden
    # its declared support (positive) still applies
    for bad in ("-1", "Normal(4, 1)"):
        with pytest.raises(InputError, match="outside"):
            defaults.with_overrides({"noise_dof": bad})


def test_fit_priors_change_only_for_fit_priors(defaults):
    base = defaults.fit_priors()
    assert set(base) == {n for n, i in defaults.items() if i.drives == "fit"}
    assert "uplift_ceiling" not in base and "composability_within" in base
    assert "relevance" in base and "selection_bias" in base  # informed by the evidence in v2
    assert parse_distribution(base["composability_within"]) == Prior("Beta", (2.0, 5.0))

    fit_changed = defaults.with_overrides({"ceg_global_mean": "Normal(1.5, 0.5)"}).fit_priors()
    assert fit_changed != base
    assert parse_distribution(fit_changed["ceg_global_mean"]) == Prior("Normal", (1.5, 0.5))

    for name, value in [
        ("absorption_years", "LogNormal(1, 0.5)"),
        ("catalogue_coverage", "0.5"),
        ("uplift_ceiling", "LogNormal(1, 0.3)"),
    ]:
        assert defaults.with_overrides({name: value}).fit_priors() == base, name


def test_fit_priors_distinguish_close_values(defaults):
    a = defaults.with_overrides({"ceg_global_mean": "Normal(1.0000001, 0.5)"})
    assert a.fit_priors() != defaults.fit_priors()


# --------------------------------------------------------------------------- NAME=VALUE


def test_parse_override():
    assert parse_override("composability_within=Beta(2,5)") == (
        "composability_within",
        "Beta(2,5)",
    )
    assert parse_override("  noise_dof = 4 ") == ("noise_dof", "4")
    assert parse_override("a=Normal(mu=1, sigma=2)") == ("a", "Normal(mu=1, sigma=2)")


@pytest.mark.parametrize("text", ["", "noequals", "=Beta(2,5)", "name=", " = ", "name=   "])
def test_parse_override_errors(text):
    with pytest.raises(InputError) as info:
        parse_override(text)
    assert info.value.file == "--prior"
    assert "NAME=VALUE" in info.value.message


# --------------------------------------------------------------------------- CLI


def test_cli_priors_show_json_reports_override(run_cli):
    code, out, err = run_cli(
        ["priors", "show", "--json", "--prior", "catalogue_coverage=Beta(3, 3)"]
    )
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)["priors"]}
    assert rows["catalogue_coverage"]["distribution"] == "Beta(3, 3)"
    assert rows["catalogue_coverage"]["default"] == "Beta(4, 4)"
    assert rows["catalogue_coverage"]["overridden"] is True
    assert rows["catalogue_coverage"]["drives"] == "forecast"
    assert rows["catalogue_coverage"]["mean"] == pytest.approx(0.5)
    assert rows["ceg_global_mean"]["overridden"] is False


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("composability_withn=Beta(2,5)", "did you mean 'composability_within'"),
        ("composability_within=Normal(0,1)", "outside [0, 1]"),
        ("composability_within", "NAME=VALUE"),
        ("relevance=Betta(2,2)", "did you mean 'Beta'"),
    ],
)
def test_cli_priors_show_bad_override(run_cli, override, needle):
    code, out, err = run_cli(["priors", "show", "--prior", override])
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert "--prior" in err
    assert needle in words(err)


@pytest.mark.parametrize(
    "name,value",
    [
        ("uplift_ceiling", "LogNormal(0.92, 0.1)"),
        ("observation_noise", "HalfNormal(0.2)"),
        ("arrival_rate", "Gamma(4, 2)"),
        ("noise_dof", "8"),
    ],
)
def test_positive_priors_accept_positive_distributions(name, value):
    """Only a fixed number at or below 0 is refused for a positive quantity."""
    priors = load_priors().with_overrides({name: value})
    assert priors[name].overridden


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
