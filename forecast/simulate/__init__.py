"""simulate: the uplift U(t) from posterior draws, in numpy.

A scenario reduced to arrays, actors and their access (``setup``), new enhancements
arriving (``arrivals``), and U(t) with its per-draw drivers (``uplift``).

May import: core, evidence, inputs, fit.
"""
