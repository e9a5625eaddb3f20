"""Issue 22's classes on the command line, each with generated variants.

- **Security**: hostile text in policy files and scenarios reaches report.md, report.html,
  the CSVs and the terminal as text (no HTML, link, image, heading, table shift, escape
  sequence or bidirectional override), on a made-up cached fit.
- **Foreign files**: a file that is not the tool's format, given as any kind of input, is
  refused without quoting more than a short excerpt of it.
- **Hangs and memory**: calibration documents malformed in every field a summary reads,
  nested too deep, too large, too many values, NaN or infinity: refused before any work.
  Titles, names and texts longer than their limits: refused at their field.
- **Silent and late**: options that used to be accepted or fail late (``--out ''``,
  ``--profile ''``, ``--trend ''``, ``--policies all,none``, a folder where an output file
  goes, a read-only parent) are refused before any work; odd terminal widths print.

The harness (sandbox with sampling forbidden, file listings before and after, a made-up
cached fit) is the one of ``test_bad_input_properties.py``.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import FAKE_FIT, LAB_RULE
from hypothesis import given
from hypothesis import strategies as st
from test_bad_input_properties import (
    INPUT_KINDS,
    SCENARIO,
    dump,
    fuzz,
    input_file,
    listing,
    refused_quickly,
    set_in,
    squash,
)

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--quick-sensitivity", "--no-profiles"]

# --------------------------------------------------------------------------- security

#: Hostile pieces (issue 22's reproducers among them) and random text around them.
FRAGMENTS = [
    "<script>alert(1)</script>",
    "<img src=http://evil.example/p.png>",
    "![q](http://evil.example/a.png)",
    "<style>body{background:url(http://evil.example/s)}</style>",
    "[l](http://evil.example)",
    "http://evil.example/x",
    "www.evil.example",
    "``",
    "`",
    " | 4 mo | ",
    "\n# heading\n",
    "\n---\n",
    "1. ",
    "- ",
    "> ",
    "*",
    "_",
    "\x1b]0;title\x07",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[31m",
    "\u202e",
    "\u2066",
    "$\\alpha^$",
    "$5M vs $10M",
    "=HYPERLINK(1)",
    "&lt;",
    "[bold]",
    "\\",
]
HOSTILE = (
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(min_size=1, max_size=5)),
        min_size=1,
        max_size=6,
    )
    .map("".join)
    .filter(lambda s: s.strip() and "\x00" not in s and len(s) <= 200)
)
#: Policy fields that reach the report, and their longest length.
POLICY_FIELDS = [
    (("title",), 200),
    (("publisher",), 200),
    (("version",), 40),
    (("source", "document"), 2000),
    (("source", "url"), 2000),
    (("source", "section"), 2000),
    (("source", "checked_in"), 2000),
    (("quotes", 0, "text"), 2000),
    (("quotes", 0, "where"), 2000),
    (("reading", "crossing"), 2000),
    (("reading", "notes"), 2000),
]
#: Tags the report page may hold; anything else came from user text.
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table",
    "thead", "tbody", "tr", "th", "td", "code", "ul", "li", "strong", "em", "img",
    "blockquote", "br",
}  # fmt: skip
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]


def _markdown_tokens(text: str):
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).parse(text)


def _check_report(bundle: Path, expected_headings: set[str], policy_title: str) -> None:
    """report.md parsed: no HTML, links or images but the figures, exactly the report's
    own headings, tables with a constant number of cells; report.html: only the page's
    own tags, no link, images only embedded; the CSVs: one cell per value."""
    report = (bundle / "report.md").read_text()
    assert not HIDDEN.search(report)
    tokens = _markdown_tokens(report)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert set(headings) <= expected_headings | {h for h in headings if h.startswith("Post-")}, (
        set(headings) - expected_headings
    )
    for t in tokens:
        assert not t.type.startswith("html_"), t
        for child in t.children or []:
            assert not child.type.startswith(("html_", "link_")), child
            if child.type == "image":
                assert child.attrGet("src").endswith(".png") and "/" not in child.attrGet("src")
    # the policy table: the verdict column still holds a verdict
    section = report.split("## Policy comparison", 1)[1].split("### What each reading", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| {policy_title} |"))
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert len(cells) == 5 and re.search(r"covers|needs|does not cover", cells[3]), row
    page = _Page()
    page.feed((bundle / "report.html").read_text())
    assert page.tags <= PAGE_TAGS, page.tags - PAGE_TAGS
    for tag, name, value in page.attrs:
        assert name != "href" and not name.startswith("on"), (tag, name)
        assert name != "src" or value.startswith("data:image/png;base64,")
    for name in ("uplift.csv", "sensitivity.csv"):
        rows = list(csv.reader(io.StringIO((bundle / name).read_text())))
        assert len({len(r) for r in rows}) == 1, name


@fuzz(6)
@given(
    values=st.lists(HOSTILE, min_size=len(POLICY_FIELDS), max_size=len(POLICY_FIELDS)),
    title=HOSTILE,
)
def test_hostile_policy_and_scenario_text_reaches_every_output_as_text(
    run_cli, warm, values, title
):
    """Issue 22, class 1: every policy field and the scenario title, generated from
    hostile pieces, in report.md, report.html, the CSVs, the figures and the terminal."""
    rule = yaml.safe_load(LAB_RULE)
    for (path, limit), value in zip(POLICY_FIELDS, values, strict=True):
        set_in(rule, path, value[:limit])
    scenario = copy.deepcopy(SCENARIO)
    scenario["title"] = title
    scenario["policies"] = ["none"]
    out = warm / "cwd" / "bundle"
    with (
        input_file(warm, "policy.yaml", dump(rule)) as policy,
        input_file(warm, "scenario.yaml", dump(scenario)) as scenario_file,
    ):
        code, stdout, stderr = run_cli(
            ["export", scenario_file, "--policy", policy, "--out", out, *FAKE_FIT, *QUICK]
        )
    assert code == 0, stderr
    assert not HIDDEN.search(stdout) and stdout.count("\n") <= 3  # the one success line
    from forecast.core.escape import markdown

    expected = {
        "Summary", "Why this buffer", "The draws that set the buffer, against all draws",
        "Sensitivity", "Inputs", "Method", "Uplift over time", "Evaluations",
        "Policy comparison", "What each reading rests on", "Prior predictive check",
        "Calibration and backtest", "Diagnostics", "Caveats (Davidson et al. 2023, section 4)",
        "Provenance", "Assumption profiles", "Backtest against later measurements",
        "Leave-one-out PIT of the catalogue's figures", "Assumptions the evidence does not settle",
        "Caveats",
    }  # fmt: skip
    _check_report(out, expected, markdown(rule["title"]))
    import shutil

    shutil.rmtree(out)


def test_issue_22_reproducers_in_a_policy_file(run_cli, warm):
    """The policy file of issue 22: script, image, style, a quote that became a heading, a
    pipe that shifted the verdict, escape sequences, a bidirectional override."""
    rule = yaml.safe_load(LAB_RULE)
    rule["title"] = "Evil <script>x</script> | 4 mo | \u202ereversed"
    rule["publisher"] = "<img src=http://evil.example/p.png>"
    rule["source"]["document"] = "<style>body{background:url(http://evil.example/s)}</style>"
    rule["source"]["section"] = "4.2 \x1b]0;pwned\x07"
    rule["source"]["checked_in"] = "\x1b]52;c;ZXZpbA==\x07 copy"
    rule["quotes"][0]["text"] = "first line\n# heading injected\n| a | b |"
    rule["reading"]["notes"] = "notes\n\n# H1\n<script>x</script>"
    out = warm / "cwd" / "bundle"
    with input_file(warm, "policy.yaml", dump(rule)) as policy:
        code, stdout, stderr = run_cli(["export", "--policy", policy, "--out", out, *FAKE_FIT,
                                        *QUICK])  # fmt: skip
    assert code == 0, stderr
    report = (out / "report.md").read_text()
    assert "<script>" not in report and "<img" not in report and "\x1b" not in report
    assert "\n# heading" not in report and "\n# H1" not in report
    assert "\u202e" not in (out / "report.html").read_text()
    assert "](http" not in report


# --------------------------------------------------------------------------- foreign files

#: Lines of files that are not the tool's: a password or shadow file, an environment file,
#: someone's YAML, a CSV of secrets. Each payload is long: a message may quote 40 characters.
LINE_SHAPES = [
    lambda name, secret: f"{name}:{secret}:19000:0:99999:7:::",
    lambda name, secret: f"{name}:x:1000:1000:{secret}:/home/{name}:/bin/sh",
    lambda name, secret: f"{name}={secret}",
    lambda name, secret: f"{name}: {secret}",
    lambda name, secret: f"{name},{secret},{secret[::-1]}",
]
SECRET = st.text("abcdefghijklmnopqrstuvwxyz0123456789$./ABCDEFGH", min_size=60, max_size=90)
NAME = st.from_regex(r"[a-z]{3,8}", fullmatch=True).filter(
    lambda n: n not in ("name", "title", "model", "score", "suite")
)


@fuzz(60)
@given(
    kind=st.sampled_from(sorted(INPUT_KINDS)),
    shape=st.integers(0, len(LINE_SHAPES) - 1),
    lines=st.lists(st.tuples(NAME, SECRET), min_size=3, max_size=30, unique_by=lambda t: t[0]),
)
def test_a_foreign_file_is_refused_without_quoting_it(run_cli, sandbox, kind, shape, lines):
    """``policies: [/etc/shadow]`` printed shadow lines as "unknown key 'root:*:...'"."""
    text = "\n".join(LINE_SHAPES[shape](name, secret) for name, secret in lines) + "\n"
    spec = INPUT_KINDS[kind]
    with input_file(sandbox, f"foreign{spec.suffix}", text) as path:
        scratch = path.parent
        err = refused_quickly(run_cli, sandbox, spec.argv(path, scratch))
    flat = squash(err)
    for _, secret in lines:
        for i in range(0, len(secret) - 40):
            assert squash(secret[i : i + 41]) not in flat, err
    assert len(err) < 2500


# --------------------------------------------------------------------------- calibration

BENCH = ROOT / "benchmarks" / "results"
#: A valid document of each kind, and fields a summary reads with values that are wrong.
CAL_DOCS = {
    "sbc": json.loads((BENCH / "sbc.json").read_text()),
    "loo_pit": json.loads((BENCH / "loo-pit.json").read_text()),
    "backtest": json.loads((BENCH / "backtest.json").read_text()),
    "backtest of a scenario": {
        "scenario": "gpt4-2023-03",
        "as_of": "2023-03-14",
        "catalogue_enhancements": 20,
        "comparisons": [
            {
                "eval": "e",
                "measurement": "m",
                "months_after": 10.6,
                "measured": 0.38,
                "forecast_q05": 0.3,
                "forecast_q50": 0.33,
                "forecast_q95": 0.45,
                "inside_90": True,
                "verdict": "inside",
            }  # fmt: skip
        ],
    },
}
#: Values of the wrong type for each kind of field a summary reads.
WRONG = {
    "list": ["0.5", True, {}, {"a": 1}, 5],
    "object": ["0.5", True, [], [1, 2], 5],
    "text": [True, [], {}, 5, 1.5],
    "flag": ["0.5", [], {}, 5, 2.5],
    "number": ["0.5", True, [], {}],
    "count": ["1", 1.5, True, [], -1],
}
CAL_FIELDS = {
    "sbc": [("n_fits",), ("quantities",), ("quantities", 0, "quantity"),
            ("quantities", 0, "p_value"), ("quantities", 0, "mean_rank_fraction"),
            ("method",), ("failed_fits",), ("all_uniform",)],
    "loo_pit": [("figures",), ("summary",), ("summary", "mean_pit"), ("figures", 0, "label"),
                ("figures", 0, "pit"), ("figures", 0, "reasons"), ("summary", "n_figures")],
    "backtest": [("crossval",), ("crossval", "schemes"), ("cuts",), ("cuts", 0, "cut"),
                 ("crossval", "schemes", "suite", "totals", "n"),
                 ("crossval", "schemes", "suite", "totals", "mean_pit"), ("score",)],
    "backtest of a scenario": [("comparisons",), ("comparisons", 0, "eval"),
                               ("comparisons", 0, "measured"), ("comparisons", 0, "inside_90")],
}  # fmt: skip


def _field_type(path: tuple) -> str:
    last = path[-1]
    if last in ("quantities", "figures", "pairs", "comparisons", "cuts"):
        return "list"
    if last in ("summary", "crossval", "schemes"):
        return "object"
    if last in ("quantity", "label", "pair", "eval", "method", "score", "cut"):
        return "text"
    if last in ("all_uniform", "inside_90"):
        return "flag"
    if last in ("n_fits", "failed_fits", "n", "n_figures"):
        return "count"
    if last == "reasons":
        return "list"
    return "number"


@st.composite
def bad_calibration(draw):
    kind = draw(st.sampled_from(sorted(CAL_DOCS)))
    doc = copy.deepcopy(CAL_DOCS[kind])
    how = draw(st.sampled_from(["wrong type", "not finite", "too deep", "too many", "too long",
                                "too large", "negative count"]))  # fmt: skip
    if how == "wrong type":
        path = draw(st.sampled_from(CAL_FIELDS[kind]))
        value = draw(st.sampled_from(WRONG[_field_type(path)]))
        set_in(doc, path, value)
        return kind, how, json.dumps(doc)
    if how == "not finite":
        literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"]))
        text = json.dumps(doc)
        return kind, how, text[:-1] + f', "x": [1, {literal}]}}'
    if how == "too deep":
        depth = draw(st.integers(17, 50_000))
        return kind, how, json.dumps(doc)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    if how == "too many":
        return kind, how, json.dumps(doc)[:-1] + ', "x": [' + "0," * 100_001 + "0]}"
    if how == "too long":
        path = draw(
            st.sampled_from(
                [
                    p
                    for p in CAL_FIELDS[kind]
                    if p[-1] in ("quantity", "label", "pair", "eval", "method", "score", "cut")
                ]
            )
        )
        set_in(doc, path, "x" * draw(st.integers(2001, 20_000)))
        return kind, how, json.dumps(doc)
    if how == "too large":
        return kind, how, json.dumps(doc)[:-1] + ', "x": "' + "y" * (2 << 20) + '"}'
    counts = {
        "sbc": ("n_fits",),
        "loo_pit": ("summary", "n_figures"),
        "backtest": ("crossval", "schemes", "suite", "totals", "n"),
        "backtest of a scenario": ("catalogue_enhancements",),
    }
    set_in(doc, counts[kind], -draw(st.integers(1, 10**6)))  # fmt: skip
    return kind, how, json.dumps(doc)


@fuzz(60)
@given(case=bad_calibration())
def test_a_bad_calibration_document_is_refused_before_any_work(run_cli, sandbox, case):
    """A 63 MiB document peaked at 3.9 GB, '[' x 200,000 gave a RecursionError, and six
    malformed documents with the right keys gave tracebacks after the forecast; NaN was
    shown as "inf simulated catalogues"."""
    kind, how, text = case
    with input_file(sandbox, "calibration.json", text) as path:
        refused_quickly(
            run_cli, sandbox, ["export", "--out", sandbox / "b", "--calibration", path, "-q"],
            (str(path),), seconds=20,
        )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(CAL_DOCS))
def test_a_valid_calibration_document_is_read(kind, tmp_path):
    from forecast.report.calibration import calibration_summary
    from forecast.report.export import read_calibration

    path = tmp_path / "c.json"
    path.write_text(json.dumps(CAL_DOCS[kind]))
    ((name, doc),) = read_calibration([path])
    assert doc == CAL_DOCS[kind] and calibration_summary(name, doc)["lines"]


# --------------------------------------------------------------------------- lengths

#: (input kind, field path, limit): titles and names 200, texts 2,000.
LONG_FIELDS = [
    ("scenario", ("title",), 200),
    ("scenario", ("description",), 2000),
    ("scenario", ("base_model", "name"), 200),
    ("scenario", ("evals", 0, "description"), 2000),
    ("policy", ("title",), 200),
    ("policy", ("reading", "notes"), 2000),
    ("policy", ("quotes", 0, "text"), 2000),
    ("profile", ("title",), 200),
    ("profile", ("description",), 2000),
    ("catalogue", ("enhancements", 0, "name"), 200),
    ("catalogue", ("enhancements", 0, "observations", 0, "notes"), 2000),
    ("measurements", ("suites", 0, "name"), 200),
    ("measurements", ("measurements", 0, "model"), 200),
]


@fuzz(40)
@given(
    spec=st.sampled_from(LONG_FIELDS),
    extra=st.integers(1, 100_000),
    char=st.sampled_from(["x", "é", "\u4e00", " y"]),
)
def test_text_beyond_its_length_limit_is_refused_at_its_field(run_cli, sandbox, spec, extra,
                                                                 char):  # fmt: skip
    """A 1 MB scenario title made export take 273 s instead of ~15 s."""
    kind, path, limit = spec
    data = yaml.safe_load(INPUT_KINDS[kind].valid)
    set_in(data, path, (char * (limit + extra))[: limit + extra])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    with input_file(sandbox, f"{kind}.yaml", dump(data)) as file:
        refused_quickly(
            run_cli, sandbox, INPUT_KINDS[kind].argv(file, file.parent),
            (where, f"at most {limit} characters"),
        )  # fmt: skip


# --------------------------------------------------------------------------- before the work


def _outputs(command: str, out: str) -> list:
    return {
        "run": ["run", "-q", "--out", out],
        "export": ["export", "-q", "--out", out],
        "sensitivity": ["sensitivity", "-q", "--out", out],
        "check figures": ["check", "figures", "-q", "--out", out],
    }[command]


@pytest.mark.parametrize("command", ["run", "export", "sensitivity", "check figures"])
@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_out_is_refused(run_cli, sandbox, command, value):
    """``--out ''`` used to write into the working folder without a word."""
    before = listing(sandbox)
    code, out, err = run_cli(_outputs(command, value))
    assert code == 2 and "expected a folder, got an empty name" in err, err
    assert listing(sandbox) == before


@pytest.mark.parametrize(
    ("command", "name"),
    [("run", "results.json"), ("run", "uplift.csv"), ("sensitivity", "tornado.png"),
     ("check figures", "loo_pit.json"), ("check figures", "loo_pit.png")],
)  # fmt: skip
def test_a_folder_where_an_output_file_goes_is_refused_before_the_work(
    run_cli, sandbox, command, name
):
    """``run --out DIR`` with ``DIR/results.json`` a folder failed only after the run."""
    out = sandbox / "out"
    (out / name).mkdir(parents=True)
    refused_quickly(run_cli, sandbox, _outputs(command, str(out)), (name, "is a folder"))


@pytest.mark.skipif(os.geteuid() == 0 and not os.environ.get("CI_AS_ROOT"), reason="root")
def test_a_writable_out_in_a_read_only_parent_is_refused_before_the_work(run_cli, sandbox):
    parent = sandbox / "ro"
    (parent / "bundle").mkdir(parents=True)
    parent.chmod(0o555)
    try:
        refused_quickly(run_cli, sandbox, _outputs("export", str(parent / "bundle")), ("ro",))
    finally:
        parent.chmod(0o755)


def test_a_writable_out_in_a_read_only_parent_is_refused_before_the_work_as_root(
    run_cli, sandbox, monkeypatch
):
    """As root no folder is read-only: the probe of the parent (where the bundle is
    staged) is made to fail as it would."""
    import forecast.core.writing as writing

    parent = sandbox / "ro"
    (parent / "bundle").mkdir(parents=True)
    real = writing._probe_writable

    def probe(folder):
        if Path(folder) == parent:
            raise PermissionError(13, "Permission denied", str(folder))
        return real(folder)

    monkeypatch.setattr(writing, "_probe_writable", probe)
    refused_quickly(run_cli, sandbox, _outputs("export", str(parent / "bundle")), ("ro",))


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [("--profile", "", "profile name or a profile file"),
     ("--profile", " ", "profile name or a profile file"),
     ("--trend", "", "unknown trend mode"),
     ("--scale", "clamp", "No such option"),
     ("--policies", "all,none", "'none'"),
     ("--policies", "verified, none", "'none'"),
     ("--policies", "none,none", "'none'")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["run", "export"])
def test_options_that_were_accepted_silently_are_refused(
    run_cli, sandbox, command, option, value, needle
):
    refused_quickly(run_cli, sandbox, [command, "-q", f"{option}={value}"], (needle,))


# --------------------------------------------------------------------------- terminals


def _on_a_terminal(argv: list, columns: str, cache_dir: Path, cwd: Path) -> tuple[int, str]:
    """Run ``python -m forecast ARGV`` with a pseudo-terminal as stdout and stderr."""
    import pty

    parent, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "LINES")}
    env |= {"COLUMNS": columns, "FORECAST_CACHE_DIR": str(cache_dir), "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "forecast", *argv], stdout=child, stderr=child,
        stdin=subprocess.DEVNULL, env=env, cwd=cwd,
    )  # fmt: skip
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(parent, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(parent)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("columns", ["0", "1", "-5", "abc", "99999999", ""])
def test_odd_terminal_widths_print_normally(warm, cache_dir, columns):
    """``COLUMNS=0`` on a terminal: ``forecast run`` printed nothing and exited 0, and a
    bad ``--as-of`` exited 2 without a message."""
    code, text = _on_a_terminal(["run", *FAKE_FIT], columns, cache_dir, warm)
    assert code == 0 and "Safety buffer" in text, text[-500:]
    assert max(len(line) for line in text.splitlines()) <= 1100
    code, text = _on_a_terminal(["run", "--as-of", "bogus"], columns, cache_dir, warm)
    assert code == 2 and squash("expected a date as YYYY-MM-DD") in squash(text), text


# --------------------------------------------------------------------------- origins


@pytest.mark.parametrize("origin", ["profile", "scenario", "--prior"])
@pytest.mark.parametrize(
    ("prior", "value", "found"),
    [("catalogue_coverage", "Beta(1, 200)", "simulation"),
     ("catalogue_coverage", "Beta(1, 500)", "simulation"),
     ("noise_dof", "Normal(5, 1)", "inputs")],
)  # fmt: skip
def test_a_prior_problem_is_blamed_on_who_set_the_prior(run_cli, warm, origin, prior, value, found):
    """A profile's ``catalogue_coverage: Beta(1,200)`` said "error: --prior: ..."."""
    argv = ["run", *FAKE_FIT]
    files = {}
    if origin == "profile":
        files["profile.yaml"] = (
            "schema_version: 1\nname: tiny\ntitle: Tiny\ndescription: a test\npriors:\n"
            f"  {prior}:\n    distribution: '{value}'\n    why: a test\n"
        )
        argv += ["--profile", "PROFILE"]
    elif origin == "scenario":
        data = copy.deepcopy(SCENARIO)
        data["priors"] = {prior: value}
        files["scenario.yaml"] = dump(data)
        argv += ["SCENARIO"]
    else:
        argv += ["--prior", f"{prior}={value}"]
    with (
        input_file(warm, "profile.yaml", files.get("profile.yaml", "")) as profile,
        input_file(warm, "scenario.yaml", files.get("scenario.yaml", "")) as scenario,
    ):
        argv = [{"PROFILE": profile, "SCENARIO": scenario}.get(a, a) for a in argv]
        code, out, err = run_cli(argv)
    assert code == 2, err
    where = {"profile": str(profile), "scenario": str(scenario), "--prior": "--prior"}[origin]
    assert squash(f"error: {where}") in squash(err), err
    assert f"priors.{prior}" in squash(err)
    if origin != "--prior":
        assert "--prior" not in err and re.search(re.escape(squash(where)) + r":\d+:", squash(err))


@fuzz(10)
@given(
    date=st.dates(min_value=dt.date(2033, 4, 1), max_value=dt.date(2100, 12, 31)),
)
def test_a_measurement_too_far_ahead_is_blamed_on_its_date(run_cli, sandbox, date):
    """A backtest measurement dated 2099-12-01 said "error: --prior: priors.catalogue_coverage"."""
    from conftest import USER_MEASUREMENTS

    data = yaml.safe_load(USER_MEASUREMENTS)
    data["measurements"][1]["measured"] = date
    data["measurements"][1].pop("date_precision", None)
    scenario = copy.deepcopy(SCENARIO)
    scenario["evals"][1]["compare_with"] = ["lab_model_agent"]
    with (
        input_file(sandbox, "measurements.yaml", dump(data)) as measurements,
        input_file(sandbox, "scenario.yaml", dump(scenario)) as scenario_file,
    ):
        refused_quickly(
            run_cli, sandbox,
            ["backtest", scenario_file, "--as-of", "2023-03-14", "--measurements", measurements,
             "-q"],
            (str(measurements), "measurements[1].measured", "at most 120 months"),
            located_in=measurements,
        )  # fmt: skip
