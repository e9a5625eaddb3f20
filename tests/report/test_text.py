"""forecast.report.text: values and user text as the report shows them, sensitivity cells."""

from __future__ import annotations

# --------------------------------------------------------------------------- text helpers


def test_cell_never_shows_a_python_representation():
    from forecast.report.text import cell

    assert cell(None) == "none"
    assert (cell(True), cell(False)) == ("yes", "no")
    assert cell([]) == "none" and cell(["a", None]) == "a, none"
    assert cell({"k": None}) == "k: none"
    assert cell(0.25) == "0.25" and cell(3) == "3"


def _row(variations, swing=0.0):
    return {
        "prior": "p",
        "drives": "fit",
        "distribution": "Normal(0, 1)",
        "swing_oom": swing,
        "variations": variations,
    }


def _v(how, value, method="reweighted", k=0.2, reliable=True):
    return {
        "how": how,
        "buffer_oom": value,
        "method": method,
        "pareto_k": k,
        "reliable": reliable,
        "distribution": "x",
    }


def test_sensitivity_cells_say_refit_needed_instead_of_a_zero_swing():
    from forecast.report.text import swing_text, variation_text

    fixed = _row(
        [
            _v("shift_down", None, "not_reweightable", None, False),
            _v("shift_up", None, "not_reweightable", None, False),
        ]
    )
    assert swing_text(fixed) == "refit needed"
    assert variation_text(fixed, "shift_up") == "refit needed"
    assert variation_text(fixed, "tighten") == "-"
    slope = _row([_v("shift_up", 0.7, "no_effect", None)])
    assert swing_text(slope) == "no effect" and variation_text(slope, "shift_up") == "no effect"
    shaky = _row([_v("shift_down", 0.5, k=0.9, reliable=False), _v("shift_up", 1.0, k=0.1)])
    assert swing_text(shaky) == "unreliable: refit"
    assert variation_text(shaky, "shift_down") == "0.50 (k 0.90) !"
    part = _row(
        [_v("tighten", 0.6), _v("widen", 0.9), _v("shift_up", 1.4, k=1.2, reliable=False)], 0.3
    )
    assert swing_text(part) == "0.30 (without k > 0.7)"
    unbounded = _row([_v("widen", None, "out_of_range", None, False)])
    assert swing_text(unbounded) == "beyond the limits"
    assert variation_text(unbounded, "widen") == "beyond the limits"
    fine = _row([_v("shift_down", 0.5, k=-0.4), _v("shift_up", 0.8)], 0.3)
    assert swing_text(fine) == "0.30" and variation_text(fine, "shift_down") == "0.50 (k -0.40)"


def test_the_sensitivity_caption_explains_negative_pareto_k_and_refits():
    from forecast.report.text import SENSITIVITY_CAPTION

    assert "negative k" in SENSITIVITY_CAPTION and "refit needed" in SENSITIVITY_CAPTION
