"""PNG figures from a result document (matplotlib, Agg backend; imported only to draw)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

POLICY_COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:gray", "tab:brown", "tab:olive")


def fan_chart(doc: dict, path: str | Path) -> None:
    """Uplift quantiles over time, with the policies' buffers drawn as horizontal lines."""
    rows = doc["uplift"]
    months = [r["month"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    ax.fill_between(
        months,
        [r["q05"] for r in rows],
        [r["q95"] for r in rows],
        color="tab:blue",
        alpha=0.18,
        label="90% interval",
    )
    ax.fill_between(
        months,
        [r["q25"] for r in rows],
        [r["q75"] for r in rows],
        color="tab:blue",
        alpha=0.35,
        label="50% interval",
    )
    ax.plot(months, [r["q50"] for r in rows], color="tab:blue", lw=2, label="median")
    ax.plot(
        months,
        [r["upper_at_confidence"] for r in rows],
        color="tab:blue",
        lw=1.2,
        ls="--",
        label=f"{doc['confidence']:.0%} quantile",
    )
    policy_top = _draw_policies(ax, doc)
    b = doc["buffer"]
    ax.plot(
        [b["month"]],
        [b["oom"]],
        "o",
        color="tab:green",
        label=f"buffer {b['oom']:.2f} OOM ({b['multiplier']:.0f}x)",
    )
    ax.set_xlabel("months after the evaluation")
    ax.set_ylabel("uplift U(t), OOM of effective compute")
    top = max(max(r["q95"] for r in rows), policy_top)
    ax.set_ylim(0, top * 1.15 + 0.05)
    right = ax.secondary_yaxis("right", functions=(lambda x: 10**x, lambda m: _log10(m)))
    ticks = [
        t
        for t in (1, 2, 4, 6, 10, 20, 50, 100, 200, 500, 1000, 3000)
        if _log10(t) <= top * 1.15 + 0.05
    ]
    right.set_yticks(ticks, [f"{t:g}x" for t in ticks])
    right.set_ylabel("multiplier")
    ax.set_title(
        f"{doc['title']}\nactor {doc['actor']}: uplift from enhancements not yet applied",
        fontsize=10,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), fontsize=7, ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_policies(ax, doc: dict) -> float:
    """Each evaluated policy at its own period: a stated buffer as a line from month 0 to the
    period, ending in a bar; a rule without one as a cross at the buffer it needs there.
    Rules that share a point share a label. Returns the highest value drawn (OOM)."""
    groups: dict[tuple, list[str]] = {}
    for p in doc["policies"]:
        if not p["evaluated"]:
            continue
        short = p["title"].split(" (")[0]
        if p["buffer_oom"] is not None:
            key = ("buffer", p["period_months"], round(p["buffer_oom"], 6), p["buffer_multiplier"])
        else:
            key = ("needs", p["period_months"], round(p["implied_buffer_oom"], 6), None)
        groups.setdefault(key, []).append(short)
    top = 0.0
    for k, ((kind, period, value, mult), names) in enumerate(groups.items()):
        colour = POLICY_COLOURS[k % len(POLICY_COLOURS)]
        if kind == "buffer":
            label = f"{mult:g}x buffer over {period:g} mo: " + ", ".join(names)
            ax.plot([0, period], [value, value], color=colour, lw=1, ls=":")
            ax.plot([period], [value], "|", color=colour, ms=12, mew=2, label=label)
        else:
            label = f"needs {10**value:,.0f}x over {period:g} mo: " + ", ".join(names)
            ax.plot([period], [value], "x", color=colour, ms=8, mew=2, label=label)
        top = max(top, value)
    if groups:
        right = max(key[1] for key in groups)
        ax.set_xlim(left=0, right=max(ax.get_xlim()[1], right * 1.05))
    return top


def _log10(m):
    import numpy as np

    return np.log10(np.maximum(m, 1e-12))


def p_cross_chart(doc: dict, path: str | Path) -> None:
    """P(an eval meets its dangerous threshold by month t), one line per eval."""
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=120)
    alpha = 1 - doc["confidence"]
    for e in doc["evals"]:
        ax.plot(e["months"], e["p_cross_over_time"], lw=2, label=e["name"])
    ax.axhline(alpha, color="tab:red", ls="--", lw=1, label=f"alpha = {alpha:.0%}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("months after the evaluation")
    ax.set_ylabel("P(threshold met by month t)")
    ax.set_title(f"{doc['title']}: probability each eval crosses its threshold", fontsize=10)
    if doc["evals"]:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "this scenario has no evals", ha="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def tornado_chart(rows: list[dict], baseline_oom: float, path: str | Path, title: str) -> None:
    """Sensitivity: the range of the buffer (OOM) over each prior's variations, largest first.

    Priors whose variations need a refit (a fixed number, such as noise_dof) are labelled so
    rather than drawn as insensitive.
    """
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.6), dpi=120)
    lows = [r["buffer_min_oom"] for r in rows] + [baseline_oom]
    highs = [r["buffer_max_oom"] for r in rows] + [baseline_oom]
    span = max(highs) - min(lows) or 0.1
    for i, r in enumerate(reversed(rows)):
        lo, hi = r["buffer_min_oom"], r["buffer_max_oom"]
        refit = all(v["buffer_oom"] is None for v in r["variations"])
        if refit:
            ax.text(baseline_oom, i, "  refit needed", va="center", fontsize=7, color="gray")
            continue
        ax.barh(i, max(hi - lo, span * 0.004), left=lo, color="tab:blue", alpha=0.6)
        ax.text(hi, i, f" {r['swing_oom']:.2f}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [r["prior"] for r in reversed(rows)], fontsize=8)
    ax.set_xlim(min(lows) - 0.08 * span, max(highs) + 0.15 * span)
    ax.axvline(baseline_oom, color="black", lw=1)
    ax.set_xlabel("buffer, OOM (range over tighten / widen / shift; black line: default priors)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def is_png(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"
