"""From uplift to evaluation scores (MODEL.md section 4), and RSP-style thresholds.

A score moves on the logit scale: ``logit(p_after) = logit(p_now) + b * U`` with b the
eval's slope (logits per OOM, uncertain). The current state is an aggregate score (with
binomial uncertainty when ``n_tasks`` is given) or per-task results (task_id, successes,
attempts; read by :mod:`forecast.inputs.tasks`), each task's rate carrying its own
uncertainty (:mod:`forecast.buffer.rates`). Each eval gets P(cross) by the horizon, the
trigger for protective measures now, and a status. Pure numerics.
"""

from __future__ import annotations

import numpy as np

from forecast.buffer.rates import expit, logit, rate_posterior
from forecast.core.distributions import parse_distribution
from forecast.core.schemas.scenario import EvalSpec
from forecast.inputs.priors import PriorSet
from forecast.inputs.tasks import TaskResults


def slope_draws(spec: EvalSpec, priors: PriorSet, n: int, rng: np.random.Generator):
    prior = (
        priors.prior("eval_slope") if spec.slope == "default" else parse_distribution(spec.slope)
    )
    return np.maximum(prior.sample(rng, n), 0.0)


def task_slopes(slope: np.ndarray, n_tasks: int, spread: float, rng: np.random.Generator):
    """(N, tasks) slopes: ``b_j = b * exp(spread * z_j)``, z standard normal per draw and task
    (the eval's slope is each task's median slope); ``spread = 0`` gives b for every task
    and draws nothing."""
    if spread == 0:
        return np.broadcast_to(slope[:, None], (len(slope), n_tasks))
    return slope[:, None] * np.exp(spread * rng.standard_normal((len(slope), n_tasks)))


# --------------------------------------------------------------------------- crossing


def binomial_tail(p, tries: int, min_successes: int = 1):
    """P(at least ``min_successes`` successes in ``tries`` attempts at rate ``p``), exactly.

    ``min_successes = 1`` is pass@k: ``1 - (1 - p)^k``. Otherwise the regularized
    incomplete beta function, ``I_p(m, k - m + 1)``.
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    if min_successes == 1:
        with np.errstate(divide="ignore"):
            return -np.expm1(tries * np.log1p(-p))
    from scipy.special import betainc

    return betainc(min_successes, tries - min_successes + 1, p)


def at_least(q: np.ndarray, need: int) -> np.ndarray:
    """P(at least ``need`` of independent events with probabilities ``q[..., j]`` occur).

    The Poisson-binomial upper tail, by dynamic programming over the last axis.
    """
    q = np.asarray(q, dtype=float)
    n_events = q.shape[-1]
    if need <= 0:
        return np.ones(q.shape[:-1])
    if need > n_events:
        return np.zeros(q.shape[:-1])
    dist = np.zeros((*q.shape[:-1], n_events + 1))
    dist[..., 0] = 1.0
    for j in range(n_events):
        qj = q[..., j : j + 1]
        shifted = np.concatenate([np.zeros_like(qj), dist[..., :-1]], axis=-1)
        dist = dist * (1 - qj) + shifted * qj
    return dist[..., need:].sum(axis=-1)


def tasks_needed(spec: EvalSpec, n_tasks: int) -> int:
    """The number of passing tasks at which the threshold is met: ceil(fraction x tasks)."""
    return int(np.ceil(spec.tasks_fraction * n_tasks - 1e-9))


def cross_probability(
    spec: EvalSpec, base_logits: np.ndarray, slopes: np.ndarray, uplift: np.ndarray
) -> np.ndarray:
    """P(the eval crosses | draw) for each draw: (N,) values in [0, 1].

    ``base_logits`` (N, tasks) are the current per-task rates on the logit scale,
    ``slopes`` (N, tasks) logits per OOM and ``uplift`` (N,) in OOM. ``hidden_rate``: the
    crossing is certain or impossible given the rates (0 or 1). ``fresh_run``: each task
    passes a fresh run with the binomial tail probability and the count of passing tasks is
    Poisson-binomial, so the value is the exact probability of the re-run crossing.
    """
    shifted = base_logits + slopes * uplift[:, None]
    need = tasks_needed(spec, base_logits.shape[1])
    if spec.definition == "hidden_rate":
        passing = shifted >= logit(spec.task_pass_rate)
        return (passing.sum(axis=1) >= need).astype(float)
    q = binomial_tail(expit(shifted), spec.tries, spec.min_successes)
    return at_least(q, need)


# --------------------------------------------------------------------------- status

STATES = ("past the trigger", "cannot rule out", "clear")
#: One line per state, printed under the evals table.
STATE_MEANING = {
    "past the trigger": "the current point estimate is beyond the trigger: protective measures "
    "should apply now",
    "cannot rule out": "the point estimate is below the trigger, but the measurement "
    "uncertainty of the current state leaves P(cross) above alpha; more attempts would settle it",
    "clear": "P(cross by the horizon) is at most alpha, measurement uncertainty included",
}
#: Extra attempts per task (or scored items) tried when looking for what settles an eval.
SETTLE_STEPS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def eval_state(p_cross: float, p_cross_point: float, alpha: float) -> str:
    """``past the trigger`` if P(cross | the point estimate) exceeds alpha; else ``cannot
    rule out`` if P(cross) with measurement uncertainty does; else ``clear``."""
    if p_cross_point > alpha:
        return "past the trigger"
    return "cannot rule out" if p_cross > alpha else "clear"


def _settle(p_cross_with, alpha: float) -> dict:
    """The fewest extra attempts (from :data:`SETTLE_STEPS`) that bring P(cross) to alpha or
    below, if they succeed at the current point-estimate rates."""
    for extra in SETTLE_STEPS:
        if p_cross_with(extra) <= alpha:
            return {"extra": extra, "more_than": False}
    return {"extra": SETTLE_STEPS[-1], "more_than": True}


def _status(p_cross, p_point, alpha, settle, unit: str) -> dict:
    state = eval_state(p_cross, p_point, alpha)
    out = {"state": state, "meaning": STATE_MEANING[state], "settle": None}
    if state == "cannot rule out" and settle is not None:
        found = _settle(settle, alpha)
        out["settle"] = {
            "extra": found["extra"],
            "more_than": found["more_than"],
            "unit": unit,
            "assumption": "the extra attempts succeed at the observed rates (successes / attempts)",
        }
    return out


# --------------------------------------------------------------------------- evaluation


def evaluate(
    spec: EvalSpec,
    tasks: TaskResults | None,
    uplift_oom: np.ndarray,
    slope: np.ndarray,
    confidence: float,
    rng: np.random.Generator,
) -> dict:
    """P(cross) over time, the trigger and the status of one eval.

    The trigger is the level at which P(cross by the horizon) would equal alpha if the
    current state were known exactly: ``expit(logit(threshold) - q)`` with q the
    ``confidence`` quantile of ``slope * U``. The status compares P(cross) with and without
    the measurement uncertainty of the current state (:func:`eval_state`).

    Parameters
    ----------
    uplift_oom
        (N, T) uplift draws; ``uplift_oom[:, -1]`` is the horizon.
    slope
        (N,) logits per OOM.
    """
    alpha = 1.0 - confidence
    shift_q = float(np.quantile(slope * uplift_oom[:, -1], confidence))
    if tasks is None:
        return _aggregate(spec, uplift_oom, slope, shift_q, alpha, rng)
    return _per_task(spec, tasks, uplift_oom, slope, shift_q, alpha, rng)


def _aggregate(spec, uplift, slope, shift_q, alpha, rng) -> dict:
    n = uplift.shape[0]
    shift = slope[:, None] * uplift  # (N, T) logits

    def now_draws(k, tasks, gen):
        return gen.beta(k + 0.5, tasks - k + 0.5, n)

    if spec.n_tasks:
        now = now_draws(spec.score * spec.n_tasks, spec.n_tasks, rng)
    else:
        now = np.full(n, spec.score)
    after = expit(logit(now)[:, None] + shift)
    p_cross = (after >= spec.threshold).mean(axis=0)
    point = float((expit(logit(spec.score) + shift[:, -1]) >= spec.threshold).mean())
    score_q = np.quantile(after, [0.05, 0.5, 0.95], axis=0)
    trigger = float(expit(logit(spec.threshold) - shift_q))

    settle_seed = int(rng.integers(2**32))  # one stream for every step: common random numbers

    def settle(extra):
        k = spec.score * (spec.n_tasks + extra)
        now = now_draws(k, spec.n_tasks + extra, np.random.default_rng(settle_seed))
        return float((expit(logit(now) + shift[:, -1]) >= spec.threshold).mean())

    return {
        "name": spec.name,
        "kind": "aggregate",
        "current": spec.score,
        "threshold": spec.threshold,
        "p_cross": float(p_cross[-1]),
        "p_cross_over_time": p_cross.tolist(),
        "p_cross_point_estimate": point,
        "p_already_met": float((now >= spec.threshold).mean()),
        "score_over_time": {k: score_q[i].tolist() for i, k in enumerate(("q05", "q50", "q95"))},
        "trigger": {
            "score": trigger,
            "triggered_now": bool(p_cross[-1] > alpha),
            "point_estimate_past_trigger": point > alpha,
            "headroom_logits_at_confidence": shift_q,
        },
        "status": _status(
            float(p_cross[-1]), point, alpha, settle if spec.n_tasks else None, "scored items"
        ),
    }


def status_text(e: dict) -> str:
    """An eval's status in words, e.g. ``cannot rule out: about 50 more attempts per task
    would settle it``."""
    status = e["status"]
    settle = status["settle"]
    if settle is None:
        return status["state"]
    amount = f"more than {settle['extra']}" if settle["more_than"] else f"about {settle['extra']}"
    return f"{status['state']}: {amount} more {settle['unit']} would settle it"


def definition_text(spec: EvalSpec) -> str:
    """What counts as a task passing, in words."""
    if spec.definition == "hidden_rate":
        return (
            f"a task passes when its per-attempt success rate reaches {spec.task_pass_rate:.3g} "
            f"(1 in {1 / spec.task_pass_rate:.3g} tries)"
        )
    m = "at least one success" if spec.min_successes == 1 else f"{spec.min_successes}+ successes"
    return f"a task passes when a fresh run of {spec.tries} tries has {m}"


def _per_task(spec, tasks: TaskResults, uplift, slope, shift_q, alpha, rng) -> dict:
    s, a = tasks.successes, tasks.attempts
    n, n_tasks = uplift.shape[0], len(s)
    posterior = rate_posterior(s, a, spec.pooling)
    rates = posterior.sample(n, rng)
    slopes = task_slopes(slope, n_tasks, spec.slope_spread, rng)
    base = logit(rates)
    p_cross = np.array(
        [cross_probability(spec, base, slopes, uplift[:, t]).mean() for t in range(uplift.shape[1])]
    )
    observed = tasks.rates
    observed_logits = np.broadcast_to(logit(observed), base.shape)
    point = float(cross_probability(spec, observed_logits, slopes, uplift[:, -1]).mean())
    already = float(cross_probability(spec, base, slopes, np.zeros(n)).mean())

    settle_seed = int(rng.integers(2**32))  # one stream for every step: common random numbers

    def settle(extra):
        more = rate_posterior(s + extra * observed, a + extra, spec.pooling)
        draws = more.sample(n, np.random.default_rng(settle_seed))
        return float(cross_probability(spec, logit(draws), slopes, uplift[:, -1]).mean())

    q05, q50, q95 = np.quantile(rates, [0.05, 0.5, 0.95], axis=0)
    out = {
        "name": spec.name,
        "kind": "tasks",
        "tasks_file": tasks.path,
        "n_tasks": n_tasks,
        "definition": spec.definition,
        "definition_text": definition_text(spec),
        "tries": spec.tries,
        "min_successes": spec.min_successes if spec.definition == "fresh_run" else None,
        "pooling": spec.pooling,
        "slope_spread": spec.slope_spread,
        "task_pass_rate": spec.task_pass_rate if spec.definition == "hidden_rate" else None,
        "tasks_fraction": spec.tasks_fraction,
        "tasks_needed": tasks_needed(spec, n_tasks),
        "current": {"fraction_passing": _passing_now(spec, observed)},
        "rates": [
            {
                "task_id": tid,
                "successes": int(s[j]),
                "attempts": int(a[j]),
                "posterior_mean": float(rates[:, j].mean()),
                "q05": float(q05[j]),
                "q50": float(q50[j]),
                "q95": float(q95[j]),
            }
            for j, tid in enumerate(tasks.task_ids)
        ],
        "hyper": posterior.hyper_summary(),
        "p_cross": float(p_cross[-1]),
        "p_cross_over_time": p_cross.tolist(),
        "p_cross_point_estimate": point,
        "p_already_met": already,
        "trigger": {
            "tasks_fraction": spec.tasks_fraction,
            "triggered_now": bool(p_cross[-1] > alpha),
            "point_estimate_past_trigger": point > alpha,
            "headroom_logits_at_confidence": shift_q,
        },
        "status": _status(float(p_cross[-1]), point, alpha, settle, "attempts per task"),
    }
    if spec.definition == "hidden_rate":
        trigger_rate = float(expit(logit(spec.task_pass_rate) - shift_q))
        out["trigger"] |= {"task_pass_rate": trigger_rate, "one_in_n_tries": 1.0 / trigger_rate}
        out["current"]["fraction_passing_at_trigger_rate"] = float(
            (observed >= trigger_rate).mean()
        )
    return out


def _passing_now(spec: EvalSpec, observed: np.ndarray) -> float:
    """Share of tasks passing now at the observed rates: for ``hidden_rate`` those whose
    observed rate reaches the pass rate; for ``fresh_run`` the expected share of a fresh run
    at the observed rates."""
    if spec.definition == "hidden_rate":
        return float((observed >= spec.task_pass_rate).mean())
    return float(binomial_tail(observed, spec.tries, spec.min_successes).mean())


def evaluate_scenario(
    specs, tasks, priors: PriorSet, times, uplift_oom, confidence, seed
) -> list[dict]:
    """Every eval of a scenario, each with its own random stream ``[seed, 500 + j]``.

    ``tasks`` holds each eval's per-task results (None for aggregate evals), read once when
    the inputs were resolved; the caller passes the uplift up to the horizon.
    """
    out = []
    for j, (spec, results) in enumerate(zip(specs, tasks, strict=True)):
        rng = np.random.default_rng([seed, 500 + j])
        slope = slope_draws(spec, priors, len(uplift_oom), rng)
        result = evaluate(spec, results, uplift_oom, slope, confidence, rng)
        out.append(result | {"months": np.asarray(times).tolist()})
    return out
