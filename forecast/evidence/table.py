"""The catalogue as arrays for the model: one row per CEG figure (stage 1 -> 2).

:func:`build_table` turns a checked :class:`~forecast.core.schemas.catalogue.Catalogue` into an
:class:`EvidenceTable`. Everything the fit depends on is in the table, and
:meth:`EvidenceTable.digest` hashes it for the fit's cache key.

Conventions (docs/method.md, "The evidence as data"):

- Values are log10 CEG (OOM). A figure of exactly ``{point: 1}`` is a "no gain" figure:
  it informs ``relevance`` (the enhancement did not help on that benchmark), not the size
  of gains.
- Base-model compute is ``log10 FLOP - 23``; unknown compute is NaN (the model gives it a
  latent value), never a made-up number.
- Dates are years since 2022-06-01. Arrival counts use only figures transcribed from the
  seeds: later records were gathered by a different search and would bias the rate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import numpy as np

from forecast.core.errors import InputError
from forecast.core.schemas.catalogue import Catalogue, Combination, Observation
from forecast.core.schemas.common import CATEGORIES

#: Reference point of the model: base-model compute is measured from 1e23 FLOP.
REFERENCE_LOG10_FLOP = 23.0
#: Dates are measured from this day (years).
REFERENCE_DATE = dt.date(2022, 6, 1)
DAYS_PER_YEAR = 365.25
#: Arrival counts are binned by half year (overdispersion is estimated across bins).
ARRIVAL_BIN_YEARS = 0.5
KIND_CODES = {"point": 0, "lower": 1, "upper": 2, "interval": 3}


def years_since_reference(day: dt.date) -> float:
    return (day - REFERENCE_DATE).days / DAYS_PER_YEAR


def date_of_year(year: float) -> dt.date:
    """The inverse of :func:`years_since_reference` (to the day)."""
    return REFERENCE_DATE + dt.timedelta(days=round(year * DAYS_PER_YEAR))


@dataclasses.dataclass(frozen=True)
class EvidenceTable:
    """The catalogue as arrays. One row per CEG figure that enters the fit.

    Single-enhancement figures are rows with one member. ``value`` holds points (OOM),
    ``lower``/``upper`` censoring bounds (``-inf``/``inf`` where absent); ``no_gain`` rows
    ("CEG 1") inform relevance only.
    """

    enhancement_ids: tuple[str, ...]
    enhancement_category: np.ndarray  # (n_enh,) int index into CATEGORIES
    enhancement_year: np.ndarray  # (n_enh,) years since REFERENCE_DATE
    members: np.ndarray  # (n_rows, K) int, -1 = none
    in_baseline: np.ndarray  # (n_rows, K) bool
    value: np.ndarray  # (n_rows,) OOM, NaN where censored
    lower: np.ndarray  # (n_rows,) OOM, -inf where none
    upper: np.ndarray  # (n_rows,) OOM, +inf where none
    log_compute: np.ndarray  # (n_rows,) log10 FLOP - 23, NaN where unknown
    independent: np.ndarray  # (n_rows,) bool: measured by others on tasks not chosen for it
    benchmark: np.ndarray  # (n_rows,) int index into benchmarks
    benchmarks: tuple[str, ...]
    row_labels: tuple[str, ...]
    arrival_counts: np.ndarray  # (n_categories, n_bins) seed records published per bin
    bin_years: np.ndarray  # (n_bins,) length of each bin in years (the last may be short)
    arrival_window: tuple[float, float]  # years since REFERENCE_DATE, seed records

    # ------------------------------------------------------------------ derived views
    @property
    def n_rows(self) -> int:
        return len(self.value)

    @property
    def n_enhancements(self) -> int:
        return len(self.enhancement_ids)

    @property
    def is_single(self) -> np.ndarray:
        return (self.members[:, 1:] < 0).all(axis=1)

    @property
    def no_gain(self) -> np.ndarray:
        """Rows that report no gain at all (exactly CEG 1): they inform relevance only."""
        return self.value == 0.0

    @property
    def continuous(self) -> np.ndarray:
        """Rows whose size enters the continuous likelihood (all but the no-gain rows)."""
        return ~self.no_gain

    @property
    def kind(self) -> np.ndarray:
        """'point', 'lower', 'upper' or 'interval' per row."""
        out = np.full(self.n_rows, "point", dtype=object)
        lo, hi = np.isfinite(self.lower), np.isfinite(self.upper)
        out[lo & ~hi] = "lower"
        out[~lo & hi] = "upper"
        out[lo & hi] = "interval"
        return out

    @property
    def kind_code(self) -> np.ndarray:
        return np.array([KIND_CODES[k] for k in self.kind], dtype=np.int64)

    @property
    def shared_benchmark(self) -> np.ndarray:
        """Rows whose benchmark has other rows too (its effect is then estimable)."""
        counts = np.bincount(self.benchmark, minlength=len(self.benchmarks))
        return counts[self.benchmark] > 1

    @property
    def known_compute(self) -> np.ndarray:
        return np.isfinite(self.log_compute)

    @property
    def compute_range(self) -> tuple[float, float]:
        """Smallest and largest known base-model compute (log10 FLOP - 23)."""
        known = self.log_compute[self.known_compute]
        if not known.size:
            return (0.0, 0.0)
        return float(known.min()), float(known.max())

    @property
    def compute_center(self) -> float:
        """Mean known base-model compute: the scale at which category means are stated."""
        known = self.log_compute[self.known_compute]
        return float(known.mean()) if known.size else 0.0

    @property
    def year_center(self) -> float:
        """Mean publication year of the enhancements: the date category means refer to."""
        return float(self.enhancement_year.mean())

    @property
    def last_year(self) -> float:
        """Publication year of the latest enhancement: where the evidence ends."""
        return float(self.enhancement_year.max())

    def membership(self) -> np.ndarray:
        """(n_enh, n_rows) weights: 1/m for each of the m rows an enhancement appears in.

        ``membership() @ row_compute`` is each enhancement's mean base-model compute (the
        "between" part of the scale effect). Enhancements in no row get all-zero weights.
        """
        out = np.zeros((self.n_enhancements, self.n_rows))
        for r, row in enumerate(self.members):
            for i in row[row >= 0]:
                out[i, r] = 1.0
        counts = out.sum(axis=1, keepdims=True)
        return np.divide(out, counts, out=np.zeros_like(out), where=counts > 0)

    def digest(self) -> str:
        """SHA-256 of everything the fit depends on (part of the cache key)."""
        h = hashlib.sha256()
        for field in dataclasses.fields(self):
            arr = getattr(self, field.name)
            if not isinstance(arr, np.ndarray):
                continue
            arr = np.ascontiguousarray(arr)
            h.update(field.name.encode())
            h.update(str(arr.dtype).encode() + str(arr.shape).encode())
            h.update(arr.tobytes())
        h.update(
            json.dumps([self.enhancement_ids, self.benchmarks, list(self.arrival_window)]).encode()
        )
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


def _is_seed(record) -> bool:
    return getattr(record, "origin", "seed") == "seed"


def build_table(catalogue: Catalogue) -> EvidenceTable:
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
        if c.in_fit:
            members = [index[m] for m in c.members]
            rows.append((members, [m in c.baseline for m in c.members], c, f"{c.id} {c.benchmark}"))
    if not rows:
        raise InputError("the catalogue has no CEG observations to fit", path="enhancements")
    k = max(len(r[0]) for r in rows)
    members = np.full((len(rows), k), -1, dtype=int)
    baseline = np.zeros((len(rows), k), dtype=bool)
    value, lower, upper, log_compute, bench, independent = [], [], [], [], [], []
    bench_names: dict[str, int] = {}
    for r, (m, b, obs, _label) in enumerate(rows):
        members[r, : len(m)] = m
        baseline[r, : len(b)] = b
        v, lo, hi = _bounds(obs)
        value.append(v)
        lower.append(lo)
        upper.append(hi)
        flop = obs.base_compute_flop
        log_compute.append(np.log10(flop) - REFERENCE_LOG10_FLOP if flop else np.nan)
        independent.append(bool(getattr(obs, "independent", False)))
        key = benchmark_key(obs.benchmark)
        bench.append(bench_names.setdefault(key, len(bench_names)))
    counts, bin_years, window = _arrival_counts(catalogue)
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
        independent=np.array(independent, dtype=bool),
        benchmark=np.array(bench),
        benchmarks=tuple(bench_names),
        row_labels=tuple(r[3] for r in rows),
        arrival_counts=counts,
        bin_years=bin_years,
        arrival_window=window,
    )


def _arrival_counts(catalogue: Catalogue) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Enhancements per category and half year, from the seed records (all records if the
    catalogue has none from the seeds, e.g. a user's own catalogue)."""
    records = [e for e in catalogue.enhancements if _is_seed(e)] or list(catalogue.enhancements)
    years = np.array([years_since_reference(e.published) for e in records])
    start, end = float(years.min()), float(years.max())
    span = max(end - start, ARRIVAL_BIN_YEARS / 2)
    n_bins = max(int(np.ceil(span / ARRIVAL_BIN_YEARS - 1e-9)), 1)
    edges = start + ARRIVAL_BIN_YEARS * np.arange(n_bins + 1)
    edges[-1] = max(edges[-1], end)
    bin_of = np.minimum(np.searchsorted(edges, years, side="right") - 1, n_bins - 1)
    counts = np.zeros((len(CATEGORIES), n_bins), dtype=np.int64)
    for e, b in zip(records, bin_of, strict=True):
        counts[CATEGORIES.index(e.category), b] += 1
    bin_years = np.diff(edges)
    bin_years[-1] = max(bin_years[-1], 1.0 / 12)  # the last bin ends at the last record
    return counts, bin_years, (start, end)
