"""New enhancements arriving after the evidence ends, by category, in arrival order.

Arrivals per category are a Cox process: rate ``arrival_rate / catalogue_coverage`` times a
Gamma(d, d) multiplier per half year (d = ``arrival_dispersion``), the continuous-time
counterpart of the negative binomial the fit uses. An arrival's access level is drawn from
a Dirichlet posterior of the catalogue's access shares in its category; its gain from its
category's mean, the trend and the scale shift. Random numbers are drawn in a fixed layout
(arrival j of every draw in row j of a stream keyed by seed, chunk and category), so a
longer horizon reuses the same arrivals. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from forecast.core.errors import InputError
from forecast.core.schemas.common import ACCESS_LEVELS, CATEGORIES
from forecast.simulate.setup import MAX_LEAD_MONTHS, ForecastSetup, trend_years

#: Arrival-rate multipliers are redrawn every this many years (as the fit's count bins).
BLOCK_YEARS = 0.5
#: Most arrivals of one category one draw simulates over the window (the gap and the
#: horizon); later ones are dropped. The defaults give about 10-30 on average and more than
#: 256 in under 0.1% of draws (whose 256 best arrivals, rank-discounted, already set G).
MAX_ARRIVALS = 256
#: Largest share of draws allowed to reach :data:`MAX_ARRIVALS` in a category (the defaults
#: reach it in about 1% of draws at a 10-year horizon, where a cap of 2048 gives the same
#: buffer to 3 decimals). A
#: `catalogue_coverage` prior with mass near 0 multiplies arrivals without bound; rather than
#: truncate many draws silently, the run is refused (docs/reliability.md).
MAX_TRUNCATED_SHARE = 0.05


def _unit_arrival_times(stream, expected, block=16, most=MAX_ARRIVALS):
    """Unit-rate arrival times, (M, n), until every draw has passed ``expected[n]``.

    Unit-rate exponential gaps drawn in blocks of rows from one stream, so row j is the
    same however many rows are needed (a longer horizon reuses the first arrivals). At most
    ``most`` rows: later arrivals are dropped.
    """
    n = len(expected)
    rows, total = [], np.zeros(n)
    while True:
        cumulative = total + np.cumsum(stream.exponential(size=(block, n)), axis=0)
        rows.append(cumulative)
        total = cumulative[-1]
        if (total > expected).all() or len(rows) * block >= most:
            break
    return np.concatenate(rows, axis=0)


def simulate_arrivals(p, fp, shift, coverage, setup: ForecastSetup, seed, chunk):
    """Arrivals from the end of the evidence to the horizon, by category, in arrival order.

    Returns ``(gain, month, usable, absorbed)``, each (n, C, W): the gain (0 where the slot is
    empty or the enhancement is not relevant), the month relative to the reference date
    (negative: in the gap; ``inf`` where empty), whether the actor's access allows it, and
    (for gap arrivals) whether the base model absorbed it by the reference date.

    Intensity: rate_k / coverage times a Gamma(d, d) multiplier per half-year block from the
    end of the evidence. Unit-rate arrival times are mapped through the inverse of the
    cumulative intensity, so the j-th arrival uses row j of every stream whatever the horizon.
    """
    n = len(shift)
    start = setup.census_end
    end = setup.start_year + (setup.times_months[-1] + MAX_LEAD_MONTHS) / 12.0
    span = max(end - start, 1e-9)
    n_blocks = int(np.ceil(span / BLOCK_YEARS)) + 1
    rate = p["arrival_rate"] / coverage[:, None]  # (n, C) per year
    dispersion = p["arrival_dispersion"]
    results = []
    for k in range(len(CATEGORIES)):
        streams = [np.random.default_rng([seed, chunk, 300 + k, q]) for q in range(6)]
        # Drawn first, in a fixed amount: the same whatever the horizon.
        shares = _access_shares(
            setup.access_counts[k], np.random.default_rng([seed, chunk, 600 + k]), n
        )
        # Row b of the multipliers is the same however many blocks a horizon needs.
        multipliers = streams[4].gamma(dispersion, 1.0 / dispersion, size=(n_blocks, n)).T
        block_mass = rate[:, k : k + 1] * multipliers * BLOCK_YEARS  # (n, B)
        edges = np.concatenate([np.zeros((n, 1)), np.cumsum(block_mass, axis=1)], axis=1)
        full = int(np.floor(span / BLOCK_YEARS))
        expected = edges[:, full] + (span / BLOCK_YEARS - full) * block_mass[:, full]
        truncated = float(np.mean(expected > MAX_ARRIVALS))
        if truncated > MAX_TRUNCATED_SHARE:
            raise InputError(
                f"the arrival rate divided by catalogue_coverage implies more than "
                f"{MAX_ARRIVALS} {CATEGORIES[k]} enhancements over the {span:.1f} years "
                f"simulated in {truncated:.0%} of draws (at most "
                f"{MAX_TRUNCATED_SHARE:.0%} may reach the limit): a catalogue_coverage prior "
                "with mass near 0 (or an extreme arrival-rate prior) makes the simulation "
                "unbounded",
                None,  # the prior's origin (a profile, a scenario, --prior) is named above
                "priors.catalogue_coverage",
            )
        unit = _unit_arrival_times(streams[0], expected)  # (M, n)
        inside = unit <= expected[None, :]
        rows = np.flatnonzero(inside.any(axis=1))
        m = rows[-1] + 1 if len(rows) else 1
        unit = unit[:m]
        z = streams[1].standard_normal((m, n))
        u_access = streams[2].random((m, n))
        u_relevant = streams[3].random((m, n))
        u_absorb = streams[5].random((m, n))
        i, j = np.nonzero(inside[:m].T)  # by draw, then in arrival order
        # Invert each draw's piecewise-linear cumulative intensity at unit[j, i]: one
        # searchsorted over all draws, rows kept apart by an offset larger than any value.
        offset = (np.arange(n) * (edges[:, -1].max() + 1.0))[:, None]
        flat = (edges + offset).ravel()
        position = np.searchsorted(flat, unit[j, i] + offset[i, 0], side="right") - 1
        block = np.clip(position - i * (n_blocks + 1), 0, n_blocks - 1)
        within = (unit[j, i] - edges[i, block]) / np.maximum(block_mass[i, block], 1e-300)
        year = start + (block + np.clip(within, 0.0, 1.0)) * BLOCK_YEARS
        month = (year - setup.start_year) * 12.0
        level = np.minimum(
            (u_access[j, i][:, None] > np.cumsum(shares[i], axis=1)).sum(axis=1),
            len(ACCESS_LEVELS) - 1,
        )
        usable = setup.usable_access[level]
        relevant = u_relevant[j, i] < p["relevance"][i]
        trend = p["ceg_trend"][i] * trend_years(year, setup, fp["trend_fade_years"][i])
        gain = p["category_mean"][i, k] + trend + shift[i] + p["enhancement_spread"][i] * z[j, i]
        gain = np.where(relevant, np.maximum(gain, 0.0), 0.0)
        age = np.maximum(-month, 0.0) / 12.0
        absorbed = (setup.absorbed_categories[k] | setup.elicited_categories[k]) | (
            u_absorb[j, i] < -np.expm1(-age / fp["absorption_years"][i])
        )
        slot = np.arange(len(i)) - np.searchsorted(i, i)  # order among the draw's arrivals
        results.append((i, slot, gain, month, usable, absorbed))
    width = max(1, *(int(r[1].max(initial=-1)) + 1 for r in results))
    shape = (n, len(CATEGORIES), width)
    gains, out_month = np.zeros(shape), np.full(shape, np.inf)
    usable_out, absorbed_out = np.zeros(shape, bool), np.zeros(shape, bool)
    for k, (i, slot, g, mo, us, ab) in enumerate(results):
        gains[i, k, slot] = g
        out_month[i, k, slot] = mo
        usable_out[i, k, slot] = us
        absorbed_out[i, k, slot] = ab
    return gains, out_month, usable_out, absorbed_out


def _access_shares(counts: np.ndarray, stream, n: int) -> np.ndarray:
    """Per-draw access-level shares of a category: Dirichlet(1 + catalogue counts)."""
    return stream.dirichlet(1.0 + counts, size=n)
