"""forecast.evidence.table: the catalogue as model arrays (censoring, no-gain rows, compute,
arrivals)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecast.core.errors import InputError
from forecast.core.schemas.catalogue import Catalogue
from forecast.core.schemas.common import CATEGORIES
from forecast.evidence.catalogue import load_catalogue
from forecast.evidence.table import (
    ARRIVAL_BIN_YEARS,
    REFERENCE_LOG10_FLOP,
    benchmark_key,
    build_table,
    years_since_reference,
)


@pytest.fixture(scope="module")
def shipped():
    return load_catalogue()


def make_catalogue(enhancements, combinations=()) -> Catalogue:
    return Catalogue.model_validate(
        {
            "schema_version": 1,
            "enhancements": list(enhancements),
            "combinations": list(combinations),
        }
    )


def enh(id_, category="tool", published="2023-01-01", observations=(), **extra):
    return {
        "id": id_,
        "name": id_.title(),
        "category": category,
        "published": published,
        "access": "prompt",
        "source": "src",
        "observations": list(observations),
        **extra,
    }


def obs(ceg, benchmark="GSM8k", **extra):
    return {"benchmark": benchmark, "domain": "math", "ceg": ceg, "where": "t1", **extra}


# --------------------------------------------------------------------------- shipped


def test_shipped_table_shapes(shipped):
    table = build_table(shipped)
    n_enh = len(shipped.enhancements)
    in_fit = sum(o.in_fit for e in shipped.enhancements for o in e.observations) + sum(
        c.in_fit for c in shipped.combinations
    )
    k = max(len(c.members) for c in shipped.combinations)
    assert table.n_rows == in_fit
    assert table.enhancement_ids == tuple(e.id for e in shipped.enhancements)
    assert table.enhancement_category.shape == (n_enh,)
    assert table.enhancement_year.shape == (n_enh,)
    assert table.members.shape == table.in_baseline.shape == (in_fit, k)
    for name in ("value", "lower", "upper", "log_compute", "benchmark", "independent"):
        assert getattr(table, name).shape == (in_fit,), name
    assert len(table.row_labels) == in_fit
    assert table.members.max() < n_enh and table.members.min() >= -1
    assert table.benchmark.max() == len(table.benchmarks) - 1
    # every row is exactly one of point / censored
    point = np.isfinite(table.value)
    censored = np.isfinite(table.lower) | np.isfinite(table.upper)
    assert (point ^ censored).all()
    # arrivals count the seed records only, one column per half year
    seeds = [e for e in shipped.enhancements if e.origin == "seed"]
    assert table.arrival_counts.shape == (len(CATEGORIES), table.bin_years.size)
    assert table.arrival_counts.sum() == len(seeds)
    assert np.all(table.bin_years <= ARRIVAL_BIN_YEARS + 1e-9)


def test_shipped_in_fit_false_rows_are_excluded(shipped):
    table = build_table(shipped)
    # retro_memory_retrieval's first C4 figure (8x) is marked in_fit: false; its 17x is kept
    assert "retro_memory_retrieval[0] C4" not in table.row_labels
    assert "retro_memory_retrieval[1] C4" in table.row_labels
    row = table.row_labels.index("retro_memory_retrieval[1] C4")
    assert table.lower[row] == pytest.approx(math.log10(17))
    assert math.isnan(table.value[row]) and table.upper[row] == math.inf
    assert table.log_compute[row] == pytest.approx(math.log10(1.071e21) - REFERENCE_LOG10_FLOP)


def test_shipped_combination_rows_and_unknown_compute(shipped):
    table = build_table(shipped)
    row = table.row_labels.index(
        "process_verification_over_orm Lightman et al. 2023 math benchmark"
    )
    ids = table.enhancement_ids
    members = [ids[m] for m in table.members[row] if m >= 0]
    assert members == ["verification", "process_verification"]
    assert table.in_baseline[row].tolist()[:2] == [True, False]
    assert not table.in_baseline[row, 2:].any()
    assert (table.members[row, 2:] == -1).all()
    assert table.value[row] == pytest.approx(math.log10(8))
    assert not table.is_single[row]
    # no base_compute_flop given: unknown (a latent value in the model), never a made-up 1e23
    assert math.isnan(table.log_compute[row]) and not table.known_compute[row]


def test_shipped_no_gain_and_independent_rows(shipped):
    table = build_table(shipped)
    # "no gain" figures (CEG exactly 1) inform relevance only
    assert table.no_gain.sum() >= 4
    assert (table.value[table.no_gain] == 0.0).all()
    assert not table.continuous[table.no_gain].any()
    # independent re-measurements (seed 001 Appendix B, METR) carry the flag
    assert table.independent.sum() >= 8
    labels = [
        label for label, flag in zip(table.row_labels, table.independent, strict=True) if flag
    ]
    assert any("lanham" in label or "chain_of_thought" in label for label in labels)


# --------------------------------------------------------------------------- build_table


def test_build_table_censoring_encoding():
    catalogue = make_catalogue(
        [
            enh(
                "a",
                observations=[
                    obs({"point": 10}, base_compute_flop=1e22),
                    obs({"lower": 20}),
                    obs({"upper": 9}),
                    obs({"lower": 5, "upper": 50}),
                    obs({"point": 1000}, in_fit=False),
                ],
            )
        ]
    )
    t = build_table(catalogue)
    assert t.n_rows == 4
    assert t.row_labels == ("a[0] GSM8k", "a[1] GSM8k", "a[2] GSM8k", "a[3] GSM8k")
    assert t.kind.tolist() == ["point", "lower", "upper", "interval"]
    assert t.kind_code.tolist() == [0, 1, 2, 3]
    # point: value=log10, no bounds
    assert (t.value[0], t.lower[0], t.upper[0]) == (pytest.approx(1.0), -np.inf, np.inf)
    # lower bound: lower=log10(x), value NaN, upper=inf
    assert math.isnan(t.value[1])
    assert t.lower[1] == pytest.approx(math.log10(20)) and t.upper[1] == np.inf
    # upper bound: the reverse
    assert math.isnan(t.value[2])
    assert t.lower[2] == -np.inf and t.upper[2] == pytest.approx(math.log10(9))
    # interval
    assert math.isnan(t.value[3])
    assert (t.lower[3], t.upper[3]) == (pytest.approx(math.log10(5)), pytest.approx(math.log10(50)))
    assert t.log_compute[0] == pytest.approx(-1.0)
    assert np.isnan(t.log_compute[1:]).all()
    assert t.compute_range == (pytest.approx(-1.0), pytest.approx(-1.0))
    assert t.members.shape == (4, 1) and (t.members == 0).all()
    assert t.is_single.all()


def test_build_table_no_gain_is_exactly_one():
    t = build_table(
        make_catalogue([enh("a", observations=[obs({"point": 1}), obs({"point": 1.01})])])
    )
    assert t.no_gain.tolist() == [True, False]
    assert t.continuous.tolist() == [False, True]


def test_build_table_combination_membership_and_padding():
    catalogue = make_catalogue(
        [
            enh("a", observations=[obs({"point": 2}, base_compute_flop=1e21)]),
            enh("b", category="data"),
            enh("c", category="prompting"),
        ],
        [
            {
                **obs({"lower": 30}, base_compute_flop=1e23),
                "id": "ab",
                "members": ["a", "b"],
                "baseline": ["a"],
            },
            {**obs({"point": 100}), "id": "abc", "members": ["c", "a", "b"]},
            {**obs({"point": 5}), "id": "skip", "members": ["b", "c"], "in_fit": False},
        ],
    )
    t = build_table(catalogue)
    assert t.n_rows == 3
    assert t.members.tolist() == [[0, -1, -1], [0, 1, -1], [2, 0, 1]]
    assert t.in_baseline.tolist() == [
        [False, False, False],
        [True, False, False],
        [False, False, False],
    ]
    assert t.is_single.tolist() == [True, False, False]
    assert t.row_labels[1:] == ("ab GSM8k", "abc GSM8k")
    # Each enhancement's mean compute is over the rows it appears in, combinations included.
    w = t.membership()
    np.testing.assert_allclose(w.sum(axis=1), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(w[0], [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(w[2], [0.0, 0.0, 1.0])


def test_build_table_benchmarks_shared_loosely():
    catalogue = make_catalogue(
        [
            enh(
                "a",
                observations=[
                    obs({"point": 2}, benchmark="MMLU-STEM"),
                    obs({"point": 3}, benchmark="mmlu stem"),
                    obs({"point": 4}, benchmark="MATH"),
                ],
            )
        ]
    )
    t = build_table(catalogue)
    assert benchmark_key("MMLU_STEM") == benchmark_key("  mmlu-stem ") == "mmlu stem"
    assert t.benchmark.tolist() == [0, 0, 1]
    assert t.benchmarks == ("mmlu stem", "math")
    assert t.shared_benchmark.tolist() == [True, True, False]


def test_build_table_dates_and_half_year_arrival_counts():
    catalogue = make_catalogue(
        [
            enh("a", "tool", "2022-06-01", [obs({"point": 2})]),
            enh("b", "data", "2022-09-01"),
            enh("c", "data", "2023-06-01"),
            enh("d", "data", "2024-06-01", origin="outside_seeds"),
        ]
    )
    t = build_table(catalogue)
    assert t.enhancement_category.tolist()[:2] == [
        CATEGORIES.index("tool"),
        CATEGORIES.index("data"),
    ]
    assert t.enhancement_year[0] == 0.0  # the reference date
    assert t.enhancement_year[2] == pytest.approx(
        years_since_reference(catalogue.enhancements[2].published)
    )
    assert t.last_year == pytest.approx(t.enhancement_year[3])
    # arrivals: seed records only (d was found by a different search), in half-year bins
    assert t.arrival_window == (0.0, pytest.approx(t.enhancement_year[2]))
    assert t.arrival_counts.sum() == 3
    data = t.arrival_counts[CATEGORIES.index("data")]
    # one year of records: two half years, the last one closed (2023-06-01 ends the window)
    assert data.tolist() == [1, 1]
    assert t.bin_years.tolist() == [0.5, pytest.approx(0.5)]


def test_build_table_needs_enhancements_and_observations():
    with pytest.raises(InputError, match="no enhancements"):
        build_table(make_catalogue([]))
    with pytest.raises(InputError, match="no CEG observations"):
        build_table(make_catalogue([enh("a", observations=[obs({"point": 2}, in_fit=False)])]))


def test_digest_tracks_the_data():
    base = make_catalogue([enh("a", observations=[obs({"point": 10})])])
    same = make_catalogue([enh("a", observations=[obs({"point": 10}, notes="words only")])])
    other = make_catalogue([enh("a", observations=[obs({"point": 11})])])
    flagged = make_catalogue([enh("a", observations=[obs({"point": 10}, independent=True)])])
    assert build_table(base).digest() == build_table(same).digest()
    assert build_table(base).digest() != build_table(other).digest()
    assert build_table(base).digest() != build_table(flagged).digest()
    assert len(build_table(base).digest()) == 64
