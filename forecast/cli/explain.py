"""``forecast explain [SCENARIO]`` and ``forecast profiles list | show NAME``."""

from __future__ import annotations

from typing import Annotated

import typer

from forecast.cli import common as c
from forecast.cli.run import (
    ActorOpt,
    ConfidenceOpt,
    HorizonOpt,
    ScenarioArg,
    print_explanation,
    word_table,
)

profiles_app = typer.Typer(
    help="Assumption profiles: documented sets of prior overrides (docs/profiles.md).",
    no_args_is_help=True,
)


@c.with_fit_options
def explain(
    scenario: ScenarioArg = None,
    horizon: HorizonOpt = None,
    confidence: ConfidenceOpt = None,
    actor: ActorOpt = None,
    seed: c.SeedOpt = 0,
    no_profiles: Annotated[
        bool, typer.Option("--no-profiles", help="Skip the buffer under each profile.")
    ] = False,
    json: c.JsonOpt = False,
    **fit,
):
    """Why the buffer is what it is: what sets it (evidence, attention, chance), the draws that
    set it, the prior-only buffer, the full sensitivity ranking and the buffer under each
    profile."""
    from forecast import api
    from forecast.explain.explanation import explain as explain_result
    from forecast.explain.profiles import profile_table
    from forecast.report.results import check_finite

    result = c.forecast_with_options(
        scenario, seed=seed, fit=fit, horizon_months=horizon, confidence=confidence, actor=actor
    )
    sensitivity = api.prior_sensitivity(result)
    doc = explain_result(result, sensitivity=sensitivity)
    doc["sensitivity"] = sensitivity["priors"]
    if not no_profiles:
        doc["profiles"] = profile_table(result, log=c.FitReporter(fit["quiet"]).log)
    doc = {"scenario": result.scenario.name, "horizon_months": result.horizon_months} | doc
    check_finite(doc)
    if json:
        c.emit_json(doc)
        return
    c.out.print(
        f"[bold]{c.shown(result.scenario.title)}[/]: buffer {doc['buffer_oom']:.2f} OOM at "
        f"{result.confidence:.0%} over {result.horizon_months} months (profile "
        f"{result.inputs.profile or 'central'})"
    )
    print_explanation(doc, full=True)
    rows = [
        [
            r["prior"],
            r["drives"],
            r["distribution"],
            f"{r['buffer_min_oom']:.2f} to {r['buffer_max_oom']:.2f}",
            f"{r['swing_oom']:.2f}",
        ]
        for r in doc["sensitivity"][:8]
    ]
    c.out.print(
        word_table(
            "Assumptions ranked by how far they move the buffer (OOM; forecast sensitivity "
            "for all)",
            ["prior", "drives", "default", "buffer range", "swing"],
            rows,
        )
    )
    if "profiles" in doc:
        print_profiles(doc["profiles"])


def print_profiles(rows: list[dict]) -> None:
    from forecast.core.units import fmt_both

    c.out.print(
        word_table(
            "The buffer under each assumption profile (docs/profiles.md)",
            ["profile", "buffer", "median uplift", "fit"],
            [
                [
                    c.shown(r["title"]),
                    fmt_both(r["buffer_oom"]),
                    f"{r['median_oom']:.2f} OOM",
                    r["fit"]
                    + (
                        f" (Pareto k {r['reweighting']['pareto_k']:.2f})"
                        if r.get("reweighting")
                        else ""
                    ),
                ]
                for r in rows
            ],
            caption="Same scenario, seed and draws; only the assumptions differ. A range an "
            "analyst can defend: cautious and optimistic bracket the central buffer.",
        )
    )


@profiles_app.command("list")
def profiles_list(json: c.JsonOpt = False):
    """The shipped assumption profiles."""
    from forecast.inputs.profiles import load_profile, shipped_profiles

    rows = []
    for name in shipped_profiles():
        spec = load_profile(name).spec
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "description": spec.description,
                "priors": {k: o.distribution for k, o in spec.priors.items()},
                "extrapolation": spec.extrapolation.model_dump(mode="json", exclude={"why"}),
            }
        )
    if json:
        c.emit_json(rows)
        return
    c.out.print(
        word_table(
            "Assumption profiles (use: --profile NAME)",
            ["name", "title", "changes"],
            [
                [
                    r["name"],
                    c.shown(r["title"]),
                    "; ".join(
                        [f"{k} = {v}" for k, v in r["priors"].items()]
                        + [f"{k} {v}" for k, v in r["extrapolation"].items() if v]
                    )
                    or "none (the defaults)",
                ]
                for r in rows
            ],
        )
    )


@profiles_app.command("show")
def profiles_show(
    name: Annotated[str, typer.Argument(help="A profile name or file.")], json: c.JsonOpt = False
):
    """One profile: every change and the reason for it."""
    from forecast.inputs.profiles import load_profile

    profile = load_profile(name)
    spec = profile.spec
    if json:
        c.emit_json(spec.model_dump(mode="json") | {"file": str(profile.path)})
        return
    c.out.print(f"[bold]{c.shown(spec.title)}[/] ({spec.name}, {c.shown(str(profile.path))})")
    c.out.print(c.shown(spec.description))
    for key, override in spec.priors.items():
        c.out.print(
            f"- {key} = {c.shown(override.distribution)}: {c.shown(override.why)}", soft_wrap=True
        )
    modes = spec.extrapolation
    if modes.trend:
        c.out.print(
            f"- rate trend past the histories: {modes.trend}: {c.shown(modes.why)}",
            soft_wrap=True,
        )
