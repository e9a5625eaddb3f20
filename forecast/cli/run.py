"""``forecast run [SCENARIO]``: the main job."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from forecast.cli import common as c
from forecast.units import fmt_both, fmt_multiplier

HorizonOpt = Annotated[
    int | None,
    typer.Option("--horizon", min=0, max=120, help="Months ahead (default: the scenario's)."),
]
ConfidenceOpt = Annotated[
    float | None,
    typer.Option(
        "--confidence", min=0.5, max=0.999, help="Confidence 1 - alpha (default: the scenario's)."
    ),
]
ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--actor", help="public_api, finetune_api, open_weights, stolen_weights or developer."
    ),
]
DrawsOpt = Annotated[
    int | None,
    typer.Option(
        "--draws",
        min=100,
        max=1_000_000,
        help="Forecast draws (default: one per posterior draw); draws x time steps at most "
        "2,500,000.",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Cut the catalogue at this date (YYYY-MM-DD).", show_default=False
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Also write results.json and uplift.csv into this folder."),
]
ScenarioArg = Annotated[
    str | None,
    typer.Argument(help="A shipped scenario name or a scenario file (default: frontier-api)."),
]


def parse_date(text: str | None, option: str = "--as-of") -> dt.date | None:
    from forecast.errors import InputError
    from forecast.schemas import EARLIEST_DATE, LATEST_DATE

    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"expected a date as YYYY-MM-DD, got {text!r}", option) from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise InputError(
            f"expected a date from {EARLIEST_DATE} to {LATEST_DATE}, got {text!r}", option
        )
    return day


def check_actor(actor: str | None) -> None:
    from forecast.errors import InputError
    from forecast.files import suggest
    from forecast.schemas import ACTORS

    if actor is not None and actor not in ACTORS:
        raise InputError(
            f"unknown actor {actor!r}{suggest(actor, list(ACTORS))} "
            f"(expected one of: {', '.join(ACTORS)})",
            "--actor",
        )


def forecast_result(
    scenario=None,
    *,
    horizon=None,
    confidence=None,
    actor=None,
    seed=0,
    draws=None,
    as_of=None,
    **fit,
):
    """Run the forecast with CLI options (``fit``: :data:`common.FIT_OPTIONS`); diagnostics
    are checked, and refused under ``--strict``."""
    from forecast import api

    check_actor(actor)
    as_of_date = parse_date(as_of)
    c.check_work(scenario, horizon, draws, fit)
    result = api.run_scenario(
        scenario,
        horizon_months=horizon,
        confidence=confidence,
        actor=actor,
        seed=seed,
        draws=draws,
        as_of=as_of_date,
        **c.fit_arguments(fit),
    )
    c.check_diagnostics(result.fitted.fit.diagnostics, fit["strict"], fit["quiet"])
    return result


@c.with_fit_options
def run(
    scenario: ScenarioArg = None,
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    draws: DrawsOpt = None,
    as_of: AsOfOpt = None,
    out: OutOpt = None,
    json: c.JsonOpt = False,
    **fit,
):
    """Forecast uplift over the horizon and print the safety-buffer recommendation."""
    from forecast import report
    from forecast.export import check_finite

    if out is not None:
        from forecast.files import check_output_folder

        check_output_folder(out, "--out")
    result = forecast_result(
        scenario,
        horizon=horizon,
        confidence=confidence,
        actor=actor,
        seed=seed,
        draws=draws,
        as_of=as_of,
        **fit,
    )
    doc = report.result_document(result)
    check_finite(doc)
    if out is not None:
        from forecast.export import write_results

        write_results(doc, out)
        c.note(f"wrote {out}/results.json and {out}/uplift.csv", fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    print_forecast(doc)


def print_forecast(doc: dict) -> None:
    from forecast.report import fan_chart

    doc = c.shown(doc)
    base = doc["base_model"]
    elicited = doc["already_elicited"]
    already = ", ".join(elicited["categories"] + elicited["enhancements"]) or "nothing"
    c.out.print(
        Panel.fit(
            f"[bold]{doc['title']}[/] ({doc['scenario']})\n"
            f"base model: {base['name']}, {base['training_compute_flop']:.1e} FLOP, as of "
            f"{base['reference_date']}, weights {base['weights']}\n"
            f"actor: {doc['actor']}; already elicited by the evaluation: {already}\n"
            f"horizon {doc['horizon_months']} months, confidence {doc['confidence']:.0%}",
            title="forecast",
            border_style="blue",
        )
    )
    rows = doc["uplift"]
    table = Table(
        title="Uplift U(t) from post-training enhancements not yet applied",
        caption="OOM = log10 of the compute-equivalent multiplier. Fan: ─ 90% "
        "interval, ━ 50% interval, ┃ median",
        caption_justify="left",
    )
    table.add_column("month", justify="right")
    for key in ("q05", "q25", "q50", "q75", "q95"):
        table.add_column(f"{key} OOM", justify="right")
    table.add_column("q50 / q95 x", justify="right")
    table.add_column(f"fan (0 to {max(r['q95'] for r in rows):.2f} OOM)", no_wrap=True)
    for r, bar in zip(rows, fan_chart(rows), strict=True):
        table.add_row(
            f"{r['month']:g}",
            *(f"{r[k]:.2f}" for k in ("q05", "q25", "q50", "q75", "q95")),
            f"{fmt_multiplier(r['q50'])} / {fmt_multiplier(r['q95'])}",
            bar,
        )
    c.out.print(table)
    b = doc["buffer"]
    lo, hi = b["mc_interval_oom"]
    c.out.print(
        Panel.fit(
            f"[bold]Safety buffer: {fmt_both(b['oom'])}[/] of effective compute\n"
            f"= the {b['quantile']:.0%} quantile of uplift at month {b['month']} "
            f"(Monte Carlo 90% interval {lo:.2f} to {hi:.2f} OOM over {b['draws']} draws).\n"
            f"Protective measures should apply once an evaluation comes within this many OOM "
            f"of its dangerous threshold.",
            title="recommendation",
            border_style="green",
        )
    )
    print_evals(doc)
    print_policies(doc)
    print_diagnostics(doc["diagnostics"])


def print_evals(doc: dict) -> None:
    if not doc["evals"]:
        return
    table = Table(
        title=f"Evaluations: probability of crossing the dangerous threshold by month "
        f"{doc['horizon_months']}, and the trigger for protective measures now"
    )
    for col in ("eval", "now", "dangerous threshold", "P(cross)", "trigger now", "status"):
        table.add_column(col, overflow="fold")
    for e in doc["evals"]:
        trig = e["trigger"]
        if e["kind"] == "aggregate":
            now = f"score {e['current']:.0%}"
            threshold = f"score {e['threshold']:.0%}"
            trigger = f"score {trig['score']:.1%}"
        else:
            now = (
                f"{e['current']['fraction_passing']:.0%} of {e['n_tasks']} tasks pass at "
                f"1 in {1 / e['task_pass_rate']:.0f}"
            )
            threshold = (
                f"{e['tasks_fraction']:.0%} of tasks pass at 1 in "
                f"{1 / e['task_pass_rate']:.0f} tries"
            )
            trigger = (
                f"{trig['tasks_fraction']:.0%} of tasks pass at 1 in "
                f"{trig['one_in_n_tries']:.0f} tries ({trig['task_pass_rate']:.1%}); now "
                f"{e['current']['fraction_passing_at_trigger_rate']:.0%} do"
            )
        status = "[bold red]TRIGGERED[/]" if trig["triggered_now"] else "[green]below trigger[/]"
        table.add_row(
            e["name"],
            now,
            threshold,
            f"{e['p_cross']:.1%} (already met: {e['p_already_met']:.1%})",
            trigger,
            status,
        )
    c.out.print(table)


def print_policies(doc: dict) -> None:
    table = Table(
        title=f"Published policy rules under this scenario ({doc['confidence']:.0%} confidence)",
        caption="covers: the rule's buffer exceeds the uplift "
        "that accumulates over its re-evaluation period",
        caption_justify="left",
    )
    for col in (
        "policy",
        "buffer",
        "re-evaluate every",
        "uplift over that period",
        "covers?",
        "margin",
        "that buffer lasts",
    ):
        table.add_column(col, overflow="fold")
    for p in doc["policies"]:
        period = (
            f"{p['interval_months']:g} months"
            if p["interval_months"]
            else f"(none; horizon {p['period_checked_months']:g} mo)"
        )
        lasts = p["reevaluation"]
        lasts_text = (
            f">= {lasts['months']:.0f} mo"
            if lasts["beyond_horizon"]
            else f"{lasts['months']:.1f} mo"
        )
        table.add_row(
            p["title"],
            f"{p['buffer_multiplier']:g}x ({p['buffer_oom']:.2f} OOM)",
            period,
            fmt_both(p["uplift_at_confidence_oom"]),
            "[green]yes[/]" if p["covers"] else "[bold red]no[/]",
            f"{p['margin_oom']:+.2f} OOM",
            lasts_text,
        )
    c.out.print(table)
    re = doc["reevaluation"]
    parts = [
        f"{k}: {'>= ' if v['beyond_horizon'] else ''}{v['months']:.1f} months"
        for k, v in re.items()
    ]
    c.out.print(
        "re-evaluation interval (longest time a buffer still covers the uplift): "
        + "; ".join(parts)
    )


def print_diagnostics(d: dict) -> None:
    state = "[green]ok[/]" if d["ok"] else "[bold red]FAILED: " + "; ".join(d["problems"]) + "[/]"
    c.out.print(
        f"fit diagnostics: R-hat max {d['r_hat_max']:.3f}, bulk ESS min "
        f"{d['ess_bulk_min']:.0f}, tail ESS min {d['ess_tail_min']:.0f}, divergences "
        f"{d['divergences']} ({d['chains']} chains x {d['draws']} draws) -> {state}"
    )
