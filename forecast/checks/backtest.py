"""Backtests: forecasts made from a past date, set beside what was measured later.

Two forms (docs/backtest.md):

- :func:`backtest_all`: every usable before/after measurement pair (the shipped files plus
  a user's ``--measurements``, :func:`forecast.evidence.measurements.backtest_pairs`). For each, the
  catalogue is cut at the pair's ``as_of`` date and fitted; a scenario is built from the
  pair (:func:`pair_scenario`: the fixed base model's compute, reference date = as_of, the
  actor, what the BEFORE measurement had already applied, horizon = the months to the AFTER
  measurement, an aggregate eval at the BEFORE score with the suite's task count); and the
  forecast distribution of the AFTER score is set beside the measured one.
- :func:`backtest_scenario`: one scenario forecast from ``--as-of``, compared with the
  later measurements its evals name in ``compare_with``.

The forecast of a measured score (:func:`score_draws`): the current rate p0 ~ Beta(k + 1/2,
n - k + 1/2) from the BEFORE score k / n (as the eval forecast does), the rate after
p1 = expit(logit(p0) + b U(T)) with b ~ ``eval_slope`` and U(T) the simulated uplift at the
AFTER measurement's date, and the measured score Binomial(n, p1) / n (the AFTER measurement
has its own sampling noise). Without a task count the BEFORE score is taken as exact and no
sampling noise is added.

Each comparison gets: the forecast's 5/25/50/75/95% quantiles, whether the measured value
falls in the central 50% and 90% intervals, its PIT (the forecast's probability of a lower
score, plus half the probability of that exact score), and the continuous ranked
probability score CRPS = E|X - y| - E|X - X'| / 2 (in score units: lower is better; a
proper score that needs no density, which a sample of a discrete score lacks), beside the
CRPS of a "no change" forecast (U = 0: the BEFORE score with the same sampling noise) as a
reference.

No printing and no files written; the fits go through the cache.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from forecast.core.errors import InputError
from forecast.evidence.measurements import BacktestPair
from forecast.fit.fitting import FitSettings

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_QNAMES = ("q05", "q25", "q50", "q75", "q95")


# --------------------------------------------------------------------------- scores


def crps(samples: np.ndarray, y: float) -> float:
    """CRPS of the empirical distribution of ``samples`` at ``y`` (Gneiting and Raftery
    2007): E|X - y| - E|X - X'| / 2, with E|X - X'| from the sorted sample in O(n log n)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    spread = 2.0 * np.dot(2.0 * np.arange(1, n + 1) - n - 1, x) / (n * n)
    return float(np.mean(np.abs(x - y)) - 0.5 * spread)


def mid_pit(samples: np.ndarray, y: float) -> float:
    """P(X < y) + P(X = y) / 2 under the sample (the mid-PIT of a discrete forecast)."""
    x = np.asarray(samples, dtype=float)
    return float((x < y).mean() + 0.5 * np.isclose(x, y).mean())


def score_draws(
    before: float,
    n_tasks: int | None,
    uplift: np.ndarray,
    slope: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws of the score measured after ``uplift`` OOM (module docstring)."""
    from forecast.buffer.rates import expit, logit

    n = len(uplift)
    if n_tasks:
        k = before * n_tasks
        now = rng.beta(k + 0.5, n_tasks - k + 0.5, n)
    else:
        now = np.full(n, before)
    after = expit(logit(now) + slope * np.asarray(uplift))
    if n_tasks:
        return rng.binomial(n_tasks, after) / n_tasks
    return after


def compare(
    forecast_draws: np.ndarray, no_change_draws: np.ndarray, measured: float
) -> dict[str, float | bool]:
    """Quantiles, interval hits, PIT and CRPS of a forecast against the measured value."""
    q = np.quantile(forecast_draws, QUANTILES)
    out = {f"forecast_{k}": float(v) for k, v in zip(_QNAMES, q, strict=True)}
    inside_50 = bool(q[1] <= measured <= q[3])
    inside_90 = bool(q[0] <= measured <= q[4])
    if inside_90:
        verdict = "inside the forecast's 50% interval" if inside_50 else "inside the 90% interval"
    else:
        verdict = ("above" if measured > q[4] else "below") + " the forecast's 90% interval"
    return out | {
        "inside_50": inside_50,
        "inside_90": inside_90,
        "pit": mid_pit(forecast_draws, measured),
        "crps": crps(forecast_draws, measured),
        "crps_no_change": crps(no_change_draws, measured),
        "verdict": verdict,
    }


def totals(rows: list[dict]) -> dict:
    """Coverage and mean scores over the compared rows (those with a CRPS)."""
    done = [r for r in rows if "crps" in r]
    n = len(done)
    if not n:
        return {"n": 0}
    from scipy.stats import binom

    hits50 = sum(r["inside_50"] for r in done)
    hits90 = sum(r["inside_90"] for r in done)
    return {
        "n": n,
        "inside_50": hits50,
        "inside_90": hits90,
        "expected_50": 0.5 * n,
        "expected_90": 0.9 * n,
        # central 90% range of the hit count if the forecasts were calibrated
        "range_90_if_calibrated": [int(binom.ppf(0.05, n, 0.9)), int(binom.isf(0.05, n, 0.9))],
        "range_50_if_calibrated": [int(binom.ppf(0.05, n, 0.5)), int(binom.isf(0.05, n, 0.5))],
        "mean_crps": float(np.mean([r["crps"] for r in done])),
        "mean_crps_no_change": float(np.mean([r["crps_no_change"] for r in done])),
        "mean_pit": float(np.mean([r["pit"] for r in done])),
    }


# --------------------------------------------------------------------------- all pairs


def pair_problem(pair: BacktestPair) -> str | None:
    """Why a forecast from the pair's BEFORE state cannot be built (None when it can)."""
    if not 0 < pair.before_score < 1:
        return f"the BEFORE score {pair.before_score:g} is not strictly between 0 and 1"
    if pair.months > 120:
        return f"{pair.months:.0f} months to the AFTER measurement: above 120"
    return None


def pair_scenario(pair: BacktestPair, enhancement_ids, fallback_compute_flop: float = 1e23):
    """The :class:`~forecast.core.schemas.scenario.Scenario` of a forecast from the pair's
    BEFORE state.

    ``enhancement_ids`` are those of the cut catalogue: enhancements the BEFORE state had
    applied that the cut catalogue does not hold yet are left out of ``already_elicited``
    (they cannot add uplift in the forecast either way). A pair without the base model's
    compute gets ``fallback_compute_flop`` and the scale mode ``off`` (gains are not moved
    to a base-model scale; see :func:`backtest_all`), so the number is never used.
    """
    from forecast.core.schemas.scenario import BaseModelSpec, Elicited, EvalSpec, Scenario

    known = set(enhancement_ids)
    return Scenario(
        schema_version=1,
        name="backtest-" + pair.id.replace("_", "-")[:55],
        title=f"Backtest of {pair.id} from {pair.as_of}",
        base_model=BaseModelSpec(
            name=pair.base_model or pair.before.model,
            training_compute_flop=pair.base_compute_flop or fallback_compute_flop,
            reference_date=pair.as_of,
            weights="open" if pair.actor == "open_weights" else "closed",
        ),
        actor=pair.actor,
        already_elicited=Elicited(
            categories=list(pair.elicited.categories),
            enhancements=[e for e in pair.elicited.enhancements if e in known],
        ),
        horizon_months=max(1, math.ceil(pair.months)),
        step_months=1,
        # the format requires a threshold; the backtest reads none (it compares scores)
        evals=[
            EvalSpec(name="measured", score=pair.before_score, n_tasks=pair.n_tasks, threshold=0.5)
        ],
    )


def backtest_all(
    measurements: str | Path | None = None,
    *,
    seed: int = 0,
    priors: dict | None = None,
    profile: str | Path | None = None,
    trend_mode: str | None = None,
    scale_mode: str | None = None,
    evidence: str | Path | None = None,
    shipped_evidence: bool = True,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Backtest every usable measurement pair (module docstring).

    A pair without the base model's compute (closed models whose developers do not publish
    it) is forecast with the scale mode ``off``: gains are used at the catalogue's own
    scales, not moved to the base model's (the row says ``"scale": "off"``).

    Parameters
    ----------
    priors, profile
        ``--prior`` overrides on top of an assumption profile's priors (default: none).
    trend_mode, scale_mode
        Extrapolation modes of every pair's forecast (default: damped, clamp).

    Returns
    -------
    A document: ``pairs`` (one row per forecast pair), ``skipped`` (pairs with the reason),
    ``totals`` (coverage and mean CRPS) and ``score`` (what the score is).
    """
    from forecast.buffer.evals import slope_draws
    from forecast.evidence.catalogue import catalogue_cut, load_catalogue
    from forecast.evidence.measurements import backtest_pairs, load_measurements
    from forecast.evidence.table import REFERENCE_LOG10_FLOP, build_table
    from forecast.fit.fitting import fit
    from forecast.inputs.priors import fixed_value
    from forecast.inputs.profiles import profile_priors
    from forecast.inputs.resolve import _mode
    from forecast.simulate.setup import setup_forecast
    from forecast.simulate.uplift import simulate_uplift

    catalogue = load_catalogue(evidence, shipped=shipped_evidence)
    measured = load_measurements(measurements, catalogue=catalogue)
    prior_set, _, profile_modes = profile_priors(profile)
    if priors:
        prior_set = prior_set.with_overrides(priors)
    fixed_value(prior_set, "noise_dof")  # blamed on whoever set it
    trend = _mode("trend", trend_mode) if trend_mode else profile_modes.get("trend")
    scale = _mode("scale", scale_mode) if scale_mode else profile_modes.get("scale")
    rows, skipped = [], []
    for j, pair in enumerate(backtest_pairs(measured)):
        problem = pair_problem(pair)
        cut = catalogue_cut(catalogue, pair.as_of)
        if problem is None and not cut.enhancements:
            problem = f"no enhancement in the catalogue was published before {pair.as_of}"
        if problem:
            skipped.append({"pair": pair.id, "why": problem})
            continue
        table = build_table(cut)
        fitted = fit(table, prior_set, settings, use_cache=use_cache, log=log,
                     on_progress=on_progress)  # fmt: skip
        # Without the base model's compute, gains are not carried to a scale (mode off).
        pair_scale = scale if pair.base_compute_flop else "off"
        centre = 10 ** (REFERENCE_LOG10_FLOP + table.compute_center)
        scenario = pair_scenario(pair, table.enhancement_ids, fallback_compute_flop=centre)
        setup = setup_forecast(scenario, cut, table, trend_mode=trend, scale_mode=pair_scale)
        setup = dataclasses.replace(
            setup, times_months=np.array([0.0, pair.months]), horizon_months=pair.months
        )
        try:
            uplift = simulate_uplift(fitted.draws, setup, prior_set, None, seed).oom[:, -1]
        except InputError as exc:  # a work limit of the simulation: say so, go on
            skipped.append({"pair": pair.id, "why": f"the forecast was refused: {exc.message}"})
            continue
        rng = np.random.default_rng([seed, 600, j])
        slope = slope_draws(scenario.evals[0], prior_set, len(uplift), rng)
        forecast = score_draws(pair.before_score, pair.n_tasks, uplift, slope, rng)
        no_change = score_draws(pair.before_score, pair.n_tasks, np.zeros_like(uplift), slope,
                                np.random.default_rng([seed, 601, j]))  # fmt: skip
        rows.append(
            {
                "pair": pair.id,
                "origin": pair.gain.origin,
                "suite": pair.suite.id,
                "n_tasks": pair.n_tasks,
                "model": pair.after.model,
                "agent": pair.after.agent,
                "actor": pair.actor,
                "as_of": pair.as_of.isoformat(),
                "measured_on": pair.target_date.isoformat(),
                "date_precision": pair.after.date_precision,
                "months_after": round(pair.months, 2),
                "before": pair.before_score,
                "measured": pair.after_score,
                "measured_plus_minus": pair.after.score.plus_minus,
                "already_elicited": list(pair.elicited.categories),
                "added": list(pair.added.categories),
                "catalogue_enhancements": len(cut.enhancements),
                "trend": setup.trend_mode,
                "scale": setup.scale_mode,
                "base_compute_flop": pair.base_compute_flop,
                "uplift_q50_oom": float(np.median(uplift)),
                "uplift_q95_oom": float(np.quantile(uplift, 0.95)),
                "fit_key": fitted.key,
                "diagnostics": fitted.diagnostics.to_dict(),
            }
            | compare(forecast, no_change, pair.after_score)
        )
    return {
        "mode": "pairs",
        "seed": seed,
        "score": "CRPS of the forecast distribution of the measured score (score units, "
        "lower is better), beside a no-change forecast's CRPS",
        "pairs": rows,
        "skipped": skipped,
        "totals": totals(rows),
    }


# --------------------------------------------------------------------------- one scenario


def backtest_scenario(
    as_of: dt.date,
    scenario: str | Path | None = "gpt4-2023-03",
    seed: int = 0,
    measurements: str | Path | None = None,
    **run_options,
) -> dict:
    """Forecast a scenario from ``as_of`` with the catalogue cut there; set it beside the
    later measurements its evals name in ``compare_with`` (shipped, plus ``measurements``).
    """
    from forecast.buffer.evals import slope_draws
    from forecast.buffer.forecasting import run_scenario
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.measurements import load_measurements
    from forecast.inputs.scenarios import load_scenario

    catalogue = load_catalogue(
        run_options.get("evidence"), shipped=run_options.get("shipped_evidence", True)
    )
    measured = {m.id: m for m in load_measurements(measurements, catalogue=catalogue).measurements}
    loaded = load_scenario(scenario)
    later = []
    for spec in loaded.scenario.evals:
        for mid in spec.compare_with:
            if mid not in measured:
                from forecast.core.validation import suggest

                raise InputError(
                    f"unknown measurement {mid!r}{suggest(mid, list(measured))}",
                    str(loaded.path),
                    f"evals.{spec.name}.compare_with",
                )
            later.append((spec, measured[mid]))
    from forecast.core.schemas.scenario import MAX_HORIZON_MONTHS
    from forecast.evidence.measurements import measurement_error

    months_needed = []
    for _, m in later:
        if m.measured and m.measured > as_of:
            months = (m.measured - as_of).days / 30.44
            if months > MAX_HORIZON_MONTHS:  # too far ahead to forecast: the date's problem
                raise measurement_error(
                    m.id,
                    "measured",
                    f"measured {m.measured}, {months:.0f} months after --as-of {as_of}: a "
                    f"backtest forecasts at most {MAX_HORIZON_MONTHS} months ahead",
                    measurements,
                )
            months_needed.append(months)
    horizon = max([loaded.scenario.horizon_months, *[math.ceil(x) for x in months_needed]])
    run_options.setdefault("horizon_months", horizon)
    result = run_scenario(
        scenario,
        seed=seed,
        as_of=as_of,
        reference_date=as_of,
        measurements=measurements,
        **run_options,
    )
    times = result.uplift.times_months
    rows = []
    for j, (spec, m) in enumerate(later):
        point = m.score.point if m.score is not None else None
        months = (m.measured - as_of).days / 30.44 if m.measured else None
        row = {
            "eval": spec.name,
            "measurement": m.id,
            "model": m.model,
            "agent": m.agent,
            "metric": m.metric,
            "measured_on": m.measured.isoformat() if m.measured else None,
            "date_precision": m.date_precision,
            "months_after": round(months, 1) if months is not None else None,
            "measured": point,
            "measured_plus_minus": m.score.plus_minus if m.score is not None else None,
            "where": m.where,
        }
        if point is None:
            row |= {"verdict": "the source prints no score: not a test"}
        elif months is None:
            row |= {"verdict": "the source gives no measurement date: not a test"}
        elif m.measured <= as_of:
            row |= {"verdict": "measured before the as-of date: not a test"}
        elif spec.score is None:
            row |= {"verdict": "only aggregate evals can be compared with a measured score"}
        else:
            # U at the measurement's date, per draw, between the grid's months
            uplift = np.array([np.interp(months, times, u) for u in result.uplift.oom])
            rng = np.random.default_rng([seed, 650, j])
            slope = slope_draws(spec, result.inputs.priors, len(uplift), rng)
            forecast = score_draws(spec.score, spec.n_tasks, uplift, slope, rng)
            no_change = score_draws(spec.score, spec.n_tasks, np.zeros_like(uplift), slope,
                                    np.random.default_rng([seed, 651, j]))  # fmt: skip
            row |= compare(forecast, no_change, point)
        rows.append(row)
    return {
        "mode": "scenario",
        "scenario": result.scenario.name,
        "as_of": as_of.isoformat(),
        "catalogue_enhancements": len(result.fitted.catalogue.enhancements),
        "buffer_oom": result.buffer_oom,
        "horizon_months": result.horizon_months,
        "comparisons": rows,
        "totals": totals(rows),
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }


def backtest(
    as_of: dt.date | None = None,
    scenario: str | Path | None = None,
    seed: int = 0,
    measurements: str | Path | None = None,
    **options,
) -> dict:
    """Every usable measurement pair (no ``as_of``), or one scenario from ``as_of``
    (default scenario: ``gpt4-2023-03``)."""
    if as_of is None:
        if scenario is not None:
            raise InputError(
                "a scenario is backtested from a date: give --as-of (without a scenario, "
                "every measurement pair is backtested)",
                "--as-of",
            )
        keep = ("priors", "profile", "trend_mode", "scale_mode", "evidence",
                "shipped_evidence", "settings", "use_cache", "log", "on_progress")  # fmt: skip
        return backtest_all(
            measurements, seed=seed, **{k: v for k, v in options.items() if k in keep}
        )
    return backtest_scenario(
        as_of, scenario or "gpt4-2023-03", seed=seed, measurements=measurements, **options
    )
