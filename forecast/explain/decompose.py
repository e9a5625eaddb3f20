"""Why this buffer: the uplift at the horizon split into what sets it.

Quantiles are not additive, so the split is made draw by draw and then averaged over a band
of draws (the median band, draws between the 40th and 60th percentiles of U, and the tail,
the draws at and above the buffer quantile). Each draw's uplift ``U`` is split exactly into

- **the rate and size of improvements the evidence supports**: ``E[U | parameters]``, the
  uplift the draw's posterior parameters imply for a model getting typical attention (the
  expected number of events by the horizon times the mean jump);
- **attention**: ``E[U | parameters, attention] - E[U | parameters]``, what this draw's
  attention factor (how much work others put into this model, LogNormal with median 1) adds or
  takes away;
- **chance**: ``U - E[U | parameters, attention]``, which improvements happened to come and
  how large they were.

The three add up to the draw's uplift, so each band's averages add up to its mean uplift.
The first part is what the evidence and the priors set; the last two are the spread a
forecast of one model must carry however much evidence there is.

Pure numpy on the simulation's per-draw drivers (:attr:`forecast.simulate.uplift.Uplift.drivers`).
"""

from __future__ import annotations

import numpy as np

#: The median band: draws between these quantiles of U at the horizon.
MEDIAN_BAND = (0.4, 0.6)
#: The parts of each draw's uplift (module docstring), in order, with their labels.
PARTS = {
    "parameters": "the rate and size of improvements the evidence supports",
    "attention": "how much attention this model gets from others",
    "chance": "which improvements happen to come, and their size",
}


def bands(uplift_at_horizon: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """Draw indices of the median band and of the tail at and above the buffer quantile."""
    lo, hi = np.quantile(uplift_at_horizon, MEDIAN_BAND)
    buffer = np.quantile(uplift_at_horizon, confidence)
    median = np.flatnonzero((uplift_at_horizon >= lo) & (uplift_at_horizon <= hi))
    tail = np.flatnonzero(uplift_at_horizon >= buffer)
    return {"median": median, "tail": tail}


def parts(uplift_at_horizon: np.ndarray, drivers: dict) -> dict[str, np.ndarray]:
    """Each draw's uplift split into :data:`PARTS` (they add up to it exactly)."""
    typical = np.asarray(drivers["expected_oom_typical_attention"], dtype=float)
    with_attention = np.asarray(drivers["expected_oom"], dtype=float)
    return {
        "parameters": typical,
        "attention": with_attention - typical,
        "chance": uplift_at_horizon - with_attention,
    }


def decomposition(uplift_at_horizon: np.ndarray, drivers: dict, confidence: float) -> dict:
    """The split of the uplift in the median band and the tail (module docstring).

    Returns, for each band, the number of draws, the mean uplift, its range, and each
    part's mean in OOM and as a share of the band's mean uplift; and the mean number of
    improvement events by the horizon and the mean size of one.
    """
    split = parts(uplift_at_horizon, drivers)
    events = np.asarray(drivers["events_at_horizon"], dtype=float)
    out = {}
    for band, idx in bands(uplift_at_horizon, confidence).items():
        mean_u = float(uplift_at_horizon[idx].mean()) if idx.size else 0.0
        out[band] = {
            "draws": int(idx.size),
            "mean_uplift_oom": mean_u,
            "uplift_range_oom": [
                float(uplift_at_horizon[idx].min()) if idx.size else 0.0,
                float(uplift_at_horizon[idx].max()) if idx.size else 0.0,
            ],
            "mean_events": float(events[idx].mean()) if idx.size else 0.0,
            "mean_increment_oom": float(np.asarray(drivers["increment_mean"])[idx].mean())
            if idx.size
            else 0.0,
            "parts": [
                {
                    "part": name,
                    "oom": float(split[name][idx].mean()) if idx.size else 0.0,
                    "share": float(split[name][idx].mean() / mean_u) if mean_u > 1e-12 else 0.0,
                }
                for name in PARTS
            ],
        }
    return out


#: Per-draw drivers compared between the tail and all draws: key -> (label, units).
DRIVERS = {
    "events_at_horizon": ("improvement events by the horizon", "count"),
    "rate_at_reference": ("improvements per month at the reference date", "per month"),
    "attention": ("attention factor (median 1 over models)", "factor"),
    "increment_mean": ("mean effective compute an improvement adds", "OOM"),
    "rate_decay_months": ("months for the rate to fall by a factor e as the model ages", "months"),
    "rate_trend": ("calendar trend of the rate", "per year"),
}


def tail_profile(uplift_at_horizon: np.ndarray, drivers: dict, confidence: float) -> list[dict]:
    """What the draws at and above the buffer quantile look like, against all draws."""
    tail = bands(uplift_at_horizon, confidence)["tail"]
    out = []
    for key, (label, units) in DRIVERS.items():
        if key not in drivers:
            continue
        values = np.asarray(drivers[key], dtype=float)
        out.append(
            {
                "driver": key,
                "label": label,
                "units": units,
                "all_mean": float(values.mean()),
                "tail_mean": float(values[tail].mean()) if tail.size else float("nan"),
                "all_median": float(np.median(values)),
                "tail_median": float(np.median(values[tail])) if tail.size else float("nan"),
            }
        )
    return out
