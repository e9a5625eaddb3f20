"""The docs cannot drift: docs/generate.py builds every generated part, docs/api.md runs,
and the values the docs quote agree with a fresh run within the measured tolerance.

The quick tests share one small fit with the other report tests; the comparison with a
fresh default fit is marked ``slow`` (it fits the model at full size, a few minutes).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _generate():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_generate"] = module
    spec.loader.exec_module(module)
    return module


generate = _generate()


#: One small fit for every test module of the report (conftest's ``shared_cache``).
SHARED_CACHE = "report-tests-cache"


@pytest.fixture
def cache_dir(shared_cache, monkeypatch):
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(shared_cache))
    return shared_cache


def _all_markers() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(DOCS.glob("*.md")):
        out += [(path.name, name, body) for name, body in generate.markers(path.read_text())]
    return out


# --------------------------------------------------------------------------- no fit


def test_every_marker_names_a_known_block_or_value():
    names = _all_markers()
    assert len(names) > 50  # method.md, priors.md, json-schema.md, tuning-priors.md, ...
    for where, name, _ in names:
        inline = generate.parse_inline(name)
        if inline is None:
            assert (
                name in generate.BLOCKS
                or name in generate.CALIBRATION_BLOCKS
                or name.startswith("api-output-")
            ), (where, name)
            continue
        doc, path, fmt = inline
        assert doc in generate.DOCUMENTS or doc == "tolerance", (where, name)
        assert fmt in generate.FORMATS, (where, name)


def test_markers_in_code_blocks_are_examples_not_markers():
    text = "```text\n<!-- generated:NAME -->x<!-- /generated:NAME -->\n```\n"
    text += "<!-- generated:run:buffer.oom|oom -->1<!-- /generated:run:buffer.oom|oom -->\n"
    assert generate.markers(text) == [("run:buffer.oom|oom", "1")]


def test_every_generator_is_used():
    """No dead generators: every block is in some doc (or builds one that is), every
    document is quoted or read by a block."""
    used = {name for _, name, _ in _all_markers()}
    inner = {"run-recommendation"}  # part of worked-example
    assert set(generate.BLOCKS) - inner <= used
    source = (DOCS / "generate.py").read_text()
    for doc in generate.DOCUMENTS:
        quoted = any(name.startswith(f"{doc}:") for name in used)
        assert quoted or f'"{doc}"' in source.replace(f'    "{doc}": lambda', ""), doc


def test_lookup_and_formats():
    doc = {"evals": [{"name": "a", "p": 0.25}, {"name": "b", "p": 0.5}], "u": [{"q": 1}, {"q": 2}]}
    assert generate.lookup(doc, "evals[name=b].p") == 0.5
    assert generate.lookup(doc, "u.-1.q") == 2
    with pytest.raises(KeyError):
        generate.lookup(doc, "evals[name=c].p")
    assert generate.FORMATS["both"](0.7403) == "0.74 OOM (5.5x)"
    assert generate.FORMATS["pct"](0.0567) == "5.7%"
    assert generate.FORMATS["int"](1005.4) == "1,005"
    assert generate.first_number("0.74 OOM (5.5x)") == 0.74
    assert generate.first_number("5.7%") == pytest.approx(0.057)
    assert generate.first_number("-0.30") == -0.30


def test_the_docs_state_the_tolerance_they_are_held_to():
    tolerance = _tolerance()
    assert 0 < tolerance["oom"] <= 0.5 and 0 < tolerance["probability"] <= 0.2
    text = (DOCS / "reproducibility.md").read_text()
    assert "fit seed" in text and "docs/generate.py" in text


def _tolerance() -> dict:
    text = (DOCS / "reproducibility.md").read_text()
    found = {}
    for kind in ("oom", "probability"):
        match = re.search(
            rf"<!-- generated:tolerance:{kind}\|f2 -->([0-9.]+)<!-- /generated:tolerance", text
        )
        assert match, kind
        found[kind] = float(match.group(1))
    return found


def test_every_figure_the_docs_show_exists():
    for path in sorted(DOCS.glob("*.md")):
        for image in re.findall(r"\]\((img/[^)]+\.png)\)", path.read_text()):
            assert (DOCS / image).is_file(), (path.name, image)


# --------------------------------------------------------------------------- small fit


def test_the_api_example_runs(cache_dir, tmp_path):
    """Every python block of docs/api.md, in order, in one namespace (a small fit)."""
    text = (DOCS / "api.md").read_text()
    outputs = generate.run_api_blocks(text, tmp_path)
    assert len(outputs) == len(generate.api_blocks(text)) == 6
    assert all(out.strip() for out in outputs.values())
    assert "buffer:" in outputs[2] and "OOM" in outputs[2]
    assert (tmp_path / "api-example" / "fan_chart.png").is_file()
    assert (tmp_path / "api-example" / "bundle" / "report.html").is_file()
    # The generated outputs sit under their blocks.
    for i in outputs:
        assert f"<!-- generated:api-output-{i} -->" in text


def test_generate_builds_every_part_and_leaves_the_prose_alone(cache_dir, tmp_path):
    """The whole script on a copy of the docs, with small fits."""
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    shutil.copy(DOCS.parent / "README.md", tmp_path / "README.md")
    runs = generate.Runs(quick=True)
    generate.generate(docs, runs, log=lambda message: None)
    for original in sorted(DOCS.glob("*.md")):
        before = original.read_text()
        after = (docs / original.name).read_text()
        assert _outside(before) == _outside(after), original.name
        for name, body in generate.markers(after):
            source = generate.parse_inline(name)
            if (source and source[0] == "tolerance") or name in generate.MEASURED:
                continue
            assert body.strip(), (original.name, name)
            assert not re.search(r"\b(None|nan)\b", body), (original.name, name)
            if source and source[2] in generate.CHECKED_FORMATS:
                generate.first_number(body)  # a number was written
    from forecast.report.plots import is_png

    for name in ("fan_chart", "p_cross", "tornado", "decomposition", "profiles"):
        assert is_png(docs / "img" / f"{name}.png")


def _outside(text: str) -> str:
    """The text with every generated part emptied (what generate.py must not change)."""
    return generate.MARKER.sub(lambda m: f"<{m['name']}>", text)


# --------------------------------------------------------------------------- full fit


@pytest.mark.slow
def test_the_docs_agree_with_a_fresh_run_within_the_tolerance(tmp_path, monkeypatch):
    """A fresh default fit (its own empty cache): every OOM value and probability the docs
    quote from the default scenario is within the tolerance of reproducibility.md."""
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(tmp_path / "cache"))
    runs = generate.Runs()
    tolerance = _tolerance()
    checked = generate.checked_values(DOCS)
    assert len(checked) >= 5  # the headline buffer, its median, the prior check, ...
    quoted = {}
    for path in sorted(DOCS.glob("*.md")):
        for name, body in generate.markers(path.read_text()):
            quoted.setdefault(name, (path.name, body))
    misses = []
    for _, doc, path, fmt in checked:
        name = f"{doc}:{path}|{fmt}"
        where, body = quoted[name]
        written = generate.first_number(body)
        fresh = float(generate.lookup(runs.document(doc), path))
        if fmt == "pct0":
            fresh = round(fresh, 2)
        allowed = tolerance[generate.CHECKED_FORMATS[fmt]] + 0.005  # the rounding written
        if abs(written - fresh) > allowed:
            misses.append(f"{where}: {name}: docs {written}, fresh {fresh:.4f}")
    assert not misses, "\n".join(misses)
