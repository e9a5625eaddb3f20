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
    doc = api.prior_sensitivity(result)
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


def parse_as_of(text: str | None) -> dt.date | None:
    """``--as-of`` as YYYY-MM-DD, or YYYY-MM (the first day of that month)."""
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
            f"expected a date as YYYY-MM or YYYY-MM-DD, got {text!r}", "--as-of"
        ) from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise InputError(
            f"expected a date from {EARLIEST_DATE} to {LATEST_DATE}, got {text!r}", "--as-of"
        )
    return day


@c.with_fit_options
def backtest(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="A scenario whose evals name later measurements (compare_with); needs "
            "--as-of. Without one, every measurement pair is backtested.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Backtest one scenario (default gpt4-2023-03) from this date (YYYY-MM or "
            "YYYY-MM-DD; YYYY-MM is the month's first day); the catalogue is cut there.",
            show_default=False,
        ),
    ] = None,
    seed: c.SeedOpt = 0,
    json: c.JsonOpt = False,
    **fit,
):
    """Forecasts from past dates beside later measurements: every pair, or a scenario."""
    from forecast import api
    from forecast.report.results import check_finite

    day = parse_as_of(as_of)
    if day is None and scenario is not None:
        raise InputError(
            "a scenario is backtested from a date: give --as-of (without a scenario, every "
            "measurement pair is backtested)",
            "--as-of",
        )
    doc = api.backtest(day, scenario, seed=seed, **c.fit_arguments(fit))
    check_finite(doc)
    if doc["mode"] == "scenario":
        c.check_diagnostics(doc["diagnostics"], fit["strict"], fit["quiet"])
    else:
        for row in doc["pairs"]:
            c.check_diagnostics(row["diagnostics"], fit["strict"], fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    doc = c.shown(doc)
    if doc["mode"] == "scenario":
        _print_scenario_backtest(doc)
    else:
        _print_pairs_backtest(doc)


def _pct(x) -> str:
    return f"{x:.0%}" if x is not None else "-"


def _interval(r: dict, lo: str, hi: str) -> str:
    return f"{r[lo]:.0%} to {r[hi]:.0%}" if lo in r else "-"


def _verdict_cell(r: dict) -> str:
    colour = "green" if r.get("inside_50") else ("yellow" if r.get("inside_90") else "red")
    return f"[{colour}]{r['verdict']}[/]"


def _print_totals(t: dict) -> None:
    if not t["n"]:
        return
    c.out.print(
        f"coverage: {t['inside_50']} of {t['n']} measured scores inside the forecast's 50% "
        f"interval (calibrated: {t['expected_50']:g} expected, 90% range "
        f"{t['range_50_if_calibrated'][0]}-{t['range_50_if_calibrated'][1]}); "
        f"{t['inside_90']} of {t['n']} inside the 90% interval (expected {t['expected_90']:g}, "
        f"range {t['range_90_if_calibrated'][0]}-{t['range_90_if_calibrated'][1]})"
    )
    c.out.print(
        f"mean CRPS {t['mean_crps']:.3f} (score units; lower is better) vs "
        f"{t['mean_crps_no_change']:.3f} for a no-change forecast; mean PIT "
        f"{t['mean_pit']:.2f} (0.5 if unbiased)"
    )
    if t["n"] < 10:
        c.out.print(
            f"[dim]with {t['n']} comparison(s), coverage can reveal only gross "
            "miscalibration (docs/backtest.md)[/dim]"
        )


def _print_pairs_backtest(doc: dict) -> None:
    if not doc["pairs"]:
        c.out.print("no measurement pair can be backtested (none is marked 'backtest: true' "
                    "with what a forecast needs)")  # fmt: skip
    else:
        table = Table(
            title="Backtest: forecast of the AFTER score from the BEFORE state, catalogue cut "
            "at the as-of date",
            caption="score = fraction of tasks; months: as of -> AFTER measurement (~: an "
            "approximate date); CRPS in score units (no-change forecast in "
            "brackets); U: simulated uplift at the AFTER date, OOM (median, 95%)",
            caption_justify="left",
        )
        table.add_column("pair", no_wrap=True)
        for col in ("as of", "months", "before", "measured", "forecast median",
                    "50% interval", "90% interval", "U OOM", "CRPS", "verdict"):  # fmt: skip
            table.add_column(col, overflow="fold")
        for r in doc["pairs"]:
            pm = f" ± {r['measured_plus_minus']:.0%}" if r.get("measured_plus_minus") else ""
            table.add_row(
                r["pair"],
                r["as_of"],
                f"{r['months_after']:.1f}" + ("~" if r["date_precision"] != "day" else ""),
                _pct(r["before"]),
                _pct(r["measured"]) + pm,
                _pct(r["forecast_q50"]),
                _interval(r, "forecast_q25", "forecast_q75"),
                _interval(r, "forecast_q05", "forecast_q95"),
                f"{r['uplift_q50_oom']:.2f} ({r['uplift_q95_oom']:.2f})",
                f"{r['crps']:.3f} ({r['crps_no_change']:.3f})",
                _verdict_cell(r),
            )
        c.out.print(table)
        _print_totals(doc["totals"])
    for s in doc["skipped"]:
        c.out.print(f"skipped {s['pair']}: {s['why']}")


def _print_scenario_backtest(doc: dict) -> None:
    c.out.print(
        f"backtest of [bold]{doc['scenario']}[/] from {doc['as_of']}: the catalogue cut "
        f"there holds {doc['catalogue_enhancements']} enhancements"
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
    _print_totals(doc["totals"])
