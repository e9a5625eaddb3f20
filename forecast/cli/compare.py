"""``forecast compare S1 S2 ...`` and ``forecast export [SCENARIO] --out DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecast.cli import common as c
from forecast.cli.run import (
    ActorOpt,
    AsOfOpt,
    ConfidenceOpt,
    DrawsOpt,
    HorizonOpt,
    PoliciesOpt,
    PolicyFileOpt,
    ScenarioArg,
    forecast_result,
    word_table,
)
from forecast.core.units import fmt_both


@c.with_fit_options
def compare(
    scenarios: Annotated[list[str], typer.Argument(help="Two or more scenario names or files.")],
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    draws: DrawsOpt = None,
    as_of: AsOfOpt = None,
    policy: PolicyFileOpt = None,
    policies: PoliciesOpt = None,
    json: c.JsonOpt = False,
    **fit,
):
    """Scenarios side by side: buffer, P(cross) per eval, re-evaluation intervals, policies."""
    from forecast.core.errors import InputError
    from forecast.report.document import result_document

    if len(scenarios) < 2:
        raise InputError("compare needs two or more scenarios", "SCENARIO")
    options = dict(
        horizon=horizon,
        confidence=confidence,
        actor=actor,
        seed=seed,
        draws=draws,
        as_of=as_of,
        policy=policy,
        policies=policies,
    )
    from forecast.explain.profiles import profile_buffers
    from forecast.report.results import check_finite

    results = [forecast_result(s, **options, **fit) for s in scenarios]
    docs = [result_document(r) for r in results]
    for d in docs:
        check_finite(d, d["scenario"])
    for d, r in zip(docs, results, strict=True):
        known = [p["buffer_oom"] for p in profile_buffers(r) if p["buffer_oom"] is not None]
        d["buffer"]["profile_range_oom"] = [
            min([r.buffer_oom, *known]),
            max([r.buffer_oom, *known]),
        ]
    summary = [
        {
            "scenario": d["scenario"],
            "title": d["title"],
            "actor": d["actor"],
            "horizon_months": d["horizon_months"],
            "confidence": d["confidence"],
            "buffer": d["buffer"],
            "median_uplift_oom": d["uplift"][-1]["q50"],
            "evals": {
                e["name"]: {
                    "p_cross": e["p_cross"],
                    "p_cross_point_estimate": e["p_cross_point_estimate"],
                    "status": e["status"]["state"],
                    "triggered_now": e["trigger"]["triggered_now"],
                }
                for e in d["evals"]
            },
            "reevaluation_months": d["reevaluation_months"],
            "reevaluation": d["reevaluation"],
            "policies": {p["name"]: _policy_summary(p) for p in d["policies"]},
            "diagnostics_ok": d["diagnostics"]["ok"],
        }
        for d in docs
    ]
    if json:
        c.emit_json({"scenarios": summary})
        return
    summary = c.shown(summary)
    rows = [
        ["actor", *(s["actor"] for s in summary)],
        [
            "horizon, confidence",
            *(f"{s['horizon_months']} mo, {s['confidence']:.0%}" for s in summary),
        ],
        ["buffer", *(fmt_both(s["buffer"]["oom"]) for s in summary)],
        [
            "range over profiles",
            *("{:.2f} to {:.2f} OOM".format(*s["buffer"]["profile_range_oom"]) for s in summary),
        ],
        ["median uplift", *(fmt_both(s["median_uplift_oom"]) for s in summary)],
    ]
    for name in dict.fromkeys(k for s in summary for k in s["evals"]):
        rows.append(
            [
                f"P(cross) {name}",
                *(
                    f"{s['evals'][name]['p_cross']:.1%}; {s['evals'][name]['status']}"
                    if name in s["evals"]
                    else "-"
                    for s in summary
                ),
            ]
        )
    for key in summary[0]["reevaluation"]:
        rows.append([f"{key} buffer lasts", *(_lasts(s["reevaluation"][key]) for s in summary)])
    for name in dict.fromkeys(k for s in summary for k in s["policies"]):
        rows.append([name, *(_policy_cell(s["policies"].get(name)) for s in summary)])
    c.out.print(word_table("Scenarios side by side", ["", *(s["scenario"] for s in summary)], rows))


def _lasts(v: dict) -> str:
    """A re-evaluation interval as ``run`` says it: ``>= 12.0 mo`` beyond the grid, and
    ``exceeded at month 0`` rather than ``0.0 mo``."""
    if v["beyond_horizon"]:
        return f">= {v['months']:.1f} mo"
    if v["months"] == 0:
        return "exceeded at month 0"
    return f"{v['months']:.1f} mo"


def _policy_summary(p: dict) -> dict:
    """A policy row's verdict for ``compare --json``: the verdict fields, and the longest
    period and largest implied buffer under the rule's exceptions (None without any)."""
    out = {
        k: p.get(k)
        for k in (
            "verdict",
            "verified",
            "covers",
            "margin_oom",
            "implied_buffer_oom",
            "period_months",
            "period_basis",
        )
    }
    worst = max(p["under_exceptions"], key=lambda e: e["implied_buffer_oom"], default=None)
    out["under_exceptions_oom"] = worst["implied_buffer_oom"] if worst else None
    out["under_exceptions_months"] = worst["period_months"] if worst else None
    return out


def _policy_cell(p: dict | None) -> str:
    """A policy's verdict in a few words for the side-by-side table, with its period (the
    horizon for a rule with no numeric cadence) and the most its exceptions can need."""
    if p is None:
        return "-"
    if p["period_basis"].startswith("horizon"):
        over = f"over the {p['period_months']:g}-mo horizon (no numeric cadence)"
    else:
        over = f"over {p['period_months']:g} mo"
    if p["covers"] is None:
        text = f"needs {fmt_both(p['implied_buffer_oom'])} {over}"
    else:
        mark = "[green]covers[/]" if p["covers"] else "[red]does not cover[/]"
        text = f"{mark} ({p['margin_oom']:+.2f} OOM) {over}"
    if p["under_exceptions_oom"] is not None:
        text += (
            f"; up to {fmt_both(p['under_exceptions_oom'])} over "
            f"{p['under_exceptions_months']:g} mo under its exceptions"
        )
    if not p["verified"]:
        text += " (text not verified)"
    return text


@c.holds_out_lock  # a second export to the folder fails at once, not after the work
@c.with_fit_options
def export(
    scenario: ScenarioArg = None,
    out: Annotated[
        Path,
        typer.Option("--out", parser=c.out_folder, help="Folder for the bundle (must be empty)."),
    ] = Path("forecast-bundle"),
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out folder.")] = (
        False
    ),
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    draws: DrawsOpt = None,
    as_of: AsOfOpt = None,
    policy: PolicyFileOpt = None,
    policies: PoliciesOpt = None,
    calibration: Annotated[
        list[Path] | None,
        typer.Option(
            "--calibration",
            help="A calibration or backtest document to summarise and include: the JSON of "
            "forecast check sbc, forecast check figures or forecast backtest (repeatable).",
            show_default=False,
        ),
    ] = None,
    quick_sensitivity: Annotated[
        bool,
        typer.Option(
            "--quick-sensitivity",
            help="Rank the priors by their shifts only (seconds) instead of the full ranking "
            "(tighten, widen and shift; minutes at full size).",
        ),
    ] = False,
    no_profiles: Annotated[
        bool,
        typer.Option("--no-profiles", help="Leave out the buffer under each assumption profile."),
    ] = False,
    json: c.JsonOpt = False,
    **fit,
):
    """Write a reviewer's bundle: report.md and a self-contained report.html, results.json,
    the explanation, sensitivity and profiles, the scenario as run and resolved, provenance
    with input hashes, figures and posterior.nc (docs/json-schema.md lists every file)."""
    from forecast.api import review
    from forecast.report.export import (
        check_bundle_folder,
        read_calibration,
        shipped_calibration,
        write_bundle,
    )

    check_bundle_folder(out, force)  # before the work: a bad --out wastes no fit
    documents = read_calibration(calibration)  # a bad document too
    if not calibration:
        documents = shipped_calibration()
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
    c.note("explaining the buffer: sensitivity ranking, profiles, prior check", fit["quiet"])
    docs = review(
        result,
        documents,
        quick_sensitivity=quick_sensitivity,
        profiles=not no_profiles,
        log=c.FitReporter(fit["quiet"]).log,
    )
    target = write_bundle(result, docs, out, force=force, calibration=documents)
    names = sorted(p.name for p in target.iterdir())
    if json:
        c.emit_json({"out": str(out.absolute()), "files": names})
        return
    c.out.print(f"[green]wrote[/] {c.shown(str(out), keep_newlines=False)}/: " + ", ".join(names))
