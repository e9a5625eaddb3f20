"""simulate: the uplift U(t) from posterior draws, in numpy.

A scenario reduced to what the simulation reads, actors and their access (``setup``), and
U(t) from the fitted uplift model's process, with its per-draw drivers (``uplift``).

May import: core, evidence, inputs, fit.
"""
