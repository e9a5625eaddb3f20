"""``forecast ceg estimate``: seed 001 Appendix A, checked on the seed's worked examples."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from forecast.cli import ceg
from forecast.core.errors import InputError
from forecast.core.schemas.catalogue import Observation
from forecast.evidence.ceg_estimate import _fieller, _scales, estimate
from forecast.evidence.ceg_record import to_catalogue_record as record
from forecast.evidence.ceg_results import Row, read_results_csv

runner = CliRunner()

# Training compute = 6 * params * tokens (GPT-3 family: 300B tokens, seed footnote 44).
GPT3 = {n: 6 * n * 300e9 for n in (6.7e9, 13e9, 175e9)}


def only(estimates, model=None):
    found = [e for e in estimates if model is None or e.model == model]
    assert len(found) == 1, found
    return found[0]


def invoke(*args):
    return runner.invoke(ceg.app, ["estimate", *map(str, args)])


# --------------------------------------------------------------------------- worked examples


def test_process_supervision_footnote_47(csv_file):
    """ORM 52% -> 72% over 200x compute; PRM 60% at the small scale: 200^(8/20) ~ 8."""
    path = csv_file(
        """\
        benchmark,model,compute_flop,enhanced,score
        MATH,ORM small,1e22,false,52
        MATH,ORM large,2e24,false,72
        MATH,PRM small,1e22,true,60
        """
    )
    e = only(estimate(read_results_csv(path)))
    assert e.point == pytest.approx(200 ** (8 / 20))
    assert e.point == pytest.approx(8.3, abs=0.05)
    assert e.point_oom == pytest.approx(0.4 * math.log10(200))
    assert e.weak is True
    assert e.interval is None
    assert e.method == "two_point"
    assert e.lower_bound is None  # 60 < 72: it beats no larger baseline


def test_lats_hotpotqa_footnote_40(csv_file):
    """15 points per 10x compute; LATS 39 points above ReAct: 10^(39/15) ~ 400."""
    path = csv_file(
        """\
        benchmark,model,compute_flop,enhanced,score
        HotpotQA,GPT-3.5 ReAct,2e24,false,32
        HotpotQA,GPT-4 ReAct (IO-prompting slope),2e25,false,47
        HotpotQA,GPT-3.5 LATS,2e24,true,71
        """
    )
    e = only(estimate(read_results_csv(path)))
    assert e.point == pytest.approx(10**2.6)
    assert e.point == pytest.approx(398, abs=0.5)
    assert e.point_oom == pytest.approx(39 / 15)
    assert e.weak is True
    # LATS on GPT-3.5 also beats GPT-4 (10x the compute): the lower bound of 10.
    assert e.lower_bound == pytest.approx(10)
    assert e.method == "lower_bound+two_point"
    assert any("extrapolated" in w for w in e.warnings)


def test_verification_lower_bound_picks_largest_outperformed(csv_file):
    """Cobbe: a 6.7B verifier beats the 175B fine-tuned model: CEG > 175/6.7 ~ 26."""
    path = csv_file(
        f"""\
        model,compute_flop,enhanced,score
        6.7B fine-tuned,{GPT3[6.7e9]:g},false,20
        13B fine-tuned,{GPT3[13e9]:g},false,25
        175B fine-tuned,{GPT3[175e9]:g},false,33
        6.7B verifier,{GPT3[6.7e9]:g},true,39
        """
    )
    e = only(estimate(read_results_csv(path)))
    assert e.lower_bound == pytest.approx(175 / 6.7)
    assert round(e.lower_bound) == 26
    assert e.lower_bound_model == "175B fine-tuned"  # not the 13B it also beats
    assert e.lower_bound_oom == pytest.approx(math.log10(175 / 6.7))
    assert e.benchmark == "benchmark"  # the default without a benchmark column


def test_no_lower_bound_when_it_beats_no_larger_model():
    rows = [
        Row("small", 1e22, False, 20),
        Row("large", 1e23, False, 40),
        Row("small+pte", 1e22, True, 30),
        Row("larger+pte", 1e24, True, 90),  # beats both, but neither has more compute
    ]
    small, larger = estimate(rows)
    assert small.lower_bound is None and small.lower_bound_model is None
    assert small.method == "two_point"
    assert larger.lower_bound is None


def test_tie_is_not_outperforming_and_best_baseline_per_scale():
    rows = [
        Row("small", 1e22, False, 20),
        Row("large a", 1e23, False, 30),
        Row("large b", 1e23, False, 35),  # the best baseline at this scale counts
        Row("small+pte", 1e22, True, 35),
    ]
    e = only(estimate(rows))
    assert e.lower_bound is None  # 35 does not beat 35
    assert e.point == pytest.approx(10.0)  # the line through 20 and 35
    assert any("best score" in w for w in e.warnings)


def test_perplexity_reverses_comparisons(csv_file):
    """RETRO-style on C4: the 172M retro-fitted model beats the 1.5B baseline -> ~8.7."""
    flop = {n: 6 * n * 420e9 for n in (172e6, 425e6, 1.5e9, 7.5e9)}
    path = csv_file(
        f"""\
        benchmark,higher_is_better,model,compute_flop,enhanced,score
        C4,false,172M,{flop[172e6]:g},no,0.98
        C4,false,425M,{flop[425e6]:g},no,0.92
        C4,false,1.5B,{flop[1.5e9]:g},no,0.85
        C4,false,7.5B,{flop[7.5e9]:g},no,0.80
        C4,false,172M RETRO,{flop[172e6]:g},yes,0.84
        C4,false,425M RETRO,{flop[425e6]:g},yes,0.79
        """
    )
    est = estimate(read_results_csv(path))
    small = only(est, "172M RETRO")
    assert small.lower_bound == pytest.approx(1.5e9 / 172e6)
    assert small.lower_bound == pytest.approx(8.7, abs=0.05)
    assert small.lower_bound_model == "1.5B"
    assert only(est, "425M RETRO").lower_bound == pytest.approx(7.5e9 / 425e6)  # ~17
    # A falling loss is improvement: the fit gives a point estimate above 1.
    assert small.fit.slope < 0
    assert small.point is not None and small.point > 1
    assert small.method == "lower_bound+log_linear"


# --------------------------------------------------------------------------- log-linear fit


def test_three_scale_fit_has_interval_containing_point():
    rows = [
        Row("a", 1e21, False, 10),
        Row("b", 1e22, False, 22),
        Row("c", 1e23, False, 29),
        Row("d", 1e24, False, 41),
        Row("a+pte", 1e21, True, 21),
    ]
    e = only(estimate(rows))
    assert e.method == "log_linear"  # 21 beats no larger baseline
    assert e.weak is False
    assert e.fit.n_scales == 4 and e.fit.kind == "log_linear"
    lo, hi = e.interval
    assert lo < e.point < hi
    assert e.interval_oom[0] < e.point_oom < e.interval_oom[1]
    assert e.interval_oom[0] == pytest.approx(math.log10(lo))
    # A wider level gives a wider interval.
    wide = only(estimate(rows, level=0.99))
    assert wide.interval[0] < lo and wide.interval[1] > hi


def test_interval_endpoints_are_where_the_t_test_just_rejects():
    """At each endpoint the fitted mean equals P(ME) at exactly the critical t value."""
    from scipy import stats

    rows = [
        Row("a", 1e21, False, 10),
        Row("b", 1e22, False, 22),
        Row("c", 1e23, False, 29),
        Row("d", 1e24, False, 41),
        Row("a+pte", 1e21, True, 25),
    ]
    scales = _scales(rows)
    xs = [math.log10(c) for c, _ in scales]
    ys = [r.score for _, r in scales]
    n = len(xs)
    x_bar, y_bar = sum(xs) / n, sum(ys) / n
    sxx = sum((x - x_bar) ** 2 for x in xs)
    b = sum((x - x_bar) * (y - y_bar) for x, y in zip(xs, ys, strict=True)) / sxx
    a = y_bar - b * x_bar
    s = math.sqrt(sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / (n - 2))
    t_crit = stats.t.ppf(0.95, n - 2)
    for x0 in _fieller(scales, rows[-1], 0.9):
        t = abs(25 - a - b * x0) / (s * math.sqrt(1 / n + (x0 - x_bar) ** 2 / sxx))
        assert t == pytest.approx(t_crit)


def test_noisy_slope_gives_no_interval_but_a_warning():
    rows = [
        Row("a", 1e21, False, 10),
        Row("b", 1e22, False, 30),
        Row("c", 1e23, False, 5),
        Row("d", 1e24, False, 28),
        Row("a+pte", 1e21, True, 25),
    ]
    e = only(estimate(rows))
    assert e.point is not None and e.interval is None
    assert any("unbounded" in w for w in e.warnings)


@pytest.mark.parametrize("scores", [(30, 30, 30), (30, 29, 28), (40, 30)])
def test_flat_or_declining_baseline_gives_no_point_and_a_warning(scores):
    rows = [Row(f"m{i}", 10.0 ** (21 + i), False, s) for i, s in enumerate(scores)]
    rows.append(Row("m0+pte", 1e21, True, 35))
    e = only(estimate(rows))
    assert e.point is None and e.point_oom is None and e.interval is None
    assert any("slope" in w and "does not rise" in w for w in e.warnings)
    assert e.method == "lower_bound"  # 35 still beats every larger baseline
    assert e.lower_bound == pytest.approx(10.0 ** (len(scores) - 1))


def test_one_baseline_scale_gives_only_the_bound():
    rows = [Row("big", 1e23, False, 30), Row("small+pte", 1e22, True, 31)]
    e = only(estimate(rows))
    assert e.method == "lower_bound" and e.lower_bound == pytest.approx(10)
    assert e.point is None
    rows = [Row("big", 1e23, False, 30), Row("small+pte", 1e22, True, 29)]
    assert only(estimate(rows)).method == "none"


def test_benchmarks_are_estimated_separately(csv_file):
    path = csv_file(
        """\
        benchmark,model,compute_flop,enhanced,score
        A,s,1e22,false,10
        B,s,1e22,false,50
        A,l,1e23,false,20
        B,l,1e23,false,60
        A,s+pte,1e22,true,15
        B,s+pte,1e22,true,65
        """
    )
    a, b = estimate(read_results_csv(path))
    assert (a.benchmark, b.benchmark) == ("A", "B")
    assert a.point == pytest.approx(10**0.5) and a.lower_bound is None
    assert b.point == pytest.approx(10**1.5) and b.lower_bound == pytest.approx(10)


# --------------------------------------------------------------------------- CLI


PS_CSV = """\
benchmark,model,compute_flop,enhanced,score
MATH,ORM small,1e22,false,52
MATH,ORM large,2e24,false,72
MATH,PRM small,1e22,true,60
"""


def test_cli_json(csv_file):
    result = invoke(csv_file(PS_CSV), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc, list) and len(doc) == 1
    e = doc[0]
    for key in ("benchmark", "model", "lower_bound", "point", "method", "interval", "weak"):
        assert key in e
    assert e["point"] == pytest.approx(8.3255, abs=1e-3)
    assert e["point_oom"] == pytest.approx(0.9204, abs=1e-3)
    assert e["lower_bound"] is None and e["weak"] is True and e["method"] == "two_point"
    assert e["warnings"] == []


def test_cli_table(csv_file):
    result = invoke(csv_file(PS_CSV))
    assert result.exit_code == 0, result.output
    for token in ("MATH", "PRM small", "8.3x", "two_point", "weak"):
        assert token in result.stdout


@pytest.mark.parametrize("extra", [[], ["--domain", "math"]])
def test_emit_record_validates_as_observation(csv_file, extra):
    path = csv_file(
        PS_CSV
        + "HotpotQA,GPT-3.5 ReAct,2e24,false,32\n"
        + "HotpotQA,GPT-4 ReAct,2e25,false,47\n"
        + "HotpotQA,GPT-3.5 LATS,2e24,true,71\n"
        + "flat,a,1e22,false,30\nflat,b,1e23,false,29\nflat,c,1e22,true,28\n"
    )
    result = invoke(path, "--emit-record", "process_supervision", *extra)
    assert result.exit_code == 0, result.output
    records = yaml.safe_load(result.stdout)
    assert len(records) == 2  # 'flat' has neither a bound nor a point
    observations = [Observation.model_validate(r) for r in records]
    ps, lats = observations
    assert ps.ceg.point == pytest.approx(8.33) and ps.base_compute_flop == 1e22
    assert isinstance(records[0]["base_compute_flop"], float)
    assert lats.ceg.point == pytest.approx(398)
    assert "process_supervision" in ps.notes and "weak" in ps.notes
    assert ps.domain == (extra[1] if extra else "unspecified")
    assert "no record" in result.stderr


def test_record_uses_bound_when_only_bound_or_point_below_it():
    rows = [Row("big", 1e23, False, 30), Row("small+pte", 1e22, True, 31)]
    r = record(only(estimate(rows)), "my_pte", domain="math")
    assert r["ceg"] == {"lower": 10.0}
    Observation.model_validate(r)
    # Compute given in relative units (not FLOP): base_compute_flop is left out.
    rows = [Row("big", 10, False, 30), Row("small+pte", 1, True, 31)]
    r = record(only(estimate(rows)), "my_pte")
    assert "base_compute_flop" not in r
    Observation.model_validate(r)
    rows = [Row("big", 10, False, 30), Row("small+pte", 1, True, 29)]
    with pytest.raises(ValueError):
        record(only(estimate(rows)), "my_pte")


def test_emit_record_rejects_bad_id_and_json_together(csv_file):
    path = csv_file(PS_CSV)
    result = invoke(path, "--emit-record", "Bad-Id")
    assert isinstance(result.exception, InputError)
    assert "--emit-record" in str(result.exception)
    result = invoke(path, "--emit-record", "ok", "--json")
    assert isinstance(result.exception, InputError)


def test_estimate_checks_rows_not_from_a_file():
    with pytest.raises(InputError, match="no enhanced rows"):
        estimate([Row("a", 1e22, False, 1)])
    with pytest.raises(InputError, match="level"):
        estimate([Row("a", 1e22, False, 1), Row("b", 1e22, True, 2)], level=1.5)


def test_registered_in_the_root_app(csv_file, run_cli):
    """Through ``forecast ceg estimate`` once the sub-app is registered: exit code 2."""
    from forecast.cli.app import app

    if not any(g.name == "ceg" for g in app.registered_groups):
        pytest.skip("forecast.cli.ceg is not registered in forecast.cli.app yet")
    path = csv_file("model,compute_flop,enhanced,score\na,1e22,false,1\nb,lots,true,2\n")
    code, out, err = run_cli(["ceg", "estimate", path])
    assert code == 2 and "Traceback" not in err
    assert "line 3, column compute_flop" in " ".join(err.split()).replace("\n", "")
    code, out, err = run_cli(["ceg", "estimate", csv_file(PS_CSV), "--json"])
    assert code == 0 and json.loads(out)[0]["method"] == "two_point"


def test_collinear_baseline_gives_zero_width_interval_and_a_warning():
    rows = [Row(f"m{i}", 10.0 ** (21 + i), False, 10 + 10 * i) for i in range(3)]
    rows.append(Row("m0+pte", 1e21, True, 25))
    e = only(estimate(rows))
    assert e.point == pytest.approx(10**1.5)
    assert e.interval == pytest.approx((e.point, e.point))
    assert any("no width" in w for w in e.warnings)


def test_negligible_slope_gives_no_point():
    rows = [Row("a", 1e21, False, 30), Row("b", 1e22, False, 30 + 1e-9)]
    rows.append(Row("a+pte", 1e21, True, 29))
    e = only(estimate(rows))
    assert e.point is None and e.method == "none"
    assert any("too small" in w for w in e.warnings)


# --------------------------------------------------------------------------- hardening


def _brute_force_beaten(me: Row, group: list[Row]) -> Row | None:
    """Appendix A step 2(b)i as written: the largest-compute baseline scale above ME's
    compute that ME outperforms (the loop the bisection replaced)."""
    found = None
    for compute, base in _scales(group):
        better = me.score > base.score if me.higher_is_better else me.score < base.score
        if compute > me.compute_flop and better:
            found = base
    return found


def test_lower_bound_search_agrees_with_the_definition():
    """Many random baselines: the bisection finds the same ML as the plain loop."""
    import random

    rng = random.Random(7)
    for trial in range(300):
        higher = rng.random() < 0.5
        n = rng.randint(1, 12)
        group = [
            Row(f"b{i}", 10 ** rng.choice(range(20, 27)), False, rng.randint(0, 9), "x", higher)
            for i in range(n)
        ]
        me = Row("me", 10 ** rng.choice(range(19, 28)), True, rng.randint(0, 9), "x", higher)
        got = estimate([*group, me])[0]
        want = _brute_force_beaten(me, group)
        assert got.lower_bound_model == (want.model if want else None), (trial, group, me)


def test_baseline_is_prepared_once_per_benchmark_not_per_row(monkeypatch):
    """Linear time: 8,000 rows took 24 s when every enhanced row refit the baseline."""
    import forecast.evidence.ceg_estimate as module

    calls = {"_scales": 0, "_fit": 0, "_fieller_stats": 0}
    for name in calls:
        real = getattr(module, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
    rows = []
    for i in range(500):
        rows.append(Row(f"b{i}", 10 ** (20 + i / 100), False, 10 + i / 10, "one"))
        rows.append(Row(f"e{i}", 10 ** (20 + i / 100), True, 12 + i / 10, "one"))
    rows += [Row("c1", 1e20, False, 1, "two"), Row("c2", 1e21, False, 2, "two")]
    rows += [Row("c3", 1e22, False, 3, "two"), Row("ce", 1e20, True, 2.5, "two")]
    estimates = estimate(rows)
    assert len(estimates) == 501
    assert calls == {"_scales": 2, "_fit": 2, "_fieller_stats": 2}


def test_computes_equal_in_log10_are_one_scale():
    """1e24 and the next float up: equal log10, one scale (it used to divide by zero)."""
    near = math.nextafter(1e24, math.inf)
    rows = [
        Row("a", 1e24, False, 20),
        Row("b", near, False, 30),
        Row("c", 1e22, True, 35),
    ]
    (e,) = estimate(rows)
    assert e.fit is None and e.point is None  # one scale: no line
    assert e.lower_bound == pytest.approx(100) and e.lower_bound_model == "b"  # the best score


def test_emitted_comment_quotes_the_file_name(csv_file, tmp_path):
    """A newline (or NEL, U+2028) in the file name cannot end the comment and add YAML."""
    text = "model,compute_flop,enhanced,score\na,1e22,false,20\nb,1e23,false,30\nc,1e24,false,40\n"
    text += "me,1e22,true,35\n"
    for breaker in ("\n", "\x85", "\u2028"):
        name = f"x{breaker}- benchmark: fake{breaker}  ceg: {{point: 1000000}}{breaker}.csv"
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(ceg.app, ["estimate", str(path), "--emit-record", "my_tool"])
        assert result.exit_code == 0, result.output
        records = yaml.safe_load(result.stdout)
        assert len(records) == 1 and records[0]["ceg"] != {"point": 1000000}
