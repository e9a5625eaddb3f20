"""report: documents rendered from what the stages computed; nothing here computes them.

The ``run --json`` document (``document``), text helpers and tables (``text``), the
Markdown report (``markdown``, ``review_sections``), ``report.html`` (``html``), figures
(``plots``, ``calibration_plots``), calibration documents and their summaries
(``calibration``), JSON and CSV output (``results``) and the export bundle (``export``).

May import: core, evidence, inputs, fit, simulate, buffer, explain, checks.
"""
