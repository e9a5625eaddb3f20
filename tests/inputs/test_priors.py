"""forecast.inputs.priors: the shipped defaults, overrides and their supports, NAME=VALUE."""

from __future__ import annotations

import json

import pytest
from conftest import words

from forecast.core.distributions import Prior, parse_distribution
from forecast.core.errors import InputError
from forecast.inputs.priors import load_priors, parse_override


@pytest.fixture(scope="module")
def defaults():
    return load_priors()


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
        "relevance",
        "event_rate",
        "rate_decay_months",
        "elicitation_effect",
        "increment_share",
        "attention_spread",
        "eval_slope",
        "catalogue_gain",
        "trend_fade_years",
    }
    assert expected <= set(defaults)
    assert defaults.prior("composability_within") == Prior("Beta", (2.0, 5.0))
    assert defaults.prior("noise_dof") == Prior("Constant", (4.0,))
    for name, info in defaults.items():
        assert info.name == name
        assert info.meaning.strip(), name
        assert info.justification.strip(), name
        assert info.units.strip(), name
        assert info.drives in ("catalogue", "histories", "forecast"), name
        assert info.prior == info.default and not info.overridden
    from forecast.fit.model import SCALAR_PRIORS
    from forecast.fit.uplift_model import UPLIFT_PRIORS
    from forecast.simulate.uplift import FORECAST_PRIORS

    forecast_side = {n for n, i in defaults.items() if i.drives == "forecast"}
    assert forecast_side == set(FORECAST_PRIORS)
    # Every prior a model samples drives that model (changing it refits or reweights it).
    assert {n for n, i in defaults.items() if i.drives == "catalogue"} >= set(SCALAR_PRIORS)
    assert {n for n, i in defaults.items() if i.drives == "histories"} == set(UPLIFT_PRIORS)


def test_load_priors_rejects_bad_distribution_with_location(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "schema_version: 1\npriors:\n  x:\n    distribution: Betta(2, 5)\n"
        "    units: u\n    meaning: m\n    justification: j\n    drives: catalogue\n"
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
        ("rate_decay_months", "-1"),
        ("increment_share", "Normal(0.2, 0.1)"),
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


def test_each_model_keys_only_its_own_priors(defaults):
    """A fit's cache key holds the priors that drive that model: changing another model's
    prior, or a forecast-only prior, keeps the key."""
    catalogue, histories = defaults.driving("catalogue"), defaults.driving("histories")
    assert "composability_within" in catalogue and "event_rate" not in catalogue
    assert "event_rate" in histories and "composability_within" not in histories
    assert parse_distribution(catalogue["composability_within"]) == Prior("Beta", (2.0, 5.0))

    changed = defaults.with_overrides({"ceg_global_mean": "Normal(1.5, 0.5)"})
    assert changed.driving("catalogue") != catalogue
    assert changed.driving("histories") == histories
    assert parse_distribution(changed.driving("catalogue")["ceg_global_mean"]) == Prior(
        "Normal", (1.5, 0.5)
    )
    changed = defaults.with_overrides({"rate_decay_months": "LogNormal(3.5, 0.7)"})
    assert changed.driving("histories") != histories
    assert changed.driving("catalogue") == catalogue
    changed = defaults.with_overrides({"trend_fade_years": "LogNormal(1, 0.5)"})
    assert changed.driving("histories") == histories and changed.driving("catalogue") == catalogue


def test_keys_distinguish_close_values(defaults):
    a = defaults.with_overrides({"ceg_global_mean": "Normal(1.0000001, 0.5)"})
    assert a.driving("catalogue") != defaults.driving("catalogue")


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
    code, out, err = run_cli(["priors", "show", "--json", "--prior", "increment_share=Beta(3, 3)"])
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)["priors"]}
    assert rows["increment_share"]["distribution"] == "Beta(3, 3)"
    assert rows["increment_share"]["default"] == "Beta(2, 8)"
    assert rows["increment_share"]["overridden"] is True
    assert rows["increment_share"]["drives"] == "histories"
    assert rows["increment_share"]["mean"] == pytest.approx(0.5)
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
        ("rate_decay_months", "LogNormal(2.5, 0.3)"),
        ("observation_noise", "HalfNormal(0.2)"),
        ("arrival_rate", "Gamma(4, 2)"),
        ("noise_dof", "8"),
    ],
)
def test_positive_priors_accept_positive_distributions(name, value):
    """Only a fixed number at or below 0 is refused for a positive quantity."""
    priors = load_priors().with_overrides({name: value})
    assert priors[name].overridden
