"""``forecast evidence list | show ID | validate [FILE...]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forecast.cli import common as c
from forecast.units import fmt_interval

app = typer.Typer(
    help="The enhancement catalogue: CEG observations and their sources.", no_args_is_help=True
)


def _posterior(fit: dict, catalogue=None):
    """The fit of the catalogue the fit options name (or of ``catalogue``, already loaded
    from them), cached or new, with its diagnostics checked."""
    from forecast import api

    arguments = c.fit_arguments(fit)
    fitted = api.fit_evidence(
        arguments["evidence"],
        shipped=arguments["shipped_evidence"],
        priors=api.priors_with(arguments["priors"]),
        settings=arguments["settings"],
        use_cache=arguments["use_cache"],
        progress=arguments["progress"],
        log=arguments["log"],
        catalogue=catalogue,
    )
    c.check_diagnostics(fitted.fit.diagnostics, fit["strict"], fit["quiet"])
    return fitted


@app.command("list")
@c.with_fit_options
def list_(
    no_posterior: Annotated[
        bool, typer.Option("--no-posterior", help="List the catalogue without fitting it.")
    ] = False,
    json: c.JsonOpt = False,
    **fit,
):
    """Every enhancement with its observations and posterior CEG (median, 90% interval)."""
    from forecast import api
    from forecast.evidence import load_catalogue

    if no_posterior:
        catalogue = load_catalogue(fit["evidence"], shipped=not fit["no_shipped"])
        posterior = None
    else:
        fitted = _posterior(fit)
        catalogue, posterior = fitted.catalogue, fitted.fit
    from forecast.export import check_finite

    rows = api.enhancement_rows(catalogue, posterior)
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
        caption="posterior: published-scale CEG at a 1e23 FLOP base model, median "
        "(multiplier) [90% interval in OOM]",
        caption_justify="left",
    )
    for col in ("id", "category", "published", "access", "observed CEG"):
        table.add_column(col, overflow="fold")
    table.add_column("posterior CEG (OOM)")
    for row in rows:
        observed = ", ".join(o["ceg"]["text"] for o in row["observations"]) or "-"
        if row["combinations"]:
            observed += f" (+{len(row['combinations'])} in combination)"
        post = fmt_interval(row["posterior_ceg"]) if row["posterior_ceg"] else "-"
        table.add_row(row["id"], row["category"], row["published"], row["access"], observed, post)
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
    no_posterior: Annotated[bool, typer.Option("--no-posterior")] = False,
    json: c.JsonOpt = False,
    **fit,
):
    """One enhancement: its facts, every observation with where it stands, its posterior."""
    from forecast import api
    from forecast.errors import InputError
    from forecast.evidence import load_catalogue
    from forecast.files import suggest

    catalogue = load_catalogue(fit["evidence"], shipped=not fit["no_shipped"])
    ids = [e.id for e in catalogue.enhancements]
    if enhancement_id not in ids:
        raise InputError(
            f"unknown enhancement {enhancement_id!r}{suggest(enhancement_id, ids)}"
            " (see 'forecast evidence list --no-posterior')",
            path="ID",
        )
    from forecast.export import check_finite

    posterior = None if no_posterior else _posterior(fit, catalogue).fit
    row = next(r for r in api.enhancement_rows(catalogue, posterior) if r["id"] == enhancement_id)
    check_finite(row, enhancement_id)
    if json:
        c.emit_json(row)
        return
    row = c.shown(row)
    c.out.print(
        f"[bold]{row['name']}[/] ({row['id']}): {row['category']}, published "
        f"{row['published']}, least access: {row['access']}"
    )
    for label, key in (
        ("one-time cost (fraction of pre-training)", "one_time_cost"),
        ("inference cost (multiplier)", "inference_cost"),
    ):
        c.out.print(f"  {label}: {row[key]['text'] if row[key] else 'not given'}")
    c.out.print(f"  source: {row['source']}")
    if row["posterior_ceg"]:
        c.out.print(f"  posterior CEG at 1e23 FLOP: {fmt_interval(row['posterior_ceg'])}")
    table = Table(title="Observations")
    for col in ("benchmark", "domain", "CEG", "OOM", "kind", "base FLOP", "where", "notes"):
        table.add_column(col, overflow="fold")
    for o in row["observations"] + row["combinations"]:
        label = o["benchmark"] + (f" \\[{'+'.join(o['members'])}]" if "members" in o else "")
        flop = f"{o['base_compute_flop']:.1e}" if o["base_compute_flop"] else "-"
        table.add_row(
            label,
            o["domain"],
            o["ceg"]["text"],
            ", ".join(f"{v:.2f}" for v in o["ceg"]["oom"]),
            o["ceg"]["kind"],
            flop,
            o["where"],
            o["notes"],
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
    from forecast.evidence import load_catalogue

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
