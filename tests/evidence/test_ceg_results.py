"""forecast.evidence.ceg_results: the benchmark results CSV, every problem located (also
through ``forecast ceg estimate``)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from forecast.cli import ceg
from forecast.core.errors import InputError
from forecast.evidence.ceg_estimate import estimate
from forecast.evidence.ceg_results import Row, read_results_csv

runner = CliRunner()


def invoke(*args):
    return runner.invoke(ceg.app, ["estimate", *map(str, args)])


# --------------------------------------------------------------------------- bad input


def error_of(path) -> str:
    """The CLI's error for ``path`` (the root app maps InputError to exit code 2)."""
    result = invoke(path)
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.exit_code == 2
    with pytest.raises(InputError) as info:
        read_results_csv(path)
    assert str(info.value) == str(result.exception)
    return str(result.exception)


def test_missing_column_with_suggestion(csv_file):
    path = csv_file("model,compute_flops,enhanced,score\na,1e22,false,1\nb,1e22,true,2\n")
    message = error_of(path)
    assert str(path) in message
    assert "line 1, column compute_flop" in message
    assert "'compute_flop' is missing" in message
    assert "did you mean 'compute_flop'?" in message


def test_misspelt_optional_column(csv_file):
    path = csv_file("model,compute_flop,enhanced,score,higher_is_beter\na,1,false,1,false\n")
    message = error_of(path)
    assert "unknown column 'higher_is_beter', did you mean 'higher_is_better'?" in message


def test_non_numeric_compute(csv_file):
    path = csv_file("model,compute_flop,enhanced,score\na,1e22,false,1\nb,lots,true,2\n")
    message = error_of(path)
    assert str(path) in message and "line 3, column compute_flop" in message
    assert "positive number" in message and "'lots'" in message


@pytest.mark.parametrize("value", ["0", "-1e22", "inf", ""])
def test_non_positive_compute(csv_file, value):
    path = csv_file(f"model,compute_flop,enhanced,score\na,{value},false,1\nb,1e22,true,2\n")
    assert "line 2, column compute_flop" in error_of(path)


def test_non_numeric_score(csv_file):
    path = csv_file("model,compute_flop,enhanced,score\na,1e22,false,52%\nb,1e22,true,2\n")
    message = error_of(path)
    assert "line 2, column score" in message and "expected a number" in message


def test_bad_boolean(csv_file):
    path = csv_file("model,compute_flop,enhanced,score\na,1e22,False,1\nb,1e23,maybe,2\n")
    message = error_of(path)
    assert str(path) in message and "line 3, column enhanced" in message
    assert "expected true or false" in message and "'maybe'" in message


@pytest.mark.parametrize(
    ("text", "value"),
    [("Yes", True), ("NO", False), ("1", True), ("0", False), (" true ", True), ("FALSE", False)],
)
def test_booleans_accepted(csv_file, text, value):
    other = "false" if value else "true"
    path = csv_file(f"model,compute_flop,enhanced,score\na,1e22,{text},1\nb,1e23,{other},2\n")
    assert read_results_csv(path)[0].enhanced is value


def test_blank_lines_keep_line_numbers(csv_file):
    path = csv_file("model,compute_flop,enhanced,score\n\na,1e22,false,1\n\nb,x,true,2\n")
    assert "line 5, column compute_flop" in error_of(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    message = error_of(path)
    assert str(path) in message and "file not found" in message


@pytest.mark.parametrize("text", ["", "\n\n", "model,compute_flop,enhanced,score\n"])
def test_empty_file(csv_file, text):
    message = error_of(csv_file(text))
    assert "empty" in message or "no data rows" in message


def test_inconsistent_higher_is_better(csv_file):
    path = csv_file(
        """\
        benchmark,model,compute_flop,enhanced,score,higher_is_better
        C4,a,1e22,false,0.9,false
        C4,b,1e23,false,0.8,true
        C4,c,1e22,true,0.7,false
        """
    )
    message = error_of(path)
    assert "line 3, column higher_is_better" in message and "line 2" in message


@pytest.mark.parametrize(("flag", "what"), [("false", "no enhanced"), ("true", "no non-enhanced")])
def test_benchmark_without_both_kinds(csv_file, flag, what):
    path = csv_file(
        "benchmark,model,compute_flop,enhanced,score\n"
        "A,a,1e22,false,1\nA,b,1e22,true,2\n"
        f"B,c,1e22,{flag},1\nB,d,1e23,{flag},2\n"
    )
    message = error_of(path)
    assert "benchmark 'B'" in message and what in message and "column enhanced" in message


def test_too_many_values(csv_file):
    path = csv_file("model,compute_flop,enhanced,score\na,1e22,false,1,extra\n")
    assert "line 2" in error_of(path)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("compute_flop", "5e-324"),
        ("compute_flop", "1e-31"),
        ("compute_flop", "1e61"),
        ("compute_flop", "1e308"),
        ("score", "1e300"),
        ("score", "-2e12"),
    ],
)
def test_values_at_float_extremes_are_refused_where_they_are(csv_file, column, value):
    """compute 5e-324 gave an infinite bound (printed as .inf), scores 1e300 NaN sums."""
    text = "model,compute_flop,enhanced,score\na,1e24,false,20\nb,1e25,false,30\nc,1e23,true,35\n"
    lines = text.split("\n")
    cells = lines[3].split(",")
    cells[["model", "compute_flop", "enhanced", "score"].index(column)] = value
    lines[3] = ",".join(cells)
    path = csv_file("\n".join(lines))
    with pytest.raises(InputError) as info:
        read_results_csv(path)
    assert info.value.path == f"line 4, column {column}"


def test_rows_not_from_a_file_are_range_checked_too():
    with pytest.raises(InputError, match="compute_flop must be from"):
        estimate([Row("a", 1e24, False, 1), Row("b", 5e-324, True, 2)])


def test_csv_with_a_nul_or_in_latin_1_is_located(csv_file, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("model,compute_flop,enhanced,score\nsmäll,1e22,false,20\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_results_csv(path)
    assert (info.value.line, info.value.column) == (2, 3)


def test_csv_rows_are_capped(csv_file, monkeypatch):
    import forecast.evidence.ceg_results as module

    monkeypatch.setattr(module, "MAX_CSV_ROWS", 3)
    body = "".join(f"m{i},1e2{i % 5},false,{i}\n" for i in range(5))
    with pytest.raises(InputError, match="more than 3 rows") as info:
        read_results_csv(csv_file("model,compute_flop,enhanced,score\n" + body))
    assert info.value.path == "line 5"
