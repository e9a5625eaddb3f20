"""forecast.core.errors: field paths, and messages that are one printable line."""

from __future__ import annotations

import pytest

from forecast.core.errors import InputError, format_loc, printable


def test_format_loc():
    assert format_loc(("enhancements", 2, "category")) == "enhancements[2].category"
    assert format_loc(("a", 0, 1, "b")) == "a[0][1].b"
    assert format_loc(()) == ""


def test_input_error_string_forms():
    assert str(InputError("bad", "f.yaml", "a.b", 3, 7)) == "f.yaml:3:7: a.b: bad"
    assert str(InputError("bad", "f.yaml", None, 3)) == "f.yaml:3: bad"
    assert str(InputError("bad", "f.yaml")) == "f.yaml: bad"
    assert str(InputError("bad")) == "bad"
    assert InputError("x").exit_code == 2


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
