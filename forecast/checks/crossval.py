"""Cross-validation of the uplift model over the measured histories (docs/backtest.md).

Two schemes, both reported: **leave one suite out** (every snapshot of a suite, and its
eval-slope groups, are held out together: the fold must predict a suite it has never seen,
whose slope it draws from the population) and **leave one publisher out** (every snapshot a
publisher produced). A fold is the production fit (:data:`HISTORIES_SETTINGS`) of the whole
table with weight 0 on what it holds out, so one compiled model serves every fold
(:func:`forecast.fit.sampler.prepare`, then new weights only). Weight 0 also goes to the
later snapshots of a series in which a held-out snapshot lies: their increments are
measured from states that include the held-out score (:func:`fold_weights`).

For each held-out snapshot the fold's posterior gives the predictive distribution of the
series' best score at the snapshot's date from the series' baseline
(:mod:`forecast.checks.predictive`), scored against the best score measured by then
(:mod:`forecast.checks.scoring`): randomised PIT, 50% and 90% interval hits, CRPS beside a
forecast of no change, whether the measurement is above the median. Folds whose fit fails its
diagnostics are listed, and the totals are given over every fold and over the passing folds
only, never mixed silently. Imports PyMC and nutpie (fits); no files, no printing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from forecast.checks import scoring
from forecast.checks.predictive import (
    PREDICTIVE_DRAWS,
    best_score_draws,
    series_rows,
    start_of,
)
from forecast.evidence.histories import HistoryTable, months_between
from forecast.fit.engine import FitSettings
from forecast.inputs.priors import PriorSet

#: The cross-validation schemes and what they hold out.
SCHEMES = {"suite": "leave one suite out", "publisher": "leave one publisher out"}


def fold_groups(table: HistoryTable, scheme: str) -> list[str]:
    """The folds of ``scheme``: every suite (or publisher) with a snapshot, sorted."""
    return sorted(set(table.groups(scheme).tolist()))


def fold_weights(table: HistoryTable, scheme: str, group: str) -> tuple[np.ndarray, np.ndarray]:
    """``(inc_weight, scale_weight)`` of the fold that holds out ``group`` (module docstring).

    Weight 0 on the held-out snapshots and on every later snapshot of a series that has one;
    under ``suite`` also on the suite's eval-slope pairs. Everything else keeps weight 1.
    """
    held = table.groups(scheme) == group
    weights = np.where(held, 0.0, 1.0)
    for rows in series_rows(table).values():
        hit = [i for i, k in enumerate(rows) if held[k]]
        if hit:
            weights[rows[hit[0] :]] = 0.0
    scale = np.ones(table.n_scaling)
    if scheme == "suite" and group in table.suites:
        scale[table.scale_suite == table.suites.index(group)] = 0.0
    return weights, scale


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold's fit: its posterior draws, diagnostics and timing."""

    scheme: str
    group: str
    held: np.ndarray  # bool, the snapshots it predicts
    dropped: int  # later snapshots of the same series also left out of the fit
    draws: dict
    diagnostics: object  # forecast.fit.diagnostics.Diagnostics
    seconds: float

    def record(self) -> dict:
        return {
            "scheme": self.scheme,
            "group": self.group,
            "held_out": int(self.held.sum()),
            "also_left_out": self.dropped,
            "seconds": round(self.seconds, 1),
            "diagnostics": self.diagnostics.to_dict(),
        }


def fit_folds(
    table: HistoryTable,
    priors: PriorSet,
    schemes=tuple(SCHEMES),
    settings: FitSettings | None = None,
    on_fold: Callable[[int, int, dict], None] | None = None,
):
    """Fit every fold of ``schemes``, one compile for all (a generator of :class:`Fold`).

    ``settings`` default to the uplift model's production settings.
    """
    from forecast.buffer.forecasting import HISTORIES_SETTINGS
    from forecast.fit import posterior, sampler
    from forecast.fit.histories import histories_spec
    from forecast.fit.uplift_model import data_values, prior_values

    settings = settings or HISTORIES_SETTINGS
    spec = histories_spec(table, priors)
    compiled, free = sampler.prepare(spec, priors)
    plan = [(s, g) for s in schemes for g in fold_groups(table, s)]
    for i, (scheme, group) in enumerate(plan):
        started = time.perf_counter()
        weights, scale = fold_weights(table, scheme, group)
        data = data_values(table, weights, scale) | prior_values(priors)
        idata = sampler.sample_on(compiled, data, settings, settings.seed)
        held = table.groups(scheme) == group
        fold = Fold(
            scheme=scheme,
            group=group,
            held=held,
            dropped=int(((weights == 0) & ~held).sum()),
            draws=posterior.flat_draws(idata, tuple(spec.shapes)),
            diagnostics=posterior.diagnose(idata, free),
            seconds=time.perf_counter() - started,
        )
        if on_fold is not None:
            on_fold(i + 1, len(plan), fold.record())
        yield fold


def access_so_far(table: HistoryTable, rows: list[int], k: int) -> int:
    """The highest access level among a series' snapshots up to snapshot ``k``: the parties
    whose improvements the best score at ``k`` can hold."""
    return int(max(table.inc_access[j] for j in rows[: rows.index(k) + 1]))


def predict_fold(
    table: HistoryTable,
    fold: Fold,
    priors: PriorSet,
    n_tasks: dict[str, int],
    seed: int = 0,
    n: int = PREDICTIVE_DRAWS,
) -> list[dict]:
    """One row per held-out snapshot of ``fold``: its forecast from its series' baseline
    scored against the best score measured by its date."""
    by_series = series_rows(table)
    ok = fold.diagnostics.ok
    out = []
    for k in np.flatnonzero(fold.held):
        s = table.snapshots[k]
        rows = by_series[s.series]
        start = start_of(table, rows)
        months = months_between(start.date, s.end)
        row_seed = int(np.random.SeedSequence([seed, 700, int(k)]).generate_state(1)[0])
        forecast = best_score_draws(
            fold.draws, start, np.array([months]), access_so_far(table, rows, int(k)),
            n_tasks[s.suite], table.suites.index(s.suite), priors, table.year_range,
            n=n, seed=row_seed,
        )[0]  # fmt: skip
        u = float(np.random.default_rng([seed, 800, int(k)]).random())
        out.append(
            {
                "scheme": fold.scheme,
                "group": fold.group,
                "series": s.series,
                "suite": s.suite,
                "publisher": s.publisher,
                "measurement": s.measurement,
                "from": start.date.isoformat(),
                "date": s.end.isoformat(),
                "months": round(months, 2),
                "baseline": start.score,
                "measured": s.best_after,
                "record": bool(s.best_after > start.score),
                "fold_ok": ok,
            }
            | scoring.score(forecast, s.best_after, start.score, u)
        )
    return out


def crossvalidate(
    table: HistoryTable,
    priors: PriorSet,
    n_tasks: dict[str, int],
    schemes=tuple(SCHEMES),
    settings: FitSettings | None = None,
    seed: int = 0,
    n: int = PREDICTIVE_DRAWS,
    on_fold: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Cross-validate the uplift model on ``table`` (module docstring).

    ``priors`` are the uplift model's (``catalogue_gain`` from the catalogue fit, as a run
    has them: :func:`forecast.buffer.forecasting.histories_priors`); ``n_tasks`` maps each
    suite to its task count. Returns the document's ``crossval`` part: per scheme its rows,
    folds and totals (every fold, and the passing folds only).
    """
    from forecast.buffer.forecasting import HISTORIES_SETTINGS

    settings = settings or HISTORIES_SETTINGS
    started = time.perf_counter()
    rows: dict[str, list[dict]] = {s: [] for s in schemes}
    folds: dict[str, list[dict]] = {s: [] for s in schemes}
    for fold in fit_folds(table, priors, schemes, settings, on_fold):
        rows[fold.scheme] += predict_fold(table, fold, priors, n_tasks, seed, n)
        folds[fold.scheme].append(fold.record())
    out = {}
    for scheme in schemes:
        failed = [f for f in folds[scheme] if not f["diagnostics"]["ok"]]
        out[scheme] = {
            "title": SCHEMES[scheme],
            "folds": folds[scheme],
            "failed_folds": [
                {"group": f["group"], "problems": f["diagnostics"]["problems"]} for f in failed
            ],
            "totals": scoring.totals(rows[scheme]),
            "totals_passing_folds": scoring.totals([r for r in rows[scheme] if r["fold_ok"]]),
            "rows": rows[scheme],
        }
    return {
        "schemes": out,
        "settings": dataclasses.asdict(settings),
        "predictive_draws": n,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
    }
