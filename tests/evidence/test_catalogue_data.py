"""The shipped evidence data: corrections to the seed catalogue, quotes, flags and
measurements, checked against the seed documents themselves."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from forecast.core.schemas.measurements import METRICS
from forecast.evidence.catalogue import load_catalogue, shipped_catalogue_paths
from forecast.evidence.measurements import (
    backtest_pairs,
    load_measurements,
    shipped_measurement_paths,
)

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
    from forecast.evidence.catalogue import _read

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


# --------------------------------------------------------------------------- after the seeds
# priors/catalogue-outside-seeds.yaml and priors/measurements-outside-seeds.yaml: figures from
# primary sources published after the seeds, audited against those sources (the audit trail is
# /work/research/outside-seeds/notes.md; the list is in docs/catalogue.md, "Evidence after the
# seeds").


def _later_catalogue():
    from forecast.evidence.catalogue import _read

    (path,) = [p for p in shipped_catalogue_paths() if p.name == "catalogue-outside-seeds.yaml"]
    return _read(path)[0]


def _outside(records):
    return {r.id: r for r in records if r.origin == "outside_seeds"}


def _later(measurements):
    """The suites, measurements and pairs of priors/measurements-outside-seeds.yaml (round 2's
    later primary sources; the histories of priors/histories/ have their own tests), by id."""
    import yaml

    from forecast.core.paths import data_dir

    ids = yaml.safe_load((data_dir("priors") / "measurements-outside-seeds.yaml").read_text())

    def own(records, section):
        listed = {r["id"] for r in ids.get(section) or []}
        return {i: r for i, r in _outside(records).items() if i in listed}

    return (
        own(measurements.suites, "suites"),
        own(measurements.measurements, "measurements"),
        own(measurements.elicitation_gains, "elicitation_gains"),
    )


def test_every_later_record_names_its_primary_source_and_quotes_it(measurements):
    later = _later_catalogue()
    assert later.enhancements and all(e.origin == "outside_seeds" for e in later.enhancements)
    records = [(label, f) for label, f in figures(later)]
    suites, meas, pairs = _later(measurements)
    records += [(i, r) for group in (suites, meas, pairs) for i, r in group.items()]
    assert len(records) >= 70
    for label, r in records:
        assert r.origin == "outside_seeds" and r.reference.strip() and r.quote.strip(), label
        assert r.where.strip(), label


def _starting(by_label, prefix):
    (record,) = [f for label, f in by_label.items() if label.startswith(prefix)]
    return record


def test_later_ceg_figures_are_lower_bounds_with_their_arithmetic():
    later = _later_catalogue()
    by_label = dict(figures(later))
    assert len(by_label) == 5
    assert all(f.ceg.kind == "lower" for f in by_label.values())  # every one an outperformance
    snell = _starting(by_label, "compute_optimal_test_time_search: MATH (problems")
    assert snell.ceg.lower == 14 and "outperform a 14x larger model" in snell.quote
    assert snell.base_compute_flop is None  # PaLM 2 sizes are not public
    hf = by_label["compute_optimal_test_time_search: MATH-500"]
    # GPU-hours of the 3B system (3B + the 8B it was pruned from and whose fine-tune is its
    # reward model + all logit generation) against the 70B's: 7.0M / 2.006M = 3.49
    assert hf.ceg.lower == 3.5 and abs(7.0 / (0.460 + 1.46 + 0.086) - hf.ceg.lower) < 0.05
    assert hf.base_compute_flop == pytest.approx(6 * 3.21e9 * 9e12, rel=1e-3)
    assert "Llama3.1-8B-PRM" in hf.quote and "86k" in hf.quote and "460k" in hf.quote
    r1 = _starting(by_label, "r1_reasoning_distillation: AIME 2024")
    assert r1.ceg.lower == 2.2 and 32.76 / 14.77 >= r1.ceg.lower
    assert r1.base_compute_flop == pytest.approx(6 * 14.7e9 * 18e12, rel=1e-2)
    llama = by_label["r1_distill_majority_voting_llama"]
    assert llama.ceg.lower == 70 / 8 and llama.base_compute_flop == pytest.approx(6 * 8e9 * 15e12)
    qwen = by_label["r1_distill_majority_voting_qwen"]
    assert qwen.ceg.lower == 2.2
    for c in (llama, qwen):  # majority voting as a step on top of the same distillation
        assert c.members == ["r1_reasoning_distillation", "majority_voting"]
        assert c.baseline == ["r1_reasoning_distillation"]
    # independent only where DeepSeek measured someone else's method (majority voting)
    assert {label for label, f in by_label.items() if f.independent} == {
        "r1_distill_majority_voting_llama",
        "r1_distill_majority_voting_qwen",
    }


def test_later_enhancements_dates_and_what_was_removed():
    later = _later_catalogue()
    published = {e.id: e.published.isoformat() for e in later.enhancements}
    assert published == {
        "compute_optimal_test_time_search": "2024-08-01",  # arXiv 2408.03314
        "r1_reasoning_distillation": "2025-01-01",  # arXiv 2501.12948
        "rstar_math_self_evolution": "2025-01-01",  # arXiv 2501.04519
        "s1_budget_forcing": "2025-01-01",  # arXiv 2501.19393
        "web_agent_tree_search": "2024-07-01",  # arXiv 2407.01476
    }
    # REBASE's 7B system searches with a 34B reward model, so it contains the larger model
    assert "rebase_tree_search" not in published


def test_later_measured_scores_are_in_their_quotes(measurements):
    _, meas, _ = _later(measurements)
    assert len(meas) >= 40
    for m in meas.values():
        if m.score is None or m.score.point is None or m.metric == "ratio_to_reference":
            continue
        if "Derived, not printed" in m.notes:  # a baseline computed from a relative gain
            continue
        printed = f"{m.score.point * 100:.2f}".rstrip("0").rstrip(".")
        assert printed in m.quote, (m.id, printed)
        if m.score.plus_minus is not None:
            assert m.score.interval == 0.68  # one standard error, as the leaderboards say
            assert f"{m.score.plus_minus * 100:.2f}".rstrip("0") in m.quote, m.id


def test_later_key_figures_and_dates(measurements):
    _, meas, pairs = _later(measurements)
    aide, rd = meas["mlebench_o1preview_aide"], meas["mlebench_o1preview_rdagent"]
    # the benchmark owner's recomputed numbers (2025-11-27), not the paper's 16.9 +- 1.1
    assert (aide.score.point, aide.score.plus_minus) == (0.1712, 0.0061)
    assert (rd.score.point, rd.score.plus_minus) == (0.224, 0.005)
    assert (aide.measured.isoformat(), rd.measured.isoformat()) == ("2024-10-08", "2025-05-14")
    assert aide.model_date.isoformat() == "2024-09-12" and not aide.independent  # OpenAI's own
    anthropic = meas["swebv_claude35_sonnet_1022_anthropic"]
    assert anthropic.score.point == 0.49 and anthropic.model == "claude-3-5-sonnet-20241022"
    assert meas["swebv_claude35_sonnet_1022_agentscope"].score.point == 0.634
    assert meas["openai_o1_aime24_cons64"].score.point == 0.83
    assert meas["openai_o1_aime24_rerank1000"].score.point == 0.93
    assert (
        meas["metr_o1_elicited_agent"].score.point == 2
        and meas["metr_o1_baseline_agent"].score.upper == 1
    )
    assert all(
        meas[i].independent for i in ("arc_o3_semiprivate_6_samples", "metr_o1_elicited_agent")
    )
    assert meas["rstar_qwen25_math_7b_base"].model_date.isoformat() == "2024-09-18"
    suites = {s.id: s.n_tasks for s in measurements.suites}
    assert suites["swe_bench_verified"] == 500 and suites["swe_bench_lite"] == 300
    assert suites["mle_bench_v1"] == 75 and suites["aime_2024"] == 30
    assert len(pairs) == 20


def test_later_backtest_pairs_are_fixed_models_with_time_between(measurements):
    _, _, own = _later(measurements)
    later = {p.id: p for p in backtest_pairs(measurements) if p.id in own}
    assert set(later) == {
        "mlebench_o1preview_rdagent_over_aide",
        "swebv_claude35_sonnet_1022_codestory_over_anthropic",
        "swebv_claude35_sonnet_1022_agentscope_over_anthropic",
        "rstar_math_qwen25_math_7b",
    }
    for p in later.values():
        assert p.before.base_model == p.after.base_model and p.target_date > p.as_of
        assert p.before.model == p.after.model or p.id == "rstar_math_qwen25_math_7b"
    mle = later["mlebench_o1preview_rdagent_over_aide"]
    assert (mle.before_score, mle.after_score) == (0.1712, 0.224) and mle.n_tasks == 75
    swe = later["swebv_claude35_sonnet_1022_agentscope_over_anthropic"]
    assert (swe.before_score, swe.after_score, swe.n_tasks) == (0.49, 0.634, 500)
    assert swe.as_of.isoformat() == "2024-10-22" and swe.actor == "public_api"
    # "deepseek-r1" on the MLE-bench leaderboard names no checkpoint: not a fixed model
    _, _, pairs = _later(measurements)
    deepseek = pairs["mlebench_deepseek_r1_internagent_over_mlmaster"]
    assert not deepseek.backtest and "checkpoint" in deepseek.reason


def test_docs_list_every_later_record(measurements):
    """docs/catalogue.md, "Evidence after the seeds": its tables are what its code prints from
    the shipped files, so every later record and pair is listed, and left-out ones say why."""
    import contextlib
    import io

    text = (Path(__file__).resolve().parents[2] / "docs" / "catalogue.md").read_text("utf-8")
    section = text.split("## Evidence after the seeds", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/catalogue.md", "exec"), {})
    for line in printed.getvalue().splitlines():
        assert line in section.splitlines(), f"docs table out of date: {line[:80]}"
    later = _later_catalogue()
    _, _, pairs = _later(measurements)
    ids = [c.id for c in later.combinations] + [e.id for e in later.enhancements] + list(pairs)
    for i in ids:
        assert f"`{i}`" in section, i
    assert "`rebase_tree_search`" in section  # left out, with the reason
