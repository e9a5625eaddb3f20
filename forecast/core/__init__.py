"""core: what every stage shares.

The errors and their exit codes (``errors``), text leaving the program escaped by one rule
per sink: terminal, Markdown, HTML, CSV, figures (``escape``), OOM and multipliers
(``units``), reading input files safely with YAML node positions (``reading``), validation
errors located at their line with "did you mean" (``validation``), atomic writes and staged
folders (``writing``), where output goes and one writer at a time (``destinations``), the
shipped data folders (``paths``), the distribution syntax (``distributions``) and every
input file format as pydantic models (``schemas/``, one module per format).

May import: nothing else from forecast.
"""
