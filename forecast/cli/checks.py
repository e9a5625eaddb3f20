"""``forecast priors check``, ``forecast sensitivity`` and ``forecast backtest``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forecast.cli import common as c
from forecast.cli.run import ActorOpt, ConfidenceOpt, HorizonOpt, ScenarioArg


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
    from forecast.export import check_finite
    from forecast.units import fmt_both

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
    out: Annotated[Path | None, typer.Option("--out", help="Write tornado.png here.")] = None,
    json: c.JsonOpt = False,
    **fit,
):
    """Rank every prior by how far tightening, widening or shifting it moves the buffer."""
    from forecast import api
    from forecast.export import check_finite
    from forecast.files import check_output_folder

    if out is not None:
        check_output_folder(out, "--out")  # before the work
    result = _result(scenario, horizon, confidence, actor, seed, fit)
    doc = api.prior_sensitivity(result)
    check_finite(doc)
    if out is not None:
        import io

        from forecast import plots
        from forecast.files import os_error, write_files
        from forecast.report import result_document

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
    from forecast.report import SENSITIVITY_CAPTION, VARIATION_LABELS, swing_text, variation_text

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


@c.with_fit_options
def backtest(
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of", help="Forecast from this date (YYYY-MM-DD); the catalogue is cut there."
        ),
    ],
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario with evals that name later measurements (default: gpt4-2023-03)."
        ),
    ] = ("gpt4-2023-03"),
    seed: c.SeedOpt = 0,
    json: c.JsonOpt = False,
    **fit,
):
    """Forecast from a past date and set the forecast beside what was measured later."""
    from forecast import api
    from forecast.cli.run import parse_date
    from forecast.export import check_finite

    doc = api.backtest(parse_date(as_of), scenario, seed=seed, **c.fit_arguments(fit))
    check_finite(doc)
    c.check_diagnostics(doc["diagnostics"], fit["strict"], fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    doc = c.shown(doc)
    c.out.print(
        f"backtest of [bold]{doc['scenario']}[/] from {doc['as_of']}: the catalogue cut "
        f"there holds {doc['catalogue_enhancements']} enhancements"
    )
    table = Table(title="Forecast beside later measurements (eval score)")
    for col in (
        "eval",
        "measurement",
        "months after",
        "measured",
        "forecast median",
        "forecast 90% interval",
        "verdict",
    ):
        table.add_column(col, overflow="fold")
    for r in doc["comparisons"]:
        pm = f" ± {r['measured_plus_minus']:.0%}" if r.get("measured_plus_minus") else ""
        measured = f"{r['measured']:.0%}{pm}" if r["measured"] is not None else "not printed"
        after = f"{r['months_after']:g}" if r["months_after"] is not None else "-"
        interval = (
            f"{r['forecast_q05']:.1%} to {r['forecast_q95']:.1%}" if "forecast_q05" in r else "-"
        )
        median = f"{r['forecast_q50']:.1%}" if "forecast_q50" in r else "-"
        colour = "green" if r.get("inside_90") else "red"
        table.add_row(
            r["eval"],
            f"{r['model']}, {r['agent']}" if r["agent"] else r["model"],
            after,
            measured,
            median,
            interval,
            f"[{colour}]{r['verdict']}[/]",
        )
    c.out.print(table)
    if not doc["comparisons"]:
        c.out.print("no eval in this scenario names a later measurement (compare_with)")
