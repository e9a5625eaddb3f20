"""An enhancement's posterior gain at a chosen base-model scale.

One pure function, so every place that shows "the gain at X FLOP" (``forecast evidence
show ID --at-flop``, notebooks) computes it the same way; a change of model changes it here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from forecast.evidence import REFERENCE_LOG10_FLOP


def gain_at_compute(
    draws: Mapping[str, np.ndarray], enhancement_index: int, log10_flop: float
) -> np.ndarray:
    """Posterior draws of an enhancement's CEG, in OOM, for a base model of
    ``10**log10_flop`` training FLOP.

    The published-scale gain :math:`\\theta_i` (``ceg_oom``, stated at
    :math:`10^{23}` FLOP) moves with the base model's compute through the scale slope
    :math:`\\beta` (method.md):

    .. math:: g_i(C) = \\theta_i + \\beta \\, (\\log_{10} C - 23)

    Parameters
    ----------
    draws
        Posterior draws with ``ceg_oom`` (draws, enhancements) and ``scale_slope`` (draws,).
    enhancement_index
        Column of the enhancement in ``ceg_oom`` (``Fit.enhancement_index(id)``).
    log10_flop
        :math:`\\log_{10}` of the base model's training compute, e.g. 26.5 for 3e26 FLOP.

    Returns
    -------
    numpy.ndarray
        One gain (OOM) per posterior draw.
    """
    theta = np.asarray(draws["ceg_oom"])[:, enhancement_index]
    slope = np.asarray(draws["scale_slope"])
    return theta + slope * (float(log10_flop) - REFERENCE_LOG10_FLOP)
