"""explain: why the buffer is what it is, computed from a forecast.

The split of the uplift into what the evidence implies, attention and chance
(``decompose``), the explanation record (``explanation``), the buffer from the priors alone
and the prior predictive check (``prior_check``), prior sensitivity (``sensitivity``), one
assumption changed (``whatif``), evidence and posterior summaries (``summaries``), the
buffer under each profile (``profiles``) and everything a reviewer needs computed once
(``review``). Each takes a ``ForecastResult`` and returns plain documents; the report
renders them.

May import: core, evidence, inputs, fit, simulate, buffer.
"""
