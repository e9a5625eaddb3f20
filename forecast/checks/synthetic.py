"""Histories simulated from the uplift model's own generative story, on the real design.

Simulation-based calibration (Talts et al. 2018) draws "true" parameters from the priors,
simulates the data those parameters would produce, fits it, and checks that the truth sits at
a uniformly distributed rank within the posterior. The simulated histories keep the real
table's *design* (:class:`forecast.evidence.histories.HistoryTable`): every snapshot's interval
length, the model's age and the calendar date at its start, the elicitation applied, the
access level, the suite; every eval-slope pair's suite and compute ratio with its binomial
variance. On that design, for each snapshot (:func:`simulate_histories`):

- the attention factor of each series (history) ``w_g = exp(attention_spread * z_g)``,
  ``z_g`` standard normal (LogNormal, median 1), shared by every interval of the series, and
  the count of improvement events ``N ~ Poisson(w_g L)``, ``L`` the interval's integrated
  intensity;
- ``N = 0``: no record, increment 0; ``N >= 1``: a record of ``y = b_s U + e``, ``U`` the sum
  of ``N`` LogNormal jumps (mean ``increment_mean``, log-sd ``increment_spread``) and ``e``
  normal with variance ``v + harness_noise^2``, ``v`` the binomial variance a record of that
  snapshot has (:func:`record_variance`: the real one for a snapshot that is a record, that of
  two scores at its best score for one that is not);

and for each eval-slope pair ``y = b_s x + e'``, ``e'`` normal with variance ``v +
scaling_noise^2``. With ``exact=False`` the sum ``U`` given ``N >= 1`` is drawn from the
LogNormal with its exact conditional mean and variance instead, which is what the likelihood
integrates (:mod:`forecast.fit.uplift_model`): a run with it tests the inference alone, one
with the exact sum tests that approximation too. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from forecast.evidence.histories import HistoryTable, logit_variance
from forecast.fit.uplift_model import (
    ELICITED_CENTER,
    UPLIFT_PRIORS,
    integrated_intensity,
)
from forecast.inputs.priors import PriorSet

#: Events per interval summed one by one; above this the sum of the jumps is drawn from its
#: normal approximation (the central limit theorem; only far tails of the priors get there).
EXACT_EVENTS = 2000


def uplift_prior_draws(table: HistoryTable, priors: PriorSet, n: int, seed: int) -> dict:
    """Parameter draws of the uplift model from its priors, shaped like ``Fit.draws``: every
    prior of :data:`forecast.fit.uplift_model.UPLIFT_PRIORS`, ``increment_mean``,
    ``z_suite`` and ``z_series`` (a standard normal per suite and per series)."""
    rng = np.random.default_rng([seed, 901])
    out = {name: priors.prior(name).sample(rng, n) for name in UPLIFT_PRIORS}
    out["increment_mean"] = out["increment_share"] * out["catalogue_gain"]
    out["z_suite"] = rng.standard_normal((n, len(table.suites)))
    out["z_series"] = rng.standard_normal((n, len(table.series)))
    return out


def record_variance(table: HistoryTable, n_tasks: dict[str, int]) -> np.ndarray:
    """Per snapshot, the binomial variance (logits^2) of its increment were it a record: the
    real one for a record, twice that of a score at its best for one that is not."""
    out = np.array(table.inc_v, dtype=float)
    for k, s in enumerate(table.snapshots):
        if not table.inc_record[k]:
            out[k] = 2.0 * logit_variance(s.best_before, n_tasks[s.suite])
    return out


def interval_intensity(table: HistoryTable, params: dict) -> np.ndarray:
    """The integrated intensity ``L`` of every snapshot's interval for one parameter draw."""
    rate = params["event_rate"] * np.exp(
        -params["elicitation_effect"] * (table.inc_elicited - ELICITED_CENTER)
        + params["access_effect"] * table.inc_access
    )
    return rate * integrated_intensity(
        table.inc_months, table.inc_age, table.inc_year,
        params["rate_decay_months"], params["rate_trend"],
    )  # fmt: skip


def _jump_sums(counts: np.ndarray, mean: float, sd_log: float, rng) -> np.ndarray:
    """The sum of ``counts[i]`` LogNormal jumps (mean ``mean``, log-sd ``sd_log``) for each i."""
    mu = np.log(mean) - sd_log**2 / 2.0
    out = np.zeros(len(counts))
    small = (counts > 0) & (counts <= EXACT_EVENTS)
    if small.any():
        jumps = np.exp(mu + sd_log * rng.standard_normal(int(counts[small].sum())))
        ends = np.cumsum(counts[small])
        totals = np.cumsum(jumps)[ends - 1]
        out[small] = np.diff(np.concatenate([[0.0], totals]))
    big = counts > EXACT_EVENTS
    if big.any():
        var = mean**2 * np.expm1(sd_log**2)
        n = counts[big].astype(float)
        out[big] = np.maximum(n * mean + np.sqrt(n * var) * rng.standard_normal(big.sum()), 0.0)
    return out


def _moment_matched(intensity, mean, sd_log, rng) -> np.ndarray:
    """U given at least one event of a Poisson count with mean ``intensity`` (attention
    included), from the LogNormal with its exact conditional mean and variance (the
    likelihood's approximation)."""
    q1 = -np.expm1(-intensity)
    second = intensity * mean**2 * np.exp(sd_log**2) + (intensity * mean) ** 2
    cond_mean = intensity * mean / q1
    s2 = np.log1p(np.maximum(second / q1 - cond_mean**2, 1e-12) / cond_mean**2)
    return np.exp(np.log(cond_mean) - s2 / 2.0 + np.sqrt(s2) * rng.standard_normal(len(q1)))


def simulate_histories(
    table: HistoryTable,
    params: dict,
    variance: np.ndarray,
    rng: np.random.Generator,
    exact: bool = True,
) -> dict[str, np.ndarray]:
    """The data containers that change (``inc_y``, ``inc_v``, ``inc_record``, ``scale_y``)
    simulated for one parameter draw (scalars, ``z_suite`` and ``z_series`` vectors) on
    ``table``'s design (module docstring); ``variance`` is :func:`record_variance`."""
    attention = np.exp(params["attention_spread"] * np.asarray(params["z_series"], float))
    intensity = attention[table.inc_series] * interval_intensity(table, params)
    counts = rng.poisson(np.minimum(intensity, 1e12))
    record = counts > 0
    mean, sd_log = float(params["increment_mean"]), float(params["increment_spread"])
    if exact:
        uplift = _jump_sums(counts, mean, sd_log, rng)
    else:
        uplift = np.where(record, _moment_matched(intensity, mean, sd_log, rng), 0.0)
    slope = params["eval_slope"] * np.exp(params["eval_slope_spread"] * params["z_suite"])
    noise = np.sqrt(variance + params["harness_noise"] ** 2) * rng.standard_normal(len(record))
    y = np.where(record, slope[table.inc_suite] * uplift + noise, 0.0)
    scale_sd = np.sqrt(table.scale_v + params["scaling_noise"] ** 2)
    scale_y = slope[table.scale_suite] * table.scale_oom + scale_sd * rng.standard_normal(
        table.n_scaling
    )
    return {
        "inc_y": y,
        "inc_v": np.where(record, variance, 0.0),
        "inc_record": record.astype(float),
        "scale_y": scale_y,
    }
