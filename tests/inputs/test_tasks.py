"""forecast.inputs.tasks: per-task results files, every problem located."""

from __future__ import annotations

import pytest

from forecast.core.errors import InputError
from forecast.inputs.tasks import read_task_results

# --------------------------------------------------------------------------- task files


@pytest.mark.parametrize(
    "body,where",
    [
        ("task,successes,attempts\na,1,10\n", "line 1"),
        ("task_id,successes,attempts\na,x,10\n", "line 2, column successes"),
        ("task_id,successes,attempts\na,11,10\n", "line 2"),
        ("task_id,successes,attempts\na,1,0\n", "line 2"),
        ("task_id,successes,attempts\na,1,10\na,2,10\n", "line 3, column task_id"),
        ("task_id,successes,attempts\na,1.5,10\n", "line 2, column successes"),
        ("task_id,successes,attempts\n", None),
    ],
)
def test_bad_task_files_name_the_line_and_column(tmp_path, body, where):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        read_task_results(path)
    assert str(path) in str(info.value)
    if where:
        assert where in str(info.value)
