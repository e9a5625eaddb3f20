"""Writing results to disk: files appear whole or not at all, as a set.

Before anything is written, :func:`check_finite` refuses a document holding NaN or
infinity (a computation went out of range: that is an error, never a number shown), and
the CLI checks the destination with :func:`forecast.files.check_output_folder` before
the work starts. ``run --out`` writes its files as a set (:func:`forecast.files.write_files`);
the export bundle is built in a hidden sibling folder and renamed into place.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from forecast.errors import InputError, NumericalError
from forecast.files import check_output_folder, format_loc, os_error, write_files


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
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


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


BUNDLE_FILES = (
    "report.md",
    "results.json",
    "uplift.csv",
    "fan_chart.png",
    "p_cross.png",
    "posterior.nc",
)


def check_bundle_folder(folder: str | Path, force: bool = False, field: str = "--out") -> Path:
    """Check, before any work, that the bundle can be written to ``folder``.

    ``folder`` must not exist, be an empty folder, or (with ``force``) hold an earlier
    bundle and nothing else: ``--force`` replaces a bundle, never a folder of other files.
    The working folder, the home folder, the file system's root and their parents are
    never replaced.

    Raises
    ------
    InputError
        Naming ``folder`` and what is wrong.
    """
    folder = Path(folder)
    check_output_folder(folder, field)
    if not folder.exists():
        return folder
    resolved = folder.resolve()
    protected = {Path.cwd().resolve(), Path(resolved.anchor)}
    try:
        protected.add(Path.home().resolve())
    except (RuntimeError, KeyError):
        pass
    for place in protected:
        if resolved == place or resolved in place.parents:
            raise InputError(
                "the bundle folder cannot be the working folder, the home folder or a "
                "folder that holds one of them: give a new folder",
                str(folder),
                field,
            )
    try:
        entries = sorted(os.listdir(folder))
    except OSError as exc:
        raise os_error(exc, folder, field, "read") from None
    if not entries:
        return folder
    if not force:
        raise InputError("folder is not empty (use --force to replace it)", str(folder), field)
    others = [e for e in entries if e not in BUNDLE_FILES]
    if others:
        shown = ", ".join(repr(e) for e in others[:3]) + (" ..." if len(others) > 3 else "")
        raise InputError(
            f"--force replaces an earlier bundle, but this folder holds other files too "
            f"({shown}); remove them or give another folder",
            str(folder),
            field,
        )
    return folder


def write_bundle(result, document: dict, folder: str | Path, force: bool = False) -> Path:
    """The risk-assessment bundle, staged in a temporary folder and renamed into place.

    ``posterior.nc`` is copied from the fit's cache entry only after its checksum and
    ownership are verified (and never through a link); otherwise it is written from the
    fit in memory.

    Raises
    ------
    InputError
        If ``folder`` is not acceptable (:func:`check_bundle_folder`) or cannot be written.
    NumericalError
        If the document holds NaN or infinity.
    """
    from forecast import cache, plots
    from forecast.files import remove_stale_staging, staged_dir
    from forecast.report import markdown_report

    folder = Path(folder)
    check_finite(document)
    check_bundle_folder(folder, force)
    fit = result.fitted.fit
    try:
        with staged_dir(folder, replace=True) as tmp:
            (tmp / "results.json").write_text(json_text(document))
            (tmp / "uplift.csv").write_text(uplift_csv(document["uplift"]))
            plots.fan_chart(document, tmp / "fan_chart.png")
            plots.p_cross_chart(document, tmp / "p_cross.png")
            copied = False
            if fit.directory is not None:
                try:
                    cache.copy_file(fit.key, "posterior.nc", tmp / "posterior.nc")
                    copied = True
                except cache.CorruptEntry as exc:
                    if fit.inference_data is None:
                        raise InputError(
                            f"the cached fit's posterior.nc cannot be used ({exc}); rerun "
                            "with --no-cache to refit",
                            str(fit.directory),
                        ) from None
            if not copied:
                if fit.inference_data is None:
                    raise InputError(
                        "the fit has no posterior.nc; rerun with --no-cache", str(fit.directory)
                    )
                from forecast.posterior import write_netcdf

                write_netcdf(fit.inference_data, tmp / "posterior.nc")
            (tmp / "report.md").write_text(markdown_report(document))
    except OSError as exc:
        raise os_error(exc, folder, "--out") from None
    remove_stale_staging(folder.parent, name=folder.name)  # left by an export that was killed
    return folder
