"""``forecast check sbc`` and ``forecast check figures``: is the model calibrated?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forecast.cli import common as c

app = typer.Typer(
    help="Calibration checks: simulation-based calibration, leave-one-out PIT of the figures.",
    no_args_is_help=True,
)

OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        parser=c.out_folder,
        help="Write the check's files (JSON, CSV, PNG) into this folder.",
    ),
]


#: The files of ``check sbc --out`` (forecast.report.calibration.export_files).
SBC_FILES = ("sbc.json", "ranks.csv", "sbc_ecdf.png", "sbc_ranks.png")


def _fit_progress(quiet: bool, total: int):
    """A Rich progress bar over fits on stderr (None under --quiet) and its update function."""
    if quiet:
        return None, lambda done, n, record: None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[dim]SBC fits[/dim]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("[dim]left[/dim]"),
        TimeRemainingColumn(),
        console=c.err,
        transient=True,
    )
    task = progress.add_task("sbc", total=total)

    def update(done: int, n: int, record: dict) -> None:
        if done == 1:
            progress.start()
        progress.update(task, completed=done)

    return progress, update


@app.command("sbc")
def sbc(
    scenario: Annotated[
        str | None,
        typer.Argument(help="Scenario whose U at its horizon is ranked (default: the default)."),
    ] = None,
    fits: Annotated[
        int,
        typer.Option(
            "--fits", min=1, max=c.MAX_SBC_FITS, help="Number of simulated data sets to fit."
        ),
    ] = 20,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="uplift (the model the buffer comes from, on the histories' design) or "
            "catalogue (the CEG model, on the catalogue's design).",
        ),
    ] = "uplift",
    seed: Annotated[int, typer.Option("--seed", min=0, max=c.MAX_SEED, help="Seed.")] = 0,
    draws: Annotated[
        int | None,
        typer.Option(
            "--draws",
            min=1,
            max=c.MAX_SBC_FIT_DRAWS,
            help="Draws per chain (default: 2500 uplift, the production setting; 250 catalogue).",
            show_default=False,
        ),
    ] = None,
    tune: Annotated[
        int | None,
        typer.Option(
            "--tune",
            min=0,
            max=c.MAX_FIT_TUNE,
            help="Tuning steps per chain (default 1500 uplift, 300 catalogue).",
            show_default=False,
        ),
    ] = None,
    chains: Annotated[int, typer.Option("--chains", min=1, max=c.MAX_CHAINS)] = 4,
    thin: Annotated[
        int | None,
        typer.Option(
            "--thin",
            min=1,
            max=c.MAX_SBC_FIT_DRAWS,
            help="Keep every n-th draw (default 100 uplift, 10 catalogue: L = 100).",
            show_default=False,
        ),
    ] = None,
    moment_matched: Annotated[
        bool,
        typer.Option(
            "--moment-matched",
            help="Simulate the uplift given an event from the likelihood's moment-matched "
            "LogNormal, not as the sum of the jumps: tests the inference alone.",
        ),
    ] = False,
    out: OutOpt = None,
    json: c.JsonOpt = False,
    quiet: c.QuietOpt = False,
):
    """Simulation-based calibration: rank prior-drawn truths among refitted posteriors."""
    import dataclasses

    from forecast import api
    from forecast.checks.sbc import SbcSettings
    from forecast.checks.sbc_catalogue import CATALOGUE_SETTINGS
    from forecast.core.errors import InputError
    from forecast.core.writing import check_output_folder, os_error, write_files
    from forecast.report.calibration import export_files

    if model not in ("uplift", "catalogue"):
        raise InputError(f"unknown model {model!r} (expected uplift or catalogue)", "--model")
    if model == "catalogue" and (scenario is not None or moment_matched):
        raise InputError("a scenario and --moment-matched are for --model uplift", "--model")
    base = SbcSettings() if model == "uplift" else CATALOGUE_SETTINGS
    draws, tune, thin = draws or base.draws, base.tune if tune is None else tune, thin or base.thin
    if chains * draws > c.MAX_SBC_FIT_DRAWS:
        raise InputError(
            f"--chains {chains} x --draws {draws} = {chains * draws:,} draws per fit, above "
            f"the limit of {c.MAX_SBC_FIT_DRAWS:,}",
            "--draws",
        )
    if draws % thin:
        raise InputError(f"--draws ({draws}) must be a multiple of --thin ({thin})", "--thin")
    if out is not None:
        check_output_folder(out, "--out", SBC_FILES)
    settings = dataclasses.replace(base, draws=draws, tune=tune, chains=chains, thin=thin)
    inputs = api.resolve(scenario)
    design = "the shipped histories'" if model == "uplift" else "the shipped catalogue's"
    c.note(
        f"SBC of the {model} model: {fits} fits of {chains} x {draws} draws (every {thin}th "
        f"kept: L = {settings.kept}) on {design} design; compiling the model first",
        quiet,
    )
    progress, update = _fit_progress(quiet, fits)
    try:
        result = _run_sbc(inputs, model, fits, seed, settings, not moment_matched, update)
    finally:
        if progress is not None:
            progress.stop()
    c.note(
        f"SBC done in {result.seconds:.0f} s (compiling {result.compile_seconds:.0f} s); "
        f"{len(result.failed_fits())} of {fits} fits failed their diagnostics",
        quiet,
    )
    doc = result.to_dict()
    if out is not None:
        try:
            write_files(out, export_files(result))
        except OSError as exc:
            raise os_error(exc, out, "--out") from None
        c.note(f"wrote sbc.json, ranks.csv, sbc_ecdf.png and sbc_ranks.png to {out}", quiet)
    if json:
        c.emit_json(doc)
        return
    _print_sbc(doc)


def _run_sbc(inputs, model: str, fits: int, seed: int, settings, exact: bool, update):
    """The SBC run of ``model`` on the resolved inputs' design, under the shipped priors (the
    default of ``catalogue_gain`` is the summary of the shipped catalogue's fit)."""
    if model == "catalogue":
        from forecast.checks.sbc_catalogue import run_catalogue_sbc

        return run_catalogue_sbc(
            inputs.table, inputs.priors, fits, seed=seed, settings=settings, on_fit=update
        )
    from forecast.checks.sbc import run_sbc
    from forecast.evidence.measurements import load_measurements
    from forecast.simulate.setup import setup_forecast

    n_tasks = {s.id: s.n_tasks for s in load_measurements().suites}
    setup = setup_forecast(inputs.scenario, inputs.histories)
    return run_sbc(
        inputs.histories, inputs.priors, setup, n_tasks, fits, seed=seed, settings=settings,
        scenario=inputs.scenario.name, exact=exact, on_fit=update,
    )  # fmt: skip


def _print_sbc(doc: dict) -> None:
    from forecast.cli.run import word_table

    doc = c.shown(doc)
    contraction = {r["quantity"]: r for r in doc["contraction"]}

    def cell(x, digits=2):
        return "-" if x is None else f"{x:.{digits}f}"

    rows = []
    for q in doc["quantities"]:
        colour = "green" if q["inside_band"] else ("red" if q["holm_rejected"] else "yellow")
        k = contraction[q["quantity"]]
        rows.append([
            q["quantity"] + (" *" if k["buffer"] else ""),
            f"{q['mean_rank_fraction']:.2f}",
            f"{q['outer_fifths_share']:.2f}",
            f"{q['p_value']:.3f}",
            cell(k["median"]),
            f"[{colour}]{q['verdict']}[/]",
        ])  # fmt: skip
    c.out.print(
        word_table(
            f"Simulation-based calibration of the {doc['model']} model: {doc['n_fits']} fits, "
            f"ranks 0..{doc['n_ranks']}",
            ["quantity", "mean rank", "outer fifths", "p", "contraction", "verdict"],
            rows,
            caption="* the buffer depends on it. mean rank: 0.5 if unbiased; outer fifths: "
            "share of ranks below 0.2 or above 0.8 (0.4 if uniform; more: posterior too "
            "narrow, less: too wide); p: simultaneous ECDF band test; Holm: rejected at 5% "
            "family-wise; contraction: median over the fits of 1 - posterior variance / prior "
            "variance (log scale for positive parameters).",
        )
    )
    failed = [f for f in doc["fits"] if f["problems"]]
    c.out.print(
        f"{len(failed)} of {doc['n_fits']} fits failed their diagnostics" + (":" if failed else ".")
    )
    for f in failed[:20]:
        c.out.print(f"  fit {f['fit']} (seed {f['seed']}): {'; '.join(f['problems'])}")
    if len(failed) > 20:
        c.out.print(f"  ... and {len(failed) - 20} more (see --json)")
    if not failed:
        passing = ""
    elif len(failed) == len(doc["fits"]):
        passing = "; no fit passed its diagnostics"
    else:
        passing = "; over the passing fits only: " + (
            "all uniform" if doc["all_uniform_passing_fits"] else "some miscalibrated"
        )
    c.out.print(
        "verdict: "
        + ("every quantity's ranks are consistent with uniform" if doc["all_uniform"] else
           "some quantities are miscalibrated (Holm-corrected, 5% family-wise)")
        + passing
    )  # fmt: skip


@app.command("figures")
@c.with_fit_options
def figures(
    seed: c.SeedOpt = 0,
    out: OutOpt = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every figure, not only those unexplained.")
    ] = False,
    json: c.JsonOpt = False,
    **fit,
):
    """Leave-one-out PIT of every figure: which figures the model cannot explain."""
    from forecast.checks import ppc
    from forecast.core.writing import check_output_folder, os_error, write_files
    from forecast.inputs.priors import fixed_value
    from forecast.report.results import check_finite

    if out is not None:
        check_output_folder(out, "--out", ("loo_pit.json", "loo_pit.png"))
    # The evidence and the priors only: no scenario is read (its absorbed enhancements
    # need not be in a user's own catalogue).
    fitted = c.evidence_fit(fit)
    dof = fixed_value(fitted.priors, "noise_dof")
    doc = ppc.loo_pit(fitted.table, fitted.fit.draws, dof, seed=seed)
    doc["fit_key"] = fitted.fit.key
    doc["diagnostics"] = fitted.fit.diagnostics.to_dict()
    check_finite(doc)
    if out is not None:
        import io

        from forecast.report.calibration_plots import pit_plot
        from forecast.report.results import json_text

        png = io.BytesIO()
        pit_plot(doc, png, "Leave-one-out PIT of the catalogue's figures")
        try:
            write_files(
                out, {"loo_pit.json": json_text(doc).encode(), "loo_pit.png": png.getvalue()}
            )
        except OSError as exc:
            raise os_error(exc, out, "--out") from None
        c.note(f"wrote loo_pit.json and loo_pit.png to {out}", fit["quiet"])
    if json:
        c.emit_json(doc)
        return
    _print_figures(c.shown(doc), show_all)


def _print_figures(doc: dict, show_all: bool) -> None:
    from forecast.core.units import fmt_both

    s = doc["summary"]
    rows = [f for f in doc["figures"] if show_all or f["unexplained"]]
    if rows:
        table = Table(
            title="Catalogue figures the model cannot explain (leave-one-out)"
            if not show_all
            else "Leave-one-out PIT of every figure",
            caption="OOM = log10 of the CEG multiplier. PIT: where the figure falls in the "
            "model's prediction made without it (0.5 = the median; censored figures: a "
            "random point within what they say). k: Pareto k (> 0.7: the fit leans on it).",
            caption_justify="left",
        )
        for col in ("figure", "kind", "observed CEG", "LOO 90% interval OOM", "PIT", "k", "why"):
            table.add_column(col, overflow="fold")
        for f in rows:
            observed = fmt_both(f["observed_oom"])
            if f["kind"] == "lower":
                observed = "> " + observed
            elif f["kind"] == "upper":
                observed = "< " + observed
            elif f["kind"] == "interval":
                observed += f" to {fmt_both(f['observed_upper_oom'])}"
            table.add_row(
                f["label"],
                f["kind"],
                observed,
                f"{f['loo_q05']:.2f} to {f['loo_q95']:.2f}",
                f"{f['pit']:.3f}",
                f"{f['pareto_k']:.2f}",
                "; ".join(f["reasons"]) or "-",
            )
        c.out.print(table)
    else:
        c.out.print("every figure falls inside the model's leave-one-out 90% range (k <= 0.7)")
    c.out.print(
        f"{s['n_figures']} figures ({s['n_points']} points, {s['n_censored']} censored); "
        f"{s['n_unexplained']} unexplained, {s['n_high_pareto_k']} with Pareto k > 0.7; "
        f"mean PIT {s['mean_pit']:.2f} (0.5 if calibrated), {s['share_below_half']:.0%} below "
        f"0.5; PIT values {'inside' if s['pit_inside_band'] else 'OUTSIDE'} the simultaneous "
        f"95% uniformity band (p = {s['pit_band_p_value']:.3f})"
    )
    if s["points_mean_pit"] is not None:
        c.out.print(
            f"points alone ({s['n_points']}, PIT not randomised): mean PIT "
            f"{s['points_mean_pit']:.2f}, {s['points_below_0_4']} below 0.4; "
            f"{'inside' if s['points_inside_band'] else 'OUTSIDE'} the 95% band "
            f"(p = {s['points_band_p_value']:.3f})"
        )
    if doc["left_out"]:
        c.out.print(
            f"left out: {len(doc['left_out'])} 'no gain' figures (CEG = 1), which inform only "
            "the relevance hurdle, not the continuous likelihood"
        )
