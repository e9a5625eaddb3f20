"""``forecast priors show``."""

from __future__ import annotations

import typer
from rich.table import Table

from forecast.cli import common as c

app = typer.Typer(
    help="Every prior: default, meaning, justification; prior checks.", no_args_is_help=True
)


def prior_rows(overrides: dict[str, str]) -> list[dict]:
    from forecast import api

    priors = api.load_priors()
    if overrides:
        priors = priors.with_overrides(overrides)
    rows = []
    for name, info in priors.items():
        lo, hi = info.prior.interval(0.9)
        rows.append(
            {
                "name": name,
                "distribution": str(info.prior),
                "default": str(info.default),
                "overridden": info.overridden,
                "mean": info.prior.mean(),
                "interval_90": [lo, hi],
                "units": info.units,
                "meaning": info.meaning,
                "justification": info.justification,
                "drives": info.drives,
            }
        )
    return rows


@app.command("show")
def show(
    prior: c.PriorOpt = None,
    json: c.JsonOpt = False,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show justifications."),
):
    """List every prior with its distribution, 90% interval, meaning and justification."""
    rows = prior_rows(c.parse_overrides(prior))
    if json:
        c.emit_json({"priors": rows})
        return
    rows = c.shown(rows)
    table = Table(title="Priors (drives: fit = changing it refits; forecast = no refit)")
    table.add_column("name", no_wrap=True)
    for col in ("distribution", "90% interval", "units", "drives", "meaning"):
        table.add_column(col, overflow="fold")
    if verbose:
        table.add_column("justification", overflow="fold")
    for r in rows:
        dist = r["distribution"] + (
            f" [yellow](default {r['default']})[/]" if r["overridden"] else ""
        )
        cells = [
            r["name"],
            dist,
            f"{r['interval_90'][0]:.3g} to {r['interval_90'][1]:.3g}",
            r["units"],
            r["drives"],
            r["meaning"],
        ]
        if verbose:
            cells.append(r["justification"])
        table.add_row(*cells)
    c.out.print(table)


@c.with_fit_options
def posterior(json: c.JsonOpt = False, **fit):
    """Every fitted prior beside its posterior, with how much the evidence narrows it
    (contraction 0: the prior sets it; 1: the evidence does): the catalogue model's and the
    uplift model's."""
    from forecast.cli.run import word_table
    from forecast.explain.summaries import prior_posterior

    fitted = c.evidence_fit(fit)
    histories, priors = c.histories_fit(fit, fitted)
    models = {
        "catalogue": (prior_posterior(fitted.fit, fitted.priors, "catalogue"), fitted.fit),
        "histories": (prior_posterior(histories, priors, "histories"), histories),
    }
    if json:
        c.emit_json(
            {
                "priors": [r for rows, _ in models.values() for r in rows],
                "diagnostics": {name: f.diagnostics.to_dict() for name, (_, f) in models.items()},
            }
        )
        return
    titles = {
        "catalogue": "The catalogue model (CEG figures)",
        "histories": "The uplift model (measured histories and eval-slope groups)",
    }
    for name, (rows, _) in models.items():
        c.out.print(
            word_table(
                f"{titles[name]}: prior against posterior (90% intervals)",
                ["prior", "prior", "prior 90%", "posterior mean", "posterior 90%", "contraction"],
                [
                    [
                        r["prior"],
                        r["distribution"],
                        f"{r['prior_interval_90'][0]:.2f} to {r['prior_interval_90'][1]:.2f}",
                        f"{r['posterior_mean']:.2f}",
                        f"{r['posterior_interval_90'][0]:.2f} to "
                        f"{r['posterior_interval_90'][1]:.2f}",
                        f"{r['contraction']:.2f}"
                        + (" (log scale)" if r["contraction_scale"] == "log" else "")
                        + (" (prior-driven)" if r["contraction"] < 0.3 else ""),
                    ]
                    for r in rows
                ],
                caption="contraction = 1 - posterior variance / prior variance (of the log for "
                "LogNormal priors; mean over categories for per-category priors): near 0 the "
                "evidence does not inform the parameter.",
            )
        )
