"""Generate the figures and tables of docs/calibration.md and docs/backtest.md.

    python benchmarks/sbc.py          # the 200-fit SBC (about 25-80 minutes), then:
    python docs/calibration.py        # figures, tables; fits the shipped catalogue if needed

Reads ``benchmarks/results/sbc.json`` (written by benchmarks/sbc.py), fits the shipped
catalogue with the default settings (or reads the cached fit) for the leave-one-out PIT,
runs the backtest of every measurement pair, and writes:

- docs/img/sbc_ecdf.png, docs/img/sbc_ranks.png, docs/img/loo_pit.png;
- benchmarks/results/loo-pit.json and benchmarks/results/backtest.json (the documents);
- the blocks between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` in
  docs/calibration.md and docs/backtest.md (nothing else in them is touched).

Every number in those blocks comes from here; none is typed by hand.
"""

from __future__ import annotations

import io
import json
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
IMG = ROOT / "docs" / "img"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the generated block ``name`` replaced by ``body``."""
    pattern = re.compile(
        rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"no generated block {name!r} in the document")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def sbc_blocks(doc: dict) -> dict[str, str]:
    """The SBC tables: per-quantity verdicts, the diagnostics of the fits, the timing."""
    rows = [
        "| quantity | mean rank / L | share in outer fifths | band p-value | verdict |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for q in doc["quantities"]:
        rows.append(
            f"| `{q['quantity']}` | {q['mean_rank_fraction']:.3f} | "
            f"{q['outer_fifths_share']:.3f} | {q['p_value']:.3f} | {q['verdict']} |"
        )
    fits = doc["fits"]
    n = len(fits)
    div = sum(f["divergences"] > 0 for f in fits)
    rhat = sum(f["r_hat_max"] > 1.01 for f in fits)
    rhat_bad = sum(f["r_hat_max"] > 1.05 for f in fits)
    ess = sum(f["ess_bulk_min"] < doc["n_ranks"] for f in fits)
    seconds = sorted(f["seconds"] for f in fits)
    refused = doc.get("uplift_refused", 0)
    bench = doc.get("benchmark", {})
    worst = sorted(fits, key=lambda f: -f["r_hat_max"])[:5]
    s = doc["settings"]
    verdict = (
        "every quantity is consistent with uniform ranks"
        if doc["all_uniform"]
        else "some quantities are NOT uniform after the Holm correction"
    )
    inside = sum(q["inside_band"] for q in doc["quantities"])
    design = doc.get("design")
    where = (
        f"on the catalogue of {design['figures']} figures ({design['continuous_figures']} "
        f"continuous) and {design['enhancements']} enhancements (evidence "
        f"{design['evidence_sha256'][:12]})"
        if design
        else "on the catalogue shipped when it was run (its design was not recorded)"
    )
    summary = [
        f"- Run {where}.",
        f"- {n} fits, seed {doc['seed']}; each {s['chains']} chains x {s['draws']} draws after "
        f"{s['tune']} tuning steps, every {s['thin']}th draw kept: L = {doc['n_ranks']} "
        f"ranks 0..{doc['n_ranks']}; U(T) of scenario `{doc['scenario']}` at "
        f"{doc['horizon_months']:g} months.",
        f"- Verdict: {verdict} ({inside} of {len(doc['quantities'])} "
        "inside their simultaneous 95% band).",
        (
            f"- U(T) could not be simulated (the simulation's arrival limit) for "
            f"{refused} of {n} fits; its test uses the other {n - refused}."
            if refused
            else f"- U(T) was simulated for all {n} fits (none reached the arrival limit)."
        ),
        f"- Diagnostics: {div} of {n} fits had divergent transitions; {rhat} had an R-hat above "
        f"1.01 ({rhat_bad} above 1.05); {ess} had a bulk ESS below the {doc['n_ranks']} kept "
        "draws (over every sampled variable, the z-scores included).",
        "- Worst R-hat: "
        + "; ".join(
            f"fit {f['fit']} (seed {f['seed']}) {f['r_hat_max']:.2f} on {f['worst_r_hat']}"
            for f in worst
        )
        + ".",
        f"- Time: {bench.get('wall_seconds', doc['seconds']):.0f} s wall for the {n} fits "
        f"(model compiled once: {doc['compile_seconds']:.0f} s); per fit median "
        f"{seconds[n // 2]:.1f} s, 90th percentile {seconds[int(0.9 * (n - 1))]:.1f} s, "
        f"longest {seconds[-1]:.0f} s; {bench.get('machine', 'this machine')}, "
        f"{bench.get('date', '')}, shared with other work.",
    ]
    return {"sbc-table": "\n".join(rows), "sbc-summary": "\n".join(summary)}


def ppc_blocks(doc: dict) -> dict[str, str]:
    from forecast.core.units import fmt_both

    s = doc["summary"]
    lines = [
        f"- {s['n_figures']} continuous figures ({s['n_points']} points, {s['n_censored']} "
        f"censored); {len(doc['left_out'])} 'no gain' figures left out (they inform only the "
        "relevance hurdle).",
        f"- Mean PIT {s['mean_pit']:.2f} (0.5 if calibrated); {s['share_below_half']:.0%} of "
        f"the PIT values below 0.5; {s['points_below_0_4']} of {s['n_points']} points below 0.4.",
        f"- PIT values {'inside' if s['pit_inside_band'] else 'OUTSIDE'} the simultaneous 95% "
        f"uniformity band (p = {s['pit_band_p_value']:.3f}).",
        f"- The {s['n_points']} points alone (their PIT is not randomised): mean PIT "
        f"{s['points_mean_pit']:.2f}, "
        f"{'inside' if s['points_inside_band'] else 'OUTSIDE'} their 95% band "
        f"(p = {s['points_band_p_value']:.3f}).",
        f"- {s['n_unexplained']} figures the model cannot explain; {s['n_high_pareto_k']} with "
        "Pareto k > 0.7.",
        f"- Fit: the shipped catalogue with the default priors and sampler settings "
        f"(R-hat {doc['diagnostics']['r_hat_max']:.3f}, bulk ESS "
        f"{doc['diagnostics']['ess_bulk_min']:.0f}, {doc['diagnostics']['divergences']} "
        "divergences).",
    ]
    rows = [
        "| figure | kind | observed CEG | LOO 90% interval OOM | PIT | Pareto k | why |",
        "| --- | --- | ---: | --- | ---: | ---: | --- |",
    ]
    shown = [f for f in doc["figures"] if f["unexplained"]]
    for f in shown:
        sign = {"lower": "> ", "upper": "< "}.get(f["kind"], "")
        label = f["label"].replace("|", "/")
        rows.append(
            f"| {label} | {f['kind']} | {sign}{fmt_both(f['observed_oom'])} | "
            f"{f['loo_q05']:.2f} to {f['loo_q95']:.2f} | {f['pit']:.3f} | "
            f"{f['pareto_k']:.2f} | {'; '.join(f['reasons'])} |"
        )
    if not shown:
        rows = ["Every figure falls inside its leave-one-out 90% range with Pareto k <= 0.7."]
    return {"ppc-summary": "\n".join(lines), "ppc-table": "\n".join(rows)}


def backtest_block(doc: dict) -> str:
    rows = [
        "| pair | as of | months | actor | before | measured | forecast median | 50% interval "
        "| 90% interval | U(T) OOM, median (95%) | PIT | CRPS (no change) | verdict |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | --- | --- | --- | ---: | --- | --- |",
    ]
    for r in doc["pairs"]:
        approx = "~" if r["date_precision"] != "day" else ""
        rows.append(
            f"| `{r['pair']}` | {r['as_of']} | {r['months_after']:.1f}{approx} | {r['actor']} | "
            f"{r['before']:.0%} | {r['measured']:.0%} | {r['forecast_q50']:.0%} | "
            f"{r['forecast_q25']:.0%} to {r['forecast_q75']:.0%} | "
            f"{r['forecast_q05']:.0%} to {r['forecast_q95']:.0%} | "
            f"{r['uplift_q50_oom']:.2f} ({r['uplift_q95_oom']:.2f}) | {r['pit']:.2f} | "
            f"{r['crps']:.3f} ({r['crps_no_change']:.3f}) | {r['verdict']} |"
        )
    t = doc["totals"]
    lines = ["\n".join(rows), ""]
    if t["n"]:
        lines.append(
            f"Totals over {t['n']} pairs: {t['inside_50']} inside the 50% interval (a "
            f"calibrated forecast: {t['expected_50']:g} expected, 90% range "
            f"{t['range_50_if_calibrated'][0]}-{t['range_50_if_calibrated'][1]}); "
            f"{t['inside_90']} inside the 90% interval (expected {t['expected_90']:g}, range "
            f"{t['range_90_if_calibrated'][0]}-{t['range_90_if_calibrated'][1]}); mean CRPS "
            f"{t['mean_crps']:.3f} against {t['mean_crps_no_change']:.3f} for no change; mean "
            f"PIT {t['mean_pit']:.2f}."
        )
    for r in doc["pairs"]:
        d = r["diagnostics"]
        state = "passed its diagnostics" if d["ok"] else "FAILED: " + "; ".join(d["problems"])
        lines.append(
            f"\nFit for `{r['pair']}` (catalogue cut at {r['as_of']}, "
            f"{r['catalogue_enhancements']} enhancements): {state}."
        )
    for s in doc["skipped"]:
        lines.append(f"\nSkipped `{s['pair']}`: {s['why']}.")
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore")
    import numpy as np

    from forecast import api
    from forecast.checks import ppc
    from forecast.checks.backtest import backtest_all
    from forecast.core.writing import atomic_write_bytes, atomic_write_text
    from forecast.inputs.priors import fixed_value
    from forecast.report import calibration_plots
    from forecast.report.results import json_text

    log = lambda m: print(m, file=sys.stderr)  # noqa: E731

    # 1. SBC (from the saved run)
    sbc = json.loads((RESULTS / "sbc.json").read_text())
    names = [q["quantity"] for q in sbc["quantities"]]
    ranks = np.array([[-1 if r is None else r for r in sbc["ranks"][q]] for q in names]).T
    for name, draw in (
        ("sbc_ecdf.png", lambda out: calibration_plots.ecdf_difference(
            ranks, names, sbc["n_ranks"], sbc["seed"], sbc["quantities"], out)),
        ("sbc_ranks.png", lambda out: calibration_plots.rank_histograms(
            ranks, names, sbc["n_ranks"], out)),
    ):  # fmt: skip
        png = io.BytesIO()
        draw(png)
        atomic_write_bytes(IMG / name, png.getvalue())
    blocks = sbc_blocks(sbc)

    # 2. Leave-one-out PIT of the shipped catalogue's figures
    inputs = api.resolve(None)
    fitted = api.fit_evidence(inputs.catalogue, inputs.priors, table=inputs.table, log=log)
    loo = ppc.loo_pit(inputs.table, fitted.fit.draws, fixed_value(inputs.priors, "noise_dof"))
    loo["diagnostics"] = fitted.fit.diagnostics.to_dict()
    loo["fit_key"] = fitted.fit.key
    png = io.BytesIO()
    calibration_plots.pit_plot(loo, png, "Leave-one-out PIT of the shipped catalogue's figures")
    atomic_write_bytes(IMG / "loo_pit.png", png.getvalue())
    atomic_write_text(RESULTS / "loo-pit.json", json_text(loo))
    blocks |= ppc_blocks(loo)

    # 3. Backtest of every measurement pair
    back = backtest_all(log=log)
    atomic_write_text(RESULTS / "backtest.json", json_text(back))

    path = ROOT / "docs" / "calibration.md"
    text = path.read_text()
    for name, body in blocks.items():
        text = replace_block(text, name, body)
    atomic_write_text(path, text)
    path = ROOT / "docs" / "backtest.md"
    atomic_write_text(path, replace_block(path.read_text(), "backtest-table", backtest_block(back)))
    print("wrote docs/img/{sbc_ecdf,sbc_ranks,loo_pit}.png, docs/calibration.md, docs/backtest.md")


if __name__ == "__main__":
    main()
