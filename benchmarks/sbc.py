"""Run the large simulation-based calibration of the uplift model and record it and its time.

    python benchmarks/sbc.py                    # 100 fits on the production settings, seed 0
    python benchmarks/sbc.py --fits 20          # a quicker look
    python benchmarks/sbc.py --model catalogue --fits 200   # the CEG catalogue model's SBC

Writes, as a set (nothing on failure), into ``benchmarks/results/`` (``--model catalogue``:
``sbc-catalogue.json`` and ``sbc-catalogue-ranks.csv``):

- ``sbc.json``: the ``forecast check sbc --json`` document (ranks, uniformity verdicts over
  every fit and over the passing ones, posterior contraction per quantity, every fit's
  diagnostics), plus the machine, the library versions and the wall time;
- ``sbc-ranks.csv``: one row per fit and quantity (truth, rank, posterior mean and sd).

Then ``python docs/calibration.py`` turns them into the figures and tables of
docs/calibration.md. The uplift model's fits take about half a minute each on 2 cores (the
production settings): run it with nothing else heavy on the machine if the time matters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("uplift", "catalogue"), default="uplift")
    parser.add_argument("--fits", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--moment-matched", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.filterwarnings("ignore")
    from forecast import api
    from forecast.core.writing import write_files
    from forecast.fit.engine import _versions
    from forecast.report.calibration import ranks_csv
    from forecast.report.results import json_text

    inputs = api.resolve(None)
    started = time.perf_counter()

    def progress(done: int, total: int, record: dict) -> None:
        elapsed = time.perf_counter() - started
        print(
            f"fit {done}/{total}: {record['seconds']:.1f} s, {elapsed:.0f} s in all"
            + (f"; {'; '.join(record['problems'])}" if record["problems"] else ""),
            flush=True,
        )

    if args.model == "catalogue":
        from forecast.checks.sbc_catalogue import run_catalogue_sbc

        fits = args.fits or 200
        result = run_catalogue_sbc(
            inputs.table, inputs.priors, fits, seed=args.seed, on_fit=progress
        )
        prefix = "sbc-catalogue"
    else:
        from forecast.checks.sbc import run_sbc
        from forecast.evidence.measurements import load_measurements
        from forecast.simulate.setup import setup_forecast

        fits = args.fits or 100
        # the shipped priors: catalogue_gain's default is the shipped catalogue fit's summary
        priors = inputs.priors
        n_tasks = {s.id: s.n_tasks for s in load_measurements().suites}
        result = run_sbc(
            inputs.histories,
            priors,
            setup_forecast(inputs.scenario, inputs.histories),
            n_tasks,
            fits,
            seed=args.seed,
            scenario=inputs.scenario.name,
            exact=not args.moment_matched,
            on_fit=progress,
        )
        prefix = "sbc"
    wall = time.perf_counter() - started
    doc = result.to_dict() | {
        "benchmark": {
            "wall_seconds": round(wall, 1),
            "seconds_per_fit_median": sorted(f["seconds"] for f in result.fits)[
                len(result.fits) // 2
            ],
            "date": dt.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            "python": platform.python_version(),
            "libraries": _versions(),
            "command": "python benchmarks/sbc.py " + " ".join(argv or sys.argv[1:]),
        },
    }
    write_files(
        args.out,
        {
            f"{prefix}.json": json_text(doc).encode(),
            f"{prefix}-ranks.csv": ranks_csv(result).encode(),
        },
    )
    print(json.dumps(doc["benchmark"], indent=2))
    print(f"wrote {args.out / (prefix + '.json')} and {args.out / (prefix + '-ranks.csv')}")


if __name__ == "__main__":
    main()
