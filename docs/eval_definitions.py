"""P(cross) of the shipped per-task eval under each task-pass definition and pooling.

docs/generate.py writes the table between the ``eval-definitions`` markers of
docs/method.md (section 7.3) with every other generated part; this script regenerates that
one table:

    python docs/eval_definitions.py            # full fit (cached after the first run)
    python docs/eval_definitions.py --print    # print the table, leave the docs alone

The eval is ``autonomy-tasks`` of ``scenarios/frontier-api.yaml`` (results in
``scenarios/data/autonomy-tasks.csv``): a task passes at 1 in 10 tries, the threshold is
met at 50% of tasks. Each variant uses the eval's own random stream, as a run does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

VARIANTS = (
    ("hidden_rate", "independent"),
    ("hidden_rate", "hierarchical"),
    ("fresh_run", "independent"),
    ("fresh_run", "hierarchical"),
)


def definition_rows(spec, tasks, uplift_oom, priors, confidence: float, seed: int, j: int):
    """One row per (definition, pooling): P(cross by the horizon) and the status.

    ``fresh_run`` uses ``tries = 1 / task_pass_rate`` (10 for 1 in 10) and one success.
    """
    from forecast.buffer.evals import evaluate, slope_draws, status_text
    from forecast.core.schemas.scenario import EvalSpec

    rows = []
    for definition, pooling in VARIANTS:
        fields = spec.model_dump() | {"definition": definition, "pooling": pooling}
        if definition == "fresh_run":
            fields["tries"] = round(1 / spec.task_pass_rate)
        else:
            fields["tries"] = None
        variant = EvalSpec(**fields)
        rng = np.random.default_rng([seed, 500 + j])
        slope = slope_draws(variant, priors, len(uplift_oom), rng)
        out = evaluate(variant, tasks, uplift_oom, slope, confidence, rng)
        rows.append(
            {
                "definition": out["definition_text"],
                "pooling": pooling,
                "p_cross": out["p_cross"],
                "p_cross_point_estimate": out["p_cross_point_estimate"],
                "p_already_met": out["p_already_met"],
                "status": status_text(out),
            }
        )
    return rows


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import generate

    runs = generate.Runs()
    if "--print" in argv:
        print(generate.block_eval_definitions(runs))
        return
    others = (set(generate.BLOCKS) | set(generate.DOCUMENTS)) - {"eval-definitions"}
    others |= {f"api-output-{i}" for i in range(1, 20)}
    generate.generate(generate.HERE, runs, skip=others, draw=False)


if __name__ == "__main__":
    main(sys.argv[1:])
