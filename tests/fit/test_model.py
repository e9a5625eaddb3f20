"""Real NUTS fits with few draws: censoring is real, and parameters are recovered."""

from __future__ import annotations

import numpy as np

from forecast.core.schemas.catalogue import Catalogue
from forecast.evidence.table import build_table
from forecast.fit.fitting import FitSettings, fit
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


def test_lower_bound_pulls_the_posterior_above_the_same_figure_as_a_point(cache_dir):
    priors = load_priors()
    as_point = fit(build_table(_catalogue({"point": 20})), priors, SMALL)
    as_bound = fit(build_table(_catalogue({"lower": 20})), priors, SMALL)
    i = as_point.enhancement_index("target")
    point_median = np.median(as_point.draws["ceg_oom"][:, i])
    bound_median = np.median(as_bound.draws["ceg_oom"][:, i])
    # The figure is log10(20) = 1.30 OOM. As a point the posterior is shrunk below it;
    # as a lower bound (likelihood P(Y > 1.30)) it must sit clearly higher.
    assert bound_median > point_median + 0.1
    assert np.mean(as_bound.draws["ceg_oom"][:, i] > np.log10(20)) > np.mean(
        as_point.draws["ceg_oom"][:, i] > np.log10(20)
    )


def test_upper_bound_pulls_the_posterior_below_the_same_figure_as_a_point(cache_dir):
    priors = load_priors()
    as_point = fit(build_table(_catalogue({"point": 20})), priors, SMALL)
    as_bound = fit(build_table(_catalogue({"upper": 20})), priors, SMALL)
    i = as_point.enhancement_index("target")
    assert (
        np.median(as_bound.draws["ceg_oom"][:, i])
        < np.median(as_point.draws["ceg_oom"][:, i]) - 0.1
    )


def test_the_model_stores_exactly_the_variables_the_forecast_reads():
    """forecast/fit/model_data.py lists them without importing PyMC (the cache checks them)."""
    from forecast.evidence.catalogue import load_catalogue
    from forecast.fit.model import build_model
    from forecast.fit.model_data import expected_shapes

    table = build_table(load_catalogue())
    model = build_model(table, load_priors())
    point = model.initial_point()
    names = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    shapes = expected_shapes(table)
    assert set(shapes) <= names
    evaluate = model.compile_fn(
        [model[name] for name in shapes], inputs=model.value_vars, on_unused_input="ignore"
    )
    values = evaluate(point)
    for (name, shape), value in zip(shapes.items(), values, strict=True):
        assert np.shape(value) == shape, name
