"""Simulation-based calibration (SBC) of the uplift model on the real histories' design.

Talts et al. (2018), "Validating Bayesian inference algorithms with simulation-based
calibration". For fit i = 1..N:

1. draw "true" parameters theta_i from the uplift model's priors
   (:func:`forecast.checks.synthetic.uplift_prior_draws`: every scalar and a slope effect
   per suite);
2. simulate the histories and eval-slope pairs the model would see from theta_i, on the
   design of the shipped histories (:func:`forecast.checks.synthetic.simulate_histories`);
3. fit them with the compiled model of the shipped histories
   (:func:`forecast.fit.sampler.prepare`: the model's numba kernels, then new data only), on the
   production settings by default, and thin the draws to L roughly independent ones;
4. for every scalar quantity q, record the rank r_i = #{l : q(theta^(l)) < q(theta_i)} in
   0..L (ties, as in U(T) = 0, are broken at random).

If the sampler and the model code are right, each r_i is uniform on {0, ..., L}. Departures
have a shape: a U (posterior too narrow), a hump (too wide), a slope (biased). Uniformity is
judged per quantity with the simultaneous 95% ECDF band, Holm-corrected across quantities
(:mod:`forecast.checks.uniformity`), over every fit and over the fits that pass their
diagnostics (failed fits are counted and listed, never mixed in silently).

The ranked quantities are every scalar the fit stores (:data:`UPLIFT_SCALARS`) and the uplift
U(T) of a scenario (the default scenario at its horizon: what the buffer is a quantile of).
U(T) depends on theta and on forecast-only randomness (the events, their sizes, the attention
factor) independent of the data given theta: U_true = U(theta_i, e) with one random stream and
U^(l) = U(theta^(l), e_l) with another give (U_true, y) from the joint distribution and U^(l)
from the posterior predictive p(U | y), so its rank is uniform for the same reason.

Besides the ranks, each fit's **posterior contraction** 1 - var(posterior) / var(prior) of
every quantity says how much the histories teach (0: nothing; 1: everything), measured where
the prior is closest to a normal (:func:`contraction_scale`; U(T) against the prior
predictive, as log(1 + U)).
:data:`BUFFER_PARAMETERS` are those the forward simulation reads (the buffer depends on them).

Nothing here prints or writes files; :func:`forecast.report.calibration.export_files` makes the
bytes of the output files and the CLI writes them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np

from forecast.checks.uniformity import uniformity
from forecast.evidence.histories import HistoryTable
from forecast.fit.uplift_model import UPLIFT_SCALARS
from forecast.inputs.priors import PriorSet

#: Name of the ranked uplift quantity.
UPLIFT = "uplift_at_horizon"
#: The fitted parameters the forward simulation reads (forecast.simulate.uplift): the buffer
#: depends on these (``increment_mean`` is ``increment_share * catalogue_gain``).
BUFFER_PARAMETERS = (
    "event_rate",
    "rate_decay_months",
    "rate_trend",
    "elicitation_effect",
    "access_effect",
    "increment_share",
    "catalogue_gain",
    "increment_mean",
    "increment_spread",
    "attention_spread",
)
#: Prior families whose contraction is measured on the log scale, and derived quantities too.
LOG_FAMILIES = ("LogNormal", "Gamma", "Exponential")
LOG_SCALE = ("increment_mean", "catalogue_gain")
#: Prior draws that set each quantity's prior variance (for the contraction).
PRIOR_DRAWS = 20_000


@dataclasses.dataclass(frozen=True)
class SbcSettings:
    """Sampler settings of each SBC fit; ``thin`` keeps every thin-th draw (L = chains x
    draws / thin ranks). The defaults are the uplift model's production settings
    (:data:`forecast.buffer.forecasting.HISTORIES_SETTINGS`), thinned to L = 100."""

    draws: int = 2500
    tune: int = 2000
    chains: int = 4
    thin: int = 100
    target_accept: float = 0.95

    def __post_init__(self):
        if self.draws < 1 or self.tune < 0 or self.chains < 1 or self.thin < 1:
            raise ValueError("draws >= 1, tune >= 0, chains >= 1 and thin >= 1 are required")
        if self.draws % self.thin:
            raise ValueError(f"draws ({self.draws}) must be a multiple of thin ({self.thin})")

    @property
    def kept(self) -> int:
        """L: posterior draws kept per fit (ranks run from 0 to L)."""
        return self.chains * (self.draws // self.thin)

    def kept_index(self) -> np.ndarray:
        """Which of the chains x draws (chains stacked) are kept."""
        return np.concatenate(
            [c * self.draws + np.arange(0, self.draws, self.thin) for c in range(self.chains)]
        )


def quantity_names() -> tuple[str, ...]:
    """Every ranked quantity, in output order."""
    return (*UPLIFT_SCALARS, UPLIFT)


def rank_of(truth: float, draws: np.ndarray, rng: np.random.Generator) -> int:
    """#draws below ``truth``, with ties broken uniformly at random (0..len(draws))."""
    draws = np.asarray(draws, dtype=float)
    below = int((draws < truth).sum())
    ties = int((draws == truth).sum())
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def fit_seed(seed: int, i: int) -> int:
    """The seed of fit ``i`` of a run with ``seed`` (so one fit can be rerun alone)."""
    return int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


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


def contraction_scale(name: str, priors: PriorSet | None = None) -> str:
    """The scale a quantity's contraction is measured on: where its prior is closest to a
    normal. ``log`` for LogNormal, Gamma and Exponential priors and for products of them
    (``increment_mean``, ``catalogue_gain`` of the catalogue model); ``log1p`` for U(T),
    which has an atom at 0 and a heavy tail; the value itself otherwise (Normal, HalfNormal
    and Beta priors)."""
    base = name.split("[")[0]  # arrival_rate[tool] has arrival_rate's prior
    if name == UPLIFT:
        return "log1p"
    if base in LOG_SCALE:
        return "log"
    if priors is not None and base in priors and priors.prior(base).dist in LOG_FAMILIES:
        return "log"
    return "value"


def on_scale(values, scale: str) -> np.ndarray:
    """``values`` on a contraction scale (:func:`contraction_scale`)."""
    values = np.asarray(values, dtype=float)
    if scale == "log":
        return np.log(np.maximum(values, 1e-300))
    if scale == "log1p":
        return np.log1p(np.maximum(values, 0.0))
    return values


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass(frozen=True)
class SbcResult:
    """Ranks of N fits for every quantity, with each fit's diagnostics and contraction.

    ``ranks``, ``truth``, ``post_mean``, ``post_sd`` and ``contraction`` are (N, Q) with
    columns in ``quantities``; a rank of -1 (truth and posterior NaN) marks a quantity that
    could not be computed for that fit. ``prior_sd`` is (Q,), on each quantity's contraction
    scale (``scales``, :func:`contraction_scale`). ``fits`` holds one dict per fit (seed,
    divergences, R-hat, ESS, seconds, the problems found).
    """

    quantities: tuple[str, ...]
    n_ranks: int
    ranks: np.ndarray
    truth: np.ndarray
    post_mean: np.ndarray
    post_sd: np.ndarray
    contraction: np.ndarray
    prior_sd: np.ndarray
    scales: tuple[str, ...]
    fits: list[dict]
    settings: SbcSettings
    seed: int
    scenario: str
    horizon_months: float
    seconds: float
    compile_seconds: float
    model: str = "uplift"
    design: dict = dataclasses.field(default_factory=dict)

    @property
    def n_fits(self) -> int:
        return self.ranks.shape[0]

    def passing(self) -> np.ndarray:
        """Which fits passed their diagnostics."""
        return np.array([not f["problems"] for f in self.fits], dtype=bool)

    def verdicts(self, only_passing: bool = False) -> list[dict]:
        ranks = self.ranks[self.passing()] if only_passing else self.ranks
        return uniformity(ranks, self.n_ranks, self.quantities, seed=self.seed)

    def failed_fits(self) -> list[dict]:
        return [f for f in self.fits if f["problems"]]

    def contraction_rows(self) -> list[dict]:
        """Per quantity: the median and mean contraction over the fits (every fit, and the
        passing ones), and whether the buffer depends on it."""
        ok = self.passing()
        out = []
        for j, q in enumerate(self.quantities):
            col = self.contraction[:, j]
            good = col[np.isfinite(col)]
            passing = col[ok & np.isfinite(col)]
            out.append(
                {
                    "quantity": q,
                    "buffer": q in BUFFER_PARAMETERS or q == UPLIFT,
                    "scale": self.scales[j],
                    "median": float(np.median(good)) if good.size else None,
                    "mean": float(np.mean(good)) if good.size else None,
                    "median_passing": float(np.median(passing)) if passing.size else None,
                    "share_at_least_0_3": float((good >= 0.3).mean()) if good.size else None,
                }
            )
        return out

    def to_dict(self) -> dict:
        """The JSON document of ``forecast check sbc --json`` (docs/json-schema.md)."""
        verdicts = self.verdicts()
        passing = self.verdicts(only_passing=True) if self.failed_fits() else verdicts
        return {
            "method": "simulation-based calibration (Talts et al. 2018); simultaneous 95% "
            "ECDF band (Säilynoja et al. 2022), Holm-corrected across quantities",
            "model": self.model,
            "n_fits": self.n_fits,
            "n_ranks": self.n_ranks,
            "seed": self.seed,
            "settings": dataclasses.asdict(self.settings) | {"kept_draws": self.n_ranks},
            "scenario": self.scenario,
            "horizon_months": self.horizon_months,
            "seconds": round(self.seconds, 1),
            "compile_seconds": round(self.compile_seconds, 1),
            "design": self.design,
            "all_uniform": not any(v["holm_rejected"] for v in verdicts),
            "all_uniform_passing_fits": not any(v["holm_rejected"] for v in passing),
            "quantities": verdicts,
            "quantities_passing_fits": passing,
            "contraction": self.contraction_rows(),
            "fits": self.fits,
            "failed_fits": len(self.failed_fits()),
            "ranks": {
                q: [None if r < 0 else int(r) for r in self.ranks[:, j]]
                for j, q in enumerate(self.quantities)
            },
        }


def prior_spread(table: HistoryTable, priors: PriorSet, setup, seed: int) -> np.ndarray:
    """Each quantity's prior standard deviation on its contraction scale (U(T): the prior
    predictive's), from :data:`PRIOR_DRAWS` draws."""
    from forecast.checks.synthetic import uplift_prior_draws
    from forecast.simulate.uplift import simulate_uplift

    draws = uplift_prior_draws(table, priors, PRIOR_DRAWS, seed=seed + 1)
    out = []
    for q in quantity_names():
        if q == UPLIFT:
            values = simulate_uplift(draws, setup, priors, None, seed=seed + 2).oom[:, -1]
        else:
            values = draws[q]
        out.append(float(np.std(on_scale(values, contraction_scale(q, priors)))))
    return np.array(out)


def run_sbc(
    table: HistoryTable,
    priors: PriorSet,
    setup,
    n_tasks: dict[str, int],
    n_fits: int,
    seed: int = 0,
    settings: SbcSettings = SbcSettings(),
    scenario: str = "",
    exact: bool = True,
    on_fit: Callable[[int, int, dict], None] | None = None,
) -> SbcResult:
    """Run ``n_fits`` SBC fits of the uplift model on ``table``'s design (module docstring).

    Parameters
    ----------
    priors
        The uplift model's priors (``catalogue_gain`` from the catalogue fit, as a run has
        them): the truths are drawn from them and the fits use them.
    setup
        The :class:`forecast.simulate.setup.ForecastSetup` whose U at ``setup.horizon_months``
        is ranked (the time grid is cut to 0 and the horizon).
    n_tasks
        Each suite's task count (the binomial variance of simulated records).
    exact
        Simulate the sum of the jumps itself (True), or the likelihood's moment-matched
        LogNormal of it (:func:`forecast.checks.synthetic.simulate_histories`).
    on_fit
        Called after each fit with (fits done, fits in all, the fit's record).

    Imports nutpie and the uplift model's numba kernels (no PyMC compile).
    """
    from forecast.checks.synthetic import record_variance, simulate_histories, uplift_prior_draws
    from forecast.fit import posterior, sampler
    from forecast.fit.histories import histories_spec
    from forecast.fit.uplift_model import data_values, prior_values
    from forecast.simulate.uplift import simulate_uplift

    started = time.perf_counter()
    horizon = float(setup.horizon_months)
    setup = dataclasses.replace(setup, times_months=np.array([0.0, horizon]))
    spec = histories_spec(table, priors)
    compiled, free = sampler.prepare(spec, priors)
    compile_seconds = time.perf_counter() - started
    names = quantity_names()
    scales = tuple(contraction_scale(q, priors) for q in names)
    prior_sd = prior_spread(table, priors, setup, seed)
    variance = record_variance(table, n_tasks)
    keep = settings.kept_index()
    L = settings.kept
    shape = (n_fits, len(names))
    ranks = np.zeros(shape, dtype=np.int64)
    truth_m, mean_m, sd_m, contraction = (np.full(shape, np.nan) for _ in range(4))
    fits = []
    for i in range(n_fits):
        t0 = time.perf_counter()
        s = fit_seed(seed, i)
        truth_draws = uplift_prior_draws(table, priors, 1, seed=s)
        truth = {k: v[0] for k, v in truth_draws.items()}
        simulated = simulate_histories(table, truth, variance, np.random.default_rng([s, 1]),
                                       exact=exact)  # fmt: skip
        data = data_values(table) | simulated | prior_values(priors)
        idata = sampler.sample_on(compiled, data, settings, s % (2**31))
        diag = posterior.diagnose(idata, free)
        draws = posterior.flat_draws(idata, tuple(spec.shapes))
        thinned = {k: v[keep] for k, v in draws.items()}
        true_values = {q: float(truth[q]) for q in UPLIFT_SCALARS}
        post_values = {q: thinned[q] for q in UPLIFT_SCALARS}
        true_values[UPLIFT] = float(
            simulate_uplift(truth_draws, setup, priors, 1, seed=s % (2**31)).oom[0, -1]
        )
        post_values[UPLIFT] = simulate_uplift(
            thinned, setup, priors, None, seed=(s + 1) % (2**31)
        ).oom[:, -1]
        tie_rng = np.random.default_rng([s, 2])
        for j, name in enumerate(names):
            values = np.asarray(post_values[name], dtype=float)
            ranks[i, j] = rank_of(true_values[name], values, tie_rng)
            truth_m[i, j] = true_values[name]
            mean_m[i, j] = float(np.mean(values))
            sd_m[i, j] = float(np.std(values))
            spread = float(np.std(on_scale(values, scales[j])))
            contraction[i, j] = 1.0 - (spread / prior_sd[j]) ** 2 if prior_sd[j] > 0 else np.nan
        record = {
            "fit": i,
            "seed": s,
            "records": int(simulated["inc_record"].sum()),
            "divergences": diag.divergences,
            "r_hat_max": round(float(diag.r_hat_max), 4),
            "worst_r_hat": diag.worst_r_hat,
            "ess_bulk_min": round(float(diag.ess_bulk_min), 1),
            "worst_ess": diag.worst_ess,
            "seconds": round(time.perf_counter() - t0, 2),
            "problems": fit_problems(diag, L),
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
        contraction=contraction,
        prior_sd=prior_sd,
        scales=scales,
        fits=fits,
        settings=settings,
        seed=seed,
        scenario=scenario,
        horizon_months=horizon,
        seconds=time.perf_counter() - started,
        compile_seconds=compile_seconds,
        design={
            "snapshots": table.n_increments,
            "records": int(table.inc_record.sum()),
            "scaling_pairs": table.n_scaling,
            "suites": len(table.suites),
            "histories_sha256": table.digest(),
            "simulation": "exact sum of the jumps" if exact else "moment-matched LogNormal",
        },
    )
