"""forecast.core.files: YAML with positions, located validation errors, atomic writes."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from forecast.core.errors import InputError, printable
from forecast.core.files import (
    MAX_CSV_BYTES,
    atomic_write_bytes,
    atomic_write_text,
    check_output_folder,
    decode_text,
    format_loc,
    os_error,
    parse_yaml,
    read_bytes,
    read_yaml,
    remove_stale_staging,
    staged_dir,
    suggest,
    validate,
    write_files,
)
from forecast.core.schemas import Catalogue

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


# --------------------------------------------------------------------------- hostile files


def test_read_bytes_refuses_a_fifo_without_blocking(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: it is refused from stat."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="named pipe") as info:
        read_bytes(fifo, "scenario file")
    assert info.value.file == str(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_read_bytes_refuses_devices(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(InputError, match="device"):
        read_bytes(device)


def test_read_bytes_refuses_a_socket(tmp_path):
    import socket

    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(InputError, match="socket"):
            read_bytes(path)


def test_read_bytes_follows_a_link_to_a_regular_file_but_not_to_a_fifo(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_bytes(b"a: 1\n")
    (tmp_path / "link.yaml").symlink_to(real)
    assert read_bytes(tmp_path / "link.yaml") == b"a: 1\n"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "fifo-link.yaml").symlink_to(tmp_path / "fifo")
    with pytest.raises(InputError, match="named pipe"):
        read_bytes(tmp_path / "fifo-link.yaml")


def test_read_bytes_checks_the_size_before_reading(tmp_path):
    """A sparse file of a terabyte costs nothing to refuse: its size is read from stat."""
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:
        fh.truncate(1 << 40)
    with pytest.raises(InputError, match="too large") as info:
        read_bytes(path, "CSV file", MAX_CSV_BYTES)
    assert "8 MiB" in info.value.message
    small = tmp_path / "small.csv"
    small.write_bytes(b"x" * 101)
    with pytest.raises(InputError, match="too large"):
        read_bytes(small, max_bytes=100)
    assert read_bytes(small, max_bytes=101) == b"x" * 101


def test_read_bytes_never_reads_past_the_cap_of_a_growing_file(tmp_path, monkeypatch):
    """stat can be stale (a file growing, /proc files reporting 0): reading stops at the
    cap + 1 byte whatever stat said."""
    path = tmp_path / "grows.yaml"
    path.write_bytes(b"y" * 1000)
    real_stat = os.stat

    def small_stat(p, *args, **kwargs):
        info = real_stat(p, *args, **kwargs)
        return os.stat_result((info.st_mode, *info[1:6], 0, *info[7:]))

    monkeypatch.setattr(os, "stat", small_stat)
    with pytest.raises(InputError, match="too large"):
        read_bytes(path, max_bytes=10)


@pytest.mark.parametrize(
    ("data", "line", "column", "words"),
    [
        ("a: 1\nb: caf\xe9\n".encode("latin-1"), 2, 7, "Latin-1"),
        ("a: 1\n".encode("utf-16"), 1, 1, "UTF-16"),
        ("a: 1\n".encode("utf-16-be"), 1, 1, "NUL"),
        (b"a: 1\nb: x\x00y\n", 2, 5, "NUL"),
        ("a: 1\nname: ünï\xff".encode()[:-2] + b"\xff\n", 2, 10, "not UTF-8"),
        (b"\xef\xbb\xbfa: \xe9\n", 1, 4, "Latin-1"),
    ],
    ids=["latin-1", "utf-16-bom", "utf-16-no-bom", "nul", "bad-byte-after-utf8", "bom-then-bad"],
)
def test_decode_text_locates_the_first_bad_byte(tmp_path, data, line, column, words):
    path = tmp_path / "f.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_yaml(path)
    error = info.value
    assert (error.file, error.line, error.column) == (str(path), line, column)
    assert words in error.message


def test_decode_text_drops_a_byte_order_mark():
    assert decode_text("\ufeffa: 1\n".encode(), "f") == "a: 1\n"


# --------------------------------------------------------------------------- YAML limits


@pytest.mark.parametrize(
    "key",
    [
        "? [&a [x, x], *a]\n: 1\n",
        "? {a: &a [x, x], b: *a}\n: 1\n",
        "? [1, 2]\n: 1\n",
        "? !!set {a, b}\n: 1\n",
    ],
    ids=["aliased-list", "aliased-map", "plain-list", "set"],
)
def test_yaml_keys_must_be_scalars(key):
    """A list or mapping as a key is refused before it is built (its aliases would expand:
    300 bytes took 13 s and 1.7 GB, and printed a 78 MB message)."""
    with pytest.raises(InputError, match="key must be a plain name") as info:
        parse_yaml("schema_version: 1\n" + key, "f.yaml")
    assert (info.value.file, info.value.line) == ("f.yaml", 2)


def test_yaml_alias_bomb_in_a_key_is_refused_quickly():
    import time

    levels = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
        f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)
    ]
    text = "schema_version: 1\n? [" + ", ".join(levels) + "]\n: 1\n"
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        parse_yaml(text, "bomb.yaml")
    assert time.perf_counter() - started < 5  # 9**9 strings if it were expanded
    assert len(str(info.value)) < 500


def test_yaml_with_too_many_values_is_refused_before_composing(monkeypatch):
    import forecast.core.files

    monkeypatch.setattr(forecast.core.files, "MAX_YAML_NODES", 1000)
    text = "a: [" + ", ".join(["1"] * 999) + "]\n"  # 1 mapping + 1 key + list + 999 = 1002
    with pytest.raises(InputError, match="more than 1,000 values") as info:
        parse_yaml(text, "big.yaml")
    assert info.value.line == 1
    assert parse_yaml("a: [" + ", ".join(["1"] * 990) + "]\n").data["a"][0] == 1


# --------------------------------------------------------------------------- error text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("a\nb", "a\\nb"),
        ("\x1b]8;;http://x\x1b\\", "\\x1b]8;;http://x\\x1b\\"),
        ("bidi\u202etxt", "bidi\\u202etxt"),
        ("surrogate\udcff", "surrogate\\udcff"),
        ("naïve café", "naïve café"),
    ],
)
def test_printable(raw, shown):
    assert printable(raw) == shown


def test_input_error_is_one_line_of_bounded_length():
    error = InputError("bad value " + "x" * 100_000 + "\nsecond line", "dir/a\nb.yaml", "k\x1b")
    text = str(error)
    assert "\n" not in text and "\x1b" not in text
    assert len(text) < 3000
    assert text.startswith("dir/a\\nb.yaml: k\\x1b: bad value")


# --------------------------------------------------------------------------- writing sets


def test_write_files_writes_every_file_with_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_files(tmp_path / "new" / "out", {"a.csv": b"a", "b.json": b"{}"})
    finally:
        os.umask(old)
    folder = tmp_path / "new" / "out"
    assert sorted(os.listdir(folder)) == ["a.csv", "b.json"]
    assert stat.S_IMODE((folder / "a.csv").stat().st_mode) == 0o640
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750


def test_write_files_failure_on_the_second_file_changes_nothing(tmp_path, monkeypatch):
    """A full disk while writing results.json leaves no uplift.csv (nor a created folder)."""
    import errno

    import forecast.core.files

    calls = []

    def full_disk(fh, data):
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        fh.write(data)

    monkeypatch.setattr(forecast.core.files, "_write_all", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_files(tmp_path / "out", {"uplift.csv": b"u", "results.json": b"r"})
    assert os.listdir(tmp_path) == []

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "uplift.csv").write_bytes(b"previous")
    calls.clear()
    with pytest.raises(OSError):
        write_files(tmp_path / "old", {"uplift.csv": b"u", "results.json": b"r"})
    assert os.listdir(tmp_path / "old") == ["uplift.csv"]
    assert (tmp_path / "old" / "uplift.csv").read_bytes() == b"previous"


def test_write_files_failed_rename_restores_what_was_replaced(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_bytes(b"old a")
    real_rename = os.rename
    renamed = []

    def second_rename_fails(src, dst):
        if str(dst).endswith("b.json"):
            raise OSError(5, "Input/output error")
        renamed.append(dst)
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", second_rename_fails)
    with pytest.raises(OSError):
        write_files(tmp_path, {"a.csv": b"new a", "b.json": b"new b"})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["a.csv"]
    assert (tmp_path / "a.csv").read_bytes() == b"old a"


def test_atomic_write_and_staged_dir_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
        with staged_dir(tmp_path / "d") as tmp:
            (tmp / "g").write_bytes(b"y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755  # not mkdtemp's 0700


def test_staged_dir_replace_takes_a_file_in_the_way(tmp_path):
    final = tmp_path / "entry"
    final.write_text("not a folder")
    with staged_dir(final, replace=True) as tmp:
        (tmp / "x").write_text("x")
    assert (final / "x").read_text() == "x"
    assert os.listdir(tmp_path) == ["entry"]


def test_staged_dir_without_replace_does_not_hide_a_file_in_the_way(tmp_path):
    final = tmp_path / "entry"
    final.write_text("not a folder")
    with pytest.raises(OSError):
        with staged_dir(final) as tmp:
            (tmp / "x").write_text("x")
    assert final.read_text() == "not a folder"
    assert os.listdir(tmp_path) == ["entry"]


# --------------------------------------------------------------------------- destinations


def test_check_output_folder_accepts_new_and_existing_folders(tmp_path):
    assert check_output_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing is created
    assert check_output_folder(tmp_path) == tmp_path
    assert os.listdir(tmp_path) == []  # the probe file is gone


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda t: (t / "f").write_text("x") and t / "f", "found a file"),
        (lambda t: (t / "f").write_text("x") and t / "f" / "sub" / "deeper", "is a file"),
    ],
    ids=["a-file", "under-a-file"],
)
def test_check_output_folder_refuses_files_in_the_way(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(InputError, match=words) as info:
        check_output_folder(path)
    assert info.value.file == str(path) and info.value.path == "--out"
    assert info.value.exit_code == 2


def test_check_output_folder_refuses_a_read_only_folder(read_only_folder):
    with pytest.raises(InputError, match="cannot write") as info:
        check_output_folder(read_only_folder / "results")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [("EACCES", 2), ("EROFS", 2), ("ENOTDIR", 2), ("ENAMETOOLONG", 2), ("ENOSPC", 1), ("EIO", 1)],
)
def test_os_error_blames_the_path_or_the_machine(code, exit_code):
    import errno

    number = getattr(errno, code)
    error = os_error(OSError(number, os.strerror(number), "/x/y"), "/x", "--out")
    assert error.exit_code == exit_code
    assert str(error).startswith("/x/y: --out: cannot write")


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write to: a read-only tmpfs when root (root ignores modes),
    otherwise a folder without write permission."""
    import subprocess

    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip("root without permission to mount a read-only tmpfs")
        try:
            yield folder
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
