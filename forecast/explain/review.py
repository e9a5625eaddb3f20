"""Everything a reviewer of a forecast needs, computed once: the documents of the bundle.

:func:`review` takes a :class:`~forecast.buffer.forecasting.ForecastResult` and returns plain
documents (dicts and lists): the run document with its explanation, the full sensitivity
ranking, the buffer under each assumption profile and the prior predictive check, plus the
calibration and backtest summaries of documents the caller read
(:func:`calibration_summary`). Nothing prints or touches files: :mod:`forecast.report.export`
reads and writes, :mod:`forecast.report.markdown` and :mod:`forecast.report.html` render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: The kinds of calibration document a bundle can carry, what makes one, and what it is.
CALIBRATION_KINDS = {
    "sbc": ("forecast check sbc --json (or sbc.json of --out)", "simulation-based calibration"),
    "loo_pit": (
        "forecast check figures --json (or loo_pit.json of --out)",
        "leave-one-out PIT of the catalogue's figures",
    ),
    "backtest": ("forecast backtest --json", "backtest against later measurements"),
}


def review(
    result,
    calibration: Sequence[tuple[str, dict]] = (),
    *,
    quick_sensitivity: bool = False,
    profiles: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """The documents of a review bundle for ``result``.

    Parameters
    ----------
    calibration
        ``(name, document)`` pairs: JSON documents of ``forecast check sbc``, ``forecast
        check figures`` or ``forecast backtest`` (:func:`calibration_kind`).
    quick_sensitivity
        Rank the priors by their shifts only (reweighting, seconds) instead of the full
        ranking (tighten, widen and shifts, re-simulated; minutes at full size).
    profiles
        Compute the buffer under each shipped profile (a simulation each, and a refit
        where reweighting the fit is unreliable); False leaves ``profiles`` empty.

    Returns
    -------
    dict
        ``run`` (the ``run --json`` document, explanation included), ``explanation``,
        ``sensitivity``, ``profiles``, ``prior_check`` and ``calibration`` (one summary
        per document, :func:`calibration_summary`).
    """
    from forecast.explain.explanation import explain
    from forecast.explain.prior_check import prior_check, prior_sensitivity
    from forecast.report.markdown import result_document

    sensitivity = prior_sensitivity(result, quick=quick_sensitivity)
    # explain() words the quick ranking itself ("shifting it by one standard deviation").
    explanation = explain(result) if quick_sensitivity else explain(result, sensitivity)
    return {
        "run": result_document(result, explanation),
        "explanation": explanation,
        "sensitivity": sensitivity,
        "profiles": profile_rows(result, log) if profiles else [],
        "prior_check": prior_check(result),
        "calibration": [calibration_summary(name, doc) for name, doc in calibration],
    }


def profile_rows(result, log=lambda message: None) -> list[dict]:
    """The buffer under each shipped profile (:func:`forecast.explain.profiles.profile_table`), one
    profile at a time: a profile whose simulation cannot run (past the arrival limit, say)
    gets a row with ``error`` (the reason) instead of stopping the whole review."""
    from forecast.core.errors import InputError
    from forecast.explain.profiles import profile_table
    from forecast.inputs.profiles import load_profile, shipped_profiles

    rows = []
    for name in shipped_profiles():
        try:
            rows += profile_table(result, names=[name], log=log)
        except InputError as exc:
            rows.append(
                {"profile": name, "title": load_profile(name).spec.title, "error": str(exc)}
            )
    return rows


def calibration_kind(doc) -> str | None:
    """Which kind of calibration document ``doc`` is (a key of :data:`CALIBRATION_KINDS`),
    or None if it is none of them."""
    if not isinstance(doc, dict):
        return None
    if "quantities" in doc and "n_fits" in doc:
        return "sbc"
    if "figures" in doc and isinstance(doc.get("summary"), dict) and "mean_pit" in doc["summary"]:
        return "loo_pit"
    if "comparisons" in doc or ("pairs" in doc and "totals" in doc):
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


def _num(x, digits: int = 2) -> str:
    return "-" if not isinstance(x, int | float) or isinstance(x, bool) else f"{x:.{digits}f}"


def _pct(x) -> str:
    return "-" if not isinstance(x, int | float) or isinstance(x, bool) else f"{x:.1%}"
