"""Documents as JSON and CSV text, refused when they hold NaN or infinity.

Before anything is written or printed, :func:`check_finite` refuses a document holding NaN
or infinity (a computation went out of range: that is an error, never a number shown).
:func:`json_text` writes plain JSON; ``run --out`` writes ``results.json`` and
``uplift.csv`` as a set (:func:`write_results`, through
:func:`forecast.core.writing.write_files`); the CSVs of the bundle's sensitivity ranking and
profiles are made here too.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from forecast.core.errors import NumericalError, format_loc
from forecast.core.escape import csv_cell
from forecast.core.writing import os_error, write_files


def _json_safe(x):
    """Plain JSON values: numpy scalars as Python numbers, NaN and inf as null."""
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return _json_safe(x.item())
    return x


def non_finite(document, loc: tuple = ()) -> tuple | None:
    """The location of the first NaN or infinity in a document of dicts, lists and
    numbers (numpy scalars and arrays included), or None."""
    if isinstance(document, dict):
        for k, v in document.items():
            found = non_finite(v, (*loc, str(k)))
            if found is not None:
                return found
        return None
    if isinstance(document, list | tuple):
        for i, v in enumerate(document):
            found = non_finite(v, (*loc, i))
            if found is not None:
                return found
        return None
    if isinstance(document, bool | int | str) or document is None:
        return None
    if hasattr(document, "dtype") and hasattr(document, "tolist"):  # numpy
        return non_finite(document.tolist(), loc)
    if isinstance(document, float) and not math.isfinite(document):
        return loc
    return None


def check_finite(document, what: str = "the result") -> None:
    """Refuse a document that holds NaN or infinity anywhere.

    Raises
    ------
    NumericalError
        Naming the first field that is not a finite number (exit code 1): nothing is
        printed or written. Extreme inputs are refused earlier with a located exit-2
        message; this is the last line of defence.
    """
    loc = non_finite(document)
    if loc is not None:
        raise NumericalError(
            "a computation produced NaN or infinity (extreme values in the priors, the "
            "scenario or the fit drove it out of range); nothing was printed or written",
            what,
            format_loc(loc) or None,
        )


def json_text(document) -> str:
    return json.dumps(_json_safe(document), indent=2) + "\n"


def uplift_csv(rows: list[dict]) -> str:
    headers = list(rows[0])
    return csv_text(headers, [[r.get(h) for h in headers] for r in rows])


def write_results(document: dict, folder: str | Path, field: str = "--out") -> None:
    """``results.json`` and ``uplift.csv`` in ``folder``, written as a set: both or neither.

    Raises
    ------
    NumericalError
        If the document holds NaN or infinity.
    InputError, MachineError
        If the folder cannot be written (exit 2 when another folder would do, 1 for a
        fault of the machine such as a full disk); nothing is left behind.
    """
    folder = Path(folder)
    check_finite(document)
    files = {
        "uplift.csv": uplift_csv(document["uplift"]).encode("utf-8"),
        "results.json": json_text(document).encode("utf-8"),
    }
    try:
        write_files(folder, files)
    except OSError as exc:
        raise os_error(exc, folder, field) from None


def csv_text(headers: list[str], rows: list[list]) -> str:
    """CSV text; every cell passes :func:`forecast.core.escape.csv_cell` (text on one line,
    nothing a spreadsheet would run as a formula, None as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in headers])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return buffer.getvalue()


def sensitivity_csv(sens: dict) -> str:
    """One row per prior and variation: the buffer, how it was found, Pareto k, reliable.

    ``swing_oom`` is empty where a number would mislead; ``swing`` says why (refit
    needed, no effect, unreliable)."""
    from forecast.report.text import swing_text

    rows = []
    for r in sens["priors"]:
        swing = swing_text(r)
        number = r["swing_oom"] if swing[0].isdigit() else ""
        for v in r["variations"]:
            rows.append(
                [
                    r["prior"],
                    r["drives"],
                    r["distribution"],
                    number,
                    swing,
                    v["how"],
                    v["distribution"],
                    _csv(v["buffer_oom"]),
                    v["method"],
                    _csv(v["pareto_k"]),
                    "yes" if v["reliable"] else "no",
                ]
            )
    headers = [
        "prior",
        "drives",
        "default",
        "swing_oom",
        "swing",
        "variation",
        "varied_to",
        "buffer_oom",
        "method",
        "pareto_k",
        "reliable",
    ]
    return csv_text(headers, rows)


def profiles_csv(rows: list[dict]) -> str:
    """One row per profile; a profile that could not be simulated has empty numbers and its
    reason in ``error``."""
    headers = [
        "profile",
        "title",
        "buffer_oom",
        "buffer_multiplier",
        "median_oom",
        "fit",
        "pareto_k",
        "trend",
        "priors",
        "error",
    ]
    out = []
    for r in rows:
        if "error" in r:
            out.append([r["profile"], r["title"], *[""] * 7, r["error"]])
            continue
        out.append(
            [
                r["profile"],
                r["title"],
                r["buffer_oom"],
                10 ** r["buffer_oom"],
                r["median_oom"],
                r["fit"],
                _csv((r.get("reweighting") or {}).get("pareto_k")),
                r["extrapolation"].get("trend"),
                "; ".join(f"{k} = {v}" for k, v in r["priors"].items()) or "-",
                "",
            ]
        )
    return csv_text(headers, out)


def _csv(value) -> str:
    """An empty CSV cell for a missing value, never the text ``None``."""
    return "" if value is None else value
