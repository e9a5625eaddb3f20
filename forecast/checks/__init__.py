"""checks: is the model calibrated, and did past forecasts hold?

Simulation-based calibration of the uplift model (``sbc``, on histories simulated by
``synthetic``) and of the catalogue model (``sbc_catalogue``, ``synthetic_catalogue``), judged
by a simultaneous ECDF band (``uniformity``); leave-one-out PIT of the catalogue's figures
(``ppc``); the uplift model's predictive of a history (``predictive``), scored
(``scoring``) in cross-validation over the histories (``crossval``) and time-cut backtests
(``timecut``); ``backtest`` gathers them and backtests one scenario from a date.

May import: core, evidence, inputs, fit, simulate, buffer, explain.
"""
