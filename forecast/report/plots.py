"""PNG figures from a result document (matplotlib, Agg backend; imported only to draw).

Every figure carries, under its title, a caption stating what it rests on: the horizon,
the confidence, the assumption profile, the actor, the number of draws and the seed
(:func:`caption`). Legends sit outside the axes so they never cover the data; long titles
and labels are wrapped to the figure's width. ``path`` may be a file name or a binary
file object (the export bundle draws into memory).

Every figure is drawn through :func:`literal_text`: the text it is given (titles, names,
the documents' strings) passes :func:`forecast.core.escape.plot_text` and is drawn as written,
with mathtext off (``$5M vs $10M`` is not maths, ``$\\alpha^$`` is no error).
"""

from __future__ import annotations

import functools
import inspect
import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

POLICY_COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:gray", "tab:brown", "tab:olive")
#: Colours of the sensitivity variations: the two shifts in contrasting hues (their
#: direction is what a reader looks for), the spread changes in greens.
VARIATION_STYLE = {
    "shift_down": ("shift down", "tab:blue"),
    "shift_up": ("shift up", "tab:red"),
    "tighten": ("tighten (half the spread)", "#9ccc9c"),
    "widen": ("widen (twice the spread)", "#2e7d32"),
}
#: Colours of the parts of the uplift (an explanation's ``part_labels``), in their order.
PART_COLOURS = ("#4c72b0", "#dd8452", "#8172b2")
DPI = 120
WIDTH_IN = 8.0
#: Characters per line of text at the figure's width (titles 11 pt, captions 8 pt).
TITLE_CHARS = 78
CAPTION_CHARS = 96
LEGEND_CHARS = 70


#: Warnings matplotlib gives for a character its fonts lack: the figure shows a box, and the
#: command says nothing (under --quiet or not).
GLYPH_WARNINGS = (r"Glyph \d+ .*missing from", r"Matplotlib currently does not support")


def literal_text(draw):
    """Draw with user text as written: every argument but the output (``path``, ``out``)
    through :func:`forecast.core.escape.plot_text`, mathtext and TeX off, and no warning
    about glyphs the fonts lack."""
    from forecast.core.escape import plot_text

    signature = inspect.signature(draw)

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            if name not in ("path", "out"):
                bound.arguments[name] = plot_text(value)
        with (
            plt.rc_context({"text.parse_math": False, "text.usetex": False}),
            warnings.catch_warnings(),
        ):
            for message in GLYPH_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            return draw(*bound.args, **bound.kwargs)

    return wrapper


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _join(parts: list[str], width: int) -> str:
    """``parts`` joined by "; ", broken into lines between parts (never inside one)."""
    lines, line = [], ""
    for part in parts:
        candidate = f"{line}; {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line + ";")
            line = part
        else:
            line = candidate
    return "\n".join([*lines, line])


def caption(doc: dict, profile: bool = True) -> str:
    """What a figure of ``doc`` rests on, in one or two lines: horizon, confidence, profile
    (unless the figure compares profiles), actor, draws, seed and version."""
    prov = doc.get("provenance", {})
    parts = [f"horizon {doc['horizon_months']} months", f"confidence {doc['confidence']:.0%}"]
    if profile:
        parts.append(f"profile {doc.get('profile') or 'central'}")
    parts += [f"scenario {doc['scenario']}", f"actor {doc['actor']}"]
    if "buffer" in doc:
        parts.append(f"{doc['buffer']['draws']:,} draws")
    if prov.get("seed") is not None:
        parts.append(f"forecast seed {prov['seed']}")
    if prov.get("as_of"):
        parts.append(f"catalogue as of {prov['as_of']}")
    if prov.get("version"):
        parts.append(f"forecast {prov['version']}")
    return _join(parts, CAPTION_CHARS)


def _titles(fig, ax, title: str, subtitle: str) -> None:
    fig.suptitle(_wrap(title, TITLE_CHARS), fontsize=11)
    ax.set_title(subtitle, fontsize=8, color="0.3", loc="left")


def _save(fig, path) -> None:
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)


@literal_text
def fan_chart(doc: dict, path) -> None:
    """Uplift quantiles over time, the buffer at the horizon, and each policy's buffer (or
    the buffer it would need) at its own period."""
    from forecast.core.units import fmt_multiplier

    rows = doc["uplift"]
    months = [r["month"] for r in rows]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 6.4), dpi=DPI, layout="constrained")
    ax.fill_between(
        months,
        [r["q05"] for r in rows],
        [r["q95"] for r in rows],
        color="tab:blue",
        alpha=0.18,
        lw=0,
        label="90% interval (5% to 95%)",
    )
    ax.fill_between(
        months,
        [r["q25"] for r in rows],
        [r["q75"] for r in rows],
        color="tab:blue",
        alpha=0.35,
        lw=0,
        label="50% interval (25% to 75%)",
    )
    ax.plot(months, [r["q50"] for r in rows], color="tab:blue", lw=2, label="median")
    ax.plot(
        months,
        [r["upper_at_confidence"] for r in rows],
        color="navy",
        lw=1.2,
        ls="--",
        label=f"{doc['confidence']:.0%} quantile (the buffer a re-evaluation at month t needs)",
    )
    policy_top = _draw_policies(ax, doc)
    b = doc["buffer"]
    ax.plot(
        [b["month"]],
        [b["oom"]],
        "o",
        ms=13,
        mfc="none",
        mec="tab:green",
        mew=2.5,
        zorder=5,
        label=f"buffer at month {b['month']}: {b['oom']:.2f} OOM ({fmt_multiplier(b['oom'])})",
    )
    ax.set_xlabel("months after the evaluation")
    ax.set_ylabel("uplift U(t), OOM of effective compute")
    ax.set_xlim(0, max(ax.get_xlim()[1], months[-1] + 0.4))
    top = max(max(r["q95"] for r in rows), policy_top, b["oom"]) * 1.12 + 0.05
    ax.set_ylim(0, top)
    right = ax.secondary_yaxis("right", functions=(_pow10, _log10))
    ticks = [t for t in (1, 1.5, 2, 3, 4, 6, 10, 20, 50, 100, 200, 500, 1000, 3000, 10000)]
    ticks = [t for t in ticks if _log10(t) <= top]
    if len(ticks) > 8:
        ticks = [t for t in ticks if t not in (1.5, 3, 6)]
    right.set_yticks(ticks, [f"{t:g}x" for t in ticks])
    right.set_ylabel("multiplier of effective compute")
    _titles(
        fig,
        ax,
        f"{doc['title']}: uplift from post-training enhancements not yet applied",
        caption(doc),
    )
    fig.legend(loc="outside lower center", ncols=1, fontsize=7.5, frameon=False)
    ax.grid(alpha=0.3)
    _save(fig, path)


def _draw_policies(ax, doc: dict) -> float:
    """Each policy at its own period: a stated buffer as a dotted line from month 0
    to the period, ending in a bar; a rule without one as a cross at the buffer it needs
    there (at the horizon for a rule with no numeric cadence). Rules that share a point share
    a label. Returns the highest value drawn (OOM)."""
    from forecast.core.units import fmt_multiplier

    groups: dict[tuple, list[str]] = {}
    for p in doc["policies"]:
        short = p["title"].split(" (")[0]
        if p["buffer_oom"] is not None:
            key = ("buffer", p["period_months"], round(p["buffer_oom"], 6), p["buffer_multiplier"])
        else:
            basis = "horizon" if p["period_basis"].startswith("horizon") else "period"
            key = ("needs", p["period_months"], round(p["implied_buffer_oom"], 6), basis)
        groups.setdefault(key, []).append(short)
    top = 0.0
    for k, ((kind, period, value, extra), names) in enumerate(groups.items()):
        colour = POLICY_COLOURS[k % len(POLICY_COLOURS)]
        who = ", ".join(names)
        if kind == "buffer":
            label = f"stated {extra:g}x buffer, re-evaluated every {period:g} months: {who}"
            ax.plot([0, period], [value, value], color=colour, lw=1.2, ls=":")
            ax.plot([period], [value], "|", color=colour, ms=14, mew=2.5, label=_wrap(label, 110))
        else:
            over = (
                f"the {period:g}-month horizon (no numeric cadence)"
                if extra == "horizon"
                else f"its {period:g}-month period"
            )
            label = (
                f"no stated buffer; needs {value:.2f} OOM ({fmt_multiplier(value)}) over "
                f"{over}: {who}"
            )
            ax.plot(
                [period],
                [value],
                "x",
                color=colour,
                ms=9,
                mew=2.5,
                zorder=6,
                label=_wrap(label, 110),
            )
        top = max(top, value)
    if groups:
        right = max(key[1] for key in groups)
        ax.set_xlim(left=0, right=max(ax.get_xlim()[1], right * 1.05))
    return top


def _pow10(v):
    """10**v for the multiplier axis, kept finite (matplotlib probes far beyond the data)."""
    return np.power(10.0, np.clip(v, -300.0, 300.0))


def _log10(m):
    return np.log10(np.maximum(m, 1e-12))


@literal_text
def p_cross_chart(doc: dict, path) -> None:
    """P(an eval meets its dangerous threshold by month t), one line per eval, with alpha."""
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.8), dpi=DPI, layout="constrained")
    alpha = 1 - doc["confidence"]
    highest = alpha
    for e in doc["evals"]:
        state = e.get("status", {}).get("state")
        label = e["name"] + (f" ({state} at month {doc['horizon_months']})" if state else "")
        ax.plot(e["months"], e["p_cross_over_time"], lw=2, label=label)
        highest = max(highest, max(e["p_cross_over_time"], default=0.0))
    ax.axhline(alpha, color="tab:red", ls="--", lw=1, label=f"alpha = {alpha:.0%} (1 - confidence)")
    # Small probabilities would sit on the axis of a 0-to-1 plot: zoom to the data.
    ax.set_ylim(0, min(1.0, max(highest * 1.25, 2.5 * alpha)))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("months after the evaluation")
    ax.set_ylabel("P(threshold met by month t)")
    _titles(
        fig,
        ax,
        f"{doc['title']}: probability that each eval meets its dangerous threshold",
        caption(doc),
    )
    if not doc["evals"]:
        ax.text(0.5, 0.5, "this scenario has no evals", ha="center", transform=ax.transAxes)
        ax.set_xlim(0, max(doc["horizon_months"], 1))
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    _save(fig, path)


@literal_text
def tornado_chart(
    rows: list[dict], baseline_oom: float, path, title: str, subtitle: str = ""
) -> None:
    """Sensitivity of the buffer to each prior, with the direction of each swing.

    Every prior gets one thin bar per variation (shift down, shift up, tighten, widen),
    drawn from the buffer under the default priors (the black line) to the buffer under
    that variation: a bar to the right means the variation raises the buffer, to the left
    that it lowers it. Unreliable reweighted values (Pareto k > 0.7) are hatched and
    marked ``!``. Priors that barely move the buffer (swing below 0.005 OOM), that need a
    refit (a fixed fit prior) or that do not act on the uplift are named under the chart.
    """
    from forecast.report.text import swing_text

    shown, quiet = [], []
    for r in rows:
        text = swing_text(r)
        if text in ("refit needed", "no effect", "-") or (
            text[0].isdigit() and r["swing_oom"] < 0.005
        ):
            quiet.append((r["prior"], text))
        else:
            shown.append(r)
    n = max(len(shown), 1)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.5 * n + 2.6), dpi=DPI, layout="constrained")
    values = [baseline_oom]
    # Top to bottom within a prior, as in the legend: shift down, shift up, tighten, widen.
    offsets = {"shift_down": 0.3, "shift_up": 0.1, "tighten": -0.1, "widen": -0.3}
    for i, r in enumerate(reversed(shown)):
        for v in r["variations"]:
            if v["buffer_oom"] is None or v["how"] not in offsets:
                continue
            label, colour = VARIATION_STYLE[v["how"]]
            delta = v["buffer_oom"] - baseline_oom
            ax.barh(
                i + offsets[v["how"]],
                delta,
                left=baseline_oom,
                height=0.19,
                color=colour,
                alpha=1.0 if v["reliable"] else 0.35,
                hatch=None if v["reliable"] else "///",
                edgecolor=colour,
            )
            if not v["reliable"]:
                ax.text(v["buffer_oom"], i + offsets[v["how"]], " !", va="center", fontsize=7)
            values.append(v["buffer_oom"])
    span = (max(values) - min(values)) or 0.1
    ax.set_xlim(min(values) - 0.06 * span, max(values) + 0.06 * span)
    margin = matplotlib.transforms.blended_transform_factory(ax.transAxes, ax.transData)
    for i, r in enumerate(reversed(shown)):
        text = swing_text(r)
        ax.text(
            1.01,
            i,
            f"{text} OOM" if text[0].isdigit() else text,
            va="center",
            fontsize=7.5,
            transform=margin,
        )
    ax.text(1.01, n - 0.5, "swing", va="bottom", fontsize=7.5, weight="bold", transform=margin)
    labels = [f"{r['prior']}\n{r['distribution']}, {r['drives']}" for r in reversed(shown)]
    ax.set_yticks(range(len(shown)), labels, fontsize=7.5)
    ax.set_ylim(-0.6, n - 0.4)
    ax.axvline(baseline_oom, color="black", lw=1.2)
    ax.set_xlabel(
        f"buffer, OOM (black line: {baseline_oom:.2f} OOM under the default priors; a bar to "
        "the right raises it)",
        fontsize=9,
    )
    handles = [
        matplotlib.patches.Patch(color=colour, label=label)
        for label, colour in VARIATION_STYLE.values()
    ]
    handles.append(
        matplotlib.patches.Patch(
            facecolor="white", edgecolor="0.4", hatch="///", label="unreliable (k > 0.7): refit"
        )
    )
    notes = []
    if quiet:
        groups: dict[str, list[str]] = {}
        for name, text in quiet:
            key = text if not text[0].isdigit() else "swing below 0.005 OOM"
            groups.setdefault(key, []).append(name)
        notes = [f"{key}: {', '.join(names)}" for key, names in groups.items()]
    below = _wrap("Not drawn: " + "; ".join(notes) + ".", CAPTION_CHARS) if notes else ""
    _titles(
        fig,
        ax,
        title,
        "\n".join(t for t in (subtitle, below) if t),
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=7.5, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


@literal_text
def decomposition_chart(explanation: dict, path, title: str, subtitle: str = "") -> None:
    """What sets the uplift at the horizon (forecast.explain.decompose): for the median band
    and the draws at and above the buffer, a waterfall from 0 through what the evidence's
    rate and size of improvements imply, what attention adds and what chance adds, to the
    band's mean uplift (OOM)."""
    labels = explanation["part_labels"]
    split = explanation["decomposition"]
    bands = [("tail", "draws at and above\nthe buffer"), ("median", "median band\n(40% to 60%)")]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.9), dpi=DPI, layout="constrained")
    lowest, highest = 0.0, 1e-3
    for i, (band, _) in enumerate(bands):
        level = 0.0
        for k, part in enumerate(split[band]["parts"]):
            colour = PART_COLOURS[k % len(PART_COLOURS)]
            ax.barh(
                i,
                part["oom"],
                left=level,
                color=colour,
                height=0.55,
                label=labels.get(part["part"], part["part"]) if i == 0 else None,
            )
            level += part["oom"]
            lowest, highest = min(lowest, level), max(highest, level, level - part["oom"])
        ax.plot([level], [i], "k|", ms=18)
        ax.text(level, i + 0.38, f"mean {split[band]['mean_uplift_oom']:.2f} OOM", fontsize=8)
    ax.axvline(explanation["buffer_oom"], color="black", lw=1, ls="--")
    ax.text(
        explanation["buffer_oom"],
        0.5,
        f" the buffer, {explanation['buffer_oom']:.2f} OOM",
        fontsize=7.5,
        va="center",
    )
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.set_yticks(range(len(bands)), [label for _, label in bands], fontsize=8)
    ax.set_xlim(min(lowest, 0.0) * 1.1 - 0.05, max(highest, explanation["buffer_oom"]) * 1.2)
    ax.set_xlabel("mean uplift at the horizon, OOM: each part added in turn")
    _titles(fig, ax, title, subtitle)
    fig.legend(loc="outside lower center", ncols=2, fontsize=7, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


@literal_text
def profiles_chart(rows: list[dict], path, title: str, subtitle: str = "") -> None:
    """The buffer under each assumption profile (forecast.explain.profiles.profile_table): one
    point per profile, with the median uplift, so the range an analyst can defend is seen
    at a glance."""
    from forecast.core.units import fmt_multiplier

    fig, ax = plt.subplots(
        figsize=(WIDTH_IN, 0.55 * len(rows) + 2.0), dpi=DPI, layout="constrained"
    )
    failed = [r["title"] for r in rows if "error" in r]
    rows = [r for r in rows if "error" not in r]
    if failed:
        subtitle += f"\nnot drawn (could not be simulated): {', '.join(failed)}"
    order = sorted(rows, key=lambda r: r["buffer_oom"])
    for i, r in enumerate(order):
        ax.plot([r["median_oom"], r["buffer_oom"]], [i, i], color="0.6", lw=1.5)
        ax.plot([r["median_oom"]], [i], "o", color="tab:blue", ms=6)
        ax.plot([r["buffer_oom"]], [i], "D", color="tab:green", ms=7)
        ax.text(
            r["buffer_oom"],
            i + 0.18,
            f"{r['buffer_oom']:.2f} OOM ({fmt_multiplier(r['buffer_oom'])})",
            fontsize=8,
            ha="center",
        )
    ax.set_yticks(range(len(order)), [_wrap(r["title"], 28) for r in order], fontsize=8)
    top = max(r["buffer_oom"] for r in order) if order else 1.0
    ax.set_xlim(-0.02 * (top + 0.05), top * 1.2 + 0.05)  # a median of 0 stays visible
    ax.set_ylim(-0.6, len(order) - 0.3)
    ax.set_xlabel("uplift at the horizon, OOM (circle: median; diamond: the buffer)")
    _titles(fig, ax, title, subtitle)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


def is_png(path: str | Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


@literal_text
def curve_chart(
    rows: list[dict],
    x: str,
    series: dict[str, str],
    path,
    title: str,
    subtitle: str = "",
    xlabel: str = "",
    log_x: bool = False,
    mark=None,
) -> None:
    """The buffer (OOM) against one assumption, one line per setting (``series``: key of
    ``rows`` -> label); ``mark`` = (x, y, label) marks the scenario as run."""
    import datetime as dt

    from forecast.core.units import fmt_multiplier

    def position(value):
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    xs = [position(r[x]) for r in rows]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.8), dpi=DPI, layout="constrained")
    top = 0.0
    for key, label in series.items():
        ys = [r[key] for r in rows]
        ax.plot(xs, ys, marker="o", ms=3.5, lw=1.8, label=label)
        top = max(top, max(ys))
    if mark is not None:
        mx, my, mlabel = mark
        ax.plot(
            [position(mx)],
            [my],
            "o",
            ms=11,
            mfc="none",
            mec="black",
            mew=1.8,
            label=f"{mlabel}: {my:.2f} OOM ({fmt_multiplier(my)})",
        )
        top = max(top, my)
    if log_x:
        ax.set_xscale("log")
    ax.set_ylim(0, top * 1.15 + 0.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("buffer at the horizon, OOM")
    right = ax.secondary_yaxis("right", functions=(_pow10, _log10))
    ticks = [t for t in (1, 2, 3, 5, 10, 20, 50, 100, 300, 1000) if _log10(t) <= top * 1.15 + 0.05]
    right.set_yticks(ticks, [f"{t:g}x" for t in ticks])
    right.set_ylabel("multiplier")
    _titles(fig, ax, title, subtitle)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    _save(fig, path)
