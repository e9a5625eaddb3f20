"""Run the large simulation-based calibration and record its result and its time.

    python benchmarks/sbc.py                 # 200 fits, seed 0 (about 25 minutes on 2 cores)
    python benchmarks/sbc.py --fits 20       # a quicker look

Writes, as a set (nothing on failure):

- ``benchmarks/results/sbc.json``: the ``forecast check sbc --json`` document, plus the
  machine, the library versions and the wall time (the SBC timing figure of
  docs/performance.md and docs/calibration.md);
- ``benchmarks/results/sbc-ranks.csv``: one row per fit and quantity (truth, rank,
  posterior mean and sd).

Then ``python docs/calibration.py`` turns them into the figures and tables of
docs/calibration.md. Run it with nothing else heavy on the machine if the time matters.
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
    parser.add_argument("--fits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.filterwarnings("ignore")
    from forecast import api
    from forecast.checks import sbc
    from forecast.core.writing import write_files
    from forecast.fit.fitting import _versions
    from forecast.report.calibration import ranks_csv
    from forecast.report.results import json_text
    from forecast.simulate.setup import setup_forecast

    inputs = api.resolve(None)
    setup = setup_forecast(inputs.scenario, inputs.catalogue, inputs.table)
    started = time.perf_counter()

    def progress(done: int, total: int, record: dict) -> None:
        elapsed = time.perf_counter() - started
        print(
            f"fit {done}/{total}: {record['seconds']:.1f} s, {elapsed:.0f} s in all"
            + (f"; {'; '.join(record['problems'])}" if record["problems"] else ""),
            flush=True,
        )

    result = sbc.run_sbc(
        inputs.table,
        inputs.priors,
        setup,
        args.fits,
        seed=args.seed,
        settings=sbc.SbcSettings(),
        scenario=inputs.scenario.name,
        on_fit=progress,
    )
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
        "design": {
            "figures": int(inputs.table.n_rows),
            "continuous_figures": int(inputs.table.continuous.sum()),
            "enhancements": int(inputs.table.n_enhancements),
            "evidence_sha256": inputs.table.digest(),
        },
    }
    write_files(
        args.out,
        {
            "sbc.json": json_text(doc).encode(),
            "sbc-ranks.csv": ranks_csv(result).encode(),
        },
    )
    print(json.dumps(doc["benchmark"], indent=2))
    print(f"wrote {args.out / 'sbc.json'} and {args.out / 'sbc-ranks.csv'}")


if __name__ == "__main__":
    main()
