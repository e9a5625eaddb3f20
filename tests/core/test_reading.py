"""forecast.core.reading: regular files only, size caps, UTF-8, and YAML with positions."""

from __future__ import annotations

import os
import textwrap

import pytest

from forecast.core.errors import InputError
from forecast.core.reading import MAX_CSV_BYTES, decode_text, parse_yaml, read_bytes, read_yaml

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
    import forecast.core.reading

    monkeypatch.setattr(forecast.core.reading, "MAX_YAML_NODES", 1000)
    text = "a: [" + ", ".join(["1"] * 999) + "]\n"  # 1 mapping + 1 key + list + 999 = 1002
    with pytest.raises(InputError, match="more than 1,000 values") as info:
        parse_yaml(text, "big.yaml")
    assert info.value.line == 1
    assert parse_yaml("a: [" + ", ".join(["1"] * 990) + "]\n").data["a"][0] == 1
