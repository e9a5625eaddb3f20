"""Calibration documents: the files of ``forecast check sbc --out`` and the summaries a
bundle shows.

:func:`calibration_kind` tells the documents of ``forecast check sbc``, ``forecast check
figures`` and ``forecast backtest`` apart; :func:`calibration_summary` puts one in a few
lines and a table for the report. :func:`export_files` makes the bytes of the SBC files
(``sbc.json``, ``ranks.csv`` and two figures). Nothing here computes a check.
"""

from __future__ import annotations

import io

from forecast.checks.sbc import SbcResult
from forecast.report.results import json_text

#: The kinds of calibration document a bundle can carry, what makes one, and what it is.
CALIBRATION_KINDS = {
    "sbc": ("forecast check sbc --json (or sbc.json of --out)", "simulation-based calibration"),
    "loo_pit": (
        "forecast check figures --json (or loo_pit.json of --out)",
        "leave-one-out PIT of the catalogue's figures",
    ),
    "backtest": ("forecast backtest --json", "backtest against later measurements"),
}


def calibration_kind(doc) -> str | None:
    """Which kind of calibration document ``doc`` is (a key of :data:`CALIBRATION_KINDS`),
    or None if it is none of them."""
    if not isinstance(doc, dict):
        return None
    if "quantities" in doc and "n_fits" in doc:
        return "sbc"
    if "figures" in doc and isinstance(doc.get("summary"), dict) and "mean_pit" in doc["summary"]:
        return "loo_pit"
    if "comparisons" in doc or ("pairs" in doc and "totals" in doc) or "crossval" in doc:
        return "backtest"
    return None


def calibration_summary(name: str, doc: dict) -> dict:
    """A calibration or backtest document in a few lines and one table.

    Returns ``{"file", "kind", "title", "verdict", "lines", "table": {"headers", "rows"}}``
    (all text), where ``file`` is ``name``; the caller has checked the kind
    (:func:`calibration_kind`).
    """
    kind = calibration_kind(doc)
    what = CALIBRATION_KINDS[kind][1] if kind else "unknown"
    out = {"file": name, "kind": kind, "title": what, "verdict": "", "lines": [], "table": None}
    if kind == "sbc":
        out["verdict"] = (
            "every quantity's ranks are consistent with uniform"
            if doc.get("all_uniform")
            else "some quantities are miscalibrated (Holm-corrected, 5% family-wise)"
        )
        out["lines"] = [
            f"{doc['n_fits']} simulated catalogues fitted, ranks 0 to {doc.get('n_ranks', '-')}; "
            f"{doc.get('failed_fits', 0)} fits failed their diagnostics; seed "
            f"{doc.get('seed', '-')}.",
            str(doc.get("method", "")),
        ]
        out["table"] = {
            "headers": ["quantity", "mean rank", "outer fifths", "p", "verdict"],
            "rows": [
                [
                    str(q.get("quantity")),
                    _num(q.get("mean_rank_fraction")),
                    _num(q.get("outer_fifths_share")),
                    _num(q.get("p_value"), 3),
                    str(q.get("verdict", "")),
                ]
                for q in doc["quantities"]
            ],
        }
    elif kind == "loo_pit":
        s = doc["summary"]
        inside = s.get("pit_inside_band")
        out["verdict"] = (
            f"{s.get('n_unexplained', 0)} of {s.get('n_figures', 0)} figures unexplained; PIT "
            + ("inside" if inside else "outside")
            + " the simultaneous 95% uniformity band"
        )
        out["lines"] = [
            f"mean PIT {_num(s.get('mean_pit'))} (0.5 if calibrated), "
            f"{_pct(s.get('share_below_half'))} below 0.5; {s.get('n_high_pareto_k', 0)} "
            f"figures with Pareto k > 0.7; band test p = {_num(s.get('pit_band_p_value'), 3)}.",
            str(doc.get("method", "")),
        ]
        unexplained = [f for f in doc["figures"] if f.get("unexplained")]
        out["table"] = {
            "headers": ["figure unexplained", "PIT", "Pareto k", "why"],
            "rows": [
                [
                    str(f.get("label")),
                    _num(f.get("pit"), 3),
                    _num(f.get("pareto_k")),
                    "; ".join(f.get("reasons") or []) or "-",
                ]
                for f in unexplained
            ],
        }
    elif kind == "backtest" and "comparisons" in doc:
        rows = doc["comparisons"]
        tested = [r for r in rows if r.get("forecast_q50") is not None]
        inside = sum(bool(r.get("inside_90")) for r in tested)
        out["verdict"] = (
            f"{inside} of {len(tested)} later measurements inside the forecast's 90% interval"
            if tested
            else "no eval of this scenario names a later measurement: nothing to compare"
        )
        out["lines"] = [
            f"scenario {doc.get('scenario', '-')} forecast from {doc.get('as_of', '-')} with the "
            f"catalogue cut there ({doc.get('catalogue_enhancements', '-')} enhancements)."
        ]
        out["table"] = {
            "headers": [
                "eval",
                "measurement",
                "months after",
                "measured",
                "forecast median",
                "forecast 90% interval",
                "verdict",
            ],
            "rows": [
                [
                    str(r.get("eval")),
                    str(r.get("measurement")),
                    _num(r.get("months_after"), 1),
                    _pct(r.get("measured")),
                    _pct(r.get("forecast_q50")),
                    f"{_pct(r.get('forecast_q05'))} to {_pct(r.get('forecast_q95'))}"
                    if r.get("forecast_q05") is not None
                    else "-",
                    str(r.get("verdict", "")),
                ]
                for r in rows
            ],
        }
    elif kind == "backtest" and "crossval" in doc:
        out |= _histories_backtest(doc)
    elif kind == "backtest":
        totals = doc.get("totals") or {}
        out["verdict"] = (
            f"{totals.get('inside_90', '-')} of {totals.get('n', 0)} measured pairs inside the "
            "forecast's 90% interval"
            if totals.get("n")
            else "no usable measurement pair"
        )
        out["lines"] = [
            f"mean CRPS {_num(totals.get('mean_crps'), 3)} against "
            f"{_num(totals.get('mean_crps_no_change'), 3)} for a forecast of no change "
            f"(lower is better); mean PIT {_num(totals.get('mean_pit'))}; "
            f"{len(doc.get('skipped') or [])} pairs skipped.",
            str(doc.get("score", "")),
        ]
        out["table"] = {
            "headers": ["pair", "as of", "months after", "measured", "PIT", "CRPS", "verdict"],
            "rows": [
                [
                    str(r.get("pair")),
                    str(r.get("as_of", "-")),
                    _num(r.get("months_after"), 1),
                    _pct(r.get("measured")),
                    _num(r.get("pit")),
                    _num(r.get("crps"), 3),
                    str(r.get("verdict", "")),
                ]
                for r in doc["pairs"]
            ],
        }
    out["lines"] = [line for line in out["lines"] if line]
    return out


def _histories_backtest(doc: dict) -> dict:
    """The histories' backtest (cross-validation and time cuts) in a verdict, lines and a
    table (:func:`forecast.checks.backtest.summary`)."""
    from forecast.checks.backtest import summary

    s = summary(doc)
    rows = []
    for part in [*s["crossval"].values(), *s["cuts"]]:
        name = part.get("title") or f"cut at {part['cut']}"
        rows.append([
            name, str(part.get("n")), f"{part.get('inside_50')} of {part.get('n')}",
            f"{part.get('inside_90')} of {part.get('n')}", _num(part.get("mean_pit")),
            _pct(part.get("share_above_median")),
            f"{_num(part.get('mean_crps'), 3)} ({_num(part.get('mean_crps_no_change'), 3)})",
        ])  # fmt: skip
    failed = sum(len(p["failed_folds"]) for p in s["crossval"].values())
    return {
        "verdict": "; ".join(
            f"{p['title']}: {p.get('inside_90')} of {p.get('n')} inside the 90% interval, mean "
            f"PIT {_num(p.get('mean_pit'))}"
            for p in s["crossval"].values()
        ),
        "lines": [
            f"{failed} cross-validation folds failed their diagnostics; fit "
            f"{str(s.get('fit_key'))[:12]}, {s.get('created')}.",
            str(doc.get("score", "")),
        ],
        "table": {
            "headers": [
                "check",
                "snapshots",
                "in 50%",
                "in 90%",
                "mean PIT",
                "above median",
                "CRPS (no change)",
            ],  # fmt: skip
            "rows": rows,
        },
    }


def _num(x, digits: int = 2) -> str:
    return "-" if not isinstance(x, int | float) or isinstance(x, bool) else f"{x:.{digits}f}"


def _pct(x) -> str:
    return "-" if not isinstance(x, int | float) or isinstance(x, bool) else f"{x:.1%}"


# --------------------------------------------------------------------------- export


def ranks_csv(result: SbcResult) -> str:
    """One row per fit and quantity: fit, seed, quantity, rank, L, truth, posterior mean
    and sd, and whether the fit passed its diagnostics."""
    out = io.StringIO()
    out.write("fit,seed,quantity,rank,n_ranks,truth,posterior_mean,posterior_sd,fit_ok\n")
    for i, f in enumerate(result.fits):
        for j, q in enumerate(result.quantities):
            rank = "" if result.ranks[i, j] < 0 else str(result.ranks[i, j])
            out.write(
                f"{i},{f['seed']},{q},{rank},{result.n_ranks},"
                f"{result.truth[i, j]:.6g},{result.post_mean[i, j]:.6g},"
                f"{result.post_sd[i, j]:.6g},{int(not f['problems'])}\n"
            )
    return out.getvalue()


def export_files(result: SbcResult) -> dict[str, bytes]:
    """The files of ``forecast check sbc --out DIR``: ``sbc.json``, ``ranks.csv``,
    ``sbc_ecdf.png`` (ECDF differences with the band) and ``sbc_ranks.png`` (histograms)."""
    from forecast.report import calibration_plots  # matplotlib: imported only to draw

    doc = result.to_dict()
    ecdf, hist = io.BytesIO(), io.BytesIO()
    calibration_plots.ecdf_difference(
        result.ranks, result.quantities, result.n_ranks, result.seed, doc["quantities"], ecdf
    )
    calibration_plots.rank_histograms(result.ranks, result.quantities, result.n_ranks, hist)
    return {
        "sbc.json": json_text(doc).encode(),
        "ranks.csv": ranks_csv(result).encode(),
        "sbc_ecdf.png": ecdf.getvalue(),
        "sbc_ranks.png": hist.getvalue(),
    }
