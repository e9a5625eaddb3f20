"""Time-cut backtests: fit with what was published by a date, forecast what came after.

For a cut date c (docs/backtest.md):

1. the catalogue is cut at c (:func:`forecast.evidence.catalogue.catalogue_cut`: enhancements
   and figures printed before c) and fitted; its posterior gives ``catalogue_gain``;
2. the histories are cut at c (:func:`forecast.evidence.histories.build_history_table` with
   ``as_of``: figures published on or before c, by their ``published`` date, else their
   ``measured`` one) and the uplift model is fitted to them on the production settings;
3. every snapshot of the full histories dated after c is forecast: from the series' state
   known at c (its best score published by then, the model's age at c) when the series
   started by c, else from its own later baseline; and scored as in the cross-validation
   (:mod:`forecast.checks.scoring`). Past the cut fit's span the calendar trend of the rate
   is carried by the default trend mode (frozen), as a forecast made at c would.

Nothing here prints or writes files; the fits go through the cache.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np

from forecast.checks import scoring
from forecast.checks.crossval import access_so_far
from forecast.checks.predictive import PREDICTIVE_DRAWS, best_score_draws, series_rows, start_of
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.measurements import Measurements
from forecast.evidence.histories import HistoryTable, build_history_table, months_between
from forecast.fit.engine import FitSettings
from forecast.inputs.priors import PriorSet

#: The cut dates of the shipped backtest (docs/backtest.md says why these).
DEFAULT_CUTS = (dt.date(2024, 1, 1), dt.date(2024, 7, 1), dt.date(2025, 1, 1))
#: The trend mode of a forecast past the cut fit's span (the scenarios' default).
CUT_TREND_MODE = "frozen"


def after_cut(table: HistoryTable, cut: dt.date) -> dict[str, list[int]]:
    """Per series, the snapshots of ``table`` dated after ``cut`` (date order)."""
    out = {}
    for series, rows in series_rows(table).items():
        later = [k for k in rows if table.snapshots[k].end > cut]
        if later:
            out[series] = later
    return out


def cut_backtest(
    catalogue: Catalogue,
    measurements: Measurements,
    priors: PriorSet,
    cut: dt.date,
    *,
    settings: FitSettings = FitSettings(),
    histories_settings: FitSettings | None = None,
    use_cache: bool = True,
    seed: int = 0,
    n: int = PREDICTIVE_DRAWS,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict:
    """The backtest from one cut date (module docstring): the fits' keys and diagnostics,
    one row per forecast snapshot, and the totals."""
    from forecast.buffer.forecasting import HISTORIES_SETTINGS, histories_priors
    from forecast.evidence.catalogue import catalogue_cut
    from forecast.fit.catalogue import fit_evidence
    from forecast.fit.histories import fit_histories

    started = time.perf_counter()
    histories_settings = histories_settings or HISTORIES_SETTINGS
    cut_catalogue = catalogue_cut(catalogue, cut)
    fitted = fit_evidence(cut_catalogue, priors, settings, use_cache=use_cache, log=log,
                          on_progress=on_progress, need_draws=False)  # fmt: skip
    cut_priors = histories_priors(priors, fitted)
    seen = build_history_table(measurements, as_of=cut)
    fit = fit_histories(seen, cut_priors, histories_settings, use_cache=use_cache, log=log,
                        on_progress=on_progress)  # fmt: skip
    full = build_history_table(measurements)
    n_tasks = {s.id: s.n_tasks for s in measurements.suites}
    by_series = series_rows(full)
    rows = []
    for series, later in after_cut(full, cut).items():
        start = start_of(full, by_series[series], at=cut)
        suite = full.snapshots[later[0]].suite
        known = seen.suites.index(suite) if suite in seen.suites else None
        for k in later:
            s = full.snapshots[k]
            months = months_between(start.date, s.end)
            row_seed = int(np.random.SeedSequence([seed, 710, int(k)]).generate_state(1)[0])
            forecast = best_score_draws(
                fit.draws, start, np.array([months]), access_so_far(full, by_series[series], k),
                n_tasks[suite], known, cut_priors, seen.year_range,
                trend_mode=CUT_TREND_MODE, n=n, seed=row_seed,
            )[0]  # fmt: skip
            u = float(np.random.default_rng([seed, 810, int(k)]).random())
            rows.append(
                {
                    "series": series,
                    "suite": suite,
                    "publisher": s.publisher,
                    "measurement": s.measurement,
                    "from": start.date.isoformat(),
                    "from_cut": start.date == cut,
                    "date": s.end.isoformat(),
                    "months": round(months, 2),
                    "baseline": start.score,
                    "measured": s.best_after,
                    "suite_seen": known is not None,
                }
                | scoring.score(forecast, s.best_after, start.score, u)
            )
    return {
        "cut": cut.isoformat(),
        "catalogue": {
            "enhancements": len(cut_catalogue.enhancements),
            "figures": int(fitted.table.n_rows),
            "fit_key": fitted.key,
            "diagnostics": fitted.diagnostics.to_dict(),
        },
        "histories": {
            "snapshots": seen.n_increments,
            "scaling_pairs": seen.n_scaling,
            "suites": len(seen.suites),
            "catalogue_gain": str(cut_priors.prior("catalogue_gain")),
            "fit_key": fit.key,
            "fit": fit.how,
            "diagnostics": fit.diagnostics.to_dict(),
        },
        "rows": rows,
        "totals": scoring.totals(rows),
        "seconds": round(time.perf_counter() - started, 1),
    }
