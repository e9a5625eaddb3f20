"""forecast.core.reading: large YAML files are parsed once per content.

The kept parse gives the same document as parsing (every value with its type, every
position); a changed byte parses anew; a kept parse that is damaged, not the user's or
writable by others is not used; a cache that cannot be used never stops a read; errors are
never kept.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import textwrap

import pytest

from forecast.core import reading
from forecast.core.errors import InputError
from forecast.core.reading import PARSE_CACHE_MIN_BYTES, parse_cache_dir, parse_yaml, read_yaml

#: Every kind of value the safe loader gives, keys of every scalar type, nesting, aliases of
#: scalars; padded past PARSE_CACHE_MIN_BYTES by a long list.
DOCUMENT = textwrap.dedent(
    """\
    text: hello
    quoted: "é \\u00e9 \\U0001F600"
    number: 3
    big: 123456789012345678901234567890
    real: -0.0
    tiny: 1.0e-300
    infinite: -.inf
    missing: .nan
    flag: yes
    nothing: ~
    day: 2023-02-28
    moment: 2023-02-28T10:11:12.5+01:30
    utc: 2023-02-28 10:11:12Z
    naive: 2023-02-28T10:11:12
    blob: !!binary aGVsbG8=
    anchored: &a 2.5
    again: *a
    7: int key
    2.5: float key
    true: bool key
    ~: null key
    nested: {inner: [1, [2, {deep: x}], {}], empty: []}
    """
)


def _padded(text: str = DOCUMENT) -> str:
    lines = [text, "padding:\n"]
    size = len(text)
    i = 0
    while size < PARSE_CACHE_MIN_BYTES + 100:
        line = f"  - {{id: item-{i}, value: {i * 0.5}, when: 2024-01-{i % 28 + 1:02d}}}\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)


def _same(a, b) -> bool:
    """Equal values of the same types, keys in the same order (1 == 1.0 == True is not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return [(type(k), k) for k in a] == [(type(k), k) for k in b] and all(
            _same(a[k], b[k]) for k in a
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, dt.datetime):
        return a == b and a.tzinfo == b.tzinfo and a.utcoffset() == b.utcoffset()
    return a == b


def _entry(key: str):
    return parse_cache_dir() / f"{key}.json"


@pytest.fixture
def yaml_file(tmp_path, cache_dir):
    path = tmp_path / "big.yaml"
    path.write_text(_padded(), encoding="utf-8")
    return path


def _fail_parsing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(reading, "parse_yaml", refuse)


def test_a_kept_parse_is_the_parse(yaml_file, monkeypatch):
    fresh = parse_yaml(yaml_file.read_text(encoding="utf-8"), str(yaml_file))
    first = read_yaml(yaml_file)
    assert _entry(reading.parse_key(yaml_file.read_bytes())).is_file()
    _fail_parsing(monkeypatch)
    kept = read_yaml(yaml_file)
    for doc in (first, kept):
        assert doc.path == str(yaml_file)
        assert _same(doc.data, fresh.data)
        assert list(doc.marks.items()) == list(fresh.marks.items())
    assert kept.data["blob"] == b"hello" and kept.data["moment"].utcoffset().seconds == 5400
    assert kept.position(("nested", "inner", 1, 1, "deep")) == fresh.position(
        ("nested", "inner", 1, 1, "deep")
    )


def test_a_changed_byte_parses_anew(yaml_file, monkeypatch):
    read_yaml(yaml_file)
    yaml_file.write_bytes(yaml_file.read_bytes().replace(b"text: hello", b"text: hellO"))
    assert read_yaml(yaml_file).data["text"] == "hellO"
    assert len(list(parse_cache_dir().glob("*.json"))) == 2
    _fail_parsing(monkeypatch)
    assert read_yaml(yaml_file).data["text"] == "hellO"


def test_the_parser_version_and_the_value_limit_are_part_of_the_key(yaml_file, monkeypatch):
    read_yaml(yaml_file)
    limit = reading.MAX_YAML_NODES
    monkeypatch.setattr(reading, "MAX_YAML_NODES", 10)
    with pytest.raises(InputError, match="more than 10 values"):  # a lower limit applies
        read_yaml(yaml_file)
    monkeypatch.setattr(reading, "MAX_YAML_NODES", limit)
    data = yaml_file.read_bytes()
    key = reading.parse_key(data)
    monkeypatch.setattr(reading, "PARSE_CACHE_FORMAT", reading.PARSE_CACHE_FORMAT + 1)
    assert reading.parse_key(data) != key


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_text("{not json"),
        lambda p: p.write_text('[1, "0000", null, []]'),
        lambda p: p.write_text(p.read_text().replace('"text","hello"', '"text","forged"', 1)[:-5]),
        lambda p: p.write_bytes(p.read_bytes().replace(b",3,", b",4,", 1)),
        lambda p: p.write_bytes(b""),
        lambda p: os.chmod(p, 0o622),  # writable by others
        lambda p: (p.rename(p.with_suffix(".real")), p.symlink_to(p.with_suffix(".real"))),
    ],
    ids=[
        "not-json",
        "wrong-key",
        "truncated",
        "positions-changed",
        "empty",
        "group-writable",
        "symlink",
    ],
)
def test_a_damaged_or_untrusted_kept_parse_is_not_used(yaml_file, damage):
    fresh = read_yaml(yaml_file)
    entry = _entry(reading.parse_key(yaml_file.read_bytes()))
    entry.write_text(entry.read_text().replace('"hello"', '"forged"'))  # used: "forged"
    damage(entry)
    again = read_yaml(yaml_file)
    assert _same(again.data, fresh.data) and again.marks == fresh.marks


def test_a_kept_parse_with_the_right_key_but_forged_data_is_only_trusted_if_the_users(
    yaml_file, monkeypatch
):
    """The trust model of the fit cache: a file the user owns and no one else can write is
    trusted (it is the user's own cache); one owned by another user is not."""
    read_yaml(yaml_file)
    entry = _entry(reading.parse_key(yaml_file.read_bytes()))
    entry.write_text(entry.read_text().replace('"hello"', '"forged"'))
    os.chmod(entry, 0o600)
    assert read_yaml(yaml_file).data["text"] == "forged"
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(entry).st_uid + 1)
    assert read_yaml(yaml_file).data["text"] == "hello"


def test_small_files_and_errors_are_never_kept(tmp_path, cache_dir):
    small = tmp_path / "small.yaml"
    small.write_text("a: 1\n")
    assert read_yaml(small).data == {"a": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(_padded() + "broken: [\n")
    with pytest.raises(InputError) as info:
        read_yaml(bad)
    assert info.value.line is not None and str(info.value).startswith(f"{bad}:")
    with pytest.raises(InputError):
        read_yaml(bad)
    assert not parse_cache_dir().exists() or not list(parse_cache_dir().glob("*.json"))


def test_a_cache_that_cannot_be_used_never_stops_a_read(yaml_file, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(blocker))
    assert read_yaml(yaml_file).data["text"] == "hello"
    monkeypatch.setenv("FORECAST_CACHE_DIR", "~nosuchuser-forecast/x")
    assert read_yaml(yaml_file).data["text"] == "hello"


def test_values_the_cache_cannot_hold_are_parsed_each_time(yaml_file, monkeypatch):
    monkeypatch.setattr(reading, "_encode", lambda value: (_ for _ in ()).throw(TypeError()))
    assert read_yaml(yaml_file).data["text"] == "hello"
    assert not list(parse_cache_dir().glob("*.json"))


def test_the_oldest_kept_parses_go_first(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setattr(reading, "PARSE_CACHE_ENTRIES", 3)
    paths = []
    for i in range(5):
        path = tmp_path / f"f{i}.yaml"
        path.write_text(_padded(DOCUMENT.replace("hello", f"hello {i}")))
        read_yaml(path)
        entry = _entry(reading.parse_key(path.read_bytes()))
        os.utime(entry, (1_000_000 + i, 1_000_000 + i))
        paths.append(entry)
    assert set(parse_cache_dir().glob("*.json")) == set(paths[2:])


def test_the_folder_is_the_fit_caches(cache_dir):
    from forecast.fit.cache import cache_dir as fit_cache_dir

    assert parse_cache_dir() == fit_cache_dir() / "parsed"
    assert str(cache_dir) in str(parse_cache_dir())
