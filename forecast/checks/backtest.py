"""Backtests of the uplift model against measured histories (docs/backtest.md).

:func:`backtest_histories` is what ``forecast backtest`` shows: the cross-validation over the
histories (:mod:`forecast.checks.crossval`: leave one suite out, leave one publisher out) and
the time-cut backtests (:mod:`forecast.checks.timecut`). Both take tens of minutes, so the
results computed for the shipped inputs are shipped (``benchmarks/results/backtest.json``,
written by ``benchmarks/backtest.py``) and read back whenever the inputs are the shipped ones
(same histories, catalogue, priors, settings and seed: :func:`inputs_key`); other inputs (a
user's ``--measurements``, ``--prior``, ``--evidence``) are computed.

:func:`backtest_scenario` forecasts one scenario from a past date, with the catalogue and the
histories cut there, and sets it beside the later measurements its evals name in
``compare_with``. :func:`shipped_summary` puts the shipped results in a few numbers for a run's
JSON and report, without fitting anything.

No printing and no files written (the fits go through the cache).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from forecast.checks import scoring
from forecast.core.errors import InputError
from forecast.fit.engine import FitSettings

#: Bump when what the backtest computes changes: shipped results of another version are not
#: read back.
BACKTEST_VERSION = "1"
#: The shipped results' file (under :func:`results_dir`).
RESULTS_FILE = "backtest.json"


# --------------------------------------------------------------------------- shipped results


#: The uplift model's sampler settings in a backtest fold: the production settings
#: (:data:`forecast.buffer.forecasting.HISTORIES_SETTINGS`, repeated here: this stage may
#: not import the buffer stage at import time; tests/checks/test_backtest.py holds them
#: equal). Since the model's numba kernels a fold takes about 13 s, so the folds are
#: judged on the fits a user gets (with 4 x 1000 draws 28 of 34 folds failed the strict
#: diagnostics marginally).
BACKTEST_SETTINGS = FitSettings(draws=2500, tune=2000, target_accept=0.95)


def results_dir() -> Path | None:
    """The folder of the shipped benchmark results: ``benchmarks/results`` in a checkout,
    ``forecast/_data/results`` in a wheel; None if neither exists."""
    here = Path(__file__).resolve().parents[1]  # forecast/
    for candidate in (here / "_data" / "results", here.parent / "benchmarks" / "results"):
        if candidate.is_dir():
            return candidate
    return None


def read_results(name: str) -> dict | None:
    """A shipped results document (JSON), or None when it is missing or unreadable."""
    import json

    folder = results_dir()
    if folder is None:
        return None
    try:
        doc = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def inputs_key(inputs: dict) -> str:
    """The key of a backtest's inputs (:func:`backtest_inputs`)."""
    from forecast.fit.cache import key_of

    return key_of(inputs)


def backtest_inputs(
    catalogue_table, histories, priors, settings, histories_settings, seed, schemes, cuts, n
) -> dict:
    """Everything the backtest's numbers depend on, as JSON: the evidence digests, every
    prior at full precision, the sampler settings, the seed, the schemes and cut dates."""
    from forecast.fit.catalogue import CATALOGUE_MODEL_VERSION
    from forecast.fit.histories import UPLIFT_MODEL_VERSION

    return {
        "backtest_version": BACKTEST_VERSION,
        "models": {"catalogue": CATALOGUE_MODEL_VERSION, "uplift": UPLIFT_MODEL_VERSION},
        "evidence_sha256": catalogue_table.digest(),
        "histories_sha256": histories.digest(),
        "priors": {name: f"{i.prior.dist}{i.prior.params!r}" for name, i in priors.items()},
        "settings": dataclasses.asdict(settings),
        "histories_settings": dataclasses.asdict(histories_settings),
        "seed": seed,
        "schemes": list(schemes),
        "cuts": [c.isoformat() for c in cuts],
        "predictive_draws": n,
    }


# --------------------------------------------------------------------------- the histories


def backtest_histories(
    measurements: str | Path | None = None,
    *,
    seed: int = 0,
    priors: dict | None = None,
    profile: str | Path | None = None,
    evidence: str | Path | None = None,
    shipped_evidence: bool = True,
    settings: FitSettings = FitSettings(),
    histories_settings: FitSettings | None = None,
    schemes=None,
    cuts=None,
    predictive_draws: int | None = None,
    use_cache: bool = True,
    refit: bool = False,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    on_fold: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Cross-validation and time-cut backtests of the uplift model (module docstring).

    Parameters
    ----------
    measurements
        A user's measurements file on top of the shipped ones (its histories join the
        cross-validation and the cuts).
    priors, profile
        ``--prior`` overrides on top of an assumption profile's priors.
    settings, histories_settings
        Sampler settings of the catalogue model and of the uplift model (default: the
        production settings, :data:`BACKTEST_SETTINGS`).
    schemes, cuts
        Cross-validation schemes (default both) and cut dates (default
        :data:`forecast.checks.timecut.DEFAULT_CUTS`).
    refit
        Compute even when shipped results for the same inputs exist.
    on_fold
        Called after each cross-validation fold with (folds done, folds in all, its record).

    Returns
    -------
    The document of ``forecast backtest --json`` (docs/json-schema.md): ``crossval`` (per
    scheme: rows, folds, failed folds, totals), ``cuts`` (per cut date: fits, rows, totals),
    ``inputs`` and where the numbers come from (``source``: computed or shipped).
    """
    from forecast.buffer.forecasting import histories_priors
    from forecast.checks.crossval import SCHEMES, crossvalidate
    from forecast.checks.predictive import PREDICTIVE_DRAWS
    from forecast.checks.timecut import DEFAULT_CUTS, cut_backtest
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.histories import build_history_table
    from forecast.evidence.measurements import load_measurements
    from forecast.evidence.table import build_table
    from forecast.fit.catalogue import fit_evidence
    from forecast.fit.histories import histories_spec
    from forecast.inputs.priors import fixed_value
    from forecast.inputs.profiles import profile_priors

    histories_settings = histories_settings or BACKTEST_SETTINGS
    schemes = tuple(schemes or SCHEMES)
    for s in schemes:
        if s not in SCHEMES:
            raise InputError(f"unknown scheme {s!r} (expected one of: {', '.join(SCHEMES)})")
    cuts = tuple(sorted(cuts or DEFAULT_CUTS))
    n = predictive_draws or PREDICTIVE_DRAWS
    catalogue = load_catalogue(evidence, shipped=shipped_evidence)
    measured = load_measurements(measurements, catalogue=catalogue)
    prior_set, _, _ = profile_priors(profile)
    if priors:
        prior_set = prior_set.with_overrides(priors)
    fixed_value(prior_set, "noise_dof", "--prior")
    table = build_table(catalogue)
    histories = build_history_table(measured)
    if not histories.n_increments:
        raise InputError("no measured history can be backtested (no usable elicitation gain)")
    described = backtest_inputs(table, histories, prior_set, settings, histories_settings,
                                seed, schemes, cuts, n)  # fmt: skip
    key = inputs_key(described)
    if not refit:
        shipped = read_results(RESULTS_FILE)
        if shipped is not None and shipped.get("inputs_key") == key:
            log(f"the shipped backtest results are for these inputs ({shipped.get('created')})")
            return shipped | {"source": "shipped"}
    folds = sum(len(set(histories.groups(s).tolist())) for s in schemes)
    log(
        f"backtest: {folds} cross-validation fits and {len(cuts)} cut dates to fit "
        "(tens of minutes on 2 cores; the shipped inputs' results are shipped)"
    )
    # only the fit's summary (its catalogue_gain prior) is used: the shipped summary serves
    fitted = fit_evidence(catalogue, prior_set, settings, use_cache=use_cache, log=log,
                          on_progress=on_progress, table=table, need_draws=False)  # fmt: skip
    uplift_priors = histories_priors(prior_set, fitted)
    n_tasks = {s.id: s.n_tasks for s in measured.suites}
    crossval = crossvalidate(histories, uplift_priors, n_tasks, schemes, histories_settings,
                             seed, n, on_fold)  # fmt: skip
    cut_docs = [
        cut_backtest(
            catalogue,
            measured,
            prior_set,
            c,
            settings=settings,
            histories_settings=histories_settings,
            use_cache=use_cache,
            seed=seed,
            n=n,
            log=log,
            on_progress=on_progress,
        )  # fmt: skip
        for c in cuts
    ]
    spec = histories_spec(histories, uplift_priors)
    return {
        "mode": "histories",
        "source": "computed",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs_key": key,
        "inputs": described,
        "score": "best score of a series at a later date, forecast from an earlier state: "
        "randomised PIT, 50%/90% interval hits, share of measured values above the median, "
        "CRPS (score units, lower is better) beside a forecast of no change",
        "histories": {
            "snapshots": histories.n_increments,
            "records": int(histories.inc_record.sum()),
            "series": len(histories.series),
            "suites": len(set(histories.groups("suite").tolist())),
            "publishers": len(set(histories.groups("publisher").tolist())),
            "scaling_pairs": histories.n_scaling,
        },
        "fit_key": spec.key(uplift_priors, histories_settings),
        "catalogue_fit_key": fitted.key,
        "catalogue_gain": str(uplift_priors.prior("catalogue_gain")),
        "crossval": crossval,
        "cuts": cut_docs,
    }


def summary(doc: dict) -> dict:
    """A backtest document in a few numbers: per cross-validation scheme and per cut, the
    coverage, mean PIT, share above the median, CRPS beside no change and failed fits; the
    date, the fit key and the settings."""

    def brief(t: dict) -> dict:
        keys = ("n", "inside_50", "inside_90", "range_50_if_calibrated",
                "range_90_if_calibrated", "mean_pit", "share_above_median", "mean_crps",
                "mean_crps_no_change", "crps_skill")  # fmt: skip
        return {k: t.get(k) for k in keys}

    schemes = doc["crossval"]["schemes"]
    return {
        "created": doc.get("created"),
        "fit_key": doc.get("fit_key"),
        "settings": doc["crossval"].get("settings"),
        "source": doc.get("source"),
        "crossval": {
            name: brief(s["totals"])
            | {
                "title": s["title"],
                "folds": len(s["folds"]),
                "failed_folds": [f["group"] for f in s["failed_folds"]],
            }
            for name, s in schemes.items()
        },
        "cuts": [
            brief(c["totals"])
            | {
                "cut": c["cut"],
                "fits_ok": bool(
                    c["catalogue"]["diagnostics"]["ok"] and c["histories"]["diagnostics"]["ok"]
                ),
            }
            for c in doc.get("cuts", [])
        ],
    }


def shipped_summary() -> dict | None:
    """:func:`summary` of the shipped backtest results (None if none are shipped), read from
    the file: nothing is fitted. For a run's JSON and report."""
    doc = read_results(RESULTS_FILE)
    if doc is None or doc.get("mode") != "histories":
        return None
    try:
        return summary(doc) | {"source": "shipped"}
    except (KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- one scenario


def score_draws(
    before: float,
    n_tasks: int | None,
    uplift: np.ndarray,
    slope: np.ndarray,
    rng: np.random.Generator,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """Draws of a score measured after ``uplift`` OOM from a score ``before``: the current rate
    p0 ~ Beta(k + 1/2, n - k + 1/2) (k = n * before), the rate after expit(logit p0 + slope U
    + e) with ``e`` normal of sd ``noise`` (harness noise; none when None), and the measured
    score Binomial(n, rate) / n. Without a task count the BEFORE score is taken as exact and
    no sampling noise is added."""
    from forecast.buffer.rates import expit, logit

    n = len(uplift)
    if n_tasks:
        k = before * n_tasks
        now = rng.beta(k + 0.5, n_tasks - k + 0.5, n)
    else:
        now = np.full(n, before)
    shift = slope * np.asarray(uplift)
    if noise is not None:
        shift = shift + noise * rng.standard_normal(n)
    after = expit(logit(now) + shift)
    if n_tasks:
        return rng.binomial(n_tasks, after) / n_tasks
    return after


def compare(
    forecast_draws: np.ndarray, no_change_draws: np.ndarray, measured: float
) -> dict[str, float | bool]:
    """Quantiles, interval hits, mid-PIT and CRPS of a forecast of a measured score, beside
    the CRPS of a forecast of no change (the BEFORE score with the same sampling noise)."""
    q = np.quantile(forecast_draws, scoring.QUANTILES)
    out = {f"forecast_{k}": float(v) for k, v in zip(scoring.QUANTILE_NAMES, q, strict=True)}
    inside_50 = bool(q[1] <= measured <= q[3])
    inside_90 = bool(q[0] <= measured <= q[4])
    if inside_90:
        verdict = "inside the forecast's 50% interval" if inside_50 else "inside the 90% interval"
    else:
        verdict = ("above" if measured > q[4] else "below") + " the forecast's 90% interval"
    return out | {
        "inside_50": inside_50,
        "inside_90": inside_90,
        "pit": scoring.mid_pit(forecast_draws, measured),
        "crps": scoring.crps(forecast_draws, measured),
        "crps_no_change": scoring.crps(no_change_draws, measured),
        "verdict": verdict,
    }


def backtest_scenario(
    as_of: dt.date,
    scenario: str | Path | None = "gpt4-2023-03",
    seed: int = 0,
    measurements: str | Path | None = None,
    **run_options,
) -> dict:
    """Forecast a scenario from ``as_of`` with the catalogue and the histories cut there; set
    it beside the later measurements its evals name in ``compare_with`` (shipped, plus
    ``measurements``)."""
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
    index = result.uplift.drivers["posterior_index"]
    noise = result.posterior["harness_noise"][index]
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
            slope = slope_draws(spec, result.slope_population(), len(uplift), rng)
            forecast = score_draws(spec.score, spec.n_tasks, uplift, slope, rng, noise)
            no_change = score_draws(spec.score, spec.n_tasks, np.zeros_like(uplift), slope,
                                    np.random.default_rng([seed, 651, j]), noise)  # fmt: skip
            row |= compare(forecast, no_change, point)
        rows.append(row)
    fits = result.fits
    return {
        "mode": "scenario",
        "scenario": result.scenario.name,
        "as_of": as_of.isoformat(),
        "catalogue_enhancements": len(result.fitted.catalogue.enhancements),
        "history_snapshots": result.inputs.histories.n_increments,
        "buffer_oom": result.buffer_oom,
        "horizon_months": result.horizon_months,
        "comparisons": rows,
        "totals": scoring.totals(rows),
        "diagnostics": fits.histories.diagnostics.to_dict(),
        "catalogue_diagnostics": fits.catalogue.diagnostics.to_dict(),
    }


def backtest(
    as_of: dt.date | None = None,
    scenario: str | Path | None = None,
    seed: int = 0,
    measurements: str | Path | None = None,
    **options,
) -> dict:
    """The histories' cross-validation and time cuts (no ``as_of``), or one scenario from
    ``as_of`` (default scenario: ``gpt4-2023-03``)."""
    if as_of is None:
        if scenario is not None:
            raise InputError(
                "a scenario is backtested from a date: give --as-of (without a scenario, the "
                "histories are cross-validated and backtested from cut dates)",
                "--as-of",
            )
        keep = ("priors", "profile", "evidence", "shipped_evidence", "settings",
                "histories_settings", "schemes", "cuts", "predictive_draws", "use_cache",
                "refit", "log", "on_progress", "on_fold")  # fmt: skip
        return backtest_histories(
            measurements, seed=seed, **{k: v for k, v in options.items() if k in keep}
        )
    drop = ("histories_settings", "schemes", "cuts", "predictive_draws", "refit", "on_fold")
    options = {k: v for k, v in options.items() if k not in drop}
    return backtest_scenario(
        as_of, scenario or "gpt4-2023-03", seed=seed, measurements=measurements, **options
    )
