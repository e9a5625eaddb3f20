"""forecast.checks.crossval and forecast.checks.predictive: folds never see what they predict,
the predictive of a history behaves as the model says, and a small real run scores every
held-out snapshot."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from forecast.checks import crossval, predictive
from forecast.checks.synthetic import uplift_prior_draws
from forecast.evidence.histories import build_history_table
from forecast.evidence.measurements import load_measurements
from forecast.inputs.priors import load_priors


@pytest.fixture(scope="module")
def shipped():
    measurements = load_measurements()
    return build_history_table(measurements), {s.id: s.n_tasks for s in measurements.suites}


@pytest.mark.parametrize("scheme", list(crossval.SCHEMES))
def test_no_fold_gives_weight_to_what_it_holds_out(shipped, scheme):
    table, _ = shipped
    rows = predictive.series_rows(table)
    labels = table.groups(scheme)
    groups = crossval.fold_groups(table, scheme)
    assert groups == sorted(set(labels.tolist())) and len(groups) > 5
    for group in groups:
        weights, scale = crossval.fold_weights(table, scheme, group)
        held = labels == group
        assert (weights[held] == 0).all()
        for series_rows in rows.values():
            hit = [i for i, k in enumerate(series_rows) if held[k]]
            if hit:  # every later snapshot of that series is left out too
                assert (weights[series_rows[hit[0] :]] == 0).all()
                assert (weights[series_rows[: hit[0]]] == 1).all()
            else:
                assert (weights[series_rows] == 1).all()
        if scheme == "suite":
            own = table.scale_suite == table.suites.index(group)
            assert (scale[own] == 0).all() and (scale[~own] == 1).all()
        else:
            assert (scale == 1).all()


def test_each_fold_is_sampled_with_its_own_weights(shipped, monkeypatch):
    """What reaches the sampler: the compiled model's data with the fold's weights (no NUTS
    is run; the sampler is replaced by a recorder)."""
    from forecast.fit import posterior, sampler
    from forecast.fit.engine import FitSettings

    table, _ = shipped
    seen = []
    monkeypatch.setattr(sampler, "compiled_for", lambda key, build, data: ("compiled", False))
    monkeypatch.setattr(sampler, "with_data", lambda compiled, **data: seen.append(data) or data)
    monkeypatch.setattr(sampler, "sample", lambda data, **kw: data)
    fake = uplift_prior_draws(table, load_priors(), 10, seed=0)
    monkeypatch.setattr(posterior, "flat_draws", lambda idata, names: fake)
    monkeypatch.setattr(posterior, "diagnose", lambda idata, names: None)
    folds = list(crossval.fit_folds(table, load_priors(), ("suite", "publisher"),
                                    FitSettings(draws=10, tune=0, chains=1)))  # fmt: skip
    plan = sum(len(crossval.fold_groups(table, s)) for s in ("suite", "publisher"))
    assert len(folds) == len(seen) == plan
    for fold, data in zip(folds, seen, strict=True):
        weights, scale = crossval.fold_weights(table, fold.scheme, fold.group)
        assert np.array_equal(data["inc_weight"], weights)
        assert np.array_equal(data["scale_weight"], scale)
        assert (data["inc_weight"][fold.held] == 0).all()
        assert fold.dropped == int(((weights == 0) & ~fold.held).sum())


def _start(score=0.4, age=3.0):
    return predictive.Start(dt.date(2024, 6, 1), score, age, 2.0)


def test_without_events_the_best_score_stays_and_with_many_it_rises(shipped):
    table, _ = shipped
    draws = uplift_prior_draws(table, load_priors(), 400, seed=1)
    quiet = dict(draws, event_rate=np.full(400, 1e-9))
    months = np.array([0.0, 3.0, 12.0])
    args = dict(access=0, n_tasks=100, suite=None, priors=load_priors(),
                data_years=table.year_range, n=2000)  # fmt: skip
    flat = predictive.best_score_draws(quiet, _start(), months, **args)
    assert flat.shape == (3, 2000) and (flat == 0.4).all()
    fixed = dict(event_rate=0.5, rate_decay_months=1e3, rate_trend=0.0, increment_mean=0.1,
                 eval_slope=1.0, eval_slope_spread=0.0, elicitation_effect=0.0,
                 access_effect=0.0, harness_noise=0.0)  # fmt: skip
    busy = draws | {name: np.full(400, value) for name, value in fixed.items()}
    up = predictive.best_score_draws(busy, _start(), months, **args)
    assert (up[0] == 0.4).all()  # nothing has happened at month 0
    assert (up >= 0.4).all()  # the best score never falls
    # about 6 events of 0.1 OOM by month 12: logit(0.4) + 0.6 is a score of 0.55
    assert 0.5 < np.median(up[2]) < 0.6 and np.median(up[1]) < np.median(up[2])
    # measured scores are counts of the suite's tasks
    assert np.allclose(up[2] * 100, np.round(up[2] * 100))


def test_a_known_suite_uses_its_own_slope(shipped):
    table, _ = shipped
    draws = uplift_prior_draws(table, load_priors(), 50, seed=2)
    draws["z_suite"][:, 3] = 2.0
    index = np.arange(50)
    rng = np.random.default_rng(0)
    own = predictive.slope_draws(draws, index, 3, rng)
    assert np.allclose(own, draws["eval_slope"] * np.exp(2.0 * draws["eval_slope_spread"]))
    population = predictive.slope_draws(draws, index, None, rng)
    assert not np.allclose(population, own)


def test_the_start_of_a_series_at_a_date_is_its_best_known_then(shipped):
    table, _ = shipped
    rows = predictive.series_rows(table)
    series, ks = next((s, ks) for s, ks in rows.items() if len(ks) >= 3)
    first, second = table.snapshots[ks[0]], table.snapshots[ks[1]]
    base = predictive.start_of(table, ks)
    assert (base.date, base.score) == (first.baseline_date, first.baseline_score)
    assert base.age_months == pytest.approx(table.inc_age[ks[0]])
    at = second.start + (second.end - second.start) / 2  # inside the second interval
    mid = predictive.start_of(table, ks, at=at)
    assert mid.date == at and mid.score == second.best_before == first.best_after
    assert mid.age_months > base.age_months
    with pytest.raises(ValueError, match="nothing after"):
        predictive.start_of(table, ks, at=dt.date(2100, 1, 1))


@pytest.mark.slow
def test_a_small_cross_validation_scores_every_held_out_snapshot(shipped):
    """Two suites' histories, both schemes, tiny fits: every snapshot is predicted once per
    scheme, by a fold that held it out, and the totals count them."""
    from forecast.fit.engine import FitSettings

    measurements = load_measurements()
    keep = {"hm_math500", "mle_bench_v1", "hg_bfcl_v3_multiturn"}
    by_id = {m.id: m for m in measurements.measurements}
    gains = [g for g in measurements.elicitation_gains if by_id[g.before].suite in keep]
    small = measurements.model_copy(update={"elicitation_gains": gains, "scaling_groups": []})
    table = build_history_table(small)
    n_tasks = {s.id: s.n_tasks for s in measurements.suites}
    tiny = FitSettings(draws=100, tune=150, chains=2)
    doc = crossval.crossvalidate(table, load_priors(), n_tasks, settings=tiny, n=500)
    for scheme, part in doc["schemes"].items():
        rows = part["rows"]
        assert sorted(r["measurement"] for r in rows) == sorted(
            s.measurement for s in table.snapshots
        )
        key = "suite" if scheme == "suite" else "publisher"
        assert all(r["group"] == r[key] for r in rows)
        assert all(0 <= r["pit"] <= 1 and r["crps"] >= 0 for r in rows)
        assert part["totals"]["n"] == table.n_increments
        failed = {f["group"] for f in part["failed_folds"]}
        assert failed == {f["group"] for f in part["folds"] if not f["diagnostics"]["ok"]}
        assert part["totals_passing_folds"].get("n", 0) == sum(r["fold_ok"] for r in rows)
    assert dataclasses.asdict(tiny) == doc["settings"]
