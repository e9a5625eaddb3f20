"""Compute-equivalent gain (CEG) from benchmark results: seed 001, Appendix A.

The input is a table of benchmark results of models with and without a post-training
enhancement (see :func:`read_results_csv`). For each benchmark and each enhanced model
ME, :func:`estimate` gives:

- a **lower bound** ``C(ML) / C(ME)`` (Appendix A, step 2(b)i): ML is the non-enhanced
  model with the most training compute among those that have more compute than ME and
  that ME outperforms, so the bound is the highest of all the valid pairings (step 2(c));
- a **point estimate** ``f^-1(P(ME)) / C(ME)`` (Appendix A.1): ``f`` is a least-squares
  line of score on ``log10(compute)`` over the non-enhanced models.

The ``method`` of an :class:`Estimate` names what could be computed:

``lower_bound``
    Only the pairwise lower bound (fewer than two baseline scales, or a baseline that
    does not improve with compute).
``log_linear``
    A point estimate from a fit over three or more baseline scales, with an interval.
``two_point``
    A point estimate from the line through exactly two baseline scales, as in the seed's
    footnotes 40 (LATS, ``10^(39/15) ~ 400``) and 47 (process supervision,
    ``200^(8/20) ~ 8``). There is no interval and the estimate is flagged ``weak``.
``lower_bound+log_linear``, ``lower_bound+two_point``
    Both a lower bound and a point estimate.
``none``
    Neither: ME outperforms no larger baseline and no usable fit exists.

Choices where the seed leaves room (all documented in the estimate's fields):

- Several non-enhanced rows at the same training compute are one *scale*, represented by
  its best score: the seed keeps "the best non-enhanced baseline, which leads to a lower
  CEG" (Appendix A, step 2(c)i). ME must outperform that best score for the lower bound,
  and the fit runs through the best score at each scale.
- "Outperforms" is strict (``P(ME) > P(ML)``; a tie gives no bound). For a benchmark with
  ``higher_is_better`` false (perplexity, loss) every comparison is reversed and a fitted
  slope must be negative to count as improvement with compute.
- The interval of a ``log_linear`` point estimate is the classical inverse-prediction
  (Fieller) confidence set: every ``log10 C`` at which the fitted mean score is not
  rejected, at the chosen level, as equal to ``P(ME)`` by a two-sided t-test with
  ``n - 2`` degrees of freedom. It propagates the regression's parameter uncertainty
  (intercept, slope and their covariance) and treats ``P(ME)`` as exact. It is analytic,
  so no random seed is involved; when the slope is not distinguishable from zero at that
  level the set is unbounded and no interval is given (a warning says so).
- The seed's step 2(b)ii (``C(ML)/C(ME)`` as a "rough point estimate" when ME falls
  just short of ML) needs a judgement of "small relative to the overall variation in
  performance from scaling"; it is not automated.
- A point estimate below the lower bound (the baseline bends away from its line) is
  reported with a warning; :func:`to_catalogue_record` then records the bound.
- Compute beyond the baseline's range is extrapolated along the line (as the seed does
  for LATS) and flagged with a warning.
"""

from __future__ import annotations

import bisect
import csv
import difflib
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecast.core.errors import InputError
from forecast.core.reading import MAX_CSV_BYTES, read_text
from forecast.core.validation import suggest

REQUIRED_COLUMNS = ("model", "compute_flop", "enhanced", "score")
OPTIONAL_COLUMNS = ("benchmark", "higher_is_better")
DEFAULT_BENCHMARK = "benchmark"
DEFAULT_LEVEL = 0.90
# Beyond this a figure is meaningless (and 10**x overflows a float near 308).
_MAX_OOM = 100

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_EXPECTED_BOOL = "expected true or false (also yes/no or 1/0)"

# Bounds of base_compute_flop in forecast.core.schemas.catalogue.ObservationFields.
_RECORD_FLOP_RANGE = (1e15, 1e30)
#: Training compute accepted (any unit: FLOP, PF-days, GPU-hours): every ratio of two
#: computes, and every point estimate, then stays within 10**+-100.
COMPUTE_RANGE = (1e-30, 1e60)
#: Largest magnitude of a benchmark score (squares and sums of scores stay finite).
MAX_ABS_SCORE = 1e12
#: Most data rows in a benchmark results CSV (a paper's table has dozens; the table and the
#: emitted records of 10,000 take a few seconds).
MAX_CSV_ROWS = 10_000


@dataclass(frozen=True)
class Row:
    """One benchmark result.

    Attributes
    ----------
    model
        The model's name (free text).
    compute_flop
        Training compute of the model, in FLOP (any unit works for the ratios, but
        catalogue records need FLOP).
    enhanced
        Whether the post-training enhancement is applied.
    score
        The benchmark result.
    benchmark
        The benchmark's name; one set of estimates per benchmark.
    higher_is_better
        False for perplexity, loss or error rates.
    line
        The line of the row in its CSV file (the header is line 1); 0 if not from a file.
    """

    model: str
    compute_flop: float
    enhanced: bool
    score: float
    benchmark: str = DEFAULT_BENCHMARK
    higher_is_better: bool = True
    line: int = 0


@dataclass(frozen=True)
class Fit:
    """The line ``score = intercept + slope * log10(compute)`` through the baseline.

    Attributes
    ----------
    kind
        ``"log_linear"`` (three or more scales, least squares) or ``"two_point"``.
    slope, intercept
        In score units per order of magnitude of compute, and at 1 FLOP.
    n_scales
        Distinct training computes among the non-enhanced models.
    log10_compute_range
        Smallest and largest ``log10`` compute of the baseline scales.
    residual_sd
        Residual standard deviation (``log_linear`` only).
    r_squared
        Coefficient of determination (``log_linear`` only).
    """

    kind: str
    slope: float
    intercept: float
    n_scales: int
    log10_compute_range: tuple[float, float]
    residual_sd: float | None = None
    r_squared: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "slope_per_oom": self.slope,
            "intercept": self.intercept,
            "n_scales": self.n_scales,
            "log10_compute_min": self.log10_compute_range[0],
            "log10_compute_max": self.log10_compute_range[1],
            "residual_sd": self.residual_sd,
            "r_squared": self.r_squared,
        }


@dataclass(frozen=True)
class Estimate:
    """The CEG of one enhanced model on one benchmark.

    Attributes
    ----------
    benchmark, model, compute_flop, score, higher_is_better, line
        The enhanced model's row.
    lower_bound, lower_bound_oom
        ``C(ML) / C(ME)`` and its log10, or None when ME outperforms no larger baseline.
    lower_bound_model, lower_bound_compute_flop, lower_bound_score
        The baseline ML that gives the bound.
    point, point_oom
        ``f^-1(P(ME)) / C(ME)`` and its log10, or None.
    interval, interval_oom
        ``(lower, upper)`` of the point estimate at ``level``, or None (``two_point``
        estimates, or an unbounded inverse-prediction set).
    level
        Probability mass of the interval.
    weak
        True for a ``two_point`` estimate.
    method
        See the module documentation.
    fit
        The baseline line, when one could be drawn.
    warnings
        Why a figure is missing, or why it needs care.
    """

    benchmark: str
    model: str
    compute_flop: float
    score: float
    higher_is_better: bool
    line: int
    lower_bound: float | None
    lower_bound_oom: float | None
    lower_bound_model: str | None
    lower_bound_compute_flop: float | None
    lower_bound_score: float | None
    point: float | None
    point_oom: float | None
    interval: tuple[float, float] | None
    interval_oom: tuple[float, float] | None
    level: float
    weak: bool
    method: str
    fit: Fit | None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the ``--json`` output of ``forecast ceg estimate``)."""

        def pair(p):
            return None if p is None else {"lower": p[0], "upper": p[1]}

        return {
            "benchmark": self.benchmark,
            "model": self.model,
            "compute_flop": self.compute_flop,
            "score": self.score,
            "higher_is_better": self.higher_is_better,
            "line": self.line,
            "lower_bound": self.lower_bound,
            "lower_bound_oom": self.lower_bound_oom,
            "lower_bound_model": self.lower_bound_model,
            "lower_bound_compute_flop": self.lower_bound_compute_flop,
            "lower_bound_score": self.lower_bound_score,
            "point": self.point,
            "point_oom": self.point_oom,
            "interval": pair(self.interval),
            "interval_oom": pair(self.interval_oom),
            "level": self.level,
            "weak": self.weak,
            "method": self.method,
            "fit": self.fit.to_dict() if self.fit else None,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- reading


def read_results_csv(path: str | Path) -> list[Row]:
    """Read benchmark results from a CSV file.

    Parameters
    ----------
    path
        A CSV file with a header line. Required columns: ``model``, ``compute_flop``,
        ``enhanced`` (true/false, yes/no or 1/0, any case) and ``score``; optional
        ``benchmark`` (default ``"benchmark"``) and ``higher_is_better`` (default true).
        Column names are matched without regard to case or surrounding spaces; other
        columns are ignored unless they look like a misspelt known column.

    Returns
    -------
    list of Row
        In file order.

    Raises
    ------
    InputError
        For a missing, unreadable or empty file, a missing or misspelt column, a value
        that is not what its column expects, ``higher_is_better`` varying within a
        benchmark, or a benchmark without both enhanced and non-enhanced rows. The
        error names the file, the line (the header is line 1) and the column.
    """
    path = Path(path)
    file = str(path)
    text = read_text(path, "CSV file", MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = _records(reader, file)
    except csv.Error as exc:
        raise InputError(f"not a valid CSV file: {exc}", file, f"line {reader.line_num}") from None

    if not records:
        raise InputError(
            "file is empty: expected a header line naming the columns "
            + ", ".join(REQUIRED_COLUMNS),
            file,
        )
    header_line, header = records[0]
    columns = _columns(header, file, header_line)
    rows: list[Row] = []
    for line, cells in records[1:]:
        rows.append(_row(cells, columns, len(header), file, line))
    if not rows:
        raise InputError("no data rows after the header line", file, f"line {header_line + 1}")
    check_rows(rows, file)
    return rows


def _records(reader, file: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each ends on (at most the header and
    :data:`~forecast.core.reading.MAX_CSV_ROWS` rows)."""
    out = []
    for cells in reader:
        if any(c.strip() for c in cells):
            out.append((reader.line_num, cells))
            if len(out) > MAX_CSV_ROWS + 1:
                raise InputError(
                    f"more than {MAX_CSV_ROWS:,} rows (see the limits in docs/reliability.md)",
                    file,
                    f"line {reader.line_num}",
                )
    return out


def _columns(header: list[str], file: str, line: int) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    columns: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name in columns:
            raise InputError(
                f"column {name!r} appears twice in the header", file, f"line {line}, column {name}"
            )
        columns[name] = i
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    unknown = [n for n in columns if n not in known]
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            near = difflib.get_close_matches(name, unknown, n=1, cutoff=0.6)
            hint = f"; the header has {near[0]!r}{suggest(near[0], [name])}" if near else ""
            raise InputError(
                f"required column {name!r} is missing{hint} (the header needs "
                f"{', '.join(REQUIRED_COLUMNS)}; optional {', '.join(OPTIONAL_COLUMNS)})",
                file,
                f"line {line}, column {name}",
            )
    # A near-miss of an optional column would otherwise be silently ignored.
    for name in unknown:
        near = difflib.get_close_matches(name, OPTIONAL_COLUMNS, n=1, cutoff=0.8)
        if near and near[0] not in columns:
            raise InputError(
                f"unknown column {name!r}{suggest(name, list(OPTIONAL_COLUMNS))}",
                file,
                f"line {line}, column {name}",
            )
    return columns


def _row(cells: list[str], columns: dict[str, int], width: int, file: str, line: int) -> Row:
    if len(cells) > width:
        raise InputError(
            f"{len(cells)} values but the header names {width} columns", file, f"line {line}"
        )

    def cell(name: str) -> str | None:
        i = columns.get(name)
        if i is None or i >= len(cells):
            return None
        return cells[i].strip()

    def where(name: str) -> str:
        return f"line {line}, column {name}"

    model = cell("model")
    if not model:
        raise InputError("expected a model name, got an empty value", file, where("model"))

    text = cell("compute_flop") or ""
    compute = _number(text)
    lo, hi = COMPUTE_RANGE
    if compute is None or not lo <= compute <= hi:
        got = f"got {text[:40]!r}" if text else "got an empty value"
        raise InputError(
            f"expected a positive number of training FLOP (e.g. 2e24) from {lo:g} to {hi:g}, {got}",
            file,
            where("compute_flop"),
        )

    text = cell("enhanced") or ""
    enhanced = _boolean(text)
    if enhanced is None:
        got = f"got {text!r}" if text else "got an empty value"
        raise InputError(f"{_EXPECTED_BOOL}, {got}", file, where("enhanced"))

    text = cell("score") or ""
    score = _number(text)
    if score is None or abs(score) > MAX_ABS_SCORE:
        got = f"got {text[:40]!r}" if text else "got an empty value"
        raise InputError(
            f"expected a number (e.g. 52.5) between {-MAX_ABS_SCORE:g} and {MAX_ABS_SCORE:g}, "
            f"{got}",
            file,
            where("score"),
        )

    benchmark = cell("benchmark") or DEFAULT_BENCHMARK
    text = cell("higher_is_better")
    higher = True if not text else _boolean(text)
    if higher is None:
        raise InputError(f"{_EXPECTED_BOOL}, got {text!r}", file, where("higher_is_better"))
    return Row(model, compute, enhanced, score, benchmark, higher, line)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _boolean(text: str | None) -> bool | None:
    value = (text or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def check_rows(rows: Sequence[Row], file: str | None = None) -> None:
    """Check what :func:`estimate` needs of each benchmark.

    Raises
    ------
    InputError
        If ``higher_is_better`` differs within a benchmark, or a benchmark lacks
        enhanced or non-enhanced rows.
    """
    if not rows:
        raise InputError("no benchmark results given", file)
    for name, group in _by_benchmark(rows).items():
        first = group[0]

        def at(r: Row, column: str) -> str:
            return f"line {r.line}, column {column}" if r.line else f"column {column}"

        for r in group[1:]:
            if r.higher_is_better != first.higher_is_better:
                earlier = f"on line {first.line}" if first.line else "in an earlier row"
                raise InputError(
                    f"benchmark {name!r} has higher_is_better "
                    f"{str(r.higher_is_better).lower()} here but "
                    f"{str(first.higher_is_better).lower()} {earlier}; "
                    "give one value per benchmark",
                    file,
                    at(r, "higher_is_better"),
                )
        if not any(r.enhanced for r in group):
            raise InputError(
                f"benchmark {name!r} has no enhanced rows (enhanced = true): nothing to estimate",
                file,
                at(first, "enhanced"),
            )
        if all(r.enhanced for r in group):
            raise InputError(
                f"benchmark {name!r} has no non-enhanced rows (enhanced = false): no "
                "baseline to compare with",
                file,
                at(first, "enhanced"),
            )


def _by_benchmark(rows: Iterable[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for r in rows:
        groups.setdefault(r.benchmark, []).append(r)
    return groups


# --------------------------------------------------------------------------- estimating


def estimate(rows: Sequence[Row], level: float = DEFAULT_LEVEL) -> list[Estimate]:
    """Lower bound and point estimate of the CEG of every enhanced model.

    Parameters
    ----------
    rows
        Benchmark results, e.g. from :func:`read_results_csv`.
    level
        Probability mass of the ``log_linear`` interval, in (0, 1).

    Returns
    -------
    list of Estimate
        One per enhanced row, in input order.

    Raises
    ------
    InputError
        As :func:`check_rows`, or for a level outside (0, 1).
    """
    if not 0 < level < 1:
        raise InputError(f"expected an interval level between 0 and 1, got {level}", None, "level")
    check_rows(rows)
    for r in rows:
        lo, hi = COMPUTE_RANGE
        if not (lo <= r.compute_flop <= hi and math.isfinite(r.score)) or (
            abs(r.score) > MAX_ABS_SCORE
        ):
            where = f"line {r.line}" if r.line else f"model {r.model!r}"
            raise InputError(
                f"compute_flop must be from {lo:g} to {hi:g} and score a finite number of "
                f"magnitude at most {MAX_ABS_SCORE:g}",
                None,
                where,
            )
    out = []
    prepared = {name: _Baseline.of(group, level) for name, group in _by_benchmark(rows).items()}
    for r in rows:
        if r.enhanced:
            out.append(_estimate_one(r, prepared[r.benchmark], level))
    return out


def _scales(group: Sequence[Row]) -> list[tuple[float, Row]]:
    """``(compute, best baseline row)`` per distinct compute, smallest compute first.

    Computes whose log10 is the same float are one scale (they differ below the
    precision of a fit in log10 compute; as two scales they would make it divide by 0).
    """
    best: dict[float, tuple[float, Row]] = {}
    for r in group:
        if r.enhanced:
            continue
        key = math.log10(r.compute_flop)
        held = best.get(key)
        if held is None or _goodness(r) > _goodness(held[1]):
            best[key] = (r.compute_flop, r)
    return [best[k] for k in sorted(best)]


@dataclass(frozen=True)
class _Baseline:
    """What every estimate on one benchmark shares, computed once (linear time overall)."""

    scales: list[tuple[float, Row]]
    computes: list[float]
    goodness: list[float]
    suffix_min: list[float]
    crowded: int
    fit: Fit | None
    fieller: tuple | None

    @classmethod
    def of(cls, group: Sequence[Row], level: float) -> _Baseline:
        scales = _scales(group)
        per_scale = Counter(math.log10(r.compute_flop) for r in group if not r.enhanced)
        fit = _fit(scales) if len(scales) >= 2 else None
        stats = _fieller_stats(scales, level) if fit is not None and len(scales) >= 3 else None
        goodness = [_goodness(r) for _, r in scales]
        return cls(
            scales=scales,
            computes=[c for c, _ in scales],
            goodness=goodness,
            suffix_min=_suffix_minima(goodness),
            crowded=sum(1 for k in per_scale.values() if k > 1),
            fit=fit,
            fieller=stats,
        )

    def largest_beaten(self, me: Row) -> Row | None:
        """The largest-compute baseline scale above ME's compute that ME outperforms.

        ``suffix_min[i]`` (the worst goodness from scale i up) never decreases with i, so
        the last scale with ``suffix_min < goodness(ME)`` is found by bisection, and it is
        the last scale ME outperforms (every scale after it is at least as good as ME).
        """
        start = bisect.bisect_right(self.computes, me.compute_flop)
        last = bisect.bisect_left(self.suffix_min, _goodness(me)) - 1
        return self.scales[last][1] if last >= start else None


def _suffix_minima(values: list[float]) -> list[float]:
    """``out[i] = min(values[i:])``."""
    out = list(values)
    for i in range(len(out) - 2, -1, -1):
        out[i] = min(out[i], out[i + 1])
    return out


def _goodness(r: Row) -> float:
    """The score with its sign turned so that larger is always better."""
    return r.score if r.higher_is_better else -r.score


def _estimate_one(me: Row, baseline: _Baseline | Sequence[Row], level: float) -> Estimate:
    if not isinstance(baseline, _Baseline):
        baseline = _Baseline.of(baseline, level)
    warnings: list[str] = []
    scales = baseline.scales
    if baseline.crowded:
        warnings.append(
            f"{baseline.crowded} baseline scale(s) have several non-enhanced rows; the best "
            "score at each was used (seed 001 Appendix A, step 2(c)i)"
        )

    # (a) lower bound: the largest-compute baseline that ME beats.
    ml = baseline.largest_beaten(me)
    lower = lower_oom = None
    if ml is not None:
        lower = ml.compute_flop / me.compute_flop
        lower_oom = math.log10(lower)

    # (b) point estimate from the baseline's line.
    fit = baseline.fit
    point = point_oom = interval = interval_oom = None
    direction = "rise" if me.higher_is_better else "fall"
    if len(scales) < 2:
        warnings.append(
            "no point estimate: the non-enhanced models have only one training compute; "
            "a fit needs two or more"
        )
    elif fit is not None and _improves(fit, me.higher_is_better):
        x_me = math.log10(me.compute_flop)
        x_eq = (me.score - fit.intercept) / fit.slope
        point_oom = x_eq - x_me
        point = 10.0**point_oom if abs(point_oom) < _MAX_OOM else None
        if point is None:
            point_oom = None
            warnings.append(
                f"no point estimate: the baseline's slope ({fit.slope:.3g} per OOM) is too "
                f"small to reach the enhanced score within {_MAX_OOM} orders of magnitude"
            )
        elif fit.kind == "log_linear":
            bounds = _fieller(scales, me, level, baseline.fieller)
            if bounds is not None and max(abs(b - x_me) for b in bounds) >= _MAX_OOM:
                bounds = None
            if bounds is None:
                warnings.append(
                    f"the baseline's slope is not distinguishable from zero at the "
                    f"{level:.0%} level, so the interval is unbounded: the point estimate "
                    "is very uncertain"
                )
            else:
                interval_oom = (bounds[0] - x_me, bounds[1] - x_me)
                interval = (10.0 ** interval_oom[0], 10.0 ** interval_oom[1])
                if fit.residual_sd == 0:
                    warnings.append(
                        "the baseline scores lie exactly on a line, so the fit has no "
                        "residual spread and the interval no width: it understates the "
                        "uncertainty"
                    )
        lo, hi = fit.log10_compute_range
        if point is not None and (x_eq > hi + 1e-9 or x_eq < lo - 1e-9):
            edge = "largest" if x_eq > hi else "smallest"
            warnings.append(
                f"extrapolated: the fit reaches the enhanced score at "
                f"{10.0**x_eq:.2g} FLOP, beyond the {edge} baseline "
                f"({10.0 ** (hi if x_eq > hi else lo):.2g} FLOP)"
            )
        if point is not None and point < 1:
            warnings.append(
                "the enhanced model scores below the baseline line at its own compute (CEG below 1)"
            )
        if lower is not None and point is not None and point < lower:
            warnings.append(
                f"the point estimate is below the lower bound from {ml.model!r}: the "
                "baseline departs from its fitted line there; the bound is the safer figure"
            )
    else:
        warnings.append(
            f"no point estimate: the baseline's fitted slope is {fit.slope:+.3g} per OOM, "
            f"so the score does not {direction} with training compute (seed 001 section "
            "4: a high CEG might mean more compute doesn't improve performance)"
        )

    kind = fit.kind if point is not None else None
    method = "+".join(m for m in ("lower_bound" if lower is not None else None, kind) if m)
    return Estimate(
        benchmark=me.benchmark,
        model=me.model,
        compute_flop=me.compute_flop,
        score=me.score,
        higher_is_better=me.higher_is_better,
        line=me.line,
        lower_bound=lower,
        lower_bound_oom=lower_oom,
        lower_bound_model=ml.model if ml else None,
        lower_bound_compute_flop=ml.compute_flop if ml else None,
        lower_bound_score=ml.score if ml else None,
        point=point,
        point_oom=point_oom,
        interval=interval,
        interval_oom=interval_oom,
        level=level,
        weak=kind == "two_point",
        method=method or "none",
        fit=fit,
        warnings=tuple(warnings),
    )


def _improves(fit: Fit, higher_is_better: bool) -> bool:
    return fit.slope > 0 if higher_is_better else fit.slope < 0


def _fit(scales: Sequence[tuple[float, Row]]) -> Fit:
    """Least-squares line of score on log10 compute (exact through two points)."""
    xs = [math.log10(c) for c, _ in scales]
    ys = [r.score for _, r in scales]
    n = len(xs)
    x_bar, y_bar = sum(xs) / n, sum(ys) / n
    sxx = sum((x - x_bar) ** 2 for x in xs)
    sxy = sum((x - x_bar) * (y - y_bar) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = y_bar - slope * x_bar
    span = (min(xs), max(xs))
    if n == 2:
        return Fit("two_point", slope, intercept, n, span)
    rss = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    syy = sum((y - y_bar) ** 2 for y in ys)
    r2 = 1 - rss / syy if syy > 0 else None
    return Fit("log_linear", slope, intercept, n, span, math.sqrt(rss / (n - 2)), r2)


def _fieller_stats(scales: Sequence[tuple[float, Row]], level: float) -> tuple:
    """What :func:`_fieller` needs of the baseline: ``(x_bar, y_bar, sxx, b, s2, t2)``."""
    from scipy import stats

    xs = [math.log10(c) for c, _ in scales]
    ys = [r.score for _, r in scales]
    n = len(xs)
    x_bar, y_bar = sum(xs) / n, sum(ys) / n
    sxx = sum((x - x_bar) ** 2 for x in xs)
    b = sum((x - x_bar) * (y - y_bar) for x, y in zip(xs, ys, strict=True)) / sxx
    a = y_bar - b * x_bar
    s2 = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / (n - 2)
    t2 = float(stats.t.ppf(0.5 + level / 2, n - 2)) ** 2
    return x_bar, y_bar, sxx, b, s2, t2


def _fieller(
    scales: Sequence[tuple[float, Row]], me: Row, level: float, prepared: tuple | None = None
):
    """Inverse-prediction confidence set for log10 compute at score ``P(ME)``.

    Solves ``(y0 - a - b x)^2 <= t^2 s^2 (1/n + (x - x_bar)^2 / Sxx)`` for ``x``; returns
    ``(low, high)`` in log10 FLOP, or None when the set is unbounded (the slope is not
    significant at ``level``). ``prepared`` is :func:`_fieller_stats` of the same scales.
    """
    n = len(scales)
    x_bar, y_bar, sxx, b, s2, t2 = prepared or _fieller_stats(scales, level)
    d = me.score - y_bar
    # In u = x - x_bar: A u^2 - 2 b d u + C <= 0.
    qa = b * b - t2 * s2 / sxx
    qc = d * d - t2 * s2 / n
    if qa <= 0:
        return None
    disc = max(b * b * d * d - qa * qc, 0.0)
    root = math.sqrt(disc)
    u1, u2 = (b * d - root) / qa, (b * d + root) / qa
    return (x_bar + u1, x_bar + u2)


# --------------------------------------------------------------------------- records


def _round(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def to_catalogue_record(
    est: Estimate,
    enhancement_id: str,
    *,
    domain: str = "unspecified",
    where: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """A catalogue observation for ``est``, to paste under an enhancement's ``observations``.

    The figure is the point estimate when there is one and it is not below the lower
    bound; otherwise the lower bound. Numbers are rounded to three significant digits.

    Parameters
    ----------
    est
        An estimate with a point estimate or a lower bound.
    enhancement_id
        The catalogue id of the enhancement, named in ``notes``.
    domain
        The observation's domain (``math``, ``code``, ``qa``, ...).
    where
        Where the figure stands in its source; by default the CSV line of ME.
    source
        The results file, named in ``where`` and ``notes``.

    Returns
    -------
    dict
        Keys ``benchmark``, ``domain``, ``ceg`` (``{point: x}`` or ``{lower: x}``),
        ``base_compute_flop`` (``C(ME)``, when it is within the schema's range of FLOP),
        ``where`` and ``notes``; it validates as
        :class:`forecast.core.schemas.catalogue.Observation`.

    Raises
    ------
    ValueError
        If ``est`` has neither a point estimate nor a lower bound.
    """
    use_point = est.point is not None and (est.lower_bound is None or est.point >= est.lower_bound)
    if use_point:
        ceg = {"point": _round(est.point)}
    elif est.lower_bound is not None:
        ceg = {"lower": _round(est.lower_bound)}
    else:
        raise ValueError(f"{est.model!r} on {est.benchmark!r} has neither a bound nor a point")

    src = source or "results file"
    parts = [
        f"Enhancement {enhancement_id}: {est.model} ({est.compute_flop:.3g} FLOP) scores "
        f"{est.score:g} on {est.benchmark} ({'higher' if est.higher_is_better else 'lower'} "
        f"is better); from {src} by 'forecast ceg estimate' (seed 001 Appendix A), "
        f"method {est.method}."
    ]
    if est.lower_bound is not None:
        parts.append(
            f"Lower bound {est.lower_bound:.3g} = C({est.lower_bound_model}) / C(ME): it "
            f"outperforms {est.lower_bound_model} ({est.lower_bound_compute_flop:.3g} FLOP, "
            f"score {est.lower_bound_score:g})."
        )
    if est.point is not None and est.fit is not None:
        text = (
            f"Point {est.point:.3g} from a {est.fit.kind.replace('_', '-')} fit over "
            f"{est.fit.n_scales} baseline scales (slope {est.fit.slope:.3g} per OOM)"
        )
        if est.interval is not None:
            text += f", {est.level:.0%} interval {est.interval[0]:.3g}-{est.interval[1]:.3g}"
        if est.weak:
            text += "; weak: a line through two points, no interval"
        parts.append(text + ".")
    parts.extend(w[0].upper() + w[1:] + "." for w in est.warnings)

    record: dict[str, Any] = {"benchmark": est.benchmark, "domain": domain, "ceg": ceg}
    lo, hi = _RECORD_FLOP_RANGE
    if lo < est.compute_flop < hi:
        record["base_compute_flop"] = _round(est.compute_flop)
    else:
        parts.append("base_compute_flop omitted: the compute given is not a plausible FLOP.")
    record["where"] = where or (
        f"{src}, line {est.line}" if est.line else f"{src}, model {est.model}"
    )
    record["notes"] = " ".join(parts)
    return record
