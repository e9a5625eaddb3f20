"""forecast.core.validation: validation errors at their line, with the field path and
"did you mean"."""

from __future__ import annotations

import pytest

from forecast.core.errors import InputError
from forecast.core.reading import parse_yaml
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.validation import suggest, validate

ENHANCEMENT = """\
  - id: {id}
    name: Name {id}
    category: {category}
    published: 2023-01-01
    access: prompt
    source: "somewhere"
"""


def catalogue_text(*categories: str) -> str:
    body = "".join(ENHANCEMENT.format(id=f"e{i}", category=c) for i, c in enumerate(categories))
    return "schema_version: 1\nenhancements:\n" + body


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence]


# --------------------------------------------------------------------------- validate


def test_validate_accepts_a_good_document():
    catalogue = validate(Catalogue, parse_yaml(catalogue_text("tool", "data")))
    assert [e.category for e in catalogue.enhancements] == ["tool", "data"]


def test_validate_names_file_line_column_and_field_path():
    text = catalogue_text("tool", "prompting", "toool")
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    err = info.value
    line = line_of(text, "category: toool")
    assert (err.file, err.path, err.line, err.column) == (
        "cat.yaml",
        "enhancements[2].category",
        line,
        15,
    )
    assert str(err).startswith(f"cat.yaml:{line}:15: enhancements[2].category: ")
    assert "'toool'" in err.message
    assert "did you mean 'tool'" in err.message


def test_validate_lists_every_problem():
    text = catalogue_text("bad_one", "tool", "bad_two")
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    assert info.value.path == "enhancements[0].category"
    message = info.value.message
    line = line_of(text, "category: bad_two")
    assert "; 1 more problem: " in message
    assert f"enhancements[2].category (line {line}): " in message and "'bad_two'" in message
    assert "more problem(s)" not in message


def test_validate_lists_many_problems_within_one_bounded_line():
    text = catalogue_text(*[f"bad_{i}" for i in range(200)])
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    message = info.value.message
    assert "; 199 more problems: enhancements[1].category (line " in message
    assert message.rstrip().split("; ")[-1].startswith("and ") and " more" in message
    assert "\n" not in str(info.value) and len(str(info.value)) < 2100


def test_validate_unknown_optional_key_suggests_nearest_name():
    text = catalogue_text("tool").replace(
        '    source: "somewhere"\n', '    source: "somewhere"\n    one_time_cots: {point: 1}\n'
    )
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    err = info.value
    assert err.path == "enhancements[0].one_time_cots"
    assert "unknown key 'one_time_cots'" in err.message
    assert "did you mean 'one_time_cost'" in err.message
    assert err.line == line_of(text, "one_time_cots")


def test_validate_unknown_top_level_key():
    text = catalogue_text("tool") + "source_documnt: x\n"
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    assert info.value.path == "source_documnt"
    assert "did you mean 'source_document'" in info.value.message


def test_validate_misspelt_required_key_suggests_nearest_name():
    text = catalogue_text("tool").replace("category: tool", "categroy: tool")
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    err = info.value
    assert "unknown key 'categroy'" in err.message
    assert "did you mean 'category'" in err.message
    assert err.path == "enhancements[0].categroy"
    assert err.line == line_of(text, "categroy: tool")


def test_validate_rejects_non_mapping_top_level():
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml("- a\n- b\n", "list.yaml"), "catalogue")
    assert info.value.file == "list.yaml"
    assert "mapping" in info.value.message


def test_duplicate_mapping_key_is_an_error():
    with pytest.raises(InputError) as info:
        parse_yaml("a: 1\nb: 2\na: 3\n", "dup.yaml")
    err = info.value
    assert (err.file, err.path, err.line, err.column) == ("dup.yaml", "a", 3, 1)
    assert "duplicate key 'a'" in err.message


def test_duplicate_key_nested_in_a_list_item():
    text = "items:\n  - id: a\n    ceg: 1\n    ceg: 2\n"
    with pytest.raises(InputError) as info:
        parse_yaml(text, "dup.yaml")
    assert (info.value.path, info.value.line) == ("items[0].ceg", 4)


def test_impossible_date_is_an_input_error():
    with pytest.raises(InputError) as info:
        parse_yaml("x: 1\npublished: 2023-02-30\n", "date.yaml")
    err = info.value
    assert (err.file, err.path, err.line, err.column) == ("date.yaml", "published", 2, 12)
    assert "2023-02-30" in err.message


def test_suggest():
    assert suggest("categroy", ["category", "name"]) == ", did you mean 'category'?"
    assert suggest("zzz", ["category", "name"]) == ""
