"""``forecast scenarios list | show NAME | validate FILE...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forecast.cli import common as c

app = typer.Typer(help="The shipped scenarios; validate your own.", no_args_is_help=True)


@app.command("list")
def list_(json: c.JsonOpt = False):
    """The shipped scenarios (the first column is what `forecast run NAME` takes)."""
    from forecast.inputs.scenarios import DEFAULT_SCENARIO, load_scenario, shipped_scenarios

    rows = []
    for name, path in shipped_scenarios().items():
        s = load_scenario(path).scenario
        rows.append(
            {
                "name": name,
                "title": s.title,
                "actor": s.actor,
                "base_model": s.base_model.name,
                "training_compute_flop": s.base_model.training_compute_flop,
                "reference_date": s.base_model.reference_date.isoformat(),
                "horizon_months": s.horizon_months,
                "evals": [e.name for e in s.evals],
                "default": name == DEFAULT_SCENARIO,
                "file": str(path),
            }
        )
    if json:
        c.emit_json(rows)
        return
    rows = c.shown(rows)
    table = Table(title="Shipped scenarios (* = default)")
    for col in ("name", "title", "actor", "base model", "as of", "horizon", "evals"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["name"] + (" *" if r["default"] else ""),
            r["title"],
            r["actor"],
            f"{r['base_model']} ({r['training_compute_flop']:.0e} FLOP)",
            r["reference_date"],
            f"{r['horizon_months']} mo",
            ", ".join(r["evals"]) or "-",
        )
    c.out.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A shipped scenario name or a file.")],
    json: c.JsonOpt = False,
):
    """Print a scenario file."""
    from forecast.inputs.scenarios import load_scenario

    loaded = load_scenario(name)
    if json:
        c.emit_json(loaded.scenario.model_dump(mode="json"))
        return
    from forecast.core.escape import printable
    from forecast.core.reading import MAX_YAML_BYTES, read_text

    text = read_text(loaded.path, "scenario file", MAX_YAML_BYTES)
    if not c.out.is_terminal:  # redirected: the file as it is, to start a scenario from
        sys.stdout.write(f"# {printable(loaded.path)}\n{text}")
        return
    from rich.syntax import Syntax  # pygments costs ~20 ms: only for this command

    c.out.print(f"[dim]# {c.shown(str(loaded.path))}[/]")
    c.out.print(Syntax(printable(text, keep_newlines=True), "yaml", word_wrap=True))


@app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario files.")],
    measurements: c.MeasurementsOpt = None,
    json: c.JsonOpt = False,
):
    """Check scenario files (schema, enhancement names, task files, compare_with
    measurements) without running them."""
    from forecast.evidence.catalogue import load_catalogue
    from forecast.inputs.scenarios import check_against, load_scenario

    catalogue = load_catalogue()
    results = []
    for path in files:
        loaded = load_scenario(c.require_file(path, "scenario file"))
        check_against(loaded, catalogue, measurements)
        results.append({"file": str(path), "valid": True, "name": loaded.scenario.name})
    if json:
        c.emit_json(results)
        return
    for r in c.shown(results):
        c.out.print(f"[green]valid[/]: {r['file']} ({r['name']})")
