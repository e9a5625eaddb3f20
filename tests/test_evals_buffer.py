"""Eval mapping, triggers, buffers, re-evaluation intervals and the policy table."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.buffer import POLICIES, policy_comparison, reevaluation_months
from forecast.errors import InputError
from forecast.evals import evaluate, expit, logit, read_task_results
from forecast.schemas import EvalSpec

RNG_SEED = 4


def _uplift(n=2000, t=13, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.exponential(0.05, (n, t))
    steps[:, 0] = 0.0
    return np.cumsum(steps, axis=1)


def _tasks(tmp_path, rows):
    path = tmp_path / "tasks.csv"
    path.write_text(
        "task_id,successes,attempts\n" + "".join(f"t{i},{s},{a}\n" for i, (s, a) in enumerate(rows))
    )
    return read_task_results(path)


@pytest.mark.parametrize("kind", ["aggregate", "tasks"])
def test_a_higher_threshold_is_never_crossed_more_often(tmp_path, kind):
    u = _uplift()
    slope = np.full(len(u), 0.8)
    tasks = (
        _tasks(tmp_path, [(1, 10), (0, 10), (3, 10), (0, 10), (2, 10)]) if kind == "tasks" else None
    )
    previous = 1.1
    for threshold in (0.05, 0.1, 0.2, 0.35, 0.5, 0.8):
        if kind == "aggregate":
            spec = EvalSpec(name="e", score=0.2, n_tasks=40, threshold=threshold)
        else:
            spec = EvalSpec(name="e", tasks_file="x", task_pass_rate=threshold)
        p = evaluate(spec, tasks, u, slope, 0.95, np.random.default_rng(RNG_SEED))["p_cross"]
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
    spec = EvalSpec(name="t", tasks_file="x")
    out = evaluate(spec, tasks, u, slope, 0.95, np.random.default_rng(RNG_SEED))
    assert out["p_cross"] == pytest.approx(out["p_already_met"])


def test_the_trigger_score_makes_p_cross_equal_alpha():
    u = _uplift(20000)
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


@pytest.mark.parametrize(
    "body,where",
    [
        ("task,successes,attempts\na,1,10\n", "line 1"),
        ("task_id,successes,attempts\na,x,10\n", "line 2, column successes"),
        ("task_id,successes,attempts\na,11,10\n", "line 2"),
        ("task_id,successes,attempts\na,1,0\n", "line 2"),
        ("task_id,successes,attempts\na,1,10\na,2,10\n", "line 3, column task_id"),
        ("task_id,successes,attempts\na,1.5,10\n", "line 2, column successes"),
        ("task_id,successes,attempts\n", None),
    ],
)
def test_bad_task_files_name_the_line_and_column(tmp_path, body, where):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        read_task_results(path)
    assert str(path) in str(info.value)
    if where:
        assert where in str(info.value)


def test_a_larger_buffer_never_gives_a_shorter_reevaluation_interval():
    u = _uplift()
    times = np.arange(u.shape[1], dtype=float)
    months = [
        reevaluation_months(times, u, 0.95, np.log10(b))["months"]
        for b in (1.5, 2, 3, 4, 6, 10, 30, 100)
    ]
    assert months == sorted(months)


def test_reevaluation_interval_is_where_the_quantile_meets_the_buffer():
    times = np.arange(13, dtype=float)
    u = np.tile(np.linspace(0, 1.2, 13), (100, 1))  # deterministic: 0.1 OOM a month
    out = reevaluation_months(times, u, 0.95, 0.55)
    assert out["months"] == pytest.approx(5.5)
    assert not out["beyond_horizon"]
    assert reevaluation_months(times, u, 0.95, 5.0)["beyond_horizon"]


def test_policy_table_covers_exactly_when_the_buffer_exceeds_the_uplift():
    times = np.arange(13, dtype=float)
    u = np.tile(np.linspace(0, 1.2, 13), (100, 1))
    table = {p["name"]: p for p in policy_comparison(times, u, 0.95, 12)}
    assert set(table) == {p.name for p in POLICIES}
    # RSP v1: 6x = 0.778 OOM against 0.3 OOM accumulated over 3 months -> covers
    assert table["anthropic-rsp-v1"]["covers"]
    assert table["anthropic-rsp-v1"]["margin_oom"] == pytest.approx(np.log10(6) - 0.3)
    # OpenAI PF beta: 2x = 0.301 OOM against 1.2 OOM over the 12-month horizon -> short
    assert not table["openai-pf-beta"]["covers"]
    assert table["openai-pf-beta"]["margin_oom"] < 0
