"""Prior sensitivity of the buffer: every prior tightened, widened and shifted.

Each prior is tightened (half the spread), widened (twice) and shifted down and up (by one
standard deviation, or a factor of 1.5 for scales). How a variation is computed depends on
what the prior drives:

- ``histories`` (the uplift model): Pareto-smoothed importance reweighting of the uplift
  model's posterior (the weight of a draw is p_new(theta) / p_old(theta) for that prior's
  parameter), carried to the forecast draws that came from each posterior draw; where the
  reweighting is unreliable (Pareto k above 0.7, or fewer effective draws than the fit
  accepts) the model is refitted under the varied prior when ``refit`` is allowed, and the
  variation says how long that took;
- ``catalogue`` (the CEG model): it reaches the forecast only through ``catalogue_gain``, so
  the catalogue fit is reweighted, the LogNormal of ``catalogue_gain`` it implies recomputed,
  and the uplift model reweighted to that (two reweightings; no effect at all when the user
  set ``catalogue_gain``);
- ``forecast`` (the simulation only): re-simulated with the same seed (exact).

:func:`sensitivity_rows` does the ranking for any set of draws; :func:`prior_sensitivity`
ranks every prior for a :class:`~forecast.buffer.forecasting.ForecastResult` (the quick
ranking ``forecast run`` prints, or the full one of ``forecast sensitivity`` and the
export). Nothing prints.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from forecast.buffer.forecasting import ForecastResult
from forecast.core.distributions import Prior
from forecast.core.errors import InputError
from forecast.fit.catalogue import GAIN_DECIMALS, catalogue_gain_draws, catalogue_spec
from forecast.fit.engine import MIN_REWEIGHTED_SHARE, prior_log_ratio
from forecast.fit.psis import PARETO_K_MAX, psis_weights
from forecast.simulate.uplift import simulate

VARIATIONS = ("tighten", "widen", "shift_down", "shift_up")
QUICK = ("shift_down", "shift_up")


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
    """One varied prior and the buffer under it.

    ``method``: ``reweighted`` (PSIS of the posterior), ``through_catalogue_gain`` (a
    catalogue prior, by two reweightings), ``resimulated`` (a forecast prior), ``refitted``
    (``seconds`` it took), ``unreliable`` (the reweighting failed and no refit was allowed:
    ``buffer_oom`` is None), ``no_effect`` or ``out_of_range``.
    """

    prior: str
    how: str
    distribution: str
    buffer_oom: float | None
    method: str
    pareto_k: float | None = None
    effective_share: float | None = None
    seconds: float | None = None

    @property
    def reliable(self) -> bool:
        return self.buffer_oom is not None and self.method != "unreliable"


def weighted_quantile(x: np.ndarray, q: float, weights: np.ndarray) -> float:
    order = np.argsort(x)
    cdf = np.cumsum(weights[order])
    cdf /= cdf[-1]
    return float(x[order][min(np.searchsorted(cdf, q), len(x) - 1)])


def psis_buffer(log_ratio, index, final_uplift, confidence):
    """The buffer under reweighted posterior draws: (value or None, Pareto k, share of
    effective draws). ``index`` maps each forecast draw to its posterior draw."""
    if log_ratio is None:
        return None, None, None
    weights, k = psis_weights(log_ratio)
    if not (np.isfinite(k) and np.isfinite(weights).all()):
        return None, None, None
    share = float(1.0 / np.sum(weights**2) / len(weights))
    if k > PARETO_K_MAX or share < MIN_REWEIGHTED_SHARE:
        return None, float(k), share
    value = weighted_quantile(final_uplift, confidence, weights[index])
    return value, float(k), share


def prior_sensitivity(
    result: ForecastResult,
    quick: bool = False,
    refit: bool = False,
    names: tuple[str, ...] | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Every prior ranked by how far its variations move the buffer (module docstring).

    Parameters
    ----------
    quick
        Only the two shifts (the ranking ``forecast run`` prints).
    refit
        Refit the uplift model where reweighting cannot serve a variation (else the
        variation is marked ``unreliable`` and left out of the ranking's range).
    names
        Only these priors (default: every prior that reaches the forecast).
    """
    priors = result.inputs.priors
    kinds = QUICK if quick else VARIATIONS
    baseline = result.buffer_oom
    skipped = []
    if result.fitted.fit is None:
        if refit:  # the full ranking reads (or fits) the catalogue model's draws
            fits = dataclasses.replace(result.fits, catalogue=result.fitted.with_draws(log))
            result = dataclasses.replace(result, fits=fits)
        else:
            skipped = [n for n, info in priors.items() if info.drives == "catalogue"]
    index = result.uplift.drivers["posterior_index"]
    histories = result.fits.histories
    rows = []
    for name, info in priors.items():
        if (names is not None and name not in names) or name in skipped:
            continue
        variations = []
        for how in kinds:
            new = vary(info.prior, how)
            if new is None:
                continue
            lo, hi = new.support
            if lo < info.support[0] or hi > info.support[1]:
                continue
            variations.append(_variation(result, name, how, new, index, histories, refit, log))
        values = [v.buffer_oom for v in variations if v.reliable]
        rows.append(
            {
                "prior": name,
                "drives": info.drives,
                "distribution": str(info.prior),
                "buffer_min_oom": min(values, default=baseline),
                "buffer_max_oom": max(values, default=baseline),
                "swing_oom": (max(values) - min(values)) if values else 0.0,
                "unreliable": sum(not v.reliable and v.method == "unreliable" for v in variations),
                "variations": [
                    dataclasses.asdict(v) | {"reliable": v.reliable} for v in variations
                ],
            }
        )
    rows.sort(key=lambda r: -r["swing_oom"])
    return {
        "scenario": result.scenario.name,
        "horizon_months": result.horizon_months,
        "confidence": result.confidence,
        "buffer_oom": baseline,
        "variations": "shifts only (quick)" if quick else "tighten, widen, shift down, shift up",
        "refit_allowed": refit,
        "priors": rows,
        "not_ranked": {
            "priors": skipped,
            "why": "catalogue priors reach the forecast only through catalogue_gain, whose own "
            "row bounds their effect; forecast sensitivity ranks them",
        }
        if skipped
        else None,
        "diagnostics": histories.diagnostics.to_dict(),
    }


def _variation(result, name, how, new, index, histories, refit, log) -> Variation:
    info = result.inputs.priors[name]
    final = result.at_horizon
    confidence = result.confidence
    if info.drives == "forecast":
        return _resimulated(result, name, how, new)
    if info.drives == "catalogue":
        return _through_catalogue_gain(result, name, how, new, index)
    old = result.fits.histories_priors.prior(name)
    log_ratio = prior_log_ratio(histories.draws, {name: (old, new)})
    value, k, share = psis_buffer(log_ratio, index, final, confidence)
    if value is not None:
        return Variation(name, how, str(new), value, "reweighted", k, share)
    if not refit:
        return Variation(name, how, str(new), None, "unreliable", k, share)
    started = time.perf_counter()
    value = _refitted_buffer(result, {name: str(new)}, log)
    seconds = round(time.perf_counter() - started, 1)
    return Variation(name, how, str(new), value, "refitted", k, share, seconds)


def _resimulated(result: ForecastResult, name, how, new) -> Variation:
    if name == "trend_fade_years" and result.scenario.extrapolation.trend != "damped":
        return Variation(name, how, str(new), result.buffer_oom, "no_effect")
    try:
        value = buffer_with(result, priors=result.inputs.priors.with_overrides({name: str(new)}))
    except InputError:
        return Variation(name, how, str(new), None, "out_of_range")
    return Variation(name, how, str(new), value, "resimulated")


def _through_catalogue_gain(result: ForecastResult, name, how, new, index) -> Variation:
    if result.inputs.priors["catalogue_gain"].overridden:
        return Variation(name, how, str(new), result.buffer_oom, "no_effect")
    if result.fitted.fit is None:  # only the fit's summary was read: no draws to reweight
        return Variation(name, how, str(new), None, "unreliable")
    catalogue = result.fitted.fit
    spec_old = result.inputs.priors.prior(name)
    spec = catalogue_spec(result.fitted.table, result.inputs.priors)
    ratio = prior_log_ratio(
        catalogue.draws, {name: (spec_old, new)}, spec.variable_of, spec.shift_of
    )
    if ratio is None:
        return Variation(name, how, str(new), None, "unreliable")
    weights, k = psis_weights(ratio)
    if not (np.isfinite(k) and k <= PARETO_K_MAX):
        return Variation(
            name, how, str(new), None, "unreliable", float(k) if np.isfinite(k) else None
        )
    log_gain = np.log(catalogue_gain_draws(catalogue.draws))
    mu = float(np.sum(weights * log_gain))
    sd = float(np.sqrt(np.sum(weights * (log_gain - mu) ** 2)))
    gain = Prior("LogNormal", (round(mu, GAIN_DECIMALS), max(round(sd, GAIN_DECIMALS), 0.01)))
    old_gain = result.fits.histories_priors.prior("catalogue_gain")
    if gain == old_gain:
        return Variation(name, how, str(new), result.buffer_oom, "through_catalogue_gain", float(k))
    log_ratio = prior_log_ratio(result.fits.histories.draws, {"catalogue_gain": (old_gain, gain)})
    value, k2, share = psis_buffer(log_ratio, index, result.at_horizon, result.confidence)
    if value is None:
        return Variation(name, how, str(new), None, "unreliable", k2, share)
    return Variation(name, how, str(new), value, "through_catalogue_gain", max(float(k), k2), share)


def buffer_with(result: ForecastResult, *, inputs=None, priors=None, draws=None) -> float:
    """The buffer of ``result``'s forecast with other inputs, priors or posterior draws (the
    same seed and number of draws; only the horizon is simulated)."""
    inputs = inputs or result.inputs
    u = simulate(
        inputs,
        draws if draws is not None else result.posterior,
        seed=result.seed,
        draws=result.uplift.oom.shape[0],
        priors=priors,
        months=[float(inputs.horizon_months)],
    )
    return float(np.quantile(u.oom[:, 0], inputs.confidence))


def _refitted_buffer(result: ForecastResult, overrides: dict, log) -> float:
    """The buffer after refitting the uplift model under ``overrides`` (cached like any fit)."""
    from forecast.buffer.forecasting import HISTORIES_SETTINGS, histories_priors
    from forecast.fit.engine import FitSettings
    from forecast.fit.histories import fit_histories

    priors = result.inputs.priors.with_overrides(overrides)
    settings = FitSettings(**result.fits.histories.provenance.get("settings", {}))
    if not result.fits.histories.provenance.get("settings"):
        settings = HISTORIES_SETTINGS
    fit = fit_histories(
        result.inputs.histories,
        histories_priors(priors, result.fitted),
        settings,
        log=log,
        reweight=False,
    )
    return buffer_with(result, priors=priors, draws=fit.draws)
