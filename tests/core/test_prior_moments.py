"""Prior moments and intervals in closed form: the same floats as scipy.stats, without it.

A warm run reads a prior's variance (the contraction in the explanation) and ``priors show``
its mean and 90% interval; importing scipy.stats for them cost most of a second.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from forecast.core.distributions import Prior

RNG = np.random.default_rng(20261206)
FAMILIES = {
    "Normal": lambda: (RNG.normal(0, 5), RNG.lognormal(0, 1.5)),
    "HalfNormal": lambda: (RNG.lognormal(0, 1.5),),
    "LogNormal": lambda: (RNG.normal(0, 2), RNG.lognormal(-1, 0.8)),
    "Gamma": lambda: (RNG.lognormal(0, 1.5), RNG.lognormal(0, 1.5)),
    "Exponential": lambda: (RNG.lognormal(0, 1.5),),
    "Beta": lambda: (RNG.lognormal(0, 1.5), RNG.lognormal(0, 1.5)),
    "Uniform": lambda: (lambda lo: (lo, lo + RNG.lognormal(0, 2)))(RNG.normal(0, 5)),
}
SHIPPED = ["Normal(1, 0.5)", "HalfNormal(0.4)", "LogNormal(-0.7, 1)", "Beta(2, 8)", "Gamma(2, 1)"]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_moments_and_intervals_are_scipy_stats_bit_for_bit(family):
    for _ in range(60):
        prior = Prior(family, tuple(float(x) for x in FAMILIES[family]()))
        frozen = prior.scipy()
        assert prior.mean() == float(frozen.mean()), prior
        assert prior.variance() == float(frozen.var()), prior
        for mass in (0.5, 0.9, 0.99):
            lo, hi = frozen.interval(mass)
            assert prior.interval(mass) == (float(lo), float(hi)), (prior, mass)


def test_a_fixed_number_has_no_spread():
    prior = Prior("Constant", (3.0,))
    assert (prior.mean(), prior.variance(), prior.interval(0.9)) == (3.0, 0.0, (3.0, 3.0))


def test_moments_intervals_and_contraction_do_not_import_scipy_stats():
    code = f"""
import sys
import numpy as np
from forecast.core.distributions import parse_distribution
from forecast.explain.summaries import _contraction
for text in {SHIPPED!r}:
    prior = parse_distribution(text)
    prior.mean(), prior.variance(), prior.interval(0.9)
    _contraction(prior, np.abs(np.random.default_rng(1).normal(0.5, 0.1, (100, 2))))
assert "scipy.stats" not in sys.modules, "scipy.stats was imported"
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
