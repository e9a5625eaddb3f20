"""The buffer of a forecast under each assumption profile (docs/profiles.md).

Each profile's inputs are the forecast's with the profile swapped in (its priors, and the
scenario's and the command's own overrides kept); the fits come from the cache, the uplift
model reweighted to the profile's priors where that is reliable (else refit), so the table
costs about a simulation per profile.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forecast.buffer.forecasting import forecast
from forecast.fit.engine import FitSettings
from forecast.inputs.profiles import load_profile, profile_priors, shipped_profiles


def profile_inputs(result, name: str):
    """The result's inputs with the profile ``name`` swapped in: its priors and trend mode,
    the scenario's and the command's own prior overrides kept."""
    priors, profile_name, modes = profile_priors(name)
    inputs = result.inputs
    own = {k: v for k, v in inputs.priors.items() if v.overridden}
    for key, info in own.items():  # keep the scenario's and the command's own overrides
        if key not in load_profile(name).spec.priors:
            priors = priors.with_overrides({key: str(info.prior)})
    extrapolation = inputs.scenario.extrapolation.model_copy(update=modes)
    scenario = inputs.scenario.model_copy(update={"extrapolation": extrapolation})
    return dataclasses.replace(inputs, priors=priors, profile=profile_name, scenario=scenario)


def profile_table(result, names=None, log=lambda message: None) -> list[dict]:
    """The buffer of a forecast under each shipped profile (or ``names``), same seed.

    Each profile's inputs are the result's with the profile swapped in; the fit comes from
    the cache or the shipped fits, reweighted to the profile's fit priors where that is
    reliable (else refit), so the table costs about a simulation per profile.
    """
    rows = []
    for name in names or list(shipped_profiles()):
        other = profile_inputs(result, name)
        settings = _settings_of(result)
        run = forecast(other, seed=result.seed, draws=result.uplift.oom.shape[0], settings=settings,
                       log=log)  # fmt: skip
        rows.append(
            {
                "profile": other.profile,
                "title": load_profile(name).spec.title,
                "buffer_oom": run.buffer_oom,
                "median_oom": float(np.median(run.at_horizon)),
                "fit": run.fits.histories.how,
                "reweighting": run.fits.histories.provenance.get("reweighted"),
                "extrapolation": other.scenario.extrapolation.model_dump(mode="json"),
                "priors": {k: o.distribution for k, o in load_profile(name).spec.priors.items()},
            }
        )
    return rows


def profile_buffers(result, names=None) -> list[dict]:
    """Each shipped profile's buffer for the result's scenario, computed only when the
    profile's fits are at hand without sampling (cached, shipped or reliably reweighted):
    a row's ``buffer_oom`` is None otherwise (``forecast explain`` refits). Same seed and
    draws as the result; the buffer alone (no evals, no policies)."""
    from forecast.buffer.forecasting import histories_priors
    from forecast.fit.catalogue import fit_evidence
    from forecast.fit.histories import fit_histories
    from forecast.simulate.uplift import simulate

    settings = _settings_of(result)
    rows = []
    for name in names or list(shipped_profiles()):
        other = profile_inputs(result, name)
        fitted = fit_evidence(other.catalogue, other.priors, FitSettings(seed=settings.seed),
                              table=other.table, need_draws=False)  # fmt: skip
        fit = fit_histories(other.histories, histories_priors(other.priors, fitted), settings,
                            sample=False)  # fmt: skip
        buffer = None
        if fit is not None:
            uplift = simulate(other, fit.draws, seed=result.seed, draws=result.uplift.oom.shape[0])
            at = int(np.flatnonzero(uplift.times_months == result.horizon_months)[0])
            buffer = float(np.quantile(uplift.oom[:, at], result.confidence))
        rows.append({"profile": other.profile, "buffer_oom": buffer,
                     "fit": None if fit is None else fit.how})  # fmt: skip
    return rows


def _settings_of(result):
    """The uplift model's sampler settings of the result (the catalogue's follow from them)."""
    return FitSettings(**result.provenance["histories_settings"])
