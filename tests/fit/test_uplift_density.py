"""The uplift model's numba kernels against its PyMC form: the same log density (with
PyMC's transforms, Jacobians and normalising constants) and the same gradient, for every
prior family, at random points; the gradient against finite differences; data swaps."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.core.distributions import parse_distribution
from forecast.evidence.histories import build_history_table
from forecast.evidence.measurements import load_measurements
from forecast.fit.uplift_compiled import compile_uplift, log_density, table_values
from forecast.fit.uplift_model import UPLIFT_PRIORS, build_uplift_model, data_values, prior_values
from forecast.inputs.priors import load_priors

#: Every family the priors accept, each on a parameter where it makes sense.
EVERY_FAMILY = {
    "event_rate": "Gamma(2, 2)",
    "rate_trend": "Normal(0.2, 0.3)",
    "elicitation_effect": "Uniform(0, 1.5)",
    "access_effect": "Constant(0.25)",
    "harness_noise": "Exponential(3)",
    "increment_share": "Beta(2, 5)",
    "scaling_noise": "HalfNormal(0.4)",
    "attention_spread": "LogNormal(-0.5, 0.4)",
}


@pytest.fixture(scope="module")
def table():
    return build_history_table(load_measurements())


def _pymc_point(model, x):
    point, i = {}, 0
    start = model.initial_point()
    for value in model.value_vars:
        shape = start[value.name].shape
        n = int(np.prod(shape))
        point[value.name] = x[i : i + n].reshape(shape)
        i += n
    assert i == len(x)
    return point


@pytest.mark.parametrize("overrides", [{}, EVERY_FAMILY], ids=["defaults", "every-family"])
def test_kernels_match_the_pymc_model(table, overrides):
    priors = load_priors().with_overrides(overrides)
    compiled = compile_uplift(table, priors)
    model = build_uplift_model(table, priors)
    logp = model.compile_logp(jacobian=True)
    dlogp = model.compile_dlogp(jacobian=True)
    assert compiled.n_dim == sum(
        int(np.prod(model.initial_point()[v.name].shape)) for v in model.value_vars
    )
    rng = np.random.default_rng(3)
    for _ in range(6):
        x = compiled.initial_point_func(int(rng.integers(1 << 30))) + rng.normal(
            0, 0.7, compiled.n_dim
        )
        value, grad = log_density(compiled, x)
        point = _pymc_point(model, x)
        np.testing.assert_allclose(value, logp(point), rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("overrides", [{}, EVERY_FAMILY], ids=["defaults", "every-family"])
def test_chains_start_where_pymc_starts_them(table, overrides):
    """The point the initial points jitter is PyMC's initial point (support points in the
    unconstrained space): a short fit is sensitive to where it starts."""
    priors = load_priors().with_overrides(overrides)
    model = build_uplift_model(table, priors)
    start = model.initial_point()
    expected = np.concatenate([np.atleast_1d(start[v.name]).ravel() for v in model.value_vars])
    np.testing.assert_allclose(compile_uplift(table, priors).start, expected, rtol=1e-12)


def test_gradient_matches_finite_differences(table):
    compiled = compile_uplift(table, load_priors().with_overrides(EVERY_FAMILY))
    rng = np.random.default_rng(11)
    x = compiled.initial_point_func(5) + rng.normal(0, 0.3, compiled.n_dim)
    _, grad = log_density(compiled, x)
    h = 1e-6
    for i in range(compiled.n_dim):
        step = np.zeros(compiled.n_dim)
        step[i] = h
        numeric = (log_density(compiled, x + step)[0] - log_density(compiled, x - step)[0]) / (
            2 * h
        )
        assert numeric == pytest.approx(grad[i], rel=1e-5, abs=1e-4), i


def test_weights_enter_linearly_and_data_swaps_keep_the_sizes(table):
    compiled = compile_uplift(table, load_priors())
    x = compiled.initial_point_func(2)
    n = table.n_increments
    values = [
        log_density(compiled.with_data(inc_weight=np.full(n, w)), x)[0] for w in (0.0, 1.0, 2.0)
    ]
    assert values[1] == pytest.approx(log_density(compiled, x)[0])
    assert values[2] - values[1] == pytest.approx(values[1] - values[0], rel=1e-9)
    with pytest.raises(ValueError, match="inc_weight"):
        compiled.with_data(inc_weight=np.ones(n + 1))
    with pytest.raises(KeyError):
        compiled.with_data(not_a_container=1.0)


def test_prior_parameters_are_data(table):
    """A refit under other values of a prior's family swaps data: the density moves with
    them exactly as a freshly packed model's."""
    priors = load_priors()
    other = priors.with_overrides({"event_rate": "LogNormal(0.3, 0.5)"})
    swapped = compile_uplift(table, priors).with_data(**prior_values(other))
    fresh = compile_uplift(table, other)
    x = fresh.initial_point_func(9)
    assert log_density(swapped, x)[0] == log_density(fresh, x)[0]
    assert set(data_values(table)) <= set(table_values(table))


def test_expanded_draws_are_the_constrained_values(table):
    from forecast.fit import uplift_density as kernel

    priors = load_priors().with_overrides(EVERY_FAMILY)
    compiled = compile_uplift(table, priors)
    x = compiled.initial_point_func(4)
    out = np.zeros(compiled.n_expanded)
    kernel.expand(x, compiled.user_data, out)
    values = dict(zip(UPLIFT_PRIORS, out[: len(UPLIFT_PRIORS)], strict=True))
    assert values["access_effect"] == 0.25  # a fixed value is stored as such
    assert 0 < values["increment_share"] < 1
    assert 0 < values["elicitation_effect"] < 1.5
    assert out[len(UPLIFT_PRIORS)] == pytest.approx(
        values["increment_share"] * values["catalogue_gain"]
    )
    free = [
        n
        for n in UPLIFT_PRIORS
        if parse_distribution(EVERY_FAMILY.get(n, "Normal(0,1)")).dist != "Constant"
    ]
    assert list(compiled.free_names[: len(free)]) == free
    np.testing.assert_array_equal(out[len(UPLIFT_PRIORS) + 1 :], x[len(free) :])


def test_degenerate_points_are_rejected_not_raised(table):
    """Far corners (an intensity that underflows to zero, a rate of zero) give a non-finite
    density or gradient, which the callback reports as a rejected point; nothing raises
    inside the C callback, and initial points avoid such corners."""
    from forecast.fit.uplift_compiled import initial_points

    compiled = compile_uplift(table, load_priors())
    x = compiled.initial_point_func(1)
    slot = list(compiled.free_names).index("rate_decay_months")
    corner = x.copy()
    corner[slot] = -800.0  # decay e^-800: exp(-age / decay) underflows
    corner[list(compiled.free_names).index("event_rate")] = -800.0
    value, grad = log_density(compiled, corner)  # no ZeroDivisionError
    assert not (np.isfinite(value) and np.isfinite(grad).all()) or value < -1e3
    # a start on the edge of such a corner: about half its jitters fall in it
    grid = np.linspace(-30.0, 5.0, 701)
    bad = []
    for u in grid:
        probe = compiled.start.copy()
        probe[slot] = u
        bad.append(not np.isfinite(log_density(compiled, probe)[0]))
    edge = grid[np.flatnonzero(bad)[-1]]  # the highest decay whose density is not finite
    start = compiled.start.copy()
    start[slot] = edge
    draw = initial_points(start, compiled.user_data)
    retried = 0
    for seed in range(20):
        point = draw(seed)
        assert np.isfinite(log_density(compiled, point)[0])
        first = start + np.random.default_rng(seed).uniform(-1.0, 1.0, len(start))
        retried += not np.isfinite(log_density(compiled, first)[0])
    assert retried > 0  # some first jitters were in the corner and were drawn again


_FIT_SCRIPT = """
import sys, numpy as np
from forecast.evidence.histories import build_history_table
from forecast.evidence.measurements import load_measurements
from forecast.fit.engine import FitSettings
from forecast.fit.histories import fit_histories
from forecast.inputs.priors import load_priors
table = build_history_table(load_measurements())
fit = fit_histories(table, load_priors(), FitSettings(draws=30, tune=40, chains=2, seed=5),
                    use_cache=False, reweight=False)
np.savez(sys.argv[1], **fit.draws)
"""


def test_same_draws_whatever_the_compile_cache_holds(tmp_path):
    """A fit whose kernels numba compiles afresh (an empty numba cache: a fresh install)
    and one that loads them from that cache give the same draws, bit for bit."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               FORECAST_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))  # fmt: skip
    draws = []
    for name in ("fresh", "cached"):
        out = tmp_path / f"{name}.npz"
        done = subprocess.run([sys.executable, "-c", _FIT_SCRIPT, str(out)], env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        draws.append(dict(np.load(out)))
    assert any((tmp_path / "numba").rglob("*.nbi"))  # the first run filled the cache
    assert draws[0].keys() == draws[1].keys()
    for key in draws[0]:
        np.testing.assert_array_equal(draws[0][key], draws[1][key])
