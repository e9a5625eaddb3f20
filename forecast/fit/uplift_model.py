"""The uplift model: how far a fixed model's measured score climbs once others add
elicitation (stage 2, fitted to the measured histories and the eval-slope groups).

For a history's interval from month ``t0`` to ``t0 + d`` (the model's age ``a``, the calendar
year ``y``, the elicitation ``e`` already applied, the access level ``q`` of the party that
elicits), improvement events arrive as a Poisson process with intensity

    lambda(t) = w * event_rate * exp(-(a + t) / rate_decay_months)
                * exp(rate_trend * (y + t / 12 - YEAR_CENTER))
                * exp(-elicitation_effect * (e - ELICITED_CENTER) + access_effect * q)

with ``w`` the attention the model and suite get from others, a factor shared by every
interval of one history (a series), LogNormal with median 1 and log standard deviation
``attention_spread`` (``event_rate`` is the rate of a model with median attention). Each
event raises the model's effective compute by a jump J in OOM, LogNormal with mean
``increment_mean = increment_share * catalogue_gain`` and log-sd
``increment_spread``; ``catalogue_gain``, the mean realised gain of a new enhancement, has
the LogNormal prior that matches the catalogue fit. The suite's score moves by ``b_s * U``
logits, ``b_s = eval_slope * exp(eval_slope_spread * z_s)``; scaling groups measure ``b_s``
directly (logit difference per OOM of training compute, noise ``scaling_noise``).

Likelihood of an interval given its series' ``w``, with ``L`` its integrated intensity times
``w``: no record (the best score did not rise) has probability exp(-L); a record of ``y``
logits has density (1 - exp(-L)) times the density of ``b_s U + noise`` given at least one
event, where U given one or more events is taken as LogNormal with the exact conditional mean
and variance of the compound-Poisson sum (integrated over 16 Gauss-Hermite nodes) and the
noise is the binomial noise of both scores plus ``harness_noise``. The series' attention
factors are latent (non-centred: ``log w = attention_spread * z_g``);
the forecast draws a new one for the scenario's model, held for its whole horizon. The
forecast simulates the process itself (:mod:`forecast.simulate.uplift`); the cross-validation
measures how well that simulation predicts held-out histories.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from forecast.evidence.histories import HistoryTable
from forecast.inputs.priors import PriorSet

#: The intensity's reference point: a model released at its evaluation, this many categories
#: of elicitation applied, on this calendar date (years since HISTORY_YEAR_ORIGIN, 2024-07-01).
ELICITED_CENTER = 2.0
YEAR_CENTER = 0.5
#: Gauss-Hermite nodes (probabilists') for the conditional LogNormal of an increment.
GH_NODES = 16
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(GH_NODES)
GH_X = _GH_X
GH_LOG_W = np.log(_GH_W / _GH_W.sum())

#: The uplift model's priors (priors/defaults.yaml, ``drives: histories``), in the order they
#: are sampled.
UPLIFT_PRIORS = (
    "catalogue_gain",
    "event_rate",
    "rate_decay_months",
    "rate_trend",
    "elicitation_effect",
    "access_effect",
    "increment_share",
    "increment_spread",
    "attention_spread",
    "eval_slope",
    "eval_slope_spread",
    "harness_noise",
    "scaling_noise",
)
#: Scalars stored with a fit (one number per draw).
UPLIFT_SCALARS = (*UPLIFT_PRIORS, "increment_mean")


def integrated_intensity(months, age, year, decay, trend, xp=np):
    """int_0^d exp(-(age + t) / decay + trend * (year + t / 12 - YEAR_CENTER)) dt.

    Stable when the two rates cancel (``c -> 0``): ``d * exprel(c d)``.
    """
    c = trend / 12.0 - 1.0 / decay
    cd = c * months
    small = xp.abs(cd) < 1e-6
    safe_c = xp.where(small, 1.0, c)
    ratio = xp.where(small, months * (1.0 + cd / 2.0), xp.expm1(cd) / safe_c)
    return xp.exp(-age / decay + trend * (year - YEAR_CENTER)) * ratio


def increment_log_likelihood(
    y, v, record, intensity, jump_mean, jump_sd_log, slope, noise_sd, xp=np
):
    """Log-likelihood of each interval given its attention factor (module docstring), shape
    of ``y``.

    ``intensity`` is the integrated intensity L of the interval times the attention factor,
    ``jump_mean`` and ``jump_sd_log`` the mean and log-sd of one jump (OOM), ``slope`` the
    suite's logits per OOM, ``noise_sd`` the harness noise (logits).
    """
    log_none = -intensity  # P(no event) = exp(-L)
    q1 = -xp.expm1(log_none)  # P(at least one event)
    mean_u = intensity * jump_mean
    # E[U^2] = E[N] E[J^2] + E[N (N - 1)] E[J]^2, with E[N (N - 1)] = L^2 (Poisson)
    second = intensity * jump_mean**2 * xp.exp(jump_sd_log**2) + mean_u**2
    cond_mean = mean_u / q1
    cond_second = second / q1
    s2 = xp.log1p(xp.maximum(cond_second - cond_mean**2, 1e-12) / cond_mean**2)
    mu = xp.log(cond_mean) - s2 / 2.0
    var = v + noise_sd**2
    means = slope[:, None] * xp.exp(mu[:, None] + xp.sqrt(s2)[:, None] * GH_X[None, :])
    per_node = (
        -0.5 * (y[:, None] - means) ** 2 / var[:, None]
        - 0.5 * xp.log(2.0 * math.pi * var)[:, None]
        + GH_LOG_W[None, :]
    )
    top = per_node.max(axis=1)
    log_record = xp.log(xp.exp(per_node - top[:, None]).sum(axis=1)) + top
    return xp.where(record, xp.log(q1) + log_record, log_none)


def data_values(table, weights=None, scale_weights=None) -> dict:
    """The table as the model's data containers (weights default to 1)."""
    n, m = table.n_increments, table.n_scaling
    return {
        "inc_y": table.inc_y,
        "inc_v": table.inc_v,
        "inc_record": table.inc_record.astype(float),
        "inc_months": table.inc_months,
        "inc_age": table.inc_age,
        "inc_year": table.inc_year,
        "inc_elicited": table.inc_elicited,
        "inc_access": table.inc_access,
        "inc_weight": np.ones(n) if weights is None else np.asarray(weights, float),
        "scale_y": table.scale_y,
        "scale_v": table.scale_v,
        "scale_oom": table.scale_oom,
        "scale_weight": np.ones(m) if scale_weights is None else np.asarray(scale_weights, float),
    }


def build_uplift_model(table: HistoryTable, priors: PriorSet):
    """The PyMC model for ``table`` under ``priors`` (module docstring)."""
    import pymc as pm
    import pytensor.tensor as pt

    from forecast.fit.model import random_variable

    coords = {"suite": list(table.suites), "series": list(table.series)}
    with pm.Model(coords=coords) as model:
        rv = {name: random_variable(name, priors.prior(name)) for name in UPLIFT_PRIORS}
        d = {k: pm.Data(k, v) for k, v in data_values(table).items()}
        jump_mean = pm.Deterministic("increment_mean", rv["increment_share"] * rv["catalogue_gain"])
        z_suite = pm.Normal("z_suite", 0.0, 1.0, dims="suite")
        slope = rv["eval_slope"] * pt.exp(rv["eval_slope_spread"] * z_suite)
        z_series = pm.Normal("z_series", 0.0, 1.0, dims="series")
        spread = rv["attention_spread"]
        attention = pt.exp(spread * z_series)
        if table.n_increments:
            rate = (
                attention[table.inc_series]
                * rv["event_rate"]
                * pt.exp(
                    -rv["elicitation_effect"] * (d["inc_elicited"] - ELICITED_CENTER)
                    + rv["access_effect"] * d["inc_access"]
                )
            )
            intensity = rate * integrated_intensity(
                d["inc_months"], d["inc_age"], d["inc_year"],
                rv["rate_decay_months"], rv["rate_trend"], xp=pt,
            )  # fmt: skip
            ll = increment_log_likelihood(
                d["inc_y"], d["inc_v"], d["inc_record"] > 0, intensity, jump_mean,
                rv["increment_spread"], slope[table.inc_suite], rv["harness_noise"], xp=pt,
            )  # fmt: skip
            pm.Potential("histories", (d["inc_weight"] * ll).sum())
        if table.n_scaling:
            sd = pt.sqrt(d["scale_v"] + rv["scaling_noise"] ** 2)
            resid = (d["scale_y"] - slope[table.scale_suite] * d["scale_oom"]) / sd
            pm.Potential(
                "scaling",
                (
                    d["scale_weight"] * (-0.5 * resid**2 - pt.log(sd) - 0.5 * math.log(2 * math.pi))
                ).sum(),
            )
    return model


def expected_shapes(table: HistoryTable) -> dict[str, tuple[int, ...]]:
    """Name -> shape of one draw of every variable a fit of ``table`` stores."""
    return dict.fromkeys(UPLIFT_SCALARS, ()) | {
        "z_suite": (len(table.suites),),
        "z_series": (len(table.series),),
    }


def prior_values(priors: PriorSet) -> dict[str, np.ndarray]:
    """The uplift priors' parameters as the model's ``pm.Data`` containers."""
    return {
        f"prior:{name}:{key}": np.asarray(value, dtype=float)
        for name in UPLIFT_PRIORS
        for key, value in priors.prior(name).kwargs.items()
    }


def structure_key(table: HistoryTable, priors: PriorSet) -> str:
    """A digest of what shapes the graph (not the values of its data): the index arrays and
    sizes of the table and the priors' families. Tables with the same key share a compiled
    model (a cross-validation fold only changes ``inc_weight``)."""
    h = hashlib.sha256()
    for arr in (table.inc_suite, table.inc_series, table.scale_suite):
        arr = np.ascontiguousarray(arr)
        h.update(str(arr.shape).encode() + arr.tobytes())
    families = {name: priors.prior(name).dist for name in UPLIFT_PRIORS}
    h.update(json.dumps([families, len(table.suites), len(table.series)]).encode())
    return h.hexdigest()
