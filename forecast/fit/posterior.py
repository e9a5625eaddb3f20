"""Every use of ArviZ lives here, so a move to arviz 1 touches one file.

Diagnostics of a fit (R-hat, bulk and tail ESS, divergences) and netCDF I/O of the
full ``InferenceData``. The warm path does not import this module.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from forecast.fit.diagnostics import Diagnostics


def diagnose(idata, var_names: list[str] | None = None) -> Diagnostics:
    """R-hat (max), bulk and tail ESS (min) over the sampled variables, and divergences."""
    posterior = idata.posterior
    names = var_names or [v for v in posterior.data_vars if not v.startswith("_")]
    import logging

    quiet = logging.getLogger("arviz")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its shape warning for one chain: said by Diagnostics
    try:
        rhat = az.rhat(posterior, var_names=names)
        ess_bulk = az.ess(posterior, var_names=names, method="bulk")
        ess_tail = az.ess(posterior, var_names=names, method="tail")
    finally:
        quiet.setLevel(level)

    divergences = int(np.asarray(idata.sample_stats["diverging"]).sum())
    chains = int(posterior.sizes["chain"])
    draws = int(posterior.sizes["draw"])
    r_hat, r_hat_name = _extreme(rhat, max)
    bulk, bulk_name = _extreme(ess_bulk, min)
    tail, _ = _extreme(ess_tail, min)
    return Diagnostics(r_hat, bulk, tail, divergences, chains, draws, r_hat_name, bulk_name)


def _extreme(dataset, pick) -> tuple[float, str | None]:
    """The largest (``pick=max``) or smallest value over all variables, and its variable."""
    pairs = []
    for name in dataset.data_vars:
        arr = np.asarray(dataset[name], dtype=float)
        arr = arr[np.isfinite(arr)]
        if arr.size:
            pairs.append((float(pick(arr)), name))
    return pick(pairs) if pairs else (float("nan"), None)


def write_netcdf(idata, path: Path) -> None:
    idata.to_netcdf(str(path), engine="h5netcdf")


def flat_draws(idata, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Posterior draws as numpy arrays, chains stacked: shape ``(chains * draws, ...)``."""
    out = {}
    for name in names:
        arr = np.asarray(idata.posterior[name])
        out[name] = arr.reshape((-1, *arr.shape[2:]))
    return out


def write_draws_netcdf(draws: dict[str, np.ndarray], path: Path, attrs: dict) -> None:
    """Flat draws (``(n, ...)`` arrays, e.g. a fit reweighted to other priors, whose chains
    were resampled away) as a netCDF ``InferenceData`` with one chain; ``attrs`` say
    where they came from."""
    idata = az.from_dict(posterior={name: np.asarray(v)[None, ...] for name, v in draws.items()})
    idata.posterior.attrs.update({k: str(v) for k, v in attrs.items()})
    idata.to_netcdf(str(path), engine="h5netcdf")
