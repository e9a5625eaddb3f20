"""buffer: from uplift draws to a recommendation, and the forecast of a run.

Buffer quantiles and re-evaluation intervals (``intervals``), per-task rates on the logit
scale (``rates``), P(cross), triggers and status of each eval (``evals``), the policy
comparison (``policies``), and ``forecasting``: ``forecast(inputs)`` fits (or reuses the
fit), simulates and evaluates, returning a ``ForecastResult``.

May import: core, evidence, inputs, fit, simulate.
"""
