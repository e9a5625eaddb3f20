"""Resolving a scenario once (forecast/inputs/resolve.py): warnings, names, the files it read.

No fit: ``resolve`` only reads and checks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.core.errors import InputError
from forecast.inputs.resolve import resolve


def test_open_weights_with_a_public_api_actor_warns():
    assert resolve("frontier-open-weights").warnings == ()
    (warning,) = resolve("frontier-open-weights", actor="public_api").warnings
    assert "weights are open" in warning and "--actor open_weights" in warning


def test_evidence_published_after_the_reference_date_warns_without_as_of():
    (warning,) = resolve("gpt4-2023-03").warnings
    assert "after the scenario's reference date 2023-03-14" in warning
    assert "--as-of 2023-03-14" in warning
    assert resolve("gpt4-2023-03", as_of=dt.date(2023, 3, 14)).warnings == ()
    assert resolve("frontier-api").warnings == ()  # a 2026 model: the evidence is older


def test_an_unknown_enhancement_id_gets_did_you_mean(tmp_path):
    from forecast.inputs.scenarios import shipped_scenarios

    text = shipped_scenarios()["gpt4-2023-03"].read_text()
    scenario = tmp_path / "already_elicited.yaml"
    scenario.write_text(
        text.replace(
            "already_elicited:\n  categories: [data, prompting]",
            "already_elicited:\n  categories: [data, prompting]\n  enhancements: [chain_of_thougt]",
        )
    )
    with pytest.raises(InputError) as info:
        resolve(scenario)
    err = info.value
    assert err.path == "already_elicited.enhancements[0]" and err.line is not None
    assert "unknown enhancement 'chain_of_thougt'" in err.message
    assert "did you mean 'chain_of_thought'" in err.message


@pytest.mark.parametrize(
    ("block", "path", "needle"),
    [
        ("absorbed:\n  enhancements: [chain_of_thought]\n", "absorbed", "removed in model 5"),
        ("extrapolation:\n  scale: clamp\n", "extrapolation.scale", "removed in model 5"),
    ],
)
def test_keys_of_earlier_models_say_what_replaced_them(tmp_path, block, path, needle):
    """A scenario written for model 4 gets one located message saying why the key went, not
    'unknown key'."""
    from forecast.inputs.scenarios import shipped_scenarios

    text = shipped_scenarios()["gpt4-2023-03"].read_text()
    scenario = tmp_path / "old.yaml"
    scenario.write_text(text.replace("priors: {}", block + "priors: {}"))
    with pytest.raises(InputError) as info:
        resolve(scenario)
    assert info.value.path == path and info.value.line is not None
    assert needle in info.value.message


def test_a_release_after_the_evaluation_is_refused(tmp_path):
    from forecast.inputs.scenarios import shipped_scenarios

    text = shipped_scenarios()["gpt4-2023-03"].read_text()
    scenario = tmp_path / "released.yaml"
    scenario.write_text(
        text.replace(
            "  reference_date: 2023-03-14", "  reference_date: 2023-03-14\n  released: 2023-06-01"
        )
    )
    with pytest.raises(InputError) as info:
        resolve(scenario)
    assert info.value.path == "base_model.released"
    assert "after 'reference_date'" in info.value.message


def test_files_lists_every_input_read_as_absolute_paths(tmp_path):
    inputs = resolve("frontier-api", profile="cautious")
    files = inputs.files()
    roles = [role for role, _ in files]
    assert roles[:3] == ["scenario", "priors", "profile"]
    assert {"catalogue", "policy", "tasks"} <= set(roles)
    assert "measurements" in roles  # the histories: every run's evidence
    assert all(Path(path).is_absolute() and Path(path).is_file() for _, path in files)
    assert len({path for _, path in files}) == len(files)
    measured = resolve("gpt4-2023-03")
    assert "measurements" in [role for role, _ in measured.files()]
    none = resolve("frontier-api", policy_select=[])
    assert "policy" not in [role for role, _ in none.files()]


# --------------------------------------------------------------------------- issue 22

SHIPPED_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "frontier-api.yaml"


def _profile_text(name: str, priors: str = "{}", trend: str | None = None) -> str:
    modes = f"extrapolation:\n  trend: {trend}\n  why: a test\n" if trend else ""
    return (
        f"schema_version: 1\nname: {name}\ntitle: A user's profile\n"
        f"description: written by a test\npriors: {priors}\n{modes}"
    )


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(["central", "cautious", "optimistic"]),
    folder=st.sampled_from(["my", "profiles", "a/b"]),
    stem=st.sampled_from(["central", "cautious", "mine", "optimistic"]),
)
def test_a_user_profile_cannot_take_a_shipped_profiles_name(tmp_path_factory, name, folder, stem):
    """``--profile my/central.yaml`` holding cautious priors was reported as "profile
    central" (and its row of the profiles table as the defaults)."""
    base = tmp_path_factory.mktemp("profiles") / folder
    base.mkdir(parents=True)
    path = base / f"{stem}.yaml"
    path.write_text(_profile_text(name))
    with pytest.raises(InputError) as info:
        resolve("frontier-api", profile=str(path))
    err = info.value
    assert err.file == str(path) and err.path == "name" and err.line == 2
    assert f"profile name {name!r} is a shipped profile's" in err.message
    path.write_text(_profile_text(f"{name}-mine"))  # its own name: fine
    assert resolve("frontier-api", profile=str(path)).profile == f"{name}-mine"


def test_the_shipped_profile_file_given_by_path_is_the_shipped_profile():
    from forecast.inputs.profiles import shipped_profiles

    assert resolve("frontier-api", profile=str(shipped_profiles()["cautious"])).profile == (
        "cautious"
    )


@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_profile_is_refused(value):
    with pytest.raises(InputError, match="expected a profile name or a profile file"):
        resolve("frontier-api", profile=value)


@pytest.mark.parametrize("option", ["trend_mode"])
@pytest.mark.parametrize("value", ["", " ", "Damped", "none"])
def test_an_empty_or_unknown_extrapolation_mode_is_refused(option, value):
    """``--trend ''`` used the scenario's mode without a word."""
    with pytest.raises(InputError) as info:
        resolve("frontier-api", **{option: value})
    assert info.value.file == f"--{option.removesuffix('_mode')}"


@pytest.mark.parametrize("months", [-1, 121, 900])
def test_a_horizon_beyond_the_limits_is_refused_for_library_callers(months):
    with pytest.raises(InputError, match="horizon from 0 to 120"):
        resolve("frontier-api", horizon_months=months)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    ids=st.lists(st.sampled_from(["a_one", "b_two", "c_three"]), min_size=2, max_size=6),
)
def test_a_measurement_named_twice_in_compare_with_is_refused_where_it_is(ids):
    """Duplicate ``compare_with`` ids were counted twice in a backtest's coverage."""
    from forecast.core.reading import parse_yaml
    from forecast.core.schemas.scenario import Scenario
    from forecast.core.validation import validate

    text = SHIPPED_SCENARIO.read_text().replace(
        "    tasks_file:", f"    compare_with: [{', '.join(ids)}]\n    tasks_file:", 1
    )
    doc = parse_yaml(text, "s.yaml")
    if len(set(ids)) == len(ids):
        validate(Scenario, doc, "scenario")
        return
    second = next(k for k, x in enumerate(ids) if x in ids[:k])
    with pytest.raises(InputError) as info:
        validate(Scenario, doc, "scenario")
    err = info.value
    assert err.path == f"evals[0].compare_with[{second}]" and err.line is not None
    assert f"measurement {ids[second]!r} is named twice" in err.message


# --------------------------------------------------------------------------- origins


def _scenario_with_priors(tmp_path: Path, block: str) -> Path:
    path = tmp_path / "scenario.yaml"
    text = SHIPPED_SCENARIO.read_text()
    assert "priors: {}" in text
    path.write_text(text.replace("priors: {}", f"priors:\n  {block}"))
    (tmp_path / "data").mkdir(exist_ok=True)
    for csv in (SHIPPED_SCENARIO.parent / "data").glob("*.csv"):
        (tmp_path / "data" / csv.name).write_bytes(csv.read_bytes())
    return path


@pytest.mark.parametrize("origin", ["profile", "scenario", "--prior", "defaults"])
def test_a_prior_knows_who_set_it(tmp_path, origin):
    """A problem with a prior found after it was read (a fixed value that is not fixed, a
    simulation limit) is blamed on the file and field that set it, never on ``--prior``
    unless it was given."""
    from forecast.inputs.priors import blame_prior, fixed_value

    value = "Beta(1, 200)"
    options, scenario = {}, "frontier-api"
    if origin == "profile":
        path = tmp_path / "tiny.yaml"
        path.write_text(
            _profile_text(
                "tiny", f"\n  increment_share:\n    distribution: '{value}'\n    why: a test"
            )  # fmt: skip
        )
        options["profile"] = str(path)
    elif origin == "scenario":
        scenario = _scenario_with_priors(tmp_path, f"increment_share: '{value}'")
    elif origin == "--prior":
        options["priors"] = {"increment_share": value}
    inputs = resolve(scenario, **options)
    late = InputError("the simulation is unbounded", None, "priors.increment_share")
    err = blame_prior(late, inputs.priors)
    expected = {
        "profile": (str(tmp_path / "tiny.yaml"), "priors.increment_share.distribution"),
        "scenario": (str(scenario), "priors.increment_share"),
        "--prior": ("--prior", "priors.increment_share"),
        "defaults": (None, "priors.increment_share.distribution"),
    }[origin]
    if expected[0] is None:
        assert err.file.endswith("defaults.yaml")
    else:
        assert err.file == expected[0]
    assert err.path == expected[1] and err.message == late.message
    assert (err.line is not None) == (origin in ("profile", "scenario"))
    if origin != "--prior":
        assert "--prior" not in str(err)
    with pytest.raises(InputError) as info:  # a fixed prior that is not fixed, likewise
        fixed_value(
            inputs.priors.with_overrides(
                {"noise_dof": "Normal(5, 1)"},
                origin=err.file,
                where={"noise_dof": (err.path, 3, 4)},
            ),
            "noise_dof",
        )
    assert info.value.file == err.file and info.value.line == 3


# --------------------------------------------------------------------------- what was read


def test_inputs_record_the_bytes_they_read_not_the_file_later(tmp_path):
    """Editing the scenario during an export gave a bundle whose scenario.yaml and SHA-256
    were the edited file's while the results were the original's."""
    import hashlib
    import types

    from forecast.report.export import input_records

    scenario = _scenario_with_priors(tmp_path, "increment_share: 'Beta(2, 2)'")
    original = scenario.read_bytes()
    inputs = resolve(scenario)
    assert inputs.scenario_bytes == original
    scenario.write_text(original.decode().replace("title:", "title: EDITED"))
    (tmp_path / "data" / "autonomy-tasks.csv").unlink()  # and a task file removed
    records = {r["role"] + ":" + Path(r["path"]).name: r for r in input_records(
        types.SimpleNamespace(inputs=inputs))}  # fmt: skip
    assert records["scenario:scenario.yaml"]["sha256"] == hashlib.sha256(original).hexdigest()
    assert records["scenario:scenario.yaml"]["bytes"] == len(original)
    assert records["tasks:autonomy-tasks.csv"]["sha256"] is not None  # as read, not as now
    assert all(r["sha256"] for r in records.values()), records
    assert records["priors:defaults.yaml"]["sha256"]  # the cached priors count as read


def test_a_file_that_changes_between_two_reads_is_an_error(tmp_path):
    from forecast.core.reading import read_bytes, recording

    path = tmp_path / "f.yaml"
    path.write_text("a: 1\n")
    with recording() as log, pytest.raises(InputError, match="changed while this run"):
        read_bytes(path)
        path.write_text("a: 2\n")
        read_bytes(path)
    assert list(log.reads) == [str(path)]


@pytest.mark.parametrize("categories", [[], ["prompting", "scaffolding", "data", "tool"]])
def test_elicitation_outside_the_histories_is_read_at_its_edge_and_said(tmp_path, categories):
    """An evaluation that applied nothing gave 22.5 OOM: the elicitation effect extrapolated
    past the histories' 1-3 categories. It is now read at the nearest measured count, and the
    run says so."""
    import yaml

    from forecast.core.paths import data_dir
    from forecast.simulate.setup import setup_forecast

    doc = yaml.safe_load((data_dir("scenarios") / "frontier-api.yaml").read_text())
    doc["already_elicited"] = {"categories": categories}
    doc["evals"] = [e for e in doc["evals"] if "tasks_file" not in e]
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    inputs = resolve(path)
    used = setup_forecast(inputs.scenario, inputs.histories).elicited
    lo, hi = inputs.histories.inc_elicited.min(), inputs.histories.inc_elicited.max()
    assert used == (lo if not categories else hi)
    assert any("not extrapolated beyond its evidence" in w for w in inputs.warnings)
    assert not any("elicitation" in w for w in resolve("frontier-api").warnings)
