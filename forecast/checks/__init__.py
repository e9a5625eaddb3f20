"""checks: is the model calibrated, and did past forecasts hold?

Simulation-based calibration (``sbc``) judged by a simultaneous ECDF band (``uniformity``),
figures simulated from the generative model (``synthetic``), leave-one-out PIT of the
catalogue's figures (``ppc``) and backtests against later measurements (``backtest``).

May import: core, evidence, inputs, fit, simulate, buffer, explain.
"""
