"""forecast.evidence.catalogue: the catalogue, its model arrays, `forecast evidence validate`."""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap

import pytest
from conftest import MINIMAL_CATALOGUE, flat, words

from forecast.core.errors import InputError
from forecast.core.reading import read_yaml
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import CATEGORIES
from forecast.core.validation import validate
from forecast.evidence.catalogue import catalogue_cut, load_catalogue, shipped_catalogue_path
from forecast.evidence.table import build_table


@pytest.fixture(scope="module")
def shipped():
    return load_catalogue()


def make_catalogue(enhancements, combinations=()) -> Catalogue:
    return Catalogue.model_validate(
        {
            "schema_version": 1,
            "enhancements": list(enhancements),
            "combinations": list(combinations),
        }
    )


def enh(id_, category="tool", published="2023-01-01", observations=()):
    return {
        "id": id_,
        "name": id_.title(),
        "category": category,
        "published": published,
        "access": "prompt",
        "source": "src",
        "observations": list(observations),
    }


def obs(ceg, benchmark="GSM8k", **extra):
    return {"benchmark": benchmark, "domain": "math", "ceg": ceg, "where": "t1", **extra}


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence]


# --------------------------------------------------------------------------- shipped


def test_shipped_catalogue_validates(shipped):
    from forecast.evidence.catalogue import shipped_catalogue_paths

    raws = [validate(Catalogue, read_yaml(p), "catalogue") for p in shipped_catalogue_paths()]
    assert sum(len(r.enhancements) for r in raws) == len(shipped.enhancements) > 30
    assert sum(len(r.combinations) for r in raws) == len(shipped.combinations) > 5
    assert shipped_catalogue_path() == shipped_catalogue_paths()[0]
    ids = [e.id for e in shipped.enhancements]
    assert len(ids) == len(set(ids))
    assert {"toolformer", "chain_of_thought", "majority_voting"} <= set(ids)
    for c in shipped.combinations:
        assert set(c.members) <= set(ids), c.id
    for e in shipped.enhancements:
        assert e.category in CATEGORIES


# --------------------------------------------------------------------------- catalogue_cut


def test_catalogue_cut_by_date(shipped):
    as_of = dt.date(2022, 3, 1)
    cut = catalogue_cut(shipped, as_of)
    kept = {e.id for e in cut.enhancements}
    assert kept == {e.id for e in shipped.enhancements if e.published < as_of}
    assert "webgpt" in kept and "few_shot_prompting" in kept
    assert "instructgpt_sft" not in kept  # published 2022-03-01: not before the cut
    combos = {c.id for c in cut.combinations}
    assert "webgpt_best_of_n_truthfulqa" in combos
    assert "process_verification_over_orm" not in combos  # process_verification is 2023
    for c in cut.combinations:
        assert set(c.members) <= kept
    assert catalogue_cut(shipped, dt.date(1990, 1, 1)).enhancements == []
    everything = catalogue_cut(shipped, dt.date(2100, 1, 1))
    assert len(everything.enhancements) == len(shipped.enhancements)
    assert len(everything.combinations) == len(shipped.combinations)


def test_a_cut_drops_figures_printed_after_it_the_issues_examples(shipped):
    """Issue 19 item 3: a figure first printed after a cut date never reaches a fit cut at
    that date, whatever its enhancement's date."""

    def figures(cut, enhancement):
        by_id = {e.id: e for e in cut.enhancements}
        if enhancement not in by_id:
            return None
        return {o.benchmark for o in by_id[enhancement].observations}

    appendix_b = {"TruthfulQA", "MMLU", "OpenBookQA", "ARC (challenge)", "HellaSwag"}
    # Lanham et al.'s models, re-estimated by seed 001 (2023-12-12): not in the 2023 cuts
    before = figures(catalogue_cut(shipped, dt.date(2023, 12, 12)), "chain_of_thought")
    assert "GSM8K and MAWPS" in before and not appendix_b & before
    after = figures(catalogue_cut(shipped, dt.date(2023, 12, 13)), "chain_of_thought")
    assert appendix_b <= after
    # Hugging Face's search figure (2024-12-16) is not in the October 2024 cuts
    search = "compute_optimal_test_time_search"
    october = figures(catalogue_cut(shipped, dt.date(2024, 10, 22)), search)
    assert october and "MATH-500" not in october
    december = figures(catalogue_cut(shipped, dt.date(2024, 12, 17)), search)
    assert "MATH-500" in december
    # seed 000's figures (2024-03-13): an enhancement whose only figure falls out is dropped,
    # and the combination printed with it too
    for day, present in ((dt.date(2024, 3, 13), False), (dt.date(2024, 3, 14), True)):
        cut = catalogue_cut(shipped, day)
        assert (figures(cut, "openai_gpt4_post_training") is not None) is present
        combos = {c.id for c in cut.combinations}
        assert ("metr_post_training_then_scaffolding" in combos) is present
    # an enhancement that never had a figure stays: it counts as an arrival
    assert figures(catalogue_cut(shipped, dt.date(2023, 1, 1)), "talm") == set()


def test_the_cut_never_sees_a_later_figure(shipped):
    from forecast.evidence.catalogue import figure_date

    by_id = {e.id: e for e in shipped.enhancements}
    for day in (dt.date(2023, 6, 1), dt.date(2024, 1, 1), dt.date(2024, 7, 1), dt.date(2025, 1, 1)):
        cut = catalogue_cut(shipped, day)
        for e in cut.enhancements:
            assert e.published < day
            assert all(figure_date(o, e.published) < day for o in e.observations), e.id
        for c in cut.combinations:
            latest = max(by_id[m].published for m in c.members)
            assert figure_date(c, latest) < day, c.id


def test_a_figure_dated_before_its_enhancement_is_refused(write_yaml):
    early = MINIMAL_CATALOGUE.replace(
        'where: "table 1"', 'where: "table 1"\n        published: 2022-06-01'
    )
    with pytest.raises(InputError, match="before its enhancement was published") as info:
        load_catalogue(write_yaml(early), shipped=False)
    assert info.value.path == "enhancements[0].observations[0].published"
    combo = MINIMAL_CATALOGUE + textwrap.dedent(
        """\
        combinations:
          - id: my_combo
            members: [my_tool, chain_of_thought]
            benchmark: GSM8k
            domain: math
            ceg: {point: 30}
            where: "t2"
            published: 2022-12-01
        """
    )
    with pytest.raises(InputError, match="before its last member") as info:
        load_catalogue(write_yaml(combo, "combo.yaml"))
    assert info.value.path == "combinations[0].published"
    later = combo.replace("published: 2022-12-01", "published: 2023-03-01")
    cut = catalogue_cut(load_catalogue(write_yaml(later, "later.yaml")), dt.date(2023, 2, 1))
    assert "my_combo" not in {c.id for c in cut.combinations}
    assert "my_tool" in {e.id for e in cut.enhancements}


# --------------------------------------------------------------------------- load_catalogue


def test_user_catalogue_adds_on_top(shipped, write_yaml):
    merged = load_catalogue(write_yaml(MINIMAL_CATALOGUE))
    assert len(merged.enhancements) == len(shipped.enhancements) + 1
    assert merged.enhancements[-1].id == "my_tool"


def test_user_catalogue_replaces_shipped_id(shipped, write_yaml):
    text = MINIMAL_CATALOGUE.replace("id: my_tool", "id: toolformer").replace(
        "name: My tool", "name: Replaced Toolformer"
    )
    merged = load_catalogue(write_yaml(text))
    assert len(merged.enhancements) == len(shipped.enhancements)
    by_id = {e.id: e for e in merged.enhancements}
    assert by_id["toolformer"].name == "Replaced Toolformer"
    assert len(by_id["toolformer"].observations) == 1
    table = build_table(merged)
    assert not any(label.startswith("toolformer[1]") for label in table.row_labels)


def test_user_combination_may_use_shipped_members(write_yaml):
    text = MINIMAL_CATALOGUE + textwrap.dedent(
        """\
        combinations:
          - id: my_combo
            members: [my_tool, chain_of_thought]
            benchmark: GSM8k
            domain: math
            ceg: {point: 30}
            where: "t2"
        """
    )
    merged = load_catalogue(write_yaml(text))
    assert merged.combinations[-1].members == ["my_tool", "chain_of_thought"]


def test_user_folder_and_no_shipped(tmp_path):
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "a.yaml").write_text(MINIMAL_CATALOGUE)
    (folder / "b.yml").write_text(MINIMAL_CATALOGUE.replace("my_tool", "other_tool"))
    (folder / "notes.txt").write_text("ignored")
    merged = load_catalogue(folder, shipped=False)
    assert [e.id for e in merged.enhancements] == ["my_tool", "other_tool"]


def test_load_catalogue_errors(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        load_catalogue(tmp_path / "missing.yaml")
    assert info.value.file == str(tmp_path / "missing.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no catalogue .yaml"):
        load_catalogue(empty)
    with pytest.raises(InputError, match="no catalogue given"):
        load_catalogue(None, shipped=False)


# --------------------------------------------------------------------------- CLI: good input


def test_cli_validate_shipped(run_cli, shipped):
    code, out, err = run_cli(["evidence", "validate", "--json"])
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["valid"] is True
    assert result["enhancements"] == len(shipped.enhancements)
    assert result["combinations"] == len(shipped.combinations)


def test_cli_validate_user_file(run_cli, write_yaml, shipped):
    path = write_yaml(MINIMAL_CATALOGUE)
    code, out, err = run_cli(["evidence", "validate", path, "--json"])
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["file"] == str(path)
    assert result["enhancements"] == len(shipped.enhancements) + 1
    code, out, err = run_cli(["evidence", "validate", path])
    assert code == 0 and "valid" in out and err == ""


def test_cli_list_no_posterior_json(run_cli, write_yaml):
    path = write_yaml(MINIMAL_CATALOGUE)
    code, out, err = run_cli(
        [
            "evidence",
            "list",
            "--no-posterior",
            "--json",
            "--evidence",
            path,
            "--no-shipped-evidence",
        ]
    )
    assert code == 0, err
    (row,) = json.loads(out)["enhancements"]
    assert row["id"] == "my_tool" and row["posterior_ceg"] is None


def test_cli_show_unknown_id_suggests(run_cli):
    code, out, err = run_cli(["evidence", "show", "toolformr", "--no-posterior"])
    assert code == 2 and out == ""
    assert "did you mean 'toolformer'" in words(err)


# --------------------------------------------------------------------------- CLI: bad input


def _sub(old: str, new: str):
    def make(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return make


SECOND = (
    "  - id: my_tool\n"
    "    name: Again\n"
    "    category: data\n"
    "    published: 2023-02-01\n"
    "    access: prompt\n"
    '    source: "x"\n'
)

COMBO_UNKNOWN = textwrap.dedent(
    """\
    combinations:
      - id: my_combo
        members: [my_tool, chain_of_thougth]
        benchmark: GSM8k
        domain: math
        ceg: {point: 3}
        where: "t"
    """
)

# name -> (make the bad text from MINIMAL_CATALOGUE, field path or None,
#          text on the line the error must point at (or (text, occurrence)) or None,
#          words the message must contain)
BAD_INPUTS = {
    "wrong_type_date": (
        _sub("published: 2023-01-01", "published: notadate"),
        "enhancements[0].published",
        "published: notadate",
        "valid date",
    ),
    "bound_not_a_number": (
        _sub("ceg: {lower: 5}", "ceg: {lower: abc}"),
        "enhancements[0].observations[0].ceg.lower",
        "ceg: {lower: abc}",
        "valid number",
    ),
    "unknown_category": (
        _sub("category: tool", "category: tols"),
        "enhancements[0].category",
        "category: tols",
        "did you mean 'tool'",
    ),
    "duplicate_id": (
        lambda t: t.replace("enhancements:\n", "enhancements:\n" + SECOND, 1),
        "enhancements[1].id",
        ("id: my_tool", 1),
        "duplicate id 'my_tool'",
    ),
    "unknown_optional_key": (
        _sub('where: "table 1"', 'where: "table 1"\n        note: "typo of notes"'),
        "enhancements[0].observations[0].note",
        "note:",
        "did you mean 'notes'",
    ),
    "unknown_required_key": (
        _sub("category: tool", "categroy: tool"),
        "enhancements[0].categroy",
        "categroy: tool",
        "unknown key 'categroy', did you mean 'category'",
    ),
    "combination_unknown_member": (
        lambda t: t + COMBO_UNKNOWN,
        "combinations[0].members[1]",
        "chain_of_thougth",
        "did you mean 'chain_of_thought'",
    ),
    "negative_ceg": (
        _sub("ceg: {lower: 5}", "ceg: {point: -3}"),
        "enhancements[0].observations[0].ceg.point",
        "ceg: {point: -3}",
        "greater than or equal to 0",
    ),
    "zero_ceg": (
        _sub("ceg: {lower: 5}", "ceg: {lower: 0}"),
        "enhancements[0].observations[0].ceg",
        "ceg: {lower: 0}",
        "above 0",
    ),
    "bound_lower_above_upper": (
        _sub("ceg: {lower: 5}", "ceg: {lower: 50, upper: 5}"),
        "enhancements[0].observations[0].ceg",
        "ceg: {lower: 50",
        "must be below 'upper'",
    ),
    "bad_id_pattern": (
        _sub("id: my_tool", "id: My-Tool"),
        "enhancements[0].id",
        "id: My-Tool",
        "should match pattern",
    ),
    "wrong_schema_version": (
        _sub("schema_version: 1", "schema_version: 2"),
        "schema_version",
        "schema_version: 2",
        "got 2",
    ),
    "malformed_yaml": (
        _sub("ceg: {lower: 5}", "ceg: >20"),
        None,
        "ceg: >20",
        "not valid YAML",
    ),
    "bad_indentation": (
        _sub("    name: My tool", "      name: My tool"),
        None,
        "name: My tool",
        "not valid YAML",
    ),
    "top_level_list": (
        lambda t: "- id: my_tool\n- id: other\n",
        None,
        None,
        "expected a mapping",
    ),
    "empty_file": (lambda t: "", None, None, "expected a mapping"),
    "markup_in_value": (
        _sub("category: tool", 'category: "[/bold]"'),
        "enhancements[0].category",
        "category:",
        "[/bold]",
    ),
    "impossible_date": (
        _sub("published: 2023-01-01", "published: 2023-02-30"),
        "enhancements[0].published",
        "published:",
        "2023-02-30",
    ),
    "duplicate_key": (
        _sub("    access: prompt\n", "    access: prompt\n    access: weights\n"),
        "enhancements[0].access",
        ("access:", 1),
        "duplicate key 'access'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_cli_validate_bad_input(run_cli, write_yaml, case):
    make, field, line_needle, message = BAD_INPUTS[case]
    text = make(MINIMAL_CATALOGUE)
    path = write_yaml(text, f"{case}.yaml")
    code, out, err = run_cli(["evidence", "validate", path])
    assert "Traceback" not in err
    assert code == 2, err
    assert out == ""
    joined = flat(err)
    assert str(path) in joined
    if line_needle is not None:
        needle, occurrence = line_needle if isinstance(line_needle, tuple) else (line_needle, 0)
        assert f"{path}:{line_of(text, needle, occurrence)}:" in joined
    if field is not None:
        assert f": {field}" in words(err) or f":{field}" in joined
    assert message in words(err)
    assert words(err).startswith("error:")


def test_cli_validate_missing_file(run_cli, tmp_path):
    path = tmp_path / "nope.yaml"
    code, out, err = run_cli(["evidence", "validate", path])
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert str(path) in flat(err)
    assert "not found" in words(err)


def test_cli_validate_stops_at_first_bad_file_and_prints_nothing(run_cli, write_yaml):
    good = write_yaml(MINIMAL_CATALOGUE, "good.yaml")
    bad = write_yaml(MINIMAL_CATALOGUE.replace("category: tool", "category: x"), "bad.yaml")
    code, out, err = run_cli(["evidence", "validate", good, bad])
    assert (code, out) == (2, "")
    assert str(bad) in flat(err) and str(good) not in flat(err)


def test_cli_validate_bad_input_end_to_end(run_forecast, write_yaml):
    path = write_yaml(MINIMAL_CATALOGUE.replace("category: tool", "category: tols"))
    code, out, err = run_forecast("evidence", "validate", path)
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert f"{path}:{line_of(MINIMAL_CATALOGUE, 'category: tool')}:" in flat(err)
    assert "enhancements[0].category" in flat(err)


def test_cli_error_is_one_line(run_forecast, tmp_path):
    path = tmp_path / ("a_rather_long_catalogue_file_name_" * 3 + ".yaml")
    path.write_text(MINIMAL_CATALOGUE.replace("category: tool", "category: tols"))
    code, out, err = run_forecast("evidence", "validate", path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1  # not wrapped at the console width
    assert err.startswith(f"error: {path}:5:15: enhancements[0].category: ")


# --------------------------------------------------------------------------- evidence v2


OUTSIDE_RECORD = textwrap.dedent(
    """\
    schema_version: 1
    enhancements:
      - id: later_agent
        name: A later agent
        category: scaffolding
        published: 2025-01-01
        access: prompt
        origin: outside_seeds
        source: "Someone et al. 2025"
        observations:
          - benchmark: SWE-bench
            domain: code
            ceg: {lower: 3}
            where: "table 2"
            origin: outside_seeds
            reference: "Someone et al. 2025, arXiv:2501.00000"
            quote: "The small model with the agent beats the large model without it."
    """
)


def test_outside_seeds_figure_needs_reference_and_quote(run_cli, write_yaml):
    text = OUTSIDE_RECORD.replace(
        '        quote: "The small model with the agent beats the large model without it."\n', ""
    )
    path = write_yaml(text, "later.yaml")
    code, out, err = run_cli(["evidence", "validate", path])
    assert (code, out) == (2, "")
    assert f"{path}:{line_of(text, '- benchmark: SWE-bench')}:" in flat(err)
    assert "enhancements[0].observations[0]" in flat(err)
    assert "needs 'quote'" in words(err)
    path = write_yaml(OUTSIDE_RECORD, "later_ok.yaml")
    code, out, err = run_cli(["evidence", "validate", path])
    assert code == 0, err


def test_shipped_outside_seeds_catalogue_is_read_with_unique_ids(monkeypatch, write_yaml, shipped):
    import forecast.evidence.catalogue as evidence

    later = write_yaml(OUTSIDE_RECORD, "catalogue-outside-seeds.yaml")
    seed_file = shipped_catalogue_path()
    monkeypatch.setattr(evidence, "shipped_catalogue_paths", lambda: [seed_file, later])
    merged = load_catalogue()
    (new,) = [e for e in merged.enhancements if e.id == "later_agent"]
    assert new.origin == "outside_seeds" and new.observations[0].origin == "outside_seeds"
    seed_only = load_catalogue(seed_file, shipped=False)
    assert len(merged.enhancements) == len(seed_only.enhancements) + 1
    # an id already used by the seed catalogue is refused, at the later file's line
    clash = OUTSIDE_RECORD.replace("id: later_agent", "id: toolformer")
    monkeypatch.setattr(
        evidence,
        "shipped_catalogue_paths",
        lambda: [seed_file, write_yaml(clash, "clash.yaml")],
    )
    with pytest.raises(InputError) as info:
        load_catalogue()
    error = info.value
    assert (error.path, error.line) == ("enhancements[0].id", line_of(clash, "id: toolformer"))
    assert error.file.endswith("clash.yaml") and "already used" in error.message


def test_shipped_outside_seeds_file_exists_and_loads():
    import forecast.evidence.catalogue as evidence

    names = [p.name for p in evidence.shipped_catalogue_paths()]
    assert names == ["catalogue.yaml", "catalogue-outside-seeds.yaml"]


def test_cli_list_json_flags_every_figure(run_cli):
    code, out, err = run_cli(["evidence", "list", "--no-posterior", "--json"])
    assert code == 0, err
    rows = json.loads(out)["enhancements"]
    figures = [f for r in rows for f in r["observations"] + r["combinations"]]
    assert len(figures) > 60
    for f in figures:
        assert isinstance(f["in_fit"], bool) and isinstance(f["independent"], bool)
        assert f["origin"] in ("seed", "outside_seeds")
        assert {"reference", "quote", "no_gain"} <= set(f)
    assert all(r["origin"] in ("seed", "outside_seeds") for r in rows)
    cot = next(r for r in rows if r["id"] == "chain_of_thought")
    aqua = next(o for o in cot["observations"] if o["benchmark"] == "Aqua")
    assert (aqua["in_fit"], aqua["independent"]) == (False, True)


def test_cli_list_text_marks_figures(run_cli):
    code, out, err = run_cli(["evidence", "list", "--no-posterior"])
    assert code == 0, err
    text = words(out)
    assert "[~0.05†]" in text.replace(" ", "")  # Aqua: recorded, not fitted, independent
    assert "in_fit: false" in text and "independent re-measurement" in text


def test_cli_show_flags_and_bad_at_flop(run_cli):
    code, out, err = run_cli(["evidence", "show", "chain_of_thought", "--no-posterior"])
    assert code == 0, err
    assert "independent" in out and "Quote:" in words(out)
    code, out, err = run_cli(["evidence", "show", "lats", "--no-posterior", "--at-flop", "-3"])
    assert (code, out) == (2, "")
    assert "--at-flop" in err and "between 1e15 and 1e30" in words(err)


def test_cli_show_at_flop_moves_the_gain_with_the_scale_slope(run_cli, write_yaml, monkeypatch):
    """A tiny catalogue measured at 1e21 and 1e23 FLOP: inside that range the gain moves with
    the within-enhancement slope; past it, it stays at the largest model's (the forecast's
    clamp mode: the slope is not extrapolated). The fit is made-up draws with a slope of 0.3
    OOM per OOM of compute (conftest.fake_sampler): what is tested is the CLI's reading."""
    import conftest
    import numpy as np

    from forecast.fit import engine

    made_up = conftest.fake_spec_draws

    def sloped(spec, n, seed=3):
        return made_up(spec, n, seed) | {"scale_slope": np.full(n, 0.3)}

    monkeypatch.setattr(conftest, "fake_spec_draws", sloped)
    monkeypatch.setattr(engine, "_sample", conftest.fake_sampler())
    text = MINIMAL_CATALOGUE.replace(
        "        ceg: {lower: 5}\n",
        "        ceg: {lower: 5}\n        base_compute_flop: 1.0e+21\n",
    ) + textwrap.indent(
        textwrap.dedent(
            """\
              - benchmark: MATH
                domain: math
                ceg: {point: 3}
                base_compute_flop: 1.0e+23
                where: "table 2"
            """
        ),
        "      ",
    )
    path = write_yaml(text)
    fit = ["--evidence", path, "--no-shipped-evidence", "--quiet"]

    def at(flop: str) -> dict:
        code, out, err = run_cli(["evidence", "show", "my_tool", "--at-flop", flop, "--json", *fit])
        assert code == 0, err
        return json.loads(out)["posterior_at_flop"]

    far, edge, inside = at("3e26"), at("1e23"), at("1e22")
    assert far["flop"] == 3e26 and far["log10_flop"] == pytest.approx(math.log10(3e26))
    assert far["median_oom"] == pytest.approx(edge["median_oom"])  # clamped at 1e23
    # the slope acts: one OOM of compute below the largest model, 0.3 OOM less gain
    assert inside["median_oom"] == pytest.approx(edge["median_oom"] - 0.3, abs=1e-9)
    code, out, err = run_cli(["evidence", "show", "my_tool", "--at-flop", "3e26", *fit])
    assert code == 0 and "posterior CEG at 3e+26 FLOP" in words(out)
