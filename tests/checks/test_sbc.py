"""forecast.checks.sbc, forecast.checks.synthetic and ``forecast check sbc``: ranks, the
simultaneous ECDF band, the multiple-comparison correction, histories simulated as the
likelihood says, small SBC runs on the real design and their files.

The small runs check the machinery (ranks in range, files written, bad options refused) with
the compile and NUTS replaced by prior draws; the slow ones fit for real (uniformity on a tiny
design; the catalogue model's SBC); the full check needs a hundred production fits
(benchmarks/sbc.py, docs/calibration.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecast.checks import sbc
from forecast.checks.sbc import SbcSettings, rank_of
from forecast.checks.synthetic import (
    interval_intensity,
    record_variance,
    simulate_histories,
    uplift_prior_draws,
)
from forecast.checks.uniformity import ecdf_band, holm, uniformity
from forecast.report.calibration import export_files
from forecast.report.plots import is_png

TINY = SbcSettings(draws=20, tune=40, chains=2, thin=2)  # L = 20
TINY_CLI = ["--draws", "20", "--tune", "40", "--chains", "2", "--thin", "2"]


def test_rank_counts_draws_below_and_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    assert rank_of(0.5, np.array([0.1, 0.2, 0.9]), rng) == 2
    assert rank_of(-1.0, np.array([0.1, 0.2]), rng) == 0
    assert rank_of(5.0, np.array([0.1, 0.2]), rng) == 2
    # U(T) = 0 in the truth and in half the draws: the rank is spread over 0..5, not 0
    draws = np.array([0.0] * 5 + [1.0] * 5)
    ranks = {rank_of(0.0, draws, np.random.default_rng(s)) for s in range(200)}
    assert ranks == set(range(6))


def test_settings_need_draws_divisible_by_thin():
    from forecast.buffer.forecasting import HISTORIES_SETTINGS

    production = SbcSettings()
    assert production.kept == 100  # the production settings, thinned to L = 100
    assert (production.draws, production.tune, production.chains, production.target_accept) == (
        HISTORIES_SETTINGS.draws, HISTORIES_SETTINGS.tune, HISTORIES_SETTINGS.chains,
        HISTORIES_SETTINGS.target_accept,
    )  # fmt: skip
    assert len(production.kept_index()) == 100
    kept = SbcSettings(draws=20, chains=2, thin=5).kept_index().tolist()
    assert kept == [0, 5, 10, 15, 20, 25, 30, 35]
    with pytest.raises(ValueError, match="multiple of thin"):
        SbcSettings(draws=25, thin=2)


def test_band_has_its_level_for_uniform_ranks_and_rejects_biased_ones():
    n, L = 100, 20
    band = ecdf_band(n, L, trials=2000, seed=1)
    rng = np.random.default_rng(7)
    uniform = rng.integers(0, L + 1, size=(n, 400))
    outside = 1 - band.inside(uniform).mean()
    assert 0.02 < outside < 0.09  # simultaneous 95% band: about 5% of uniform sets outside
    p = band.p_value(uniform)
    assert 0.02 < (p < 0.05).mean() < 0.09
    # a posterior that is too narrow (truth in the tails), and a biased one
    narrow = np.concatenate([rng.integers(0, 3, 50), rng.integers(L - 2, L + 1, 50)])
    biased = rng.integers(L // 2, L + 1, n)
    assert not band.inside(np.stack([narrow, biased], axis=1)).any()
    assert (band.p_value(np.stack([narrow, biased], axis=1)) < 0.01).all()


def test_band_agrees_with_arviz_for_many_rank_values():
    """With many rank values the discrete ranks are nearly continuous: our band should then
    match ArviZ's optimized simultaneous band (Säilynoja et al. 2022) to a count or two."""
    from arviz.stats.ecdf_utils import ecdf_confidence_band

    n, L = 200, 499
    band = ecdf_band(n, L, trials=3000, seed=2)
    lo, hi = ecdf_confidence_band(n, band.z, band.z, prob=0.95, method="optimized")
    assert np.abs(band.lower - lo * n).max() <= 2.5
    assert np.abs(band.upper - hi * n).max() <= 2.5


def test_holm_rejects_step_down():
    assert holm(np.array([0.001, 0.04, 0.5])).tolist() == [True, False, False]
    assert holm(np.array([0.01, 0.02, 0.024])).tolist() == [True, True, True]
    assert not holm(np.array([0.03, 0.04])).any()


def test_uniformity_reads_the_shape_of_a_departure():
    rng = np.random.default_rng(3)
    L = 50
    narrow = np.concatenate([rng.integers(0, 5, 100), rng.integers(L - 4, L + 1, 100)])
    high = rng.integers(30, L + 1, 200)
    fine = rng.integers(0, L + 1, 200)
    rows = uniformity(np.stack([narrow, high, fine], axis=1), L, ["a", "b", "c"], seed=0)
    assert rows[0]["holm_rejected"] and "too narrow" in rows[0]["verdict"]
    assert rows[1]["holm_rejected"] and "truth high" in rows[1]["verdict"]
    assert rows[2]["inside_band"] and rows[2]["verdict"].startswith("uniform")


def test_missing_ranks_are_left_out_of_their_quantity_only():
    rng = np.random.default_rng(4)
    L = 20
    ranks = rng.integers(0, L + 1, size=(60, 2))
    ranks[:15, 1] = -1  # the uplift of 15 fits could not be simulated
    rows = uniformity(ranks, L, ["a", "b"], seed=0)
    assert (rows[0]["n"], rows[1]["n"]) == (60, 45)
    kept = ranks[15:, 1]
    assert rows[1]["mean_rank_fraction"] == pytest.approx(kept.mean() / L)
    alone = uniformity(kept[:, None], L, ["b"], seed=0)[0]
    assert rows[1]["p_value"] == pytest.approx(alone["p_value"])
    none = uniformity(np.full((5, 1), -1), L, ["c"], seed=0)[0]
    assert none["n"] == 0 and none["verdict"] == "no ranks"


# --------------------------------------------------------------------------- simulated data


@pytest.fixture(scope="module")
def design():
    from forecast.evidence.histories import build_history_table
    from forecast.evidence.measurements import load_measurements
    from forecast.inputs.priors import load_priors

    measurements = load_measurements()
    table = build_history_table(measurements)
    return table, load_priors(), {s.id: s.n_tasks for s in measurements.suites}


def _params(table, priors, **fixed):
    params = {k: v[0] for k, v in uplift_prior_draws(table, priors, 1, seed=4).items()}
    return params | fixed


def test_no_events_no_records(design):
    table, priors, n_tasks = design
    params = _params(table, priors, event_rate=1e-12)
    data = simulate_histories(table, params, record_variance(table, n_tasks),
                              np.random.default_rng(0))  # fmt: skip
    assert not data["inc_record"].any() and (data["inc_y"] == 0).all()
    assert (data["inc_v"] == 0).all() and data["scale_y"].shape == (table.n_scaling,)


def test_records_come_at_the_likelihoods_rate_and_size(design):
    """Over many simulations of the same design and parameters (one attention factor per
    series, w = exp(attention_spread z_series)): a snapshot is a record with the likelihood's
    probability 1 - exp(-w L), and the mean uplift of a record is the likelihood's conditional
    mean w L mu / (1 - exp(-w L)), whether the jumps are summed or drawn moment-matched."""
    table, priors, n_tasks = design
    params = _params(table, priors, event_rate=0.3, attention_spread=0.8, increment_mean=0.2,
                     increment_spread=0.5, eval_slope=1.0, eval_slope_spread=0.0,
                     harness_noise=0.0)  # fmt: skip
    none = np.zeros(table.n_increments)
    w = np.exp(0.8 * params["z_series"])[table.inc_series]
    L = w * interval_intensity(table, params)
    p_record = -np.expm1(-L)
    assert p_record.min() < 0.2 and p_record.max() > 0.9  # rare records and near-sure ones
    for exact in (True, False):
        rng = np.random.default_rng(1)
        runs = [simulate_histories(table, params, none, rng, exact=exact) for _ in range(3000)]
        records = np.array([r["inc_record"] for r in runs])
        y = np.array([r["inc_y"] for r in runs])
        assert np.abs(records.mean(axis=0) - p_record).max() < 0.04
        rows = p_record > 0.2
        mean_u = (y * records).sum(axis=0)[rows] / records.sum(axis=0)[rows]
        expected = L[rows] * 0.2 / p_record[rows]
        assert np.allclose(mean_u, expected, rtol=0.1), exact
    # the noise of a record: binomial (the design's) plus harness
    params = params | {"harness_noise": 0.3, "increment_mean": 1e-9}
    variance = record_variance(table, n_tasks)
    rng = np.random.default_rng(2)
    runs = [simulate_histories(table, params, variance, rng) for _ in range(2000)]
    y = np.array([r["inc_y"] for r in runs])
    rec = np.array([r["inc_record"] for r in runs]).astype(bool)
    k = int(np.argmax(rec.mean(axis=0)))
    assert np.std(y[rec[:, k], k]) == pytest.approx(np.sqrt(variance[k] + 0.09), rel=0.1)


def test_one_attention_factor_is_shared_by_every_interval_of_a_series(design):
    """A series with little attention has no record in any of its intervals, one with much
    attention a record in every one; the other series are untouched."""
    table, priors, _ = design
    sizes = np.bincount(table.inc_series, minlength=len(table.series))
    quiet, busy = np.argsort(-sizes)[:2]  # the two series with the most intervals
    assert sizes[quiet] > 1 and sizes[busy] > 1
    params = _params(table, priors, event_rate=0.3, attention_spread=1.0)
    z = np.zeros(len(table.series))
    z[quiet], z[busy] = -30.0, 30.0
    data = simulate_histories(table, params | {"z_series": z}, np.zeros(table.n_increments),
                              np.random.default_rng(0), exact=False)  # fmt: skip
    record = data["inc_record"].astype(bool)
    assert not record[table.inc_series == quiet].any()
    assert record[table.inc_series == busy].all()
    # the simulation reads z_series by series: moving another series' factor changes nothing
    # in these two series' records
    other = z.copy()
    other[[i for i in range(len(z)) if i not in (quiet, busy)]] = -30.0
    again = simulate_histories(table, params | {"z_series": other},
                               np.zeros(table.n_increments), np.random.default_rng(0),
                               exact=False)["inc_record"].astype(bool)  # fmt: skip
    mine = np.isin(table.inc_series, [quiet, busy])
    assert np.array_equal(again[mine], record[mine]) and not again[~mine].any()


def test_the_design_variance_of_a_record(design):
    from forecast.evidence.histories import logit_variance

    table, _, n_tasks = design
    v = record_variance(table, n_tasks)
    assert np.array_equal(v[table.inc_record], table.inc_v[table.inc_record])
    k = int(np.flatnonzero(~table.inc_record)[0])
    s = table.snapshots[k]
    assert v[k] == pytest.approx(2 * logit_variance(s.best_before, n_tasks[s.suite]))
    assert (v > 0).all()


def test_contraction_is_measured_where_the_prior_is_normal(design):
    _, priors, _ = design
    assert sbc.contraction_scale("event_rate", priors) == "log"  # LogNormal
    assert sbc.contraction_scale("increment_mean", priors) == "log"  # a product
    assert sbc.contraction_scale("rate_trend", priors) == "value"  # Normal
    assert sbc.contraction_scale("attention_spread", priors) == "log"  # LogNormal
    assert sbc.contraction_scale("harness_noise", priors) == "value"  # HalfNormal
    assert sbc.contraction_scale("arrival_rate[tool]", priors) == "log"  # Gamma
    assert sbc.contraction_scale(sbc.UPLIFT, priors) == "log1p"
    assert sbc.on_scale([0.0, np.e - 1], "log1p") == pytest.approx([0.0, 1.0])
    assert set(sbc.BUFFER_PARAMETERS) <= set(sbc.quantity_names())


# --------------------------------------------------------------------------- runs


def fake_nuts(monkeypatch, table, priors) -> list[int]:
    """Stand-ins for the compile and NUTS (``forecast.fit.sampler``): each "fit" returns
    independent draws from the priors, shaped like a real fit's InferenceData, so the SBC
    machinery (simulation, ranks, diagnostics, contraction, files) runs in seconds and its
    ranks are uniform by construction. Returns the seeds the fits were sampled with."""
    import arviz as az

    from forecast.fit import sampler

    seeds = []

    def sample(compiled, *, draws, tune, chains, target_accept, seed, **kw):
        seeds.append(seed)
        flat = uplift_prior_draws(table, priors, chains * draws, seed=seed)
        posterior = {k: v.reshape(chains, draws, *v.shape[1:]) for k, v in flat.items()}
        stats = {"diverging": np.zeros((chains, draws), dtype=bool)}
        return az.from_dict(posterior=posterior, sample_stats=stats)

    monkeypatch.setattr(sampler, "compiled_for", lambda key, build, data: ("compiled", False))
    monkeypatch.setattr(sampler, "with_data", lambda compiled, **data: compiled)
    monkeypatch.setattr(sampler, "sample", sample)
    return seeds


@pytest.fixture(scope="module")
def small_sbc(design):
    """Three tiny SBC runs on the shipped histories' design, NUTS replaced by prior draws
    (:func:`fake_nuts`); the real fits are in the slow tests and benchmarks/sbc.py."""
    from forecast import api
    from forecast.simulate.setup import setup_forecast

    table, priors, n_tasks = design
    inputs = api.resolve(None)
    setup = setup_forecast(inputs.scenario, inputs.histories)
    with pytest.MonkeyPatch.context() as mp:
        seeds = fake_nuts(mp, table, priors)
        result = sbc.run_sbc(
            table, priors, setup, n_tasks, 3, seed=5, settings=TINY, scenario="frontier-api"
        )
    assert seeds == [sbc.fit_seed(5, i) % 2**31 for i in range(3)]
    return result


def test_small_run_ranks_every_quantity_within_range(small_sbc):
    r = small_sbc
    names = sbc.quantity_names()
    assert r.quantities == names and r.ranks.shape == (3, len(names))
    assert r.n_ranks == TINY.kept == 20
    assert ((r.ranks >= 0) & (r.ranks <= r.n_ranks)).all()
    assert "uplift_at_horizon" in names and "event_rate" in names
    # the truth is a prior draw: the uplift is never negative, spreads are positive
    u = names.index("uplift_at_horizon")
    assert (r.truth[:, u] >= 0).all()
    assert (r.truth[:, names.index("increment_spread")] > 0).all()
    assert [f["fit"] for f in r.fits] == [0, 1, 2]
    assert all(f["seed"] == sbc.fit_seed(5, f["fit"]) for f in r.fits)
    # diagnostics recorded per fit; with 20 draws per chain the ESS check must fail
    assert all("bulk ESS" in " ".join(f["problems"]) for f in r.fits if f["ess_bulk_min"] < 20)
    assert np.isfinite(r.contraction).all() and (r.contraction <= 1).all()
    doc = r.to_dict()
    assert doc["n_fits"] == 3 and len(doc["quantities"]) == len(names)
    assert doc["ranks"]["catalogue_gain"] == r.ranks[:, 0].tolist()
    rows = {c["quantity"]: c for c in doc["contraction"]}
    assert rows["event_rate"]["buffer"] and not rows["eval_slope"]["buffer"]
    assert doc["failed_fits"] == sum(bool(f["problems"]) for f in r.fits)


def test_export_files_are_pngs_a_csv_and_json(small_sbc, tmp_path):
    files = export_files(small_sbc)
    assert set(files) == {"sbc.json", "ranks.csv", "sbc_ecdf.png", "sbc_ranks.png"}
    lines = files["ranks.csv"].decode().splitlines()
    assert lines[0].startswith("fit,seed,quantity,rank")
    assert len(lines) == 1 + 3 * len(small_sbc.quantities)
    assert json.loads(files["sbc.json"])["n_ranks"] == 20
    for name in ("sbc_ecdf.png", "sbc_ranks.png"):
        (tmp_path / name).write_bytes(files[name])
        assert is_png(tmp_path / name)


def test_cli_writes_the_files_and_json(run_cli, tmp_path, small_sbc, design, monkeypatch):
    fake_nuts(monkeypatch, *design[:2])
    out = tmp_path / "sbc"
    code, stdout, err = run_cli(
        ["check", "sbc", "--fits", "2", "--seed", "5", *TINY_CLI, "--out", out, "--json", "-q"]
    )
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["n_fits"] == 2 and doc["n_ranks"] == 20 and doc["model"] == "uplift"
    # same seed, same design: the first two fits of the library run above
    assert doc["ranks"]["event_rate"] == small_sbc.ranks[:2, 1].tolist()
    assert sorted(p.name for p in out.iterdir()) == [
        "ranks.csv",
        "sbc.json",
        "sbc_ecdf.png",
        "sbc_ranks.png",
    ]
    code, stdout, err = run_cli(["check", "sbc", "--fits", "1", *TINY_CLI, "-q"])
    assert code == 0, err
    assert "Simulation-based calibration of the uplift model" in stdout
    assert "fits failed" in stdout and "contraction" in stdout


@pytest.mark.slow
def test_ranks_are_uniform_on_a_tiny_design():
    """Forty fits of a three-suite design with the likelihood's own simulation (the inference
    alone), fixed seeds: no quantity's ranks leave their band after Holm's correction, and
    the fits contract the parameters the histories inform."""
    from forecast import api
    from forecast.evidence.histories import build_history_table
    from forecast.evidence.measurements import load_measurements
    from forecast.inputs.priors import load_priors
    from forecast.simulate.setup import setup_forecast

    measurements = load_measurements()
    keep = {"hm_math500", "mle_bench_v1", "hg_bfcl_v3_multiturn"}
    by_id = {m.id: m for m in measurements.measurements}
    gains = [g for g in measurements.elicitation_gains if by_id[g.before].suite in keep]
    small = measurements.model_copy(update={"elicitation_gains": gains, "scaling_groups": []})
    table = build_history_table(small)
    setup = setup_forecast(api.resolve(None).scenario, table)
    settings = SbcSettings(draws=200, tune=300, chains=2, thin=10, target_accept=0.95)
    result = sbc.run_sbc(table, load_priors(), setup, {s.id: s.n_tasks for s in small.suites},
                         40, seed=11, settings=settings, exact=False)  # fmt: skip
    verdicts = result.verdicts()
    assert not any(v["holm_rejected"] for v in verdicts), [
        v["quantity"] for v in verdicts if v["holm_rejected"]
    ]
    assert result.to_dict()["n_ranks"] == 40


@pytest.mark.slow
def test_the_catalogue_models_sbc_stays_behind_an_option(run_cli):
    code, stdout, err = run_cli(
        ["check", "sbc", "--model", "catalogue", "--fits", "1", *TINY_CLI, "--json", "-q"]
    )
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["model"] == "catalogue" and "catalogue_gain" in doc["ranks"]
    assert "ceg_global_mean" in doc["ranks"] and "uplift_at_horizon" not in doc["ranks"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--fits", "0"], "--fits"),
        (["--fits", "1001"], "--fits"),
        (["--draws", "25", "--thin", "2"], "--thin"),
        (["--chains", "16", "--draws", "1000"], "--draws"),
        (["--seed", "-1"], "--seed"),
        (["--fits", "many"], "--fits"),
        (["--model", "ceg"], "--model"),
        (["--model", "catalogue", "--moment-matched"], "--model"),
    ],
)
def test_bad_options_exit_2_before_any_work(run_cli, args, needle):
    code, out, err = run_cli(["check", "sbc", *args])
    assert code == 2 and out == "" and needle in err and "Traceback" not in err


def test_out_that_is_a_file_is_refused_before_any_work(run_cli, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, out, err = run_cli(["check", "sbc", "--fits", "1", "--out", target])
    assert code == 2 and "--out" in err and target.read_text() == "x"
