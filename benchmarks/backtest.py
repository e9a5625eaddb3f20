"""Run the backtests of the uplift model on the shipped inputs and record them and their time.

    python benchmarks/backtest.py            # both cross-validation schemes, three cut dates
    python benchmarks/backtest.py --scheme suite --cut 2025-01-01   # a quicker look

Writes ``benchmarks/results/backtest.json``: the ``forecast backtest --json`` document
(cross-validation over the measured histories, leave one suite out and leave one publisher
out, on the production sampler settings; the time-cut backtests), plus the machine, the
library versions and the wall time. ``forecast backtest`` reads it back when its inputs are
the shipped ones, and a run's JSON and report summarise it
(:func:`forecast.checks.backtest.shipped_summary`); ``python docs/calibration.py`` turns it
into the tables and figures of docs/backtest.md and docs/calibration.md. It takes tens of
minutes on 2 cores: run it with nothing else heavy on the machine if the time matters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheme", action="append", choices=("suite", "publisher"))
    parser.add_argument("--cut", action="append", type=dt.date.fromisoformat)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--draws", type=int, help="uplift draws per chain (default: BACKTEST_SETTINGS)"
    )
    parser.add_argument("--tune", type=int, help="uplift tuning steps (default: BACKTEST_SETTINGS)")
    parser.add_argument("--out", type=Path, default=RESULTS / "backtest.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.filterwarnings("ignore")
    from forecast.checks.backtest import backtest_histories
    from forecast.core.writing import atomic_write_text
    from forecast.fit.engine import _versions
    from forecast.report.results import json_text

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    def on_fold(done: int, total: int, record: dict) -> None:
        d = record["diagnostics"]
        state = "ok" if d["ok"] else "FAILED: " + "; ".join(d["problems"])
        log(f"fold {done}/{total} {record['scheme']}:{record['group']} "
            f"({record['held_out']} held out): {record['seconds']:.0f} s, {state}")  # fmt: skip

    from dataclasses import replace

    from forecast.checks.backtest import BACKTEST_SETTINGS

    histories_settings = replace(
        BACKTEST_SETTINGS,
        draws=args.draws or BACKTEST_SETTINGS.draws,
        tune=args.tune or BACKTEST_SETTINGS.tune,
    )
    doc = backtest_histories(
        histories_settings=histories_settings,
        seed=args.seed,
        schemes=args.scheme,
        cuts=args.cut,
        refit=True,
        log=log,
        on_fold=on_fold,
    )
    wall = time.perf_counter() - started
    doc["benchmark"] = {
        "wall_seconds": round(wall, 1),
        "crossval_seconds": doc["crossval"]["seconds"],
        "cut_seconds": [c["seconds"] for c in doc["cuts"]],
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        "libraries": _versions(),
        "command": "python benchmarks/backtest.py " + " ".join(argv or sys.argv[1:]),
    }
    atomic_write_text(args.out, json_text(doc))
    for name, part in doc["crossval"]["schemes"].items():
        t = part["totals"]
        log(f"{name}: {t['inside_50']}/{t['n']} in 50%, {t['inside_90']}/{t['n']} in 90%, mean "
            f"PIT {t['mean_pit']:.2f}, above median {t['share_above_median']:.0%}, CRPS "
            f"{t['mean_crps']:.3f} vs {t['mean_crps_no_change']:.3f}; "
            f"{len(part['failed_folds'])} failed folds")  # fmt: skip
    print(f"wrote {args.out} in {wall:.0f} s")


if __name__ == "__main__":
    main()
