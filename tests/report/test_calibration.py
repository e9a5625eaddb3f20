"""forecast.report.calibration: each kind of calibration document recognised and summarised."""

from __future__ import annotations

# --------------------------------------------------------------------------- calibration


SBC = {
    "method": "simulation-based calibration",
    "n_fits": 20,
    "n_ranks": 100,
    "seed": 0,
    "all_uniform": False,
    "failed_fits": 1,
    "quantities": [
        {
            "quantity": "ceg_global_mean",
            "mean_rank_fraction": 0.51,
            "outer_fifths_share": 0.4,
            "p_value": 0.6,
            "inside_band": True,
            "holm_rejected": False,
            "verdict": "uniform",
        },
        {
            "quantity": "uplift",
            "mean_rank_fraction": 0.8,
            "outer_fifths_share": 0.7,
            "p_value": 0.001,
            "inside_band": False,
            "holm_rejected": True,
            "verdict": "biased",
        },
    ],
    "fits": [],
}
LOO = {
    "method": "PSIS-LOO",
    "figures": [
        {
            "label": "minerva/MATH",
            "pit": 0.99,
            "pareto_k": 0.8,
            "unexplained": True,
            "reasons": ["PIT above 0.975"],
        },
        {"label": "cot/GSM8k", "pit": 0.4, "pareto_k": 0.1, "unexplained": False, "reasons": []},
    ],
    "summary": {
        "n_figures": 2,
        "mean_pit": 0.7,
        "share_below_half": 0.5,
        "n_unexplained": 1,
        "n_high_pareto_k": 1,
        "pit_inside_band": True,
        "pit_band_p_value": 0.4,
    },
}
PAIRS = {
    "mode": "pairs",
    "score": "CRPS",
    "pairs": [
        {
            "pair": "gpt4-agent",
            "as_of": "2023-03-14",
            "months_after": 10.6,
            "measured": 0.38,
            "pit": 0.7,
            "crps": 0.02,
            "verdict": "inside",
        }
    ],
    "skipped": [],
    "totals": {
        "n": 1,
        "inside_90": 1,
        "mean_crps": 0.02,
        "mean_crps_no_change": 0.05,
        "mean_pit": 0.7,
    },
}


def test_each_kind_of_calibration_document_is_recognised_and_summarised():
    from forecast.report.calibration import calibration_kind, calibration_summary

    assert calibration_kind(SBC) == "sbc" and calibration_kind(LOO) == "loo_pit"
    assert calibration_kind(PAIRS) == "backtest"
    assert calibration_kind({"scenarios": []}) is None and calibration_kind([1]) is None
    sbc = calibration_summary("sbc.json", SBC)
    assert "miscalibrated" in sbc["verdict"]
    assert [r[0] for r in sbc["table"]["rows"]] == ["ceg_global_mean", "uplift"]
    loo = calibration_summary("loo.json", LOO)
    assert loo["verdict"].startswith("1 of 2 figures unexplained")
    assert [r[0] for r in loo["table"]["rows"]] == ["minerva/MATH"]  # only unexplained ones
    pairs = calibration_summary("bt.json", PAIRS)
    assert pairs["verdict"].startswith("1 of 1 measured pairs inside")
    empty = calibration_summary("bt.json", {"scenario": "x", "comparisons": []})
    assert "nothing to compare" in empty["verdict"]


def test_the_calibration_section_says_how_to_include_documents():
    from forecast.report.calibration import calibration_summary
    from forecast.report.review_sections import calibration_section

    text = "\n".join(calibration_section([]))
    assert "forecast export --calibration FILE" in text
    text = "\n".join(calibration_section([calibration_summary("/x/sbc.json", SBC)]))
    assert "### Simulation-based calibration" in text and "`/x/sbc.json`" in text
    assert "| uplift | 0.80 | 0.70 | 0.001 | biased |" in text
