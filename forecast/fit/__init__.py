"""fit: the two models and their posteriors.

The CEG catalogue model in PyMC (``model``, ``likelihood``, ``model_data``, ``compose``;
``catalogue`` fits it and summarises the prior of ``catalogue_gain`` it implies) and the
uplift model of the measured histories (``uplift_model``, fitted by ``histories``); one
fit engine for both (``engine``: cache, shipped fits, PSIS reweighting in ``psis``, nutpie
sampling in ``sampler``, the cache in ``cache``), diagnostics (``diagnostics``, with every
ArviZ call in ``posterior``) and parameter draws from the priors alone (``prior_draws``).

May import: core, evidence, inputs.
"""
