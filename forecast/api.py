"""The library API: what the CLI calls, and what a notebook user can call too.

Each function returns plain data (dataclasses, dicts, numpy arrays); none prints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from forecast import __version__, cache
from forecast.buffer import STANDARD_BUFFERS, reevaluation_months
from forecast.errors import InputError
from forecast.evals import evaluate_scenario
from forecast.evidence import EvidenceTable, build_table, load_catalogue
from forecast.fit import Fit, FitSettings, fit
from forecast.priors import PriorSet, load_priors
from forecast.schemas import CATEGORIES, Catalogue, Scenario
from forecast.simulate import Uplift, setup_forecast, simulate_uplift
from forecast.units import plain_summary, quantile_summary


@dataclasses.dataclass(frozen=True)
class FittedEvidence:
    """A catalogue, its model arrays and the fit of the CEG model."""

    catalogue: Catalogue
    table: EvidenceTable
    priors: PriorSet
    fit: Fit


def priors_with(
    overrides: Mapping[str, str | float] | None = None, origin: str = "--prior"
) -> PriorSet:
    """The default priors with ``overrides`` (name -> ``Beta(2,5)`` or a number) on top."""
    priors = load_priors()
    return priors.with_overrides(overrides, origin) if overrides else priors


def fit_evidence(
    evidence: str | Path | None = None,
    shipped: bool = True,
    priors: PriorSet | None = None,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
    catalogue: Catalogue | None = None,
) -> FittedEvidence:
    """Load the catalogue (shipped, plus ``evidence`` on top) and fit it (or reuse the cache)."""
    catalogue = catalogue or load_catalogue(evidence, shipped=shipped)
    table = build_table(catalogue)
    priors = priors or load_priors()
    result = fit(table, priors, settings, use_cache=use_cache, progress=progress, log=log)
    return FittedEvidence(catalogue, table, priors, result)


def enhancement_rows(
    catalogue: Catalogue, fitted: Fit | None = None, at_flop: float | None = None
) -> list[dict]:
    """One record per enhancement: its facts, its observations and its posterior CEG.

    ``posterior_ceg`` is the published-scale CEG at the reference base model (1e23 FLOP), in
    OOM and as a multiplier, with a 90% interval; None without a fit. With ``at_flop``,
    ``posterior_at_flop`` gives the same for a base model of that many training FLOP
    (:func:`forecast.gains.gain_at_compute`). Every figure carries ``in_fit``,
    ``independent``, ``origin``, ``reference`` and ``quote``.
    """
    from forecast.gains import gain_at_compute

    rows = []
    for e in catalogue.enhancements:
        posterior = at_scale = None
        if fitted is not None and e.id in fitted.enhancement_ids:
            index = fitted.enhancement_index(e.id)
            posterior = quantile_summary(fitted.draws["ceg_oom"][:, index])
            if at_flop is not None:
                log10_flop = float(np.log10(at_flop))
                at_scale = {
                    "flop": float(at_flop),
                    "log10_flop": log10_flop,
                    **quantile_summary(gain_at_compute(fitted.draws, index, log10_flop)),
                }
        rows.append(
            {
                "id": e.id,
                "name": e.name,
                "category": e.category,
                "published": e.published.isoformat(),
                "access": e.access,
                "origin": e.origin,
                "one_time_cost": _bound(e.one_time_cost),
                "inference_cost": _bound(e.inference_cost),
                "source": e.source,
                "observations": [_observation(o) for o in e.observations],
                "combinations": [
                    _observation(c)
                    | {"id": c.id, "members": list(c.members), "baseline": list(c.baseline)}
                    for c in catalogue.combinations
                    if e.id in c.members
                ],
                "posterior_ceg": posterior,
                **({"posterior_at_flop": at_scale} if at_flop is not None else {}),
            }
        )
    return rows


def _bound(b) -> dict | None:
    if b is None:
        return None
    return {"kind": b.kind, "text": b.describe()} | {
        k: getattr(b, k) for k in ("point", "lower", "upper") if getattr(b, k) is not None
    }


def _observation(o) -> dict:
    ceg = _bound(o.ceg)
    values = [v for k in ("point", "lower", "upper") if (v := getattr(o.ceg, k)) is not None]
    ceg["oom"] = [float(np.log10(v)) for v in values]
    return {
        "benchmark": o.benchmark,
        "domain": o.domain,
        "ceg": ceg,
        "no_gain": o.no_gain,
        "base_compute_flop": o.base_compute_flop,
        "in_fit": o.in_fit,
        "independent": o.independent,
        "origin": o.origin,
        "reference": o.reference,
        "quote": o.quote,
        "where": o.where,
        "notes": o.notes,
    }


def hyperparameter_summary(fitted: Fit) -> dict:
    """Posterior of the global mean, each category mean and the scalar parameters."""
    draws = fitted.draws
    out = {
        "global_mean": quantile_summary(draws["ceg_global_mean"]),
        "categories": {
            c: quantile_summary(draws["category_mean"][:, k]) for k, c in enumerate(CATEGORIES)
        },
        "arrival_rate_per_year": {
            c: plain_summary(draws["arrival_rate"][:, k]) for k, c in enumerate(CATEGORIES)
        },
    }
    for name in (
        "category_spread",
        "enhancement_spread",
        "benchmark_spread",
        "observation_noise",
    ):
        out[name] = quantile_summary(draws[name])
    # not in OOM: slopes, a trend per year and discount factors
    for name in ("scale_slope", "ceg_trend", "composability_within", "composability_between"):
        out[name] = plain_summary(draws[name])
    return out


# --------------------------------------------------------------------------- forecasts


@dataclasses.dataclass(frozen=True)
class ForecastResult:
    """A scenario's forecast: uplift over time, the buffer, and everything behind them.

    ``uplift`` may extend past the horizon (to the policies' re-evaluation periods);
    :attr:`reported` is the part up to the horizon.
    """

    scenario: Scenario
    scenario_path: Path
    actor: str
    horizon_months: int
    confidence: float
    seed: int
    uplift: Uplift
    fitted: FittedEvidence
    evals: list[dict]
    policies: list[dict]
    reevaluation: dict[str, dict]
    provenance: dict

    @property
    def horizon_index(self) -> int:
        return int(np.flatnonzero(self.uplift.times_months == self.horizon_months)[0])

    @property
    def reported(self) -> Uplift:
        end = self.horizon_index + 1
        u = self.uplift
        return Uplift(u.times_months[:end], u.oom[:, :end], u.arrivals[:, :end], u.elicited_oom)

    @property
    def buffer_oom(self) -> float:
        """The ``confidence`` quantile of U at the horizon, in OOM."""
        return float(np.quantile(self.uplift.oom[:, self.horizon_index], self.confidence))

    def buffer_interval(self, mass: float = 0.9) -> tuple[float, float]:
        """Monte Carlo interval of the buffer quantile (order statistics of the draws)."""
        return quantile_mc_interval(self.uplift.oom[:, self.horizon_index], self.confidence, mass)


def quantile_mc_interval(samples: np.ndarray, q: float, mass: float = 0.9) -> tuple[float, float]:
    """Distribution-free interval for the q-quantile from the order statistics.

    The rank of the q-quantile among n draws is Binomial(n, q); its normal approximation
    gives the ranks that bracket the true quantile with probability ``mass``.
    """
    from statistics import NormalDist

    x = np.sort(np.asarray(samples))
    n = len(x)
    z = NormalDist().inv_cdf((1 + mass) / 2)
    half = z * np.sqrt(n * q * (1 - q))
    lo, hi = int(np.floor(n * q - half)), int(np.ceil(n * q + half))
    return float(x[min(max(lo, 0), n - 1)]), float(x[min(max(hi, 0), n - 1)])


def run_scenario(
    scenario: str | Path | None = None,
    horizon_months: int | None = None,
    confidence: float | None = None,
    actor: str | None = None,
    seed: int = 0,
    draws: int | None = None,
    priors: Mapping[str, str | float] | None = None,
    evidence: str | Path | None = None,
    shipped_evidence: bool = True,
    as_of: dt.date | None = None,
    settings: FitSettings = FitSettings(),
    use_cache: bool = True,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
    reference_date: dt.date | None = None,
    policy_select: Sequence[str] | None = None,
    policy_files: Sequence[str | Path] = (),
    measurements: str | Path | None = None,
) -> ForecastResult:
    """Fit (or reuse the cached fit) and forecast a scenario.

    Parameters
    ----------
    scenario
        A shipped scenario's name or a scenario file; None for the default.
    horizon_months, confidence, actor
        Override the scenario's own values.
    seed
        Seed of the forward simulation (the fit has its own, in ``settings``).
    draws
        Forecast draws (default: one per posterior draw).
    priors
        Prior overrides, merged over the scenario's ``priors:`` block.
    as_of
        Cut the catalogue at this date (enhancements published before it only).
    reference_date
        Replace the base model's reference date (the date the forecast starts from).
    policy_select, policy_files
        ``--policies`` (shipped names or keywords) and ``--policy FILE``s: which policy
        rules to compare with (:func:`forecast.policies.resolve_policies`).
    measurements
        A user's measurements file; the evals' ``compare_with`` ids may name its records.
    """
    from forecast.evidence import catalogue_cut
    from forecast.policies import policy_months, policy_rows, resolve_policies
    from forecast.scenarios import check_against, load_scenario, scenario_priors

    loaded = load_scenario(scenario)
    chosen_policies = resolve_policies(loaded, policy_select, policy_files)
    sc = loaded.scenario
    if reference_date is not None:
        sc = sc.model_copy(
            update={
                "base_model": sc.base_model.model_copy(update={"reference_date": reference_date})
            }
        )
    prior_set = scenario_priors(loaded)
    if priors:
        prior_set = prior_set.with_overrides(priors)
    catalogue = load_catalogue(evidence, shipped=shipped_evidence)
    if as_of is not None:
        catalogue = catalogue_cut(catalogue, as_of)
        if not catalogue.enhancements:
            raise InputError(
                f"no enhancement in the catalogue was published before {as_of}", "--as-of"
            )
    check_against(loaded, catalogue, measurements)
    fitted = fit_evidence(
        priors=prior_set,
        settings=settings,
        use_cache=use_cache,
        progress=progress,
        log=log,
        catalogue=catalogue,
    )
    horizon = sc.horizon_months if horizon_months is None else horizon_months
    actor = actor or sc.actor
    confidence = sc.confidence if confidence is None else confidence
    setup = setup_forecast(
        sc,
        catalogue,
        fitted.fit.enhancement_ids,
        horizon,
        actor,
        extra_months=policy_months(chosen_policies),
    )
    uplift = simulate_uplift(fitted.fit.draws, setup, prior_set, draws, seed)
    end = int(np.flatnonzero(uplift.times_months == horizon)[0]) + 1
    times, reported = uplift.times_months[:end], uplift.oom[:, :end]
    evals = evaluate_scenario(loaded, prior_set, times, reported, confidence, seed)
    policies = policy_rows(chosen_policies, uplift.times_months, uplift.oom, confidence, horizon)
    reevaluation = {
        f"{m:g}x": reevaluation_months(
            uplift.times_months, uplift.oom, confidence, float(np.log10(m))
        )
        for m in STANDARD_BUFFERS
    }
    provenance = {
        "version": __version__,
        "seed": seed,
        "fit_seed": settings.seed,
        "fit_key": fitted.fit.key,
        "inputs_sha256": cache.key_of(
            {
                "scenario": sc.model_dump(mode="json"),
                "evidence": fitted.table.digest(),
                "priors": {n: str(p.prior) for n, p in prior_set.items()},
                "seed": seed,
                "draws": draws,
                "horizon": horizon,
                "actor": actor,
                "confidence": confidence,
                "as_of": as_of,
                "settings": dataclasses.asdict(settings),
                "policies": [p.rule.model_dump(mode="json") for p in chosen_policies],
            }
        ),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fit_created": fitted.fit.provenance.get("created"),
        "fit_from_cache": fitted.fit.from_cache,
        "scenario_file": str(loaded.path),
        "as_of": as_of.isoformat() if as_of else None,
        "priors_overridden": {n: str(p.prior) for n, p in prior_set.items() if p.overridden},
        "sources": "catalogue: " + (catalogue.source_document or "user catalogue"),
    }
    return ForecastResult(
        sc,
        loaded.path,
        actor,
        horizon,
        confidence,
        seed,
        uplift,
        fitted,
        evals,
        policies,
        reevaluation,
        provenance,
    )


# --------------------------------------------------------------------------- checks


def prior_check(scenario: str | Path | None = None, seed: int = 0, **run_options) -> dict:
    """Uplift quantiles over time implied by the priors alone, beside the posterior's."""
    from forecast.prior_predictive import prior_draws

    result = run_scenario(scenario, seed=seed, **run_options)
    draws = prior_draws(result.fitted.table, result.fitted.priors, result.uplift.oom.shape[0], seed)
    setup = _setup_of(result)
    prior_uplift = simulate_uplift(draws, setup, result.fitted.priors, seed=seed)
    q = (0.05, 0.5, 0.95)
    end = result.horizon_index + 1
    prior_q = prior_uplift.quantiles(q)[:, :end]
    post_q = result.uplift.quantiles(q)[:, :end]
    return {
        "scenario": result.scenario.name,
        "months": result.uplift.times_months[:end].tolist(),
        "prior": {f"q{int(p * 100):02d}": prior_q[i].tolist() for i, p in enumerate(q)},
        "posterior": {f"q{int(p * 100):02d}": post_q[i].tolist() for i, p in enumerate(q)},
        "prior_parameters": {
            "ceg_global_mean": quantile_summary(draws["ceg_global_mean"]),
            **{
                name: plain_summary(draws[name])
                for name in (
                    "composability_within",
                    "composability_between",
                    "scale_slope",
                    "ceg_trend",
                )
            },
        },
        "confidence": result.confidence,
        "prior_buffer_oom": float(
            np.quantile(prior_uplift.oom[:, result.horizon_index], result.confidence)
        ),
        "posterior_buffer_oom": result.buffer_oom,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }


def _setup_of(result: ForecastResult):
    return setup_forecast(
        result.scenario,
        result.fitted.catalogue,
        result.fitted.fit.enhancement_ids,
        result.horizon_months,
        result.actor,
        extra_months=[p["period_months"] for p in result.policies if p["evaluated"]],
    )


def prior_sensitivity(scenario: str | Path | None = None, seed: int = 0, **run_options) -> dict:
    """Every prior ranked by how far tightening, widening or shifting it moves the buffer."""
    from forecast.sensitivity import sensitivity

    result = run_scenario(scenario, seed=seed, **run_options)
    h = result.horizon_index
    # Only U at the horizon matters: simulate that month alone (arrivals are drawn the same
    # whatever the time grid, so the values equal those of the full run).
    setup = dataclasses.replace(
        _setup_of(result), times_months=np.array([float(result.horizon_months)])
    )

    def buffer_of(prior_set) -> float:
        u = simulate_uplift(result.fitted.fit.draws, setup, prior_set, seed=seed)
        return float(np.quantile(u.oom[:, 0], result.confidence))

    rows, baseline = sensitivity(
        result.fitted.fit.draws,
        result.fitted.priors,
        buffer_of,
        result.confidence,
        result.uplift.oom[:, h],
    )
    return {
        "scenario": result.scenario.name,
        "horizon_months": result.horizon_months,
        "confidence": result.confidence,
        "buffer_oom": baseline,
        "priors": rows,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }


def backtest(
    as_of: dt.date,
    scenario: str | Path | None = "gpt4-2023-03",
    seed: int = 0,
    measurements: str | Path | None = None,
    **run_options,
) -> dict:
    """Forecast from ``as_of`` with the catalogue cut there; set it beside later measurements.

    Each eval's ``compare_with`` names measurements (the shipped files, plus the user's
    ``measurements`` file) taken after ``as_of``; the forecast score at that month is
    compared with what was measured. (:func:`forecast.measurements.backtest_pairs` lists
    every before/after pair a backtest could use.)
    """
    import math

    from forecast.evidence import load_catalogue
    from forecast.measurements import load_measurements
    from forecast.scenarios import load_scenario

    catalogue = load_catalogue(
        run_options.get("evidence"), shipped=run_options.get("shipped_evidence", True)
    )
    measured = {m.id: m for m in load_measurements(measurements, catalogue=catalogue).measurements}
    loaded = load_scenario(scenario)
    later = []
    for spec in loaded.scenario.evals:
        for mid in spec.compare_with:
            if mid not in measured:
                from forecast.files import suggest

                raise InputError(
                    f"unknown measurement {mid!r}{suggest(mid, list(measured))}",
                    str(loaded.path),
                    f"evals.{spec.name}.compare_with",
                )
            later.append((spec.name, measured[mid]))
    months_needed = [
        (m.measured - as_of).days / 30.44 for _, m in later if m.measured and m.measured > as_of
    ]
    horizon = max([loaded.scenario.horizon_months, *[math.ceil(x) for x in months_needed]])
    run_options.setdefault("horizon_months", horizon)
    result = run_scenario(
        scenario,
        seed=seed,
        as_of=as_of,
        reference_date=as_of,
        measurements=measurements,
        **run_options,
    )
    evals = {e["name"]: e for e in result.evals}
    rows = []
    for name, m in later:
        point = m.score.point if m.score is not None else None
        months = (m.measured - as_of).days / 30.44 if m.measured else None
        row = {
            "eval": name,
            "measurement": m.id,
            "model": m.model,
            "agent": m.agent,
            "metric": m.metric,
            "measured_on": m.measured.isoformat() if m.measured else None,
            "date_precision": m.date_precision,
            "months_after": round(months, 1) if months is not None else None,
            "measured": point,
            "measured_plus_minus": m.score.plus_minus if m.score is not None else None,
            "where": m.where,
        }
        e = evals[name]
        if point is None:
            row |= {"verdict": "the source prints no score: not a test"}
        elif months is None:
            row |= {"verdict": "the source gives no measurement date: not a test"}
        elif m.measured <= as_of:
            row |= {"verdict": "measured before the as-of date: not a test"}
        elif e["kind"] != "aggregate":
            row |= {"verdict": "only aggregate evals can be compared with a measured score"}
        else:
            grid = e["months"]
            q = {k: float(np.interp(months, grid, v)) for k, v in e["score_over_time"].items()}
            inside = q["q05"] <= point <= q["q95"]
            row |= {
                "forecast_q05": q["q05"],
                "forecast_q50": q["q50"],
                "forecast_q95": q["q95"],
                "inside_90": inside,
                "verdict": "inside the forecast's 90% interval"
                if inside
                else ("above" if point > q["q95"] else "below") + " the forecast's 90% interval",
            }
        rows.append(row)
    return {
        "scenario": result.scenario.name,
        "as_of": as_of.isoformat(),
        "catalogue_enhancements": len(result.fitted.catalogue.enhancements),
        "buffer_oom": result.buffer_oom,
        "horizon_months": result.horizon_months,
        "comparisons": rows,
        "diagnostics": result.fitted.fit.diagnostics.to_dict(),
    }
