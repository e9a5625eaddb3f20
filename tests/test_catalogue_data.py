"""The shipped evidence data: corrections to the seed catalogue, quotes, flags and
measurements, checked against the seed documents themselves."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from forecast.evidence import load_catalogue, shipped_catalogue_paths
from forecast.measurements import backtest_pairs, load_measurements, shipped_measurement_paths
from forecast.schemas import METRICS

SEEDS = Path("/work/shared/seeds")


def _normal(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def seed_text() -> str:
    files = sorted(SEEDS.glob("*.txt"))
    if not files:
        pytest.skip("the seed documents are not on this machine")
    return _normal("\n".join(f.read_text(encoding="utf-8") for f in files))


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.fixture(scope="module")
def measurements(catalogue):
    return load_measurements(catalogue=catalogue)


def figures(catalogue):
    """(label, record) for every CEG figure: observations and combinations."""
    out = [(f"{e.id}: {o.benchmark}", o) for e in catalogue.enhancements for o in e.observations]
    return out + [(c.id, c) for c in catalogue.combinations]


def observation(catalogue, enhancement_id: str, on: str):
    (e,) = [e for e in catalogue.enhancements if e.id == enhancement_id]
    (o,) = [o for o in e.observations if o.benchmark == on]
    return o


def combination(catalogue, combination_id: str):
    (c,) = [c for c in catalogue.combinations if c.id == combination_id]
    return c


# --------------------------------------------------------------------------- corrections


def test_chain_of_thought_on_sports_is_a_lower_bound(catalogue):
    o = observation(catalogue, "chain_of_thought", "Sports")
    assert o.ceg.kind == "lower" and o.ceg.lower == 9
    assert "more than increasing model size by 9" in o.quote
    assert ">9" in o.quote  # the main table's ">9 on many benchmarks"


def test_webgpt_is_a_lower_bound_about_fine_tuning_data(catalogue):
    o = observation(catalogue, "webgpt", "WebGPT long-form question answering (Nakano Figure 6)")
    assert o.ceg.kind == "lower" and o.ceg.lower == 13
    assert "leads to more improvement than scaling model size from 13B to 175B" in o.quote
    assert ">13" in o.quote
    assert "FINE-TUNING DATA" in o.notes and "not about the browser tool" in o.notes


@pytest.mark.parametrize(
    ("enhancement", "figure", "lower"),
    [
        ("few_shot_prompting", "PhysicalQA", 2),
        ("few_shot_prompting", "CoQA", 2),
        ("chain_of_thought", "GSM8K and MAWPS", 9),
    ],
)
def test_outperformances_printed_with_a_tilde_are_lower_bounds(
    catalogue, enhancement, figure, lower
):
    o = observation(catalogue, enhancement, figure)
    assert o.ceg.kind == "lower" and o.ceg.lower == lower
    assert o.quote and "catalogue's rule" in o.notes


def test_one_rule_outperformance_is_a_lower_bound(catalogue):
    """Every figure whose quoted sentence describes an outperformance of a larger model is a
    lower bound; every figure from a fitted scaling curve (seed 001 Table 2, Appendix B
    Table 3) is a point. The rule is written in the catalogue's header."""
    outperformance = re.compile(
        r"outperform|improves .* more than (scaling|increasing)|more improvement than scaling"
    )
    checked = 0
    for label, f in figures(catalogue):
        if f.quote and outperformance.search(f.quote):
            assert f.ceg.kind == "lower", label
            checked += 1
        if re.search(r"Table [23]\b", f.where) and "Appendix A 2" not in f.where:
            assert f.ceg.kind == "point", label
    assert checked >= 7
    header = shipped_catalogue_paths()[0].read_text(encoding="utf-8").split("schema_version")[0]
    assert "OUTPERFORMANCE of a larger model" in header and "LOWER BOUND" in header
    assert "INTERPOLATION on a fitted scaling curve" in header and "POINT" in header


def test_instructgpt_steps_chain_prompting_sft_rlhf(catalogue):
    sft = combination(catalogue, "instructgpt_sft_over_prompted")
    rlhf = combination(catalogue, "instructgpt_rlhf_over_sft")
    total = combination(catalogue, "instructgpt_sft_rlhf_instruction_following")
    assert rlhf.members == ["instructgpt_prompting", "instructgpt_sft", "instructgpt_rlhf"]
    assert rlhf.baseline == ["instructgpt_prompting", "instructgpt_sft"]
    # each step starts where the previous one ends, and the total spans both
    assert set(sft.baseline) == set(total.baseline) == {"instructgpt_prompting"}
    assert set(rlhf.baseline) == set(sft.members)
    assert set(rlhf.members) == set(total.members)
    assert sft.ceg.lower * rlhf.ceg.lower == total.ceg.lower == 3900
    assert not total.in_fit  # the product of two fitted steps
    assert "RLHF further improves over fine-tuning" in rlhf.quote


def test_instructgpt_sft_base_compute_follows_its_siblings(catalogue):
    sft = combination(catalogue, "instructgpt_sft_over_prompted")
    rlhf = combination(catalogue, "instructgpt_rlhf_over_sft")
    prompting = observation(
        catalogue,
        "instructgpt_prompting",
        "InstructGPT instruction following: human preference win rate (Ouyang Figure 1)",
    )
    # siblings: 130x = 175B/1.3B -> the 1.3B model; SFT's 30x = 175B/6B -> the 6B model
    assert rlhf.base_compute_flop == prompting.base_compute_flop == pytest.approx(6 * 1.3e9 * 3e11)
    assert sft.base_compute_flop == pytest.approx(6 * 6e9 * 3e11)
    assert abs(175 / 6 - sft.ceg.lower) < 1 and abs(175 / 1.3 - rlhf.ceg.lower) < 5
    assert "1.3B, 6B, and 175B parameters" in sft.notes


# --------------------------------------------------------------------------- flags


def test_independent_figures_are_exactly_the_re_estimates_and_metr(catalogue):
    independent = {label for label, f in figures(catalogue) if f.independent and f.origin == "seed"}
    cot = next(e for e in catalogue.enhancements if e.id == "chain_of_thought")
    appendix_b = {
        f"chain_of_thought: {o.benchmark}" for o in cot.observations if "Appendix B" in o.where
    }
    assert len(appendix_b) == 8
    metr = {
        "openai_gpt4_post_training: METR agent task suite (195 tasks)",
        "metr_post_training_then_scaffolding",
    }
    assert independent == appendix_b | metr


def test_origins_split_by_file_and_no_gain_rows_are_kept(catalogue):
    from forecast.evidence import _read

    seed_file, *later = [_read(p)[0] for p in shipped_catalogue_paths()]
    assert all(e.origin == "seed" for e in seed_file.enhancements)
    assert all(f.origin == "seed" for _, f in figures(seed_file))
    for part in later:  # catalogue-outside-seeds.yaml: every figure quotes a later source
        for label, f in figures(part):
            assert f.origin == "outside_seeds" and f.reference and f.quote, label
    no_gain = sorted(label for label, f in figures(catalogue) if f.no_gain)
    assert no_gain == [
        "instructgpt_nlp_no_gain",
        "retro_memory_retrieval: Curation Corpus",
        "retro_memory_retrieval: LAMBADA",
        "toolformer: Toolformer translation benchmarks (Schick table 6)",
    ]


# --------------------------------------------------------------------------- quotes


def _fragments(quote: str) -> list[str]:
    return [_normal(part) for part in quote.split("[...]") if part.strip()]


def test_every_seed_quote_stands_in_the_seeds(catalogue, measurements, seed_text):
    records = [(label, f) for label, f in figures(catalogue)]
    records += [(m.id, m) for m in measurements.measurements]
    records += [(g.id, g) for g in measurements.elicitation_gains]
    records += [(s.id, s) for s in measurements.suites]
    records = [(label, record, record.origin) for label, record in records]
    records += [  # a printed difference belongs to its pair
        (f"{g.id}.difference", g.difference, g.origin) for g in measurements.elicitation_gains
    ]
    checked = 0
    for label, record, origin in records:
        if record is None or not record.quote or origin != "seed":
            continue
        for fragment in _fragments(record.quote):
            assert fragment in seed_text, f"{label}: {fragment!r} is not in the seeds"
            checked += 1
    assert checked > 40


def test_catalogue_corrections_quote_the_seed(catalogue):
    for label, f in figures(catalogue):
        if "catalogue's rule" in f.notes:
            assert f.quote, label


# --------------------------------------------------------------------------- measurements


def test_shipped_measurements_name_shipped_enhancements(catalogue, measurements):
    ids = {e.id for e in catalogue.enhancements}
    for m in measurements.measurements:
        assert set(m.applied.enhancements) <= ids, m.id
    for g in measurements.elicitation_gains:
        assert set(g.added.enhancements) <= ids, g.id
    assert [p.name for p in shipped_measurement_paths()][0] == "measurements.yaml"


def test_every_printed_score_is_in_its_quote(measurements):
    for m in measurements.measurements:
        if m.score is None or m.score.point is None or m.origin != "seed":
            continue
        if m.metric == "ratio_to_reference":
            ratio = m.score.point if m.score.point >= 1 else 1 / m.score.point
            assert f"{ratio:g}x" in m.quote, m.id
        else:
            assert f"{m.score.point * 100:g}%" in m.quote.replace("±", "%±"), m.id
        assert m.quote and m.where, m.id


def test_the_seed_series_and_headroom_are_all_there(measurements):
    ids = {m.id for m in measurements.measurements}
    gpt4 = [m for m in measurements.measurements if m.base_model == "GPT-4"]
    assert {m.model for m in gpt4} == {"gpt-4-base", "gpt-4-0314", "gpt-4-0613"}
    assert {"o1_failures_spurious_share", "spurious_issues_fixable_share"} <= ids
    assert {"re_bench_top_agent_2h", "re_bench_top_agent_8h", "re_bench_top_agent_32h"} <= ids
    assert {"codex_humaneval_pass1", "codex_humaneval_pass100"} <= ids
    spurious = next(m for m in measurements.measurements if m.id == "o1_failures_spurious_share")
    assert spurious.basis == "commenter_reading" and spurious.score.point == 0.70
    headroom = {g.id for g in measurements.elicitation_gains}
    assert {"o1_preview_agentic_headroom", "o1_preview_aide_post_release"} <= headroom
    assert set(METRICS) >= {m.metric for m in measurements.measurements}


def test_backtest_pairs_carry_what_a_forecast_needs(measurements):
    pairs = {p.id: p for p in backtest_pairs(measurements) if p.gain.origin == "seed"}
    assert set(pairs) == {"openai_post_training_gpt4", "metr_agent_improvements_gpt4"}
    metr = pairs["metr_agent_improvements_gpt4"]
    assert (metr.before_score, metr.after_score) == (0.30, 0.38)
    assert metr.actor == "finetune_api" and metr.n_tasks == 195
    assert metr.base_compute_flop == 2e25
    assert "openai_gpt4_post_training" in metr.elicited.enhancements
    assert metr.added.enhancements == ["metr_agent_scaffolding"]
    assert metr.as_of.isoformat() == "2023-06-13" and math.isclose(metr.months, 7.66, abs_tol=0.05)
    assert metr.gain.difference.value == 8
    for p in pairs.values():
        assert p.target_date > p.as_of and p.before.base_model == p.after.base_model
