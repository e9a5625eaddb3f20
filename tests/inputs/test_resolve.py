"""Resolving a scenario once (forecast/inputs/resolve.py): warnings, names, the files it read.

No fit: ``resolve`` only reads and checks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

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
    assert "measurements" not in roles  # the evals compare with none
    assert all(Path(path).is_absolute() and Path(path).is_file() for _, path in files)
    assert len({path for _, path in files}) == len(files)
    measured = resolve("gpt4-2023-03")
    assert "measurements" in [role for role, _ in measured.files()]
    none = resolve("frontier-api", policy_select=[])
    assert "policy" not in [role for role, _ in none.files()]
