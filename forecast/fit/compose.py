"""Composability: the combined gain G(S) of a set of enhancements, in OOM.

Within a category the gains are sorted, largest first, and the k-th counts
``d_within**(k-1)``; the category totals are then sorted and the k-th counts
``d_between**(k-1)``. With both factors at 1 the OOMs add (the CEGs multiply); at 0 only
the single best gain counts. The result never falls when an enhancement is added (an
ordered weighted sum with non-increasing, non-negative weights is monotone), and with
factors below 1 it stays below ``max_gain / ((1 - d_within)(1 - d_between))``.

``saturate`` then bends the total toward a ceiling. The same code serves the PyMC model
(pytensor tensors, ``xp=pytensor.tensor``) and the forward simulation (numpy arrays).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

#: Sharpness of the soft ceiling: 4 keeps G within 1% of itself below 40% of the ceiling.
CEILING_SHARPNESS = 4.0


def rank_discounted_sum(values, discount, xp: ModuleType = np, presorted: bool = False):
    """Sum of ``values`` along the last axis, sorted descending, the k-th weighted d**(k-1).

    Parameters
    ----------
    values
        Non-negative gains, shape ``(..., K)``; absent entries are 0.
    discount
        Factor in [0, 1], broadcastable to ``values[..., 0]``.
    presorted
        The values are already sorted in descending order along the last axis (numpy only):
        skip the sort.
    """
    if xp is not np:
        return _rank_weighted_sum(values, discount)
    k = values.shape[-1]
    ranked = values if presorted else xp.sort(values, axis=-1)[..., ::-1]
    weights = (
        discount[..., None] ** xp.arange(k)
        if hasattr(discount, "ndim")
        else (discount ** xp.arange(k))
    )
    return (ranked * weights).sum(axis=-1)


def _rank_weighted_sum(values, discount):
    """:func:`rank_discounted_sum` for pytensor, without sorting.

    sum_k d**k * (k-th largest) = sum_i values_i * d**rank_i, where rank_i counts the
    entries above entry i (ties broken by position). Ranks are locally constant, so the
    gradient flows only through the values and the discount, exactly as through a sort,
    but every step is elementwise on small arrays: far cheaper to compile and to
    differentiate than a sort or a sorting network.
    """
    import pytensor.tensor as pt
    from pytensor.gradient import disconnected_grad

    k = values.type.shape[-1]
    if k is None:
        raise ValueError("the last axis must have a static length")
    a = values[..., :, None]  # entry i
    b = values[..., None, :]  # entry j
    earlier = np.tril(np.ones((k, k), dtype=bool), -1).T  # j < i
    above = pt.gt(b, a) | (pt.eq(b, a) & earlier)
    rank = disconnected_grad(pt.sum(pt.cast(above, "float64"), axis=-1))
    discount = pt.as_tensor_variable(discount)
    if discount.ndim:
        discount = discount[..., None]  # one factor per sum, broadcast over its entries
    return pt.sum(values * discount**rank, axis=-1)


def combine(gains_by_category, d_within, d_between, xp: ModuleType = np, presorted=False):
    """Uncapped combined gain G_raw in OOM.

    Parameters
    ----------
    gains_by_category
        Gains in OOM, shape ``(..., n_categories, K)``: the enhancements present, grouped by
        category, zero-padded. Negative gains are treated as 0 (an enhancement nobody would use).
    d_within, d_between
        Composability discount factors in [0, 1], broadcastable to the leading shape ``...``.
    presorted
        Each category's gains are already non-negative and sorted in descending order.
    """
    gains = gains_by_category if presorted else xp.maximum(gains_by_category, 0.0)
    d_within = _with_axis(d_within, xp)
    per_category = rank_discounted_sum(gains, d_within, xp, presorted=presorted)
    return rank_discounted_sum(per_category, d_between, xp)


def _with_axis(d, xp):
    # One extra axis so the within-category factor broadcasts over the category axis.
    if hasattr(d, "ndim") and d.ndim > 0:
        return d[..., None]
    return d


def saturate(raw, ceiling):
    """Soft minimum of ``raw`` and ``ceiling`` (both OOM): ~raw when small, -> ceiling.

    ``raw / (1 + (raw / ceiling)**p)**(1/p)`` with p = CEILING_SHARPNESS; monotone in raw,
    never above raw or ceiling. An infinite ceiling returns ``raw``; a zero ceiling, 0.
    """
    p = CEILING_SHARPNESS
    raw = np.asarray(raw, dtype=float)
    ceiling = np.asarray(ceiling, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(np.isinf(ceiling), 0.0, np.maximum(raw, 0.0) / ceiling)
        below = raw / (1.0 + ratio**p) ** (1.0 / p)
        above = ceiling / (1.0 + ratio ** (-p)) ** (1.0 / p)  # same value, no overflow
        out = np.where(ratio > 1.0, above, below)
    return np.where(np.isnan(out), 0.0, out)


def combined_gain(gains_by_category, d_within, d_between, ceiling=np.inf):
    """G(S) in OOM with the ceiling, numpy only (the forward simulation)."""
    raw = combine(
        np.asarray(gains_by_category, dtype=float), np.asarray(d_within), np.asarray(d_between)
    )
    return saturate(raw, np.asarray(ceiling, dtype=float))
