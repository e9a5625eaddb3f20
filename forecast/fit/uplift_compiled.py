"""The uplift model as nutpie samples it: the numba kernels of
:mod:`forecast.fit.uplift_density` behind nutpie's C callbacks (stage 2).

:func:`compile_uplift` packs a history table and the priors into the kernels' buffer and
returns a compiled model nutpie can sample, without PyMC: nothing is compiled per table,
prior or process (numba loads the kernels from its disk cache). ``with_data`` takes the same
container names as the PyMC model's (``inc_weight``, ``inc_y``, ``prior:NAME:PARAM``, ...),
so cross-validation folds and simulation-based calibration swap data exactly as before.

Initial points: PyMC's, as nutpie's PyMC path makes them: each free prior at its support
point (the mean; the scale for HalfNormal, the location for Normal) in the unconstrained
space, every ``z`` at 0, plus a uniform jitter in (-1, 1) per coordinate and chain
(``tests/fit/test_uplift_density.py`` holds the support points to PyMC's). A short fit is
sensitive to where it starts: starting HalfNormal priors at their mean instead made the
small SBC of tests/checks/test_sbc.py reject uniform ranks for ``rate_decay_months``.

Imports nutpie and numba (only a fit imports this module).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from nutpie.compile_pymc import CompiledPyMCModel

from forecast.core.distributions import DISTRIBUTIONS, Prior
from forecast.evidence.histories import HistoryTable
from forecast.fit import uplift_density as kernel
from forecast.fit.uplift_model import UPLIFT_PRIORS, data_values, prior_values
from forecast.inputs.priors import PriorSet

#: Integer arrays of the table (not containers of the PyMC model, whose graph holds them).
INDEX_ARRAYS = ("inc_suite", "inc_series", "scale_suite")


def table_values(table: HistoryTable) -> dict[str, np.ndarray]:
    """The table's data containers and index arrays, by name."""
    return data_values(table) | {
        name: np.asarray(getattr(table, name), float) for name in INDEX_ARRAYS
    }


def pack(values: dict[str, np.ndarray], families: tuple[str, ...], n_suite: int,
         n_series: int) -> tuple[np.ndarray, list[str]]:  # fmt: skip
    """The kernels' buffer (module docstring of :mod:`forecast.fit.uplift_density`) and the
    names of the free priors in the parameter vector's order."""
    n_inc = len(values["inc_y"])
    n_scale = len(values["scale_y"])
    free = [name for name, dist in zip(UPLIFT_PRIORS, families, strict=True) if dist != "Constant"]
    priors = np.zeros((len(UPLIFT_PRIORS), kernel.PRIOR_FIELDS))
    for i, (name, dist) in enumerate(zip(UPLIFT_PRIORS, families, strict=True)):
        params = [float(values[f"prior:{name}:{key}"]) for key in DISTRIBUTIONS[dist][0]]
        params += [0.0] * (2 - len(params))
        slot = free.index(name) if name in free else -1
        priors[i] = (kernel.FAMILIES.index(dist), params[0], params[1], slot)
    parts = [np.asarray(values[name], float).ravel() for name in kernel.INC_ARRAYS]
    parts += [np.asarray(values[name], float).ravel() for name in kernel.SCALE_ARRAYS]
    for name, part in zip(kernel.INC_ARRAYS + kernel.SCALE_ARRAYS, parts, strict=True):
        expected = n_inc if name.startswith("inc_") else n_scale
        if len(part) != expected:
            raise ValueError(f"{name} has {len(part)} values, expected {expected}")
    body = np.concatenate([priors.ravel(), *parts])
    header = np.array([kernel.HEADER + len(body), n_inc, n_scale, n_suite, n_series, len(free)])
    return np.ascontiguousarray(np.concatenate([header, body]), dtype=np.float64), free


def _support_point(prior: Prior) -> float:
    """PyMC's support point of the prior (its default initial value: the mean, but the
    scale for HalfNormal and the location for Normal), in the sampler's space."""
    p = prior.kwargs
    match prior.dist:
        case "Normal":
            return p["mu"]
        case "HalfNormal":
            return math.log(p["sigma"])
        case "Beta":
            mean = prior.mean()
            return math.log(mean / (1.0 - mean))
        case "Uniform":
            return 0.0
    return math.log(prior.mean())


@dataclasses.dataclass(frozen=True)
class CompiledUplift(CompiledPyMCModel):
    """nutpie's compiled PyMC model, with the uplift kernels as its callbacks.

    ``shared_data`` holds the containers by name (the table's arrays and the priors'
    parameters); ``user_data`` is their packed buffer, the pointer the callbacks receive.
    """

    families: tuple[str, ...] = ()
    n_suite: int = 0
    n_series: int = 0
    free_names: tuple[str, ...] = ()
    #: nutpie's diagonal-plus-low-rank mass matrix: with the diagonal one about half the
    #: fits at the production settings had a divergent transition on the steep wall of the
    #: record likelihood, and took 1.6x the leapfrog steps (docs/performance.md).
    low_rank_mass_matrix: bool = True
    #: The unconstrained point the chains' initial points jitter (module docstring).
    start: np.ndarray | None = None

    def with_data(self, **updates):
        values = dict(self.shared_data)
        for name, value in updates.items():
            if name not in values:
                raise KeyError(f"Unknown data container: {name}")
            values[name] = np.asarray(value, dtype=float)
        buffer, _ = pack(values, self.families, self.n_suite, self.n_series)
        if len(buffer) != len(self.user_data):
            raise ValueError("new data must keep the sizes of the table")
        return dataclasses.replace(
            self,
            shared_data=values,
            user_data=buffer,
            initial_point_func=initial_points(self.start, buffer),
        )


def initial_points(start: np.ndarray, buffer: np.ndarray):
    """nutpie's initial point function: ``start`` jittered by a uniform in (-1, 1) per
    coordinate; a jitter where the density or its gradient is not finite under ``buffer``'s
    data (a fold can make a corner of the prior impossible) is drawn again."""

    def initial_point(seed) -> np.ndarray:
        rng = np.random.default_rng(seed)
        grad = np.zeros(len(start))
        for _ in range(100):
            x = start + rng.uniform(-1.0, 1.0, len(start))
            value = kernel.logp_grad(x, buffer, grad)
            if math.isfinite(value) and np.isfinite(grad).all():
                return x
        return start.copy()

    return initial_point


def compile_uplift(table: HistoryTable, priors: PriorSet) -> CompiledUplift:
    """The uplift model of ``table`` under ``priors``, ready for :func:`nutpie.sample`."""
    import pandas as pd

    families = tuple(priors.prior(name).dist for name in UPLIFT_PRIORS)
    values = table_values(table) | prior_values(priors)
    n_suite, n_series = len(table.suites), len(table.series)
    buffer, free = pack(values, families, n_suite, n_series)
    n_dim = len(free) + n_suite + n_series
    start = np.array(
        [_support_point(priors.prior(name)) for name in free] + [0.0] * (n_suite + n_series)
    )

    names = [*UPLIFT_PRIORS, "increment_mean", "z_suite", "z_series"]
    shapes = [()] * (len(UPLIFT_PRIORS) + 1) + [(n_suite,), (n_series,)]
    sizes = [max(1, math.prod(s)) for s in shapes]
    ends = np.cumsum(sizes)
    slices = [slice(int(e - n), int(e)) for e, n in zip(ends, sizes, strict=True)]
    coords = {
        "suite": pd.Index(list(table.suites)),
        "series": pd.Index(list(table.series)),
        "unconstrained_parameter": pd.Index(
            [
                *free,
                *(f"z_suite_{i}" for i in range(n_suite)),
                *(f"z_series_{i}" for i in range(n_series)),
            ]  # fmt: skip
        ),
    }
    return CompiledUplift(
        dims={"z_suite": ("suite",), "z_series": ("series",)},
        compiled_logp_func=kernel.logp_callback,
        compiled_expand_func=kernel.expand_callback,
        initial_point_func=initial_points(start, buffer),
        shared_data=values,
        user_data=buffer,
        n_expanded=int(ends[-1]),
        shape_info=(names, slices, shapes),
        logp_func=None,
        expand_func=None,
        _n_dim=n_dim,
        _shapes=dict(zip(names, shapes, strict=True)),
        _coords=coords,
        families=families,
        n_suite=n_suite,
        n_series=n_series,
        free_names=(*free, "z_suite", "z_series"),
        start=start,
    )


def log_density(compiled: CompiledUplift, x: np.ndarray) -> tuple[float, np.ndarray]:
    """The log density and its gradient at the unconstrained point ``x`` (for checks)."""
    grad = np.zeros(compiled.n_dim)
    value = kernel.logp_grad(np.ascontiguousarray(x, dtype=float), compiled.user_data, grad)
    return float(value), grad
