"""The reviewer's bundle (``forecast export``): every file at once, or nothing.

:func:`check_bundle_folder` checks the destination before any work (``--force`` replaces an
earlier bundle, never a folder of other files); :func:`write_bundle` builds the bundle in a
hidden sibling folder and renames it into place. Its files (:data:`BUNDLE_CONTENTS`) are
rendered from documents the stages computed: the run document, the explain stage's
documents (:func:`forecast.explain.review.review_documents`) and the calibration documents
given with ``--calibration`` (:func:`read_calibration`).
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

from forecast.core.destinations import output_target
from forecast.core.errors import InputError
from forecast.core.escape import excerpts
from forecast.core.writing import check_output_folder, os_error
from forecast.report.results import (
    check_finite,
    json_text,
    profiles_csv,
    sensitivity_csv,
    uplift_csv,
)

#: What each file of the export bundle holds (report.md lists them; docs/json-schema.md).
BUNDLE_CONTENTS = {
    "report.md": "the report (Markdown)",
    "report.html": "the same report as one self-contained page (figures embedded; prints well)",
    "results.json": "the forecast run --json document, explanation included",
    "explanation.json": "the explanation, the full sensitivity ranking, the buffer under each "
    "profile and the prior predictive check",
    "uplift.csv": "uplift quantiles by month (OOM and multipliers)",
    "sensitivity.csv": "the buffer under each variation of each prior",
    "profiles.csv": "the buffer under each assumption profile",
    "scenario.yaml": "the scenario file as run (a byte copy)",
    "scenario-resolved.yaml": "the scenario as forecast: the command's overrides and the "
    "profile's priors applied, paths absolute",
    "provenance.json": "versions, seeds, settings, and every input file with its absolute path "
    "and SHA-256",
    "fan_chart.png": "uplift over time, the buffer, and the policies at their periods",
    "p_cross.png": "P(each eval meets its threshold by month t)",
    "decomposition.png": "what sets the uplift at the horizon: evidence, attention, chance",
    "tornado.png": "sensitivity of the buffer to each prior, with the direction of each swing",
    "profiles.png": "the buffer under each assumption profile",
    "posterior.nc": "the posterior draws of the fit (ArviZ InferenceData, netCDF)",
}
BUNDLE_FILES = tuple(BUNDLE_CONTENTS)
#: Calibration and backtest documents given with ``--calibration`` are copied as
#: ``calibration-KIND.json`` (``calibration-KIND-2.json`` for a second of a kind).
CALIBRATION_FILE = re.compile(r"^calibration-(sbc|loo_pit|backtest)(-[0-9]+)?\.json$")
#: Largest calibration document read: 2 MiB like every other input (the SBC document of
#: the largest run allowed, 1,000 fits, is about 0.7 MB).
MAX_CALIBRATION_BYTES = 2 * 1024 * 1024
#: Deepest nesting of lists and objects in a calibration document (the real ones: 4).
MAX_CALIBRATION_DEPTH = 16


def is_bundle_file(name: str) -> bool:
    """A name the export bundle may hold (``--force`` replaces only such folders)."""
    return name in BUNDLE_CONTENTS or bool(CALIBRATION_FILE.match(name))


def is_bundle_entry(path: Path) -> bool:
    """A file of an earlier bundle: a regular file (not a folder or a link) with a bundle's
    name. ``--force`` replaces a folder that holds nothing else."""
    try:
        return is_bundle_file(path.name) and path.is_file() and not path.is_symlink()
    except OSError:
        return False


def check_bundle_folder(folder: str | Path, force: bool = False, field: str = "--out") -> Path:
    """Check, before any work, that the bundle can be written to ``folder``.

    ``folder`` must not exist, be an empty folder, or (with ``force``) hold an earlier
    bundle and nothing else: ``--force`` replaces a bundle, never a folder of other files.
    A symbolic link stands for its target (the bundle is written there, the link stays).
    The bundle is staged in the folder's parent, which must be writable too. The working
    folder, the home folder, the file system's root and their parents are never replaced.

    Returns the folder the bundle goes to (a link's target).

    Raises
    ------
    InputError
        Naming ``folder`` and what is wrong.
    """
    given = Path(folder)
    check_output_folder(given, field)
    folder = output_target(given, field)
    check_output_folder(folder.parent, field)  # the bundle is staged beside the folder
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
                str(given),
                field,
            )
    try:
        entries = sorted(os.listdir(folder))
    except OSError as exc:
        raise os_error(exc, given, field, "read") from None
    if not entries:
        return folder
    if not force:
        raise InputError("folder is not empty (use --force to replace it)", str(given), field)
    others = [e for e in entries if not is_bundle_entry(folder / e)]
    if others:
        raise InputError(
            f"--force replaces an earlier bundle, but this folder holds other files too "
            f"({excerpts(others)}); remove them or give another folder",
            str(given),
            field,
        )
    return folder


def shipped_calibration() -> list[tuple[str, dict]]:
    """The calibration documents shipped with the package (benchmarks/results/): the
    cross-validation and time cuts of the uplift model over the measured histories
    (``backtest.json``) and the leave-one-out PIT of the catalogue's figures
    (``loo-pit.json``), computed on the shipped inputs and default priors, each named as
    shipped with its date. What an export includes when no ``--calibration`` is given."""
    from forecast.checks.backtest import read_results
    from forecast.report.calibration import calibration_kind

    out = []
    for name in ("backtest.json", "loo-pit.json"):
        doc = read_results(name)
        if doc is not None and calibration_kind(doc) is not None:
            when = str(doc.get("created", ""))[:10]
            label = f"shipped results: benchmarks/results/{name}" + (f" ({when})" if when else "")
            out.append((label + ", for the shipped inputs and default priors", doc))
    return out


def read_calibration(paths) -> list[tuple[str, dict]]:
    """Read the calibration and backtest documents given to ``export --calibration``.

    Each is read whole before any work: at most :data:`MAX_CALIBRATION_BYTES` of UTF-8
    JSON, nested at most :data:`MAX_CALIBRATION_DEPTH` deep, with no NaN or infinity
    anywhere, and every field its summary reads checked by the document's schema
    (:mod:`forecast.core.schemas.calibration`).

    Returns ``(absolute path, document)`` pairs in the order given.

    Raises
    ------
    InputError
        For a file that cannot be read, is not JSON, or is not a valid JSON of ``forecast
        check sbc``, ``forecast check figures`` or ``forecast backtest``, naming the field.
    """
    from forecast.core.reading import YamlDocument, read_text
    from forecast.core.schemas.calibration import MODELS
    from forecast.core.validation import validate
    from forecast.report.calibration import CALIBRATION_KINDS, calibration_kind

    out = []
    for path in paths or ():
        path = Path(path)
        text = read_text(path, "calibration document", MAX_CALIBRATION_BYTES)
        doc = _parse_json(text, str(path))
        marks = _json_marks(doc, str(path))
        kind = calibration_kind(doc)
        if kind is None:
            expected = "; ".join(source for source, _ in CALIBRATION_KINDS.values())
            raise InputError(
                f"not a calibration or backtest document (expected the JSON of: {expected})",
                str(path),
                "--calibration",
            )
        if kind == "backtest" and "comparisons" not in doc:
            kind = "backtest_histories" if "crossval" in doc else "backtest_pairs"
        validate(MODELS[kind], YamlDocument(str(path), doc, marks), "calibration document")
        out.append((str(path.absolute()), doc))
    return out


def _parse_json(text: str, name: str):
    """JSON text without NaN or infinity (``NaN``, ``Infinity``, ``1e999``), however deep
    (a RecursionError is a located refusal)."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not a number a document may hold (write null)")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not a JSON document: {exc.msg}", name, None, exc.lineno, exc.colno
        ) from None
    except RecursionError:
        raise InputError(
            f"not a calibration document: nested more than {MAX_CALIBRATION_DEPTH} deep", name
        ) from None
    except ValueError as exc:  # NaN or Infinity, an integer of thousands of digits
        raise InputError(f"not a JSON document: {exc}", name) from None


def _json_marks(doc, name: str) -> dict:
    """Every field path of ``doc`` (for located messages), walked without recursion; a
    document nested too deep, with more values than any input may hold
    (:data:`forecast.core.reading.MAX_YAML_NODES`) or holding a number that is not finite
    is refused."""
    import math

    from forecast.core.errors import format_loc
    from forecast.core.reading import MAX_YAML_NODES

    marks: dict = {}
    stack = [((), doc)]
    while stack:
        loc, value = stack.pop()
        marks[loc] = (None, None)
        if len(marks) > MAX_YAML_NODES:
            raise InputError(
                f"more than {MAX_YAML_NODES:,} values: too large for a calibration document "
                "(see the limits in docs/reliability.md)",
                name,
            )
        if len(loc) > MAX_CALIBRATION_DEPTH:
            raise InputError(
                f"nested more than {MAX_CALIBRATION_DEPTH} deep: not a calibration document",
                name,
                format_loc(loc[:MAX_CALIBRATION_DEPTH], 40),
            )
        if isinstance(value, dict):
            stack += [((*loc, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [((*loc, i), v) for i, v in enumerate(value)]
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                "a number too large to be finite (write null)", name, format_loc(loc, 40)
            )
    return marks


def input_records(result) -> list[dict]:
    """Every file the run read (:meth:`forecast.inputs.resolve.RunInputs.files`): its role,
    absolute path, ``name`` (a shipped input's name in the package, such as
    ``priors/defaults.yaml``, with ``shipped`` true; a user's file as given), and the size
    and SHA-256 of the bytes the run read, when it read them
    (:attr:`~forecast.inputs.resolve.RunInputs.reads`): a file edited since does not
    change them. Inputs resolved without a read log (made by hand) are hashed now, through
    the safe reader (a regular file of at most the input size limit, never a FIFO);
    ``sha256`` is None and ``problem`` says why when that fails."""
    import os

    from forecast.core.paths import data_dir
    from forecast.core.reading import MAX_CSV_BYTES, file_read, read_bytes

    root = data_dir("priors").parent.resolve()
    reads = result.inputs.reads
    records = []
    for role, path in result.inputs.files():
        resolved = Path(path).resolve()
        record = {"role": role, "path": str(resolved), "sha256": None, "bytes": None}
        # a shipped input by the name a reviewer finds in the package (and the repository)
        shipped = resolved.is_relative_to(root)
        record["shipped"] = shipped
        record["name"] = resolved.relative_to(root).as_posix() if shipped else str(path)
        read = reads.get(os.path.abspath(path))
        if read is None and not reads:
            try:
                read = file_read(path, read_bytes(path, f"{role} file", MAX_CSV_BYTES))
            except InputError as exc:
                record["problem"] = f"cannot read it now: {exc.message}"
        if read is not None:
            record |= {"sha256": read.sha256, "bytes": read.size}
        elif "problem" not in record:
            record["problem"] = "not read by this run"
        records.append(record)
    return records


def provenance_document(result, inputs: list[dict], calibration) -> dict:
    """``provenance.json``: the run's provenance, the fit's (settings, libraries), every
    input file with its hash, and the calibration documents included."""
    import platform
    import sys

    def fit_record(fit) -> dict:
        return {
            "key": fit.key,
            "how": fit.how,
            "settings": fit.provenance.get("settings"),
            "created": fit.provenance.get("created"),
            "model_version": fit.provenance.get("model_version"),
            "reweighted": fit.provenance.get("reweighted"),
            "libraries": fit.provenance.get("libraries"),
        }

    return {
        "run": result.provenance,
        "fit": fit_record(result.fits.histories),
        "catalogue_fit": fit_record(result.fitted),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "inputs": inputs,
        "calibration": [name for name, _ in calibration],
    }


def write_bundle(
    result, review: dict, folder: str | Path, force: bool = False, calibration=()
) -> Path:
    """The reviewer's bundle (:data:`BUNDLE_CONTENTS`), staged in a temporary folder and
    renamed into place: the whole bundle or nothing.

    ``review`` is :func:`forecast.api.review`'s documents and ``calibration`` the
    documents it summarised (:func:`read_calibration`), copied into the bundle.
    ``posterior.nc`` is copied from the fit's cache entry only after its checksum and
    ownership are verified (and never through a link); otherwise it is written from the
    fit in memory (a fit reweighted to other priors: its resampled draws, one chain).

    Raises
    ------
    InputError
        If ``folder`` is not acceptable (:func:`check_bundle_folder`) or cannot be written.
    NumericalError
        If a document holds NaN or infinity.
    """
    from forecast.core.destinations import output_lock
    from forecast.core.writing import remove_stale_staging

    folder = Path(folder)
    document = review["run"]
    check_finite(document)
    details = {k: review[k] for k in ("explanation", "sensitivity", "profiles", "prior_check")}
    check_finite(details, "the explanation")
    with output_lock(folder):
        target = _write(result, review, document, details, folder, force, calibration)
    remove_stale_staging(target.parent, name=target.name)  # left by an export that was killed
    return target


def _write(result, review, document, details, folder, force, calibration) -> Path:
    """:func:`write_bundle` under the folder's lock: the bundle staged beside the folder
    and put in place (:func:`forecast.core.writing.staged_output`)."""
    from forecast.core.reading import read_bytes
    from forecast.core.writing import staged_output
    from forecast.inputs.resolve import resolved_scenario
    from forecast.report import plots
    from forecast.report.html import html_report
    from forecast.report.markdown import markdown_report

    target = check_bundle_folder(folder, force)
    inputs = input_records(result)
    scenario_bytes = result.inputs.scenario_bytes  # the bytes the run read and validated
    if scenario_bytes is None:
        scenario_bytes = read_bytes(result.scenario_path, "scenario file")
    caption = plots.caption(document)
    title = result.scenario.title
    copies = _calibration_names(review["calibration"])
    try:
        with staged_output(target, force, is_bundle_entry) as tmp:

            def put(name: str, data: bytes | str) -> None:
                (tmp / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

            put("results.json", json_text(document))
            put("uplift.csv", uplift_csv(document["uplift"]))
            figures = {
                "fan_chart.png": _png(plots.fan_chart, document),
                "p_cross.png": _png(plots.p_cross_chart, document),
                "decomposition.png": _png(
                    plots.decomposition_chart,
                    review["explanation"],
                    title=f"Where the uplift at the horizon comes from: {title}",
                    subtitle=caption,
                ),
                "tornado.png": _png(
                    plots.tornado_chart,
                    review["sensitivity"]["priors"],
                    review["sensitivity"]["buffer_oom"],
                    title=f"Sensitivity of the buffer to each prior: {title}",
                    subtitle=caption,
                ),
            }
            if review["profiles"]:
                figures["profiles.png"] = _png(
                    plots.profiles_chart,
                    review["profiles"],
                    title=f"The buffer under each assumption profile: {title}",
                    subtitle=plots.caption(document, profile=False),
                )
                put("profiles.csv", profiles_csv(review["profiles"]))
            for name, png in figures.items():
                put(name, png)
            put("explanation.json", json_text(details))
            put("sensitivity.csv", sensitivity_csv(review["sensitivity"]))
            put("scenario.yaml", scenario_bytes)
            put("scenario-resolved.yaml", _resolved_yaml(result, resolved_scenario))
            for name, (_, doc) in zip(copies, calibration, strict=True):
                put(name, json_text(doc))
            put("provenance.json", json_text(provenance_document(result, inputs, calibration)))
            _write_posterior(result.fits.histories, tmp / "posterior.nc")
            later = ("report.md", "report.html")  # written below
            files = {k: v for k, v in BUNDLE_CONTENTS.items() if k in later or (tmp / k).exists()}
            files |= {
                name: f"{summary['title']} ({summary['file']})"
                for name, summary in zip(copies, review["calibration"], strict=True)
            }
            report = markdown_report(document, dict(review, inputs=inputs, files=files), figures)
            put("report.md", report)
            put("report.html", html_report(report, figures, f"Forecast: {title}"))
    except OSError as exc:
        raise os_error(exc, folder, "--out") from None
    return target


def _png(plot, *args, **kwargs) -> bytes:
    """A figure drawn into memory: ``plot(*args, buffer, **kwargs)``."""
    buffer = io.BytesIO()
    plot(*args, buffer, **kwargs)
    return buffer.getvalue()


def _calibration_names(summaries) -> list[str]:
    """The bundle's names of the calibration documents: ``calibration-KIND[-N].json``."""
    names, seen = [], {}
    for summary in summaries:
        kind = summary["kind"]
        seen[kind] = seen.get(kind, 0) + 1
        names.append(f"calibration-{kind}" + (f"-{seen[kind]}" if seen[kind] > 1 else "") + ".json")
    return names


def _resolved_yaml(result, resolved_scenario) -> str:
    import yaml

    prov = result.provenance
    header = [
        "# The scenario as forecast by this bundle (forecast export): the command's options",
        "# and the profile's priors applied, paths made absolute. To run it again:",
        f"#   forecast run scenario-resolved.yaml --seed {prov['seed']} --fit-seed "
        f"{prov['fit_seed']}" + (f" --as-of {prov['as_of']}" if prov.get("as_of") else ""),
        "# with the same evidence (see provenance.json for every input file and its hash).",
    ]
    body = yaml.safe_dump(resolved_scenario(result.inputs), sort_keys=False, allow_unicode=True)
    return "\n".join(header) + "\n" + body


def _write_posterior(fit, path: Path) -> None:
    """``posterior.nc``: a verified copy from the cache, or written from the fit in memory."""
    from forecast.fit import cache

    if fit.directory is not None and fit.how != "shipped":
        try:
            cache.copy_file(fit.key, "posterior.nc", path)
            return
        except cache.CorruptEntry as exc:
            if fit.inference_data is None:
                raise InputError(
                    f"the cached fit's posterior.nc cannot be used ({exc}); rerun "
                    "with --no-cache to refit",
                    str(fit.directory),
                ) from None
    if fit.inference_data is not None:
        from forecast.fit.posterior import write_netcdf

        write_netcdf(fit.inference_data, path)
        return
    if fit.how in ("reweighted", "shipped"):
        from forecast.fit.posterior import write_draws_netcdf

        write_draws_netcdf(
            fit.draws,
            path,
            {"forecast_reweighted": json.dumps(fit.provenance.get("reweighted"), default=str)},
        )
        return
    raise InputError("the fit has no posterior.nc; rerun with --no-cache", str(fit.directory))
