"""forecast.buffer.evals and forecast.buffer.rates: P(cross), fresh runs, pooling, status."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import uplift_draws

from forecast.buffer.evals import (
    SETTLE_STEPS,
    at_least,
    binomial_tail,
    cross_probability,
    eval_state,
    evaluate,
    slope_draws,
    task_slopes,
)
from forecast.buffer.rates import expit, logit, rate_posterior
from forecast.core.schemas.scenario import EvalSpec
from forecast.inputs.tasks import read_task_results

RNG_SEED = 4
#: The shipped per-task results (scenarios/data/autonomy-tasks.csv): 12 of 20 tasks at 0/10.
AUTONOMY = [6, 3, 2, 1, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]


def _tasks(tmp_path, rows):
    path = tmp_path / "tasks.csv"
    path.write_text(
        "task_id,successes,attempts\n" + "".join(f"t{i},{s},{a}\n" for i, (s, a) in enumerate(rows))
    )
    return read_task_results(path)


def _spec(**kw):
    return EvalSpec(name="t", tasks_file="x", **kw)


# --------------------------------------------------------------------------- P(cross)


@pytest.mark.parametrize(
    "kind",
    ["aggregate", "hidden_rate-independent", "hidden_rate-hierarchical", "fresh_run-hierarchical"],
)
def test_a_higher_threshold_is_never_crossed_more_often(tmp_path, kind):
    u = uplift_draws()
    slope = np.full(len(u), 0.8)
    tasks = _tasks(tmp_path, [(1, 10), (0, 10), (3, 10), (0, 10), (2, 10)])
    previous = 1.1
    for threshold in (0.05, 0.1, 0.2, 0.35, 0.5, 0.8):
        if kind == "aggregate":
            spec, data = EvalSpec(name="e", score=0.2, n_tasks=40, threshold=threshold), None
        elif kind.startswith("hidden_rate"):
            spec = _spec(task_pass_rate=threshold, pooling=kind.split("-")[1])
            data = tasks
        else:  # a stricter share of tasks plays the part of a higher threshold
            spec, data = _spec(definition="fresh_run", tries=10, tasks_fraction=threshold), tasks
        p = evaluate(spec, data, u, slope, 0.95, np.random.default_rng(RNG_SEED))["p_cross"]
        assert p <= previous + 1e-12
        previous = p


def test_zero_horizon_and_nothing_to_elicit_gives_the_probability_already_met(tmp_path):
    u = np.zeros((4000, 1))
    slope = np.full(4000, 1.0)
    spec = EvalSpec(name="e", score=0.45, n_tasks=40, threshold=0.5)
    out = evaluate(spec, None, u, slope, 0.95, np.random.default_rng(RNG_SEED))
    assert out["p_cross"] == pytest.approx(out["p_already_met"])
    # Jeffreys posterior Beta(18.5, 22.5): P(rate >= 0.5) is about 0.27
    assert 0.2 < out["p_already_met"] < 0.35
    tasks = _tasks(tmp_path, [(1, 10), (0, 10), (2, 10), (0, 10)])
    for spec in (_spec(), _spec(definition="fresh_run", tries=10), _spec(pooling="independent")):
        out = evaluate(spec, tasks, u, slope, 0.95, np.random.default_rng(RNG_SEED))
        assert out["p_cross"] == pytest.approx(out["p_already_met"])


def test_the_trigger_score_makes_p_cross_equal_alpha():
    u = uplift_draws(20000)
    slope = np.random.default_rng(1).lognormal(-0.2, 0.5, len(u))
    spec = EvalSpec(name="e", score=0.2, threshold=0.5)
    out = evaluate(spec, None, u, slope, 0.95, np.random.default_rng(RNG_SEED))
    at_trigger = EvalSpec(name="e", score=out["trigger"]["score"], threshold=0.5)
    again = evaluate(at_trigger, None, u, slope, 0.95, np.random.default_rng(RNG_SEED))
    assert again["p_cross"] == pytest.approx(0.05, abs=0.005)
    assert out["trigger"]["score"] < 0.5


def test_logit_and_expit_invert():
    p = np.linspace(0.01, 0.99, 50)
    np.testing.assert_allclose(expit(logit(p)), p)


# --------------------------------------------------------------------------- fresh runs


@pytest.mark.parametrize("tries,m", [(10, 1), (10, 3), (1, 1), (25, 25)])
def test_binomial_tail_is_exact(tries, m):
    from scipy.stats import binom

    p = np.array([0.0, 1e-4, 0.03, 0.1, 0.5, 0.97, 1.0])
    np.testing.assert_allclose(binomial_tail(p, tries, m), binom.sf(m - 1, tries, p), atol=1e-12)
    if m == 1:
        np.testing.assert_allclose(binomial_tail(p, tries), 1 - (1 - p) ** tries, atol=1e-12)


def test_at_least_matches_enumerating_every_outcome():
    rng = np.random.default_rng(0)
    q = rng.uniform(size=(3, 6))
    for need in range(8):
        brute = np.zeros(3)
        for outcome in itertools.product((0, 1), repeat=6):
            o = np.array(outcome)
            prob = np.prod(np.where(o, q, 1 - q), axis=1)
            brute += prob * (o.sum() >= need)
        np.testing.assert_allclose(at_least(q, need), brute, atol=1e-12)


@pytest.mark.parametrize("tries,m", [(10, 1), (10, 2)])
def test_fresh_run_probability_matches_brute_force_reruns(tries, m):
    """Simulate the re-run itself: each task's k fresh tries at its shifted rate, count the
    tasks with at least m successes, compare with the exact Poisson-binomial value."""
    rng = np.random.default_rng(11)
    n, n_tasks = 20000, 20
    posterior = rate_posterior(AUTONOMY, [10] * n_tasks, "hierarchical")
    base = logit(posterior.sample(n, rng))
    slopes = task_slopes(rng.lognormal(-0.22, 0.5, n), n_tasks, 0.3, rng)
    uplift = rng.exponential(0.8, n)
    spec = _spec(definition="fresh_run", tries=tries, min_successes=m)
    exact = cross_probability(spec, base, slopes, uplift)
    rates = expit(base + slopes * uplift[:, None])
    successes = rng.binomial(tries, rates)  # one fresh run of every task, per draw
    rerun = ((successes >= m).sum(axis=1) >= 10).astype(float)
    se = np.sqrt(exact.mean() * (1 - exact.mean()) / n)
    assert abs(rerun.mean() - exact.mean()) < 4 * se
    assert 0.05 < exact.mean() < 0.95  # a test that could fail


def test_fresh_run_crosses_more_often_than_the_hidden_rate_at_one_in_k(tmp_path):
    """A task at rate exactly 1/k passes a k-try run with probability 1 - (1 - 1/k)^k = 0.65;
    tasks below 1/k still pass sometimes, so on data with many 1/10 and 0/10 tasks the
    observed pass@10 reading crosses more often than the hidden-rate one."""
    u = uplift_draws()
    slope = np.full(len(u), 0.8)
    tasks = _tasks(tmp_path, [(s, 10) for s in AUTONOMY])
    rate = evaluate(_spec(pooling="independent"), tasks, u, slope, 0.95, np.random.default_rng(1))
    fresh = evaluate(
        _spec(pooling="independent", definition="fresh_run", tries=10),
        tasks,
        u,
        slope,
        0.95,
        np.random.default_rng(1),
    )
    assert fresh["p_cross"] > rate["p_cross"]


# --------------------------------------------------------------------------- pooling


def test_grid_posterior_agrees_with_importance_sampling_from_the_prior():
    """The grid over (mu, kappa) against brute force: prior draws weighted by the
    beta-binomial likelihood."""
    from scipy.special import betaln

    s, a = np.array(AUTONOMY, float), np.full(20, 10.0)
    grid = rate_posterior(s, a, "hierarchical").hyper_summary()
    rng = np.random.default_rng(3)
    n = 400_000
    mu = rng.uniform(size=n)
    u = rng.uniform(size=n)
    kappa = u / (1 - u)  # p(kappa) = 1/(1+kappa)^2 has CDF kappa/(1+kappa)
    al, be = mu * kappa, (1 - mu) * kappa
    loglik = sum(
        betaln(al + sj, be + aj - sj) - betaln(al, be) for sj, aj in zip(s, a, strict=True)
    )
    w = np.exp(loglik - loglik.max())
    w /= w.sum()
    assert grid["mu"]["mean"] == pytest.approx(float((w * mu).sum()), rel=0.03)
    log_k = float((w * np.log(kappa)).sum())
    assert np.log(grid["kappa"]["q50"]) == pytest.approx(log_k, abs=0.25)


def test_pooling_shrinks_task_rates_towards_each_other():
    s, a = np.array([1, 2, 3, 2, 1, 2, 3, 2, 7, 2], float), np.full(10, 10.0)
    rng = np.random.default_rng(0)
    pooled = rate_posterior(s, a, "hierarchical").sample(20000, rng).mean(axis=0)
    alone = rate_posterior(s, a, "independent").sample(20000, rng).mean(axis=0)
    assert pooled[8] < alone[8] - 0.1  # the 7/10 outlier is pulled towards the others
    assert pooled[0] > alone[0] + 0.03  # and the 1/10 tasks up
    # identical tasks: pooling concentrates every task's rate near the common one
    same = rate_posterior(np.full(30, 3.0), np.full(30, 10.0), "hierarchical")
    draws = same.sample(20000, rng)
    assert draws.mean() == pytest.approx(0.3, abs=0.02)
    assert draws[:, 0].std() < rate_posterior([3], [10], "independent").sample(20000, rng).std()


def test_slope_spread_keeps_the_eval_slope_as_each_tasks_median():
    rng = np.random.default_rng(0)
    b = np.full(200_000, 0.8)
    assert np.all(task_slopes(b, 3, 0.0, rng) == 0.8)
    spread = task_slopes(b, 3, 0.5, rng)
    assert np.median(spread[:, 1]) == pytest.approx(0.8, rel=0.01)
    assert np.std(np.log(spread[:, 1])) == pytest.approx(0.5, rel=0.02)


# --------------------------------------------------------------------------- status


def test_default_slope_is_drawn_from_the_suite_population_and_an_own_slope_replaces_it():
    n = 20000
    median = np.random.default_rng(0).lognormal(np.log(0.8), 0.1, n)
    tight = slope_draws(_spec(), (median, np.zeros(n)), n, np.random.default_rng(1))
    assert np.array_equal(tight, median)  # no spread: each draw's population median
    wide = slope_draws(_spec(), (median, np.full(n, 0.5)), n, np.random.default_rng(1))
    assert np.median(wide) == pytest.approx(0.8, rel=0.03)
    assert np.std(np.log(wide)) == pytest.approx(np.hypot(0.1, 0.5), rel=0.03)
    own = slope_draws(
        _spec(slope="Uniform(0.2, 0.3)"), (median, np.full(n, 0.5)), n, np.random.default_rng(1)
    )
    assert own.min() >= 0.2 and own.max() <= 0.3


def test_eval_states():
    assert eval_state(0.3, 0.2, 0.05) == "past the trigger"
    assert eval_state(0.3, 0.0, 0.05) == "cannot rule out"
    assert eval_state(0.04, 0.0, 0.05) == "clear"


def test_cannot_rule_out_says_how_many_attempts_settle_it(tmp_path):
    u = uplift_draws()
    slope = np.full(len(u), 0.8)
    tasks = _tasks(tmp_path, [(s, 10) for s in AUTONOMY])
    out = evaluate(_spec(), tasks, u, slope, 0.95, np.random.default_rng(RNG_SEED))
    assert out["p_cross_point_estimate"] <= 0.05 < out["p_cross"]
    status = out["status"]
    assert status["state"] == "cannot rule out"
    extra = status["settle"]["extra"]
    assert extra in SETTLE_STEPS and not status["settle"]["more_than"]
    # The same data with that many more attempts at the observed rates is clear
    more = [(s + extra * s / 10, 10 + extra) for s in AUTONOMY]
    spec = _spec()
    from forecast.buffer.rates import rate_posterior as post

    rates = post(*zip(*more, strict=True), spec.pooling).sample(len(u), np.random.default_rng(5))
    b = np.broadcast_to(slope[:, None], rates.shape)
    assert cross_probability(spec, logit(rates), b, u[:, -1]).mean() <= 0.06


def test_aggregate_status_follows_the_point_estimate_and_the_trigger():
    u = uplift_draws(20000)
    slope = np.full(len(u), 1.0)
    low = evaluate(EvalSpec(name="e", score=0.02, threshold=0.5), None, u, slope, 0.95,
                   np.random.default_rng(0))  # fmt: skip
    assert low["status"]["state"] == "clear" and low["current"] < low["trigger"]["score"]
    high = evaluate(EvalSpec(name="e", score=0.45, threshold=0.5), None, u, slope, 0.95,
                    np.random.default_rng(0))  # fmt: skip
    assert high["status"]["state"] == "past the trigger"
    assert high["current"] >= high["trigger"]["score"]


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"definition": "fresh_run"}, "needs 'tries'"),
        ({"definition": "fresh_run", "tries": 3, "min_successes": 4}, "cannot exceed"),
        ({"tries": 10}, "apply only to definition 'fresh_run'"),
        ({"slope_spread": -1}, "greater than or equal to 0"),
        ({"pooling": "partial"}, "hierarchical"),
    ],
)
def test_bad_eval_definitions_are_refused(fields, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        _spec(**fields)


# --------------------------------------------------------------------------- docs


def test_the_docs_table_of_definitions_is_generated_and_present(tmp_path):
    """docs/eval_definitions.py writes method.md section 7.3; its rows come from the code."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).parents[2] / "docs" / "eval_definitions.py"
    loader = importlib.util.spec_from_file_location("eval_definitions", script)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    tasks = _tasks(tmp_path, [(s, 10) for s in AUTONOMY])
    u = uplift_draws()
    # the uplift model's population of suite slopes, as ForecastResult.slope_population() gives
    population = (np.full(len(u), 0.8), np.full(len(u), 0.35))
    rows = module.definition_rows(_spec(), tasks, u, population, 0.95, 0, 0)
    assert [(r["pooling"]) for r in rows] == ["independent", "hierarchical"] * 2
    assert all(0 <= r["p_cross_point_estimate"] <= r["p_cross"] <= 1 for r in rows)
    method = (script.parent / "method.md").read_text()
    begin, end = "<!-- generated:eval-definitions -->", "<!-- /generated:eval-definitions -->"
    block = method[method.index(begin) : method.index(end)]
    assert block.count("\n| ") == 6  # header, rule, one row per variant
