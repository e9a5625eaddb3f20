"""Synthetic catalogues simulated from known parameters, for recovery checks.

Used by the parameter-recovery test (a small simulation-based calibration) and by
anyone who wants to see what the model can and cannot learn from evidence like ours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from forecast.schemas import CATEGORIES, Catalogue


@dataclasses.dataclass(frozen=True)
class Truth:
    """The parameters a synthetic catalogue was simulated from (OOM)."""

    global_mean: float
    category_mean: np.ndarray
    ceg_oom: np.ndarray  # per enhancement
    enhancement_ids: tuple[str, ...]


def simulate_catalogue(
    rng: np.random.Generator,
    per_category: int = 3,
    figures_per_enhancement: int = 3,
    global_mean: float = 0.8,
    category_spread: float = 0.3,
    enhancement_spread: float = 0.3,
    noise: float = 0.25,
    noise_dof: float = 4.0,
    lower_bound_share: float = 0.4,
) -> tuple[Catalogue, Truth]:
    """A catalogue drawn from the model's own generative story (no scale or time effect).

    A share of the figures are reported as lower bounds, as in the seed: the reported
    number sits below the measured one by an exponential gap (mean 0.3 OOM).
    """
    category_mean = global_mean + category_spread * rng.standard_normal(len(CATEGORIES))
    enhancements, truth = [], []
    for k, category in enumerate(CATEGORIES):
        for j in range(per_category):
            theta = category_mean[k] + enhancement_spread * rng.standard_normal()
            figures = []
            for f in range(figures_per_enhancement):
                y = theta + noise * rng.standard_t(noise_dof)
                if rng.random() < lower_bound_share:
                    ceg = {"lower": float(10 ** (y - rng.exponential(0.3)))}
                else:
                    ceg = {"point": float(10**y)}
                figures.append(
                    {
                        "benchmark": f"synthetic benchmark {category} {j} {f}",
                        "domain": "synthetic",
                        "ceg": ceg,
                        "where": "simulated",
                    }
                )
            eid = f"{category}_{j}"
            enhancements.append(
                {
                    "id": eid,
                    "name": eid,
                    "category": category,
                    "published": dt.date(2021, 1 + (3 * j) % 12, 1),
                    "access": "prompt",
                    "source": "simulated",
                    "observations": figures,
                }
            )
            truth.append(theta)
    catalogue = Catalogue.model_validate({"schema_version": 1, "enhancements": enhancements})
    return catalogue, Truth(
        global_mean, category_mean, np.array(truth), tuple(e["id"] for e in enhancements)
    )
