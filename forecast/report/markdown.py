"""Turning a forecast into documents: the JSON schema, CSV rows and the text fan chart.

Stage 5 of the pipeline. Pure functions: they build strings and dicts, they never print
or write files (the CLI and the export bundle do that).
"""

from __future__ import annotations

import re

import numpy as np

from forecast.core.units import multiplier

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

    ``explanation`` (:func:`forecast.explain.explanation.explain`) is included when given.
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
    doc["warnings"] = list(result.warnings)
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


#: The variations of a prior in the sensitivity ranking, in column order, and their labels.
VARIATION_LABELS = {
    "tighten": "tighten",
    "widen": "widen",
    "shift_down": "shift down",
    "shift_up": "shift up",
}
SENSITIVITY_CAPTION = (
    "Each cell: the buffer (OOM) with that one prior varied and every other at its default. "
    "Tighten / widen: half / twice the spread; shift: one standard deviation down / up "
    "(scales: a factor of 1.5). Forecast priors are re-simulated with the same seed (exact). "
    "Fit priors are reweighted from the cached posterior: k is the Pareto k of the "
    "importance weights, reliable up to 0.7 (a negative k means the weights have a bounded "
    "tail: the most reliable case); ! marks k above 0.7, left out of the swing (confirm "
    "with a refit: --prior NAME=VALUE). refit needed: a fixed fit prior (a number, such as "
    "noise_dof) cannot be reweighted; no effect: the prior acts on eval scores, not on the "
    "uplift; beyond the limits: the variation makes the simulation unbounded (e.g. a "
    "catalogue coverage with mass near 0), so it has no buffer."
)


def variation_text(row: dict, how: str) -> str:
    """One sensitivity cell: the buffer under a variation, its Pareto k and reliability."""
    v = next((v for v in row["variations"] if v["how"] == how), None)
    if v is None:
        return "-"
    if v["buffer_oom"] is None:
        return "beyond the limits" if v["method"] == "out_of_range" else "refit needed"
    if v["method"] == "no_effect":
        return "no effect"
    text = f"{v['buffer_oom']:.2f}"
    if v["pareto_k"] is not None:
        text += f" (k {v['pareto_k']:.2f})" + ("" if v["reliable"] else " !")
    return text


def swing_text(row: dict) -> str:
    """A prior's swing in words where a number would mislead: a fixed fit prior needs a
    refit (not a 0.00 swing), a prior whose variations are all unreliable too, and a swing
    that leaves unreliable variations out says so."""
    variations = row["variations"]
    if not variations:
        return "-"
    if all(v["method"] == "no_effect" for v in variations):
        return "no effect"
    valued = [v for v in variations if v["buffer_oom"] is not None]
    if not valued:
        out = all(v["method"] == "out_of_range" for v in variations)
        return "beyond the limits" if out else "refit needed"
    reliable = [v for v in valued if v["reliable"]]
    if len(reliable) < 2 and len(valued) >= 2:
        return "unreliable: refit"
    if len(reliable) < len(valued):
        return f"{row['swing_oom']:.2f} (without k > 0.7)"
    return f"{row['swing_oom']:.2f}"


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
    from forecast.buffer.evals import status_text
    from forecast.buffer.policies import verdict_text

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


def eval_section(doc: dict, figures=None) -> list[str]:
    """The report's Evaluations section: state, threshold, P(cross), trigger and status."""
    from forecast.buffer.evals import STATE_MEANING, status_text

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
    figures = figures or _Figures(None)
    return lines + [""] + figures.image("p_cross.png", "P(cross) over time")


def policy_section(doc: dict) -> list[str]:
    """The report's policy comparison: reading, period and verdict of each rule, then the
    quoted text each reading rests on."""
    from forecast.buffer.policies import trigger_text, verdict_text

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


def markdown_report(doc: dict, review: dict | None = None, figures=None) -> str:
    """A report an analyst can paste into a risk assessment.

    Parameters
    ----------
    doc
        The ``run --json`` document (:func:`result_document`).
    review
        The reviewer's documents (:func:`forecast.explain.review.review`), plus ``inputs`` (the
        files read, with their hashes) and ``files`` (the bundle's files) when the export
        bundle adds them; sections without their document are left out.
    figures
        Names of the figures in the bundle (``fan_chart.png``, ...); None: every figure
        the sections refer to.
    """
    from forecast.core.units import fmt_both

    review = review or {}
    figures = _Figures(figures)
    b, prov = doc["buffer"], doc["provenance"]
    explanation = doc.get("explanation") or review.get("explanation")
    lines = [
        f"# Post-training enhancement forecast: {_md(doc['title'])}",
        "",
        f"Scenario {_code(doc['scenario'])}, profile {_code(doc.get('profile') or 'central')}, "
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
    if explanation:
        lines += [f"- {_md(line)}" for line in explanation["summary"]]
    lines += summary_lines(doc)
    if doc.get("warnings"):
        lines += ["", "**Warnings about the inputs:**", ""]
        lines += [f"- {_md(w)}" for w in doc["warnings"]]
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
    lines += ["## Caveats (Davidson et al. 2023, section 4)", "", CAVEATS]
    lines += provenance_section(doc, review.get("inputs"), review.get("files"))
    return "\n".join(lines) + "\n"


class _Figures:
    """Which figures a report may show (all of them when not told)."""

    def __init__(self, names):
        self.names = None if names is None else set(names)

    def image(self, name: str, alt: str) -> list[str]:
        if self.names is not None and name not in self.names:
            return []
        return [f"![{alt}]({name})", ""]


def _md(text) -> str:
    """User text made safe inside Markdown (and table cells): one line, with the characters
    that would start markup (``|``, ``*``, backticks, brackets, ``<``, a ``_`` at a word's
    edge) escaped so they show as written."""
    text = " ".join(str(text).split())
    text = re.sub(r"([\\|*`\[\]<>])", r"\\\1", text)
    return re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", text)


def _code(text) -> str:
    """``text`` as inline code in Markdown (inside a table too)."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def cell(value) -> str:
    """A value as a report shows it: never a Python representation (``None`` is "none",
    booleans "yes"/"no", lists joined, numbers as written)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {cell(v)}" for k, v in value.items()) or "none"
    return str(value)


def md_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list:
    """A Markdown table; cells are written as given (escape user text with :func:`_md`)."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---:" if k in right else "---" for k in range(len(headers))) + " |",
    ]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines + [""]


def explanation_section(ex: dict, doc: dict, figures: _Figures) -> list[str]:
    """Why this buffer: the split by source, the draws that set it, the prior-only and
    uncapped buffers, the most sensitive assumptions, and the rule used."""
    from forecast.core.units import fmt_both
    from forecast.explain.explanation import SOURCE_LABELS

    split = ex["decomposition"]
    median, tail = split["median"], split["tail"]
    rows = [
        [
            SOURCE_LABELS.get(m["source"], m["source"]),
            f"{m['oom']:.2f}",
            f"{t['oom']:.2f}",
            f"{t['share']:.0%}",
        ]
        for m, t in zip(median["sources"], tail["sources"], strict=True)
    ]
    rows.append(
        [
            "**all sources (mean of the band)**",
            f"**{median['mean_uplift_oom']:.2f}**",
            f"**{tail['mean_uplift_oom']:.2f}**",
            "100%",
        ]
    )
    lines = [
        "## Why this buffer",
        "",
        f"The uplift at month {doc['horizon_months']} split by where it comes from, in OOM: "
        f"the median band ({median['draws']:,} draws) and the draws at and above the buffer "
        f"({tail['draws']:,} draws), which set it.",
        "",
    ]
    lines += md_table(
        ["source", "median band", "draws at and above the buffer", "share of that"],
        rows,
        right={1, 2, 3},
    )
    lines += figures.image("decomposition.png", "Uplift at the horizon by source")
    lines += [
        f"*Decomposition rule.* {ex['rule']}",
        "",
        "| buffer | OOM | multiplier |",
        "| --- | ---: | ---: |",
        f"| posterior (the recommendation) | {ex['buffer_oom']:.2f} | "
        f"{fmt_both(ex['buffer_oom']).split('(')[1].rstrip(')')} |",
        f"| priors alone, no evidence | {ex['prior_only_buffer_oom']:.2f} | "
        f"{fmt_both(ex['prior_only_buffer_oom']).split('(')[1].rstrip(')')} |",
        f"| without the soft ceiling | {ex['uncapped_buffer_oom']:.2f} | "
        f"{fmt_both(ex['uncapped_buffer_oom']).split('(')[1].rstrip(')')} |",
        "",
        f"{ex['share_of_draws_without_uplift']:.0%} of the draws have no uplift at all at the "
        "horizon.",
        "",
        "### The draws that set the buffer, against all draws",
        "",
    ]
    lines += md_table(
        ["driver", "units", "mean, all draws", "mean, at and above the buffer"],
        [
            [r["label"], r["units"], f"{r['all_mean']:.2f}", f"{r['tail_mean']:.2f}"]
            for r in ex["tail_profile"]
        ],
        right={2, 3},
    )
    return lines


def profiles_section(rows: list[dict], doc: dict, figures: _Figures) -> list[str]:
    """The buffer under each shipped assumption profile (forecast.inputs.profiles)."""
    lines = [
        "## Assumption profiles",
        "",
        "The same scenario, seed and draws under each shipped profile (docs/profiles.md); only "
        "the assumptions differ. A range an analyst can defend: cautious and optimistic "
        "bracket the central buffer. Every profile is a set of assumptions, not a finding.",
        "",
    ]
    lines += md_table(
        [
            "profile",
            "buffer",
            "median uplift (OOM)",
            "without the ceiling (OOM)",
            "fit",
            "what it changes",
        ],
        [_profile_row(r, doc) for r in rows],
        right={1, 2, 3},
    )
    return lines + figures.image("profiles.png", "The buffer under each profile")


def _profile_row(r: dict, doc: dict) -> list[str]:
    """One row of the profiles table; a profile that could not be simulated says why."""
    from forecast.core.units import fmt_both

    name = _md(r["title"]) + (" **(this run)**" if r["profile"] == doc.get("profile") else "")
    if "error" in r:
        return [name, "not computed", "-", "-", "-", _md(r["error"])]
    return [
        name,
        fmt_both(r["buffer_oom"]),
        f"{r['median_oom']:.2f}",
        f"{r['uncapped_buffer_oom']:.2f}",
        _md(r["fit"])
        + (f" (Pareto k {r['reweighting']['pareto_k']:.2f})" if r.get("reweighting") else ""),
        _md(_profile_changes(r)),
    ]


def _profile_changes(row: dict) -> str:
    parts = [f"{k} = {v}" for k, v in row["priors"].items()]
    modes = {k: v for k, v in row["extrapolation"].items() if k in ("trend", "scale")}
    parts += [f"{k} {v}" for k, v in modes.items()]
    return "; ".join(parts) or "nothing"


def sensitivity_section(sens: dict, figures: _Figures) -> list[str]:
    """The full sensitivity table (forecast sensitivity) and the tornado chart."""
    rows = [
        [f"`{r['prior']}`", _md(r["distribution"]), r["drives"], swing_text(r)]
        + [variation_text(r, how) for how in VARIATION_LABELS]
        for r in sens["priors"]
    ]
    lines = [
        "## Sensitivity",
        "",
        f"Every prior ranked by how far varying it moves the buffer "
        f"({sens['buffer_oom']:.2f} OOM under the defaults; variations: "
        f"{sens.get('variations') or 'tighten, widen, shift down, shift up'}).",
        "",
    ]
    lines += md_table(
        ["prior", "default", "drives", "swing (OOM)", *VARIATION_LABELS.values()],
        rows,
        right={3, 4, 5, 6, 7},
    )
    lines += [SENSITIVITY_CAPTION, ""]
    return lines + figures.image("tornado.png", "Sensitivity of the buffer to each prior")


def inputs_section(doc: dict) -> list[str]:
    base, prov = doc["base_model"], doc["provenance"]
    elicited, absorbed = doc["already_elicited"], doc.get("absorbed") or {}
    extrapolation = doc.get("extrapolation") or {}
    return [
        "## Inputs",
        "",
        "| input | value |",
        "| --- | --- |",
        f"| base model | {_md(base['name'])}, {base['training_compute_flop']:.2e} FLOP, as of "
        f"{base['reference_date']}, weights {base['weights']} |",
        f"| actor | `{doc['actor']}` |",
        "| already applied by the evaluation | "
        + _md(", ".join(elicited["categories"] + elicited["enhancements"]) or "nothing")
        + " |",
        "| built into the base model | "
        + _md(
            ", ".join(absorbed.get("categories", []) + absorbed.get("enhancements", []))
            or "nothing"
        )
        + " |",
        f"| horizon, confidence | {doc['horizon_months']} months, {doc['confidence']:.0%} |",
        f"| assumption profile | {_md(doc.get('profile') or 'central')} |",
        f"| extrapolation past the evidence | trend {extrapolation.get('trend', '-')}, scale "
        f"{extrapolation.get('scale', '-')} |",
        "| priors changed from the defaults | "
        + (", ".join(f"`{k}` = {_md(v)}" for k, v in prov["priors_overridden"].items()) or "none")
        + " |",
        f"| catalogue cut at | {prov.get('as_of') or 'not cut (every record)'} |",
        f"| evidence | {_md(prov['sources'])} |",
        "",
    ]


def uplift_section(doc: dict, figures: _Figures) -> list[str]:
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


def prior_check_section(pc: dict) -> list[str]:
    """The prior predictive check: the uplift the priors alone imply, beside the posterior's."""
    from forecast.core.units import fmt_both

    lines = [
        "## Prior predictive check",
        "",
        f"The buffer at {pc['confidence']:.0%} is {fmt_both(pc['prior_buffer_oom'])} from the "
        f"priors alone and {fmt_both(pc['posterior_buffer_oom'])} after the evidence (same "
        "scenario, seed and number of draws). Uplift quantiles in OOM:",
        "",
    ]
    rows = [
        [f"{m:g}"]
        + [f"{pc[s][q][t]:.2f}" for s in ("prior", "posterior") for q in ("q05", "q50", "q95")]
        for t, m in enumerate(pc["months"])
    ]
    return lines + md_table(
        [
            "month",
            "prior 5%",
            "prior median",
            "prior 95%",
            "posterior 5%",
            "posterior median",
            "posterior 95%",
        ],
        rows,
        right=set(range(7)),
    )


def calibration_section(summaries: list[dict]) -> list[str]:
    """Calibration and backtest summaries of the documents given to the bundle."""
    lines = ["## Calibration and backtest", ""]
    if not summaries:
        return lines + [
            "No calibration or backtest document was given to this bundle. To include them, "
            "pass the JSON documents of `forecast check sbc`, `forecast check figures` or "
            "`forecast backtest` to `forecast export --calibration FILE` (repeatable).",
            "",
        ]
    for s in summaries:
        lines += [
            f"### {_md(s['title'][:1].upper() + s['title'][1:])}",
            "",
            f"From {_code(s['file'])}. **{_md(s['verdict'])}.**",
            "",
        ]
        lines += [_md(line) for line in s["lines"]] + [""]
        table = s.get("table")
        if table and table["rows"]:
            lines += md_table(table["headers"], [[_md(c) for c in r] for r in table["rows"]])
    return lines


def diagnostics_section(diag: dict) -> list[str]:
    return [
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
    ]


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
    prov = doc["provenance"]
    lines = ["## Provenance", "", "| field | value |", "| --- | --- |"]
    for key, label in PROVENANCE_FIELDS.items():
        if key in prov:
            value = prov[key]
            if key == "profile" and value is None:
                value = "central (the defaults)"
            if key == "as_of" and value is None:
                value = "not cut (every record)"
            lines.append(f"| {label} | {_md(cell(value))} |")
    lines += [""]
    if inputs:
        lines += [
            "Every file the run read, with its SHA-256 (`sha256sum FILE` checks it):",
            "",
        ]
        lines += md_table(
            ["role", "file", "SHA-256", "bytes"],
            [
                [
                    r["role"],
                    _code(r["path"]),
                    f"`{r['sha256']}`" if r["sha256"] else _md(r.get("problem") or "-"),
                    cell(r.get("bytes")),
                ]
                for r in inputs
            ],
            right={3},
        )
    if files:
        lines += ["Files of this bundle:", ""]
        lines += [f"- {_code(name)}: {_md(what)}" for name, what in files.items()] + [""]
    return lines
