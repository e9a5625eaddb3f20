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


def _fitted(
    evidence, no_shipped, prior, seed, no_cache, fit_draws, fit_tune, chains, quiet, strict
):
    from forecast import api

    priors = api.priors_with(c.parse_overrides(prior))
    fitted = api.fit_evidence(
        evidence,
        shipped=not no_shipped,
        priors=priors,
        settings=c.fit_settings(seed, fit_draws, fit_tune, chains),
        use_cache=not no_cache,
        progress=not quiet,
        log=lambda m: c.note(m, quiet),
    )
    c.check_diagnostics(fitted.fit.diagnostics, strict, quiet)
    return fitted


@app.command("list")
def list_(
    evidence: c.EvidenceOpt = None,
    no_shipped: c.NoShippedOpt = False,
    prior: c.PriorOpt = None,
    no_posterior: Annotated[
        bool, typer.Option("--no-posterior", help="List the catalogue without fitting it.")
    ] = False,
    seed: c.FitSeedOpt = c.DEFAULT_SEED,
    no_cache: c.NoCacheOpt = False,
    fit_draws: c.FitDrawsOpt = 1000,
    fit_tune: c.FitTuneOpt = 1000,
    chains: c.ChainsOpt = 4,
    json: c.JsonOpt = False,
    quiet: c.QuietOpt = False,
    strict: c.StrictOpt = False,
):
    """Every enhancement with its observations and posterior CEG (median, 90% interval)."""
    from forecast import api
    from forecast.evidence import load_catalogue

    if no_posterior:
        catalogue, fit = load_catalogue(evidence, shipped=not no_shipped), None
    else:
        fitted = _fitted(
            evidence, no_shipped, prior, seed, no_cache, fit_draws, fit_tune, chains, quiet, strict
        )
        catalogue, fit = fitted.catalogue, fitted.fit
    rows = api.enhancement_rows(catalogue, fit)
    if json:
        doc = {"enhancements": rows}
        if fit is not None:
            doc["hyperparameters"] = api.hyperparameter_summary(fit)
            doc["diagnostics"] = fit.diagnostics.to_dict()
        c.emit_json(doc)
        return
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
    if fit is not None:
        _print_hyper(api.hyperparameter_summary(fit), fit.diagnostics)


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
def show(
    enhancement_id: Annotated[str, typer.Argument(metavar="ID", help="An enhancement id.")],
    evidence: c.EvidenceOpt = None,
    no_shipped: c.NoShippedOpt = False,
    prior: c.PriorOpt = None,
    no_posterior: Annotated[bool, typer.Option("--no-posterior")] = False,
    seed: c.FitSeedOpt = c.DEFAULT_SEED,
    no_cache: c.NoCacheOpt = False,
    fit_draws: c.FitDrawsOpt = 1000,
    fit_tune: c.FitTuneOpt = 1000,
    chains: c.ChainsOpt = 4,
    json: c.JsonOpt = False,
    quiet: c.QuietOpt = False,
    strict: c.StrictOpt = False,
):
    """One enhancement: its facts, every observation with where it stands, its posterior."""
    from forecast import api
    from forecast.errors import InputError
    from forecast.evidence import load_catalogue
    from forecast.files import suggest

    catalogue = load_catalogue(evidence, shipped=not no_shipped)
    ids = [e.id for e in catalogue.enhancements]
    if enhancement_id not in ids:
        raise InputError(
            f"unknown enhancement {enhancement_id!r}{suggest(enhancement_id, ids)}"
            " (see 'forecast evidence list --no-posterior')",
            path="ID",
        )
    fit = None
    if not no_posterior:
        fit = _fitted(
            evidence, no_shipped, prior, seed, no_cache, fit_draws, fit_tune, chains, quiet, strict
        ).fit
    row = next(r for r in api.enhancement_rows(catalogue, fit) if r["id"] == enhancement_id)
    if json:
        c.emit_json(row)
        return
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
        label = o["benchmark"] + (f" [{'+'.join(o['members'])}]" if "members" in o else "")
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
    for r in results:
        c.out.print(
            f"[green]valid[/]: {r['file']}: {r['enhancements']} enhancements, "
            f"{r['observations']} observations, {r['combinations']} combinations"
        )
