"""forecast.core.escape: one escaping rule per sink, checked on generated hostile text.

Each property renders generated text through a sink's function and reads the result the
way its consumer would: Markdown with a CommonMark + GFM-tables parser, the HTML page with
an HTML parser, the terminal through Rich on a colour terminal, CSV with the csv module,
figures with matplotlib. The text mixes fragments built to hurt (raw HTML, links and
images, code fences, table pipes, headings, escape sequences, bidirectional overrides,
NUL, mathtext, formulas) with random Unicode.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forecast.core.escape import (
    csv_cell,
    excerpt,
    html,
    markdown,
    markdown_code,
    markdown_document,
    plot_text,
    printable,
    terminal,
)

#: Pieces of hostile text (issue 22's reproducers among them).
FRAGMENTS = [
    "<script>alert(1)</script>",
    "<img src=http://evil.example/p.png>",
    "![q](http://evil.example/a.png)",
    "[link](javascript:alert(1))",
    "<style>body{background:url(http://evil.example/s)}</style>",
    "<http://evil.example>",
    "http://evil.example/x",
    "www.evil.example",
    "someone@evil.example",
    "`",
    "``",
    "```",
    "|",
    " | 4 mo | ",
    "\n# heading\n",
    "#",
    "\n---\n",
    "\n===\n",
    "\n> quote\n",
    "\n- item\n",
    "1. ",
    "2) ",
    "*",
    "**",
    "_",
    "__init__",
    "~~",
    "&lt;",
    "&#60;",
    "\\",
    "\x1b]0;title\x07",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[31m",
    "\x1b[2J",
    "\x9b31m",
    "\x00",
    "\r",
    "\t",
    "\u2028",
    "\u202e",
    "\u2066",
    "\u200b",
    "$5M vs $10M",
    "$\\alpha^$",
    "\\$",
    '=HYPERLINK("http://evil.example")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "[bold]",
    "[/]",
    "[link=http://evil.example]x[/link]",
    ":warning:",
    "\udcff",
    "a",
    " ",
]
HOSTILE = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), min_size=1, max_size=8
).map("".join)

#: Characters that must never leave the program as they are: C0 and C1 controls (ESC,
#: BEL, NUL, CSI), bidirectional controls, zero-width characters, line separators.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)

FUZZ = settings(max_examples=150, deadline=None, derandomize=True)


def shown_as(text: str) -> str:
    """What a one-line sink shows for ``text``: white space runs as one space, hidden
    characters as escapes."""
    return printable(" ".join(text.split()))


def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


MD = _parser()


def _inline_text(children) -> str:
    return "".join(t.content for t in children)


# --------------------------------------------------------------------------- Markdown


@FUZZ
@given(text=HOSTILE)
def test_markdown_text_shows_as_written_and_makes_no_markup(text):
    tokens = MD.parse(f"x {markdown(text)} y")
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    children = tokens[1].children
    assert {t.type for t in children} <= {"text"}, [t.type for t in children]
    assert _inline_text(children) == f"x {shown_as(text)} y"


@FUZZ
@given(text=HOSTILE)
def test_markdown_text_at_a_line_start_creates_no_block(text):
    """A value that fills a whole line (a calibration document's method, a list item)
    makes no heading, list, quote, rule or code block."""
    escaped = markdown(text)
    for source in (f"{escaped}\n", f"para\n{escaped}\n", f"- {escaped}\n"):
        types = [t.type for t in MD.parse(source) if t.type != "inline"]
        assert types in (
            ["paragraph_open", "paragraph_close"],
            ["bullet_list_open", "list_item_open", "paragraph_open", "paragraph_close"]
            + ["list_item_close", "bullet_list_close"],
        ) or not shown_as(text), (source, types)


@FUZZ
@given(text=HOSTILE)
def test_markdown_heading_stays_one_heading(text):
    tokens = MD.parse(f"# Forecast: {markdown(text)}\n\nbody\n")
    assert [t.type for t in tokens if t.type.startswith("heading")] == [
        "heading_open",
        "heading_close",
    ]
    assert _inline_text(tokens[1].children) == f"Forecast: {shown_as(text)}".strip()


@FUZZ
@given(text=HOSTILE)
def test_markdown_table_keeps_its_columns(text):
    rows = [
        "| policy | file | verdict |",
        "| --- | --- | --- |",
        f"| {markdown(text)} | {markdown_code(text, in_table=True)} | covers |",
    ]
    tokens = MD.parse("\n".join(rows) + "\n")
    cells = [i for i, t in enumerate(tokens) if t.type == "td_open"]
    assert len(cells) == 3
    first, second, third = (tokens[i + 1] for i in cells)
    assert third.content == "covers"
    assert _inline_text(first.children) == shown_as(text)
    code = [t for t in second.children if t.type == "code_inline"]
    if shown_as(text):
        assert len(code) == 1 and code[0].content == shown_as(text)


@FUZZ
@given(text=HOSTILE)
def test_markdown_code_span_holds_any_backticks(text):
    tokens = MD.parse(f"from {markdown_code(text)} on\n")
    children = tokens[1].children
    code = [t for t in children if t.type == "code_inline"]
    assert {t.type for t in children} <= {"text", "code_inline"}
    if shown_as(text):
        assert len(code) == 1 and code[0].content == shown_as(text)


@FUZZ
@given(text=HOSTILE)
def test_markdown_escaping_twice_changes_nothing(text):
    once = markdown(text)
    assert markdown(once) == once
    assert markdown_document({"k": [once, {"x": once}]}) == {"k": [once, {"x": once}]}
    assert markdown_code(once) == markdown_code(text)  # the code span quotes the original


@FUZZ
@given(text=HOSTILE)
def test_markdown_leaves_no_bare_url_or_hidden_character(text):
    """GitHub-style renderers link bare URLs and ``www.`` names: the ``:`` and ``.`` that
    make one are escaped, so no autolink is found in the rendered text either."""
    escaped = markdown(text)
    assert not FORBIDDEN.search(escaped)
    assert not re.search(r"(?<!\\):(?=//)", escaped)
    assert not re.search(r"(?i)www(?!\\)\.", escaped)


def test_markdown_reproducers_of_issue_22():
    assert markdown("x ![q](http://e/a.png)") == "x !\\[q\\](http\\://e/a.png)"
    assert markdown("# title") == "\\# title"
    assert markdown("a | b") == "a \\| b"
    assert markdown("snake_case _em_ __init__") == "snake_case \\_em\\_ \\_\\_init\\_\\_"
    assert markdown("C# and #") == "C# and \\#"
    assert markdown("two\nlines") == "two lines"
    assert markdown_code("a``b") == "``` a``b ```" and markdown_code("a|b", True) == "`a\\|b`"
    assert markdown_code("") == ""


# --------------------------------------------------------------------------- HTML


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead",
    "tbody", "tr", "th", "td", "code", "ul", "li", "strong", "em", "img",
}  # fmt: skip


@settings(max_examples=60, deadline=None, derandomize=True)
@given(text=HOSTILE)
def test_report_html_runs_nothing_and_links_nothing(text):
    from forecast.report.html import html_report

    source = "\n".join(
        [
            f"# Forecast: {markdown(text)}",
            "",
            f"**{markdown(text)}**: from {markdown_code(text)}.",
            "",
            "| a | b |",
            "| --- | --- |",
            f"| {markdown(text)} | {markdown_code(text, in_table=True)} |",
            "",
            f"- {markdown(text)}",
            "",
            "![Uplift](fan_chart.png)",
            "",
        ]
    )
    page = html_report(source, {"fan_chart.png": b"\x89PNG"}, text)
    parsed = _Tags()
    parsed.feed(page)
    assert set(parsed.tags) <= PAGE_TAGS, set(parsed.tags) - PAGE_TAGS
    for tag, name, value in parsed.attrs:
        assert name not in ("href", "onload", "onerror", "action"), (tag, name)
        if name == "src":
            assert value.startswith("data:image/png;base64,")
    assert not FORBIDDEN.search(page)


@FUZZ
@given(text=HOSTILE)
def test_html_text_is_text(text):
    parsed = _Tags()
    parsed.feed(f'<p title="{html(text)}">{html(text)}</p>')
    assert parsed.tags == ["p"] and parsed.attrs == [("p", "title", printable(text))]
    assert "".join(parsed.text) == printable(text)


# --------------------------------------------------------------------------- terminal


@FUZZ
@given(text=HOSTILE)
def test_terminal_text_sends_no_escape_sequence(text):
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="truecolor", width=80, emoji=False
    )
    shown = terminal(text, keep_newlines=False)
    console.print(f"[bold]name:[/] [red]{shown}[/] end", soft_wrap=True)
    # Rich's own styles are SGR sequences (ESC [ ... m): nothing else may reach the terminal.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())
    assert not FORBIDDEN.search(plain)
    assert plain == f"name: {printable(text)} end\n"


def test_terminal_documents_keep_their_shape():
    doc = {"[k]": ["a\x1b[2J", 3, None, ("t\n", 1.5)]}
    assert terminal(doc) == {"\\[k]": ["a\\x1b[2J", 3, None, ("t\n", 1.5)]}
    assert terminal("a\nb", keep_newlines=False) == "a\\nb"


# --------------------------------------------------------------------------- CSV


@FUZZ
@given(text=HOSTILE, number=st.floats(allow_nan=False, allow_infinity=False))
def test_csv_cells_stay_one_cell_and_no_formula(text, number):
    from forecast.report.results import csv_text

    rows = list(csv.reader(io.StringIO(csv_text(["name", "value"], [[text, number]]))))
    assert len(rows) == 2 and len(rows[1]) == 2
    cell = rows[1][0]
    assert not FORBIDDEN.search(cell) and "\n" not in cell
    assert not cell.startswith(("=", "+", "@", "-")) or float_ok(cell)
    assert cell in (printable(text), "'" + printable(text))
    assert float(rows[1][1]) == number  # numbers are written as numbers


def float_ok(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_csv_cell_reproducers():
    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("-0.5") == "-0.5" and csv_cell(-0.5) == -0.5 and csv_cell(None) == ""


# --------------------------------------------------------------------------- matplotlib


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(text=HOSTILE)
@example(text="Cost $\\alpha^$ and \x00\x1b")
def test_figures_draw_any_text_literally_and_quietly(text):
    """mathtext off (``$\\alpha^$`` raised a ValueError, ``$5M vs $10M`` was italic), no
    glyph warnings for NUL or ESC, nothing hidden drawn."""
    from forecast.report import plots

    rows = [{"x": 1.0, "b": 0.5}, {"x": 2.0, "b": 0.7}]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.curve_chart(
            rows, "x", {"b": f"s {text}"}, buffer, title=text, subtitle=text, xlabel=text
        )
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_figure_text_is_drawn_without_mathtext(monkeypatch):
    from forecast.report import plots

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig))
    rows = [{"x": 1.0, "b": 0.5}, {"x": 2.0, "b": 0.7}]
    plots.curve_chart(rows, "x", {"b": "$5M vs $10M"}, None, title="Cost $\\alpha^$")
    texts = kept[0].findobj(lambda a: hasattr(a, "get_parse_math") and a.get_text())
    assert texts and not any(t.get_parse_math() for t in texts)
    assert kept[0]._suptitle.get_text() == "Cost $\\alpha^$"
    import matplotlib.pyplot as plt

    plt.close(kept[0])


def test_plot_text_cuts_and_keeps_lines():
    assert plot_text("a\x00b\n\tc") == "a\\x00b\n c"
    assert len(plot_text("x" * 10**6)) == 1000
    assert plot_text({"title": "\x1b", "n": 3}) == {"title": "\\x1b", "n": 3}


# --------------------------------------------------------------------------- excerpts


@FUZZ
@given(text=st.text(min_size=0, max_size=500))
def test_an_excerpt_is_short_and_printable(text):
    shown = excerpt(text, 40)
    assert len(shown) <= 40 and not FORBIDDEN.search(shown)
    assert shown.startswith(("'", '"')) and shown.endswith(shown[0])
    if len(repr(text)) <= 40:
        assert shown == printable(repr(text))


@pytest.mark.parametrize("value", [None, 3, 2.5, ["a"], {"k": "v"}])
def test_an_excerpt_of_other_values(value):
    assert excerpt(value) == repr(value)
