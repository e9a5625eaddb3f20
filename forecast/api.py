"""The library API: what the CLI calls, and what a notebook user can call too.

Each function returns plain data (dataclasses, dicts, numpy arrays); none prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from forecast.evidence import EvidenceTable, build_table, load_catalogue
from forecast.fit import Fit, FitSettings, fit
from forecast.priors import PriorSet, load_priors
from forecast.schemas import CATEGORIES, Catalogue
from forecast.units import quantile_summary


@dataclasses.dataclass(frozen=True)
class FittedEvidence:
    """A catalogue, its model arrays and the fit of the CEG model."""

    catalogue: Catalogue
    table: EvidenceTable
    priors: PriorSet
    fit: Fit


def priors_with(
    overrides: Mapping[str, str | float] | None = None, origin: str = "--prior"
) -> PriorSet:
    """The default priors with ``overrides`` (name -> ``Beta(2,5)`` or a number) on top."""
    priors = load_priors()
    return priors.with_overrides(overrides, origin) if overrides else priors


def fit_evidence(
    evidence: str | Path | None = None,
    shipped: bool = True,
    priors: PriorSet | None = None,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
    catalogue: Catalogue | None = None,
) -> FittedEvidence:
    """Load the catalogue (shipped, plus ``evidence`` on top) and fit it (or reuse the cache)."""
    catalogue = catalogue or load_catalogue(evidence, shipped=shipped)
    table = build_table(catalogue)
    priors = priors or load_priors()
    result = fit(table, priors, settings, use_cache=use_cache, progress=progress, log=log)
    return FittedEvidence(catalogue, table, priors, result)


def enhancement_rows(catalogue: Catalogue, fitted: Fit | None = None) -> list[dict]:
    """One record per enhancement: its facts, its observations and its posterior CEG.

    ``posterior`` is the published-scale CEG at the reference base model (1e23 FLOP), in
    OOM and as a multiplier, with a 90% interval; None without a fit.
    """
    rows = []
    for e in catalogue.enhancements:
        posterior = None
        if fitted is not None and e.id in fitted.enhancement_ids:
            samples = fitted.draws["ceg_oom"][:, fitted.enhancement_index(e.id)]
            posterior = quantile_summary(samples)
        rows.append(
            {
                "id": e.id,
                "name": e.name,
                "category": e.category,
                "published": e.published.isoformat(),
                "access": e.access,
                "one_time_cost": _bound(e.one_time_cost),
                "inference_cost": _bound(e.inference_cost),
                "source": e.source,
                "observations": [_observation(o) for o in e.observations],
                "combinations": [
                    _observation(c)
                    | {"id": c.id, "members": list(c.members), "baseline": list(c.baseline)}
                    for c in catalogue.combinations
                    if e.id in c.members
                ],
                "posterior_ceg": posterior,
            }
        )
    return rows


def _bound(b) -> dict | None:
    if b is None:
        return None
    return {"kind": b.kind, "text": b.describe()} | {
        k: getattr(b, k) for k in ("point", "lower", "upper") if getattr(b, k) is not None
    }


def _observation(o) -> dict:
    ceg = _bound(o.ceg)
    values = [v for k in ("point", "lower", "upper") if (v := getattr(o.ceg, k)) is not None]
    ceg["oom"] = [float(np.log10(v)) for v in values]
    return {
        "benchmark": o.benchmark,
        "domain": o.domain,
        "ceg": ceg,
        "base_compute_flop": o.base_compute_flop,
        "where": o.where,
        "notes": o.notes,
    }


def hyperparameter_summary(fitted: Fit) -> dict:
    """Posterior of the global mean, each category mean and the scalar parameters."""
    draws = fitted.draws
    out = {
        "global_mean": quantile_summary(draws["ceg_global_mean"]),
        "categories": {
            c: quantile_summary(draws["category_mean"][:, k]) for k, c in enumerate(CATEGORIES)
        },
        "arrival_rate_per_year": {
            c: quantile_summary(draws["arrival_rate"][:, k]) for k, c in enumerate(CATEGORIES)
        },
    }
    for name in (
        "category_spread",
        "enhancement_spread",
        "benchmark_spread",
        "observation_noise",
        "scale_slope",
        "ceg_trend",
        "selection_bias",
        "composability_within",
        "composability_between",
    ):
        out[name] = quantile_summary(draws[name])
    return out
