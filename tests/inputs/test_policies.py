"""Policy rules as data (forecast.inputs.policies): the shipped files, selection, users' files
and a scenario's block, bad input, and the CLI end to end."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import FAKE_FIT, LAB_RULE, uplift_draws

from forecast.buffer.policies import policy_rows
from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.schemas.policy import READING_IS_OURS
from forecast.inputs.policies import (
    load_policy_file,
    load_shipped,
    parse_selection,
    policy_months,
    resolve_policies,
    select_shipped,
    shipped_policy_files,
)
from forecast.inputs.scenarios import load_scenario

#: The default fit settings: the shipped fits answer (the CLI tests never sample).
FIT = FAKE_FIT
#: An export's report without the parts that read more fits (the full sensitivity, the
#: profiles): the policy section is what these tests read.
REPORT_ONLY = ["--quick-sensitivity", "--no-profiles"]


def _write(tmp_path, text, name="rule.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- shipped


def test_every_shipped_policy_is_valid_and_named_as_its_file():
    shipped = load_shipped()
    assert set(shipped) == set(shipped_policy_files())
    assert data_dir("policies").is_dir()
    for name, p in shipped.items():
        assert p.name == name
        assert p.rule.reading.interpretation == READING_IS_OURS
        if p.rule.verified:
            assert p.rule.quotes and all(q.where for q in p.rule.quotes)
        else:
            assert p.rule.source.checked_in.startswith("Not checked")


#: The frameworks in force on 2026-12-06, each verified against its primary text.
IN_FORCE = {"anthropic-rsp-v3-4", "openai-pf-v2", "gdm-fsf-v3-1", "eu-gpai-cop-safety-security"}


def test_the_frameworks_in_force_are_shipped_verified_and_current():
    shipped = load_shipped()
    current = {n for n, p in shipped.items() if p.rule.status == "current"}
    assert current == IN_FORCE
    assert all(p.rule.verified for p in shipped.values())
    old = ("anthropic-rsp-v1", "anthropic-rsp-v2", "anthropic-rsp-v2-2", "anthropic-rsp-v3-3",
           "gdm-fsf-v1", "gdm-fsf-v3-0", "openai-pf-beta")  # fmt: skip
    assert all(shipped[n].rule.status == "superseded" for n in old)
    # Every reading in force rests on a stored copy of the primary text itself, not on a
    # third party's extract or quotation (the shipped RSP v2.0 once cited one).
    for name in IN_FORCE | {"anthropic-rsp-v2", "anthropic-rsp-v2-2", "gdm-fsf-v1"}:
        checked = shipped[name].rule.source.checked_in
        assert "corpus" in checked or "text copy of the chapter PDF" in checked, name
    # the numbers the readings rest on are in the quotes
    v1 = shipped["anthropic-rsp-v1"].rule
    assert v1.reading.buffer_multiplier == 6 and "safety buffer to 6x" in v1.quotes[0].text


def test_rsp_v3_reads_its_risk_report_cadence_with_the_coverage_lag_and_off_cycle_triggers():
    rule = load_shipped()["anthropic-rsp-v3-4"].rule
    timing = next(q for q in rule.quotes if "every 3-6 months" in q.text)
    assert timing.where.startswith("3.1. Scope and Timing") and timing.page == "11"
    assert "3. Risk Reports" in rule.source.section and "3.1 Risk Reports" not in str(rule)
    r = rule.reading
    assert (r.calendar_months, r.calendar_months_range, r.cadence_of) == (6, (3, 6), "Risk Report")
    (lag,) = r.exceptions
    assert lag.effect == "extends_period" and lag.months == 1 and "30 days" in lag.text
    assert len(r.event_triggers) == 2 and r.event_triggers[1].deadline_days == 30
    assert "significantly more capable" in r.event_triggers[0].text
    # v3.3 prints page 10 on PDF page 11 (its number 10 stands twice)
    v33 = load_shipped()["anthropic-rsp-v3-3"].rule
    assert {(q.page, q.pdf_page) for q in v33.quotes[:4]} == {("10", "11")}
    assert not v33.reading.exceptions and len(v33.reading.event_triggers) == 2


def test_the_eu_code_reads_six_months_with_measure_7_6s_three_exceptions():
    rule = load_shipped()["eu-gpai-cop-safety-security"].rule
    r = rule.reading
    assert r.buffer_multiplier is None and r.unquantified_buffer == "a safety margin"
    assert r.calendar_months == 6
    assert any("at least every six months" in q.text for q in rule.quotes)
    effects = [(e.text.split(")")[0][-1], e.effect, e.months) for e in r.exceptions]
    assert effects == [
        ("1", "suspends_cadence", None),
        ("2", "extends_period", 1),
        ("3", "suspends_cadence", None),
    ]
    assert "in less than a month" in r.exceptions[1].text
    assert all(e.page == "22" for e in r.exceptions)
    assert any("further post-training" in t.text for t in r.event_triggers)


def test_rules_without_a_numeric_cadence_say_what_they_name_instead():
    shipped = load_shipped()
    for name in ("openai-pf-v2", "gdm-fsf-v3-1", "gdm-fsf-v3-0"):
        r = shipped[name].rule.reading
        assert r.calendar_months is None and r.compute_multiplier is None, name
        assert r.buffer_multiplier is None and r.event_triggers, name
    fsf = shipped["gdm-fsf-v3-1"].rule
    assert fsf.reading.unquantified_buffer == "safety buffer"
    assert any("set marginally earlier than our CCLs" in q.text for q in fsf.quotes)
    pf = shipped["openai-pf-v2"].rule
    assert any("the high end of expected elicitation by threat actors" in q.text for q in pf.quotes)
    assert {(q.page, q.pdf_page) for q in pf.quotes} <= {("8", "9"), ("9", "10"), ("10", "11")}
    # FSF v1.0's 6x buffer is now read in the framework itself
    v1 = shipped["gdm-fsf-v1"].rule
    assert v1.reading.buffer_multiplier == 6 and v1.reading.calendar_months == 3
    assert any("6x in effective compute or 3 months" in q.text for q in v1.quotes)


def test_rsp_v2s_assessments_may_end_a_month_late_and_the_officer_may_order_one_sooner():
    for name in ("anthropic-rsp-v2", "anthropic-rsp-v2-2"):
        r = load_shipped()[name].rule.reading
        assert r.unquantified_buffer == "headroom" and r.cadence_of == "comprehensive assessment"
        assert [(e.effect, e.months) for e in r.exceptions] == [
            ("extends_period", 1),
            ("shortens_period", None),
        ]
        assert "within about a month" in r.exceptions[0].text


def test_the_default_selection_is_the_rules_in_force():
    chosen = select_shipped(None)
    assert {p.name for p in chosen} == IN_FORCE
    assert {p.name for p in select_shipped(["current"])} == IN_FORCE
    shipped = load_shipped()
    superseded = {p.name for p in select_shipped(["superseded"])}
    assert {p.name for p in select_shipped(["all"])} == set(shipped) == IN_FORCE | superseded
    verified = {p.name for p in select_shipped(["verified"])}
    assert verified == {n for n, p in shipped.items() if p.rule.verified}
    assert select_shipped(["none"]) == []
    assert [p.name for p in select_shipped(["openai-pf-beta", "anthropic-rsp-v1"])] == [
        "openai-pf-beta",
        "anthropic-rsp-v1",
    ]
    statuses = [p.rule.status for p in select_shipped(["all"])]  # current first
    assert statuses == sorted(statuses, key=lambda s: s != "current")


def test_an_unverified_rule_in_force_is_shown_by_default(tmp_path):
    """A rule whose text could not be found is still shown (and judged, under its stated
    reading); only the keyword ``verified`` leaves it out."""
    shipped = dict(load_shipped())
    lost = _write(tmp_path, LAB_RULE.replace("verified: true", "verified: false"))
    shipped["lab-internal-2026"] = load_policy_file(lost, origin="shipped")
    assert "lab-internal-2026" in {p.name for p in select_shipped(None, shipped=shipped)}
    verified = select_shipped(["verified"], shipped=shipped)
    assert "lab-internal-2026" not in {p.name for p in verified}


def test_an_unknown_policy_name_gets_did_you_mean():
    with pytest.raises(InputError) as info:
        select_shipped(["anthropic-rsp-v22"])
    assert "did you mean 'anthropic-rsp-v2-2'" in str(info.value)
    assert str(info.value).startswith("--policies")
    with pytest.raises(InputError):
        parse_selection(" , ")


# --------------------------------------------------------------------------- bad files


#: LAB_RULE with every optional field: pages, a stated range, what recurs, an exception and
#: an event trigger (docs/policies.md).
LAB_RULE_FULL = LAB_RULE.replace(
    "    where: section 4.2\n", "    where: section 4.2\n    page: 12\n    pdf_page: 14\n"
).replace(
    "  crossing: ",
    textwrap.indent(
        textwrap.dedent(
            """\
            calendar_months_range: [3, 4]
            cadence_of: dangerous-capability evaluation
            exceptions:
              - text: The next run may slip by two weeks.
                where: section 4.3
                page: 12
                summary: the next run slips by two weeks
                effect: extends_period
                months: 0.5
            event_triggers:
              - text: We also re-run them within 10 days of any new scaffold release.
                where: section 4.4
                summary: a new scaffold release
                deadline_days: 10
            """
        ),
        "  ",
    )
    + "  crossing: ",
)


def test_the_optional_fields_are_read_and_old_files_stay_valid(tmp_path):
    full = load_policy_file(_write(tmp_path, LAB_RULE_FULL)).rule
    assert (full.quotes[0].page, full.quotes[0].pdf_page) == ("12", "14")
    r = full.reading
    assert r.calendar_months_range == (3, 4) and r.exceptions[0].months == 0.5
    assert r.event_triggers[0].deadline_days == 10
    plain = load_policy_file(_write(tmp_path, LAB_RULE, "plain.yaml")).rule
    assert plain.quotes[0].page is None
    assert plain.reading.exceptions == [] and plain.reading.event_triggers == []


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda t: t.replace("buffer_multiplier: 10", "buffer_multitplier: 10"),
         "reading.buffer_multitplier: unknown key 'buffer_multitplier', did you mean "
         "'buffer_multiplier'?"),
        (lambda t: t.replace("calendar_months: 4", "calendar_months: four"),
         "reading.calendar_months: Input should be a valid number"),
        (lambda t: t.replace("buffer_multiplier: 10", "buffer_multiplier: 0.5"),
         "reading.buffer_multiplier: Input should be greater than 1"),
        (lambda t: t.replace("calendar_months: 4", "calendar_months: 240"),
         "reading.calendar_months: Input should be less than or equal to 120"),
        (lambda t: t.replace("status: current", "status: draft"), "status: Input should be"),
        (lambda t: t.replace("this tool's reading, not the publisher's", "the lab's rule"),
         "reading.interpretation"),
        (lambda t: t.replace("verified: true", "verified: yes please"), "verified"),
        (lambda t: t.replace("quotes:\n", "qoutes: 1\nquotes:\n"),
         "qoutes: unknown key 'qoutes', did you mean 'quotes'?"),
        (lambda t: t.replace("date: 2026-03-01", "date: 2026-02-30"), "date"),
        (lambda t: t.replace("effect: extends_period", "effect: extend_period"),
         "reading.exceptions[0].effect: Input should be 'extends_period', 'suspends_cadence' or "
         "'shortens_period', got 'extend_period', did you mean 'extends_period'?"),
        (lambda t: t.replace("      months: 0.5\n", ""),
         "reading.exceptions[0].effect: an exception with effect extends_period needs 'months'"),
        (lambda t: t.replace("effect: extends_period", "effect: shortens_period"),
         "reading.exceptions[0].months: 'months' belongs to effect extends_period only"),
        (lambda t: t.replace("      summary: the next", "      sumary: the next"),
         "reading.exceptions[0].sumary: unknown key 'sumary', did you mean 'summary'?"),
        (lambda t: t.replace("event_triggers:", "event_trigers:"),
         "reading.event_trigers: unknown key 'event_trigers', did you mean 'event_triggers'?"),
        (lambda t: t.replace("deadline_days: 10", "deadline_days: -1"),
         "reading.event_triggers[0].deadline_days: Input should be greater than or equal to 0"),
        (lambda t: t.replace("page: 12\n    pdf_page: 14", "page: 14-12\n    pdf_page: 14"),
         "quotes[0].page: Value error, a page range runs upward (such as 5-6), got 14-12"),
        (lambda t: t.replace("page: 12\n    pdf_page: 14", "page: twelve"),
         "quotes[0].page: String should match pattern"),
        (lambda t: t.replace("pdf_page: 14", "pdf_page: true"),
         "quotes[0].pdf_page: Value error, expected a page number or range"),
        (lambda t: t.replace("pdf_page: 14", "pdf_pages: 14"),
         "quotes[0].pdf_pages: unknown key 'pdf_pages', did you mean 'pdf_page'?"),
        (lambda t: t.replace("calendar_months_range: [3, 4]", "calendar_months_range: [4, 3]"),
         "reading.calendar_months_range: a range runs upward (such as [3, 6]), got [4, 3]"),
        (lambda t: t.replace("calendar_months_range: [3, 4]", "calendar_months_range: [1, 2]"),
         "reading.calendar_months: calendar_months must be the value read from the range [1, 2]"),
        (lambda t: t.replace("buffer_multiplier: 10",
                             "buffer_multiplier: 10\n  unquantified_buffer: a margin"),
         "reading.unquantified_buffer: give buffer_multiplier (a stated number) or "
         "unquantified_buffer"),
        (lambda t: t.replace("  calendar_months: 4\n", "")
         .replace("  calendar_months_range: [3, 4]\n", "")
         .replace("effect: extends_period\n      months: 0.5", "effect: suspends_cadence"),
         "reading.exceptions[0].effect: effect suspends_cadence changes a calendar cadence, and "
         "this reading has no calendar_months"),
    ],
)  # fmt: skip
def test_bad_policy_files_name_the_file_line_and_field(tmp_path, edit, needle):
    text = edit(LAB_RULE_FULL)
    assert text != LAB_RULE_FULL
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_policy_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:") and needle in message, message
    assert info.value.line is not None


def test_a_verified_rule_without_quotes_is_refused(tmp_path):
    text = LAB_RULE.split("quotes:")[0] + "reading:" + LAB_RULE.split("reading:")[1]
    with pytest.raises(InputError, match="needs at least one quote"):
        load_policy_file(_write(tmp_path, text))


def test_missing_and_malformed_policy_files(tmp_path):
    with pytest.raises(InputError, match="policy file not found"):
        load_policy_file(tmp_path / "nope.yaml")
    with pytest.raises(InputError) as info:
        load_policy_file(_write(tmp_path, "name: [unclosed\n"))
    assert "not valid YAML" in str(info.value) and info.value.line is not None
    with pytest.raises(InputError, match="expected a mapping"):
        load_policy_file(_write(tmp_path, "- a list\n"))


# --------------------------------------------------------------------------- scenarios


def _scenario(tmp_path, block: str):
    base = (data_dir("scenarios") / "frontier-api.yaml").read_text()
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "autonomy-tasks.csv").write_text(
        (data_dir("scenarios") / "data" / "autonomy-tasks.csv").read_text()
    )
    path = tmp_path / "sc.yaml"
    path.write_text(base.replace("priors: {}", "priors: {}\n" + block))
    return load_scenario(path)


def test_a_scenario_block_names_shipped_rules_and_adds_files_and_inline_rules(tmp_path):
    (tmp_path / "rules").mkdir()
    _write(tmp_path / "rules", LAB_RULE, "lab.yaml")
    inline = textwrap.indent(
        LAB_RULE.replace("schema_version: 1\n", "")
        .replace("lab-internal-2026", "lab-draft")
        .replace("verified: true", "verified: false"),
        "    ",
    ).replace("    name:", "  - name:", 1)
    loaded = _scenario(tmp_path, "policies:\n  - anthropic-rsp-v2-2\n  - rules/lab.yaml\n" + inline)
    chosen = resolve_policies(loaded)
    assert [p.name for p in chosen] == ["anthropic-rsp-v2-2", "lab-internal-2026", "lab-draft"]
    assert chosen[2].origin.endswith("policies[2]")
    # --policies replaces the scenario's shipped choice; the user's rules stay
    again = resolve_policies(loaded, select=["openai-pf-beta"])
    assert [p.name for p in again] == ["openai-pf-beta", "lab-internal-2026", "lab-draft"]
    # an unverified rule is judged under its stated reading, and says it was not verified
    rows = policy_rows(chosen, np.arange(13.0), uplift_draws(), 0.95, 12)
    assert rows[2]["verified"] is False and rows[2]["verdict"] in ("covers", "does not cover")
    assert policy_months(chosen) == [4.0, 6.0, 7.0]  # v2.2's month-late assessment


@pytest.mark.parametrize(
    "block,needle",
    [
        ("policies:\n  - anthropic-rsp-v22\n",
         "policies[0]: unknown policy 'anthropic-rsp-v22', did you mean 'anthropic-rsp-v2-2'?"),
        ("policies:\n  - missing.yaml\n", "policies[0]: policy file not found"),
        ("policies:\n  - name: x\n    title: y\n", "policies[0].publisher: required field"),
        ("policies:\n  - name: x\n    title: y\n", "; 6 more problems: policies[0].version (line"),
        ("policies:\n  - eu-gpai-cop-safety-security\n  - name: x\n    titel: y\n",
         "policies[1].titel: unknown key 'titel', did you mean 'title'?"),
        ("policies:\n  - 3\n", "policies[0]"),
    ],
)  # fmt: skip
def test_bad_scenario_blocks_are_located_in_the_scenario(tmp_path, block, needle):
    with pytest.raises(InputError) as info:
        resolve_policies(_scenario(tmp_path, block))
    text = str(info.value)
    assert str(tmp_path / "sc.yaml") in text and needle in text
    assert info.value.line is not None


def test_scenarios_validate_checks_the_policies_block(run_cli, tmp_path):
    loaded = _scenario(tmp_path, "policies:\n  - eu-gpai-cop-safety-security\n  - anthropic-rsp\n")
    code, out, err = run_cli(["scenarios", "validate", loaded.path])
    assert code == 2 and "policies[1]: unknown policy 'anthropic-rsp'" in " ".join(err.split())


def test_a_users_rule_may_not_reuse_a_shipped_name(tmp_path):
    path = _write(tmp_path, LAB_RULE.replace("lab-internal-2026", "openai-pf-v2"))
    with pytest.raises(InputError, match="used twice"):
        resolve_policies(load_scenario("frontier-api"), files=[path])


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def run_cli(run_cli, sandbox):
    """The CLI in the sandbox: a run that samples fails the test."""
    return run_cli


def test_run_lists_each_policy_with_version_source_reading_and_verdict(run_cli, tmp_path):
    lab = _write(tmp_path, LAB_RULE)
    code, out, err = run_cli(["run", *FIT, "--json", "--policy", lab])
    assert code == 0, err
    rows = {p["name"]: p for p in json.loads(out)["policies"]}
    assert {p.name for p in select_shipped(None)} | {"lab-internal-2026"} == set(rows)
    for p in rows.values():
        assert {"version", "status", "source", "quotes", "reading", "verdict"} <= set(p)
        assert p["verdict"] in ("covers", "does not cover", "implied buffer")
        assert p["implied_buffer_oom"] >= 0
    assert rows["lab-internal-2026"]["origin"] == str(lab)
    code, out, _ = run_cli(["run", *FIT, "--policies", "anthropic-rsp-v1,openai-pf-v2"])
    assert code == 0
    policy, reading, verdict, also = _columns(out, 4)  # cells wrap between words only
    assert "Anthropic RSP v1.0 (2023, superseded)" in policy and "EU GPAI" not in out
    assert "over the scenario's 12-month horizon (the rule states no numeric cadence)" in verdict
    words = " ".join(out.split())
    assert "OpenAI Preparedness Framework v2: every covered deployment, before it ships" in words


def test_run_shows_exceptions_event_triggers_and_an_unverified_text_as_written(run_cli, tmp_path):
    odd = (
        LAB_RULE_FULL.replace("verified: true", "verified: false")
        .replace("Our lab's elicitation rule", "Lab [bold]rule[/]")
        .replace("a new scaffold release", "a new *scaffold* | release")
    )
    lab = _write(tmp_path, odd)
    code, out, err = run_cli(["run", *FIT, "--policies", "none", "--policy", lab])
    assert code == 0, err
    policy, reading, verdict, also = _columns(out, 4)
    assert policy == "Lab [bold]rule[/] (2026, current, text not verified)"
    assert verdict.endswith("(under the stated reading: the primary text was not verified)")
    assert also.startswith("if the next run slips by two weeks: needs")
    assert "over 4.5 months" in also
    words = " ".join(out.split())
    assert "Lab [bold]rule[/]: a new *scaffold* | release (within 10 days)." in words
    code, _, err = run_cli(["export", "--out", tmp_path / "b", *FIT, *REPORT_ONLY,
                            "--policies", "none", "--policy", lab])  # fmt: skip
    assert code == 0, err
    report = (tmp_path / "b" / "report.md").read_text()
    assert "Lab \\[bold\\]rule\\[/\\]" in report and "a new \\*scaffold\\* \\| release" in report
    assert "Event trigger, *a new \\*scaffold\\* \\| release*:" in report
    assert "> The next run may slip by two weeks. (section 4.3, p. 12)" in report


def _columns(out: str, ncols: int) -> list[str]:
    """Each column's text, read down the body of the tables in ``out`` with ``ncols``
    columns (cells wrap between words, so a cell's text stays contiguous)."""
    cols: list[list[str]] = [[] for _ in range(ncols)]
    for line in out.splitlines():
        parts = [p.strip() for p in line.strip("│").split("│")]
        if line.startswith("│") and len(parts) == ncols:
            for col, part in zip(cols, parts, strict=True):
                col += [part] if part else []
    return [" ".join(col) for col in cols]


def test_compare_and_export_take_the_same_policy_options(run_cli, tmp_path):
    lab = _write(tmp_path, LAB_RULE)
    code, out, err = run_cli(
        ["compare", "frontier-api", "frontier-open-weights", *FIT, "--json", "--policy", lab,
         "--policies", "current"]
    )  # fmt: skip
    assert code == 0, err
    for row in json.loads(out)["scenarios"]:
        assert set(row["policies"]) == IN_FORCE | {"lab-internal-2026"}
        assert row["policies"]["lab-internal-2026"]["verdict"] in ("covers", "does not cover")
        eu = row["policies"]["eu-gpai-cop-safety-security"]
        assert eu["under_exceptions_oom"] >= eu["implied_buffer_oom"]
        assert eu["under_exceptions_months"] == row["horizon_months"]
        assert row["policies"]["openai-pf-v2"]["period_basis"].startswith("horizon")
    code, out, err = run_cli(["compare", "frontier-api", "frontier-open-weights", *FIT])
    assert code == 0, err
    label, first, second = _columns(out, 3)
    assert "openai-pf-v2" in label and "eu-gpai-cop-safety-security" in label
    assert "over the 12-mo horizon (no numeric cadence)" in first
    assert "under its exceptions" in second and "0.0 mo" not in out
    code, _, err = run_cli(["export", "--out", tmp_path / "b", *FIT, *REPORT_ONLY, "--policy", lab])
    assert code == 0, err
    report = (tmp_path / "b" / "report.md").read_text()
    assert "Our lab's elicitation rule" in report and "We re-run dangerous-capability" in report


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--policies", "anthropic-rsp-v22"], "did you mean 'anthropic-rsp-v2-2'"),
        (["--policy", "missing.yaml"], "policy file not found"),
    ],
)
def test_bad_policy_options_exit_2_with_one_message(run_cli, args, needle):
    code, out, err = run_cli(["run", *FIT, *args])
    assert code == 2 and needle in " ".join(err.split()) and "Traceback" not in err


def test_a_bad_policy_file_exits_2_before_any_fit(run_forecast, tmp_path):
    bad = _write(tmp_path, LAB_RULE.replace("calendar_months: 4", "calendar_months: -4"))
    code, out, err = run_forecast("run", "--policy", bad, *FIT)
    assert code == 2 and out == ""
    assert f"{bad}:" in err.replace("\n", "") and "reading.calendar_months" in err
    assert "Traceback" not in err
