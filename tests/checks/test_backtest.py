"""forecast.checks.backtest: the scores, the scenario built from a measurement pair, and the
backtest of every pair (a small real fit of a tiny catalogue)."""

from __future__ import annotations

import datetime as dt
import json
import math
import textwrap

import numpy as np
import pytest
from conftest import MINIMAL_CATALOGUE, USER_MEASUREMENTS, words

from forecast.checks import backtest as bt
from forecast.evidence.measurements import backtest_pairs, load_measurements

#: The user's pair of test_measurements, with the base model's compute a forecast needs.
WITH_COMPUTE = USER_MEASUREMENTS.replace(
    "base_model: lab-base-1\n",
    "base_model: lab-base-1\n"
    "    base_compute_flop: 1.0e+24\n"
    '    base_compute_basis: "our training log"\n',
)
SMALL = ["--fit-draws", "100", "--fit-tune", "100", "--chains", "2", "--quiet"]


def test_crps_of_a_point_mass_is_the_distance_and_of_a_normal_its_formula():
    assert bt.crps(np.full(10, 0.3), 0.5) == pytest.approx(0.2)
    x = np.random.default_rng(0).standard_normal(200_000)
    # CRPS of N(0, 1) at 0 is (sqrt(2) - 1) / sqrt(pi)
    assert bt.crps(x, 0.0) == pytest.approx((math.sqrt(2) - 1) / math.sqrt(math.pi), abs=3e-3)
    assert bt.crps(x, 2.0) > bt.crps(x, 0.0)


def test_mid_pit_counts_half_the_ties():
    assert bt.mid_pit(np.array([0.1, 0.2, 0.2, 0.5]), 0.2) == pytest.approx(0.25 + 0.25)
    assert bt.mid_pit(np.array([0.1, 0.2]), 1.0) == 1.0


def test_score_draws_no_uplift_keeps_the_score_and_uplift_raises_it():
    rng = np.random.default_rng(1)
    same = bt.score_draws(0.3, None, np.zeros(100), np.ones(100), rng)
    assert np.allclose(same, 0.3)
    up = bt.score_draws(0.3, 195, np.full(4000, 1.0), np.full(4000, 0.8), rng)
    flat = bt.score_draws(0.3, 195, np.zeros(4000), np.full(4000, 0.8), rng)
    assert np.median(up) > np.median(flat) + 0.1
    assert abs(np.median(flat) - 0.3) < 0.02
    # measured scores are counts out of the suite's tasks
    assert np.allclose(up * 195, np.round(up * 195))


def test_compare_and_totals():
    draws = np.linspace(0, 1, 1001)
    row = bt.compare(draws, np.full(1001, 0.3), 0.8)
    assert row["inside_50"] is False and row["inside_90"] is True
    assert row["forecast_q25"] == pytest.approx(0.25) and row["pit"] == pytest.approx(0.8, 1e-2)
    assert row["crps_no_change"] == pytest.approx(0.5)
    assert row["verdict"] == "inside the 90% interval"
    t = bt.totals([row, bt.compare(draws, draws, 0.5), {"verdict": "not a test"}])
    assert (t["n"], t["inside_50"], t["inside_90"]) == (2, 1, 2)
    assert t["expected_90"] == pytest.approx(1.8)
    assert bt.totals([{"verdict": "x"}]) == {"n": 0}


def test_the_scenario_of_a_shipped_pair():
    pair = next(
        p for p in backtest_pairs(load_measurements()) if p.id == "metr_agent_improvements_gpt4"
    )
    sc = bt.pair_scenario(pair, ["openai_gpt4_post_training", "toolformer"])
    assert sc.base_model.reference_date == pair.as_of == dt.date(2023, 6, 13)
    assert sc.base_model.training_compute_flop == 2e25
    assert sc.actor == "finetune_api"
    assert sc.horizon_months == math.ceil(pair.months) == 8
    assert set(sc.already_elicited.categories) == {"data", "prompting"}
    assert sc.already_elicited.enhancements == ["openai_gpt4_post_training"]
    (spec,) = sc.evals
    assert (spec.score, spec.n_tasks) == (0.30, 195)
    # an enhancement the cut catalogue does not hold yet is left out
    assert bt.pair_scenario(pair, ["toolformer"]).already_elicited.enhancements == []


def test_a_pair_without_base_compute_gets_the_fallback_compute():
    import dataclasses

    pair = backtest_pairs(load_measurements())[0]
    assert bt.pair_problem(pair) is None
    unknown = dataclasses.replace(pair, base_compute_flop=None)
    assert bt.pair_problem(unknown) is None
    sc = bt.pair_scenario(unknown, [], fallback_compute_flop=3e22)
    assert sc.base_model.training_compute_flop == 3e22
    assert "0 and 1" in bt.pair_problem(
        dataclasses.replace(
            pair,
            before=pair.after.model_copy(
                update={"score": pair.after.score.model_copy(update={"point": 1.0})}
            ),
        )
    )


def test_every_pair_is_backtested_and_a_users_pair_is_picked_up(run_cli, write_yaml):
    """The tiny catalogue's one enhancement (2023-01-01) is in every cut, so the three pairs
    (two shipped, the user's) share one small fit."""
    assert WITH_COMPUTE.count("base_compute_flop") == 2
    mine = write_yaml(WITH_COMPUTE, "mine.yaml")
    evidence = write_yaml(MINIMAL_CATALOGUE, "tiny.yaml")
    args = ["backtest", "--measurements", mine, "--evidence", evidence, "--no-shipped-evidence"]
    code, out, err = run_cli([*args, *SMALL, "--json"])
    assert code == 0, err
    doc = json.loads(out)
    expected = {p.id for p in backtest_pairs(load_measurements(mine))}
    assert {r["pair"] for r in doc["pairs"]} | {s["pair"] for s in doc["skipped"]} == expected
    assert "lab_agent_gain" in {r["pair"] for r in doc["pairs"]}
    for r in doc["pairs"]:
        assert r["forecast_q05"] <= r["forecast_q25"] <= r["forecast_q50"]
        assert r["forecast_q50"] <= r["forecast_q75"] <= r["forecast_q95"]
        assert r["crps"] >= 0 and 0 <= r["pit"] <= 1
        assert r["catalogue_enhancements"] == 1
    lab = next(r for r in doc["pairs"] if r["pair"] == "lab_agent_gain")
    assert (lab["before"], lab["measured"], lab["actor"]) == (0.30, 0.45, "public_api")
    assert lab["months_after"] == pytest.approx(7.5, abs=0.05)
    t = doc["totals"]
    assert t["n"] == len(doc["pairs"])
    assert t["inside_90"] == sum(r["inside_90"] for r in doc["pairs"])
    code, out, err = run_cli([*args, *SMALL])
    assert code == 0, err
    assert "lab_agent_gain" in out and "coverage:" in words(out)
    assert lab["scale"] == "clamp" and lab["base_compute_flop"] == 1e24
    # without the base model's compute the user's pair is forecast with scale off
    args[2] = write_yaml(USER_MEASUREMENTS, "no-compute.yaml")
    code, out, err = run_cli([*args, *SMALL, "--json"])
    assert code == 0, err
    lab = next(r for r in json.loads(out)["pairs"] if r["pair"] == "lab_agent_gain")
    assert lab["scale"] == "off" and lab["base_compute_flop"] is None


def test_no_usable_pair_says_so(run_cli, write_yaml):
    late = MINIMAL_CATALOGUE.replace("2023-01-01", "2025-01-01")
    evidence = write_yaml(late, "late.yaml")
    code, out, err = run_cli(["backtest", "--evidence", evidence, "--no-shipped-evidence", "-q"])
    assert code == 0, err
    assert "no measurement pair can be backtested" in words(out)
    assert "skipped openai_post_training_gpt4: no enhancement" in words(out)


NO_COMPARE = textwrap.dedent(
    """\
    schema_version: 1
    name: lab-plain
    title: Lab model, nothing measured later
    base_model:
      name: lab-model-v1
      training_compute_flop: 1.0e+24
      reference_date: 2023-06-01
      weights: closed
    actor: public_api
    horizon_months: 3
    evals:
      - name: lab-cyber
        score: 0.30
        n_tasks: 40
        threshold: 0.60
    """
)


def test_a_scenario_with_nothing_to_compare_says_so(run_cli, write_yaml):
    scenario = write_yaml(NO_COMPARE, "plain.yaml")
    evidence = write_yaml(MINIMAL_CATALOGUE, "tiny.yaml")
    args = ["backtest", scenario, "--as-of", "2023-06", "--evidence", evidence]
    code, out, err = run_cli([*args, "--no-shipped-evidence", *SMALL])
    assert code == 0, err
    assert "nothing to compare" in words(out) and "┏" not in out  # no empty table
    assert "from 2023-06-01" in words(out)  # YYYY-MM is the month's first day


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--as-of", "2023-13"], "YYYY-MM or YYYY-MM-DD, got '2023-13'"),
        (["--as-of", "1900-01"], "from 1950-01-01"),
        (["--as-of", "June"], "YYYY-MM"),
        (["gpt4-2023-03"], "give --as-of"),
    ],
)
def test_bad_as_of_exits_2(run_cli, args, needle):
    code, out, err = run_cli(["backtest", *args])
    assert code == 2 and out == "" and needle in words(err) and "--as-of" in err
