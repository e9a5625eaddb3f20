"""Every number, table and figure in docs/ that comes from a run, produced from the code.

Run it after a change to the model, the data or the output:

    python docs/generate.py                  # full fits (cached after the first run)
    python docs/generate.py --quick          # small fits: checks that every block builds
    python docs/generate.py --docs DIR       # write into a copy of docs/ instead
    python docs/generate.py --list           # the names a marker may use
    python docs/generate.py --measure-tolerance   # refit with other fit seeds (slow)

Generated text sits between markers, so the prose around it stays hand-written:

    <!-- generated:NAME -->...<!-- /generated:NAME -->

NAME is either a **block** (a table, a JSON example, a command's output; ``--list``) or an
**inline value** ``DOC:PATH|FORMAT``: the value at PATH of the named run document (for
example ``run:buffer.oom|both`` is the default scenario's buffer as ``0.74 OOM (5.4x)``).
A PATH is dot-separated keys and list indices (``uplift.-1.q50``); ``evals[name=cyber-ctf]``
picks the list item whose ``name`` is ``cyber-ctf``. FORMAT is one of :data:`FORMATS`.

The figures (docs/img/*.png) are redrawn from the same runs. How far the numbers may move
between machines is measured by refitting with other fit seeds (``--measure-tolerance``,
docs/reproducibility.md); tests/test_docs.py holds the docs' headline values to a fresh
run within that tolerance.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = re.compile(
    r"<!-- generated:(?P<name>[^\s]+?) -->(?P<body>.*?)<!-- /generated:(?P=name) -->", re.S
)
#: The default fit seed and the other seeds ``--measure-tolerance`` refits with.
FIT_SEED = 20231212
TOLERANCE_SEEDS = (1, 2, 3, 4)
#: Small fit settings of ``--quick`` (the tests' size).
QUICK = {"draws": 150, "tune": 150, "chains": 2}
#: Blocks that only ``--measure-tolerance`` computes (a normal run leaves them as they are).
MEASURED = ("tolerance-table",)


# --------------------------------------------------------------------------- values


def _oom(x) -> str:
    return f"{x:.2f}"


def _both(x) -> str:
    from forecast.core.units import fmt_both

    return fmt_both(x)


def _mult(x) -> str:
    from forecast.core.units import fmt_multiplier

    return fmt_multiplier(x)


#: How an inline value is written.
FORMATS = {
    "oom": _oom,  # 0.74
    "both": _both,  # 0.74 OOM (5.4x)
    "mult": _mult,  # 5.4x
    "pct": lambda x: f"{x:.1%}",  # 5.7%
    "pct0": lambda x: f"{x:.0%}",  # 6%
    "f1": lambda x: f"{x:.1f}",
    "f2": lambda x: f"{x:.2f}",
    "f3": lambda x: f"{x:.3f}",
    "signed": lambda x: f"{x:+.2f}",  # +0.11
    "int": lambda x: f"{int(round(x)):,}",  # 1,005
    "text": str,
    "code": lambda x: f"`{x}`",  # inline code: a marker inside backticks would show as text
    "codeboth": lambda x: f"`{_both(x)}`",  # `0.74 OOM (5.4x)`
}


def lookup(doc, path: str):
    """The value at ``path`` in a document of dicts and lists (module docstring)."""
    value = doc
    for part in path.split("."):
        select = re.fullmatch(r"(?P<key>[^\[]+)\[(?P<field>[^=]+)=(?P<want>[^\]]+)\]", part)
        if select:
            items = value[select["key"]]
            matches = [i for i in items if str(i.get(select["field"])) == select["want"]]
            if len(matches) != 1:
                raise KeyError(f"{part}: {len(matches)} items match")
            value = matches[0]
        elif isinstance(value, list):
            value = value[int(part)]
        else:
            value = value[part]
    return value


def parse_inline(name: str) -> tuple[str, str, str] | None:
    """``DOC:PATH|FORMAT`` -> (doc, path, format); None for a block name."""
    match = re.fullmatch(r"(?P<doc>[a-z0-9-]+):(?P<path>[^|]+)\|(?P<fmt>[a-z0-9]+)", name)
    return (match["doc"], match["path"], match["fmt"]) if match else None


def first_number(text: str) -> float:
    """The first number written in ``text`` (``0.74 OOM (5.4x)`` -> 0.74; ``5.7%`` -> 0.057)."""
    match = re.search(r"[-+]?\d[\d,]*(\.\d+)?%?", text)
    if match is None:
        raise ValueError(f"no number in {text!r}")
    number = match.group()
    value = float(number.rstrip("%").replace(",", ""))
    return value / 100 if number.endswith("%") else value


# --------------------------------------------------------------------------- runs


class Runs:
    """The runs the docs quote, computed once each and only when a marker needs them."""

    def __init__(self, quick: bool = False, fit_seed: int = FIT_SEED):
        import dataclasses

        from forecast.buffer.forecasting import HISTORIES_SETTINGS

        self.quick = quick
        self._documents: dict = {}
        # The uplift model's settings (the catalogue model uses its own defaults, this seed).
        self.settings = dataclasses.replace(
            HISTORIES_SETTINGS, seed=fit_seed, **(QUICK if quick else {})
        )
        sizes = ["--fit-draws", str(self.settings.draws), "--fit-tune", str(self.settings.tune)]
        self.cli_fit = [
            *(sizes if quick else []),  # otherwise each model's own defaults, as a user gets
            "--chains",
            str(self.settings.chains),
            "--fit-seed",
            str(self.settings.seed),
            "-q",
        ]

    # -- results and documents

    def result(self, scenario: str = "frontier-api", **options):
        """A forecast with these settings (``priors`` as a tuple of pairs), made once."""
        from forecast import api

        key = ("result", scenario, tuple(sorted(options.items())))
        if key not in self._documents:
            priors = dict(options.pop("priors", ()))
            self._documents[key] = api.run_scenario(
                scenario, settings=self.settings, priors=priors, **options
            )
        return self._documents[key]

    def run_doc(self, scenario: str = "frontier-api", **options) -> dict:
        """The ``run --json`` document (with the explanation for the default scenario)."""
        from forecast.explain.explanation import explain
        from forecast.report.document import result_document

        key = ("run_doc", scenario, tuple(sorted(options.items())))
        if key not in self._documents:
            result = self.result(scenario, **options)
            plain = scenario == "frontier-api" and not options
            explanation = explain(result) if plain else None
            self._documents[key] = _plain(result_document(result, explanation))
        return self._documents[key]

    def _once(self, key: str, make):
        if key not in self._documents:
            self._documents[key] = make()
        return self._documents[key]

    @property
    def sensitivity(self) -> dict:
        """The full sensitivity ranking of the default scenario, as ``forecast sensitivity``
        computes it (refits where reweighting is unreliable)."""
        from forecast.explain.sensitivity import prior_sensitivity

        return self._once(
            "sensitivity", lambda: _plain(prior_sensitivity(self.result(), refit=True))
        )

    @property
    def catalogue_fit(self):
        """The default run's catalogue fit with its draws (a forecast reads only its summary)."""
        return self._once("catalogue_fit", lambda: self.result().fitted.with_draws().fit)

    @property
    def histories(self) -> dict:
        """Counts of the shipped histories and eval-slope groups (method.md section 2)."""
        return self._once("histories", lambda: histories_summary(self.result().inputs.histories))

    @property
    def profiles(self) -> list:
        from forecast.explain.review import profile_rows

        return self._once("profiles", lambda: _plain(profile_rows(self.result())))

    @property
    def prior_check(self) -> dict:
        from forecast.explain.prior_check import prior_check

        return self._once("prior_check", lambda: _plain(prior_check(self.result())))

    @property
    def evidence(self) -> dict:
        return self._once("evidence", lambda: self.cli_json("evidence", "list"))

    # -- the command line

    def cli(self, *args: str, fit: bool = True, code: int = 0) -> str:
        """What ``forecast ARGS`` prints on stdout (130 columns, no colour)."""
        from forecast.cli import common
        from forecast.cli.app import main

        argv = [*args, *(self.cli_fit if fit else [])]
        out = io.StringIO()
        saved = common.out
        common.out = type(saved)(
            file=out, width=130, highlight=False, soft_wrap=False, emoji=False, color_system=None
        )
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
                try:
                    main(argv)
                    status = 0
                except SystemExit as exc:
                    status = exc.code or 0
        finally:
            common.out = saved
        if status != code:
            raise RuntimeError(f"forecast {' '.join(argv)} exited {status}: {err.getvalue()}")
        return out.getvalue() if code == 0 else err.getvalue()

    def cli_json(self, *args: str, fit: bool = True) -> dict:
        return json.loads(self.cli(*args, "--json", fit=fit))

    # -- named documents for inline values

    def document(self, name: str):
        """The run document an inline value reads (:data:`DOCUMENTS`), made once."""
        if name not in self._documents:
            self._documents[name] = DOCUMENTS[name](self)
        return self._documents[name]


def histories_summary(table) -> dict:
    """What method.md says of the history table: counts, dates, ages (no fit)."""
    import datetime as dt

    import numpy as np

    from forecast.evidence.histories import DAYS_PER_YEAR, HISTORY_YEAR_ORIGIN

    def day(years: float) -> str:
        return (HISTORY_YEAR_ORIGIN + dt.timedelta(days=round(years * DAYS_PER_YEAR))).isoformat()

    lo, hi = table.year_range
    with_history = set(table.inc_suite.tolist())
    with_scaling = set(table.scale_suite.tolist())
    return {
        "snapshots": table.n_increments,
        "records": int(table.inc_record.sum()),
        "series": len(table.series),
        "history_suites": len(with_history),
        "scaling_pairs": table.n_scaling,
        "scaling_suites": len(with_scaling),
        "shared_suites": len(with_history & with_scaling),
        "first_date": day(lo),
        "last_date": day(hi),
        "max_age_months": float(table.inc_age.max()),
        "median_age_months": float(np.median(table.inc_age)),
        "elicited_min": float(table.inc_elicited.min()),
        "elicited_max": float(table.inc_elicited.max()),
        "skipped_pairs": len(table.skipped),
    }


def _prior_posterior(fit, priors, drives: str) -> dict:
    from forecast.explain.summaries import prior_posterior

    return {row["prior"]: row for row in _plain(prior_posterior(fit, priors, drives))}


def _plain(doc):
    """A document as JSON would give it back (tuples as lists, numpy scalars as numbers)."""
    from forecast.report.results import json_text

    return json.loads(json_text(doc))


#: Documents inline values may read: name -> how to make it from :class:`Runs`.
DOCUMENTS = {
    "run": lambda r: r.run_doc(),
    "prior-check": lambda r: r.prior_check,
    "sensitivity": lambda r: r.sensitivity,
    "evidence": lambda r: r.evidence,
    "histories": lambda r: r.histories,
    # tuning-priors.md's example: a prior of the uplift model, answered by reweighting
    "tuned": lambda r: r.run_doc(priors=(("elicitation_effect", TUNED_PRIOR),)),
    # priors.md's direct runs: the forecast-only prior and the trend modes it belongs to
    "damped": lambda r: r.run_doc(trend_mode="damped"),
    "damped-fade-short": lambda r: r.run_doc(
        trend_mode="damped", priors=(("trend_fade_years", "LogNormal(-0.69, 0.5)"),)
    ),
    "damped-fade-long": lambda r: r.run_doc(
        trend_mode="damped", priors=(("trend_fade_years", "LogNormal(0.69, 0.5)"),)
    ),
    "linear": lambda r: r.run_doc(trend_mode="linear"),
    "prior-posterior": lambda r: _prior_posterior(
        r.catalogue_fit, r.result().inputs.priors, "catalogue"
    ),
    "prior-posterior-histories": lambda r: _prior_posterior(
        r.result().fits.histories, r.result().fits.histories_priors, "histories"
    ),
    "what-drives": lambda r: {
        str(i): row
        for i, row in enumerate(
            _plain(__import__("forecast.explain.whatif", fromlist=["x"]).what_drives(r.result()))
        )
    },
}
#: The prior tuning-priors.md sets, and its value there.
TUNED_NAME, TUNED_PRIOR = "elicitation_effect", "HalfNormal(0.35)"


# --------------------------------------------------------------------------- blocks


def _table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    from forecast.report.text import md_table

    return "\n".join(md_table(headers, rows, right)).rstrip("\n")


def _json_block(doc, indent: int | None = 2) -> str:
    return "```json\n" + json.dumps(doc, indent=indent, ensure_ascii=False) + "\n```"


def _text_block(command: str, output: str) -> str:
    lines = [line.rstrip() for line in output.rstrip("\n").splitlines()]
    return "```text\n$ " + command + "\n" + "\n".join(lines) + "\n```"


def _round(doc, digits: int = 4):
    """Numbers rounded to ``digits`` significant digits (examples stay readable)."""
    if isinstance(doc, dict):
        return {k: _round(v, digits) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_round(v, digits) for v in doc]
    if isinstance(doc, float) and math.isfinite(doc) and doc != 0:
        return float(f"{doc:.{digits}g}")
    return doc


def block_eval_definitions(runs: Runs) -> str:
    """method.md section 7.3: P(cross) of the per-task eval under each reading."""
    sys.path.insert(0, str(HERE))
    from eval_definitions import definition_rows

    from forecast.inputs.scenarios import load_scenario
    from forecast.inputs.tasks import read_task_results

    result = runs.result()
    loaded = load_scenario("frontier-api")
    j, spec = next((j, e) for j, e in enumerate(loaded.scenario.evals) if e.tasks_file)
    tasks = read_task_results(loaded.resolve(spec.tasks_file))
    rows = definition_rows(
        spec,
        tasks,
        result.reported.oom,
        result.slope_population(),
        result.confidence,
        result.seed,
        j,
    )
    head = (
        f"`{result.scenario.name}`, eval `{spec.name}`, month {result.horizon_months}, "
        f"{result.confidence:.0%} confidence, forecast seed {result.seed}, "
        f"{result.uplift.oom.shape[0]} draws (uplift model fit: {runs.settings.chains} chains "
        f"x {runs.settings.draws} draws)."
    )
    return (
        head
        + "\n\n"
        + _table(
            [
                "a task passes when",
                "task rates",
                "P(cross)",
                "at the point estimate",
                "already met",
                "status",
            ],
            [
                [
                    r["definition"].removeprefix("a task passes when "),
                    r["pooling"],
                    f"{r['p_cross']:.2f}",
                    f"{r['p_cross_point_estimate']:.2f}",
                    f"{r['p_already_met']:.2f}",
                    r["status"],
                ]
                for r in rows
            ],
            right={2, 3, 4},
        )
    )


def block_run_recommendation(runs: Runs) -> str:
    """method.md section 11: the recommendation as ``forecast run`` prints it."""
    b = runs.run_doc()["buffer"]
    lo, hi = b["mc_interval_oom"]
    return (
        f"```\nSafety buffer: {_both(b['oom'])} of effective compute\n"
        f"= the {b['quantile']:.0%} quantile of uplift at month {b['month']} (Monte Carlo 90% "
        f"interval {lo:.2f} to {hi:.2f} OOM over {b['draws']} draws).\n```"
    )


def block_priors_table(runs: Runs) -> str:
    """priors.md: every default prior with its mean, median and 90% interval."""
    from forecast.inputs.priors import load_priors

    doc = runs.cli_json("priors", "show", fit=False)
    by_name = {p["name"]: p for p in doc["priors"]}
    rows = []
    for name, info in load_priors().items():
        p = by_name[name]
        lo, hi = p["interval_90"]
        median = _median(info.prior)
        rows.append(
            [
                f"`{name}`",
                p["distribution"],
                f"{p['mean']:.3g}",
                f"{median:.3g}",
                f"{lo:.3g} to {hi:.3g}",
                p["units"],
                p["drives"],
            ]
        )
    return _table(
        ["name", "distribution", "mean", "median", "90% interval", "units", "drives"],
        rows,
        right={2, 3},
    )


def _median(prior) -> float:
    return prior.params[0] if prior.dist == "Constant" else float(prior.scipy().median())


def block_sensitivity_table(runs: Runs) -> str:
    """priors.md: the full sensitivity ranking of the default scenario."""
    from forecast.report.text import VARIATION_LABELS, swing_text, variation_text

    sens = runs.sensitivity
    rows = [
        [f"`{r['prior']}`", r["drives"], swing_text(r)]
        + [variation_text(r, how) for how in VARIATION_LABELS]
        for r in sens["priors"]
    ]
    return _table(
        ["prior", "drives", "swing (OOM)", *VARIATION_LABELS.values()], rows, right={2, 3, 4, 5, 6}
    )


#: Direct runs of priors.md: the forecast-only prior under the trend modes (no refit).
PRIOR_RUNS = (
    ("`frozen` (the default)", "none", "run"),
    ("`damped`", "none", "damped"),
    ("`damped`", "`trend_fade_years=LogNormal(-0.69, 0.5)` (median half a year)",
     "damped-fade-short"),
    ("`damped`", "`trend_fade_years=LogNormal(0.69, 0.5)` (median 2 years)", "damped-fade-long"),
    ("`linear`", "none", "linear"),
)  # fmt: skip


def block_prior_runs(runs: Runs) -> str:
    """priors.md: direct runs of the default scenario, trend mode and forecast prior changed."""
    rows = []
    for mode, label, name in PRIOR_RUNS:
        doc = runs.document(name)
        rows.append([mode, label, f"{doc['buffer']['oom']:.2f}", f"{doc['uplift'][-1]['q50']:.2f}"])
    return _table(
        ["trend mode", "override", "buffer (OOM)", "median uplift at 12 months (OOM)"],
        rows,
        right={2, 3},
    )


SCENARIOS = (
    "frontier-api",
    "frontier-open-weights",
    "frontier-stolen-weights",
    "developer-continued",
    "gpt4-2023-03",
)


def block_scenarios_table(runs: Runs) -> str:
    """scenarios.md: the shipped scenarios side by side."""
    rows = []
    for name in SCENARIOS:
        doc = runs.run_doc(name)
        evals = {e["name"]: e for e in doc["evals"]}

        def p(eval_name, evals=evals):
            e = evals.get(eval_name)
            return f"{e['p_cross']:.1%} ({e['status']['state']})" if e else "-"

        autonomy = (
            p("autonomy-tasks")
            if "autonomy-tasks" in evals
            else ("; ".join(f"`{k}`: {p(k)}" for k in evals) or "-")
        )
        rows.append(
            [
                f"`{name}`",
                _both(doc["buffer"]["oom"]),
                _both(doc["uplift"][0]["q95"]),
                _both(doc["uplift"][-1]["q50"]),
                autonomy,
                p("cyber-ctf"),
            ]
        )
    return _table(
        [
            "scenario",
            "buffer",
            "95% uplift at month 0",
            "median uplift at 12 months",
            "P(cross) `autonomy-tasks`",
            "P(cross) `cyber-ctf`",
        ],
        rows,
    )


def block_json_run(runs: Runs) -> str:
    """json-schema.md: the run document, trimmed."""
    doc = json.loads(json.dumps(runs.run_doc()))
    doc["uplift"] = [doc["uplift"][0], doc["uplift"][-1]]
    for e in doc["evals"]:
        for key in ("p_cross_over_time", "months"):
            if key in e:
                e[key] = [e[key][0], "...", e[key][-1]]
        if "score_over_time" in e:
            e["score_over_time"] = {
                k: [v[0], "...", v[-1]] for k, v in e["score_over_time"].items()
            }
        if e.get("rates"):
            e["rates"] = [e["rates"][0], "..."]
    doc["policies"] = doc["policies"][:2]
    for p in doc["policies"]:
        p["quotes"] = p["quotes"][:1]
        reading = p["reading"]
        for q in [*p["quotes"], *reading["exceptions"], *reading["event_triggers"]]:
            q["text"] = "..."
        for key in ("exceptions", "event_triggers"):
            if len(reading[key]) > 1:
                reading[key] = [reading[key][0], "..."]
        if len(p["under_exceptions"]) > 1:
            p["under_exceptions"] = [p["under_exceptions"][0], "..."]
        reading["notes"] = "..."
        p["source"] = {k: "..." for k in p["source"]}
    doc["policies"].append("...")
    ex = doc.get("explanation")
    if ex:
        ex["summary"] = [ex["summary"][0], "..."]
        ex["rule"] = "..."
        first = next(iter(ex["part_labels"]))
        ex["part_labels"] = {first: ex["part_labels"][first], "...": "..."}
        for band in ex["decomposition"].values():
            if isinstance(band, dict) and "parts" in band:
                band["parts"] = [band["parts"][0], "..."]
        ex["headline"]["cite"] = "..."
        ex["tail_profile"] = [ex["tail_profile"][0], "..."]
        ex["most_sensitive"] = ex["most_sensitive"][:1] + ["..."]
    doc["reevaluation"] = {"2x": doc["reevaluation"]["2x"], "...": "..."}
    doc["provenance"]["scenario_file"] = ".../scenarios/frontier-api.yaml"
    for e in doc["evals"]:
        if e.get("tasks_file"):
            e["tasks_file"] = ".../scenarios/data/autonomy-tasks.csv"
    return _json_block(_round(doc))


def block_json_compare(runs: Runs) -> str:
    """json-schema.md: ``compare --json`` of two scenarios, trimmed."""
    doc = runs.cli_json("compare", "frontier-api", "frontier-open-weights")
    for s in doc["scenarios"]:
        s["policies"] = dict(list(s["policies"].items())[:1]) | {"...": "one per policy shown"}
    doc["scenarios"][1] = {"scenario": doc["scenarios"][1]["scenario"], "...": "the same fields"}
    return _json_block(_round(doc))


def block_json_evidence(runs: Runs) -> str:
    """json-schema.md: ``evidence list --json``, trimmed."""
    doc = json.loads(json.dumps(runs.evidence))
    first = next(e for e in doc["enhancements"] if e["id"] == "lats")
    keep = {k: first[k] for k in ("id", "category", "posterior_ceg")}
    hyper = doc["hyperparameters"]
    short = {
        "global_mean": hyper["global_mean"],
        "categories": {"tool": hyper["categories"]["tool"], "...": "one per category"},
        "arrival_rate_per_year": {
            "data": hyper["arrival_rate_per_year"]["data"],
            "...": "one per category",
        },
        "...": "the spreads (OOM summaries)",
    }
    for name in ("scale_slope", "ceg_trend", "composability_within", "composability_between"):
        if name in hyper:
            short[name] = hyper[name]
    out = {
        "enhancements": [keep | {"...": "..."}, "...one object per enhancement..."],
        "hyperparameters": short,
        "diagnostics": {"...": "as in run"},
    }
    return _json_block(_round(out))


def block_json_priors_check(runs: Runs) -> str:
    """json-schema.md: ``priors check --json``, trimmed."""
    doc = json.loads(json.dumps(runs.prior_check))
    doc["months"] = [doc["months"][0], "...", doc["months"][-1]]
    for side in ("prior", "posterior"):
        doc[side] = {k: [v[0], "...", v[-1]] for k, v in doc[side].items()}
    params = doc["prior_parameters"]
    first = next(iter(params))
    doc["prior_parameters"] = {
        first: params[first],
        "...": ", ".join(k for k in params if k != first),
    }
    doc["diagnostics"] = {"...": "as in run"}
    return _json_block(_round(doc))


def block_json_sensitivity(runs: Runs) -> str:
    """json-schema.md: ``sensitivity --json``, trimmed to the first prior and a fixed one."""
    doc = json.loads(json.dumps(runs.sensitivity))
    first = doc["priors"][0]
    first["variations"] = first["variations"][:2] + ["..."]
    fixed = next((r for r in doc["priors"] if r["prior"] == "noise_dof"), None)
    rows = [first, "..."]
    if fixed is not None:
        fixed["variations"] = fixed["variations"][:1] + ["..."]
        rows += [fixed, "..."]
    doc["priors"] = rows
    doc["diagnostics"] = {"...": "as in run"}
    return _json_block(_round(doc))


def block_json_export(runs: Runs) -> str:
    """json-schema.md: the files of the export bundle, from the code."""
    from forecast.report.export import BUNDLE_CONTENTS

    return _table(["file", "what it holds"], [[f"`{k}`", v] for k, v in BUNDLE_CONTENTS.items()])


# -- policies.md: the shipped rules and the comparison, as a user sees it


def block_policies_table(runs: Runs) -> str:
    """policies.md: every shipped rule, from its file (the reading in words, its exceptions
    and event triggers counted)."""
    from forecast.buffer.policies import reading_summary
    from forecast.inputs.policies import select_shipped

    rows = []
    for p in select_shipped(["all"]):
        r = p.rule
        counts = [
            f"{len(items)} {noun}{'s' if len(items) > 1 else ''}"
            for items, noun in (
                (r.reading.exceptions, "exception"),
                (r.reading.event_triggers, "event trigger"),
            )
            if items
        ]
        rows.append(
            [
                f"`{p.name}`",
                f"{r.title} ({r.date})",
                r.status,
                "yes" if r.verified else "**no**",
                reading_summary(r),
                ", ".join(counts) or "-",
            ]
        )
    return _table(
        ["name", "rule", "status", "verified", "this tool's reading", "also quoted"], rows
    )


def block_cli_run_policies(runs: Runs) -> str:
    """policies.md: the policy part of ``forecast run --policies all``, as printed."""
    lines = runs.cli("run", "--policies", "all").splitlines()
    start = next(i for i, line in enumerate(lines) if "Policy rules under this scenario" in line)
    end = next(i for i, line in enumerate(lines) if line.startswith("re-evaluation interval"))
    return _text_block("forecast run --policies all", "\n".join(lines[start:end]))


# -- tuning-priors.md: the command line, as a user sees it


def _trim_rows(output: str, keep) -> str:
    """A rich table with only the body rows ``keep(first cell)`` accepts (and the wrapped
    lines that belong to them); a line ``...`` marks what was cut."""
    out, keeping, cut = [], True, False
    for line in output.splitlines():
        if line.startswith("│"):
            first = line.split("│")[1].strip()
            if first:
                keeping = keep(first)
            if keeping:
                if cut:
                    out.append("...")
                    cut = False
                out.append(line)
            else:
                cut = True
            continue
        if cut:
            out.append("...")
            cut = False
        out.append(line)
    return "\n".join(out)


HEADLINE = ("buffer", "median_12", "autonomy", "cyber", "histories_fit", "overridden")


def _headline(doc: dict) -> str:
    """The headline figures of a run document as one JSON line (the ``jq`` filter of
    tuning-priors.md)."""
    evals = {e["name"]: e["p_cross"] for e in doc["evals"]}
    line = {
        "buffer": round(doc["buffer"]["oom"], 3),
        "median_12": round(doc["uplift"][-1]["q50"], 3),
        "autonomy": round(evals.get("autonomy-tasks", float("nan")), 3),
        "cyber": round(evals.get("cyber-ctf", float("nan")), 3),
        "histories_fit": doc["provenance"]["histories_fit"],
        "overridden": doc["provenance"]["priors_overridden"],
    }
    return json.dumps(line, separators=(",", ":"))


def block_cli_priors_check(runs: Runs) -> str:
    output = runs.cli("priors", "check")
    keep = _trim_rows(output, lambda first: first in ("0", "3", "6", "9", "12"))
    return (
        _text_block("forecast priors check", keep) + "\n\n(Months 1, 2, 4, 5, 7, 8, 10 and 11 cut.)"
    )


def block_cli_sensitivity(runs: Runs) -> str:
    output = runs.cli("sensitivity")
    order = [r["prior"] for r in runs.sensitivity["priors"]]
    shown = set(order[:6]) | {TUNED_NAME, "trend_fade_years"}
    return _text_block("forecast sensitivity", _trim_rows(output, lambda first: first in shown))


def block_cli_priors_show_one(runs: Runs) -> str:
    """tuning-priors.md: one prior as ``priors show --json`` gives it."""
    doc = runs.cli_json("priors", "show", fit=False)
    one = next(p for p in doc["priors"] if p["name"] == TUNED_NAME)
    command = f"forecast priors show --json | jq '.priors[] | select(.name == \"{TUNED_NAME}\")'"
    return _text_block(command, json.dumps(one, indent=2, ensure_ascii=False))


TUNED_ARG = f"'{TUNED_NAME}={TUNED_PRIOR.replace(' ', '')}'"
TUNED_FILE = "my-scenarios/frontier-api-tuned.yaml"


def block_cli_run_headlines(runs: Runs) -> str:
    lines = [
        '$ forecast run --json -q | jq -c "$F"',
        _headline(runs.run_doc()),
        f'$ forecast run --prior {TUNED_ARG} --json -q | jq -c "$F"',
        _headline(runs.document("tuned")),
    ]
    return "```text\n" + "\n".join(lines) + "\n```"


def block_cli_run_scenario_headline(runs: Runs) -> str:
    lines = [
        f"$ forecast scenarios validate {TUNED_FILE}",
        f"valid: {TUNED_FILE} (frontier-api-tuned)",
        f'$ forecast run {TUNED_FILE} --json -q | jq -c "$F"',
        _headline(runs.document("tuned")),
    ]
    return "```text\n" + "\n".join(lines) + "\n```"


@contextlib.contextmanager
def _tuned_scenario(prior: str = TUNED_PRIOR):
    """my-scenarios/frontier-api-tuned.yaml of tuning-priors.md, in a temporary folder."""
    import tempfile

    from forecast.inputs.scenarios import shipped_scenarios

    folder = Path(tempfile.mkdtemp(prefix="forecast-docs-"))
    try:
        source = shipped_scenarios()["frontier-api"]
        (folder / "my-scenarios" / "data").mkdir(parents=True)
        shutil.copy(source.parent / "data" / "autonomy-tasks.csv", folder / "my-scenarios" / "data")
        text = source.read_text()
        text = text.replace("name: frontier-api", "name: frontier-api-tuned", 1)
        text = text.replace("priors: {}", f"priors:\n  {TUNED_NAME}: {prior}")
        path = folder / TUNED_FILE
        path.write_text(text)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def block_cli_compare_tuned(runs: Runs) -> str:
    with _tuned_scenario() as path:
        output = runs.cli("compare", "frontier-api", str(path))
    return _text_block(f"forecast compare frontier-api {TUNED_FILE}", output)


def block_cli_bad_prior_block(runs: Runs) -> str:
    with _tuned_scenario("HalfNormal(0.35, 1)") as path:
        err = runs.cli("run", str(path), fit=False, code=2)
        err = " ".join(err.split()).replace(str(path), TUNED_FILE)
    return _text_block(
        f"forecast run {TUNED_FILE}      # with 'HalfNormal(0.35, 1)' in the block", err
    )


def block_drives_table(runs: Runs) -> str:
    """tuning-priors.md: which priors refit when changed."""
    from forecast.inputs.priors import load_priors

    names = {"forecast": [], "histories": [], "catalogue": []}
    for name, info in load_priors().items():
        names[info.drives].append(f"`{name}`")
    cost = {
        "forecast": "seconds: both fits are reused (shipped or cached) and only the forward "
        "simulation reruns",
        "histories": "the uplift model's shipped or cached fit under the default priors is "
        "reweighted to the new prior when that is reliable (Pareto k at most 0.7 and at least "
        "a sixth of the draws effective; seconds), else the uplift model is refitted (NUTS, 4 "
        "chains x 2,500 draws after 2,000 tuning steps: minutes) and cached under its own key",
        "catalogue": "the catalogue model is reweighted or refitted the same way (4 chains x "
        "1,500 draws; reweighting needs its draws in the cache, which the package does not "
        "ship); the forecast changes only if the summary it hands on, the prior of "
        "catalogue_gain, changes at two decimals, and then the uplift model is reweighted or "
        "refitted to it",
    }
    return _table(
        ["drives", "priors", "what an override costs"],
        [[k, ", ".join(v), cost[k]] for k, v in names.items()],
    )


def block_cli_priors_check_tuned(runs: Runs) -> str:
    value = TUNED_PRIOR.replace(" ", "")
    output = runs.cli("priors", "check", "--prior", f"{TUNED_NAME}={value}")
    last = output.rstrip("\n").splitlines()[-1]
    return _text_block(f"forecast priors check --prior {TUNED_ARG}", "...\n" + last)


def block_cli_support_errors(runs: Runs) -> str:
    commands = [
        ("run", "--prior", "elicitation_effect=-0.2"),
        ("run", "--prior", "elicitation_effect=Normal(0.3,0.2)"),
        ("run", "--prior", "increment_share=Uniform(0.5,1.5)"),
        ("priors", "show", "--prior", "elicitaton_effect=0.5"),
    ]
    shown = []
    for argv in commands:
        err = runs.cli(*argv, fit=False, code=2)
        quoted = " ".join(f"'{a}'" if "(" in a else a for a in argv)
        shown.append(f"$ forecast {quoted}\n" + " ".join(err.split()))
    return "```text\n" + "\n".join(shown) + "\n```"


FIT_KEYS_CODE = """\
from forecast.buffer.forecasting import HISTORIES_SETTINGS
from forecast.fit.catalogue import catalogue_spec
from forecast.fit.engine import FitSettings
from forecast.fit.histories import histories_spec
from forecast.inputs.resolve import resolve

inputs = resolve()  # the default scenario and the shipped evidence
for override in ({}, {"trend_fade_years": "LogNormal(0.69, 0.5)"},
                 {"elicitation_effect": "HalfNormal(0.35)"},
                 {"composability_within": "Beta(2, 3)"}):
    p = inputs.priors.with_overrides(override)
    catalogue = catalogue_spec(inputs.table, p).key(p, FitSettings())
    uplift = histories_spec(inputs.histories, p).key(p, HISTORIES_SETTINGS)
    print(override, "catalogue", catalogue[:12], "uplift", uplift[:12])
"""


def block_fit_keys(runs: Runs) -> str:
    """tuning-priors.md: the code that shows which overrides change the fit's key, and what
    it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(FIT_KEYS_CODE, {"__name__": "fit_keys"})  # noqa: S102
    printed = "".join(f"# {line}\n" for line in out.getvalue().splitlines())
    return "```python\n" + FIT_KEYS_CODE + printed + "```"


def block_tolerance_table(runs: Runs) -> str:
    """reproducibility.md: the headline values refitted with other fit seeds."""
    values = measure_tolerance(runs, getattr(runs, "docs", HERE))
    seeds = [FIT_SEED, *TOLERANCE_SEEDS]
    rows = []
    for name, (fmt, per_seed) in values["values"].items():
        spread = max(per_seed) - min(per_seed)
        cells = [FORMATS[fmt](v) for v in per_seed]
        rows.append([name, *cells, FORMATS[fmt](spread) if fmt != "pct" else f"{spread:.1%}"])
    table = _table(
        ["value", *(f"seed {s}" for s in seeds), "range"], rows, right=set(range(1, len(seeds) + 2))
    )
    return (
        table
        + "\n\n"
        + f"Tolerance used by tests/test_docs.py for the {values['checked']} OOM values and "
        "probabilities the docs quote from the default scenario: OOM values within "
        f"<!-- generated:tolerance:oom|f2 -->{values['oom']:.2f}"
        "<!-- /generated:tolerance:oom|f2 -->"
        f" OOM, probabilities within "
        f"<!-- generated:tolerance:probability|f2 -->{values['probability']:.2f}"
        f"<!-- /generated:tolerance:probability|f2 --> (the largest range over the fit seeds of "
        "any of them, rounded up to 0.01; the table shows the headline ones)."
    )


#: The headline values whose spread over fit seeds sets the tolerance: label, doc, path, format.
TOLERANCE_VALUES = (
    ("buffer (OOM)", "run", "buffer.oom", "oom"),
    ("median uplift at 12 months (OOM)", "run", "uplift.-1.q50", "oom"),
    ("95% uplift at month 0 (OOM)", "run", "uplift.0.q95", "oom"),
    ("priors-alone buffer (OOM)", "run", "buffer.prior_only_oom", "oom"),
    ("P(cross) autonomy-tasks", "run", "evals[name=autonomy-tasks].p_cross", "pct"),
    ("P(cross) cyber-ctf", "run", "evals[name=cyber-ctf].p_cross", "pct"),
)


#: Inline formats held to a fresh run by tests/test_docs.py, and the tolerance each uses.
CHECKED_FORMATS = {"oom": "oom", "both": "oom", "pct": "probability", "pct0": "probability"}
#: The run documents whose quoted values tests/test_docs.py checks against a fresh run.
CHECKED_DOCUMENTS = ("run", "prior-check")


def checked_values(docs: Path) -> list[tuple[str, str, str, str]]:
    """Every inline value the docs quote that tests/test_docs.py holds to a fresh run:
    (file name, document, path, format) of the markers of :data:`CHECKED_DOCUMENTS` with a
    format of :data:`CHECKED_FORMATS`, each once."""
    found = {}
    for path in sorted(docs.glob("*.md")):
        for name, _ in markers(path.read_text()):
            inline = parse_inline(name)
            if inline and inline[0] in CHECKED_DOCUMENTS and inline[2] in CHECKED_FORMATS:
                found.setdefault(inline, path.name)
    return [(where, *inline) for inline, where in found.items()]


def measure_tolerance(runs: Runs, docs: Path = HERE) -> dict:
    """Refit with :data:`TOLERANCE_SEEDS` and measure how far the values the docs quote
    move: the tolerance of each kind (OOM, probability) is the largest range over the fit
    seeds of any value of that kind (:func:`checked_values` and the table's
    :data:`TOLERANCE_VALUES`), rounded up to 0.01."""
    others = [Runs(runs.quick, fit_seed=seed) for seed in TOLERANCE_SEEDS]
    every = [runs, *others]
    values = {}
    ranges = {"oom": 0.0, "probability": 0.0}
    for label, doc, path, fmt in TOLERANCE_VALUES:
        seen = [float(lookup(r.document(doc), path)) for r in every]
        values[label] = (fmt, seen)
        kind = CHECKED_FORMATS.get(fmt)
        if kind is not None:
            ranges[kind] = max(ranges[kind], max(seen) - min(seen))
    for _, doc, path, fmt in checked_values(docs):
        seen = [float(lookup(r.document(doc), path)) for r in every]
        kind = CHECKED_FORMATS[fmt]
        ranges[kind] = max(ranges[kind], max(seen) - min(seen))
    return {
        "values": values,
        "oom": math.ceil(ranges["oom"] * 100 - 1e-9) / 100,
        "probability": math.ceil(ranges["probability"] * 100 - 1e-9) / 100,
        "checked": len(checked_values(docs)),
    }


def block_api_outputs(runs: Runs) -> dict[str, str]:
    """docs/api.md: the output of each code block, from running the blocks in order."""
    text = (HERE / "api.md").read_text()
    outputs = run_api_blocks(text)
    return {
        f"api-output-{i}": "```text\n" + out.rstrip("\n") + "\n```" for i, out in outputs.items()
    }


def api_blocks(text: str) -> list[str]:
    """The ``python`` code blocks of a Markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", text, re.S)


def run_api_blocks(text: str, folder: Path | None = None) -> dict[int, str]:
    """Run the python blocks of docs/api.md in one namespace, in ``folder`` (a temporary
    one by default: the example writes files); block i's printed output."""
    import os
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": "api_md"}
    outputs = {}
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="forecast-api-md-") as tmp:
        os.chdir(folder or tmp)
        try:
            for i, code in enumerate(api_blocks(text), start=1):
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(code, f"docs/api.md block {i}", "exec"), namespace)  # noqa: S102
                outputs[i] = out.getvalue()
        finally:
            os.chdir(here)
    return outputs


def block_prior_posterior(runs: Runs, document: str = "prior-posterior") -> str:
    """method.md section 4: every catalogue prior beside its posterior, with the contraction."""
    rows = [
        [
            r["prior"],
            r["distribution"],
            f"{r['prior_interval_90'][0]:.2f} to {r['prior_interval_90'][1]:.2f}",
            f"{r['posterior_mean']:.2f}",
            f"{r['posterior_interval_90'][0]:.2f} to {r['posterior_interval_90'][1]:.2f}",
            f"{r['contraction']:.2f}",
        ]
        for r in runs.document(document).values()
    ]
    return _table(
        ["prior", "default", "prior 90%", "posterior mean", "posterior 90%", "contraction"],
        rows,
        right={3, 5},
    )


def block_prior_posterior_histories(runs: Runs) -> str:
    """method.md section 6.9: every prior of the uplift model beside its posterior."""
    return block_prior_posterior(runs, "prior-posterior-histories")


def block_what_drives(runs: Runs) -> str:
    """method.md section 9: the buffer with one assumption changed at a time."""
    rows = [
        [r["change"], f"{r['buffer_oom']:.2f} OOM", f"{r['difference_oom']:+.2f}"]
        for r in runs.document("what-drives").values()
    ]
    return _table(
        ["what was changed, all else equal", "95% buffer, frontier-api", "difference"],
        rows,
        right={1, 2},
    )


def _curve(runs: Runs, name: str, alt: str, draw) -> str:
    """Draw a figure into the docs' img folder; the Markdown that shows it."""
    folder = getattr(runs, "docs", HERE) / "img"
    folder.mkdir(parents=True, exist_ok=True)
    draw(folder / name)
    return f"![{alt}](img/{name})"


def block_reference_date_curve(runs: Runs) -> str:
    from forecast.core.errors import InputError
    from forecast.explain.whatif import reference_date_curve
    from forecast.report import plots

    result, doc = runs.result(), runs.run_doc()
    rows, beyond = [], []
    # 2023 to 2029: under `linear` the buffer grows without bound with the date (hundreds of OOM
    # by 2032), which no chart of the other modes can show beside it
    for year in range(2023, 2030):  # a year the simulation refuses is named, not drawn
        try:
            rows += reference_date_curve(result, years=[year])
        except InputError:
            beyond.append(str(year))
    note = f"\nnot drawn: {', '.join(beyond)} (refused by the simulation)" if beyond else ""
    modes = {
        "frozen": "trend frozen past the histories (the default)",
        "damped": "damped (fades over trend_fade_years)",
        "linear": "linear (continues)",
    }
    return _curve(
        runs,
        "buffer_vs_date.png",
        "The 95% buffer of frontier-api against the base model's reference date under each "
        "trend mode",
        lambda path: plots.curve_chart(
            rows,
            "reference_date",
            modes,
            path,
            f"The buffer against the base model's reference date: {doc['title']}",
            plots.caption(doc) + note,
            "reference date of the base model (month 0)",
            mark=(doc["base_model"]["reference_date"], doc["buffer"]["oom"], "as run"),
        ),
    )


def block_age_curve(runs: Runs) -> str:
    """method.md section 9: the buffer against the model's age at its evaluation."""
    from forecast.explain.whatif import age_curve
    from forecast.report import plots

    result, doc = runs.result(), runs.run_doc()
    rows = runs._once("age-curve", lambda: age_curve(result))
    return _curve(
        runs,
        "buffer_vs_age.png",
        "The 95% buffer of frontier-api against the model's age at its evaluation",
        lambda path: plots.curve_chart(
            rows,
            "age_months",
            {"buffer_oom": "the default assumptions"},
            path,
            f"The buffer against the model's age at its evaluation: {doc['title']}",
            plots.caption(doc),
            "months from the model's release to its evaluation",
            mark=(0, doc["buffer"]["oom"], "as run"),
        ),
    )


def block_worked_example(runs: Runs) -> str:
    """method.md section 12: the recommendation and what it rests on, in words."""
    from forecast.explain.decompose import PARTS

    doc = runs.run_doc()
    ex = doc["explanation"]
    tail, median = ex["decomposition"]["tail"], ex["decomposition"]["median"]
    parts = "; ".join(f"{PARTS[p['part']]} {p['oom']:+.2f} OOM" for p in tail["parts"])
    gap = ex["buffer_oom"] - ex["prior_only_buffer_oom"]
    movers = [f"`{r['prior']}`" for r in runs.sensitivity["priors"][:3]]
    unsettled = [f"`{m['prior']}`" for m in ex["unsettled"]]
    profiles = {r["profile"]: r for r in runs.profiles if "error" not in r}
    lines = [
        block_run_recommendation(runs),
        "",
        f"- **Why this buffer.** The draws at and above the {doc['confidence']:.0%} quantile "
        f"have a mean uplift of {tail['mean_uplift_oom']:.2f} OOM from about "
        f"{tail['mean_events']:.0f} improvement events of {tail['mean_increment_oom']:.2f} OOM "
        f"each on average, split into {parts}. In the median band the uplift is "
        f"{median['mean_uplift_oom']:.2f} OOM (about {median['mean_events']:.0f} events), and "
        f"{ex['share_of_draws_without_uplift']:.0%} of the draws have none at all.",
        f"- **What the number rests on.** The priors alone give "
        f"{_both(ex['prior_only_buffer_oom'])}: the "
        + (
            f"evidence {'raises' if gap > 0 else 'lowers'} the buffer by {abs(gap):.2f} OOM"
            if abs(gap) >= 0.05
            else "evidence barely moves it, so the buffer rests on the priors"
        )
        + ". "
        + (
            "Assumptions the evidence does not settle: " + ", ".join(unsettled) + ". "
            if unsettled
            else ""
        )
        + f"The full sensitivity ranking puts {', '.join(movers[:-1])} and {movers[-1]} "
        "first.",
    ]
    if "cautious" in profiles and "optimistic" in profiles:
        lines.append(
            f"- **The range.** `forecast explain` gives "
            f"{_both(profiles['cautious']['buffer_oom'])} under the cautious profile and "
            f"{_both(profiles['optimistic']['buffer_oom'])} under the optimistic one."
        )
    return "\n".join(lines)


#: Block name -> how it is made (``--list``).
BLOCKS = {
    "eval-definitions": block_eval_definitions,
    "run-recommendation": block_run_recommendation,
    "priors-table": block_priors_table,
    "sensitivity-table": block_sensitivity_table,
    "prior-runs-table": block_prior_runs,
    "scenarios-table": block_scenarios_table,
    "json-run": block_json_run,
    "json-compare": block_json_compare,
    "json-evidence-list": block_json_evidence,
    "json-priors-check": block_json_priors_check,
    "json-sensitivity": block_json_sensitivity,
    "export-files": block_json_export,
    "cli-priors-check": block_cli_priors_check,
    "cli-sensitivity": block_cli_sensitivity,
    "cli-priors-show-one": block_cli_priors_show_one,
    "cli-run-headlines": block_cli_run_headlines,
    "cli-run-scenario-headline": block_cli_run_scenario_headline,
    "cli-compare-tuned": block_cli_compare_tuned,
    "cli-priors-check-tuned": block_cli_priors_check_tuned,
    "cli-support-errors": block_cli_support_errors,
    "cli-bad-prior-block": block_cli_bad_prior_block,
    "drives-table": block_drives_table,
    "fit-keys": block_fit_keys,
    "tolerance-table": block_tolerance_table,
    "prior-posterior": block_prior_posterior,
    "prior-posterior-histories": block_prior_posterior_histories,
    "what-drives": block_what_drives,
    "reference-date-curve": block_reference_date_curve,
    "age-curve": block_age_curve,
    "worked-example": block_worked_example,
    "policies-table": block_policies_table,
    "cli-run-policies": block_cli_run_policies,
}


# --------------------------------------------------------------------------- figures


def figures(runs: Runs, folder: Path) -> list[Path]:
    """docs/img: the figures of the default scenario, as the export bundle draws them."""
    from forecast.explain.explanation import explain
    from forecast.report import plots

    folder.mkdir(parents=True, exist_ok=True)
    doc = runs.run_doc()
    title = doc["title"]
    result = runs.result()
    sens = runs.sensitivity
    drawn = {
        "fan_chart.png": lambda p: plots.fan_chart(doc, p),
        "p_cross.png": lambda p: plots.p_cross_chart(doc, p),
        "tornado.png": lambda p: plots.tornado_chart(
            sens["priors"],
            sens["buffer_oom"],
            p,
            f"Sensitivity of the buffer to each prior: {title}",
            plots.caption(doc),
        ),
        "decomposition.png": lambda p: plots.decomposition_chart(
            explain(result, sensitivity=runs.sensitivity),
            p,
            f"Where the uplift at the horizon comes from: {title}",
            plots.caption(doc),
        ),
        "profiles.png": lambda p: plots.profiles_chart(
            runs.profiles,
            p,
            f"The buffer under each assumption profile: {title}",
            plots.caption(doc, profile=False),
        ),
    }
    written = []
    for name, draw in drawn.items():
        draw(folder / name)
        written.append(folder / name)
    return written


# --------------------------------------------------------------------------- the docs


FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)


def _in_fence(text: str):
    """A test of whether a position of ``text`` lies inside a fenced code block (a marker
    written there is an example, not a marker)."""
    spans = [m.span() for m in FENCE.finditer(text)]
    return lambda pos: any(a <= pos < b for a, b in spans)


def marker_matches(text: str) -> list[re.Match]:
    """The markers of ``text`` outside fenced code blocks."""
    inside = _in_fence(text)
    return [m for m in MARKER.finditer(text) if not inside(m.start())]


def markers(text: str) -> list[tuple[str, str]]:
    """(name, body) of every generated block or value in ``text``."""
    return [(m["name"], m["body"]) for m in marker_matches(text)]


def _source(name: str) -> str:
    """The block or document a marker is made from."""
    inline = parse_inline(name)
    return inline[0] if inline else name


def render(name: str, runs: Runs, api_outputs: dict) -> str:
    """The text a marker holds."""
    inline = parse_inline(name)
    if inline is not None:
        doc, path, fmt = inline
        if doc == "tolerance":
            raise KeyError("tolerance values are written by --measure-tolerance")
        return FORMATS[fmt](lookup(runs.document(doc), path))
    if name.startswith("api-output-"):
        return "\n" + api_outputs[name] + "\n"
    return "\n" + BLOCKS[name](runs) + "\n"


#: Blocks of calibration.md and backtest.md written by docs/calibration.py (from the saved
#: SBC run, the leave-one-out PIT and the backtest); this script leaves them alone.
CALIBRATION_BLOCKS = frozenset(
    {"sbc-summary", "sbc-table", "ppc-summary", "ppc-table", "cv-summary", "backtest-source",
     "cv-table", "cv-folds", "cuts-table", "misses-table"}
)  # fmt: skip


def generate(
    docs: Path,
    runs: Runs,
    measure: bool = False,
    skip=frozenset(),
    log=print,
    draw: bool = True,
) -> list[Path]:
    """Fill every marker of every Markdown file in ``docs`` (and README.md beside it) and
    redraw docs/img; returns the files changed. Markers of the blocks and documents named
    in ``skip`` are left as they are (the quick test skips those that need a refit);
    ``draw`` False leaves the figures alone."""
    runs.docs = docs
    files = sorted(docs.glob("*.md"))
    readme = docs.parent / "README.md"
    if readme.is_file():
        files.append(readme)
    api_outputs: dict = {}
    if any("generated:api-output-" in f.read_text() for f in files):
        api_outputs = block_api_outputs(runs) if (docs / "api.md").is_file() else {}
    changed = []
    for path in files:
        text = path.read_text()
        names = [name for name, _ in markers(text)]
        if not names:
            continue

        inside = _in_fence(text)

        def fill(match, path=path, inside=inside):
            name = match["name"]
            if inside(match.start()) or _source(name) in skip or name in CALIBRATION_BLOCKS:
                return match.group(0)
            if (name in MEASURED or name.startswith("tolerance:")) and not measure:
                return match.group(0)
            if name.startswith("tolerance:"):
                return match.group(0)  # written inside the tolerance table
            try:
                body = render(name, runs, api_outputs)
            except Exception as exc:
                raise RuntimeError(f"{path.name}: generated:{name}: {exc!r}") from exc
            return f"<!-- generated:{name} -->{body}<!-- /generated:{name} -->"

        new = MARKER.sub(fill, text)
        if new != text:
            path.write_text(new)
            changed.append(path)
            log(f"updated {path} ({len(names)} generated parts)")
    if draw:
        changed += figures(runs, docs / "img")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small fits (150 x 2 chains)")
    parser.add_argument("--docs", type=Path, default=HERE, help="the docs folder to fill")
    parser.add_argument(
        "--measure-tolerance",
        action="store_true",
        help="also refit with other fit seeds and write the tolerance table",
    )
    parser.add_argument("--list", action="store_true", help="print the names a marker may use")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this block or document as it is (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.list:
        print("blocks:", ", ".join(BLOCKS))
        print("documents (DOC:PATH|FORMAT):", ", ".join(DOCUMENTS))
        print("formats:", ", ".join(FORMATS))
        return 0
    import warnings

    warnings.filterwarnings("ignore")
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    generate(args.docs, Runs(quick=args.quick), measure=args.measure_tolerance, skip=set(args.skip))
    return 0


if __name__ == "__main__":
    sys.exit(main())
