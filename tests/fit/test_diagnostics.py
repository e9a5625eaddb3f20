"""forecast.fit.diagnostics: convergence thresholds and their round trip through meta.json."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from forecast.fit.diagnostics import DIVERGENCES_MAX, ESS_BULK_MIN, R_HAT_MAX, Diagnostics

GOOD = Diagnostics(
    r_hat_max=1.004,
    ess_bulk_min=950.0,
    ess_tail_min=800.0,
    divergences=0,
    chains=4,
    draws=1000,
    worst_r_hat="ceg_oom[3]",
    worst_ess="category_spread",
)


def test_thresholds():
    assert (R_HAT_MAX, ESS_BULK_MIN, DIVERGENCES_MAX) == (1.01, 400, 0)


def test_good_fit_is_ok():
    assert GOOD.ok
    assert GOOD.problems == []


def test_at_the_thresholds_is_ok():
    edge = dataclasses.replace(GOOD, r_hat_max=R_HAT_MAX, ess_bulk_min=ESS_BULK_MIN)
    assert edge.ok


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"r_hat_max": 1.02}, "R-hat 1.020 > 1.01 (ceg_oom[3])"),
        ({"r_hat_max": math.nan}, "R-hat nan"),
        ({"r_hat_max": math.inf}, "R-hat inf"),
        ({"ess_bulk_min": 100.0}, "bulk ESS 100 < 400 (category_spread)"),
        ({"ess_bulk_min": math.nan}, "bulk ESS nan"),
        ({"divergences": 1}, "1 divergent transitions"),
    ],
)
def test_single_problem(change, needle):
    d = dataclasses.replace(GOOD, **change)
    assert not d.ok
    assert len(d.problems) == 1
    assert needle in d.problems[0]


def test_all_problems_listed():
    d = dataclasses.replace(GOOD, r_hat_max=1.5, ess_bulk_min=10.0, divergences=7)
    assert not d.ok
    assert len(d.problems) == 3
    assert "7 divergent transitions" in d.problems[2]


def test_tail_ess_is_reported_not_checked():
    assert dataclasses.replace(GOOD, ess_tail_min=5.0).ok


def test_to_dict_from_dict_round_trip():
    for d in (GOOD, dataclasses.replace(GOOD, r_hat_max=1.02, divergences=3, worst_ess=None)):
        as_dict = d.to_dict()
        assert as_dict["ok"] is d.ok
        assert as_dict["problems"] == d.problems
        assert Diagnostics.from_dict(as_dict) == d
        # and through JSON, as stored in meta.json
        assert Diagnostics.from_dict(json.loads(json.dumps(as_dict))) == d


def test_from_dict_ignores_unknown_keys():
    as_dict = GOOD.to_dict() | {"something_new": 1}
    assert Diagnostics.from_dict(as_dict) == GOOD


def test_from_dict_with_nan_keeps_failing():
    bad = dataclasses.replace(GOOD, r_hat_max=math.nan)
    back = Diagnostics.from_dict(json.loads(json.dumps(bad.to_dict())))
    assert math.isnan(back.r_hat_max)
    assert not back.ok


def test_one_chain_has_no_r_hat_and_its_json_is_null():
    """R-hat is undefined for one chain: the fit is flagged in words and the JSON carries
    null, never NaN (which the output check refuses)."""
    import json
    import math

    d = Diagnostics(math.nan, 2.0, 12.0, 0, 1, 50, None, "category_spread")
    assert not d.ok and "at least 2 chains" in d.problems[0]
    doc = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert doc["r_hat_max"] is None
    back = Diagnostics.from_dict(doc)
    assert math.isnan(back.r_hat_max) and back.chains == 1
