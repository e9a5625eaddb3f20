"""Writing results to disk: files appear whole or not at all."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from forecast.files import atomic_write_text


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return _json_safe(x.item())
    return x


def json_text(document: dict) -> str:
    return json.dumps(_json_safe(document), indent=2) + "\n"


def uplift_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_results(document: dict, folder: str | Path) -> None:
    """``results.json`` and ``uplift.csv`` in ``folder``, each written atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_text = uplift_csv(document["uplift"])
    json_doc = json_text(document)
    atomic_write_text(folder / "uplift.csv", csv_text)
    atomic_write_text(folder / "results.json", json_doc)
