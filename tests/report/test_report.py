"""The report end to end on one small forecast: the Markdown report, report.html, the
resolved scenario, and the figures.

Most tests use one small forecast of the default scenario whose uplift-model fit has
made-up draws (conftest.fake_sampler: no NUTS, the report is not about sampling) with the
failed diagnostics a fit this small gets, so the report's warnings show; the catalogue
model's shipped summary is read. The rest check the pure formatting on hand-made rows."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re

import pytest
from conftest import BAD_DIAGNOSTICS, fake_sampler

import forecast.fit.engine
from forecast.buffer.forecasting import HISTORIES_SETTINGS
from tests.report.test_text import _row, _v

#: The uplift model's sampler settings of these tests (what ``--fit-draws 150 --fit-tune 150
#: --chains 2`` give); the catalogue model keeps its default settings (its summary ships).
SMALL = dataclasses.replace(HISTORIES_SETTINGS, draws=150, tune=150, chains=2)
#: A small fit's diagnostics (they fail: bulk ESS below 400, as a real fit of 2 x 150 draws
#: does, naming its worst variable), on made-up draws.
FAKE = fake_sampler(diagnostics=(*BAD_DIAGNOSTICS, "attention_spread", "attention_spread"))


@contextlib.contextmanager
def fake_fits(folder):
    """Fits (made-up draws) cached in ``folder`` inside the block: any fit the forecast, the
    sensitivity ranking or the profiles need is made up, never sampled."""
    old_dir, old_sample = os.environ.get("FORECAST_CACHE_DIR"), forecast.fit.engine._sample
    os.environ["FORECAST_CACHE_DIR"] = str(folder)
    forecast.fit.engine._sample = FAKE
    try:
        yield
    finally:
        forecast.fit.engine._sample = old_sample
        if old_dir is None:
            os.environ.pop("FORECAST_CACHE_DIR")
        else:
            os.environ["FORECAST_CACHE_DIR"] = old_dir


@pytest.fixture(scope="module")
def reviewed(shared_cache):
    """A small forecast of the default scenario and its review documents."""
    from forecast import api
    from forecast.api import review

    with fake_fits(shared_cache):
        result = api.run_scenario(settings=SMALL)
        docs = review(result, quick_sensitivity=True)
    return result, docs


# --------------------------------------------------------------------------- the report


def test_the_report_explains_the_buffer_and_shows_no_python_values(reviewed):
    from forecast.report.markdown import markdown_report

    result, docs = reviewed
    text = markdown_report(docs["run"], docs)
    for heading in (
        "## Why this buffer",
        "## Assumption profiles",
        "## Sensitivity",
        "## Prior predictive check",
        "## Calibration and backtest",
    ):
        assert heading in text
    assert not re.search(r"\b(None|True|False|nan)\b", text)
    ex = docs["explanation"]
    assert f"| priors alone, no evidence | {ex['prior_only_buffer_oom']:.2f} |" in text
    assert ex["rule"] in text
    # Without the review documents, the sections that need them are left out.
    short = markdown_report(docs["run"])
    assert "## Why this buffer" in short and "## Sensitivity" not in short


def test_the_report_names_only_the_figures_it_has(reviewed):
    from forecast.report.markdown import markdown_report

    _, docs = reviewed
    text = markdown_report(docs["run"], docs, figures={"fan_chart.png"})
    assert "](fan_chart.png)" in text and "](tornado.png)" not in text


def test_the_report_gives_each_models_diagnostics_verdict(reviewed):
    from forecast.report.markdown import markdown_report

    result, docs = reviewed
    text = markdown_report(docs["run"], docs)
    uplift = next(line for line in text.splitlines() if line.startswith("- Uplift model: R-hat"))
    catalogue = next(line for line in text.splitlines() if line.startswith("- Catalogue model:"))
    assert not result.fits.histories.diagnostics.ok
    assert "**FAILED: bulk ESS 120 \\< 400 (attention_spread)" in uplift  # escaped once
    assert "Do not rely on these figures" in uplift
    assert "2 chains x 150 draws" in uplift
    assert ("**passed**" in catalogue) == result.fitted.diagnostics.ok


def test_warnings_reach_the_json_and_the_report(shared_cache):
    from forecast import api
    from forecast.report.document import result_document
    from forecast.report.markdown import markdown_report

    with fake_fits(shared_cache):
        result = api.run_scenario("frontier-open-weights", actor="public_api", settings=SMALL)
    doc = result_document(result)
    assert len(doc["warnings"]) == 1 and "weights are open" in doc["warnings"][0]
    text = markdown_report(doc)
    assert "**Warnings about the inputs:**" in text and "weights are open" in text


def test_a_hostile_title_is_shown_as_text_in_html():
    from forecast.report.html import html_report

    page = html_report(
        "# <script>alert(1)</script>\n\n![fig](a.png)\n\n![gone](b.png)\n",
        {"a.png": b"\x89PNG fake"},
        "t <b>",
    )
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'src="data:image/png;base64,' in page
    assert "b.png" not in page.split("<body>")[1].replace("figure not included: gone", "")
    assert "<title>t &lt;b&gt;</title>" in page


def test_the_resolved_scenario_is_a_valid_scenario(reviewed):
    from forecast.core.schemas.scenario import Scenario
    from forecast.inputs.resolve import resolved_scenario

    result, _ = reviewed
    doc = resolved_scenario(result.inputs)
    again = Scenario.model_validate(doc)
    assert again.horizon_months == result.horizon_months and again.actor == result.actor
    tasks = [e["tasks_file"] for e in doc["evals"] if e.get("tasks_file")]
    assert tasks and all(t.startswith("/") for t in tasks)
    assert doc["policies"] == [p.name for p in result.inputs.policies]


# --------------------------------------------------------------------------- figures


@pytest.fixture
def drawn(monkeypatch):
    """Keep the figures the plotting functions make instead of closing them."""
    from forecast.report import plots

    figures = []

    def keep(fig, path):
        fig.savefig(path, format="png", dpi=plots.DPI)
        figures.append(fig)

    monkeypatch.setattr(plots, "_save", keep)
    yield figures
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _check_layout(fig) -> None:
    """Titles and legends inside the figure; legends never over the axes (the data)."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    ax = fig.axes[0]
    axes_box = ax.get_window_extent(renderer)
    texts = [fig._suptitle, ax.title, *fig.legends]
    for artist in texts:
        if artist is None or (hasattr(artist, "get_text") and not artist.get_text()):
            continue
        box = artist.get_window_extent(renderer)
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, artist
        assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, artist
    for legend in fig.legends + ([ax.get_legend()] if ax.get_legend() else []):
        assert not _boxes_overlap(legend.get_window_extent(renderer), axes_box)


def test_every_figure_fits_its_titles_and_keeps_legends_off_the_data(reviewed, drawn, tmp_path):
    from forecast.report import plots

    _, docs = reviewed
    doc = docs["run"]
    doc = dict(doc, title="A very long scenario title " * 4)  # wrapped, never cut
    plots.fan_chart(doc, tmp_path / "fan.png")
    plots.p_cross_chart(doc, tmp_path / "p.png")
    plots.tornado_chart(
        docs["sensitivity"]["priors"],
        docs["sensitivity"]["buffer_oom"],
        tmp_path / "t.png",
        "Sensitivity " * 8,
        plots.caption(doc),
    )
    plots.decomposition_chart(docs["explanation"], tmp_path / "d.png", "Sources", "c")
    plots.profiles_chart(docs["profiles"], tmp_path / "pr.png", "Profiles", "c")
    assert len(drawn) == 5
    for fig in drawn:
        _check_layout(fig)
    for name in ("fan.png", "p.png", "t.png", "d.png", "pr.png"):
        assert plots.is_png(tmp_path / name)


def test_the_caption_states_horizon_confidence_and_profile(reviewed, drawn, tmp_path):
    from forecast.report import plots

    _, docs = reviewed
    doc = dict(docs["run"], profile="cautious")
    text = plots.caption(doc)
    assert "horizon 12 months" in text and "confidence 95%" in text
    assert "profile cautious" in text and "forecast seed 0" in text
    assert "profile" not in plots.caption(doc, profile=False)
    plots.fan_chart(doc, tmp_path / "fan.png")
    assert drawn[0].axes[0].get_title(loc="left") == text


def test_policy_buffers_are_drawn_at_their_own_periods(reviewed, drawn, tmp_path):
    from forecast.report import plots

    _, docs = reviewed
    doc = docs["run"]
    plots.fan_chart(doc, tmp_path / "fan.png")
    ax = drawn[0].axes[0]
    points = {
        (round(float(x[-1]), 6), round(float(y[-1]), 6))
        for line in ax.get_lines()
        for x, y in [line.get_data()]
        if len(x) == 1
    }
    assert doc["policies"]
    for p in doc["policies"]:
        value = p["buffer_oom"] if p["buffer_oom"] is not None else p["implied_buffer_oom"]
        assert (round(p["period_months"], 6), round(value, 6)) in points, p["name"]


def test_the_tornado_shows_the_direction_of_each_variation(drawn, tmp_path):
    from forecast.report import plots

    rows = [
        _row(
            [_v("shift_down", 0.4), _v("shift_up", 0.9), _v("tighten", 0.55), _v("widen", 0.7)], 0.5
        ),
        _row([_v("shift_down", None, "not_reweightable", None, False)]),
    ]
    rows[1]["prior"] = "noise_dof"
    plots.tornado_chart(rows, 0.6, tmp_path / "t.png", "t", "c")
    ax = drawn[0].axes[0]
    bars = {
        round(patch.get_facecolor()[2], 3): (patch.get_x(), patch.get_width())
        for patch in ax.patches
    }
    import matplotlib.colors

    down = bars[round(matplotlib.colors.to_rgba("tab:blue")[2], 3)]
    up = bars[round(matplotlib.colors.to_rgba("tab:red")[2], 3)]
    assert down[0] == pytest.approx(0.6) and down[1] == pytest.approx(-0.2)  # lowers
    assert up[0] == pytest.approx(0.6) and up[1] == pytest.approx(0.3)  # raises
    assert len(ax.patches) == 4  # noise_dof is named, not drawn as a zero bar
    assert "refit needed: noise_dof" in ax.get_title(loc="left")


def test_input_paths_are_shown_as_written_in_the_provenance():
    """A path inside a code span is not Markdown-escaped: an installed package's
    `site-packages/forecast/_data/...` must not read `\\_data`."""
    from forecast.report.markdown import provenance_section

    path = "/venv/lib/python3.11/site-packages/forecast/_data/scenarios/frontier-api.yaml"
    inputs = [{"role": "scenario", "path": path, "sha256": "ab" * 32, "bytes": 10}]
    text = "\n".join(provenance_section({"provenance": {}}, inputs))
    assert f"`{path}`" in text and "\\_" not in text


# --------------------------------------------------------------------------- hostile text

#: Hostile pieces for the report's user text (issue 22's reproducers among them).
_PIECES = [
    "<script>alert(1)</script>", "<img src=http://e.example/p.png>", "![q](http://e.example/a)",
    "[l](http://e.example)", "http://e.example", "www.e.example", "`", "``", " | 4 mo | ",
    "\n# heading\n", "\n---\n", "\n===\n", "1. ", "- ", "> ", "*", "_", "~~", "&lt;", "#",
    "\x1b]0;t\x07", "\x1b[31m", "\u202e", "\u2028", "\x00", "$\\alpha^$", "\\", "\t",
]  # fmt: skip


def _hostile():
    from hypothesis import strategies as st

    return st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text(min_size=1, max_size=4)),
        min_size=1,
        max_size=5,
    ).map("".join)


#: Where user text sits in the documents the report renders (``run`` is the run document).
_USER_TEXT = [
    ("run", "title"),
    ("run", "base_model", "name"),
    ("run", "warnings", 0),
    ("run", "policies", 0, "title"),
    ("run", "policies", 0, "version"),
    ("run", "policies", 0, "source", "document"),
    ("run", "policies", 0, "source", "url"),
    ("run", "policies", 0, "source", "section"),
    ("run", "policies", 0, "source", "checked_in"),
    ("run", "policies", 0, "quotes", 0, "text"),
    ("run", "policies", 0, "quotes", 0, "where"),
    ("run", "policies", 0, "reading", "notes"),
    ("run", "provenance", "sources"),
    ("explanation", "summary", 0),
    ("profiles", 0, "title"),
    ("calibration", 0, "file"),
    ("calibration", 0, "verdict"),
    ("calibration", 0, "lines", 0),
    ("calibration", 0, "table", "rows", 0, 0),
    ("inputs", 0, "path"),
]


def _tables(text: str) -> list[list[str]]:
    """Each Markdown table's lines."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def _cells(line: str) -> int:
    """Cells of a table line: pipes not escaped (an even run of backslashes before one)."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line)) - 1


def _rendered(text: str):
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    inline = [c for t in tokens for c in (t.children or [])]
    words = "".join(c.content for c in inline if c.type in ("text", "code_inline"))
    return tokens, headings, inline, words


def _base_documents(docs):
    import copy

    review = copy.deepcopy(docs)
    review["calibration"] = [
        {"file": "c.json", "kind": "sbc", "title": "simulation-based calibration",
         "verdict": "fine", "lines": ["a line"],
         "table": {"headers": ["quantity", "p"], "rows": [["q", "0.5"]]}},
    ]  # fmt: skip
    review["inputs"] = [{"role": "scenario", "path": "/a/s.yaml", "sha256": "ab" * 32, "bytes": 1}]
    review["run"]["warnings"] = ["a warning"]
    return review


def test_hostile_text_anywhere_in_the_documents_stays_text_in_the_report(reviewed):
    """Issue 22: policy fields, quotes, notes, titles, file names, calibration lines and
    warnings reach report.md escaped once where it is rendered: no HTML, link or image,
    exactly the report's own headings, every table's rows as wide as its header, and each
    value shown as written (escaped once: never twice, never not at all)."""
    import copy

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from forecast.core.escape import printable
    from forecast.report.markdown import markdown_report

    _, docs = reviewed
    base = _base_documents(docs)
    _, base_headings, _, _ = _rendered(markdown_report(base["run"], base))

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(values=st.lists(_hostile(), min_size=len(_USER_TEXT), max_size=len(_USER_TEXT)))
    def check(values):
        review = copy.deepcopy(base)
        for path, value in zip(_USER_TEXT, values, strict=True):
            target = review
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        text = markdown_report(review["run"], review)
        tokens, headings, inline, words = _rendered(text)
        assert len(headings) == len(base_headings)
        assert not [t for t in tokens if t.type.startswith("html_")]
        assert not [c for c in inline if c.type.startswith(("html_", "link_"))]
        assert all(c.attrGet("src").endswith(".png") for c in inline if c.type == "image")
        for table in _tables(text):
            assert len({_cells(line) for line in table}) == 1, table
        flat = words.replace(" ", "")
        for value in values:
            shown = printable(" ".join(value.split())).replace(" ", "")
            assert shown in flat, (value, shown)

    check()
