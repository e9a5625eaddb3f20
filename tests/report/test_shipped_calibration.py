"""An export without --calibration shows the shipped calibration of the model it ran."""

from __future__ import annotations

from forecast.report.calibration import calibration_kind, calibration_summary
from forecast.report.export import shipped_calibration
from forecast.report.review_sections import calibration_section


def test_the_shipped_backtest_and_loo_pit_are_read_and_named_as_shipped():
    docs = shipped_calibration()
    kinds = [calibration_kind(doc) for _, doc in docs]
    assert kinds == ["backtest", "loo_pit"]
    for label, _doc in docs:
        assert label.startswith("shipped results: benchmarks/results/")
        assert "default priors" in label
    backtest = docs[0][1]
    assert backtest["mode"] == "histories"  # the uplift model's cross-validation, not pairs
    assert set(backtest["crossval"]["schemes"]) == {"suite", "publisher"}


def test_the_report_section_gives_coverage_per_scheme_and_cut():
    summaries = [calibration_summary(label, doc) for label, doc in shipped_calibration()]
    text = "\n".join(calibration_section(summaries))
    assert "leave one suite out" in text and "leave one publisher out" in text
    assert "cut at 2024-01-01" in text
    assert "No calibration or backtest document" not in text
