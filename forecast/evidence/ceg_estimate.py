"""Compute-equivalent gain (CEG) from benchmark results: seed 001, Appendix A.

The input is a table of benchmark results of models with and without a post-training
enhancement (:mod:`forecast.evidence.ceg_results`). For each benchmark and each enhanced
model ME, :func:`estimate` gives:

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
  reported with a warning; :func:`~forecast.evidence.ceg_record.to_catalogue_record` then
  records the bound.
- Compute beyond the baseline's range is extrapolated along the line (as the seed does
  for LATS) and flagged with a warning.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from forecast.core.errors import InputError
from forecast.evidence.ceg_results import (
    COMPUTE_RANGE,
    MAX_ABS_SCORE,
    Row,
    _by_benchmark,
    check_rows,
)

DEFAULT_LEVEL = 0.90
# Beyond this a figure is meaningless (and 10**x overflows a float near 308).
_MAX_OOM = 100


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


# --------------------------------------------------------------------------- estimating


def estimate(rows: Sequence[Row], level: float = DEFAULT_LEVEL) -> list[Estimate]:
    """Lower bound and point estimate of the CEG of every enhanced model.

    Parameters
    ----------
    rows
        Benchmark results, e.g. from
        :func:`~forecast.evidence.ceg_results.read_results_csv`.
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
