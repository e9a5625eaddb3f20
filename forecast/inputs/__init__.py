"""inputs: everything a run reads besides the evidence, and one pass that resolves it all.

The priors (``priors``), scenarios (``scenarios``), assumption profiles (``profiles``),
policy rules (``policies``), per-task eval results (``tasks``), and ``resolve``: the
scenario with the command's overrides, the priors in their order (defaults < profile <
scenario < ``--prior``), the catalogue cut at ``--as-of`` and every other input, read and
checked once into a frozen ``RunInputs``.

May import: core, evidence.
"""
