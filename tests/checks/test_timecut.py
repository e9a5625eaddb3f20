"""forecast.checks.timecut: a fit cut at a date never sees a figure published after it, and
every later snapshot is forecast from what was known at the cut."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from forecast.checks import timecut
from forecast.checks.synthetic import uplift_prior_draws
from forecast.evidence.catalogue import figure_date, load_catalogue
from forecast.evidence.histories import build_history_table
from forecast.evidence.measurements import load_measurements
from forecast.fit.diagnostics import Diagnostics
from forecast.inputs.priors import load_priors


def _published(m):
    return m.published or m.measured


@pytest.fixture
def recorded(monkeypatch):
    """cut_backtest with the fits replaced by recorders that return prior draws (no NUTS):
    what each fit was given is kept."""
    # forecast.api and forecasting bind the fit functions at import: import them before the
    # fakes go in, or every later test in the process would still run the fakes
    import forecast.api  # noqa: F401
    import forecast.fit.catalogue as catalogue_fit
    import forecast.fit.histories as histories_fit

    seen = {}
    ok = Diagnostics(1.0, 1000.0, 1000.0, 0, 4, 100)

    @dataclasses.dataclass
    class FakeFit:
        draws: dict
        key: str = "k" * 64
        how: str = "sampled"
        diagnostics: Diagnostics = ok

    def fit_evidence(catalogue, priors, settings, **kw):
        from forecast.evidence.table import build_table

        seen["catalogue"] = catalogue
        table = build_table(catalogue)
        summary = catalogue_fit.CatalogueSummary("c" * 64, "LogNormal(0.36, 0.21)", ok, {})
        return catalogue_fit.FittedEvidence(catalogue, table, priors, None, summary)

    def fit_histories(table, priors, settings, **kw):
        seen["histories"] = table
        return FakeFit(uplift_prior_draws(table, priors, 200, seed=0))

    monkeypatch.setattr(catalogue_fit, "fit_evidence", fit_evidence)
    monkeypatch.setattr(histories_fit, "fit_histories", fit_histories)
    monkeypatch.setattr("forecast.buffer.forecasting.histories_priors", lambda priors, fit: priors)
    return seen


@pytest.mark.parametrize("cut", timecut.DEFAULT_CUTS)
def test_the_cut_never_sees_a_later_figure(recorded, cut):
    catalogue, measurements = load_catalogue(), load_measurements()
    doc = timecut.cut_backtest(catalogue, measurements, load_priors(), cut, n=200)
    # the catalogue fit: no enhancement or figure printed on or after the cut
    cat = recorded["catalogue"]
    for e in cat.enhancements:
        assert e.published < cut and all(figure_date(o, e.published) < cut for o in e.observations)
    # the uplift fit: no history snapshot, baseline or scaling member published after the cut
    table = recorded["histories"]
    assert all(s.end <= cut and s.baseline_date <= cut for s in table.snapshots)
    by_id = {m.id: m for m in measurements.measurements}
    for group in measurements.scaling_groups:
        members = [by_id[i] for i in group.measurements]
        kept = sum(1 for m in members if _published(m) and _published(m) <= cut)
        assert sum(label.startswith(group.id + ":") for label in table.scale_labels) == max(
            kept - 1, 0
        )
    # every forecast is of a snapshot after the cut, from a state known at the cut
    full = build_history_table(measurements)
    later = [s for s in full.snapshots if s.end > cut]
    assert len(doc["rows"]) == len(later) == doc["totals"]["n"]
    for r in doc["rows"]:
        start = dt.date.fromisoformat(r["from"])
        assert dt.date.fromisoformat(r["date"]) > cut
        assert start == cut if r["from_cut"] else start > cut
        assert r["measured"] >= r["baseline"]  # the best score never falls
    assert doc["histories"]["snapshots"] == table.n_increments


def test_a_series_known_at_the_cut_starts_from_its_best_score_then(recorded):
    measurements = load_measurements()
    full = build_history_table(measurements)
    cut = dt.date(2025, 1, 1)
    doc = timecut.cut_backtest(load_catalogue(), measurements, load_priors(), cut, n=200)
    for r in doc["rows"]:
        snaps = [s for s in full.snapshots if s.series == r["series"]]
        known = [s for s in snaps if s.end <= cut]
        if snaps[0].baseline_date <= cut:
            assert r["from_cut"] and r["from"] == cut.isoformat()
            best = known[-1].best_after if known else snaps[0].baseline_score
            assert r["baseline"] == best
        else:
            assert not r["from_cut"] and r["from"] == snaps[0].baseline_date.isoformat()
            assert r["baseline"] == snaps[0].baseline_score
        assert r["months"] == pytest.approx(
            (dt.date.fromisoformat(r["date"]) - dt.date.fromisoformat(r["from"])).days / 30.44,
            abs=0.01,
        )
    assert {r["suite_seen"] for r in doc["rows"]} == {True, False}
    assert np.isfinite([r["crps"] for r in doc["rows"]]).all()
