"""Real NUTS fits with few draws: censoring is real, and parameters are recovered."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.fit import FitSettings, fit
from forecast.priors import load_priors
from forecast.schemas import Catalogue
from forecast.synthetic import simulate_catalogue
from forecast.table import build_table

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


@pytest.mark.slow
def test_parameters_are_recovered_within_their_90_percent_intervals(cache_dir):
    """A small simulation-based calibration: 4 synthetic catalogues, known parameters."""
    priors = load_priors()
    covered, total, mean_covered = 0, 0, 0
    for replication in range(4):
        rng = np.random.default_rng(1000 + replication)
        catalogue, truth = simulate_catalogue(rng)
        result = fit(
            build_table(catalogue),
            priors,
            FitSettings(draws=400, tune=400, chains=2, seed=replication),
        )
        assert result.diagnostics.divergences <= 5
        lo, hi = np.quantile(result.draws["ceg_oom"], [0.05, 0.95], axis=0)
        index = [result.enhancement_index(e) for e in truth.enhancement_ids]
        inside = (truth.ceg_oom >= lo[index]) & (truth.ceg_oom <= hi[index])
        covered += int(inside.sum())
        total += inside.size
        g_lo, g_hi = np.quantile(result.draws["ceg_global_mean"], [0.05, 0.95])
        mean_covered += int(g_lo <= truth.global_mean <= g_hi)
    # 90% intervals: expect ~90% of the 60 enhancement gains inside; allow for MC noise.
    assert covered / total >= 0.75, f"only {covered}/{total} true gains inside their 90% intervals"
    assert mean_covered >= 3
