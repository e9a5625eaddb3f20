"""A forecast from resolved inputs: fit (or reuse), simulate, evaluate, compare (stages 2-4).

:func:`forecast` takes the :class:`~forecast.inputs.resolve.RunInputs` of one run, fits (or
reads, or reweights) the catalogue model and then the uplift model, whose ``catalogue_gain``
prior comes from the catalogue fit (:func:`fit_both`), simulates the uplift, and returns a
:class:`ForecastResult` holding the uplift draws and everything the report shows;
:func:`run_scenario` resolves a scenario and forecasts it in one call (what the CLI's
``forecast run`` does). Nothing here prints or writes files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from forecast import __version__
from forecast.buffer.intervals import STANDARD_BUFFERS, quantile_interval, reevaluation_months
from forecast.core.schemas.scenario import Scenario
from forecast.fit import cache
from forecast.fit.catalogue import FittedEvidence, fit_evidence
from forecast.fit.engine import Fit, FitSettings
from forecast.fit.histories import fit_histories
from forecast.inputs.priors import PriorSet
from forecast.inputs.resolve import RunInputs, resolve
from forecast.simulate.uplift import Uplift, simulate

#: Sampler settings of the uplift model: more tuning and draws and a higher target acceptance
#: than the catalogue model's, because each history's attention factor is latent (a
#: hierarchy of small groups that mixes slowly: docs/method.md section 6.4).
HISTORIES_SETTINGS = FitSettings(draws=2500, tune=2000, target_accept=0.95)
#: Forecast draws by default (resampled from the uplift model's posterior draws).
DEFAULT_DRAWS = 6000


@dataclasses.dataclass(frozen=True)
class Fits:
    """Both fits of a run: the catalogue's and the uplift model's, and the priors the uplift
    model was fitted under (the run's, with ``catalogue_gain`` from the catalogue fit)."""

    catalogue: FittedEvidence
    histories: Fit
    histories_priors: PriorSet


def histories_priors(priors: PriorSet, catalogue: FittedEvidence) -> PriorSet:
    """The run's priors with ``catalogue_gain`` set from the catalogue fit, unless the user
    overrode it (then the user's value wins)."""
    if priors["catalogue_gain"].overridden:
        return priors
    summary = catalogue.summary.gain_prior
    moved = priors.with_overrides({"catalogue_gain": summary}, origin="the catalogue fit")
    # The shipped catalogue's summary is the default itself: keep it marked as a default.
    if moved.prior("catalogue_gain") == priors["catalogue_gain"].default:
        return priors
    return moved


def fit_both(
    inputs: RunInputs,
    settings: FitSettings = FitSettings(),
    histories_settings: FitSettings = HISTORIES_SETTINGS,
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Fits:
    """The catalogue fit, then the uplift model's (each cached, shipped or reweighted)."""
    fitted = fit_evidence(
        inputs.catalogue,
        inputs.priors,
        settings,
        use_cache=use_cache,
        log=log,
        on_progress=on_progress,
        table=inputs.table,
        need_draws=False,
    )
    priors = histories_priors(inputs.priors, fitted)
    histories = fit_histories(
        inputs.histories,
        priors,
        histories_settings,
        use_cache=use_cache,
        log=log,
        on_progress=on_progress,
    )
    return Fits(fitted, histories, priors)


@dataclasses.dataclass(frozen=True)
class ForecastResult:
    """A scenario's forecast: uplift over time, the buffer, and everything behind them.

    ``uplift`` may extend past the horizon (to the policies' periods); :attr:`reported` is
    the part up to the horizon.
    """

    inputs: RunInputs
    seed: int
    uplift: Uplift
    fits: Fits
    evals: list[dict]
    policies: list[dict]
    reevaluation: dict[str, dict]
    provenance: dict

    @property
    def scenario(self) -> Scenario:
        return self.inputs.scenario

    @property
    def scenario_path(self) -> Path:
        return self.inputs.path

    @property
    def actor(self) -> str:
        return self.inputs.actor

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user should know about the inputs
        (:func:`forecast.inputs.resolve.run_warnings`)."""
        return self.inputs.warnings

    @property
    def horizon_months(self) -> int:
        return self.inputs.horizon_months

    @property
    def confidence(self) -> float:
        return self.inputs.confidence

    @property
    def horizon_index(self) -> int:
        return int(np.flatnonzero(self.uplift.times_months == self.horizon_months)[0])

    @property
    def reported(self) -> Uplift:
        return self.uplift.upto(self.horizon_index + 1)

    @property
    def at_horizon(self) -> np.ndarray:
        """U at the horizon, one value per draw (OOM)."""
        return self.uplift.oom[:, self.horizon_index]

    @property
    def buffer_oom(self) -> float:
        """The ``confidence`` quantile of U at the horizon, in OOM."""
        return float(np.quantile(self.at_horizon, self.confidence))

    @property
    def fitted(self) -> FittedEvidence:
        """The catalogue fit (with its catalogue and table)."""
        return self.fits.catalogue

    @property
    def posterior(self) -> dict[str, np.ndarray]:
        """The uplift model's posterior draws (what the simulation reads)."""
        return self.fits.histories.draws

    def slope_population(self) -> tuple[np.ndarray, np.ndarray]:
        """(median, spread) of suites' eval slopes in each forecast draw."""
        index = self.uplift.drivers["posterior_index"]
        return self.posterior["eval_slope"][index], self.posterior["eval_slope_spread"][index]

    def buffer_interval(self, mass: float = 0.9) -> tuple[float, float]:
        """Monte Carlo interval of the buffer quantile (order statistics of the draws)."""
        return quantile_interval(self.at_horizon, self.confidence, mass)


def forecast(
    inputs: RunInputs,
    *,
    seed: int = 0,
    draws: int | None = None,
    settings: FitSettings = HISTORIES_SETTINGS,
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ForecastResult:
    """Fit (or reuse the cached fits) and forecast resolved inputs.

    Parameters
    ----------
    seed
        Seed of the forward simulation (the fit has its own, in ``settings``).
    draws
        Forecast draws (default :data:`DEFAULT_DRAWS`, resampled from the posterior).
    settings
        Sampler settings of the uplift model (default :data:`HISTORIES_SETTINGS`); the
        catalogue model uses its own defaults with the same seed.
    """
    from forecast.buffer.evals import evaluate_scenario
    from forecast.buffer.policies import policy_rows

    catalogue_settings = FitSettings(seed=settings.seed)
    fits = fit_both(inputs, catalogue_settings, settings, use_cache, log, on_progress)
    n_draws = DEFAULT_DRAWS if draws is None else draws
    uplift = simulate(inputs, fits.histories.draws, seed=seed, draws=n_draws)
    horizon, confidence = inputs.horizon_months, inputs.confidence
    end = int(np.flatnonzero(uplift.times_months == horizon)[0]) + 1
    index = uplift.drivers["posterior_index"]
    population = (
        fits.histories.draws["eval_slope"][index],
        fits.histories.draws["eval_slope_spread"][index],
    )
    evals = evaluate_scenario(
        inputs.scenario.evals,
        inputs.tasks,
        population,
        uplift.times_months[:end],
        uplift.oom[:, :end],
        confidence,
        seed,
    )
    policies = policy_rows(inputs.policies, uplift.times_months, uplift.oom, confidence, horizon)
    reevaluation = {
        f"{m:g}x": reevaluation_months(
            uplift.times_months, uplift.oom, confidence, float(np.log10(m))
        )
        for m in STANDARD_BUFFERS
    }
    return ForecastResult(
        inputs,
        seed,
        uplift,
        fits,
        evals,
        policies,
        reevaluation,
        _provenance(inputs, fits, seed, n_draws, settings),
    )


def run_scenario(
    scenario: str | Path | None = None,
    *,
    seed: int = 0,
    draws: int | None = None,
    settings: FitSettings = HISTORIES_SETTINGS,
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
    **options,
) -> ForecastResult:
    """Resolve a scenario (``options``: :func:`forecast.inputs.resolve.resolve`) and forecast it.

    >>> from forecast import api
    >>> result = api.run_scenario("frontier-api", horizon_months=6)  # doctest: +SKIP
    >>> result.buffer_oom  # doctest: +SKIP
    """
    inputs = resolve(scenario, **options)
    return forecast(
        inputs,
        seed=seed,
        draws=draws,
        settings=settings,
        use_cache=use_cache,
        log=log,
        on_progress=on_progress,
    )


def _provenance(inputs: RunInputs, fits: Fits, seed, draws, settings) -> dict:
    sc = inputs.scenario
    catalogue, histories = fits.catalogue, fits.histories
    return {
        "version": __version__,
        "seed": seed,
        "draws": draws,
        "fit_seed": settings.seed,
        "histories_settings": dataclasses.asdict(settings),
        "fit_key": catalogue.key,
        "fit": catalogue.how,
        "fit_from_cache": catalogue.how != "sampled",
        "reweighted": catalogue.provenance.get("reweighted"),
        "histories_fit_key": histories.key,
        "histories_fit": histories.how,
        "histories_reweighted": histories.provenance.get("reweighted"),
        "catalogue_gain": str(fits.histories_priors.prior("catalogue_gain")),
        "inputs_sha256": cache.key_of(
            {
                "scenario": sc.model_dump(mode="json"),
                "evidence": inputs.table.digest(),
                "histories": inputs.histories.digest(),
                "priors": {n: str(p.prior) for n, p in inputs.priors.items()},
                "seed": seed,
                "draws": draws,
                "as_of": inputs.as_of,
                "settings": dataclasses.asdict(settings),
                "policies": [p.rule.model_dump(mode="json") for p in inputs.policies],
            }
        ),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fit_created": catalogue.provenance.get("created"),
        "histories_fit_created": histories.provenance.get("created"),
        "scenario_file": str(inputs.path.resolve()),
        "profile": inputs.profile,
        "as_of": inputs.as_of.isoformat() if inputs.as_of else None,
        "extrapolation": sc.extrapolation.model_dump(mode="json"),
        "priors_overridden": {n: str(p.prior) for n, p in inputs.priors.items() if p.overridden},
        "sources": "catalogue: " + (inputs.catalogue.source_document or "user catalogue"),
    }
