"""forecast.files: YAML with positions, located validation errors, atomic writes."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from forecast.errors import InputError
from forecast.files import (
    atomic_write_bytes,
    atomic_write_text,
    format_loc,
    parse_yaml,
    read_yaml,
    remove_stale_staging,
    staged_dir,
    suggest,
    validate,
)
from forecast.schemas import Catalogue

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


# --------------------------------------------------------------------------- parse_yaml


def test_parse_yaml_keeps_positions_of_every_node():
    text = textwrap.dedent(
        """\
        top: 1
        nested:
          inner: hello
          items:
            - a
            - {k: v}
        """
    )
    doc = parse_yaml(text, "x.yaml")
    assert doc.path == "x.yaml"
    assert doc.data == {"top": 1, "nested": {"inner": "hello", "items": ["a", {"k": "v"}]}}
    assert doc.position(()) == (1, 1)
    assert doc.position(("top",)) == (1, 6)
    assert doc.position(("nested", "inner")) == (3, 10)
    assert doc.position(("nested", "items", 0)) == (5, 7)
    assert doc.position(("nested", "items", 1)) == (6, 7)
    assert doc.position(("nested", "items", 1, "k")) == (6, 11)


def test_position_falls_back_to_nearest_ancestor():
    doc = parse_yaml("a:\n  b: 1\n")
    assert doc.position(("a", "b", "missing", 3)) == doc.position(("a", "b")) == (2, 6)
    assert doc.position(("nope",)) == (1, 1)


def test_parse_yaml_empty_document_has_no_data_and_no_position():
    doc = parse_yaml("")
    assert doc.data is None
    assert doc.position(("x",)) == (None, None)


def test_parse_yaml_rejects_python_tags_on_scalars():
    with pytest.raises(InputError) as info:
        parse_yaml("x: !!python/object/apply:os.system\n", "evil.yaml")
    assert info.value.file == "evil.yaml"
    assert (info.value.line, info.value.column) == (1, 4)
    assert "constructor" in info.value.message


def test_parse_yaml_never_constructs_python_objects(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    try:
        doc = parse_yaml("x: !!python/object/apply:os.system ['echo hi']\n", "evil.yaml")
    except InputError as exc:  # rejecting the tag is the better behaviour
        assert exc.line == 1
    else:  # today the tag on a collection is dropped and the data stays plain
        assert doc.data == {"x": ["echo hi"]}
    assert calls == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # `>` starts a folded block scalar; `20` is not a valid indicator
        ("schema_version: 1\nenhancements:\n  - id: a\n    ceg: >20\n", 4),
        # a key indented deeper than its siblings
        ("a:\n  b: 1\n    c: 2\n", 3),
        # a key indented less than its siblings inside a list item
        ("items:\n  - id: a\n    name: x\n   bad: y\n", 4),
        # unclosed flow mapping: found where the ',' or '}' was expected
        ("a: {b: 1\nc: 2\n", 2),
    ],
)
def test_invalid_yaml_is_an_input_error_with_a_line(text, line):
    with pytest.raises(InputError) as info:
        parse_yaml(text, "bad.yaml")
    err = info.value
    assert err.file == "bad.yaml"
    assert err.line == line
    assert err.column is not None
    assert "not valid YAML" in err.message
    assert str(err).startswith(f"bad.yaml:{line}:{err.column}: ")


# --------------------------------------------------------------------------- read_yaml


def test_read_yaml_reads_file(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\n")
    doc = read_yaml(path)
    assert doc.data == {"a": 1}
    assert doc.path == str(path)


def test_read_yaml_missing_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(InputError) as info:
        read_yaml(path)
    assert info.value.file == str(path)
    assert "not found" in info.value.message


def test_read_yaml_folder_given_as_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_yaml(tmp_path)
    assert info.value.file == str(tmp_path)
    assert "folder" in info.value.message


def test_read_yaml_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(InputError) as info:
        read_yaml(path)
    assert info.value.file == str(path)


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


def test_validate_counts_further_problems():
    text = catalogue_text("bad_one", "tool", "bad_two")
    with pytest.raises(InputError) as info:
        validate(Catalogue, parse_yaml(text, "cat.yaml"))
    assert info.value.path == "enhancements[0].category"
    assert "(and 1 more problem(s))" in info.value.message


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


def test_format_loc():
    assert format_loc(("enhancements", 2, "category")) == "enhancements[2].category"
    assert format_loc(("a", 0, 1, "b")) == "a[0][1].b"
    assert format_loc(()) == ""


def test_suggest():
    assert suggest("categroy", ["category", "name"]) == ", did you mean 'category'?"
    assert suggest("zzz", ["category", "name"]) == ""


def test_input_error_string_forms():
    assert str(InputError("bad", "f.yaml", "a.b", 3, 7)) == "f.yaml:3:7: a.b: bad"
    assert str(InputError("bad", "f.yaml", None, 3)) == "f.yaml:3: bad"
    assert str(InputError("bad", "f.yaml")) == "f.yaml: bad"
    assert str(InputError("bad")) == "bad"
    assert InputError("x").exit_code == 2


# --------------------------------------------------------------------------- writing


def test_atomic_write_bytes_writes_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "dir" / "out.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert os.listdir(target.parent) == ["out.bin"]


def test_atomic_write_text_is_utf8(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "café")
    assert target.read_bytes() == "café".encode()


def test_atomic_write_bytes_failure_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_staged_dir_success_moves_folder_into_place(tmp_path):
    final = tmp_path / "bundle"
    with staged_dir(final) as tmp:
        assert tmp.parent == tmp_path and tmp != final
        assert not final.exists()
        (tmp / "a.txt").write_text("a")
    assert (final / "a.txt").read_text() == "a"
    assert sorted(os.listdir(tmp_path)) == ["bundle"]


def test_staged_dir_exception_removes_staged_and_leaves_final_absent(tmp_path):
    final = tmp_path / "bundle"
    staged: list[Path] = []
    with pytest.raises(RuntimeError, match="boom"):
        with staged_dir(final) as tmp:
            staged.append(tmp)
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert not final.exists()
    assert not staged[0].exists()
    assert os.listdir(tmp_path) == []


def test_staged_dir_keeps_existing_final_unless_replace(tmp_path):
    final = tmp_path / "bundle"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with staged_dir(final) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(os.listdir(final)) == ["old.txt"]
    assert os.listdir(tmp_path) == ["bundle"]

    with staged_dir(final, replace=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(os.listdir(final)) == ["new.txt"]
    assert os.listdir(tmp_path) == ["bundle"]


def test_remove_stale_staging_only_takes_old_staging_folders_of_the_name(tmp_path):
    import os

    names = [".bundle.tmp-a1", ".bundle.old-9-ff", ".report.tmp-b2", "bundle", ".bundle"]
    for name in names:
        (tmp_path / name).mkdir()
    old = os.path.getmtime(tmp_path / "bundle") - 3 * 24 * 3600
    for name in names:
        os.utime(tmp_path / name, (old, old))
    (tmp_path / ".bundle.tmp-fresh").mkdir()

    assert remove_stale_staging(tmp_path, name="bundle") == 2
    left = [".bundle", ".bundle.tmp-fresh", ".report.tmp-b2", "bundle"]
    assert sorted(os.listdir(tmp_path)) == left
    assert remove_stale_staging(tmp_path) == 1  # any name: the old .report.tmp- goes too
