"""forecast.checks.ppc: leave-one-out PIT of the catalogue's figures with PSIS-LOO.

Made-up posterior draws of each figure's mean and scale on the real catalogue's table (no
fit needed), so what the PIT should be is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from forecast.checks import ppc
from forecast.evidence.catalogue import load_catalogue
from forecast.evidence.table import build_table

NU = 4.0


@pytest.fixture(scope="module")
def table():
    return build_table(load_catalogue())


def centred_draws(table, shift=None, sd=0.3, n=800, seed=0):
    """Draws whose mean sits on each figure's value (or bound), plus ``shift`` (OOM)."""
    rng = np.random.default_rng(seed)
    centre = np.where(np.isfinite(table.value), table.value, 0.0)
    centre = np.where(np.isfinite(table.lower) & ~np.isfinite(table.value), table.lower, centre)
    centre = np.where(np.isfinite(table.upper) & ~np.isfinite(table.value), table.upper, centre)
    centre = np.nan_to_num(centre)
    if shift is not None:
        centre = centre + shift
    mean = centre[None, :] + 0.05 * rng.standard_normal((n, table.n_rows))
    return {"figure_mean": mean, "figure_sd": np.full((n, table.n_rows), sd)}


def test_mixture_cdf_is_the_student_t_cdf():
    from scipy.stats import t

    y = np.linspace(-4, 4, 17)
    assert np.allclose(ppc.mixture_cdf(y, 0.0, 1.0, NU), t.cdf(y, NU), atol=2e-4)
    assert np.allclose(ppc.mixture_cdf(1.0, 1.0, 0.5, NU), 0.5, atol=1e-6)


def test_every_continuous_figure_gets_a_pit_and_no_gain_figures_are_left_out(table):
    doc = ppc.loo_pit(table, centred_draws(table), NU, seed=1)
    assert len(doc["figures"]) == int(table.continuous.sum())
    assert len(doc["left_out"]) == int(table.no_gain.sum())
    assert {f["label"] for f in doc["figures"]}.isdisjoint(f["label"] for f in doc["left_out"])
    for f in doc["figures"]:
        lo, hi = f["pit_range"]
        assert 0 <= lo <= f["pit"] <= hi <= 1
        assert f["loo_q05"] <= f["loo_q50"] <= f["loo_q95"]
        if f["kind"] == "point":
            assert lo == hi and abs(f["pit"] - 0.5) < 0.1  # the model is centred on it
        elif f["kind"] == "lower":
            assert hi == 1.0 and abs(lo - 0.5) < 0.1  # "CEG > b" with the mean at b
        assert f["pareto_k"] < 0.7
    assert doc["summary"]["n_unexplained"] == 0


def test_a_model_that_over_predicts_a_figure_is_flagged(table):
    points = np.flatnonzero(table.continuous & np.isfinite(table.value))
    shift = np.zeros(table.n_rows)
    shift[points[0]] = 2.0  # the model expects 2 OOM more than the figure says
    doc = ppc.loo_pit(table, centred_draws(table, shift), NU, seed=1)
    flagged = [f for f in doc["figures"] if f["unexplained"]]
    assert [f["row"] for f in flagged] == [int(points[0])]
    assert flagged[0]["pit"] < 0.05 and "over-predicts" in flagged[0]["reasons"][0]


def test_a_lower_bound_far_above_the_prediction_is_flagged_and_its_pit_is_random(table):
    lower = np.flatnonzero(table.continuous & (table.kind_code == 1))
    shift = np.zeros(table.n_rows)
    shift[lower[0]] = -2.0  # the model expects far less than the bound "CEG > b"
    a = ppc.loo_pit(table, centred_draws(table, shift), NU, seed=1)
    b = ppc.loo_pit(table, centred_draws(table, shift), NU, seed=2)
    fa = next(f for f in a["figures"] if f["row"] == lower[0])
    fb = next(f for f in b["figures"] if f["row"] == lower[0])
    assert fa["unexplained"] and "under-predicts" in fa["reasons"][0]
    assert fa["pit"] > 0.95 and fa["pit"] != fb["pit"]  # seeded: a new seed, a new draw
    again = ppc.loo_pit(table, centred_draws(table, shift), NU, seed=1)
    assert again["figures"] == a["figures"]  # same seed, same output


def test_pit_plot_is_a_png(table, tmp_path):
    from forecast.report.calibration_plots import pit_plot
    from forecast.report.plots import is_png

    doc = ppc.loo_pit(table, centred_draws(table), NU, seed=1)
    path = tmp_path / "pit.png"
    with open(path, "wb") as fh:
        pit_plot(doc, fh, "test")
    assert is_png(path)


def test_check_figures_cli_on_a_small_fit(run_cli, write_yaml, tmp_path, monkeypatch):
    """A two-figure catalogue: the command's JSON, text and files. The fit is made-up draws
    (conftest.fake_sampler); loo_pit itself is tested above."""
    from conftest import MINIMAL_CATALOGUE, fake_sampler, words

    from forecast.fit import engine
    from forecast.report.plots import is_png

    calls = []
    monkeypatch.setattr(engine, "_sample", fake_sampler(calls))

    two = MINIMAL_CATALOGUE.replace(
        '        where: "table 1"\n',
        '        where: "table 1"\n'
        "      - benchmark: MATH\n"
        "        domain: math\n"
        "        ceg: {point: 3}\n"
        '        where: "table 2"\n',
    )
    assert two.count("benchmark:") == 2
    evidence = write_yaml(two, "two.yaml")
    args = ["check", "figures", "--evidence", evidence, "--no-shipped-evidence", "--quiet"]
    out_dir = tmp_path / "ppc"
    code, out, err = run_cli([*args, "--json", "--out", out_dir])
    assert code == 0, err
    import json

    doc = json.loads(out)
    kinds = sorted(f["kind"] for f in doc["figures"])
    assert kinds == ["lower", "point"] and doc["left_out"] == []
    assert all(0 <= f["pit"] <= 1 for f in doc["figures"])
    assert doc["summary"]["n_figures"] == 2 and doc["summary"]["n_points"] == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["loo_pit.json", "loo_pit.png"]
    assert is_png(out_dir / "loo_pit.png")
    code, out, err = run_cli([*args, "--all"])
    assert code == 0, err
    assert "Leave-one-out PIT of every figure" in words(out) and "GSM8k" in out
    assert "2 figures (1 points, 1 censored)" in words(out)
    assert [name for name, _, _ in calls] == ["catalogue"]  # fitted once, then read back


def test_check_figures_refuses_an_out_that_is_a_file(run_cli, tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("x")
    code, out, err = run_cli(["check", "figures", "--out", target])
    assert code == 2 and "--out" in err and target.read_text() == "x"
