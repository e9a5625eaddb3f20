"""``forecast ceg estimate DATA.csv``: CEG from benchmark results (seed 001, Appendix A)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from forecast.cli import common as c

app = typer.Typer(
    help="Compute-equivalent gain (CEG) from benchmark results of enhanced and "
    "non-enhanced models.",
    no_args_is_help=True,
)

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@app.callback()
def _group():
    """Compute-equivalent gain (CEG) from benchmark results (seed 001, Appendix A)."""


@app.command("estimate")
def estimate(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA.csv",
            help="Columns model, compute_flop, enhanced (true/false), score; optional "
            "benchmark and higher_is_better (false for perplexity or loss).",
            show_default=False,
        ),
    ],
    emit_record: Annotated[
        str | None,
        typer.Option(
            "--emit-record",
            metavar="ENHANCEMENT_ID",
            help="Print catalogue observations (YAML) for this enhancement id instead "
            "of the table.",
            show_default=False,
        ),
    ] = None,
    domain: Annotated[
        str,
        typer.Option("--domain", help="The domain written into --emit-record entries."),
    ] = "unspecified",
    level: Annotated[
        float,
        typer.Option("--level", min=0.5, max=0.999, help="Mass of the log-linear interval."),
    ] = 0.90,
    json: c.JsonOpt = False,
):
    """Lower bound and point estimate of the CEG of every enhanced model.

    Lower bound: C(ML)/C(ME), ML the largest non-enhanced model that ME outperforms.

    Point: f^-1(P(ME))/C(ME), f the line of score on log10 compute over the baseline.

    Three or more baseline scales give an interval; two give a weak estimate.
    """
    from forecast.core.errors import InputError
    from forecast.evidence.ceg_estimate import estimate as run_estimate
    from forecast.evidence.ceg_results import read_results_csv

    if json and emit_record is not None:
        raise InputError("give either --json or --emit-record, not both", path="--emit-record")
    if emit_record is not None and not _IDENTIFIER.match(emit_record):
        raise InputError(
            "expected an enhancement id: lower-case letters, digits and '_', starting "
            f"with a letter, got {emit_record!r}",
            path="--emit-record",
        )
    if not domain.strip():
        raise InputError("expected a domain name, e.g. math, got an empty value", path="--domain")

    from forecast.report.results import check_finite

    estimates = run_estimate(read_results_csv(data), level=level)
    check_finite([e.to_dict() for e in estimates], str(data))
    if json:
        c.emit_json([e.to_dict() for e in estimates])
    elif emit_record is not None:
        _emit_records(estimates, emit_record, domain.strip(), data)
    else:
        _print_table(estimates, data, level)


def _emit_records(estimates, enhancement_id: str, domain: str, data: Path) -> None:
    import json
    import sys

    import yaml

    from forecast.core.errors import InputError
    from forecast.evidence.ceg_record import to_catalogue_record

    usable = [e for e in estimates if e.point is not None or e.lower_bound is not None]
    for e in estimates:  # (not "e not in usable": comparing estimates is quadratic)
        if e.point is None and e.lower_bound is None:
            c.err.print(
                f"[yellow]note:[/] no record for {c.shown(repr(e.model))} on "
                f"{c.shown(repr(e.benchmark))}: it has "
                "neither a lower bound nor a point estimate"
            )
    if not usable:
        raise InputError(
            "no enhanced model has a lower bound or a point estimate: nothing to emit",
            str(data),
        )
    records = [
        to_catalogue_record(e, enhancement_id, domain=domain, source=data.name) for e in usable
    ]
    # The file name goes into a comment quoted and ASCII-escaped (json.dumps): a line
    # break of any kind in it (\n, NEL, U+2028) cannot end the comment and add YAML.
    # Every value in the records is written by yaml.safe_dump, which quotes as needed.
    header = (
        f"# Observations for enhancement '{enhancement_id}' from {json.dumps(data.name)} "
        "(forecast ceg estimate).\n"
        "# Paste under that enhancement's 'observations:' in a catalogue file; check "
        "'domain' and point 'where' at the table or figure of the source paper.\n"
    )
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: same text, 7x faster
    body = yaml.dump(
        records,
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=encoding.startswith("utf"),
        width=100,
    )
    sys.stdout.write(header + body)
    sys.stdout.flush()


def _print_table(estimates, data: Path, level: float) -> None:
    from rich.table import Table

    from forecast.core.units import fmt_multiplier

    escape = c.shown
    table = Table(
        title=f"Compute-equivalent gain from {escape(data.name)} (seed 001, Appendix A)",
        caption="lower bound: C(ML)/C(ME), ML the largest non-enhanced model the enhanced "
        "one outperforms. point: f^-1(P(ME))/C(ME), f a line of score on log10 compute "
        f"over the non-enhanced models; [{level:.0%} interval in OOM] from three or more "
        "scales.",
        caption_justify="left",
    )
    for col in ("benchmark", "model", "lower bound", "point estimate", "method", "notes"):
        table.add_column(col, overflow="fold")
    for e in estimates:
        if e.lower_bound is not None:
            lower = (
                f">{fmt_multiplier(e.lower_bound_oom)} ({e.lower_bound_oom:.2f} OOM)\n"
                f"vs {escape(e.lower_bound_model)}"
            )
        else:
            lower = "-"
        if e.point is not None:
            point = f"~{fmt_multiplier(e.point_oom)} ({e.point_oom:.2f} OOM)"
            if e.interval_oom is not None:
                lo, hi = e.interval_oom
                point += f"\n[{lo:.2f}, {hi:.2f}] OOM\n({fmt_multiplier(lo)}-{fmt_multiplier(hi)})"
        else:
            point = "-"
        notes = (["weak: two baseline scales, no interval"] if e.weak else []) + list(e.warnings)
        table.add_row(
            escape(e.benchmark),
            f"{escape(e.model)}\n({e.compute_flop:.2g} FLOP)",
            lower,
            point,
            e.method,
            "\n".join(f"- {escape(n)}" for n in notes) or "-",
            end_section=True,
        )
    c.out.print(table)
