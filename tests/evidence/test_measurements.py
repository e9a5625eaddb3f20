"""forecast.evidence.measurements: the measurements format, users' files on top of the shipped ones,
located errors, and the pairs a backtest can use."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest
from conftest import MINIMAL_CATALOGUE, USER_MEASUREMENTS, flat, words

from forecast.core.errors import InputError
from forecast.evidence.catalogue import load_catalogue
from forecast.evidence.measurements import backtest_pairs, load_measurements


def _sub(old: str, new: str, count: int = 1):
    def make(text: str) -> str:
        assert text.count(old) >= count, old
        return text.replace(old, new, count)

    return make


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    return [i + 1 for i, line in enumerate(text.splitlines()) if needle in line][occurrence]


def test_user_file_adds_records_and_a_usable_pair(write_yaml):
    path = write_yaml(USER_MEASUREMENTS, "mine.yaml")
    shipped = load_measurements()
    merged = load_measurements(path, catalogue=load_catalogue())
    assert len(merged.measurements) == len(shipped.measurements) + 2
    assert "Our lab's elicitation log" in merged.source_document
    pairs = {p.id: p for p in backtest_pairs(merged)}
    assert set(pairs) - {p.id for p in backtest_pairs(shipped)} == {"lab_agent_gain"}
    pair = pairs["lab_agent_gain"]
    assert (pair.before_score, pair.after_score, pair.n_tasks) == (0.30, 0.45, 40)
    assert pair.elicited.categories == ["prompting"] and pair.actor == "public_api"
    days = (dt.date(2024, 1, 15) - dt.date(2023, 6, 1)).days
    assert pair.months == pytest.approx(days / 30.44)


def test_only_the_shipped_file_without_a_user_file(write_yaml):
    assert load_measurements(shipped=False, extra=write_yaml(USER_MEASUREMENTS)).suites[0].id == (
        "lab_cyber_tasks"
    )
    with pytest.raises(InputError, match="not found"):
        load_measurements(write_yaml(USER_MEASUREMENTS).parent / "missing.yaml")


#: name -> (edit of USER_MEASUREMENTS, field path, (line needle, occurrence), message)
BAD = {
    "old_format": (
        _sub("schema_version: 2", "schema_version: 1"),
        "schema_version",
        ("schema_version", 0),
        "2",
    ),
    "unknown_key": (
        _sub('    where: "log entry 12"', '    wher: "log entry 12"'),
        "measurements[0].wher",
        ("wher:", 0),
        "did you mean 'where'",
    ),
    "unknown_suite": (
        _sub("suite: lab_cyber_tasks", "suite: lab_cyber_task"),
        "measurements[0].suite",
        ("suite: lab_cyber_task", 0),
        "did you mean 'lab_cyber_tasks'",
    ),
    "percent_not_fraction": (
        _sub("{point: 0.30, plus_minus: 0.07", "{point: 30, plus_minus: 0.07"),
        "measurements[0]",
        ("- id: lab_model_plain", 0),
        "a success_rate is a fraction in [0, 1]",
    ),
    "pass_at_k_without_k": (
        _sub("metric: success_rate", "metric: pass_at_k"),
        "measurements[0]",
        ("- id: lab_model_plain", 0),
        "needs 'k'",
    ),
    "plus_minus_without_level": (
        _sub(", interval: 0.95}", "}"),
        "measurements[0].score",
        ("score:", 0),
        "give 'plus_minus' and 'interval'",
    ),
    "duplicate_in_file": (
        _sub("  - id: lab_model_agent", "  - id: lab_model_plain"),
        "measurements[1].id",
        ("- id: lab_model_plain", 1),
        "duplicate id 'lab_model_plain'",
    ),
    "duplicate_of_shipped": (
        _sub("  - id: lab_model_plain\n", "  - id: gpt4_base_basic\n"),
        "measurements[0].id",
        ("- id: gpt4_base_basic", 0),
        "already measurements[0] in",
    ),
    "pair_unknown_measurement": (
        _sub("after: lab_model_agent", "after: lab_model_agnt"),
        "elicitation_gains[0].after",
        ("after: lab_model_agnt", 0),
        "did you mean 'lab_model_agent'",
    ),
    "pair_two_base_models": (
        _sub(
            "    base_model: lab-base-1\n    measured: 2024",
            "    base_model: x\n    measured: 2024",
        ),
        "elicitation_gains[0].after",
        ("after: lab_model_agent", 0),
        "different base models",
    ),
    "backtest_without_as_of": (
        _sub("    as_of: 2023-06-01\n", ""),
        "elicitation_gains[0]",
        ("- id: lab_agent_gain", 0),
        "needs 'as_of'",
    ),
    "no_time_elapses": (
        _sub("as_of: 2023-06-01", "as_of: 2024-02-01"),
        "elicitation_gains[0].as_of",
        ("as_of: 2024-02-01", 0),
        "no time elapses",
    ),
    "backtest_false_without_reason": (
        _sub("backtest: true", "backtest: false"),
        "elicitation_gains[0]",
        ("- id: lab_agent_gain", 0),
        "needs a 'reason'",
    ),
    "unknown_enhancement": (
        _sub("      categories: [scaffolding]\n", "      enhancements: [chain_of_thougt]\n"),
        "elicitation_gains[0].added.enhancements[0]",
        ("enhancements: [chain_of_thougt]", 0),
        "did you mean 'chain_of_thought'",
    ),
    "bad_actor": (
        _sub("actor: public_api", "actor: everyone"),
        "elicitation_gains[0].actor",
        ("actor: everyone", 0),
        "public_api",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_measurements_file_exits_2_with_file_line_and_field(run_cli, write_yaml, case):
    make, field, (needle, occurrence), message = BAD[case]
    text = make(USER_MEASUREMENTS)
    path = write_yaml(text, f"{case}.yaml")
    code, out, err = run_cli(["evidence", "measurements", "--measurements", path])
    assert "Traceback" not in err
    assert (code, out) == (2, ""), err
    assert words(err).startswith("error:")
    assert f"{path}:{line_of(text, needle, occurrence)}:" in flat(err)
    assert f" {field}:" in words(err) or f":{field}:" in flat(err)
    assert message in words(err)


def test_missing_measurements_file_exits_2(run_cli, tmp_path):
    code, out, err = run_cli(["evidence", "measurements", "--measurements", tmp_path / "no.yaml"])
    assert (code, out) == (2, "") and "not found" in words(err)


def test_cli_lists_shipped_and_user_records(run_cli, write_yaml):
    path = write_yaml(USER_MEASUREMENTS, "mine.yaml")
    code, out, err = run_cli(["evidence", "measurements", "--measurements", path, "--json"])
    assert code == 0, err
    doc = json.loads(out)
    ids = {m["id"] for m in doc["measurements"]}
    assert {"lab_model_plain", "gpt4_0613_all_tools_rm", "codex_humaneval_pass100"} <= ids
    rm = next(m for m in doc["measurements"] if m["id"] == "gpt4_0613_all_tools_rm")
    assert rm["score"]["point"] == 0.38 and rm["independent"] is True
    assert rm["score"]["text"] == "0.38 ± 0.06 (95%)"
    code, out, err = run_cli(["evidence", "measurements"])
    assert code == 0 and "metr_agent_improvements_gpt4" in out and "lab_agent_gain" not in out


SCENARIO = textwrap.dedent(
    """\
    schema_version: 1
    name: lab-backtest
    title: Lab model as of June 2023
    base_model:
      name: lab-model-v1
      training_compute_flop: 1.0e+24
      reference_date: 2023-06-01
      weights: closed
    actor: public_api
    already_elicited:
      categories: [prompting]
    horizon_months: 6
    evals:
      - name: lab-cyber
        score: 0.30
        n_tasks: 40
        threshold: 0.60
        compare_with: [lab_model_agent]
    """
)


def test_scenario_compare_with_names_a_user_measurement(run_cli, write_yaml):
    scenario = write_yaml(SCENARIO, "lab.yaml")
    mine = write_yaml(USER_MEASUREMENTS, "mine.yaml")
    code, out, err = run_cli(["scenarios", "validate", scenario])
    assert (code, out) == (2, "")
    assert f"{scenario}:{line_of(SCENARIO, 'compare_with')}:" in flat(err)
    assert "unknown measurement 'lab_model_agent'" in words(err)
    assert "--measurements" in err
    code, out, err = run_cli(["scenarios", "validate", scenario, "--measurements", mine])
    assert code == 0 and "valid" in out, err


def test_backtest_with_a_user_measurements_file_end_to_end(run_cli, write_yaml, monkeypatch):
    """A tiny catalogue and the user's history, forecast from 2023-06-01 and compared with
    the user's measurement of 2024-01-15. Both fits are made-up draws (conftest.fake_sampler):
    what is tested is the path of the user's file to the comparison."""
    from conftest import fake_sampler

    from forecast.fit import engine

    calls, specs, made_up = [], [], fake_sampler()

    def sample(spec, *args):
        calls.append(spec.name)
        specs.append(spec)
        return made_up(spec, *args)

    monkeypatch.setattr(engine, "_sample", sample)
    scenario = write_yaml(SCENARIO, "lab.yaml")
    mine = write_yaml(USER_MEASUREMENTS, "mine.yaml")
    evidence = write_yaml(MINIMAL_CATALOGUE, "tiny.yaml")
    args = ["backtest", scenario, "--as-of", "2023-06-01", "--measurements", mine]
    args += ["--evidence", evidence, "--no-shipped-evidence", "--quiet"]
    code, out, err = run_cli([*args, "--json"])
    assert code == 0, err
    # the uplift model was fitted to the histories known at the as-of date: the user's
    # history has no later measurement by then, so it is not in the fit
    assert calls == ["catalogue", "histories"]
    series = specs[1].labels["series"]
    assert series and not any("lab_cyber_tasks" in name for name in series)
    doc = json.loads(out)
    (row,) = doc["comparisons"]
    assert (row["measurement"], row["measured"], row["date_precision"]) == (
        "lab_model_agent",
        0.45,
        "month",
    )
    assert row["months_after"] == pytest.approx(7.5, abs=0.05)
    assert row["forecast_q05"] <= row["forecast_q50"] <= row["forecast_q95"]
    assert doc["horizon_months"] >= 8  # extended to reach the measurement
    code, out, err = run_cli(args)
    assert code == 0, err
    assert "lab-model-v1" in out and "45% ± 8%" in out
