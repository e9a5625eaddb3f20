"""Writing results to disk: files appear whole or not at all."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from forecast.files import atomic_write_text


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


def json_text(document) -> str:
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


BUNDLE_FILES = (
    "report.md",
    "results.json",
    "uplift.csv",
    "fan_chart.png",
    "p_cross.png",
    "posterior.nc",
)


def write_bundle(result, document: dict, folder: str | Path, force: bool = False) -> Path:
    """The risk-assessment bundle, staged in a temporary folder and renamed into place.

    Raises
    ------
    InputError
        If ``folder`` exists and is not empty, unless ``force``.
    """
    import shutil

    from forecast import plots
    from forecast.errors import InputError
    from forecast.files import remove_stale_staging, staged_dir
    from forecast.report import markdown_report

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("expected a folder, found a file", str(folder), "--out")
    if folder.exists() and any(folder.iterdir()) and not force:
        raise InputError("folder is not empty (use --force to replace it)", str(folder), "--out")
    with staged_dir(folder, replace=True) as tmp:
        (tmp / "results.json").write_text(json_text(document))
        (tmp / "uplift.csv").write_text(uplift_csv(document["uplift"]))
        plots.fan_chart(document, tmp / "fan_chart.png")
        plots.p_cross_chart(document, tmp / "p_cross.png")
        fit = result.fitted.fit
        cached = fit.directory / "posterior.nc" if fit.directory else None
        if cached is not None and cached.is_file():
            shutil.copyfile(cached, tmp / "posterior.nc")
        elif fit.inference_data is not None:
            from forecast.posterior import write_netcdf

            write_netcdf(fit.inference_data, tmp / "posterior.nc")
        else:
            raise InputError(
                "the cached fit has no posterior.nc; rerun with --no-cache", str(fit.directory)
            )
        (tmp / "report.md").write_text(markdown_report(document))
    remove_stale_staging(folder.parent, name=folder.name)  # left by an export that was killed
    return folder
