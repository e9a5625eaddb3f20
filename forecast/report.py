"""Turning a forecast into documents: the JSON schema, CSV rows and the text fan chart.

Stage 5 of the pipeline. Pure functions: they build strings and dicts, they never print
or write files (the CLI and the export bundle do that).
"""

from __future__ import annotations

import numpy as np

from forecast.units import multiplier

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_KEYS = ("q05", "q25", "q50", "q75", "q95")


def uplift_rows(result) -> list[dict]:
    """One row per time step: uplift quantiles in OOM and as multipliers."""
    uplift = result.reported
    q = uplift.quantiles(QUANTILES)
    upper = np.quantile(uplift.oom, result.confidence, axis=0)
    rows = []
    for t, month in enumerate(uplift.times_months):
        row = {"month": float(month)}
        row |= {k: float(q[i, t]) for i, k in enumerate(QUANTILE_KEYS)}
        row |= {f"{k}_multiplier": multiplier(q[i, t]) for i, k in enumerate(QUANTILE_KEYS)}
        row["upper_at_confidence"] = float(upper[t])
        row["mean_arrivals"] = float(uplift.arrivals[:, t].mean())
        rows.append(row)
    return rows


def result_document(result, explanation: dict | None = None) -> dict:
    """The JSON document of ``forecast run --json`` (schema in docs/json-schema.md).

    ``explanation`` (:func:`forecast.explain.explain`) is included when given.
    """
    lo, hi = result.buffer_interval()
    fit = result.fitted.fit
    doc = {
        "scenario": result.scenario.name,
        "title": result.scenario.title,
        "actor": result.actor,
        "profile": result.inputs.profile or "central",
        "base_model": result.scenario.base_model.model_dump(mode="json"),
        "already_elicited": result.scenario.already_elicited.model_dump(mode="json"),
        "absorbed": result.scenario.absorbed.model_dump(mode="json"),
        "extrapolation": result.scenario.extrapolation.model_dump(mode="json"),
        "horizon_months": result.horizon_months,
        "confidence": result.confidence,
        "units": {
            "uplift": "OOM (log10 of the compute-equivalent multiplier)",
            "multiplier": "10**OOM",
        },
        "uplift": uplift_rows(result),
        "buffer": {
            "oom": result.buffer_oom,
            "multiplier": multiplier(result.buffer_oom),
            "quantile": result.confidence,
            "month": result.horizon_months,
            "mc_interval_oom": [lo, hi],
            "draws": int(result.uplift.oom.shape[0]),
            "uncapped_oom": result.uncapped_buffer_oom,
        },
        "evals": result.evals,
        "policies": result.policies,
        "reevaluation_months": {k: v["months"] for k, v in result.reevaluation.items()},
        "reevaluation": result.reevaluation,
        "diagnostics": fit.diagnostics.to_dict(),
        "provenance": result.provenance,
    }
    if explanation is not None:
        doc["buffer"]["prior_only_oom"] = explanation["prior_only_buffer_oom"]
        doc["explanation"] = explanation
    return doc


def fan_chart(rows: list[dict], width: int = 36, scale_max: float | None = None) -> list[str]:
    """One text bar per time step: ``-`` q05-q95, ``=`` q25-q75, ``|`` the median."""
    top = scale_max or max((r["q95"] for r in rows), default=1.0) or 1.0
    out = []
    for r in rows:
        cells = [" "] * width

        def pos(x: float) -> int:
            return int(round(min(max(x / top, 0.0), 1.0) * (width - 1)))

        for i in range(pos(r["q05"]), pos(r["q95"]) + 1):
            cells[i] = "─"
        for i in range(pos(r["q25"]), pos(r["q75"]) + 1):
            cells[i] = "━"
        cells[pos(r["q50"])] = "┃"
        out.append("".join(cells))
    return out


CAVEATS = """\
- **CEG figures are rough.** Most published figures are bounds or log-linear extrapolations
  from two or three model sizes, often across model families or from undertrained families
  (seed 001, section 4). The model treats them as noisy and censored, not as exact.
- **Selection bias.** Authors choose benchmarks and baselines that flatter their method, and
  the analysis keeps the highest-CEG pairing; the `selection_bias` prior corrects for this,
  but the evidence cannot measure it, so its posterior is its prior.
- **A high CEG may mean compute does not help on that benchmark**, not that the enhancement
  is strong; CEGs of qualitatively new abilities (agents) are not meaningful.
- **Scale dependence is extrapolated.** Gains measured on 1e20-1e24 FLOP models are carried
  to this base model through the `scale_slope` prior and weak evidence.
- **Composability is mostly prior.** Few studies report gains alone and combined, so the
  discount factors and the ceiling are largely assumptions (tune them with `--prior`).
- **The eval mapping is a simplification.** A logit shift per OOM of effective compute is a
  first-order model of how an eval responds; per-eval slopes should be calibrated where
  possible.
"""


def _pct(x: float) -> str:
    return f"{x:.1%}"


def summary_lines(doc: dict) -> list[str]:
    """The report summary's bullets: each policy's verdict, each eval's P(cross) and status."""
    from forecast.evals import status_text
    from forecast.policies import verdict_text

    lines = []
    for p in doc["policies"]:
        if p["evaluated"]:
            lines.append(
                f"- {p['title']} ({p['status']}; this tool's reading: {p['reading']['summary']}): "
                f"{verdict_text(p)}."
            )
    for e in doc["evals"]:
        lines.append(
            f"- Eval `{e['name']}`: P(meets its dangerous threshold by month "
            f"{doc['horizon_months']}) = {_pct(e['p_cross'])}; **{status_text(e)}**."
        )
    return lines


def eval_section(doc: dict) -> list[str]:
    """The report's Evaluations section: state, threshold, P(cross), trigger and status."""
    from forecast.evals import STATE_MEANING, status_text

    if not doc["evals"]:
        return []
    lines = [
        "## Evaluations",
        "",
        "| eval | state now | dangerous threshold | P(cross) | at the point estimate | "
        "already met | trigger now | status |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for e in doc["evals"]:
        t = e["trigger"]
        if e["kind"] == "aggregate":
            now, thr, trig = _pct(e["current"]), _pct(e["threshold"]), f"score {_pct(t['score'])}"
        else:
            now = f"{_pct(e['current']['fraction_passing'])} of {e['n_tasks']} tasks pass"
            thr = (
                f"{_pct(e['tasks_fraction'])} of tasks; {e['definition_text']} "
                f"({e['pooling']} task rates)"
            )
            trig = (
                f"{_pct(t['tasks_fraction'])} of tasks at {_pct(t['task_pass_rate'])} "
                f"(1 in {t['one_in_n_tries']:.0f} tries)"
                if e["definition"] == "hidden_rate"
                else "-"
            )
        lines.append(
            f"| {e['name']} | {now} | {thr} | {_pct(e['p_cross'])} | "
            f"{_pct(e['p_cross_point_estimate'])} | {_pct(e['p_already_met'])} | {trig} | "
            f"{status_text(e)} |"
        )
    lines += [""]
    for state in dict.fromkeys(e["status"]["state"] for e in doc["evals"]):
        lines.append(f"- *{state}*: {STATE_MEANING[state]}.")
    return lines + ["", "![P(cross) over time](p_cross.png)", ""]


def policy_section(doc: dict) -> list[str]:
    """The report's policy comparison: reading, period and verdict of each rule, then the
    quoted text each reading rests on."""
    from forecast.policies import trigger_text, verdict_text

    lines = [
        "## Policy comparison",
        "",
        f"Each rule's numbers are this tool's reading of its text, not the publisher's. "
        f"*Needs*: the uplift that accumulates over the rule's period at "
        f"{doc['confidence']:.0%} confidence, i.e. the buffer the rule would need.",
        "",
        "| policy | version, status | this tool's reading | period | verdict | triggers |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    for p in doc["policies"]:
        period = f"{p['period_months']:g} mo" if p["evaluated"] else "-"
        lines.append(
            f"| {p['title']} | {p['version']}, {p['date']}, {p['status']}"
            f"{'' if p['verified'] else ', unverified'} | {p['reading']['summary']} | {period} | "
            f"{verdict_text(p)} | {trigger_text(p) if p['evaluated'] else '-'} |"
        )
    lines += ["", "### What each reading rests on", ""]
    for p in doc["policies"]:
        src = p["source"]
        lines += [
            f"**{p['title']}**: {src['document']}, {src['section']} (<{src['url']}>). "
            + ("Where the quotes were checked: " if p["verified"] else "**Unverified.** ")
            + f"{src['checked_in']}",
            "",
        ]
        for q in p["quotes"]:
            lines += [f"> {q['text']} ({q['where']})", ""]
        lines += ["", f"Reading: {p['reading']['notes']}", ""]
    return lines + [
        "Re-evaluation interval: the longest time a buffer still covers the uplift at "
        f"{doc['confidence']:.0%} confidence.",
        "",
    ]


def markdown_report(doc: dict) -> str:
    """A report an analyst can paste into a risk assessment."""
    from forecast.units import fmt_both

    b, base, prov, diag = doc["buffer"], doc["base_model"], doc["provenance"], doc["diagnostics"]
    elicited = doc["already_elicited"]
    lines = [
        f"# Post-training enhancement forecast: {doc['title']}",
        "",
        f"Scenario `{doc['scenario']}`, generated {prov['created']} by forecast {prov['version']}.",
        "",
        "## Summary",
        "",
        f"Over the next **{doc['horizon_months']} months**, post-training enhancements that "
        f"the evaluation did not apply could raise this model's effective compute by up to "
        f"**{fmt_both(b['oom'])}** at {doc['confidence']:.0%} confidence (Monte Carlo 90% "
        f"interval {b['mc_interval_oom'][0]:.2f} to {b['mc_interval_oom'][1]:.2f} OOM). "
        f"The median uplift is {fmt_both(doc['uplift'][-1]['q50'])}.",
        "",
    ]
    lines += summary_lines(doc)
    lines += [
        "",
        "## Inputs",
        "",
        "| input | value |",
        "| --- | --- |",
        f"| base model | {base['name']}, {base['training_compute_flop']:.2e} FLOP, as of "
        f"{base['reference_date']}, weights {base['weights']} |",
        f"| actor | `{doc['actor']}` |",
        "| already applied by the evaluation | "
        + (", ".join(elicited["categories"] + elicited["enhancements"]) or "nothing")
        + " |",
        f"| horizon, confidence | {doc['horizon_months']} months, {doc['confidence']:.0%} |",
        "| priors changed from the defaults | "
        + (", ".join(f"`{k}` = {v}" for k, v in prov["priors_overridden"].items()) or "none")
        + " |",
        f"| evidence | {prov['sources']} |",
        "",
        "## Method",
        "",
        "Published compute-equivalent gains (CEG) of post-training enhancements are fitted by a "
        "hierarchical Bayesian model (PyMC, NUTS): gains pooled within five categories, lower "
        "and upper bounds as censored observations, robust Student-t noise and a slope for "
        "base-model scale. Forward simulation then applies a selection-bias correction "
        "(a prior: the evidence cannot measure it) and adds, for each "
        "posterior draw, the enhancements this actor can apply that the evaluation did not, "
        "and new enhancements arriving as a Poisson process, combined with diminishing "
        "returns within and across categories and a soft ceiling. Uplift U(t) is in OOM of "
        "effective compute; evals move on the logit scale by `slope x U`. See docs/method.md.",
        "",
        "## Uplift over time",
        "",
        "| month | 5% | 25% | median | 75% | 95% | median / 95% as multipliers |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    from forecast.units import fmt_multiplier

    for r in doc["uplift"]:
        lines.append(
            f"| {r['month']:g} | {r['q05']:.2f} | {r['q25']:.2f} | {r['q50']:.2f} | "
            f"{r['q75']:.2f} | {r['q95']:.2f} | {fmt_multiplier(r['q50'])} / "
            f"{fmt_multiplier(r['q95'])} |"
        )
    lines += ["", "![Uplift fan chart](fan_chart.png)", ""]
    lines += eval_section(doc) + policy_section(doc)
    for k, v in doc["reevaluation"].items():
        lines.append(f"- {k}: {'at least ' if v['beyond_horizon'] else ''}{v['months']:.1f} months")
    lines += [
        "",
        "## Diagnostics",
        "",
        f"R-hat max {diag['r_hat_max']:.3f} (needs <= 1.01), bulk ESS min "
        f"{diag['ess_bulk_min']:.0f} (needs >= 400), tail ESS min "
        f"{diag['ess_tail_min']:.0f}, divergences {diag['divergences']} (needs 0); "
        f"{diag['chains']} chains x {diag['draws']} draws: "
        + (
            "**passed**."
            if diag["ok"]
            else "**FAILED: " + "; ".join(diag["problems"]) + ". Do not rely on these figures.**"
        ),
        "",
        "## Caveats (Davidson et al. 2023, section 4)",
        "",
        CAVEATS,
        "## Provenance",
        "",
        "| field | value |",
        "| --- | --- |",
    ]
    for k in (
        "version",
        "seed",
        "fit_seed",
        "inputs_sha256",
        "fit_key",
        "created",
        "fit_created",
        "scenario_file",
        "as_of",
    ):
        lines.append(f"| {k} | {prov.get(k)} |")
    return "\n".join(lines) + "\n"
