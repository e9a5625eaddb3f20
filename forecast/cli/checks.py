"""``forecast priors check``, ``forecast sensitivity`` and ``forecast backtest``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forecast.cli import common as c
from forecast.cli.run import ActorOpt, ConfidenceOpt, HorizonOpt, ScenarioArg
from forecast.core.errors import InputError


def _result(scenario, horizon, confidence, actor, seed, fit: dict, copies: int = 1):
    """The forecast the checks start from (work checked first; diagnostics checked after,
    refused under --strict)."""
    return c.forecast_with_options(
        scenario,
        seed=seed,
        copies=copies,
        fit=fit,
        horizon_months=horizon,
        confidence=confidence,
        actor=actor,
    )


@c.with_fit_options
def priors_check(
    scenario: ScenarioArg = None,
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    json: c.JsonOpt = False,
    **fit,
):
    """Prior predictive check: the uplift the priors alone imply, beside the posterior's."""
    from forecast import api
    from forecast.core.units import fmt_both
    from forecast.report.results import check_finite

    doc = api.prior_check(_result(scenario, horizon, confidence, actor, seed, fit, copies=2))
    check_finite(doc)
    if json:
        c.emit_json(doc)
        return
    doc = c.shown(doc)
    table = Table(
        title=f"Prior predictive check ({doc['scenario']}): uplift in OOM, priors "
        "alone vs after the evidence"
    )
    for col in (
        "month",
        "prior 5%",
        "prior median",
        "prior 95%",
        "posterior 5%",
        "posterior median",
        "posterior 95%",
    ):
        table.add_column(col, justify="right")
    for t, month in enumerate(doc["months"]):
        table.add_row(
            f"{month:g}",
            *(f"{doc[s][q][t]:.2f}" for s in ("prior", "posterior") for q in ("q05", "q50", "q95")),
        )
    c.out.print(table)
    c.out.print(
        f"buffer at {doc['confidence']:.0%}: priors alone "
        f"{fmt_both(doc['prior_buffer_oom'])}; with the evidence "
        f"{fmt_both(doc['posterior_buffer_oom'])}"
    )


@c.with_fit_options
def sensitivity(
    scenario: ScenarioArg = None,
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", parser=c.out_folder, help="Write tornado.png here."),
    ] = None,
    json: c.JsonOpt = False,
    **fit,
):
    """Rank every prior by how far tightening, widening or shifting it moves the buffer."""
    from forecast import api
    from forecast.core.writing import check_output_folder
    from forecast.report.results import check_finite

    if out is not None:
        check_output_folder(out, "--out", ("tornado.png",))  # before the work
    result = _result(scenario, horizon, confidence, actor, seed, fit)
    doc = api.prior_sensitivity(result, refit=True, log=c.FitReporter(fit["quiet"]).log)
    check_finite(doc)
    if out is not None:
        import io

        from forecast.core.writing import os_error, write_files
        from forecast.report import plots
        from forecast.report.document import result_document

        png = io.BytesIO()
        plots.tornado_chart(
            doc["priors"],
            doc["buffer_oom"],
            png,
            f"Sensitivity of the buffer to each prior: {result.scenario.title}",
            plots.caption(result_document(result)),
        )
        try:
            write_files(out, {"tornado.png": png.getvalue()})
        except OSError as exc:
            raise os_error(exc, out, "--out") from None
        c.note(f"wrote {out / 'tornado.png'}", fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    doc = c.shown(doc)
    from forecast.cli.run import word_table
    from forecast.report.text import (
        SENSITIVITY_CAPTION,
        VARIATION_LABELS,
        swing_text,
        variation_text,
    )

    rows = [
        [r["prior"], r["distribution"], r["drives"], swing_text(r)]
        + [variation_text(r, how).replace("!", "[red]![/]") for how in VARIATION_LABELS]
        for r in doc["priors"]
    ]
    c.out.print(
        word_table(
            f"Sensitivity of the buffer ({doc['buffer_oom']:.2f} OOM at "
            f"{doc['confidence']:.0%}, {doc['horizon_months']} months), largest swing first",
            ["prior", "default", "drives", "swing OOM", *VARIATION_LABELS.values()],
            rows,
            caption=SENSITIVITY_CAPTION,
        )
    )


def parse_as_of(text: str | None, option: str = "--as-of") -> dt.date | None:
    """``--as-of`` (or ``option``) as YYYY-MM-DD, or YYYY-MM (the first day of that month)."""
    import re

    from forecast.core.schemas.common import EARLIEST_DATE, LATEST_DATE

    if text is None:
        return None
    month = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    try:
        if month:
            day = dt.date(int(month.group(1)), int(month.group(2)), 1)
        else:
            day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"expected a date as YYYY-MM or YYYY-MM-DD, got {text!r}", option
        ) from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise InputError(
            f"expected a date from {EARLIEST_DATE} to {LATEST_DATE}, got {text!r}", option
        )
    return day


@c.with_fit_options
def backtest(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="A scenario whose evals name later measurements (compare_with); needs "
            "--as-of. Without one, the measured histories are cross-validated and backtested "
            "from cut dates.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Backtest one scenario (default gpt4-2023-03) from this date (YYYY-MM or "
            "YYYY-MM-DD; YYYY-MM is the month's first day); the evidence is cut there.",
            show_default=False,
        ),
    ] = None,
    scheme: Annotated[
        list[str] | None,
        typer.Option(
            "--scheme",
            help="Cross-validation scheme: suite or publisher (repeatable; default both).",
            show_default=False,
        ),
    ] = None,
    cut: Annotated[
        list[str] | None,
        typer.Option(
            "--cut",
            help="A cut date of the time-cut backtests, YYYY-MM or YYYY-MM-DD (repeatable; "
            "default 2024-01, 2024-07, 2025-01).",
            show_default=False,
        ),
    ] = None,
    refit: Annotated[
        bool,
        typer.Option("--refit", help="Compute even when shipped results match the inputs."),
    ] = False,
    seed: c.SeedOpt = 0,
    json: c.JsonOpt = False,
    **fit,
):
    """Forecasts from earlier states beside what was measured later: the histories'
    cross-validation and time cuts, or one scenario from a date."""
    from forecast import api
    from forecast.report.results import check_finite

    day = parse_as_of(as_of)
    if day is None and scenario is not None:
        raise InputError(
            "a scenario is backtested from a date: give --as-of (without a scenario, the "
            "histories are cross-validated and backtested from cut dates)",
            "--as-of",
        )
    if day is not None and (scheme or cut or refit):
        raise InputError("--scheme, --cut and --refit are for the histories' backtest "
                         "(without --as-of)", "--as-of")  # fmt: skip
    cuts = [parse_as_of(text, "--cut") for text in cut or []]
    arguments = c.fit_arguments(fit)
    if day is None:
        arguments |= _histories_options(fit, arguments, scheme, cuts, refit)
    doc = api.backtest(day, scenario, seed=seed, **arguments)
    check_finite(doc)
    if doc["mode"] == "scenario":
        c.check_diagnostics(doc["diagnostics"], fit["strict"], fit["quiet"])
        c.check_diagnostics(doc["catalogue_diagnostics"], fit["strict"], fit["quiet"])
    elif doc["source"] == "computed":
        for cut_doc in doc["cuts"]:
            for part in ("catalogue", "histories"):
                c.check_diagnostics(cut_doc[part]["diagnostics"], fit["strict"], fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    doc = c.shown(doc)
    if doc["mode"] == "scenario":
        _print_scenario_backtest(doc)
    else:
        print_histories_backtest(doc)


def _histories_options(fit: dict, arguments: dict, scheme, cuts, refit: bool) -> dict:
    """The histories backtest's own arguments: schemes, cuts, the uplift model's sampler
    settings (:data:`forecast.checks.backtest.BACKTEST_SETTINGS` and the catalogue model's
    defaults, with the fit options given) and progress over the folds."""
    from forecast.checks.backtest import BACKTEST_SETTINGS
    from forecast.checks.crossval import SCHEMES
    from forecast.core.validation import suggest

    for name in scheme or []:
        if name not in SCHEMES:
            raise InputError(
                f"unknown scheme {name!r}{suggest(name, list(SCHEMES))} (expected one of: "
                f"{', '.join(SCHEMES)})",
                "--scheme",
            )
    # each model on its own backtest defaults (what the shipped results were computed with),
    # with the fit options the user gave
    histories = c.model_settings(fit, BACKTEST_SETTINGS)
    arguments["settings"] = c.model_settings(fit, c.FitSettings())
    arguments.pop("trend_mode", None)
    quiet = fit["quiet"]

    def on_fold(done: int, total: int, record: dict) -> None:
        state = "ok" if record["diagnostics"]["ok"] else "FAILED its diagnostics"
        c.note(f"fold {done}/{total} ({record['scheme']}: {record['group']}): "
               f"{record['seconds']:.0f} s, {state}", quiet)  # fmt: skip

    return {
        "schemes": list(dict.fromkeys(scheme)) if scheme else None,
        "cuts": cuts or None,
        "refit": refit,
        "histories_settings": histories,
        "on_fold": on_fold,
    }


def _pct(x) -> str:
    return f"{x:.0%}" if x is not None else "-"


def _interval(r: dict, lo: str, hi: str) -> str:
    return f"{r[lo]:.0%} to {r[hi]:.0%}" if lo in r else "-"


def _verdict_cell(r: dict) -> str:
    colour = "green" if r.get("inside_50") else ("yellow" if r.get("inside_90") else "red")
    return f"[{colour}]{r['verdict']}[/]"


def _range(t: dict, key: str) -> str:
    lo, hi = t[key]
    return f"{lo}-{hi}"


def crossval_rows(schemes: dict) -> tuple[list[str], list[list[str]]]:
    """The cross-validation summary as a table: one column per scheme, one row per measure,
    and what a calibrated forecast would give."""
    names = list(schemes)
    totals = [schemes[s]["totals"] for s in names]
    first = totals[0]
    same_n = len({t["n"] for t in totals}) == 1

    def row(label, cell, calibrated=""):
        return [label, *(cell(t) if t["n"] else "-" for t in totals), calibrated]

    rows = [
        row("snapshots", lambda t: str(t["n"])),
        row("inside 50% interval", lambda t: str(t["inside_50"]),
            _range(first, "range_50_if_calibrated") if same_n else "50%"),
        row("inside 90% interval", lambda t: str(t["inside_90"]),
            _range(first, "range_90_if_calibrated") if same_n else "90%"),
        row("mean PIT", lambda t: f"{t['mean_pit']:.2f}", "0.50"),
        row("above the median", lambda t: f"{t['share_above_median']:.0%}", "at most 50%"),
        row("mean CRPS", lambda t: f"{t['mean_crps']:.3f}"),
        row("CRPS of no change", lambda t: f"{t['mean_crps_no_change']:.3f}"),
        ["folds failing diagnostics",
         *(f"{len(schemes[s]['failed_folds'])} of {len(schemes[s]['folds'])}" for s in names),
         "0"],
    ]  # fmt: skip
    headers = ["", *(schemes[s]["title"] for s in names), "calibrated"]
    return headers, rows


def cut_rows(cuts: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The time-cut backtests as a table: one column per cut date, one row per measure (the
    hit counts with the range a calibrated forecast would give)."""

    def row(label, cell):
        return [label, *(cell(d, d["totals"]) if d["totals"]["n"] else "-" for d in cuts)]

    def ok(d, t):
        good = d["catalogue"]["diagnostics"]["ok"] and d["histories"]["diagnostics"]["ok"]
        return "ok" if good else "[red]FAILED[/]"

    rows = [
        ["fitted on (snapshots)", *(str(d["histories"]["snapshots"]) for d in cuts)],
        ["forecast (snapshots)", *(str(d["totals"]["n"]) for d in cuts)],
        row("inside 50% (calibrated)",
            lambda d, t: f"{t['inside_50']} ({_range(t, 'range_50_if_calibrated')})"),
        row("inside 90% (calibrated)",
            lambda d, t: f"{t['inside_90']} ({_range(t, 'range_90_if_calibrated')})"),
        row("mean PIT", lambda d, t: f"{t['mean_pit']:.2f}"),
        row("above the median", lambda d, t: f"{t['share_above_median']:.0%}"),
        row("mean CRPS", lambda d, t: f"{t['mean_crps']:.3f}"),
        row("CRPS of no change", lambda d, t: f"{t['mean_crps_no_change']:.3f}"),
        ["fits' diagnostics", *(ok(d, d["totals"]) for d in cuts)],
    ]  # fmt: skip
    return ["cut", *(d["cut"] for d in cuts)], rows


#: Cut dates per table (each column is at least a date wide: four fit 80 columns).
CUTS_PER_TABLE = 4


def print_histories_backtest(doc: dict, width: int | None = None) -> None:
    """``forecast backtest`` without a scenario: the cross-validation summary, the PIT
    histograms, the failed folds and the time-cut table (``width``: the console's)."""
    from forecast.cli.run import word_table

    h = doc["histories"]
    source = (
        f"shipped results of {doc['created'][:10]}"
        if doc["source"] == "shipped"
        else f"computed {doc['created'][:10]}"
    )
    s = doc["crossval"]["settings"]
    c.out.print(
        f"Backtest of the uplift model on {h['snapshots']} snapshots of {h['series']} measured "
        f"histories ({h['suites']} suites, {h['publishers']} publishers): {source}; fit "
        f"{doc['fit_key'][:12]}, {s['chains']} chains x {s['draws']} draws after {s['tune']} "
        "tuning steps.",
        width=width,
    )
    schemes = doc["crossval"]["schemes"]
    headers, rows = crossval_rows(schemes)
    c.out.print(
        word_table(
            "Cross-validation: each snapshot forecast from its series' baseline by a fit that "
            "never saw it",
            headers,
            rows,
            caption="calibrated: the central 90% range of the count if the forecasts were "
            "calibrated and the snapshots independent (they are not: snapshots of one series "
            "share their baseline). CRPS in score units, lower is better.",
            width=width,
        ),
        width=width,
    )
    for part in schemes.values():
        t = part["totals"]
        if t["n"]:
            bars = " ".join(str(k) for k in t["pit_histogram"])
            c.out.print(f"PIT histogram, {part['title']} (10 bins from 0 to 1): {bars}",
                        width=width)  # fmt: skip
        for f in part["failed_folds"]:
            c.out.print(f"[red]fold {f['group']!s} failed its diagnostics:[/] "
                        f"{'; '.join(f['problems'])}", width=width)  # fmt: skip
    cuts = doc["cuts"]
    for start in range(0, len(cuts), CUTS_PER_TABLE):
        headers, rows = cut_rows(cuts[start : start + CUTS_PER_TABLE])
        c.out.print(
            word_table(
                "Time cuts: fitted with what was published by the cut, forecast after it",
                headers,
                rows,
                caption="forecast: the snapshots dated after the cut, each from its series' "
                "state at the cut (or its later baseline). Calibrated: the central 90% range "
                "of the hit count if the forecasts were calibrated.",
                width=width,
            ),
            width=width,
        )


def _print_scenario_backtest(doc: dict) -> None:
    c.out.print(
        f"backtest of [bold]{doc['scenario']}[/] from {doc['as_of']}: the evidence cut there "
        f"holds {doc['catalogue_enhancements']} enhancements and {doc['history_snapshots']} "
        "history snapshots"
    )
    if not doc["comparisons"]:
        c.out.print(
            "nothing to compare: no eval in this scenario names a later measurement (compare_with)"
        )
        return
    table = Table(title="Forecast beside later measurements (eval score)")
    for col in ("eval", "measurement", "months after", "measured", "forecast median",
                "50% interval", "90% interval", "CRPS", "verdict"):  # fmt: skip
        table.add_column(col, overflow="fold")
    for r in doc["comparisons"]:
        pm = f" ± {r['measured_plus_minus']:.0%}" if r.get("measured_plus_minus") else ""
        measured = f"{r['measured']:.0%}{pm}" if r["measured"] is not None else "not printed"
        after = f"{r['months_after']:g}" if r["months_after"] is not None else "-"
        table.add_row(
            r["eval"],
            f"{r['model']}, {r['agent']}" if r["agent"] else r["model"],
            after,
            measured,
            _pct(r.get("forecast_q50")),
            _interval(r, "forecast_q25", "forecast_q75"),
            _interval(r, "forecast_q05", "forecast_q95"),
            f"{r['crps']:.3f} ({r['crps_no_change']:.3f})" if "crps" in r else "-",
            _verdict_cell(r),
        )
    c.out.print(table)
    t = doc["totals"]
    if t["n"]:
        c.out.print(
            f"coverage: {t['inside_50']} of {t['n']} measured scores inside the forecast's 50% "
            f"interval, {t['inside_90']} inside the 90% interval; mean CRPS "
            f"{t['mean_crps']:.3f} vs {t['mean_crps_no_change']:.3f} for no change"
        )
