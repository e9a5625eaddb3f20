"""The report's sections from the reviewer's documents: why this buffer, the assumption
profiles, the sensitivity ranking, the prior predictive check, calibration and backtest.

Each takes a document the explain or checks stage computed (passed in, never recomputed)
and returns Markdown lines for :func:`forecast.report.markdown.markdown_report`. Each
escapes every string of its documents first (:func:`forecast.core.escape.markdown_document`;
text escaped already is left as it is), so a section shows user text as written however it
is called.
"""

from __future__ import annotations

from forecast.core.escape import markdown, markdown_code, markdown_document
from forecast.report.text import (
    SENSITIVITY_CAPTION,
    VARIATION_LABELS,
    Figures,
    md_table,
    swing_text,
    variation_text,
)


def explanation_section(ex: dict, doc: dict, figures: Figures) -> list[str]:
    """Why this buffer: the uplift split into what the evidence implies, attention and chance;
    the draws that set it; the prior-only buffer; the assumptions the evidence does not
    settle; and the rule used."""
    from forecast.core.units import fmt_both

    ex, doc = markdown_document([ex, doc])
    labels = ex["part_labels"]
    split = ex["decomposition"]
    median, tail = split["median"], split["tail"]
    rows = [
        [labels[m["part"]], f"{m['oom']:+.2f}", f"{t['oom']:+.2f}", f"{t['share']:.0%}"]
        for m, t in zip(median["parts"], tail["parts"], strict=True)
    ]
    rows.append(
        [
            "**the uplift (mean of the band)**",
            f"**{median['mean_uplift_oom']:.2f}**",
            f"**{tail['mean_uplift_oom']:.2f}**",
            "100%",
        ]
    )
    rows.append(
        [
            "improvements by the horizon (mean count)",
            f"{median['mean_events']:.1f}",
            f"{tail['mean_events']:.1f}",
            "",
        ]
    )
    lines = [
        "## Why this buffer",
        "",
        f"The uplift at month {doc['horizon_months']} split into what sets it, in OOM: the "
        f"median band ({median['draws']:,} draws) and the draws at and above the buffer "
        f"({tail['draws']:,} draws), which set it.",
        "",
    ]
    lines += md_table(
        ["part", "median band", "draws at and above the buffer", "share of that"],
        rows,
        right={1, 2, 3},
    )
    lines += figures.image("decomposition.png", "What sets the uplift at the horizon")
    lines += [
        f"*Decomposition rule.* {ex['rule']}",
        "",
        "| buffer | OOM | multiplier |",
        "| --- | ---: | ---: |",
        f"| posterior (the recommendation) | {ex['buffer_oom']:.2f} | "
        f"{fmt_both(ex['buffer_oom']).split('(')[1].rstrip(')')} |",
        f"| priors alone, no evidence | {ex['prior_only_buffer_oom']:.2f} | "
        f"{fmt_both(ex['prior_only_buffer_oom']).split('(')[1].rstrip(')')} |",
        "",
        f"{ex['share_of_draws_without_uplift']:.0%} of the draws have no uplift at all at the "
        "horizon.",
        "",
    ]
    if ex.get("unsettled"):
        lines += ["### Assumptions the evidence does not settle", ""]
        lines += md_table(
            ["prior", "default", "drives", "posterior contraction", "buffer, low to high"],
            [
                [
                    markdown_code(m["prior"]),
                    markdown(m["distribution"]),
                    m["drives"],
                    "-" if m["contraction"] is None else f"{m['contraction']:.2f}",
                    f"{m['buffer_range_oom'][0]:.2f} to {m['buffer_range_oom'][1]:.2f} OOM",
                ]
                for m in ex["unsettled"]
            ],
            right={3},
        )
        lines += [
            "Each moves the buffer by more than 0.1 OOM when "
            + markdown(ex["unsettled"][0]["how"])
            + ", and the histories narrow it by less than 30% (posterior contraction): its "
            "reading is an assumption, not a finding.",
            "",
        ]
    lines += ["### The draws that set the buffer, against all draws", ""]
    lines += md_table(
        ["driver", "units", "mean, all draws", "mean, at and above the buffer"],
        [
            [r["label"], r["units"], f"{r['all_mean']:.2f}", f"{r['tail_mean']:.2f}"]
            for r in ex["tail_profile"]
        ],
        right={2, 3},
    )
    return lines


def profiles_section(rows: list[dict], doc: dict, figures: Figures) -> list[str]:
    """The buffer under each shipped assumption profile (forecast.inputs.profiles)."""
    rows, doc = markdown_document([rows, doc])
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
            "fit",
            "what it changes",
        ],
        [_profile_row(r, doc) for r in rows],
        right={1, 2},
    )
    return lines + figures.image("profiles.png", "The buffer under each profile")


def _profile_row(r: dict, doc: dict) -> list[str]:
    """One row of the profiles table; a profile that could not be simulated says why."""
    from forecast.core.units import fmt_both

    name = r["title"] + (" **(this run)**" if r["profile"] == doc.get("profile") else "")
    if "error" in r:
        return [name, "not computed", "-", "-", markdown(r["error"])]
    return [
        name,
        fmt_both(r["buffer_oom"]),
        f"{r['median_oom']:.2f}",
        markdown(r["fit"])
        + (f" (Pareto k {r['reweighting']['pareto_k']:.2f})" if r.get("reweighting") else ""),
        _profile_changes(r),
    ]


def _profile_changes(row: dict) -> str:
    parts = [f"{k} = {v}" for k, v in row["priors"].items()]
    modes = {k: v for k, v in row["extrapolation"].items() if k == "trend"}
    parts += [f"{k} {v}" for k, v in modes.items()]
    return "; ".join(parts) or "nothing"


def sensitivity_section(sens: dict, figures: Figures) -> list[str]:
    """The full sensitivity table (forecast sensitivity) and the tornado chart."""
    sens = markdown_document(sens)
    rows = [
        [markdown_code(r["prior"], in_table=True), r["distribution"], r["drives"], swing_text(r)]
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
    summaries = markdown_document(summaries)
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
            f"### {s['title'][:1].upper() + s['title'][1:]}",
            "",
            f"From {markdown_code(s['file'])}. **{s['verdict']}.**",
            "",
        ]
        lines += [*s["lines"], ""]
        table = s.get("table")
        if table and table["rows"]:
            lines += md_table(table["headers"], table["rows"])
    return lines
