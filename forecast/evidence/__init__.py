"""evidence: the catalogue of compute-equivalent gains and the measurements, as data.

Loading and merging catalogues (the shipped ones and a user's) and cutting them at a date
(``catalogue``), the model's arrays (``table``), measured scores before and after later
elicitation (``measurements``), an enhancement's gain at a chosen scale (``gains``), and
CEG estimates from benchmark results (``ceg_results``, ``ceg_estimate``, ``ceg_record``).

May import: core.
"""
