"""The Markdown report an analyst can paste into a risk assessment (``report.md``).

:func:`markdown_report` renders the ``run --json`` document (:mod:`forecast.report.document`)
and, when given, the reviewer's documents (:mod:`forecast.report.review_sections`): the
summary, why this buffer, profiles, sensitivity, inputs, method, uplift over time,
evaluations, the policy comparison, the prior predictive check, calibration, diagnostics,
caveats and provenance. Pure: it builds a string, it never prints or writes files.
"""

from __future__ import annotations

from forecast.core.escape import markdown, markdown_code, markdown_document
from forecast.report.review_sections import (
    calibration_section,
    explanation_section,
    prior_check_section,
    profiles_section,
    sensitivity_section,
)
from forecast.report.text import Figures, cell, md_table

CAVEATS = """\
- **The histories are published improvements.** They record what others chose to publish on
  models and benchmarks people work on, mostly by the method's own authors; a model nobody
  works on climbs less, a determined actor's unpublished work could climb more. The
  forecast is of the best published result, conditional on the attention a model gets.
- **Effective compute is inferred.** The histories measure scores; turning a score's rise
  into orders of magnitude of effective compute uses the eval slope, learned from open model
  families at several sizes on other suites. An evaluation's own slope is drawn from that
  population unless it sets one.
- **Attention is read as lasting.** The fit gives each stretch of a history its own
  attention factor; the forecast draws one for its whole horizon, which errs toward a wider
  range if attention in fact comes and goes.
- **Past the histories' dates** the rate of improvements stays at its last fitted value
  (the default trend mode, frozen); `--trend damped` or `linear` carry the calendar trend on.
- **CEG figures are rough** (Davidson et al. 2023, section 4): bounds or log-linear
  extrapolations from two or three model sizes. Here they set only the typical size of a
  new enhancement (`catalogue_gain`), which the histories then scale (`increment_share`).
- **Base-model compute does not enter the forecast**: the histories cannot show a dependence
  on it (their models' compute is mostly unpublished).
"""


def _pct(x: float) -> str:
    return f"{x:.1%}"


def summary_lines(doc: dict) -> list[str]:
    """The report summary's bullets: each policy's verdict (with what its exceptions need),
    each eval's P(cross) and status."""
    from forecast.buffer.evals import status_text
    from forecast.buffer.policies import exceptions_text, verdict_text

    doc = markdown_document(doc)
    lines = []
    for p in doc["policies"]:
        extra = exceptions_text(p)
        lines.append(
            f"- {p['title']} ({p['status']}; this tool's reading: "
            f"{p['reading']['summary']}): {verdict_text(p)}"
            + ("" if extra == "-" else f"; {extra}")
            + "."
        )
    for e in doc["evals"]:
        lines.append(
            f"- Eval {markdown_code(e['name'])}: P(meets its dangerous threshold by month "
            f"{doc['horizon_months']}) = {_pct(e['p_cross'])}; **{status_text(e)}**."
        )
    return lines


def eval_section(doc: dict, figures=None) -> list[str]:
    """The report's Evaluations section: state, threshold, P(cross), trigger and status."""
    from forecast.buffer.evals import STATE_MEANING, status_text

    doc = markdown_document(doc)
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
    figures = figures or Figures(None)
    return lines + [""] + figures.image("p_cross.png", "P(cross) over time")


def policy_section(doc: dict) -> list[str]:
    """The report's policy comparison: reading and verdict of each rule, what its exceptions
    and triggers do, then the quoted text each reading rests on (its exceptions and the
    events that call for an assessment off the calendar included). Every string from a
    policy file is escaped once, with the whole document
    (:func:`forecast.core.escape.markdown_document`)."""
    from forecast.buffer.policies import (
        event_triggers_text,
        exceptions_text,
        quote_where,
        trigger_text,
        verdict_text,
    )

    doc = markdown_document(doc)
    confidence = doc["confidence"]
    lines = [
        "## Policy comparison",
        "",
        f"Each rule's numbers are this tool's reading of its text, not the publisher's. "
        f"*Needs*: the uplift that accumulates over the rule's period at {confidence:.0%} "
        "confidence, i.e. the buffer the rule would need. A rule with no numeric cadence is "
        "judged over the scenario's horizon.",
        "",
        "| policy | version, status | this tool's reading | verdict | exceptions and triggers |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in doc["policies"]:
        also = [t for t in (exceptions_text(p), trigger_text(p, confidence)) if t != "-"]
        status = f"{p['version']}, {p['date']}, {p['status']}"
        status += "" if p["verified"] else ", text not verified"
        lines.append(
            f"| {p['title']} | {status} | {p['reading']['summary']} | "
            f"{verdict_text(p)} | {'; '.join(also) or '-'} |"
        )
    events = [(p["title"], event_triggers_text(p)) for p in doc["policies"]]
    if any(text for _, text in events):
        lines += [
            "",
            "Events that call for an assessment off the calendar (shown, not modelled):",
            "",
        ]
        lines += [f"- {title}: {text}." for title, text in events if text]
    lines += ["", "### What each reading rests on", ""]
    for p in doc["policies"]:
        src, reading = p["source"], p["reading"]
        lines += [
            f"**{p['title']}**: {src['document']}, {src['section']} "
            f"({markdown_code(src['url'])}). "
            + (
                "Where the quotes were checked: "
                if p["verified"]
                else "**Not verified against the primary text.** "
            )
            + src["checked_in"],
            "",
        ]
        for q in p["quotes"]:
            lines += [f"> {q['text']} ({quote_where(q)})", ""]
        for title, key in (("Exceptions", "exceptions"), ("Event triggers", "event_triggers")):
            for q in reading[key]:
                lines += [
                    f"{title[:-1]}, *{q['summary']}*:",
                    "",
                    f"> {q['text']} ({quote_where(q)})",
                    "",
                ]
        lines += ["", f"Reading: {reading['notes']}", ""]
    return lines + [
        "Re-evaluation interval: the longest time a buffer still covers the uplift at "
        f"{confidence:.0%} confidence.",
        "",
    ]


def markdown_report(doc: dict, review: dict | None = None, figures=None) -> str:
    """A report an analyst can paste into a risk assessment.

    Parameters
    ----------
    doc
        The ``run --json`` document (:func:`result_document`).
    review
        The reviewer's documents (:func:`forecast.api.review`), plus ``inputs`` (the
        files read, with their hashes) and ``files`` (the bundle's files) when the export
        bundle adds them; sections without their document are left out.
    figures
        Names of the figures in the bundle (``fan_chart.png``, ...); None: every figure
        the sections refer to.
    """
    from forecast.core.units import fmt_both

    # Every string of the documents is escaped here, once, where the text leaves the
    # program: the sections below add markup around values that cannot make any.
    doc = markdown_document(doc)
    review = markdown_document(review or {})
    figures = Figures(figures)
    b, prov = doc["buffer"], doc["provenance"]
    explanation = doc.get("explanation") or review.get("explanation")
    lines = [
        f"# Post-training enhancement forecast: {doc['title']}",
        "",
        f"Scenario {markdown_code(doc['scenario'])}, profile "
        f"{markdown_code(doc.get('profile') or 'central')}, "
        f"generated {prov['created']} by forecast {prov['version']}.",
        "",
        "## Summary",
        "",
        f"Over the next **{doc['horizon_months']} months**, post-training enhancements that "
        f"the evaluation did not apply could raise this model's effective compute by up to "
        f"**{fmt_both(b['oom'])}** at {doc['confidence']:.0%} confidence (Monte Carlo 90% "
        f"interval {b['mc_interval_oom'][0]:.2f} to {b['mc_interval_oom'][1]:.2f} OOM over "
        f"{b['draws']:,} draws). The median uplift is {fmt_both(doc['uplift'][-1]['q50'])}.",
        "",
    ]
    if explanation and explanation.get("headline"):
        head = explanation["headline"]
        lines += [
            f"**Read it with its range: {head['range_oom'][0]:.2f} to "
            f"{head['range_oom'][1]:.2f} OOM** ({markdown(head['basis'])}). "
            f"{markdown(head['cite'])}",
            "",
        ]
    if explanation:
        lines += [f"- {line}" for line in explanation["summary"]]
    lines += summary_lines(doc)
    if doc.get("warnings"):
        lines += ["", "**Warnings about the inputs:**", ""]
        lines += [f"- {w}" for w in doc["warnings"]]
    lines += [""]
    if explanation:
        lines += explanation_section(explanation, doc, figures)
    if review.get("profiles"):
        lines += profiles_section(review["profiles"], doc, figures)
    elif "profiles" in review:
        lines += ["## Assumption profiles", "", "Not computed for this report (--no-profiles).", ""]
    if review.get("sensitivity"):
        lines += sensitivity_section(review["sensitivity"], figures)
    lines += inputs_section(doc)
    lines += [
        "## Method",
        "",
        "An uplift model (PyMC, NUTS) is fitted to measured histories of fixed models: dated "
        "scores of one checkpoint on one suite before and after others added elicitation. "
        "Improvements arrive as a Poisson process whose rate falls as the model ages, depends "
        "on the elicitation already applied and the actor's access, and varies with the "
        "attention a model gets; each adds a LogNormal jump of effective compute whose mean "
        "scales the typical gain of a new enhancement in the CEG catalogue (fitted by a "
        "hierarchical censored model). Eval slopes (logits per OOM) are learned from model "
        "families at several training computes. Uplift U(t) is in OOM of effective compute; "
        "evals move on the logit scale by `slope x U`. Calibration is measured out of sample "
        "on held-out suites and publishers. See docs/method.md.",
        "",
    ]
    lines += uplift_section(doc, figures)
    lines += eval_section(doc, figures) + policy_section(doc)
    for k, v in doc["reevaluation"].items():
        lines.append(f"- {k}: {'at least ' if v['beyond_horizon'] else ''}{v['months']:.1f} months")
    lines += [""]
    if review.get("prior_check"):
        lines += prior_check_section(review["prior_check"])
    if "calibration" in review:
        lines += calibration_section(review["calibration"])
    lines += diagnostics_section(doc["diagnostics"])
    lines += ["## Caveats", "", CAVEATS]
    lines += provenance_section(doc, review.get("inputs"), review.get("files"))
    return "\n".join(lines) + "\n"


def inputs_section(doc: dict) -> list[str]:
    doc = markdown_document(doc)
    base, prov = doc["base_model"], doc["provenance"]
    elicited = doc["already_elicited"]
    extrapolation = doc.get("extrapolation") or {}
    released = base.get("released") or base["reference_date"]
    return [
        "## Inputs",
        "",
        "| input | value |",
        "| --- | --- |",
        f"| base model | {markdown(base['name'])}, {base['training_compute_flop']:.2e} FLOP, "
        f"evaluated {base['reference_date']}, released {released}, "
        f"weights {base['weights']} |",
        f"| actor | {markdown_code(doc['actor'], in_table=True)} |",
        "| already applied by the evaluation | "
        + (", ".join(elicited["categories"] + elicited["enhancements"]) or "nothing")
        + " |",
        f"| horizon, confidence | {doc['horizon_months']} months, {doc['confidence']:.0%} |",
        f"| assumption profile | {markdown(doc.get('profile') or 'central')} |",
        f"| past the histories' dates | trend {extrapolation.get('trend', '-')} |",
        "| priors changed from the defaults | "
        + (
            ", ".join(
                f"{markdown_code(k, in_table=True)} = {v}"
                for k, v in prov["priors_overridden"].items()
            )
            or "none"
        )
        + " |",
        f"| catalogue cut at | {prov.get('as_of') or 'not cut (every record)'} |",
        f"| evidence | {prov['sources']} |",
        "",
    ]


def uplift_section(doc: dict, figures: Figures) -> list[str]:
    """Quantiles of the uplift by month (numbers only)."""
    from forecast.core.units import fmt_multiplier

    lines = [
        "## Uplift over time",
        "",
        "| month | 5% | 25% | median | 75% | 95% | median / 95% as multipliers |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in doc["uplift"]:
        lines.append(
            f"| {r['month']:g} | {r['q05']:.2f} | {r['q25']:.2f} | {r['q50']:.2f} | "
            f"{r['q75']:.2f} | {r['q95']:.2f} | {fmt_multiplier(r['q50'])} / "
            f"{fmt_multiplier(r['q95'])} |"
        )
    return (
        lines
        + ["", "Quantiles of U(t) in OOM.", ""]
        + figures.image("fan_chart.png", "Uplift fan chart")
    )


def diagnostics_section(diag: dict) -> list[str]:
    """One line per fit (the uplift model's and the catalogue model's): R-hat, ESS,
    divergences against their thresholds, and the verdict."""
    names = {"histories": "Uplift model", "catalogue": "Catalogue model"}
    lines = ["## Diagnostics", ""]
    for name, m in (diag.get("by_model") or {"": diag}).items():
        r_hat = "n/a" if m.get("r_hat_max") is None else f"{m['r_hat_max']:.3f}"
        verdict = (
            "**passed**."
            if m["ok"]
            else "**FAILED: " + "; ".join(m["problems"]) + ". Do not rely on these figures.**"
        )
        lines += [
            f"- {names.get(name, 'Fit')}: R-hat max {r_hat} (needs <= 1.01), bulk ESS min "
            f"{m['ess_bulk_min']:.0f} (needs >= 400), tail ESS min {m['ess_tail_min']:.0f}, "
            f"divergences {m['divergences']} (needs 0); {m['chains']} chains x "
            f"{m['draws']} draws: {verdict}"
        ]
    return lines + [""]


PROVENANCE_FIELDS = {
    "version": "forecast version",
    "seed": "forecast seed",
    "fit_seed": "fit seed",
    "fit": "fit",
    "inputs_sha256": "SHA-256 of the inputs",
    "fit_key": "fit cache key",
    "created": "computed (UTC)",
    "fit_created": "fit sampled (UTC)",
    "scenario_file": "scenario file",
    "profile": "assumption profile",
    "as_of": "catalogue cut at",
}


def provenance_section(doc: dict, inputs: list[dict] | None, files=None) -> list[str]:
    """Versions, seeds, hashes and every input file with its SHA-256."""
    doc, inputs, files = markdown_document([doc, inputs, files])
    prov = doc["provenance"]
    lines = ["## Provenance", "", "| field | value |", "| --- | --- |"]
    for key, label in PROVENANCE_FIELDS.items():
        if key in prov:
            value = prov[key]
            if key == "profile" and value is None:
                value = "central (the defaults)"
            if key == "as_of" and value is None:
                value = "not cut (every record)"
            lines.append(f"| {label} | {cell(value)} |")
    lines += [""]
    if inputs:
        lines += [
            "Every file the run read, with its SHA-256 (`sha256sum FILE` checks it); a "
            "shipped file by its name in the package and the repository:",
            "",
        ]
        lines += md_table(
            ["role", "file", "SHA-256", "bytes"],
            [
                [
                    r["role"],
                    (
                        "shipped " + markdown_code(r["name"], in_table=True)
                        if r.get("shipped")
                        else markdown_code(r["path"], in_table=True)
                    ),
                    markdown_code(r["sha256"]) if r["sha256"] else (r.get("problem") or "-"),
                    cell(r.get("bytes")),
                ]
                for r in inputs
            ],
            right={3},
        )
    if files:
        lines += ["Files of this bundle:", ""]
        lines += [f"- {markdown_code(name)}: {what}" for name, what in files.items()] + [""]
    return lines
