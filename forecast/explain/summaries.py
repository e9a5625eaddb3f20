"""Evidence and posterior summaries for listings (``forecast evidence``, ``priors show``).

Plain records built from the catalogue and a fit; nothing prints.
"""

from __future__ import annotations

import numpy as np

from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import CATEGORIES
from forecast.core.units import plain_summary, quantile_summary
from forecast.fit.engine import Fit


def enhancement_rows(
    catalogue: Catalogue, fitted: Fit | None = None, at_flop: float | None = None
) -> list[dict]:
    """One record per enhancement: its facts, its observations and its posterior CEG.

    ``posterior_ceg`` is the published-scale CEG at the reference base model (1e23 FLOP), in
    OOM and as a multiplier, with a 90% interval; None without a fit. With ``at_flop``,
    ``posterior_at_flop`` gives the same for a base model of that many training FLOP
    (:func:`forecast.evidence.gains.gain_at_compute`). Every figure carries ``in_fit``,
    ``independent``, ``origin``, ``reference`` and ``quote``.
    """
    from forecast.evidence.gains import gain_at_compute
    from forecast.evidence.table import build_table

    compute_range = build_table(catalogue).compute_range if at_flop is not None else None

    rows = []
    for e in catalogue.enhancements:
        posterior = at_scale = None
        ids = fitted.labels["enhancements"] if fitted is not None else ()
        if e.id in ids:
            index = ids.index(e.id)
            posterior = quantile_summary(fitted.draws["ceg_oom"][:, index])
            if at_flop is not None:
                log10_flop = float(np.log10(at_flop))
                at_scale = {
                    "flop": float(at_flop),
                    "log10_flop": log10_flop,
                    **quantile_summary(
                        gain_at_compute(fitted.draws, index, log10_flop, compute_range)
                    ),
                }
        rows.append(
            {
                "id": e.id,
                "name": e.name,
                "category": e.category,
                "published": e.published.isoformat(),
                "access": e.access,
                "origin": e.origin,
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
                **({"posterior_at_flop": at_scale} if at_flop is not None else {}),
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
        "no_gain": o.no_gain,
        "base_compute_flop": o.base_compute_flop,
        "in_fit": o.in_fit,
        "independent": o.independent,
        "origin": o.origin,
        "reference": o.reference,
        "quote": o.quote,
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
            c: plain_summary(draws["arrival_rate"][:, k]) for k, c in enumerate(CATEGORIES)
        },
    }
    for name in (
        "category_spread",
        "enhancement_spread",
        "benchmark_spread",
        "observation_noise",
    ):
        out[name] = quantile_summary(draws[name])
    # not in OOM: slopes, a trend per year and discount factors
    for name in ("scale_slope", "ceg_trend", "composability_within", "composability_between"):
        out[name] = plain_summary(draws[name])
    return out


def contraction(fit: Fit, priors, name: str) -> float | None:
    """Posterior contraction of prior ``name`` in ``fit``: 1 - posterior variance / prior
    variance (Betancourt 2018), the mean over a vector's components; None where the fit does
    not store the prior's parameter or the prior is a fixed number."""
    draws = _posterior_draws(fit, priors, name)
    return None if draws is None else _contraction(priors[name].prior, draws)[0]


def prior_posterior(fitted: Fit, priors, drives: str = "catalogue") -> list[dict]:
    """Every prior of one model (``drives``: ``catalogue`` or ``histories``) beside its
    posterior: means, 90% intervals and the contraction.

    Contraction is 1 - posterior variance / prior variance (Betancourt 2018): near 0 the
    evidence leaves the prior as it was (the parameter is not identified; the prior sets
    it), near 1 the evidence determines it. For a vector parameter (one per category) the
    mean over its components is given.
    """
    rows = []
    for name, info in priors.items():
        if info.drives != drives:
            continue
        row = _prior_posterior_row(fitted, priors, name)
        if row is not None:
            rows.append(row)
    return rows


def _posterior_draws(fitted: Fit, priors, name: str) -> np.ndarray | None:
    """(draws, components) of the parameter prior ``name`` sets, on the prior's scale; None
    where the fit does not store it or the prior is a fixed number."""
    info = priors[name]
    variable = {"missing_log_compute": "missing_compute"}.get(name, name)
    if variable not in fitted.draws or info.prior.dist == "Constant":
        return None
    draws = fitted.draws[variable].reshape(fitted.n_draws, -1)
    if name == "missing_log_compute":
        from forecast.evidence.table import REFERENCE_LOG10_FLOP

        draws = draws + REFERENCE_LOG10_FLOP
    return draws


def _contraction(prior, draws: np.ndarray) -> tuple[float, bool]:
    """(contraction, whether measured on the log scale) of ``prior`` given posterior
    ``draws`` (draws, components).

    A LogNormal prior is a normal on the log scale: its contraction is measured there (on the
    natural scale a posterior that moved up can have a larger variance than the prior's and
    show a negative contraction while it is well determined). The prior's variance is a
    closed form (:meth:`forecast.core.distributions.Prior.variance`), so this never imports
    scipy.stats.
    """
    log_scale = prior.dist == "LogNormal"
    if log_scale:
        prior_var = float(prior.kwargs["sigma"] ** 2)
        post_var = np.log(draws).var(axis=0)
    else:
        prior_var = prior.variance()
        post_var = draws.var(axis=0)
    return float(np.mean(1.0 - post_var / prior_var)), log_scale


def _prior_posterior_row(fitted: Fit, priors, name: str) -> dict | None:
    draws = _posterior_draws(fitted, priors, name)
    if draws is None:
        return None
    info = priors[name]
    lo, hi = info.prior.interval(0.9)
    q05, q95 = np.quantile(draws, [0.05, 0.95], axis=0)
    contraction_value, log_scale = _contraction(info.prior, draws)
    return {
        "prior": name,
        "drives": info.drives,
        "distribution": str(info.prior),
        "prior_mean": info.prior.mean(),
        "prior_interval_90": [lo, hi],
        "posterior_mean": float(draws.mean()),
        "posterior_interval_90": [float(q05.mean()), float(q95.mean())],
        "contraction": contraction_value,
        "contraction_scale": "log" if log_scale else "natural",
        "components": int(draws.shape[1]),
    }
