"""Prior sensitivity of the buffer, without refitting where that can be avoided.

Each prior is tightened (half the spread), widened (twice) and shifted down and up (by one
standard deviation, or a factor of 1.5 for scales). Priors that drive only the forward
simulation are re-simulated with the same seed (exact). Priors that drive the fit are
handled by Pareto-smoothed importance reweighting of the cached posterior: the weight of
a draw is p_new(theta) / p_old(theta) for that prior's own parameter; a Pareto k above
0.7 marks the estimate unreliable (refit with --prior to confirm).

:func:`sensitivity` varies the priors of any buffer function; :func:`prior_sensitivity`
ranks every prior for a :class:`~forecast.buffer.forecasting.ForecastResult` (the quick
ranking ``forecast run`` prints, or the full one of ``forecast sensitivity``), with the
buffer at fixed ceilings (:func:`ceiling_curve`). Nothing prints.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.core.distributions import Prior
from forecast.core.errors import InputError
from forecast.fit.compose import saturate
from forecast.fit.engine import prior_log_ratio
from forecast.fit.psis import PARETO_K_MAX
from forecast.inputs.priors import PriorSet
from forecast.simulate.uplift import simulate

VARIATIONS = ("tighten", "widen", "shift_down", "shift_up")


def vary(prior: Prior, how: str) -> Prior | None:
    """A tightened, widened or shifted version of ``prior`` (None if it has no such form)."""
    p = prior.kwargs
    d = prior.dist
    factor = {"tighten": 0.5, "widen": 2.0}.get(how)
    if d in ("Normal", "LogNormal"):
        if factor:
            return Prior(d, (p["mu"], p["sigma"] * factor))
        return Prior(d, (p["mu"] + (1 if how == "shift_up" else -1) * p["sigma"], p["sigma"]))
    if d == "HalfNormal":
        if factor:
            return None  # one parameter: its spread and its location move together
        return Prior(d, (p["sigma"] * (1.5 if how == "shift_up" else 1 / 1.5),))
    if d == "Beta":
        a, b = p["alpha"], p["beta"]
        if factor:  # keep the mean, change the concentration (sd ~ 1/sqrt(a+b))
            c = 1 / factor**2
            return Prior(d, (a * c, b * c))
        mean, conc = a / (a + b), a + b
        sd = np.sqrt(mean * (1 - mean) / (conc + 1))
        mean = float(np.clip(mean + (sd if how == "shift_up" else -sd), 0.02, 0.98))
        return Prior(d, (mean * conc, (1 - mean) * conc))
    if d == "Gamma":
        a, b = p["alpha"], p["beta"]
        if factor:  # keep the mean a/b, scale the sd sqrt(a)/b by factor
            c = 1 / factor**2
            return Prior(d, (a * c, b * c))
        return Prior(d, (a, b / 1.5 if how == "shift_up" else b * 1.5))
    if d == "Exponential":
        if factor:
            return None
        return Prior(d, (p["lam"] / 1.5 if how == "shift_up" else p["lam"] * 1.5,))
    if d == "Constant":
        if factor:
            return None
        return Prior(d, (p["value"] * (1.5 if how == "shift_up" else 1 / 1.5),))
    return None


@dataclasses.dataclass(frozen=True)
class Variation:
    prior: str
    how: str
    distribution: str
    buffer_oom: float | None
    method: str  # resimulated | reweighted | not_reweightable | no_effect | out_of_range
    pareto_k: float | None = None

    @property
    def reliable(self) -> bool:
        return self.buffer_oom is not None and (
            self.pareto_k is None or self.pareto_k <= PARETO_K_MAX
        )


def _reweighted(name, how, new, log_ratio, final_uplift, confidence, psis) -> Variation:
    """The buffer under a varied prior by importance reweighting; where the weights are
    degenerate (no finite Pareto k: the varied prior gives almost no draw any density) the
    variation is reported as not reweightable rather than as a number."""
    weights, k = psis(log_ratio)
    if not (np.isfinite(k) and np.isfinite(weights).all()):
        return Variation(name, how, str(new), None, "not_reweightable")
    value = weighted_quantile(final_uplift, confidence, weights)
    return Variation(name, how, str(new), value, "reweighted", float(k))


def weighted_quantile(x: np.ndarray, q: float, weights: np.ndarray) -> float:
    order = np.argsort(x)
    cdf = np.cumsum(weights[order])
    cdf /= cdf[-1]
    return float(x[order][min(np.searchsorted(cdf, q), len(x) - 1)])


def sensitivity(
    draws: dict,
    priors: PriorSet,
    buffer_of,
    confidence: float,
    final_uplift: np.ndarray,
    psis=None,
    kinds: tuple[str, ...] = VARIATIONS,
    forecast_draws: dict | None = None,
) -> tuple[list[dict], float]:
    """Rank every prior by how far its variations move the buffer.

    Parameters
    ----------
    draws
        Posterior draws, aligned with ``final_uplift`` (one uplift per posterior draw).
    buffer_of
        ``buffer_of(prior_set) -> float``: re-simulates the buffer under other forecast priors.
    final_uplift
        U at the horizon for each posterior draw under the default priors.
    psis
        ``psis(log_ratios) -> (weights, k)``; defaults to ArviZ's PSIS.
    kinds
        Which of :data:`VARIATIONS` to try (the quick ranking of ``forecast run`` shifts only).
    forecast_draws
        Each draw's value of the forecast-only priors' parameters (name -> (n,)), as the
        simulation drew them. When given, forecast priors are reweighted like fit priors
        (exact in the limit, checked by Pareto k) instead of re-simulated.
    """
    if psis is None:
        from forecast.fit.psis import psis_weights as psis
    baseline = float(np.quantile(final_uplift, confidence))
    rows = []
    for name, info in priors.items():
        variations = []
        for how in kinds:
            new = vary(info.prior, how)
            if new is None:
                continue
            lo, hi = new.support
            if lo < info.support[0] or hi > info.support[1]:
                continue
            if info.drives == "forecast" and name == "eval_slope":
                variations.append(Variation(name, how, str(new), baseline, "no_effect"))
            elif info.drives == "forecast" and forecast_draws is not None:
                log_ratio = prior_log_ratio(forecast_draws, {name: (info.prior, new)})
                variations.append(
                    _reweighted(name, how, new, log_ratio, final_uplift, confidence, psis)
                )
            elif info.drives == "forecast":
                try:
                    value = buffer_of(priors.with_overrides({name: str(new)}))
                except InputError:  # the variation drives the simulation past its limits
                    variations.append(Variation(name, how, str(new), None, "out_of_range"))
                    continue
                variations.append(Variation(name, how, str(new), value, "resimulated"))
            elif (log_ratio := prior_log_ratio(draws, {name: (info.prior, new)})) is not None:
                variations.append(
                    _reweighted(name, how, new, log_ratio, final_uplift, confidence, psis)
                )
            else:
                variations.append(Variation(name, how, str(new), None, "not_reweightable"))
        values = [v.buffer_oom for v in variations if v.reliable]
        rows.append(
            {
                "prior": name,
                "drives": info.drives,
                "distribution": str(info.prior),
                "buffer_min_oom": min(values, default=baseline),
                "buffer_max_oom": max(values, default=baseline),
                "swing_oom": (max(values) - min(values)) if values else 0.0,
                "variations": [
                    dataclasses.asdict(v) | {"reliable": v.reliable} for v in variations
                ],
            }
        )
    rows.sort(key=lambda r: -r["swing_oom"])
    return rows, baseline


#: Fixed ceilings (OOM) at which :func:`ceiling_curve` gives the buffer.
CEILINGS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, float("inf"))


def ceiling_curve(result: ForecastResult, ceilings=CEILINGS) -> list[dict]:
    """The buffer if the soft ceiling were fixed at each value (None: no ceiling).

    The ceiling acts only at the end (U = S(raw, ceiling)), so each point is exact from the
    draws' uncapped uplift, without re-simulating.
    """
    raw = result.uplift.drivers["uncapped"]
    return [
        {
            "ceiling_oom": c if np.isfinite(c) else None,  # None: no ceiling at all
            "buffer_oom": float(
                np.quantile(saturate(raw, np.full_like(raw, c)), result.confidence)
            ),
        }
        for c in ceilings
    ]


def forecast_parameters(drivers: dict) -> dict:
    """Each draw's values of the forecast-only priors' parameters, by prior name."""
    prefix = "prior:"
    return {k.removeprefix(prefix): v for k, v in drivers.items() if k.startswith(prefix)}


def prior_sensitivity(result: ForecastResult, quick: bool = False) -> dict:
    """Every prior ranked by how far tightening, widening or shifting it moves the buffer.

    ``quick`` tries only the two shifts and reweights the forecast priors' draws instead of
    re-simulating (the ranking ``forecast run`` prints); the full ranking (``forecast
    sensitivity``) also tightens and widens, and re-simulates exactly.
    """
    horizon = [float(result.horizon_months)]

    def buffer_of(prior_set) -> float:
        # Only U at the horizon matters: simulate that month alone (arrivals are drawn the
        # same whatever the time grid, so the values equal those of the full run).
        u = simulate(
            result.inputs, result.fitted.fit.draws, seed=result.seed, priors=prior_set,
            months=horizon,
        )  # fmt: skip
        return float(np.quantile(u.oom[:, 0], result.confidence))

    index = result.uplift.drivers["posterior_index"]  # each forecast draw's posterior draw
    draws = {name: values[index] for name, values in result.fitted.fit.draws.items()}
    rows, baseline = sensitivity(
        draws,
        result.inputs.priors,
        buffer_of,
        result.confidence,
        result.at_horizon,
        kinds=("shift_down", "shift_up") if quick else VARIATIONS,
        forecast_draws=forecast_parameters(result.uplift.drivers) if quick else None,
    )
    return {
        "scenario": result.scenario.name,
        "horizon_months": result.horizon_months,
        "confidence": result.confidence,
        "buffer_oom": baseline,
        "ceiling_curve": ceiling_curve(result),
        "variations": "shifts only (quick)" if quick else "tighten, widen, shift down, shift up",
        "priors": rows,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }
