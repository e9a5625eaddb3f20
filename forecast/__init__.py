"""forecast: Bayesian safety-buffer forecasts of post-training enhancement uplift.

The library API a notebook user calls (the CLI is a thin layer over it)::

    from forecast import api
    result = api.run_scenario("frontier-api")

Importing the package is cheap: PyMC and ArviZ load only when a fit is sampled.
"""

__version__ = "0.1.0"
