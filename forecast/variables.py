"""The posterior variables the forecast reads, and the shape of one draw of each.

Kept apart from :mod:`forecast.model` (which imports PyMC) so that reading and checking a
cached fit imports nothing heavy; ``tests/test_model.py`` checks the model stores exactly
these.
"""

from __future__ import annotations

from forecast.schemas import CATEGORIES
from forecast.table import EvidenceTable

#: Scalars: one number per draw.
SCALARS = (
    "ceg_global_mean",
    "category_spread",
    "enhancement_spread",
    "scale_slope",
    "scale_slope_between",
    "ceg_trend",
    "selection_bias",
    "composability_within",
    "composability_between",
    "relevance",
    "arrival_dispersion",
    "benchmark_spread",
    "observation_noise",
)
#: Every variable of ``Fit.draws`` (``missing_compute`` only when a figure lacks compute).
POSTERIOR_VARIABLES = (
    *SCALARS,
    "category_mean",
    "arrival_rate",
    "ceg_oom",
    "enhancement_compute",
    "figure_mean",
    "figure_sd",
)


def expected_shapes(table: EvidenceTable) -> dict[str, tuple[int, ...]]:
    """Name -> shape of one draw, for the fit of ``table``."""
    n_cat, n_enh, n_rows = len(CATEGORIES), table.n_enhancements, table.n_rows
    shapes = dict.fromkeys(SCALARS, ()) | {
        "category_mean": (n_cat,),
        "arrival_rate": (n_cat,),
        "ceg_oom": (n_enh,),
        "enhancement_compute": (n_enh,),
        "figure_mean": (n_rows,),
        "figure_sd": (n_rows,),
    }
    missing = int((~table.known_compute).sum())
    if missing:
        shapes["missing_compute"] = (missing,)
    return shapes
