"""fit: the CEG model and its posterior.

The model in PyMC (``model``, ``likelihood``, ``model_data``; composability shared with the
simulation in ``compose``), nutpie sampling (``sampler``), the cached fit and its PSIS
reweighting (``fitting``, ``cache``, ``psis``), diagnostics (``diagnostics``, with every
ArviZ call in ``posterior``) and parameter draws from the priors alone (``prior_draws``).

May import: core, evidence, inputs.
"""
