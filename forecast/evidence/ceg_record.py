"""A CEG estimate as a catalogue observation (``forecast ceg estimate --emit``)."""

from __future__ import annotations

from typing import Any

from forecast.evidence.ceg_estimate import Estimate

# Bounds of base_compute_flop in forecast.core.schemas.catalogue.ObservationFields.
_RECORD_FLOP_RANGE = (1e15, 1e30)


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
