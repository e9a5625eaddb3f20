"""The enhancement catalogue: loading, checking, and turning it into model arrays.

Stage 1 of the pipeline (evidence -> fit -> simulate -> buffer -> report).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np

from forecast.errors import InputError
from forecast.files import (
    YamlDocument,
    data_dir,
    exists,
    locate,
    read_yaml,
    suggest,
    validate,
)
from forecast.schemas import (
    CATEGORIES,
    Catalogue,
    Combination,
    Enhancement,
    Measurements,
    Observation,
)

#: Reference point of the model: gains are stated at this base-model scale and date.
REFERENCE_LOG10_FLOP = 23.0
REFERENCE_DATE = dt.date(2022, 6, 1)
DAYS_PER_YEAR = 365.25


def years_since_reference(day: dt.date) -> float:
    return (day - REFERENCE_DATE).days / DAYS_PER_YEAR


def shipped_catalogue_path() -> Path:
    return data_dir("priors") / "catalogue.yaml"


def _catalogue_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        files = [f for f in files if f.name not in ("defaults.yaml", "measurements.yaml")]
        if not files:
            raise InputError("folder holds no catalogue .yaml files", str(path))
        return files
    return [path]


def _read(path: str | Path) -> tuple[Catalogue, YamlDocument]:
    doc = read_yaml(path)
    catalogue = validate(Catalogue, doc, "catalogue")
    seen: dict[str, int] = {}
    for i, e in enumerate(catalogue.enhancements):
        if e.id in seen:
            raise locate(
                doc,
                ("enhancements", i, "id"),
                f"duplicate id {e.id!r} (first used by enhancements[{seen[e.id]}])",
            )
        seen[e.id] = i
    combo_ids: set[str] = set()
    for i, c in enumerate(catalogue.combinations):
        if c.id in combo_ids or c.id in seen:
            raise locate(doc, ("combinations", i, "id"), f"duplicate id {c.id!r}")
        combo_ids.add(c.id)
    return catalogue, doc


def load_catalogue(extra: str | Path | None = None, shipped: bool = True) -> Catalogue:
    """The catalogue to fit: the shipped one, with a user's file or folder on top.

    A user record whose id matches a shipped one replaces it. Combination members must
    name enhancements present in the merged catalogue.

    Raises
    ------
    InputError
        For a missing or malformed file, duplicate ids or unknown member names.
    """
    parts: list[tuple[Catalogue, YamlDocument]] = []
    if shipped:
        parts.append(_read(shipped_catalogue_path()))
    if extra is not None:
        extra = Path(extra)
        if not exists(extra, "catalogue"):
            raise InputError("file or folder not found", str(extra))
        parts.extend(_read(f) for f in _catalogue_files(extra))
    if not parts:
        raise InputError("no catalogue given: pass --evidence PATH", "--evidence")
    enhancements: dict[str, Enhancement] = {}
    combinations: dict[str, tuple[Combination, YamlDocument, int]] = {}
    # Where each id was given last (part, document, index): a clash is reported in the
    # later file, the user's, not in the shipped catalogue it collides with.
    origin: dict[str, tuple[int, YamlDocument, int]] = {}
    combo_part: dict[str, int] = {}
    for part, (catalogue, doc) in enumerate(parts):
        enhancements.update((e.id, e) for e in catalogue.enhancements)
        origin.update((e.id, (part, doc, i)) for i, e in enumerate(catalogue.enhancements))
        combinations.update((c.id, (c, doc, i)) for i, c in enumerate(catalogue.combinations))
        combo_part.update((c.id, part) for c in catalogue.combinations)
    for combo, doc, i in combinations.values():
        if combo.id in enhancements:
            part, enh_doc, j = origin[combo.id]
            if part > combo_part[combo.id]:
                raise locate(
                    enh_doc,
                    ("enhancements", j, "id"),
                    f"id {combo.id!r} is already a combination id (in {doc.path})",
                )
            raise locate(
                doc, ("combinations", i, "id"), f"id {combo.id!r} is already an enhancement id"
            )
        for j, member in enumerate(combo.members):
            if member not in enhancements:
                raise locate(
                    doc,
                    ("combinations", i, "members", j),
                    f"unknown enhancement {member!r}{suggest(member, list(enhancements))}",
                )
    return Catalogue(
        schema_version=1,
        source_document="; ".join(c.source_document for c, _ in parts if c.source_document),
        enhancements=list(enhancements.values()),
        combinations=[c for c, _, _ in combinations.values()],
    )


def load_measurements(path: str | Path | None = None) -> Measurements:
    """METR-style measured success rates (seed 000), kept as measured."""
    path = Path(path) if path else data_dir("priors") / "measurements.yaml"
    return validate(Measurements, read_yaml(path), "measurements file")


def catalogue_cut(catalogue: Catalogue, as_of: dt.date) -> Catalogue:
    """Only the enhancements published before ``as_of`` and combinations of them."""
    keep = [e for e in catalogue.enhancements if e.published < as_of]
    ids = {e.id for e in keep}
    combos = [c for c in catalogue.combinations if set(c.members) <= ids]
    return Catalogue(
        schema_version=1,
        source_document=catalogue.source_document,
        enhancements=keep,
        combinations=combos,
    )


# --------------------------------------------------------------------------- arrays


@dataclasses.dataclass(frozen=True)
class EvidenceTable:
    """The catalogue as arrays for the model. One row per CEG figure.

    Single-enhancement figures are rows with one member. Values are log10 CEG (OOM);
    ``lower``/``upper`` hold censoring bounds (``-inf``/``inf`` where absent) and
    ``value`` the point (NaN for censored rows).
    """

    enhancement_ids: tuple[str, ...]
    enhancement_category: np.ndarray  # (n_enh,) int index into CATEGORIES
    enhancement_year: np.ndarray  # (n_enh,) years since REFERENCE_DATE
    members: np.ndarray  # (n_rows, K) int, -1 = none
    in_baseline: np.ndarray  # (n_rows, K) bool
    value: np.ndarray  # (n_rows,) OOM, NaN where censored
    lower: np.ndarray  # (n_rows,) OOM, -inf where none
    upper: np.ndarray  # (n_rows,) OOM, +inf where none
    log_compute: np.ndarray  # (n_rows,) log10 FLOP - REFERENCE_LOG10_FLOP, 0 if unknown
    benchmark: np.ndarray  # (n_rows,) int index into benchmarks
    benchmarks: tuple[str, ...]
    row_labels: tuple[str, ...]
    category_counts: np.ndarray  # (n_categories,) enhancements published in the window
    window_years: float

    @property
    def n_rows(self) -> int:
        return len(self.value)

    @property
    def shared_benchmark(self) -> np.ndarray:
        """Rows whose benchmark has other rows too (its effect is then estimable)."""
        counts = np.bincount(self.benchmark, minlength=len(self.benchmarks))
        return counts[self.benchmark] > 1

    @property
    def is_single(self) -> np.ndarray:
        return (self.members[:, 1:] < 0).all(axis=1)

    @property
    def kind(self) -> np.ndarray:
        """'point', 'lower', 'upper' or 'interval' per row."""
        out = np.full(self.n_rows, "point", dtype=object)
        lo, hi = np.isfinite(self.lower), np.isfinite(self.upper)
        out[lo & ~hi] = "lower"
        out[~lo & hi] = "upper"
        out[lo & hi] = "interval"
        return out

    def digest(self) -> str:
        """SHA-256 of everything the fit depends on (part of the cache key)."""
        h = hashlib.sha256()
        for name in (
            "enhancement_category",
            "enhancement_year",
            "members",
            "in_baseline",
            "value",
            "lower",
            "upper",
            "log_compute",
            "benchmark",
            "category_counts",
        ):
            arr = np.ascontiguousarray(getattr(self, name))
            h.update(name.encode())
            h.update(str(arr.dtype).encode() + str(arr.shape).encode())
            h.update(arr.tobytes())
        h.update(json.dumps([self.enhancement_ids, self.benchmarks, self.window_years]).encode())
        return h.hexdigest()


def _bounds(obs: Observation | Combination) -> tuple[float, float, float]:
    b = obs.ceg
    log = np.log10
    if b.kind == "point":
        return float(log(b.point)), -np.inf, np.inf
    lo = float(log(b.lower)) if b.lower is not None else -np.inf
    hi = float(log(b.upper)) if b.upper is not None else np.inf
    return np.nan, lo, hi


def benchmark_key(name: str) -> str:
    """Figures on the same benchmark share a benchmark effect; compare names loosely."""
    return " ".join(name.lower().replace("-", " ").replace("_", " ").split())


def build_table(catalogue: Catalogue, window_end: dt.date | None = None) -> EvidenceTable:
    """Arrays for the model from a checked catalogue."""
    enh = catalogue.enhancements
    if not enh:
        raise InputError("the catalogue has no enhancements", path="enhancements")
    index = {e.id: i for i, e in enumerate(enh)}
    rows: list[tuple[list[int], list[bool], Observation | Combination, str]] = []
    for e in enh:
        for j, o in enumerate(e.observations):
            if o.in_fit:
                rows.append(([index[e.id]], [False], o, f"{e.id}[{j}] {o.benchmark}"))
    for c in catalogue.combinations:
        if not c.in_fit:
            continue
        members = [index[m] for m in c.members]
        rows.append((members, [m in c.baseline for m in c.members], c, f"{c.id} {c.benchmark}"))
    if not rows:
        raise InputError("the catalogue has no CEG observations to fit", path="enhancements")
    k = max(len(r[0]) for r in rows)
    members = np.full((len(rows), k), -1, dtype=int)
    baseline = np.zeros((len(rows), k), dtype=bool)
    value, lower, upper, log_compute, bench = [], [], [], [], []
    bench_names: dict[str, int] = {}
    for r, (m, b, obs, _label) in enumerate(rows):
        members[r, : len(m)] = m
        baseline[r, : len(b)] = b
        v, lo, hi = _bounds(obs)
        value.append(v)
        lower.append(lo)
        upper.append(hi)
        flop = obs.base_compute_flop
        log_compute.append(np.log10(flop) - REFERENCE_LOG10_FLOP if flop else 0.0)
        key = benchmark_key(obs.benchmark)
        bench.append(bench_names.setdefault(key, len(bench_names)))
    dates = [e.published for e in enh]
    start = min(dates)
    end = window_end or max(dates)
    window = max((end - start).days / DAYS_PER_YEAR, 0.25)
    counts = np.zeros(len(CATEGORIES), dtype=int)
    for e in enh:
        if start <= e.published <= end:
            counts[CATEGORIES.index(e.category)] += 1
    return EvidenceTable(
        enhancement_ids=tuple(index),
        enhancement_category=np.array([CATEGORIES.index(e.category) for e in enh]),
        enhancement_year=np.array([years_since_reference(e.published) for e in enh]),
        members=members,
        in_baseline=baseline,
        value=np.array(value),
        lower=np.array(lower),
        upper=np.array(upper),
        log_compute=np.array(log_compute),
        benchmark=np.array(bench),
        benchmarks=tuple(bench_names),
        row_labels=tuple(r[3] for r in rows),
        category_counts=counts,
        window_years=float(window),
    )
