"""Simulation-based calibration (SBC) of the fit on the real catalogue's design.

Talts et al. (2018), "Validating Bayesian inference algorithms with simulation-based
calibration". For fit i = 1..N:

1. draw "true" parameters theta_i from the priors (:func:`forecast.fit.prior_draws.prior_draws`);
2. simulate the data the model would see from theta_i on the shipped catalogue's design
   (:func:`forecast.checks.synthetic.simulate_data`: the same figures, members, base-model
   computes, dates, benchmarks, independence flags, censoring thresholds, "no gain" count
   and arrival bins);
3. fit that data with the compiled model of the shipped catalogue
   (:func:`forecast.fit.sampler.compiled_for`: one compilation, then new data only), and thin
   the draws to L roughly independent ones;
4. for every scalar quantity q, record the rank r_i = #{l : q(theta^(l)) < q(theta_i)} in
   0..L (ties, as in U(T) = 0, are broken at random).

If the sampler and the model code are right, theta_i is a draw from the posterior given the
data it produced (the joint distribution of (theta, y) factorises both ways), so each r_i is
uniform on {0, ..., L}. Departures have a shape: a U (posterior too narrow), a hump (too
wide), a slope (biased).

The ranked quantities are every scalar the fit samples (:data:`forecast.fit.model_data.SCALARS`),
the category means and arrival rates per category, and the uplift U(T) of a scenario at its
horizon. U(T) is a function of theta and of forecast-only randomness (arrivals, access,
relevance, the forecast priors) that is independent of the data given theta. Drawing
U_true = U(theta_i, e) with one random stream e, and U^(l) = U(theta^(l), e_l) with
independent streams e_l, gives (U_true, y) from the joint distribution and U^(l) from the
posterior predictive p(U | y); the rank argument above then applies to U unchanged. The two
streams must be independent: with the same stream the draws would share arrivals with the
truth and the rank would not be uniform.

Uniformity is judged per quantity with the simultaneous 95% ECDF band, Holm-corrected
across the quantities (:mod:`forecast.checks.uniformity`).

Nothing here prints or writes files; :func:`forecast.report.calibration.export_files` makes
the bytes of the output files and the CLI writes them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np

from forecast.checks.uniformity import uniformity
from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.table import EvidenceTable
from forecast.fit.model_data import SCALARS, expected_shapes
from forecast.inputs.priors import PriorSet

#: Name of the ranked uplift quantity.
UPLIFT = "uplift_at_horizon"


@dataclasses.dataclass(frozen=True)
class SbcSettings:
    """Sampler settings of each SBC fit.

    The defaults (4 chains x 250 draws after 300 tuning steps, every 10th draw kept: L = 100)
    are chosen so a fit takes a few seconds and the kept draws are roughly independent: the
    shipped model's bulk ESS is about 0.3-1 per draw, so 1000 draws carry a few hundred
    effective ones and thinning by 10 leaves little autocorrelation (each fit's smallest ESS
    is recorded to check that).
    """

    draws: int = 250
    tune: int = 300
    chains: int = 4
    thin: int = 10
    target_accept: float = 0.9

    def __post_init__(self):
        if self.draws < 1 or self.tune < 0 or self.chains < 1 or self.thin < 1:
            raise ValueError("draws >= 1, tune >= 0, chains >= 1 and thin >= 1 are required")
        if self.draws % self.thin:
            raise ValueError(f"draws ({self.draws}) must be a multiple of thin ({self.thin})")

    @property
    def kept(self) -> int:
        """L: posterior draws kept per fit (ranks run from 0 to L)."""
        return self.chains * (self.draws // self.thin)


def quantity_names() -> tuple[str, ...]:
    """Every ranked quantity, in output order."""
    return (
        *SCALARS,
        *(f"category_mean[{c}]" for c in CATEGORIES),
        *(f"arrival_rate[{c}]" for c in CATEGORIES),
        UPLIFT,
    )


def parameter_values(draws: dict) -> dict[str, np.ndarray]:
    """The ranked parameters of posterior-shaped ``draws`` (draw axis first), one (n,) array
    per name (the uplift is added separately)."""
    out = {name: np.asarray(draws[name], dtype=float) for name in SCALARS}
    for j, c in enumerate(CATEGORIES):
        out[f"category_mean[{c}]"] = np.asarray(draws["category_mean"])[:, j]
        out[f"arrival_rate[{c}]"] = np.asarray(draws["arrival_rate"])[:, j]
    return out


def rank_of(truth: float, draws: np.ndarray, rng: np.random.Generator) -> int:
    """#draws below ``truth``, with ties broken uniformly at random (0..len(draws))."""
    draws = np.asarray(draws, dtype=float)
    below = int((draws < truth).sum())
    ties = int((draws == truth).sum())
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def fit_seed(seed: int, i: int) -> int:
    """The seed of fit ``i`` of a run with ``seed`` (so one fit can be rerun alone)."""
    return int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass(frozen=True)
class SbcResult:
    """Ranks of N fits for every quantity, with each fit's diagnostics.

    ``ranks``, ``truth``, ``post_mean`` and ``post_sd`` are (N, Q) with columns in
    ``quantities``; a rank of -1 (truth and posterior NaN) marks an uplift the simulation
    refused for that fit (its work limit on arrivals; ``fits[i]["uplift_refused"]`` says
    why). ``fits`` holds one dict per fit (seed, divergences, R-hat, ESS, seconds, the
    problems found).
    """

    quantities: tuple[str, ...]
    n_ranks: int
    ranks: np.ndarray
    truth: np.ndarray
    post_mean: np.ndarray
    post_sd: np.ndarray
    fits: list[dict]
    settings: SbcSettings
    seed: int
    scenario: str
    horizon_months: float
    seconds: float
    compile_seconds: float

    @property
    def n_fits(self) -> int:
        return self.ranks.shape[0]

    def verdicts(self) -> list[dict]:
        return uniformity(self.ranks, self.n_ranks, self.quantities, seed=self.seed)

    def failed_fits(self) -> list[dict]:
        return [f for f in self.fits if f["problems"]]

    def to_dict(self) -> dict:
        """The JSON document of ``forecast check sbc --json`` (docs/json-schema.md)."""
        verdicts = self.verdicts()
        return {
            "method": "simulation-based calibration (Talts et al. 2018); simultaneous 95% "
            "ECDF band (Säilynoja et al. 2022), Holm-corrected across quantities",
            "n_fits": self.n_fits,
            "n_ranks": self.n_ranks,
            "seed": self.seed,
            "settings": dataclasses.asdict(self.settings) | {"kept_draws": self.n_ranks},
            "scenario": self.scenario,
            "horizon_months": self.horizon_months,
            "seconds": round(self.seconds, 1),
            "compile_seconds": round(self.compile_seconds, 1),
            "all_uniform": not any(v["holm_rejected"] for v in verdicts),
            "quantities": verdicts,
            "fits": self.fits,
            "failed_fits": len(self.failed_fits()),
            "uplift_refused": sum(f.get("uplift_refused") is not None for f in self.fits),
            "ranks": {
                q: [None if r < 0 else int(r) for r in self.ranks[:, j]]
                for j, q in enumerate(self.quantities)
            },
        }


def fit_problems(diag, kept: int) -> list[str]:
    """What an SBC fit failed: divergences, R-hat above 1.01, or a bulk ESS below the kept
    draws (then the thinned draws are not independent and the ranks are biased toward U)."""
    out = []
    if diag.divergences > 0:
        out.append(f"{diag.divergences} divergent transitions")
    if not math.isfinite(diag.r_hat_max) or diag.r_hat_max > 1.01:
        out.append(f"R-hat {diag.r_hat_max:.3f} > 1.01 ({diag.worst_r_hat})")
    if not math.isfinite(diag.ess_bulk_min) or diag.ess_bulk_min < kept:
        out.append(f"bulk ESS {diag.ess_bulk_min:.0f} < {kept} kept draws ({diag.worst_ess})")
    return out


def run_sbc(
    table: EvidenceTable,
    priors: PriorSet,
    setup,
    n_fits: int,
    seed: int = 0,
    settings: SbcSettings = SbcSettings(),
    scenario: str = "",
    on_fit: Callable[[int, int, dict], None] | None = None,
) -> SbcResult:
    """Run ``n_fits`` SBC fits on ``table``'s design (module docstring).

    Parameters
    ----------
    setup
        The :class:`forecast.simulate.setup.ForecastSetup` whose U at ``setup.horizon_months`` is
        ranked (the time grid is cut to 0 and the horizon).
    on_fit
        Called after each fit with (fits done, fits in all, the fit's record).

    Imports PyMC and nutpie (the model is compiled once per process and structure).
    """
    from forecast.checks.synthetic import one_draw, simulate_data
    from forecast.core.errors import InputError
    from forecast.fit import posterior, sampler
    from forecast.fit.model import build_model
    from forecast.fit.model_data import data_values, structure_key
    from forecast.fit.prior_draws import prior_draws
    from forecast.inputs.priors import fixed_value
    from forecast.simulate.uplift import simulate_uplift

    started = time.perf_counter()
    nu = fixed_value(priors, "noise_dof")
    horizon = float(setup.horizon_months)
    setup = dataclasses.replace(setup, times_months=np.array([0.0, horizon]))
    model = build_model(table, priors)
    free = [v.name for v in model.free_RVs]
    compiled, _ = sampler.compiled_for(
        structure_key(table, priors), lambda: model, data_values(table)
    )
    compile_seconds = time.perf_counter() - started
    names = quantity_names()
    shapes = tuple(expected_shapes(table))
    keep = np.concatenate(
        [
            c * settings.draws + np.arange(0, settings.draws, settings.thin)
            for c in range(settings.chains)
        ]
    )
    L = settings.kept
    ranks = np.zeros((n_fits, len(names)), dtype=np.int64)
    truth_m = np.zeros((n_fits, len(names)))
    mean_m = np.zeros((n_fits, len(names)))
    sd_m = np.zeros((n_fits, len(names)))
    fits = []
    for i in range(n_fits):
        t0 = time.perf_counter()
        s = fit_seed(seed, i)
        truth_draws = prior_draws(table, priors, 1, seed=s)
        truth = one_draw(truth_draws)
        data = simulate_data(table, truth, nu, np.random.default_rng([s, 1]))
        idata = sampler.sample(
            sampler.with_data(compiled, **data),
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            target_accept=settings.target_accept,
            seed=s % (2**31),
        )
        diag = posterior.diagnose(idata, free)
        draws = posterior.flat_draws(idata, shapes)
        thinned = {k: v[keep] for k, v in draws.items()}
        true_values = {k: float(v[0]) for k, v in parameter_values(truth_draws).items()}
        post_values = parameter_values(thinned)
        refused = None
        try:
            true_u = simulate_uplift(truth_draws, setup, priors, 1, seed=s % (2**31))
            post_u = simulate_uplift(thinned, setup, priors, None, seed=(s + 1) % (2**31))
            true_values[UPLIFT] = float(true_u.oom[0, -1])
            post_values[UPLIFT] = post_u.oom[:, -1]
        except InputError as exc:  # the simulation's work limit: no uplift rank for this fit
            refused = exc.message
        tie_rng = np.random.default_rng([s, 2])
        for j, name in enumerate(names):
            if name not in true_values:
                ranks[i, j] = -1
                truth_m[i, j] = mean_m[i, j] = sd_m[i, j] = float("nan")
                continue
            ranks[i, j] = rank_of(true_values[name], post_values[name], tie_rng)
            truth_m[i, j] = true_values[name]
            mean_m[i, j] = float(np.mean(post_values[name]))
            sd_m[i, j] = float(np.std(post_values[name]))
        record = {
            "fit": i,
            "seed": s,
            "divergences": diag.divergences,
            "r_hat_max": round(float(diag.r_hat_max), 4),
            "worst_r_hat": diag.worst_r_hat,
            "ess_bulk_min": round(float(diag.ess_bulk_min), 1),
            "worst_ess": diag.worst_ess,
            "seconds": round(time.perf_counter() - t0, 2),
            "problems": fit_problems(diag, L),
            "uplift_refused": refused,
        }
        fits.append(record)
        if on_fit is not None:
            on_fit(i + 1, n_fits, record)
    return SbcResult(
        quantities=names,
        n_ranks=L,
        ranks=ranks,
        truth=truth_m,
        post_mean=mean_m,
        post_sd=sd_m,
        fits=fits,
        settings=settings,
        seed=seed,
        scenario=scenario,
        horizon_months=horizon,
        seconds=time.perf_counter() - started,
        compile_seconds=compile_seconds,
    )
