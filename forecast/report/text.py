"""Text pieces shared by the renderings: the fan chart, sensitivity cells, Markdown tables.

:func:`fan_chart` draws one text bar per month; :func:`variation_text` and
:func:`swing_text` word a prior's sensitivity where a number would mislead; :func:`cell`
shows a value as a report does and :func:`md_table` lays out a Markdown table. User text
is escaped by the sink's rule in :mod:`forecast.core.escape`, never here. Pure functions on
strings and dicts.
"""

from __future__ import annotations


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
    "uplift; beyond the limits: the variation makes the simulation unbounded, so it has no "
    "buffer."
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


class Figures:
    """Which figures a report may show (all of them when not told)."""

    def __init__(self, names):
        self.names = None if names is None else set(names)

    def image(self, name: str, alt: str) -> list[str]:
        if self.names is not None and name not in self.names:
            return []
        return [f"![{alt}]({name})", ""]


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
    """A Markdown table; cells are written as given (user text escaped by
    :func:`forecast.core.escape.markdown`, code by ``markdown_code(..., in_table=True)``)."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---:" if k in right else "---" for k in range(len(headers))) + " |",
    ]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines + [""]
