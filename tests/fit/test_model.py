"""Real NUTS fits of the catalogue model with few draws (censoring is real), and both models
store exactly the variables the cache checks and the forecast reads."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.core.schemas.catalogue import Catalogue
from forecast.evidence.table import build_table
from forecast.fit.catalogue import catalogue_spec, fit_catalogue
from forecast.fit.engine import FitSettings
from forecast.inputs.priors import load_priors

SMALL = FitSettings(draws=300, tune=300, chains=2, seed=11)


def _catalogue(bound: dict) -> Catalogue:
    def enh(eid, category, figures):
        return {
            "id": eid,
            "name": eid,
            "category": category,
            "published": "2022-01-01",
            "access": "prompt",
            "source": "test",
            "observations": [
                {"benchmark": f"b{eid}{i}", "domain": "d", "ceg": ceg, "where": "test"}
                for i, ceg in enumerate(figures)
            ],
        }

    return Catalogue.model_validate(
        {
            "schema_version": 1,
            "enhancements": [
                enh("target", "prompting", [bound]),
                enh("other_a", "prompting", [{"point": 5}, {"point": 3}]),
                enh("other_b", "tool", [{"point": 8}, {"point": 4}]),
                enh("other_c", "data", [{"point": 6}]),
            ],
        }
    )


@pytest.fixture
def cache_dir(shared_cache, monkeypatch):
    """One cache for the module: the fit of the figure as a point is made once."""
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(shared_cache))
    return shared_cache


def _target(bound: dict) -> np.ndarray:
    """The posterior draws of the target enhancement's CEG (OOM), its figure given as
    ``bound``."""
    fit = fit_catalogue(build_table(_catalogue(bound)), load_priors(), SMALL)
    assert fit.how in ("sampled", "cache") and fit.n_draws == SMALL.chains * SMALL.draws
    i = fit.labels["enhancements"].index("target")
    return fit.draws["ceg_oom"][:, i]


def test_lower_bound_pulls_the_posterior_above_the_same_figure_as_a_point(cache_dir):
    as_point = _target({"point": 20})
    as_bound = _target({"lower": 20})
    # The figure is log10(20) = 1.30 OOM. As a point the posterior is shrunk below it;
    # as a lower bound (likelihood P(Y > 1.30)) it must sit clearly higher.
    assert np.median(as_bound) > np.median(as_point) + 0.1
    assert np.mean(as_bound > np.log10(20)) > np.mean(as_point > np.log10(20))


def test_upper_bound_pulls_the_posterior_below_the_same_figure_as_a_point(cache_dir):
    as_point = _target({"point": 20})
    as_bound = _target({"upper": 20})
    assert np.median(as_bound) < np.median(as_point) - 0.1


def test_the_catalogue_model_stores_exactly_the_variables_the_forecast_reads():
    """forecast/fit/model_data.py lists them without importing PyMC (the cache checks them)."""
    from forecast.evidence.catalogue import load_catalogue
    from forecast.fit.model import build_model

    table = build_table(load_catalogue())
    priors = load_priors()
    spec = catalogue_spec(table, priors)
    _check_shapes(build_model(table, priors), spec.shapes)


def test_the_uplift_model_stores_exactly_the_variables_the_forecast_reads():
    """forecast/fit/uplift_model.py lists them (expected_shapes) for the cache's checks; the
    simulation reads every scalar and the labels name the suites and series."""
    from forecast.fit.histories import histories_spec
    from forecast.fit.uplift_model import UPLIFT_SCALARS, build_uplift_model
    from forecast.inputs.resolve import resolve

    inputs = resolve(None)
    table = inputs.histories
    spec = histories_spec(table, inputs.priors)
    assert set(UPLIFT_SCALARS) <= set(spec.shapes)
    assert spec.labels == {"suites": table.suites, "series": table.series}
    assert spec.shapes["z_suite"] == (len(table.suites),)
    assert spec.shapes["z_series"] == (len(table.series),)
    _check_shapes(build_uplift_model(table, inputs.priors), spec.shapes)


def _check_shapes(model, shapes: dict) -> None:
    point = model.initial_point()
    names = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    assert set(shapes) <= names, sorted(set(shapes) - names)
    evaluate = model.compile_fn(
        [model[name] for name in shapes], inputs=model.value_vars, on_unused_input="ignore"
    )
    values = evaluate(point)
    for (name, shape), value in zip(shapes.items(), values, strict=True):
        assert np.shape(value) == shape, name
        assert np.isfinite(value).all(), name
