"""forecast.checks.sbc and ``forecast check sbc``: ranks, the simultaneous ECDF band, the
multiple-comparison correction, a small SBC run on the real design and its files.

The small run checks the machinery (ranks in range, files written, bad options refused),
not uniformity: that needs hundreds of fits (benchmarks/sbc.py, docs/calibration.md).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecast.checks import sbc
from forecast.checks.sbc import SbcSettings, rank_of
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
    assert SbcSettings().kept == 100
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


@pytest.fixture(scope="module")
def small_sbc():
    """Three tiny SBC fits on the shipped catalogue's design (one compilation)."""
    from forecast import api
    from forecast.simulate.setup import setup_forecast

    inputs = api.resolve(None)
    setup = setup_forecast(inputs.scenario, inputs.catalogue, inputs.table)
    return sbc.run_sbc(
        inputs.table, inputs.priors, setup, 3, seed=5, settings=TINY, scenario="frontier-api"
    )


def test_small_run_ranks_every_quantity_within_range(small_sbc):
    r = small_sbc
    names = sbc.quantity_names()
    assert r.quantities == names and r.ranks.shape == (3, len(names))
    assert r.n_ranks == TINY.kept == 20
    assert ((r.ranks >= 0) & (r.ranks <= r.n_ranks)).all()
    assert "uplift_at_horizon" in names and "category_mean[data]" in names
    # the truth is a prior draw: the uplift is never negative, spreads are positive
    u = names.index("uplift_at_horizon")
    assert (r.truth[:, u] >= 0).all()
    assert (r.truth[:, names.index("observation_noise")] > 0).all()
    assert [f["fit"] for f in r.fits] == [0, 1, 2]
    assert all(f["seed"] == sbc.fit_seed(5, f["fit"]) for f in r.fits)
    # diagnostics recorded per fit; with 20 draws per chain the ESS check must fail
    assert all("bulk ESS" in " ".join(f["problems"]) for f in r.fits if f["ess_bulk_min"] < 20)
    assert all(f["uplift_refused"] is None for f in r.fits)
    doc = r.to_dict()
    assert doc["uplift_refused"] == 0
    assert doc["n_fits"] == 3 and len(doc["quantities"]) == len(names)
    assert doc["ranks"]["ceg_global_mean"] == r.ranks[:, 0].tolist()


def test_export_files_are_pngs_a_csv_and_json(small_sbc):
    files = export_files(small_sbc)
    assert set(files) == {"sbc.json", "ranks.csv", "sbc_ecdf.png", "sbc_ranks.png"}
    lines = files["ranks.csv"].decode().splitlines()
    assert lines[0].startswith("fit,seed,quantity,rank")
    assert len(lines) == 1 + 3 * len(small_sbc.quantities)
    assert json.loads(files["sbc.json"])["n_ranks"] == 20


def test_png_bytes_are_pngs(small_sbc, tmp_path):
    files = export_files(small_sbc)
    for name in ("sbc_ecdf.png", "sbc_ranks.png"):
        (tmp_path / name).write_bytes(files[name])
        assert is_png(tmp_path / name)


def test_cli_writes_the_files_and_json(run_cli, tmp_path, small_sbc):
    out = tmp_path / "sbc"
    code, stdout, err = run_cli(
        ["check", "sbc", "--fits", "2", "--seed", "5", *TINY_CLI, "--out", out, "--json", "-q"]
    )
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["n_fits"] == 2 and doc["n_ranks"] == 20
    # same seed, same design: the first two fits of the library run above
    assert doc["ranks"]["ceg_global_mean"] == small_sbc.ranks[:2, 0].tolist()
    assert sorted(p.name for p in out.iterdir()) == [
        "ranks.csv",
        "sbc.json",
        "sbc_ecdf.png",
        "sbc_ranks.png",
    ]
    code, stdout, err = run_cli(["check", "sbc", "--fits", "1", *TINY_CLI, "-q"])
    assert code == 0, err
    assert "Simulation-based calibration" in stdout and "fits failed" in stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--fits", "0"], "--fits"),
        (["--fits", "1001"], "--fits"),
        (["--draws", "25", "--thin", "2"], "--thin"),
        (["--chains", "16", "--draws", "1000"], "--draws"),
        (["--seed", "-1"], "--seed"),
        (["--fits", "many"], "--fits"),
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
