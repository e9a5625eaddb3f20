"""``forecast run [SCENARIO]``: the main job."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from forecast.cli import common as c
from forecast.core.units import fmt_both, fmt_multiplier

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
        help="Forecast draws (default: 6,000, resampled from the uplift model's posterior); "
        "draws x time steps at most 2,500,000.",
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
    typer.Option(
        "--out",
        parser=c.out_folder,
        help="Also write results.json and uplift.csv into this folder.",
    ),
]
PolicyFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--policy",
        help="Also compare with this policy file (repeatable; format: docs/policies.md).",
        show_default=False,
    ),
]
PoliciesOpt = Annotated[
    str | None,
    typer.Option(
        "--policies",
        help="Shipped policies to show: names or verified, current, superseded, all, none, "
        "comma-separated (default: the scenario's, else verified).",
        show_default=False,
    ),
]
ScenarioArg = Annotated[
    str | None,
    typer.Argument(help="A shipped scenario name or a scenario file (default: frontier-api)."),
]


def parse_date(text: str | None, option: str = "--as-of") -> dt.date | None:
    from forecast.core.errors import InputError
    from forecast.core.schemas.common import EARLIEST_DATE, LATEST_DATE

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


def forecast_result(
    scenario=None,
    *,
    horizon=None,
    confidence=None,
    actor=None,
    seed=0,
    draws=None,
    as_of=None,
    policy=None,
    policies=None,
    **fit,
):
    """Run the forecast with CLI options (``fit``: :data:`common.FIT_OPTIONS`); diagnostics
    are checked, and refused under ``--strict``."""
    from forecast.inputs.policies import parse_selection

    return c.forecast_with_options(
        scenario,
        draws=draws,
        seed=seed,
        fit=fit,
        horizon_months=horizon,
        confidence=confidence,
        actor=actor,
        as_of=parse_date(as_of),
        policy_select=parse_selection(policies),
        policy_files=policy or (),
    )


@c.with_fit_options
def run(
    scenario: ScenarioArg = None,
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    draws: DrawsOpt = None,
    as_of: AsOfOpt = None,
    policy: PolicyFileOpt = None,
    policies: PoliciesOpt = None,
    out: OutOpt = None,
    json: c.JsonOpt = False,
    **fit,
):
    """Forecast uplift over the horizon and print the safety-buffer recommendation."""
    from forecast.report.document import result_document
    from forecast.report.results import check_finite

    if out is not None:
        from forecast.core.writing import check_output_folder

        check_output_folder(out, "--out", ("results.json", "uplift.csv"))
    result = forecast_result(
        scenario,
        horizon=horizon,
        confidence=confidence,
        actor=actor,
        seed=seed,
        draws=draws,
        as_of=as_of,
        policy=policy,
        policies=policies,
        **fit,
    )
    from forecast.explain.explanation import explain

    doc = result_document(result, explain(result))
    check_finite(doc)
    if out is not None:
        from forecast.report.results import write_results

        write_results(doc, out)
        c.note(f"wrote {out}/results.json and {out}/uplift.csv", fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    print_forecast(doc)


def print_forecast(doc: dict) -> None:
    from forecast.report.text import fan_chart

    doc = c.shown(doc)
    base = doc["base_model"]
    elicited = doc["already_elicited"]
    already = ", ".join(elicited["categories"] + elicited["enhancements"]) or "nothing"
    c.out.print(
        Panel.fit(
            f"[bold]{doc['title']}[/] ({doc['scenario']})\n"
            f"base model: {base['name']}, {base['training_compute_flop']:.1e} FLOP, evaluated "
            f"{base['reference_date']}"
            + (f", released {base['released']}" if base.get("released") else ", at release")
            + f", weights {base['weights']}\n"
            f"actor: {doc['actor']}; already elicited by the evaluation: {already}\n"
            f"horizon {doc['horizon_months']} months, confidence {doc['confidence']:.0%}; "
            f"assumptions: profile {doc['profile']}, rate trend past the histories "
            f"{doc['extrapolation']['trend']}",
            title="forecast",
            border_style="blue",
        )
    )
    rows = doc["uplift"]
    table = Table(
        title="Uplift U(t) from post-training enhancements others add after the evaluation",
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
    head = doc.get("headline")
    ranged = (
        f"\n[bold]Range {head['range_oom'][0]:.2f} to {head['range_oom'][1]:.2f} OOM[/]: "
        + escape(head["basis"])
        + f".\n{escape(head['cite'])}"
        if head
        else ""
    )
    c.out.print(
        Panel.fit(
            f"[bold]Safety buffer: {fmt_both(b['oom'])}[/] of effective compute\n"
            f"= the {b['quantile']:.0%} quantile of uplift at month {b['month']} "
            f"(Monte Carlo 90% interval {lo:.2f} to {hi:.2f} OOM over {b['draws']} draws"
            f"{_effective(b)}: simulation noise only).{ranged}\n"
            f"Protective measures should apply once an evaluation comes within this many OOM "
            f"of its dangerous threshold.",
            title="recommendation",
            border_style="green",
        )
    )
    if "explanation" in doc:
        print_explanation(doc["explanation"], full=False)
    print_evals(doc)
    print_policies(doc)
    print_diagnostics(doc["diagnostics"])


def _effective(b: dict) -> str:
    """ ", from N effective posterior draws" when the fit was reweighted (fewer than it has)."""
    eff, n = b.get("effective_posterior_draws"), b.get("posterior_draws")
    if eff is None or n is None or eff >= n - 0.5:
        return ""
    return f" resampled from {eff:,.0f} effective posterior draws of {n:,}"


def print_explanation(ex: dict, full: bool = True) -> None:
    """What sets the buffer (forecast.explain.explanation): the uplift split into what the
    evidence implies, attention and chance in the median band and the tail, then one line
    per finding; ``full`` adds the tail profile and the decomposition rule."""
    split = ex["decomposition"]
    median, tail = split["median"], split["tail"]
    labels = ex["part_labels"]
    table = word_table(
        "Why this buffer: what sets the uplift at the horizon (OOM)",
        ["part", "median band", "draws at and above the buffer"],
        [
            [labels[m["part"]], f"{m['oom']:+.2f}", f"{t['oom']:+.2f} ({t['share']:.0%})"]
            for m, t in zip(median["parts"], tail["parts"], strict=True)
        ]
        + [
            [
                "[bold]the uplift (mean of the band)[/]",
                f"[bold]{median['mean_uplift_oom']:.2f}[/]",
                f"[bold]{tail['mean_uplift_oom']:.2f}[/]",
            ],
            [
                "improvements by the horizon (mean count)",
                f"{median['mean_events']:.1f}",
                f"{tail['mean_events']:.1f}",
            ],
        ],
        caption="each draw's uplift split exactly, averaged over the band; "
        + ("see the rule below." if full else "the rule: forecast explain, docs/method.md."),
    )
    c.out.print(table)
    for line in ex["summary"]:
        c.out.print(f"- {line}", soft_wrap=True)
    if not full:
        return
    profile = word_table(
        "The draws that set the buffer, against all draws (means)",
        ["driver", "units", "all draws", "at and above the buffer"],
        [
            [r["label"], r["units"], f"{r['all_mean']:.2f}", f"{r['tail_mean']:.2f}"]
            for r in ex["tail_profile"]
        ],
    )
    c.out.print(profile)
    c.out.print(f"Rule: {ex['rule']}", soft_wrap=True)


def word_table(
    title: str, headers: list[str], rows: list[list[str]], caption: str = "", width=None
) -> Table:
    """A table whose columns are at least as wide as their longest word, so that rich wraps
    cells between words and never splits one (markup such as ``[red]`` does not count).

    The columns' widths are set here: each gets its natural width if the table fits the
    console (``width``, default the output console's), else the columns with room to spare
    shrink toward their longest word, widest first (rich alone would let the last columns
    run off the edge once the words no longer fit)."""
    from rich.text import Text

    plain = [
        [Text.from_markup(cell).plain for cell in [h, *(r[k] for r in rows)]]
        for k, h in enumerate(headers)
    ]
    least = [min(max(len(w) for cell in col for w in cell.split() or [""]), 40) for col in plain]
    natural = [
        max(max(len(line) for line in cell.splitlines() or [""]) for cell in col) for col in plain
    ]
    natural = [max(n, m) for n, m in zip(natural, least, strict=True)]
    room = (width or c.out.width) - (3 * len(headers) + 1)  # borders and padding
    widths = list(natural)
    while sum(widths) > room:
        spare = [w - m for w, m in zip(widths, least, strict=True)]
        k = max(range(len(widths)), key=lambda i: (spare[i] > 0, widths[i]))
        if spare[k] <= 0:
            break  # every column is down to its longest word: rich squeezes further
        widths[k] -= 1
    table = Table(title=title, caption=caption or None, caption_justify="left")
    for header, w in zip(headers, widths, strict=True):
        table.add_column(header, width=w, overflow="fold")
    for r in rows:
        table.add_row(*r)
    return table


STATE_STYLE = {"past the trigger": "bold red", "cannot rule out": "yellow", "clear": "green"}


def print_evals(doc: dict) -> None:
    from forecast.buffer.evals import STATE_MEANING, status_text

    if not doc["evals"]:
        return
    rows = []
    for e in doc["evals"]:
        trig = e["trigger"]
        if e["kind"] == "aggregate":
            now = f"score {e['current']:.0%}"
            threshold = f"score {e['threshold']:.0%}"
            trigger = f"score {trig['score']:.1%}"
        else:
            now = f"{e['current']['fraction_passing']:.0%} of {e['n_tasks']} tasks pass"
            threshold = (
                f"{e['tasks_fraction']:.0%} of tasks pass; {e['definition_text']} "
                f"({e['pooling']} task rates)"
            )
            if e["definition"] == "hidden_rate":
                trigger = (
                    f"{trig['tasks_fraction']:.0%} of tasks pass at 1 in "
                    f"{trig['one_in_n_tries']:.0f} tries ({trig['task_pass_rate']:.1%}); now "
                    f"{e['current']['fraction_passing_at_trigger_rate']:.0%} do"
                )
            else:
                trigger = "-"
        state = e["status"]["state"]
        rows.append(
            [
                e["name"],
                now,
                threshold,
                f"{e['p_cross']:.1%} (at the point estimate {e['p_cross_point_estimate']:.1%}; "
                f"already met {e['p_already_met']:.1%})",
                trigger,
                f"[{STATE_STYLE[state]}]{status_text(e)}[/]",
            ]
        )
    alpha = 1 - doc["confidence"]
    c.out.print(
        word_table(
            f"Evaluations: probability of crossing the dangerous threshold by month "
            f"{doc['horizon_months']}, and the trigger for protective measures now",
            ["eval", "now", "dangerous threshold", "P(cross)", "trigger now", "status"],
            rows,
        )
    )
    for state in dict.fromkeys(e["status"]["state"] for e in doc["evals"]):
        c.out.print(
            f"[{STATE_STYLE[state]}]{state}[/]: {STATE_MEANING[state]} (alpha = {alpha:.0%})."
        )


def print_policies(doc: dict) -> None:
    """The policy comparison: each rule's reading and verdict, what its exceptions do to the
    verdict, its triggers, then the events that call for an assessment off the calendar."""
    from forecast.buffer.policies import (
        event_triggers_text,
        exceptions_text,
        trigger_text,
        verdict_text,
    )

    confidence = doc["confidence"]
    rows, events = [], []
    for p in doc["policies"]:
        flags = [p["date"][:4], p["status"]] + ([] if p["verified"] else ["text not verified"])
        style = {True: "green", False: "bold red", None: "default"}[p["covers"]]
        also = [t for t in (exceptions_text(p), trigger_text(p, confidence)) if t != "-"]
        rows.append(
            [
                f"{p['title']} ({', '.join(flags)})",
                p["reading"]["summary"],
                f"[{style}]{verdict_text(p)}[/]",
                "; ".join(also) or "-",
            ]
        )
        if event_triggers_text(p):
            events.append(f"- {p['title']}: {event_triggers_text(p)}.")
    if rows:
        c.out.print(
            word_table(
                f"Policy rules under this scenario ({confidence:.0%} confidence)",
                ["policy", "this tool's reading of the rule", "verdict", "exceptions and triggers"],
                rows,
                caption="needs: the uplift that accumulates over the rule's period (the buffer the "
                "rule would need); covers: the stated buffer is at least that. A rule with no "
                "numeric cadence is judged over the scenario's horizon. Readings are this "
                "tool's, not the publishers'; quotes and sources: --json, the report, "
                "docs/policies.md.",
            )
        )
    if events:
        c.out.print("Events that call for an assessment off the calendar (shown, not modelled):")
        for line in events:
            c.out.print(line)
    c.out.print(reevaluation_text(doc))


def reevaluation_text(doc: dict) -> str:
    """The re-evaluation intervals in one sentence; a buffer the uplift already exceeds at
    month 0 is said to be, with that uplift (not "lasts 0.0 months")."""
    from forecast.core.units import fmt_both

    parts, at_once = [], False
    for k, v in doc["reevaluation"].items():
        if v["beyond_horizon"]:
            parts.append(f"{k}: >= {v['months']:.1f} months")
        elif v["months"] == 0:
            parts.append(f"{k}: exceeded at month 0")
            at_once = True
        else:
            parts.append(f"{k}: {v['months']:.1f} months")
    text = "re-evaluation interval (longest time a buffer still covers the uplift): " + "; ".join(
        parts
    )
    if at_once:
        start = doc["uplift"][0]
        text += (
            f" (at {doc['confidence']:.0%} the uplift at month {start['month']:g} is already "
            f"{fmt_both(start['upper_at_confidence'])}: enhancements published but not applied "
            "in the evaluation; docs/method.md section 8)"
        )
    return text


def print_diagnostics(d: dict) -> None:
    """One line per fit: R-hat, ESS, divergences and the verdict (a combined record has
    ``by_model``; a single fit's record is printed as it is)."""
    names = {"histories": "uplift model", "catalogue": "catalogue model"}
    for name, m in (d.get("by_model") or {"": d}).items():
        state = (
            "[green]ok[/]" if m["ok"] else "[bold red]FAILED: " + "; ".join(m["problems"]) + "[/]"
        )
        r_hat = "n/a" if m["r_hat_max"] is None else f"{m['r_hat_max']:.3f}"
        label = f"fit diagnostics ({names.get(name, name)})" if name else "fit diagnostics"
        c.out.print(
            f"{label}: R-hat max {r_hat}, bulk ESS min {m['ess_bulk_min']:.0f}, tail ESS min "
            f"{m['ess_tail_min']:.0f}, divergences {m['divergences']} ({m['chains']} chains x "
            f"{m['draws']} draws) -> {state}"
        )
