"""An enhancement's posterior gain at a chosen base-model scale.

One pure function, so every place that shows "the gain at X FLOP" (``forecast evidence
show ID --at-flop``, notebooks) computes it the same way as the forecast does (its default
``clamp`` scale mode, docs/method.md section 6.1).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from forecast.evidence.table import REFERENCE_LOG10_FLOP


def gain_at_compute(
    draws: Mapping[str, np.ndarray],
    enhancement_index: int,
    log10_flop: float,
    compute_range: tuple[float, float],
) -> np.ndarray:
    """Posterior draws of an enhancement's realised gain, in OOM, on a base model of
    ``10**log10_flop`` training FLOP.

    The gain at the enhancement's own typical scale, :math:`\\theta_i` (``ceg_oom``), moves
    with the within-enhancement slope :math:`\\beta_w` (``scale_slope``) from its typical
    compute :math:`\\bar c_i` (``enhancement_compute``) to the base model's, but only as far
    as the evidence reaches (``compute_range``, in log10 FLOP - 23):

    .. math::

        g_i(C) = \\theta_i + \\beta_w\\,(\\operatorname{clip}(c, c_{\\min}, c_{\\max})
        - \\bar c_i)

    Beyond the range the forecast adds spread that grows with the distance
    (``scale_extrapolation_sd``); this central value does not.

    Parameters
    ----------
    draws
        Posterior draws with ``ceg_oom`` and ``enhancement_compute`` (draws, enhancements)
        and ``scale_slope`` (draws,).
    enhancement_index
        Column of the enhancement (``Fit.enhancement_index(id)``).
    log10_flop
        :math:`\\log_{10}` of the base model's training compute, e.g. 26.5 for 3e26 FLOP.
    compute_range
        The smallest and largest known base compute of the evidence
        (``EvidenceTable.compute_range``).

    Returns
    -------
    numpy.ndarray
        One gain (OOM) per posterior draw.
    """
    theta = np.asarray(draws["ceg_oom"])[:, enhancement_index]
    own = np.asarray(draws["enhancement_compute"])[:, enhancement_index]
    slope = np.asarray(draws["scale_slope"])
    target = float(np.clip(float(log10_flop) - REFERENCE_LOG10_FLOP, *compute_range))
    return theta + slope * (target - own)
