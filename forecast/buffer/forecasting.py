"""A forecast from resolved inputs: fit (or reuse), simulate, evaluate, compare (stages 2-4).

:func:`forecast` takes the :class:`~forecast.inputs.resolve.RunInputs` of one run and returns a
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
from forecast.fit.fitting import FitSettings, FittedEvidence, fit_evidence
from forecast.inputs.resolve import RunInputs, resolve
from forecast.simulate.uplift import Uplift, simulate


@dataclasses.dataclass(frozen=True)
class ForecastResult:
    """A scenario's forecast: uplift over time, the buffer, and everything behind them.

    ``uplift`` may extend past the horizon (to the policies' periods); :attr:`reported` is
    the part up to the horizon.
    """

    inputs: RunInputs
    seed: int
    uplift: Uplift
    fitted: FittedEvidence
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
    def uncapped_buffer_oom(self) -> float:
        """The same quantile without the soft ceiling: what the ceiling takes off."""
        return float(np.quantile(self.uplift.drivers["uncapped"], self.confidence))

    def buffer_interval(self, mass: float = 0.9) -> tuple[float, float]:
        """Monte Carlo interval of the buffer quantile (order statistics of the draws)."""
        return quantile_interval(self.at_horizon, self.confidence, mass)


def forecast(
    inputs: RunInputs,
    *,
    seed: int = 0,
    draws: int | None = None,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    log: Callable[[str], None] = lambda message: None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ForecastResult:
    """Fit (or reuse the cached fit) and forecast resolved inputs.

    Parameters
    ----------
    seed
        Seed of the forward simulation (the fit has its own, in ``settings``).
    draws
        Forecast draws (default: one per posterior draw).
    """
    from forecast.buffer.evals import evaluate_scenario
    from forecast.buffer.policies import policy_rows

    fitted = fit_evidence(
        inputs.catalogue,
        inputs.priors,
        settings,
        use_cache=use_cache,
        log=log,
        on_progress=on_progress,
        table=inputs.table,
    )
    uplift = simulate(inputs, fitted.fit.draws, seed=seed, draws=draws)
    horizon, confidence = inputs.horizon_months, inputs.confidence
    end = int(np.flatnonzero(uplift.times_months == horizon)[0]) + 1
    evals = evaluate_scenario(
        inputs.scenario.evals,
        inputs.tasks,
        inputs.priors,
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
        fitted,
        evals,
        policies,
        reevaluation,
        _provenance(inputs, fitted, seed, draws, settings),
    )


def run_scenario(
    scenario: str | Path | None = None,
    *,
    seed: int = 0,
    draws: int | None = None,
    settings: FitSettings = FitSettings(),
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


def _provenance(inputs: RunInputs, fitted: FittedEvidence, seed, draws, settings) -> dict:
    sc = inputs.scenario
    return {
        "version": __version__,
        "seed": seed,
        "fit_seed": settings.seed,
        "fit_key": fitted.fit.key,
        "fit": fitted.fit.how,
        "fit_from_cache": fitted.fit.from_cache,
        "reweighted": fitted.fit.provenance.get("reweighted"),
        "inputs_sha256": cache.key_of(
            {
                "scenario": sc.model_dump(mode="json"),
                "evidence": inputs.table.digest(),
                "priors": {n: str(p.prior) for n, p in inputs.priors.items()},
                "seed": seed,
                "draws": draws,
                "as_of": inputs.as_of,
                "settings": dataclasses.asdict(settings),
                "policies": [p.rule.model_dump(mode="json") for p in inputs.policies],
            }
        ),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fit_created": fitted.fit.provenance.get("created"),
        "scenario_file": str(inputs.path.resolve()),
        "profile": inputs.profile,
        "as_of": inputs.as_of.isoformat() if inputs.as_of else None,
        "extrapolation": sc.extrapolation.model_dump(mode="json"),
        "priors_overridden": {n: str(p.prior) for n, p in inputs.priors.items() if p.overridden},
        "sources": "catalogue: " + (inputs.catalogue.source_document or "user catalogue"),
    }
