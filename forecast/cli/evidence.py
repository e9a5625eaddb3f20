"""``forecast evidence list | show ID | validate [FILE...]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forecast.cli import common as c
from forecast.core.units import fmt_interval

app = typer.Typer(
    help="The enhancement catalogue: CEG observations and their sources.", no_args_is_help=True
)


NoPosteriorOpt = Annotated[
    bool, typer.Option("--no-posterior", help="Show the catalogue without fitting it.")
]
AtFlopOpt = Annotated[
    float | None,
    typer.Option(
        "--at-flop",
        help="Also give the posterior CEG for a base model of this many training FLOP "
        "(e.g. 3e26); the posterior column is at 1e23 FLOP.",
        show_default=False,
    ),
]


def _check_flop(at_flop: float | None) -> None:
    from forecast.core.errors import InputError

    if at_flop is not None and not 1e15 < at_flop < 1e30:
        raise InputError(
            f"expected training FLOP between 1e15 and 1e30, got {at_flop:g}", path="--at-flop"
        )


def _figure_text(o: dict) -> str:
    """``>9``; ``[~0.05]`` when left out of the fit; a trailing ``†`` when independent and
    ``°`` when from outside the seeds."""
    text = (
        o["ceg"]["text"]
        + ("†" if o["independent"] else "")
        + ("°" if o["origin"] == "outside_seeds" else "")
    )
    return text if o["in_fit"] else f"[{text}]"


LIST_CAPTION = (
    "figures: [x] recorded but not in the fit (in_fit: false); † independent re-measurement; "
    "° from a primary source after the seeds; ~ point, > lower bound, < upper bound. "
    "posterior: published-scale CEG at a 1e23 FLOP base model, median (multiplier) "
    "[90% interval in OOM]"
)


@app.command("list")
@c.with_fit_options
def list_(
    no_posterior: NoPosteriorOpt = False,
    at_flop: AtFlopOpt = None,
    json: c.JsonOpt = False,
    **fit,
):
    """Every enhancement with its figures (in the fit or not, independent, origin) and its
    posterior CEG (median, 90% interval)."""
    from forecast import api
    from forecast.evidence.catalogue import load_catalogue

    _check_flop(at_flop)
    if no_posterior:
        catalogue = load_catalogue(fit["evidence"], shipped=not fit["no_shipped"])
        posterior = None
    else:
        fitted = c.evidence_fit(fit)
        catalogue, posterior = fitted.catalogue, fitted.fit
    from forecast.report.results import check_finite

    rows = api.enhancement_rows(catalogue, posterior, at_flop=at_flop)
    hyper = api.hyperparameter_summary(posterior) if posterior is not None else None
    check_finite({"enhancements": rows, "hyperparameters": hyper})
    if json:
        doc = {"enhancements": rows}
        if posterior is not None:
            doc["hyperparameters"] = hyper
            doc["diagnostics"] = posterior.diagnostics.to_dict()
        c.emit_json(doc)
        return
    rows = c.shown(rows)
    table = Table(
        title="Post-training enhancements: published CEG figures and posterior",
        caption=LIST_CAPTION,
        caption_justify="left",
    )
    for col in ("id", "category", "published", "access", "origin", "figures", "in fit"):
        table.add_column(col, overflow="fold")
    table.add_column("posterior CEG (OOM)")
    if at_flop is not None:
        table.add_column(f"at {at_flop:.3g} FLOP (OOM)")
    for row in rows:
        figures = row["observations"]
        observed = ", ".join(_figure_text(o) for o in figures) or "-"
        if row["combinations"]:
            observed += f" (+{len(row['combinations'])} in combination)"
        fitted_rows = figures + row["combinations"]
        in_fit = f"{sum(o['in_fit'] for o in fitted_rows)}/{len(fitted_rows)}"
        cells = [row["id"], row["category"], row["published"], row["access"], row["origin"]]
        cells += [observed, in_fit]
        cells.append(fmt_interval(row["posterior_ceg"]) if row["posterior_ceg"] else "-")
        if at_flop is not None:
            scaled = row["posterior_at_flop"]
            cells.append(fmt_interval(scaled) if scaled else "-")
        table.add_row(*cells)
    c.out.print(table)
    if posterior is not None:
        _print_hyper(hyper, posterior.diagnostics)


def _print_hyper(hyper: dict, diagnostics) -> None:
    table = Table(title="Category means and global mean (posterior, published scale)")
    table.add_column("")
    table.add_column("median (OOM, multiplier) [90% interval]")
    table.add_row("global mean", fmt_interval(hyper["global_mean"]))
    for name, s in hyper["categories"].items():
        table.add_row(name, fmt_interval(s))
    c.out.print(table)
    state = (
        "[green]ok[/]"
        if diagnostics.ok
        else "[bold red]FAILED[/] " + "; ".join(diagnostics.problems)
    )
    c.out.print(
        f"diagnostics: R-hat max {diagnostics.r_hat_max:.3f}, bulk ESS min "
        f"{diagnostics.ess_bulk_min:.0f}, tail ESS min {diagnostics.ess_tail_min:.0f}, "
        f"divergences {diagnostics.divergences} -> {state}"
    )


@app.command("show")
@c.with_fit_options
def show(
    enhancement_id: Annotated[str, typer.Argument(metavar="ID", help="An enhancement id.")],
    no_posterior: NoPosteriorOpt = False,
    at_flop: AtFlopOpt = None,
    json: c.JsonOpt = False,
    **fit,
):
    """One enhancement: its facts, every figure with where it stands (in the fit or not,
    independent, origin, quote), its posterior CEG at 1e23 FLOP and, with --at-flop, at
    another base-model scale."""
    from forecast import api
    from forecast.core.errors import InputError
    from forecast.core.validation import suggest
    from forecast.evidence.catalogue import load_catalogue

    _check_flop(at_flop)
    catalogue = load_catalogue(fit["evidence"], shipped=not fit["no_shipped"])
    ids = [e.id for e in catalogue.enhancements]
    if enhancement_id not in ids:
        raise InputError(
            f"unknown enhancement {enhancement_id!r}{suggest(enhancement_id, ids)}"
            " (see 'forecast evidence list --no-posterior')",
            path="ID",
        )
    from forecast.report.results import check_finite

    posterior = None if no_posterior else c.evidence_fit(fit, catalogue).fit
    rows = api.enhancement_rows(catalogue, posterior, at_flop=at_flop)
    row = next(r for r in rows if r["id"] == enhancement_id)
    check_finite(row, enhancement_id)
    if json:
        c.emit_json(row)
        return
    row = c.shown(row)
    origin = "" if row["origin"] == "seed" else f", origin: {row['origin']}"
    c.out.print(
        f"[bold]{row['name']}[/] ({row['id']}): {row['category']}, published "
        f"{row['published']}, least access: {row['access']}{origin}"
    )
    for label, key in (
        ("one-time cost (fraction of pre-training)", "one_time_cost"),
        ("inference cost (multiplier)", "inference_cost"),
    ):
        c.out.print(f"  {label}: {row[key]['text'] if row[key] else 'not given'}")
    c.out.print(f"  source: {row['source']}")
    if row["posterior_ceg"]:
        c.out.print(
            f"  posterior CEG at 1e23 FLOP: {fmt_interval(row['posterior_ceg'])} "
            "(median, 90% interval in OOM)"
        )
    if row.get("posterior_at_flop"):
        c.out.print(
            f"  posterior CEG at {at_flop:.3g} FLOP: {fmt_interval(row['posterior_at_flop'])} "
            "(theta + scale_slope x (log10 FLOP - 23))"
        )
    table = Table(
        title="Figures",
        caption="kind: point (~), lower (>), upper (<) bound; 'no gain' is ~1. in fit: false "
        "= recorded, not fitted. independent: measured by others than the method's authors.",
        caption_justify="left",
    )
    for col in (
        "benchmark",
        "CEG",
        "OOM",
        "kind",
        "base FLOP",
        "in fit",
        "independent",
        "origin",
        "where",
        "notes",
    ):
        table.add_column(col, overflow="fold")
    for o in row["observations"] + row["combinations"]:
        label = o["benchmark"]
        if "members" in o:
            label += f" \\[{' + '.join(o['members'])}"
            label += f" over {' + '.join(o['baseline'])}]" if o["baseline"] else "]"
        flop = f"{o['base_compute_flop']:.1e}" if o["base_compute_flop"] else "-"
        notes = o["notes"]
        if o["quote"]:
            notes += f' Quote: "{o["quote"]}"'
        if o["reference"]:
            notes += f" Reference: {o['reference']}"
        table.add_row(
            label,
            o["ceg"]["text"],
            ", ".join(f"{v:.2f}" for v in o["ceg"]["oom"]),
            o["ceg"]["kind"],
            flop,
            "yes" if o["in_fit"] else "no",
            "yes" if o["independent"] else "no",
            o["origin"],
            o["where"],
            notes.strip(),
        )
    c.out.print(table)


@app.command("validate")
def validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Catalogue files or folders (default: the shipped catalogue)."),
    ] = None,
    no_shipped: c.NoShippedOpt = False,
    json: c.JsonOpt = False,
):
    """Check catalogue files against the schema without fitting them.

    A user's file is checked on top of the shipped catalogue (its combinations may name
    shipped enhancements) unless --no-shipped-evidence is given.
    """
    from forecast.evidence.catalogue import load_catalogue

    results = []
    for path in files or [None]:
        catalogue = load_catalogue(path, shipped=path is None or not no_shipped)
        n_obs = sum(len(e.observations) for e in catalogue.enhancements)
        results.append(
            {
                "file": str(path) if path else "shipped catalogue",
                "valid": True,
                "enhancements": len(catalogue.enhancements),
                "observations": n_obs,
                "combinations": len(catalogue.combinations),
            }
        )
    if json:
        c.emit_json(results)
        return
    for r in c.shown(results):
        c.out.print(
            f"[green]valid[/]: {r['file']}: {r['enhancements']} enhancements, "
            f"{r['observations']} observations, {r['combinations']} combinations"
        )


@app.command("measurements")
def measurements(
    measurements: c.MeasurementsOpt = None,
    evidence: c.EvidenceOpt = None,
    json: c.JsonOpt = False,
):
    """Measured scores of fixed models before and after later elicitation, and the pairs a
    backtest can use (shipped files, plus --measurements FILE, checked as one set)."""
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.measurements import backtest_pairs, load_measurements, measurement_rows

    catalogue = load_catalogue(evidence)
    data = load_measurements(measurements, catalogue=catalogue)
    if json:
        c.emit_json(measurement_rows(data))
        return
    suites = {s.id: s for s in data.suites}
    table = Table(
        title="Measurements (scores, not CEGs)",
        caption="score as printed (± at its interval level); null = the source prints no "
        "number. basis: measured, estimate or commenter_reading.",
        caption_justify="left",
    )
    table.add_column("id", no_wrap=True)
    for col in ("model, agent", "suite", "metric", "score", "measured", "basis", "indep."):
        table.add_column(col, overflow="fold")
    for m in data.measurements:
        metric = m.metric + (f" (k={m.k})" if m.k else "")
        metric += f", {m.time_budget_hours:g} h" if m.time_budget_hours else ""
        when = "-"
        if m.measured:
            when = m.measured.isoformat() + ("" if m.date_precision == "day" else " (approx.)")
            if m.date_precision == "month":
                when = m.measured.strftime("%Y-%m")
        suite = suites[m.suite]
        table.add_row(
            m.id,
            f"{m.model}, {m.agent}" if m.agent else m.model,
            suite.id + (f" ({suite.n_tasks} tasks)" if suite.n_tasks else ""),
            metric,
            m.score.describe() if m.score else "null",
            when,
            m.basis,
            "yes" if m.independent else "no",
        )
    c.out.print(table)
    by_id = {m.id: m for m in data.measurements}
    usable = {p.id: p for p in backtest_pairs(data)}
    pairs = Table(title="Elicitation gains (before -> after on one fixed model)")
    pairs.add_column("id", no_wrap=True)
    for col in ("before -> after", "added", "actor", "as of", "backtest"):
        pairs.add_column(col, overflow="fold")
    for g in data.elicitation_gains:
        before, after = by_id[g.before], by_id[g.after]

        def text(m):
            return m.score.describe() if m.score else "null"

        added = ", ".join([*g.added.categories, *g.added.enhancements]) or g.added.description
        if g.id in usable:
            verdict = f"yes ({usable[g.id].months:.1f} months)"
        else:
            verdict = f"no: {g.reason}"
        pairs.add_row(
            g.id,
            f"{g.before} ({text(before)}) -> {g.after} ({text(after)})",
            added,
            g.actor,
            g.as_of.isoformat() if g.as_of else "-",
            verdict,
        )
    c.out.print(pairs)
