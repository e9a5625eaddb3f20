"""Property-based bad-input tests: every malformed or out-of-range input is refused cleanly.

Each property starts from a VALID input (the shipped frontier-api scenario,
``MINIMAL_CATALOGUE``, the shipped per-task CSV, a small benchmark CSV, a valid
``forecast run`` command line), breaks exactly one thing and checks the contract of the
command line (design/CLI.md: exit codes; a failed run writes no partial files):

- exit code 2 and one message on stderr naming the file and the field path (or the
  option), no traceback, nothing on stdout;
- nothing written: the test's temporary folder (inputs, working folder, fit cache,
  ``--out``) is listed before and after each example and must be unchanged;
- ``forecast run``: the error comes before any fit (the cache is empty and
  ``forecast.fit.engine._sample``, which samples either model, raises
  ``AssertionError("sampled")``).

Inputs that once hit package bugs are covered by the ``test_fixed_bug_*`` regression
tests at the end of the file.

Each property is run once per kind of bad input (a pytest parameter), so that every kind
is exercised. Run with ``-s`` to see how many examples each property tried.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import datetime as dt
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
import yaml.reader
from conftest import LAB_RULE, MINIMAL_CATALOGUE, USER_MEASUREMENTS, fake_sampler
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import forecast.fit.engine
from forecast.core.errors import InputError, printable
from forecast.core.schemas.common import ACCESS_LEVELS, ACTORS, CATEGORIES
from forecast.core.schemas.scenario import (
    TREND_MODES,
    BaseModelSpec,
    Elicited,
    EvalSpec,
    Extrapolation,
    Scenario,
)
from forecast.inputs.tasks import read_task_results

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FILE = ROOT / "scenarios" / "frontier-api.yaml"
TASKS_FILE = ROOT / "scenarios" / "data" / "autonomy-tasks.csv"
CATALOGUE_FILE = ROOT / "priors" / "catalogue.yaml"
PRIORS_FILE = ROOT / "priors" / "defaults.yaml"


def fuzz(max_examples: int):
    """Reproducible, fast hypothesis settings (the fixtures are reused across examples)."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
        ],
    )


# --------------------------------------------------------------------------- bookkeeping

#: property -> kind of bad input -> examples tried (printed at the end of the module).
TRIED: dict[str, Counter] = defaultdict(Counter)
SECONDS: Counter = Counter()


def tried(prop: str, kind: str) -> None:
    TRIED[prop][kind] += 1
    with contextlib.suppress(InvalidArgument):  # a parametrised (not generated) case
        event(kind)


@pytest.fixture(scope="module", autouse=True)
def _print_example_counts():
    yield
    if not TRIED:
        return
    lines = ["", "bad-input properties: examples tried (kind: count)"]
    for prop, kinds in TRIED.items():
        detail = ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items()))
        lines.append(
            f"  {prop}: {sum(kinds.values())} examples in {SECONDS[prop]:.1f} s ({detail})"
        )
    total = sum(sum(k.values()) for k in TRIED.values())
    lines.append(f"  total: {total} examples in {sum(SECONDS.values()):.1f} s")
    print("\n".join(lines))


@pytest.fixture(autouse=True)
def _time_property(request):
    started = time.perf_counter()
    yield
    SECONDS[request.node.originalname] += time.perf_counter() - started


# --------------------------------------------------------------------------- harness


def _no_sampling(*args, **kwargs):
    raise AssertionError("sampled")


@pytest.fixture
def sandbox(tmp_path, cache_dir, monkeypatch):
    """``tmp_path`` holds everything a run could touch: inputs, cwd, cache and --out."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(forecast.fit.engine, "_sample", _no_sampling)
    assert cache_dir.parent == tmp_path
    return tmp_path


def squash(text) -> str:
    """Text without any whitespace: rich may wrap a long message anywhere."""
    return "".join(str(text).split())


def listing(root: Path) -> dict[str, object]:
    """Every file and folder under ``root`` (files with size and mtime), but the kept YAML
    parses (``cache/parsed``: a cache of what was read, written even by a refused run)."""
    entries: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            rel = str(path.relative_to(root))
            if rel == "cache" or rel.startswith(("cache/parsed", "cache" + os.sep + "parsed")):
                continue
            entries[rel] = "dir" if stat.S_ISDIR(info.st_mode) else (info.st_size, info.st_mtime_ns)
    return entries


@contextlib.contextmanager
def input_file(root: Path, name: str, content: str | bytes):
    """A fresh folder under ``root`` holding one input file; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="in-", dir=root))
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    try:
        yield path
    finally:
        shutil.rmtree(folder)


def assert_refused(run_cli, root: Path, argv: list, needles=(), located_in: Path | None = None):
    """Exit 2, the needles named on stderr, no traceback, empty stdout, no file written."""
    before = listing(root)
    code, out, err = run_cli(argv)
    after = listing(root)
    shown = f"argv: {[str(a)[:300] for a in argv]}\nexit {code}\nstdout: {out!r}\nstderr:\n{err}"
    assert code == 2, shown
    assert "Traceback" not in err, shown
    assert out == "", shown
    for needle in needles:  # shown as printable text: control characters as escapes
        assert squash(printable(needle)) in squash(err), f"{needle!r} not named on stderr\n{shown}"
    if located_in is not None:  # file:LINE (a syntax error has no field path)
        assert re.search(re.escape(squash(located_in)) + r":\d+", squash(err)), shown
    assert after == before, f"files changed: {sorted(set(after) ^ set(before))}\n{shown}"
    return err


# --------------------------------------------------------------------------- data helpers


def set_in(data, path: tuple, value) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def del_in(data, path: tuple) -> None:
    for part in path[:-1]:
        data = data[part]
    del data[path[-1]]


def field(path: tuple) -> str:
    """``("evals", 0, "name")`` -> ``evals[0].name`` (written here, not imported)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=1000)


def is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _valid_ymd(ymd: tuple[int, int, int]) -> bool:
    try:
        dt.date(*ymd)
    except ValueError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    content: str | bytes
    needles: tuple[str, ...] = ()  # besides the file path
    located: bool = False  # expect file:LINE (syntax errors)


# --------------------------------------------------------------------------- strategies

PRINTABLE = st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
# Letters cannot parse as a number, a date or a boolean that pydantic would accept.
JUNK = st.text(
    alphabet=st.one_of(st.characters(categories=("L",)), st.sampled_from(" -_/")),
    min_size=1,
    max_size=12,
)
IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
SMALL_LISTS = st.lists(st.integers(-3, 3), max_size=3)
SMALL_MAPS = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), min_size=1)
NON_INTEGRAL = st.floats().filter(lambda x: not (math.isfinite(x) and x.is_integer()))
IMPOSSIBLE_DATES = (
    st.tuples(st.integers(1, 9999), st.integers(0, 99), st.integers(0, 99))
    .filter(lambda ymd: not _valid_ymd(ymd))
    .map(lambda ymd: f"{ymd[0]:04d}-{ymd[1]:02d}-{ymd[2]:02d}")
)
NAN = math.nan
FRACTION_OUT = st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(NAN))

#: A value of the wrong type for a field of each kind. Left out, known bugs: booleans for
#: numbers (true = 1) and numbers for dates (Unix time, even 5e-161): pydantic's lax mode.
WRONG = {
    "str": st.one_of(st.integers(), st.floats(), st.booleans(), SMALL_LISTS, SMALL_MAPS),
    "number": st.one_of(JUNK, st.just(""), SMALL_LISTS, SMALL_MAPS),
    "int": st.one_of(NON_INTEGRAL, JUNK, st.just(""), SMALL_LISTS, SMALL_MAPS),
    "date": st.one_of(JUNK, IMPOSSIBLE_DATES, st.booleans(), SMALL_LISTS, SMALL_MAPS),
    "list": st.one_of(JUNK, st.integers(), st.floats(), SMALL_MAPS),
    "mapping": st.one_of(JUNK, st.integers(), st.floats(), SMALL_LISTS),
    "bool": st.one_of(st.integers().filter(lambda i: i not in (0, 1)), SMALL_LISTS, SMALL_MAPS),
}


def typo_of(names) -> st.SearchStrategy[str]:
    """A valid key with one letter inserted: the misspelling users make."""
    return st.tuples(
        st.sampled_from(sorted(names)),
        st.integers(0, 40),
        st.sampled_from("abcdefghijklmnopqrstuvwxyz_"),
    ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])


def unknown_key(names) -> st.SearchStrategy[str]:
    keys = st.one_of(
        IDENT,
        typo_of(names),
        st.text(PRINTABLE, min_size=1, max_size=12).filter(lambda s: s.strip() == s),
    )
    return keys.filter(lambda k: k not in names)


def yaml_errors(text: str) -> bool:
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        return True
    return False


def yaml_composes(text: str) -> bool:
    """Syntactically valid YAML (whatever its tags)."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return False
    return True


BROKEN_LINES = (
    "key: [unclosed",
    "key: {a: 1",
    "key: 'unterminated",
    'key: "unterminated',
    "\tkey: value",
    "key: value: other",
    "*undefined_alias",
    "key: *undefined_alias",
    "key: !!python/object/apply:os.system ['true']",
    "- a list item among keys",
    "  wrongly: indented",
    "key: @reserved",
    "key: `reserved",
    "{unclosed: mapping",
)


@st.composite
def broken_yaml(draw, text: str) -> Case:
    """A syntax error (or an unsafe tag) somewhere in a valid YAML text."""
    lines = text.splitlines()
    how = draw(st.sampled_from(["insert", "truncate"]))
    if how == "insert":
        at = draw(st.integers(0, len(lines)))
        bad = "\n".join([*lines[:at], draw(st.sampled_from(BROKEN_LINES)), *lines[at:]]) + "\n"
        if "!!python" in bad and yaml_composes(bad):  # refused by the safe loader, located
            return Case("unsafe YAML tag", bad, ("key",), located=True)
    else:
        opener = draw(st.sampled_from(["[", "{", "'", '"']))
        cut = draw(st.integers(0, len(text)))
        bad = text[:cut] + "\nkey: " + opener + text[cut:].replace(opener, "")
    assume(yaml_errors(bad))
    return Case(f"YAML syntax ({how})", bad, located=True)


NOT_A_MAPPING = st.one_of(
    st.sampled_from(["", "---\n", "# only a comment\n", "[]\n", "''\n", "null\n", "~\n"]),
    st.lists(st.integers(), max_size=3).map(dump),
    st.integers().map(dump),
    st.text(PRINTABLE, max_size=30).map(dump),
    st.booleans().map(dump),
)


def yaml_readable(content: str | bytes) -> bool:
    """No character PyYAML's pure-Python reader refuses (known bug: those crash the loader)."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            return True  # refused before YAML: "cannot read file"
    return not yaml.reader.Reader.NON_PRINTABLE.search(content)


JUNK_FILE = st.one_of(st.text(max_size=300), st.binary(max_size=300))
if not hasattr(yaml, "CSafeLoader"):  # the pure-Python loader: known bug, see below
    JUNK_FILE = JUNK_FILE.filter(yaml_readable)


# --------------------------------------------------------------------------- scenario files


def _scenario_base() -> dict:
    data = yaml.safe_load(SCENARIO_FILE.read_text(encoding="utf-8"))
    data["evals"][0]["tasks_file"] = str(TASKS_FILE)  # valid wherever the copy is written
    data.setdefault("extrapolation", {"trend": "frozen"})  # the default, written out
    assert data["evals"][0].get("score") is None and data["evals"][1].get("score") is not None
    return data


SCENARIO = _scenario_base()
E0 = ("evals", 0)  # per task (tasks_file)
E1 = ("evals", 1)  # aggregate (score, n_tasks, threshold)
_catalogue = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
CATALOGUE_IDS = sorted(e["id"] for e in _catalogue["enhancements"])
ALL_IDS = set(CATALOGUE_IDS) | {c["id"] for c in _catalogue.get("combinations", [])}
_measurements = yaml.safe_load((ROOT / "priors" / "measurements.yaml").read_text("utf-8"))
MEASUREMENT_IDS = sorted(m["id"] for m in _measurements["measurements"])

SC_TYPED = {
    "str": [
        ("name",),
        ("title",),
        ("description",),
        ("base_model", "name"),
        (*E0, "name"),
        (*E1, "description"),
        (*E0, "tasks_file"),
        (*E1, "slope"),
        ("extrapolation", "trend"),
    ],
    "number": [
        ("base_model", "training_compute_flop"),
        ("confidence",),
        (*E1, "score"),
        (*E1, "threshold"),
        (*E0, "task_pass_rate"),
        (*E0, "tasks_fraction"),
    ],
    "int": [("horizon_months",), ("step_months",), (*E1, "n_tasks")],
    "date": [("base_model", "reference_date"), ("base_model", "released")],
    "list": [
        ("evals",),
        ("already_elicited", "categories"),
        ("already_elicited", "enhancements"),
        (*E1, "compare_with"),
    ],
    "mapping": [("base_model",), ("already_elicited",), ("extrapolation",), E1, ("priors",)],
}
#: Optional fields: null is valid there (or changes which error comes first).
SC_OPTIONAL = {
    (*E1, "score"),
    (*E1, "threshold"),
    (*E0, "tasks_file"),
    (*E1, "n_tasks"),
    ("base_model", "released"),
}

SC_RANGE = {
    ("base_model", "training_compute_flop"): st.one_of(
        st.floats(max_value=1e18, exclude_max=True),
        st.floats(min_value=1e30, exclude_min=True),
        st.just(NAN),
    ),
    ("confidence",): st.one_of(
        st.floats(max_value=0.5, exclude_max=True),
        st.floats(min_value=0.999, exclude_min=True),
        st.just(NAN),
    ),
    ("horizon_months",): st.one_of(st.integers(max_value=-1), st.integers(min_value=121)),
    ("step_months",): st.one_of(st.integers(max_value=0), st.integers(min_value=13)),
    (*E1, "n_tasks"): st.integers(max_value=0),  # a huge n_tasks: known bug
    (*E1, "score"): FRACTION_OUT,
    (*E1, "threshold"): FRACTION_OUT,
    (*E0, "task_pass_rate"): FRACTION_OUT,
    (*E0, "tasks_fraction"): FRACTION_OUT,
}

SC_CONTAINERS = {
    (): set(Scenario.model_fields),
    ("base_model",): set(BaseModelSpec.model_fields),
    ("already_elicited",): set(Elicited.model_fields),
    ("extrapolation",): set(Extrapolation.model_fields),
    E0: set(EvalSpec.model_fields),
    E1: set(EvalSpec.model_fields),
}

SC_REQUIRED = [
    (("schema_version",), "schema_version"),
    (("name",), "name"),
    (("title",), "title"),
    (("base_model",), "base_model"),
    (("actor",), "actor"),
    (("base_model", "name"), "base_model.name"),
    (("base_model", "training_compute_flop"), "base_model.training_compute_flop"),
    (("base_model", "reference_date"), "base_model.reference_date"),
    (("base_model", "weights"), "base_model.weights"),
    ((*E0, "name"), "evals[0].name"),
    ((*E1, "name"), "evals[1].name"),
    ((*E1, "threshold"), "evals[1]"),  # an aggregate score needs a threshold
    ((*E1, "score"), "evals[1]"),  # neither score nor tasks_file
    ((*E0, "tasks_file"), "evals[0]"),  # neither score nor tasks_file
]

SC_SCALARS = ("schema_version", "name", "title", "actor", "horizon_months", "confidence")

SC_NAMES = ("actor", "weights", "trend mode", "category", "enhancement", "measurement")
#: Scenario keys of earlier model versions: refused with a located "removed in model 5".
SC_REMOVED = [("absorbed",), ("extrapolation", "scale")]
#: Priors of earlier model versions: now unknown names.
REMOVED_PRIORS = (
    "catalogue_coverage",
    "uplift_ceiling",
    "absorption_years",
    "scale_extrapolation_sd",
)
#: What can be wrong with one NAME=VALUE prior (in a scenario's priors: or --prior).
PRIOR_ENTRY_KINDS = ("unknown name", "removed name", "outside support", "bad syntax")
SCENARIO_KINDS = (
    *(f"wrong type: {typ}" for typ in sorted(SC_TYPED)),
    *(f"out of range: {field(path)}" for path in SC_RANGE),
    *(f"unknown {what}" for what in SC_NAMES),
    "unknown key",
    "missing key",
    "removed key",
    "released after the evaluation",
    "score and tasks_file",
    "tasks_file not found",
    *(f"bad prior: {sub}" for sub in PRIOR_ENTRY_KINDS),
    "duplicate key",
    "YAML syntax",
    "not a mapping",
)


@st.composite
def scenario_cases(draw, kind: str) -> Case:
    data = copy.deepcopy(SCENARIO)
    if kind.startswith("wrong type: "):
        typ = kind.removeprefix("wrong type: ")
        path = draw(st.sampled_from(SC_TYPED[typ]))
        wrong = WRONG[typ] if path in SC_OPTIONAL else st.one_of(WRONG[typ], st.none())
        set_in(data, path, draw(wrong))
        return Case(kind, dump(data), (field(path),))
    if kind.startswith("out of range: "):
        path = next(p for p in SC_RANGE if kind == f"out of range: {field(p)}")
        set_in(data, path, draw(SC_RANGE[path]))
        return Case(kind, dump(data), (field(path),))
    if kind.removeprefix("unknown ") in SC_NAMES:
        what = kind.removeprefix("unknown ")
        if what in ("actor", "weights", "trend mode"):
            allowed, path = {
                "actor": (ACTORS, ("actor",)),
                "weights": (("open", "closed"), ("base_model", "weights")),
                "trend mode": (TREND_MODES, ("extrapolation", "trend")),
            }[what]
            bad = draw(st.one_of(st.text(max_size=20), st.integers(), st.booleans()))
            assume(bad not in allowed)
            set_in(data, path, bad)
            return Case(f"unknown {what}", dump(data), (field(path),))
        if what == "measurement":
            ids = draw(st.lists(st.sampled_from(MEASUREMENT_IDS), max_size=2, unique=True))
            at = draw(st.integers(0, len(ids)))
            bad = draw(st.one_of(IDENT, st.text(max_size=20)))
            assume(bad not in MEASUREMENT_IDS)
            ids.insert(at, bad)
            data["evals"][1]["compare_with"] = ids
            return Case("unknown measurement", dump(data), (f"evals[1].compare_with[{at}]",))
        if what == "category":
            names = list(data["already_elicited"]["categories"])
            at = draw(st.integers(0, len(names)))
            bad = draw(st.one_of(st.text(max_size=20), st.integers()))
            assume(bad not in CATEGORIES)
            names.insert(at, bad)
            data["already_elicited"]["categories"] = names
            return Case("unknown category", dump(data), (f"already_elicited.categories[{at}]",))
        names = draw(st.lists(st.sampled_from(CATALOGUE_IDS), max_size=2, unique=True))
        at = draw(st.integers(0, len(names)))
        bad = draw(st.one_of(IDENT, st.text(max_size=20)))
        assume(bad not in ALL_IDS)
        names.insert(at, bad)
        data["already_elicited"]["enhancements"] = names
        return Case("unknown enhancement", dump(data), (f"already_elicited.enhancements[{at}]",))
    if kind == "unknown key":
        container = draw(st.sampled_from(sorted(SC_CONTAINERS)))
        key = draw(unknown_key(SC_CONTAINERS[container]))
        set_in(data, (*container, key), draw(st.one_of(st.integers(), JUNK, st.none())))
        return Case("unknown key", dump(data), (field((*container, key)),))
    if kind == "missing key":
        path, where = draw(st.sampled_from(SC_REQUIRED))
        del_in(data, path)
        return Case("missing key", dump(data), (where,))
    if kind == "removed key":
        path = draw(st.sampled_from(SC_REMOVED))
        value = draw(
            st.one_of(
                st.lists(st.sampled_from(CATALOGUE_IDS), max_size=2),
                st.sampled_from(["none", "default", 0.5]),
                SMALL_MAPS,
                st.none(),
            )
        )
        set_in(data, path, value)
        return Case("removed key", dump(data), (field(path), "removed in model 5"))
    if kind == "released after the evaluation":
        reference = data["base_model"]["reference_date"]
        days = draw(st.integers(1, (dt.date(2100, 12, 31) - reference).days))
        data["base_model"]["released"] = reference + dt.timedelta(days=days)
        return Case(kind, dump(data), ("base_model.released", "reference_date"))
    if kind == "score and tasks_file":
        if draw(st.booleans()):
            data["evals"][0]["score"] = draw(st.floats(0.01, 0.99))
            data["evals"][0]["threshold"] = 0.5
            return Case("score and tasks_file", dump(data), ("evals[0]",))
        data["evals"][1]["tasks_file"] = str(TASKS_FILE)
        return Case("score and tasks_file", dump(data), ("evals[1]",))
    if kind == "tasks_file not found":
        # Known bugs left out: an empty tasks_file, and names longer than the file system's.
        name = draw(st.text(PRINTABLE, min_size=1, max_size=40))
        template = draw(st.sampled_from(["no-such-{}.csv", "data/no-such-{}.csv", "/no/such/{}"]))
        data["evals"][0]["tasks_file"] = template.format(name)
        return Case("tasks_file not found", dump(data), ("evals[0].tasks_file",))
    if kind.startswith("bad prior: "):
        # Left out, known bug: true/false (read as 1/0).
        _, value, needles = draw(bad_priors(kind.removeprefix("bad prior: ")))
        name, _, value = value.partition("=")
        data["priors"] = {name: value}
        return Case(kind, dump(data), needles)
    if kind == "duplicate key":
        key = draw(st.sampled_from(SC_SCALARS))
        text = dump(data) + f"{key}: {dump(data[key]).splitlines()[0]}\n"
        return Case("duplicate key", text, (key,), located=True)
    if kind == "YAML syntax":
        return draw(broken_yaml(dump(data)))
    return Case("not a mapping", draw(NOT_A_MAPPING))


def test_scenario_baseline_is_valid(run_cli, sandbox):
    """The mutations below start from a valid file: without them, validate passes."""
    with input_file(sandbox, "scenario.yaml", dump(SCENARIO)) as path:
        code, out, err = run_cli(["scenarios", "validate", path])
    assert code == 0, err
    assert "valid" in out


@pytest.mark.parametrize("kind", SCENARIO_KINDS)
@fuzz(10)
@given(data=st.data())
def test_bad_scenario_is_refused(run_cli, sandbox, kind, data):
    case = data.draw(scenario_cases(kind), label="case")
    tried("test_bad_scenario_is_refused", case.kind)
    with input_file(sandbox, "scenario.yaml", case.content) as path:
        assert_refused(
            run_cli,
            sandbox,
            ["scenarios", "validate", path],
            (str(path), *case.needles),
            located_in=path if case.located else None,
        )


@pytest.mark.parametrize("path", SC_REMOVED, ids=field)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_removed_scenario_key_is_refused_before_any_fit(run_cli, sandbox, path, command):
    """A scenario of an earlier model version: the key is named at its line, with what
    replaced it; `run` stops before any fit (the sandbox's sampler raises)."""
    data = copy.deepcopy(SCENARIO)
    set_in(data, path, ["cot_prompting"] if path == ("absorbed",) else "default")
    with input_file(sandbox, "scenario.yaml", dump(data)) as file:
        argv = ["scenarios", "validate", file] if command == "validate" else ["run", "-q", file]
        err = assert_refused(run_cli, sandbox, argv, (str(file), field(path)), located_in=file)
    assert "removed in model 5" in err and "docs/" in err


def test_removed_priors_are_not_priors_any_more():
    """The removed priors the properties use as unknown names are indeed gone."""
    assert not set(REMOVED_PRIORS) & set(PRIOR_SUPPORTS)
    assert {"event_rate", "rate_decay_months", "attention_spread", "trend_fade_years"} <= set(
        PRIOR_SUPPORTS
    )


@pytest.mark.parametrize("command", ["scenarios", "evidence"])
@fuzz(25)
@given(content=JUNK_FILE)
def test_junk_yaml_file_is_refused(run_cli, sandbox, command, content):
    """Random text or bytes as a scenario or catalogue file: exit 2, the file named."""
    tried("test_junk_yaml_file_is_refused", f"{command}: {type(content).__name__}")
    with input_file(sandbox, "junk.yaml", content) as path:
        assert_refused(run_cli, sandbox, [command, "validate", path], (str(path),))


# --------------------------------------------------------------------------- catalogue files

CATALOGUE = yaml.safe_load(MINIMAL_CATALOGUE)
EN = ("enhancements", 0)
OB = (*EN, "observations", 0)
CEG = (*OB, "ceg")

CAT_TYPED = {
    "str": [(*EN, "name"), (*EN, "source"), (*EN, "id"), (*OB, "benchmark"), (*OB, "domain")]
    + [(*OB, "where"), (*OB, "notes")],
    "number": [(*CEG, "lower"), (*OB, "base_compute_flop")],
    "date": [(*EN, "published")],
    "list": [("enhancements",), (*EN, "observations"), ("combinations",)],
    "mapping": [EN, OB, CEG, (*EN, "one_time_cost")],
    "bool": [(*OB, "in_fit")],
}
CAT_OPTIONAL = {(*OB, "base_compute_flop"), (*EN, "one_time_cost"), (*CEG, "lower")}
CAT_CONTAINERS = {
    (): {"schema_version", "source_document", "enhancements", "combinations"},
    EN: {
        "id",
        "name",
        "category",
        "published",
        "access",
        "one_time_cost",
        "inference_cost",
        "source",
        "observations",
    },
    OB: {"benchmark", "domain", "ceg", "base_compute_flop", "where", "notes", "in_fit"},
    CEG: {"point", "lower", "upper"},
}
CAT_REQUIRED = (
    [("schema_version",)]
    + [(*EN, k) for k in ("id", "name", "category", "published", "access", "source")]
    + [(*OB, k) for k in ("benchmark", "domain", "ceg", "where")]
)

POSITIVE = st.floats(min_value=1e-6, max_value=1e12)
NEGATIVE = st.one_of(st.floats(max_value=0.0, exclude_max=True), st.just(-math.inf))

CATALOGUE_KINDS = (
    *(f"wrong type: {typ}" for typ in sorted(CAT_TYPED)),
    "non-number bound",
    "negative or zero CEG",
    "lower above upper",
    "point and bound",
    "empty bound",
    "negative cost",
    "flop out of range",
    "unknown category",
    "unknown access",
    "bad date",
    "bad id",
    "duplicate id",
    "unknown member",
    "unknown key",
    "missing key",
    "schema version",
    "duplicate key",
    "YAML syntax",
    "not a mapping",
)


@st.composite
def catalogue_cases(draw, kind: str) -> Case:
    data = copy.deepcopy(CATALOGUE)
    if kind.startswith("wrong type: "):
        typ = kind.removeprefix("wrong type: ")
        path = draw(st.sampled_from(CAT_TYPED[typ]))
        wrong = WRONG[typ] if path in CAT_OPTIONAL else st.one_of(WRONG[typ], st.none())
        set_in(data, path, draw(wrong))
        return Case(kind, dump(data), (field(path),))
    if kind == "non-number bound":
        bound = draw(st.sampled_from(["lower", "upper", "point"]))
        set_in(data, CEG, {bound: draw(WRONG["number"])})
        return Case(kind, dump(data), (field((*CEG, bound)),))
    if kind == "negative or zero CEG":
        bound = draw(st.sampled_from(["lower", "upper", "point"]))
        set_in(data, CEG, {bound: draw(st.one_of(NEGATIVE, st.just(0), st.just(-0.0)))})
        return Case(kind, dump(data), (field(CEG),))
    if kind == "lower above upper":
        upper = draw(POSITIVE)
        lower = draw(st.floats(min_value=upper, max_value=1e15, exclude_min=True))
        set_in(data, CEG, {"lower": lower, "upper": upper})
        return Case(kind, dump(data), (field(CEG),))
    if kind == "point and bound":
        bound = draw(st.sampled_from(["lower", "upper"]))
        set_in(data, CEG, {"point": draw(POSITIVE), bound: draw(POSITIVE)})
        return Case(kind, dump(data), (field(CEG),))
    if kind == "empty bound":
        set_in(data, CEG, {})
        return Case(kind, dump(data), (field(CEG),))
    if kind == "negative cost":
        cost = draw(st.sampled_from(["one_time_cost", "inference_cost"]))
        set_in(data, (*EN, cost), {"point": draw(NEGATIVE)})
        return Case(kind, dump(data), (field((*EN, cost)),))
    if kind == "flop out of range":
        flop = draw(
            st.one_of(
                st.floats(max_value=1e15), st.floats(min_value=1e30), st.just(NAN), st.just(0)
            )
        )
        set_in(data, (*OB, "base_compute_flop"), flop)
        return Case(kind, dump(data), (field((*OB, "base_compute_flop")),))
    if kind in ("unknown category", "unknown access"):
        key = kind.split()[1]
        allowed = CATEGORIES if key == "category" else ACCESS_LEVELS
        bad = draw(st.one_of(st.text(max_size=20), st.integers()))
        assume(bad not in allowed)
        set_in(data, (*EN, key), bad)
        return Case(kind, dump(data), (field((*EN, key)),))
    if kind == "bad date":
        path = (*EN, "published")
        if draw(st.booleans()):  # unquoted: YAML itself reads it as an (impossible) date
            set_in(data, path, "__BAD_DATE__")
            text = dump(data).replace("__BAD_DATE__", draw(IMPOSSIBLE_DATES))
            return Case(kind, text, (field(path),))
        bad = draw(st.one_of(JUNK, st.text(PRINTABLE, max_size=20)))
        # a number (even as text) is read as Unix time: known bug, left out
        assume(not is_date(bad.strip()) and finite_number(bad) is None)
        set_in(data, path, bad)
        return Case(kind, dump(data), (field(path),))
    if kind == "bad id":
        bad = draw(st.text(max_size=70))
        assume(not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", bad))
        set_in(data, (*EN, "id"), bad)
        return Case(kind, dump(data), (field((*EN, "id")),))
    if kind == "duplicate id":
        twin = copy.deepcopy(data["enhancements"][0])
        twin["name"] = draw(st.text(PRINTABLE, min_size=1, max_size=20))
        data["enhancements"].append(twin)
        return Case(kind, dump(data), ("enhancements[1].id",))
    if kind == "unknown member":
        bad = draw(st.one_of(IDENT, st.text(max_size=20)))
        assume(bad not in ALL_IDS | {"my_tool", "my_combo"})
        members = ["my_tool", bad]
        if draw(st.booleans()):
            members.reverse()
        data["combinations"] = [
            {
                "id": "my_combo",
                "members": members,
                "benchmark": "GSM8k",
                "domain": "math",
                "ceg": {"lower": 2},
                "where": "table 2",
            }
        ]
        return Case(kind, dump(data), (f"combinations[0].members[{members.index(bad)}]",))
    if kind == "unknown key":
        container = draw(st.sampled_from(sorted(CAT_CONTAINERS)))
        key = draw(unknown_key(CAT_CONTAINERS[container]))
        set_in(data, (*container, key), draw(st.one_of(st.integers(), JUNK, st.none())))
        return Case(kind, dump(data), (field((*container, key)),))
    if kind == "missing key":
        path = draw(st.sampled_from(CAT_REQUIRED))
        del_in(data, path)
        return Case(kind, dump(data), (field(path),))
    if kind == "schema version":
        data["schema_version"] = draw(
            st.one_of(st.integers().filter(lambda i: i != 1), JUNK, st.floats(1.01, 9))
        )
        return Case(kind, dump(data), ("schema_version",))
    if kind == "duplicate key":
        key = draw(st.sampled_from(["id", "name", "category", "published", "access", "source"]))
        lines = dump(data).splitlines()
        at = next(i for i, line in enumerate(lines) if re.match(rf"(- |  ){key}:", line))
        lines.insert(at + 1, f"  {key}: again")
        return Case(kind, "\n".join(lines) + "\n", (field((*EN, key)),), located=True)
    if kind == "YAML syntax":
        return draw(broken_yaml(dump(data)))
    return Case("not a mapping", draw(NOT_A_MAPPING))


@pytest.mark.parametrize("alone", [[], ["--no-shipped-evidence"]], ids=["shipped", "alone"])
def test_catalogue_baseline_is_valid(run_cli, sandbox, alone):
    with input_file(sandbox, "catalogue.yaml", dump(CATALOGUE)) as path:
        code, out, err = run_cli(["evidence", "validate", path, *alone])
    assert code == 0, err
    assert "valid" in out


@pytest.mark.parametrize("kind", CATALOGUE_KINDS)
@fuzz(10)
@given(data=st.data(), shipped=st.sampled_from([False, False, True]))
def test_bad_catalogue_is_refused(run_cli, sandbox, kind, data, shipped):
    """On top of the shipped catalogue (the default) or alone (faster)."""
    case = data.draw(catalogue_cases(kind), label="case")
    tried("test_bad_catalogue_is_refused", case.kind)
    with input_file(sandbox, "catalogue.yaml", case.content) as path:
        alone = [] if shipped else ["--no-shipped-evidence"]
        assert_refused(
            run_cli,
            sandbox,
            ["evidence", "validate", path, *alone],
            (str(path), *case.needles),
            located_in=path if case.located else None,
        )


# --------------------------------------------------------------------------- per-task CSVs


def _task_rows() -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(TASKS_FILE.read_text(encoding="utf-8"))))
    assert rows[0] == ["task_id", "successes", "attempts"]
    return rows


TASK_ROWS = _task_rows()  # header first
TASK_COLUMNS = TASK_ROWS[0]
# CSV cells on one line: no line breaks of any kind (str.splitlines would split on them).
CELL = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)


def write_csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def is_count(text: str) -> bool:
    """A whole number >= 0 (what the task file expects in successes and attempts)."""
    try:
        value = float(text.strip())
    except ValueError:
        return False
    return math.isfinite(value) and value.is_integer() and value >= 0


NOT_A_COUNT = st.one_of(
    CELL,
    NON_INTEGRAL.map(repr),
    st.integers(max_value=-1).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1.5", "one", "1,0", "0x10", "1e400"]),
).filter(lambda s: not is_count(s))

TASK_KINDS = (
    "not a count",
    "successes above attempts",
    "attempts 0",
    "missing column",
    "misspelt column",
    "empty file",
    "header only",
    "duplicate id",
    "empty id",
    "junk text",
)


def _has_overlong_row(text: str) -> bool:
    """A row with more cells than the header (known bug: crashes read_task_results)."""
    rows = list(csv.reader(text.splitlines()))
    return bool(rows) and any(len(r) > len(rows[0]) for r in rows[1:])


@st.composite
def task_cases(draw, kind: str):
    """(kind, CSV text, expected field path or None; None = just the file named)."""
    rows = copy.deepcopy(TASK_ROWS)
    body = len(rows) - 1
    k = draw(st.integers(1, body))  # a data row; its line is k + 1
    if kind == "not a count":
        col = draw(st.sampled_from(["successes", "attempts"]))
        rows[k][TASK_COLUMNS.index(col)] = draw(NOT_A_COUNT)
        return kind, write_csv(rows), f"line {k + 1}, column {col}"
    if kind == "successes above attempts":
        attempts = draw(st.integers(1, 10**6))
        rows[k][1:] = [str(attempts + draw(st.integers(1, 10**6))), str(attempts)]
        return kind, write_csv(rows), f"line {k + 1}"
    if kind == "attempts 0":
        rows[k][1:] = [str(draw(st.integers(0, 5))), draw(st.sampled_from(["0", "0.0", "-0"]))]
        return kind, write_csv(rows), f"line {k + 1}"
    if kind in ("missing column", "misspelt column"):
        c = draw(st.integers(0, 2))
        if kind == "missing column":
            rows = [[cell for i, cell in enumerate(r) if i != c] for r in rows]
        else:
            rows[0][c] = draw(typo_of([rows[0][c]]).filter(lambda s: s not in TASK_COLUMNS))
        return kind, write_csv(rows), "line 1"
    if kind == "empty file":
        return kind, draw(st.sampled_from(["", "\n", "   \n", "\n\n"])), "line 1"
    if kind == "header only":
        return kind, write_csv(rows[:1]), None
    if kind == "duplicate id":
        j = draw(st.integers(1, body).filter(lambda j: j != k))
        rows[k][0] = rows[j][0]
        return kind, write_csv(rows), f"line {max(j, k) + 1}, column task_id"
    if kind == "empty id":
        rows[k][0] = draw(st.sampled_from(["", " ", "  \t "]))
        return kind, write_csv(rows), f"line {k + 1}, column task_id"
    text = draw(
        st.one_of(
            st.text(max_size=300),
            st.text(max_size=300).map(lambda t: "task_id,successes,attempts\n" + t),
        )
    )
    assume(not _has_overlong_row(text))
    return kind, text, None


@pytest.mark.parametrize("kind", TASK_KINDS)
@fuzz(40)
@given(data=st.data())
def test_bad_task_results_are_refused(tmp_path, kind, data):
    """read_task_results: an InputError naming the file and the line (and column)."""
    kind, text, where = data.draw(task_cases(kind), label="case")
    tried("test_bad_task_results_are_refused", kind)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "tasks.csv"
    path.write_text(text, encoding="utf-8")
    try:
        if kind == "junk text":
            try:
                read_task_results(path)
            except InputError as exc:
                assert exc.file == str(path) and str(path) in str(exc)
            return
        with pytest.raises(InputError) as info:
            read_task_results(path)
        exc = info.value
        assert exc.file == str(path) and str(path) in str(exc), str(exc)
        if where is not None:
            assert exc.path == where or exc.path.startswith(where + ","), (where, str(exc))
        assert sorted(os.listdir(folder)) == ["tasks.csv"]
    finally:
        shutil.rmtree(folder)


# --------------------------------------------------------------------------- benchmark CSVs

BENCH_HEADER = ["benchmark", "higher_is_better", "model", "compute_flop", "enhanced", "score"]
BENCH_ROWS = [
    ["MATH", "true", "ORM small", "1e22", "false", "52"],
    ["MATH", "true", "ORM mid", "1e23", "false", "60"],
    ["MATH", "true", "ORM large", "2e24", "false", "72"],
    ["MATH", "true", "PRM small", "1e22", "true", "60"],
    ["HotpotQA", "true", "GPT-3.5 ReAct", "2e24", "false", "32"],
    ["HotpotQA", "true", "GPT-4 ReAct", "2e25", "false", "47"],
    ["HotpotQA", "true", "GPT-3.5 LATS", "2e24", "true", "71"],
]
BOOLEANS = {"true", "false", "yes", "no", "1", "0"}
# No NUL: a NUL byte makes the whole file "not text" (see the encoding properties below).
ONE_LINE = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x00"), max_size=12
)


def finite_number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


NOT_A_NUMBER = st.one_of(
    ONE_LINE, st.sampled_from(["", "nan", "inf", "-inf", "1e400", "1,5", "12%", "~3", "1e"])
).filter(lambda s: finite_number(s) is None)
NOT_A_FLOP = st.one_of(
    NOT_A_NUMBER, st.floats(max_value=0.0).map(repr), st.integers(max_value=0).map(str)
).filter(lambda s: (finite_number(s) or 0.0) <= 0)
NOT_A_BOOLEAN = ONE_LINE.filter(lambda s: s.strip().lower() not in BOOLEANS)

BENCH_KINDS = (
    "bad model",
    "bad compute_flop",
    "bad enhanced",
    "bad score",
    "bad higher_is_better",
    "mixed higher_is_better",
    "new benchmark without baseline",
    "missing column",
    "too many cells",
    "no data rows",
    "empty file",
)


@st.composite
def benchmark_cases(draw, kind: str) -> Case:
    rows = copy.deepcopy(BENCH_ROWS)
    k = draw(st.integers(0, len(rows) - 1))
    line = k + 2
    if kind.startswith("bad "):
        column = kind[4:]
        values = {
            "model": st.sampled_from(["", " ", "\t"]),
            "compute_flop": NOT_A_FLOP,
            "enhanced": NOT_A_BOOLEAN,
            "score": NOT_A_NUMBER,
            "higher_is_better": NOT_A_BOOLEAN.filter(lambda s: s.strip() != ""),
        }[column]
        rows[k][BENCH_HEADER.index(column)] = draw(values)
        return Case(kind, write_csv([BENCH_HEADER, *rows]), (f"line {line}, column {column}",))
    if kind == "mixed higher_is_better":
        rows[k][1] = draw(st.sampled_from(["false", "no", "0", "FALSE"]))
        group = [i for i, r in enumerate(rows) if r[0] == rows[k][0]]
        where = group[1] + 2 if k == group[0] else line  # the first row of a benchmark sets it
        needle = f"line {where}, column higher_is_better"
        return Case(kind, write_csv([BENCH_HEADER, *rows]), (needle,))
    if kind == "new benchmark without baseline":
        bad = draw(ONE_LINE)
        assume(bad.strip() not in {"MATH", "HotpotQA"})
        rows[k][0] = bad
        return Case(kind, write_csv([BENCH_HEADER, *rows]), ("column enhanced",))
    if kind == "missing column":
        column = draw(st.sampled_from(["model", "compute_flop", "enhanced", "score"]))
        c = BENCH_HEADER.index(column)
        table = [[cell for i, cell in enumerate(r) if i != c] for r in [BENCH_HEADER, *rows]]
        return Case(kind, write_csv(table), (f"line 1, column {column}",))
    if kind == "too many cells":
        rows[k] = rows[k] + draw(st.lists(ONE_LINE, min_size=1, max_size=3))
        return Case(kind, write_csv([BENCH_HEADER, *rows]), (f"line {line}",))
    if kind == "no data rows":
        return Case(kind, write_csv([BENCH_HEADER]), ("line 2",))
    return Case(kind, draw(st.sampled_from(["", "\n", " , ,\n", "\n\n\n"])))


def test_benchmark_baseline_is_valid(run_cli, sandbox):
    with input_file(sandbox, "results.csv", write_csv([BENCH_HEADER, *BENCH_ROWS])) as path:
        code, out, err = run_cli(["ceg", "estimate", path, "--json"])
    assert code == 0, err
    assert out.startswith("[")


@pytest.mark.parametrize("kind", BENCH_KINDS)
@fuzz(20)
@given(data=st.data(), as_json=st.booleans())
def test_bad_benchmark_csv_is_refused(run_cli, sandbox, kind, data, as_json):
    case = data.draw(benchmark_cases(kind), label="case")
    tried("test_bad_benchmark_csv_is_refused", case.kind)
    with input_file(sandbox, "results.csv", case.content) as path:
        argv = ["ceg", "estimate", path] + (["--json"] if as_json else [])
        assert_refused(run_cli, sandbox, argv, (str(path), *case.needles))


# --------------------------------------------------------------------------- run options


def _prior_supports() -> dict[str, str]:
    """Prior name -> 'unit', 'positive' or 'real', read from the defaults file's text."""
    doc = yaml.safe_load(PRIORS_FILE.read_text(encoding="utf-8"))["priors"]
    kinds = {"Beta": "unit", "HalfNormal": "positive", "LogNormal": "positive"}
    kinds |= {"Gamma": "positive", "Exponential": "positive", "Normal": "real"}
    out = {}
    for name, entry in doc.items():
        dist = str(entry["distribution"]).split("(")[0].strip()
        out[name] = entry.get("support") or kinds.get(dist, "point")
    return out


PRIOR_SUPPORTS = _prior_supports()
BOUNDED_PRIORS = sorted(n for n, s in PRIOR_SUPPORTS.items() if s in ("unit", "positive"))
ARG = st.text(PRINTABLE, max_size=16)
# A scenario name is echoed with repr() unless it names a .yaml file: no quotes, no
# backslashes (escaped by repr) and no '/' (normalised by Path).
NAME_CHARS = st.characters(
    exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), exclude_characters="/\\'\""
)
VALID_DISTRIBUTIONS = ["Beta(2, 5)", "Normal(0.5, 0.1)", "Gamma(2, 1)", "LogNormal(0, 1)"]


def int_within(text: str, lo: int, hi: int) -> bool:
    try:
        return lo <= int(text) <= hi
    except ValueError:
        return False


def float_within(text: str, lo: float, hi: float) -> bool:
    try:
        return lo <= float(text) <= hi
    except ValueError:
        return False


@st.composite
def outside_support(draw, name: str) -> str:
    """A distribution (or a number) that puts mass outside the prior's range."""
    if PRIOR_SUPPORTS[name] == "unit":
        return draw(
            st.one_of(
                st.builds("Normal({}, {})".format, st.floats(-5, 5), st.floats(0.01, 5)),
                st.builds("Gamma({}, {})".format, st.floats(0.5, 5), st.floats(0.5, 5)),
                st.builds("HalfNormal({})".format, st.floats(0.01, 5)),
                st.builds("LogNormal({}, {})".format, st.floats(-2, 2), st.floats(0.1, 2)),
                st.builds("Uniform({}, {})".format, st.floats(-5, -0.01), st.floats(0.5, 5)),
                st.builds("Uniform({}, {})".format, st.floats(0, 0.5), st.floats(1.01, 5)),
                st.floats(1.0, 1e6, exclude_min=True).map(repr),
                st.floats(-1e6, 0, exclude_max=True).map(repr),
            )
        )
    # positive: a constant 0 is a known bug (accepted, then the sampler fails)
    return draw(
        st.one_of(
            st.builds("Normal({}, {})".format, st.floats(-5, 5), st.floats(0.01, 5)),
            st.builds("Uniform({}, {})".format, st.floats(-5, -0.01), st.floats(0.5, 5)),
            st.floats(-1e6, 0, exclude_max=True).map(repr),
        )
    )


@st.composite
def bad_priors(draw, kind: str):
    """(kind, NAME=VALUE, what stderr must name besides --prior or the file)."""
    name = draw(st.sampled_from(sorted(PRIOR_SUPPORTS)))
    if kind == "no =":
        text = draw(st.one_of(st.just("x"), st.just(name), ARG.filter(lambda s: "=" not in s)))
        return kind, text, ()
    if kind == "no name":
        return kind, draw(st.sampled_from(["", " ", "\t"])) + "=" + draw(ARG), ()
    if kind == "no value":
        return (
            kind,
            draw(st.sampled_from(["", "x", name])) + "=" + draw(st.sampled_from(["", " ", "  "])),
            (),
        )
    if kind == "unknown name":
        bad = draw(st.one_of(IDENT, typo_of(PRIOR_SUPPORTS), ARG.filter(lambda s: "=" not in s)))
        bad = bad.strip()
        assume(bad and bad not in PRIOR_SUPPORTS)
        value = draw(st.sampled_from(VALID_DISTRIBUTIONS))
        return kind, f"{bad}={value}", (f"priors.{bad}",)
    if kind == "removed name":
        removed = draw(st.sampled_from(REMOVED_PRIORS))
        value = draw(st.sampled_from(VALID_DISTRIBUTIONS))
        return kind, f"{removed}={value}", (f"priors.{removed}", "unknown prior")
    if kind == "outside support":
        name = draw(st.sampled_from(BOUNDED_PRIORS))
        return kind, f"{name}={draw(outside_support(name))}", (f"priors.{name}",)
    # bad syntax: a valid distribution cut short inside its brackets, or garbage in them.
    # Left out, known bugs: integers too big for a float and very deep nesting.
    good = draw(st.sampled_from(VALID_DISTRIBUTIONS))
    value = draw(
        st.one_of(
            st.integers(good.index("(") + 1, len(good) - 1).map(lambda i: good[:i]),
            st.sampled_from(
                [
                    "Beta(2,",
                    "Beta(2 5)",
                    "Beta(2, 5",
                    "Beta(a, b)",
                    "Beta(1)",
                    "Beta(1, 2, 3)",
                    "Beta(0, 1)",
                    "Beta(-1, 2)",
                    "HalfNormal(0)",
                    "Normal(0, -1)",
                    "Uniform(2, 1)",
                    "Foo(1, 2)",
                    "beta(2, 5)",
                    "Beta(2, 5)(1)",
                    "Beta(*[2, 5])",
                    "Beta(2, **{'beta': 5})",
                    "__import__('os').system('true')",
                    "Beta(2, 5) + 1",
                    "nan",
                    "inf",
                    "1e400",
                    "[1, 2]",
                    "True",
                    "None",
                    "'0.5'",
                    "Beta(2, nan)",
                    "Normal(0, inf)",
                ]
            ),
            # letters only: never a number (True and False would be read as 1 and 0)
            st.builds("Beta({}, {})".format, JUNK, JUNK).filter(
                lambda s: "True" not in s and "False" not in s
            ),
        )
    )
    return kind, f"{name}={value}", (f"priors.{name}",)


OPTION_KINDS = (
    "horizon",
    "confidence",
    "draws",
    "actor",
    *(f"prior: {sub}" for sub in (*PRIOR_ENTRY_KINDS, "no =", "no name", "no value")),
    "as-of",
    "scenario",
    "evidence",
)


@st.composite
def bad_run_options(draw, kind: str):
    """(kind, the options, what stderr must name)."""
    if kind == "horizon":
        value = draw(
            st.one_of(
                st.integers(max_value=-1).map(str),
                st.integers(min_value=121).map(str),
                ARG.filter(lambda s: not int_within(s, 0, 120)),
                st.sampled_from(["", "12.5", "1e1", "twelve", "nan", "12 months"]),
            )
        )
        return kind, [f"--horizon={value}"], ("--horizon",)
    if kind == "confidence":
        value = draw(
            st.one_of(
                st.floats(max_value=0.5, exclude_max=True).map(repr),
                st.floats(min_value=0.999, exclude_min=True).map(repr),
                ARG.filter(lambda s: not float_within(s, 0.5, 0.999)),
                st.sampled_from(["", "nan", "95%", "0.95.1", "1", "0"]),
            )
        )
        return kind, [f"--confidence={value}"], ("--confidence",)
    if kind == "draws":
        value = draw(
            st.one_of(
                st.integers(max_value=99).map(str),
                st.integers(min_value=5_000_001).map(str),
                ARG.filter(lambda s: not int_within(s, 100, 5_000_000)),
            )
        )
        return kind, [f"--draws={value}"], ("--draws",)
    if kind == "actor":
        value = draw(st.one_of(ARG, st.sampled_from([a.upper() for a in ACTORS])))
        assume(value not in ACTORS)
        return kind, [f"--actor={value}"], ("--actor",)
    if kind.startswith("prior: "):
        sub, value, needles = draw(bad_priors(kind.removeprefix("prior: ")))
        good = [f"--prior={v}" for v in draw(st.lists(st.sampled_from(["relevance=Beta(2, 4)"])))]
        return kind, [*good, f"--prior={value}"], ("--prior", *needles)
    if kind == "as-of":
        value = draw(
            st.one_of(
                ARG,
                IMPOSSIBLE_DATES,
                st.sampled_from(["", "yesterday", "2024/01/01", "01-02-2024", "2024-1-1x"]),
            )
        )
        assume(not is_date(value))
        return kind, [f"--as-of={value}"], ("--as-of",)
    if kind == "scenario":
        name = draw(st.text(NAME_CHARS, min_size=1, max_size=40))
        assume(name.strip() and not name.startswith("-") and not Path(name).exists())
        assume(name not in {p.stem for p in SCENARIO_FILE.parent.glob("*.yaml")})
        return kind, [name], (name,)
    name = draw(st.text(PRINTABLE, min_size=1, max_size=40))
    missing = Path(f"/nonexistent-{name}")
    assume(not missing.exists())
    return kind, [f"--evidence={missing}"], (str(missing),)


@pytest.mark.parametrize("kind", OPTION_KINDS)
@fuzz(30)
@given(data=st.data(), as_json=st.booleans())
def test_bad_run_options_fail_before_any_fit(run_cli, sandbox, kind, data, as_json):
    kind, options, needles = data.draw(bad_run_options(kind), label="case")
    tried("test_bad_run_options_fail_before_any_fit", kind)
    out_dir = sandbox / "out"
    argv = ["run", *options, "--quiet", "--out", out_dir] + (["--json"] if as_json else [])
    assert_refused(run_cli, sandbox, argv, needles)
    assert not out_dir.exists()


# --------------------------------------------------------------------------- known bugs
# Each is excluded from the properties above; strict xfail: it fails once the bug is fixed.


# regression test (was a package bug: forecast/priors.py parse_distribution lets
# OverflowError/RecursionError escape)
@pytest.mark.parametrize(
    "value",
    [
        "1" + "0" * 400,
        "Beta(2, 1" + "0" * 400 + ")",
        "-" * 5000 + "1",
        "Beta(" + "-" * 5000 + "1, 2)",
    ],
    ids=["huge-int", "huge-int-arg", "deep-unary", "deep-unary-arg"],
)
def test_fixed_bug_prior_value_crashes(run_cli, sandbox, value):
    assert_refused(run_cli, sandbox, ["run", "-q", f"--prior=relevance={value}"], ("--prior",))


# regression test (was a package bug: forecast/schemas.py EvalSpec._slope lets
# OverflowError/RecursionError escape)
@pytest.mark.parametrize("value", ["1" + "0" * 400, "-" * 5000 + "1"], ids=["huge", "deep"])
def test_fixed_bug_scenario_slope_crashes(run_cli, sandbox, value):
    data = copy.deepcopy(SCENARIO)
    data["evals"][1]["slope"] = value
    with input_file(sandbox, "scenario.yaml", dump(data)) as path:
        assert_refused(
            run_cli, sandbox, ["scenarios", "validate", path], (str(path), "evals[1].slope")
        )


# regression test (was a package bug: validate accepts these scenario values; run then crashes
# or misbehaves)
@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ((*E1, "n_tasks"), 10**400, "evals[1].n_tasks"),  # OverflowError in evals._aggregate
        ((*E0, "tasks_file"), "", "evals[0].tasks_file"),  # read as 'no tasks' -> TypeError
        ((*E0, "tasks_file"), "a" * 300, "evals[0].tasks_file"),  # OSError: name too long
        (("base_model", "reference_date"), 86400, "base_model.reference_date"),  # = 1970-01-02
        (("horizon_months",), True, "horizon_months"),  # = 1
        (("priors",), {"relevance": True}, "priors.relevance"),  # = Constant(1)
    ],
    ids=[
        "huge-n_tasks",
        "empty-tasks_file",
        "long-tasks_file",
        "date-as-number",
        "int-as-bool",
        "prior-as-bool",
    ],
)
def test_fixed_bug_scenario_value_accepted_or_crashes(run_cli, sandbox, path, value, where):
    data = copy.deepcopy(SCENARIO)
    set_in(data, path, value)
    with input_file(sandbox, "scenario.yaml", dump(data)) as file:
        assert_refused(run_cli, sandbox, ["scenarios", "validate", file], (str(file), where))


# regression test (was a package bug: forecast/schemas.py: pydantic lax mode reads 0 as
# 1970-01-01 and true as 1.0)
@pytest.mark.parametrize(
    ("path", "value"),
    [((*EN, "published"), 0), ((*CEG, "lower"), True), ((*EN, "one_time_cost"), {"point": True})],
    ids=["date-as-number", "bool-as-ceg", "bool-as-cost"],
)
def test_fixed_bug_catalogue_lax_types(run_cli, sandbox, path, value):
    data = copy.deepcopy(CATALOGUE)
    set_in(data, path, value)
    with input_file(sandbox, "catalogue.yaml", dump(data)) as file:
        assert_refused(run_cli, sandbox, ["evidence", "validate", file], (str(file), field(path)))


def _alias_bomb(levels: int) -> str:
    lines = ["schema_version: 1", "x0: &x0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


CONTROL_CHARACTERS = pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\ufffe"], ids=repr)


@CONTROL_CHARACTERS
def test_yaml_control_character_is_refused(run_cli, sandbox, char):
    """With the loader the package picks (libyaml's when PyYAML has it)."""
    with input_file(sandbox, "scenario.yaml", dump(SCENARIO) + f"# {char}\n") as path:
        assert_refused(run_cli, sandbox, ["scenarios", "validate", path], (str(path),))


# regression test (was a package bug: forecast/files.py parse_yaml builds the loader outside its
# try: the pure-Python  yaml.SafeLoader raises ReaderError there (PyYAML without libyaml))
@CONTROL_CHARACTERS
def test_fixed_bug_yaml_control_character_pure_python(run_cli, sandbox, monkeypatch, char):
    import forecast.core.reading

    monkeypatch.setattr(forecast.core.reading, "SafeLoader", yaml.SafeLoader, raising=False)
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    with input_file(sandbox, "scenario.yaml", dump(SCENARIO) + f"# {char}\n") as path:
        assert_refused(run_cli, sandbox, ["scenarios", "validate", path], (str(path),))


# regression test (was a package bug: forecast/files.py _construct: recursive aliases and deep
# nesting -> RecursionError)
@pytest.mark.parametrize(
    "text",
    ["schema_version: 1\na: &a [*a]\n", "schema_version: 1\na: " + "[" * 1000 + "]" * 1000],
    ids=["recursive-alias", "deep-nesting"],
)
def test_fixed_bug_yaml_recursion(run_cli, sandbox, text):
    with input_file(sandbox, "catalogue.yaml", text) as path:
        assert_refused(run_cli, sandbox, ["evidence", "validate", path], (str(path),))


# regression test (was a package bug: forecast/files.py _construct expands aliases: 300 bytes
# take 20 s and more)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_fixed_bug_yaml_alias_bomb(run_cli, sandbox):
    """Six levels of ten aliases (10**6 nodes, about 20 s today): refused within 2 s once
    aliases are refused or capped. Bounded even if an alarm is lost (one that lands in a
    finaliser is swallowed): the alarm repeats, and the bomb is small enough to finish."""
    import signal

    active = [True]

    def too_slow(signum, frame):
        if active[0]:
            raise TimeoutError("still expanding YAML aliases after 2 s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, 2.0, 0.25)
    try:
        with input_file(sandbox, "catalogue.yaml", _alias_bomb(6)) as path:
            assert_refused(run_cli, sandbox, ["evidence", "validate", path], (str(path),))
    finally:
        active[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# regression test (was a package bug: a path longer than NAME_MAX raises OSError (traceback)
# instead of exit 2)
@pytest.mark.parametrize(
    "argv",
    [
        ["scenarios", "validate", "a" * 300],
        ["evidence", "validate", "a" * 300],
        ["run", "-q", "a" * 300],
        ["run", "-q", "--evidence", "a" * 300],
    ],
    ids=["scenarios-validate", "evidence-validate", "run-scenario", "run-evidence"],
)
def test_fixed_bug_long_file_name(run_cli, sandbox, argv):
    assert_refused(run_cli, sandbox, argv, ("a" * 300,))


# regression test (was a package bug: forecast/evals.py read_task_results: crashes or misplaces
# the line)
@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("task_id,successes,attempts\na,1,2,3\n", "line 2"),  # AttributeError
        ('task_id,successes,attempts\n"' + "a" * 200_000 + '",1,2\n', "line 2"),  # csv.Error
        ("task_id,successes,attempts\n\na,x,2\n", "line 3, column successes"),  # says line 2
        ('task_id,successes,attempts\n"a\nb",1,2\nc,x,2\n', "line 4, column successes"),
    ],
    ids=["extra-cell", "huge-field", "blank-line", "multi-line-cell"],
)
def test_fixed_bug_task_results(tmp_path, text, where):
    path = tmp_path / "tasks.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_task_results(path)
    assert info.value.file == str(path)
    assert info.value.path == where


def test_task_results_with_byte_order_mark(tmp_path):
    """A CSV saved by a spreadsheet starts with a BOM: the header is still read."""
    path = tmp_path / "tasks.csv"
    path.write_text("\ufefftask_id,successes,attempts\na,x,2\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_task_results(path)
    assert info.value.path == "line 2, column successes"


# regression test (was a package bug: a bad per-task CSV is found only after the fit (validate
# checks existence only))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_fixed_bug_task_results_checked_late(run_cli, sandbox, command):
    csv_path = sandbox / "bad-tasks.csv"
    csv_path.write_text("task_id,successes,attempts\na,x,10\n", encoding="utf-8")
    data = copy.deepcopy(SCENARIO)
    data["evals"][0]["tasks_file"] = str(csv_path)
    with input_file(sandbox, "scenario.yaml", dump(data)) as path:
        argv = ["scenarios", "validate", path] if command == "validate" else ["run", "-q", path]
        assert_refused(run_cli, sandbox, argv, (str(csv_path), "line 2, column successes"))


# regression test (was a package bug: forecast/priors.py with_overrides: a constant 0 passes for
# a positive prior)
@pytest.mark.parametrize(
    "prior",
    [
        "observation_noise=0",
        "noise_dof=0",
        "event_rate=0",
        "rate_decay_months=0",
        "attention_spread=0",
        "trend_fade_years=0",
        "catalogue_gain=0",
    ],
)
def test_fixed_bug_zero_for_positive_prior_reaches_the_fit(run_cli, sandbox, prior):
    assert_refused(run_cli, sandbox, ["run", "-q", "--prior", prior], ("--prior",))


# regression test (was a package bug: --as-of before every enhancement: the message does not
# name --as-of)
def test_fixed_bug_as_of_before_the_catalogue(run_cli, sandbox):
    assert_refused(run_cli, sandbox, ["run", "-q", "--as-of", "1990-01-01"], ("--as-of",))


# =========================================================================== hostile inputs
# Issue 15: special files, encodings, aliases in keys, float extremes, oversized options,
# tampered caches, hostile names and text, full disks, bad destinations. The generators
# below apply to every INPUT KIND: a new input format (measurements, policies, profiles)
# gets all of them by adding one line to INPUT_KINDS.


@dataclasses.dataclass(frozen=True)
class InputKind:
    """A kind of input file and a command line that reads it.

    ``valid`` is a valid file of the kind; ``argv(path, scratch)`` is the command reading
    the file at ``path`` (it may write helper files into the folder ``scratch``, e.g. a
    scenario naming a tasks CSV). A bad file must be refused with exit 2 naming ``path``.
    """

    name: str
    valid: str
    argv: object
    suffix: str = ".yaml"

    @property
    def is_yaml(self) -> bool:
        return self.suffix == ".yaml"


def _scenario_naming(path: Path, scratch: Path) -> Path:
    data = copy.deepcopy(SCENARIO)
    data["evals"][0]["tasks_file"] = str(path)
    scenario = scratch / "uses-tasks.yaml"
    scenario.write_text(dump(data), encoding="utf-8")
    return scenario


BENCH_TEXT = write_csv([BENCH_HEADER, *BENCH_ROWS])


def _scenario_with_policy(path: Path, scratch: Path) -> Path:
    data = copy.deepcopy(SCENARIO)
    data["policies"] = [str(path)]
    scenario = scratch / "uses-policy.yaml"
    scenario.write_text(dump(data), encoding="utf-8")
    return scenario


def _profile_text() -> str:
    from forecast.inputs.profiles import shipped_profiles

    return shipped_profiles()["cautious"].read_text(encoding="utf-8")


#: Every kind of input file and a command that reads it (one line each).
INPUT_KINDS = {
    k.name: k
    for k in (
        InputKind("scenario", dump(SCENARIO), lambda p, s: ["scenarios", "validate", p]),
        InputKind("scenario (run)", dump(SCENARIO), lambda p, s: ["run", "-q", p]),
        InputKind("catalogue", MINIMAL_CATALOGUE, lambda p, s: ["evidence", "validate", p]),
        InputKind(
            "catalogue (run)", MINIMAL_CATALOGUE, lambda p, s: ["run", "-q", "--evidence", p]
        ),
        InputKind(
            "tasks CSV",
            TASKS_FILE.read_text(encoding="utf-8"),
            lambda p, s: ["scenarios", "validate", _scenario_naming(p, s)],
            ".csv",
        ),
        InputKind("benchmark CSV", BENCH_TEXT, lambda p, s: ["ceg", "estimate", p], ".csv"),
        # The inputs this round added: measurements, policy rules, assumption profiles.
        InputKind(
            "measurements",
            USER_MEASUREMENTS,
            lambda p, s: ["evidence", "measurements", "--measurements", p],
        ),
        InputKind(
            "policy",
            LAB_RULE,
            lambda p, s: ["scenarios", "validate", _scenario_with_policy(p, s)],
        ),
        InputKind("profile", _profile_text(), lambda p, s: ["profiles", "show", p]),
    )
}
YAML_KINDS = [k for k, v in INPUT_KINDS.items() if v.is_yaml]


@contextlib.contextmanager
def deadline(seconds: float, what: str):
    """Fail (instead of hanging the suite) if the block takes longer than ``seconds``."""
    import signal

    def too_slow(signum, frame):
        raise TimeoutError(f"{what}: still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused_quickly(run_cli, root, argv, needles=(), located_in=None, seconds=10.0):
    with deadline(seconds, f"{[str(a)[:80] for a in argv]}"):
        return assert_refused(run_cli, root, argv, needles, located_in)


# --------------------------------------------------------------------------- special files


def _fifo(folder: Path, name: str) -> Path:
    os.mkfifo(folder / name)
    return folder / name


def _socket_file(folder: Path, name: str) -> Path:
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / name))
    sock.close()  # the socket file stays
    return folder / name


def _link(target):
    def make(folder: Path, name: str) -> Path:
        real = target(folder, "target-" + name) if callable(target) else Path(target)
        (folder / name).symlink_to(real)
        return folder / name

    return make


def _sparse(size: int):
    def make(folder: Path, name: str) -> Path:
        with open(folder / name, "wb") as fh:
            fh.truncate(size)
        return folder / name

    return make


SPECIAL_FILES = {
    "FIFO": (_fifo, "named pipe"),
    "/dev/zero": (lambda f, n: Path("/dev/zero"), "device"),
    "/dev/urandom": (lambda f, n: Path("/dev/urandom"), "device"),
    "folder": (lambda f, n: (f / n).mkdir() or f / n, "folder"),
    "socket": (_socket_file, "socket"),
    "link to a FIFO": (_link(_fifo), "named pipe"),
    "link to /dev/zero": (_link("/dev/zero"), "device"),
    "broken link": (_link("/no/such/target"), "not found"),
    "1 TB sparse file": (_sparse(1 << 40), "too large"),
}


@pytest.mark.parametrize("special", list(SPECIAL_FILES))
@pytest.mark.parametrize("kind", list(INPUT_KINDS))
def test_special_file_is_refused_without_blocking(run_cli, sandbox, kind, special):
    """A FIFO, a device, a folder, a socket or an oversized file as any input: exit 2 in
    bounded time, naming the file (a FIFO used to block forever, /dev/zero to eat 12 GB)."""
    tried("test_special_file_is_refused_without_blocking", special)
    make, words = SPECIAL_FILES[special]
    folder = Path(tempfile.mkdtemp(prefix="special-", dir=sandbox))
    try:
        path = make(folder, "input" + INPUT_KINDS[kind].suffix)
        argv = INPUT_KINDS[kind].argv(path, folder)
        refused_quickly(run_cli, sandbox, argv, (str(path), words))
    finally:
        shutil.rmtree(folder)


# --------------------------------------------------------------------------- encodings


@st.composite
def badly_encoded(draw, text: str):
    """(kind, bytes, expected (line, column) or None): the valid text in another encoding,
    or with one byte that is not UTF-8 text put somewhere."""
    how = draw(
        st.sampled_from(
            ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "nul", "byte"]
        )
    )
    if how in ("latin-1", "cp1252"):
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from("éüßñøÿ€" if how == "cp1252" else "éüßñøÿ"))
        data = (text[:at] + char + text[at:]).encode(how)
        return how, data, _position(text, at)
    if how in ("nul", "byte"):
        at = draw(st.integers(0, len(text)))
        bad = "\x00" if how == "nul" else None
        raw = draw(st.integers(0x80, 0xFF)) if how == "byte" else 0
        data = text[:at].encode() + (bytes([raw]) if bad is None else b"\x00") + text[at:].encode()
        if how == "byte":  # a lone byte may complete a valid sequence with what follows
            try:
                data.decode("utf-8")
                assume(False)
            except UnicodeDecodeError:
                pass
        return how, data, _position(text, at) if how == "nul" or raw < 0xC2 else None
    return how, text.encode(how), None


def _position(text: str, at: int) -> tuple[int, int]:
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


@pytest.mark.parametrize("kind", list(INPUT_KINDS))
@fuzz(12)
@given(data=st.data())
def test_badly_encoded_file_is_refused_with_line_and_column(run_cli, sandbox, kind, data):
    """UTF-16/32, Latin-1, Windows-1252, a NUL or a stray byte: exit 2 and file:LINE:COL."""
    spec = INPUT_KINDS[kind]
    how, content, where = data.draw(badly_encoded(spec.valid), label="file")
    tried("test_badly_encoded_file_is_refused_with_line_and_column", how)
    with input_file(sandbox, "input" + spec.suffix, content) as path:
        argv = spec.argv(path, path.parent)
        err = refused_quickly(run_cli, sandbox, argv, (str(path),), located_in=path)
        if where is not None:
            assert f"{squash(path)}:{where[0]}:{where[1]}:" in squash(err), (where, err)


# --------------------------------------------------------------------------- aliases in keys


@st.composite
def key_bombs(draw) -> str:
    """A list or mapping used as a key, aliases nested up to nine deep (9**9 when expanded)."""
    depth = draw(st.integers(1, 9))
    fan = draw(st.integers(2, 9))
    parts = [f"&a0 [{', '.join(['lol'] * fan)}]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]" for i in range(1, depth)]
    key = "[" + ", ".join(parts) + "]"
    if draw(st.booleans()):  # a flow mapping with the lists as values
        key = "{" + ", ".join(f"k{i}: {p}" for i, p in enumerate(parts)) + "}"
    return key


@pytest.mark.parametrize("kind", YAML_KINDS)
@fuzz(10)
@given(bomb=key_bombs(), where=st.sampled_from(["top", "nested", "list item"]))
def test_alias_bomb_in_a_key_is_refused(run_cli, sandbox, kind, bomb, where):
    """A 300-byte key used to take 26 s and 1.7 GB and print a 78 MB message."""
    tried("test_alias_bomb_in_a_key_is_refused", where)
    spec = INPUT_KINDS[kind]
    lines = spec.valid.rstrip("\n").split("\n")
    if where == "top":
        lines += [f"? {bomb}", ": 1"]
    elif where == "nested":
        lines = ["nested:", f"  ? {bomb}", "  : 1", *lines]
    else:
        lines = ["items:", f"  - ? {bomb}", "    : 1", *lines]
    with input_file(sandbox, "input.yaml", "\n".join(lines) + "\n") as path:
        err = refused_quickly(
            run_cli, sandbox, spec.argv(path, path.parent), (str(path),), seconds=5
        )
    assert len(err) < 2000


def _yaml_values(path: Path) -> int:
    """Values (parser node events) in a YAML file, as the reader counts them."""
    loader = yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
    return sum(
        isinstance(event, yaml.NodeEvent)
        for event in yaml.parse(path.read_text(encoding="utf-8"), Loader=loader)
    )


#: The largest shipped YAML file (priors/eval-slopes.yaml, about 8,800 values) plus a margin.
SHIPPED_YAML = [
    p
    for folder in ("priors", "scenarios", "policies", "profiles")
    for p in (ROOT / folder).rglob("*.yaml")
]
CAPPED_NODES = max(map(_yaml_values, SHIPPED_YAML)) + 1000


@pytest.mark.parametrize("kind", YAML_KINDS)
@fuzz(5)
@given(extra=st.integers(1, 3000), nesting=st.sampled_from(["flow", "block"]))
def test_yaml_with_too_many_values_is_refused(run_cli, sandbox, monkeypatch, kind, extra, nesting):
    import forecast.core.reading

    # A lowered cap, still above every shipped file the commands read (SHIPPED_YAML), so
    # only the input trips it.
    monkeypatch.setattr(forecast.core.reading, "MAX_YAML_NODES", CAPPED_NODES)
    tried("test_yaml_with_too_many_values_is_refused", nesting)
    spec = INPUT_KINDS[kind]
    items = ["1"] * (CAPPED_NODES + extra)
    body = (
        f"many: [{', '.join(items)}]\n"
        if nesting == "flow"
        else "many:\n- 1\n" * 1 + "".join("- 1\n" for _ in items)
    )
    with input_file(sandbox, "input.yaml", spec.valid + body) as path:
        argv = spec.argv(path, path.parent)
        refused_quickly(run_cli, sandbox, argv, (str(path), "values"), located_in=path)


# --------------------------------------------------------------------------- float extremes

HUGE = st.one_of(
    st.floats(min_value=1e7, max_value=1e308),
    st.sampled_from([1e308, 1.7976931348623157e308, 5e306]),
)
TINY = st.one_of(st.floats(min_value=5e-324, max_value=1e-5), st.just(5e-324))


@st.composite
def extreme_distributions(draw) -> str:
    """A distribution (or number) with a parameter at a float extreme: refused."""
    sign = draw(st.sampled_from([1, -1]))
    big = draw(HUGE)
    return draw(
        st.sampled_from(
            [
                f"Uniform({-big!r}, {big!r})",
                f"Uniform(0, {big!r})",
                f"Normal(0, {big!r})",
                f"Normal({sign * big!r}, 1)",
                f"LogNormal({draw(st.floats(14, 1e6))!r}, 1)",
                f"LogNormal(0, {draw(st.floats(3, 1e6))!r})",
                f"HalfNormal({big!r})",
                f"Gamma(2, {draw(TINY)!r})",
                f"Gamma({draw(TINY)!r}, 1)",
                f"Exponential({draw(TINY)!r})",
                f"Beta({draw(TINY)!r}, 1)",
                f"Beta(2, {big!r})",
                repr(sign * big),
            ]
        )
    )


REAL_PRIORS = sorted(n for n, s in PRIOR_SUPPORTS.items() if s == "real")


@fuzz(40)
@given(data=st.data(), where=st.sampled_from(["--prior", "scenario priors", "eval slope"]))
def test_prior_at_a_float_extreme_is_refused(run_cli, sandbox, data, where):
    """Uniform(-1e308, 1e308), LogNormal(1000, 1), a slope of 1e308: exit 2 where written
    (they used to crash, or print 'score nan%' or a buffer computed from infinities)."""
    tried("test_prior_at_a_float_extreme_is_refused", where)
    value = data.draw(extreme_distributions(), label="value")
    if where == "--prior":
        name = data.draw(st.sampled_from(REAL_PRIORS), label="prior")
        refused_quickly(run_cli, sandbox, ["run", "-q", f"--prior={name}={value}"], ("--prior",))
        return
    scenario = copy.deepcopy(SCENARIO)
    if where == "scenario priors":
        name = data.draw(st.sampled_from(REAL_PRIORS), label="prior")
        scenario["priors"] = {name: value}
        needle = f"priors.{name}"
    else:
        scenario["evals"][1]["slope"] = value
        needle = "evals[1].slope"
    with input_file(sandbox, "scenario.yaml", dump(scenario)) as path:
        refused_quickly(run_cli, sandbox, ["run", "-q", path], (str(path), needle))


FLOAT_EXTREMES = st.sampled_from(
    ["5e-324", "1e-300", "1e-31", "1e61", "1e308", "1.7976931348623157e308"]
)


@fuzz(30)
@given(data=st.data(), column=st.sampled_from(["compute_flop", "score"]))
def test_benchmark_value_at_a_float_extreme_is_refused(run_cli, sandbox, data, column):
    """compute 5e-324 (an infinite bound printed as .inf), scores 1e300 (NaN sums)."""
    tried("test_benchmark_value_at_a_float_extreme_is_refused", column)
    rows = copy.deepcopy(BENCH_ROWS)
    k = data.draw(st.integers(0, len(rows) - 1), label="row")
    value = data.draw(
        FLOAT_EXTREMES if column == "compute_flop" else HUGE.filter(lambda x: x > 1e12).map(repr),
        label="value",
    )
    if column == "score" and data.draw(st.booleans(), label="negative"):
        value = "-" + value
    rows[k][BENCH_HEADER.index(column)] = value
    with input_file(sandbox, "results.csv", write_csv([BENCH_HEADER, *rows])) as path:
        emit = data.draw(st.sampled_from([[], ["--json"], ["--emit-record", "x"]]), label="out")
        refused_quickly(
            run_cli, sandbox, ["ceg", "estimate", path, *emit], (str(path), f"line {k + 2}")
        )


@fuzz(30)
@given(
    base=st.floats(min_value=1e-29, max_value=1e59),
    steps=st.integers(1, 4),
    scores=st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=4),
)
def test_benchmark_with_computes_equal_in_log10_gives_finite_numbers(
    run_cli, sandbox, base, steps, scores
):
    """Two baseline computes a few ulps apart (equal log10) used to divide by zero."""
    tried("test_benchmark_with_computes_equal_in_log10_gives_finite_numbers", str(steps))
    near = base
    for _ in range(steps):
        near = math.nextafter(near, math.inf)
    rows = [
        ["model", "compute_flop", "enhanced", "score"],
        ["a", repr(base), "false", repr(scores[0])],
        ["b", repr(near), "false", repr(scores[1])],
        ["c", repr(base * 10), "false", repr(scores[2])],
        ["me", repr(base), "true", repr(scores[3])],
    ]
    with input_file(sandbox, "results.csv", write_csv(rows)) as path:
        code, out, err = run_cli(["ceg", "estimate", path, "--json"])
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 0:
        assert "NaN" not in out and "Infinity" not in out
        assert all(
            v is None or math.isfinite(v)
            for e in json.loads(out)
            for v in (e["lower_bound"], e["point"], e["point_oom"])
        )


@fuzz(20)
@given(bound=st.sampled_from(["point", "lower", "upper"]), value=st.one_of(HUGE, TINY))
def test_catalogue_ceg_at_a_float_extreme_is_refused(run_cli, sandbox, bound, value):
    tried("test_catalogue_ceg_at_a_float_extreme_is_refused", bound)
    assume(not 1e-6 <= value <= 1e12)
    data = copy.deepcopy(CATALOGUE)
    set_in(data, CEG, {bound: value})
    with input_file(sandbox, "catalogue.yaml", dump(data)) as path:
        refused_quickly(run_cli, sandbox, ["evidence", "validate", path], (str(path), field(CEG)))


# --------------------------------------------------------------------------- oversized options

SIZE_OPTIONS = {
    "--draws": 1_000_000,
    "--fit-draws": 50_000,
    "--fit-tune": 50_000,
    "--chains": 16,
    "--horizon": 120,
    "--seed": 2**32 - 1,
    "--fit-seed": 2**32 - 1,
}


@fuzz(70)
@given(
    option=st.sampled_from(sorted(SIZE_OPTIONS)),
    over=st.one_of(st.integers(1, 10), st.integers(11, 10**30)),
    negative=st.booleans(),
    command=st.sampled_from(["run", "compare", "export", "sensitivity", "priors check"]),
)
def test_option_beyond_its_documented_maximum_is_refused(
    run_cli, sandbox, option, over, negative, command
):
    """Every option that sizes work has a maximum (or a minimum of 0 for seeds), checked
    before any work: `--fit-draws 1000000000` used to start a fit and end in a traceback."""
    tried("test_option_beyond_its_documented_maximum_is_refused", option)
    if command in ("sensitivity", "priors check") and option in ("--draws",):
        return
    value = -over if negative and option != "--chains" else SIZE_OPTIONS[option] + over
    argv = [*command.split(), "-q", f"{option}={value}"]
    if command == "compare":
        argv += ["frontier-api", "open-weights"]
    if command == "export":
        argv += ["--out", sandbox / "bundle"]
    refused_quickly(run_cli, sandbox, argv, (option,))


@fuzz(20)
@given(
    chains=st.integers(2, 16),
    fit_draws=st.integers(10, 50_000),
    draws=st.one_of(st.none(), st.integers(100, 1_000_000)),
    horizon=st.integers(0, 120),
)
def test_work_too_large_for_the_limits_is_refused_before_any_fit(
    run_cli, sandbox, chains, fit_draws, draws, horizon
):
    """draws x time steps and chains x draws have documented limits (docs/reliability.md):
    `run --draws 5000000 --horizon 120` ran for 20 minutes into MemoryError."""
    from forecast.buffer.forecasting import DEFAULT_DRAWS
    from forecast.cli.common import (
        MAX_DRAW_STEPS,
        MAX_DRAW_TASKS,
        MAX_FORECAST_DRAWS,
        MAX_POSTERIOR_DRAWS,
    )
    from forecast.inputs.policies import policy_months, select_shipped
    from forecast.simulate.setup import time_grid

    steps = len(time_grid(horizon, 1, policy_months(select_shipped(None))))
    n = draws if draws is not None else DEFAULT_DRAWS  # resampled from the posterior
    tasks = len(TASK_ROWS) - 1
    too_big = (
        chains * fit_draws > MAX_POSTERIOR_DRAWS
        or n > MAX_FORECAST_DRAWS
        or n * steps > MAX_DRAW_STEPS
    ) or n * tasks > MAX_DRAW_TASKS
    assume(too_big)
    tried("test_work_too_large_for_the_limits_is_refused_before_any_fit", "too large")
    argv = ["run", "-q", f"--chains={chains}", f"--fit-draws={fit_draws}", f"--horizon={horizon}"]
    argv += [f"--draws={draws}"] if draws is not None else []
    refused_quickly(run_cli, sandbox, argv, ("limit",))


# --------------------------------------------------------------------------- a warm fake fit

FAKE_SETTINGS = dict(draws=60, tune=10, chains=2)
FAKE_FIT = ["--fit-draws", "60", "--fit-tune", "10", "--chains", "2", "-q"]


#: Stands in for ``forecast.fit.engine._sample``: made-up draws of either model, stored in
#: the cache like a real fit (conftest.fake_sampler).
fake_sample = fake_sampler()


@contextlib.contextmanager
def sampler(fake):
    """``forecast.fit.engine._sample`` replaced by ``fake`` inside the block."""
    real = forecast.fit.engine._sample
    forecast.fit.engine._sample = fake
    try:
        yield
    finally:
        forecast.fit.engine._sample = real


def fake_fit(scenario=None):
    """Fake fits (made-up draws) in the cache of everything ``run SCENARIO FAKE_FIT`` (and
    ``export``, ``sensitivity``) read: the catalogue model under the run's default settings
    (its summary, maybe shipped, and its draws, which the full sensitivity ranking reads)
    and the uplift model under FAKE_SETTINGS; commands then run without sampling. Returns
    the run's :class:`~forecast.buffer.forecasting.Fits`."""
    from forecast.buffer.forecasting import HISTORIES_SETTINGS, fit_both
    from forecast.fit.engine import FitSettings
    from forecast.inputs.resolve import resolve

    settings = dataclasses.replace(HISTORIES_SETTINGS, **FAKE_SETTINGS)
    with sampler(fake_sample):
        fits = fit_both(resolve(scenario), FitSettings(seed=settings.seed), settings)
        fits.catalogue.with_draws()
    return fits


@pytest.fixture
def warm(sandbox, monkeypatch):
    """The sandbox with fake cached fits of the default run; a refit (of a variation of
    the full sensitivity ranking, say) makes up its draws too."""
    fake_fit()
    monkeypatch.setattr(forecast.fit.engine, "_sample", fake_sample)
    return sandbox


def test_fake_fit_runs_without_sampling(run_cli, warm):
    code, out, err = run_cli(["run", *FAKE_FIT, "--json"])
    assert code == 0, err
    provenance = json.loads(out)["provenance"]
    assert provenance["fit_from_cache"] is True and provenance["histories_fit"] == "cache"


# --------------------------------------------------------------------------- tampered caches


@st.composite
def tamperings(draw, variables: list[str]):
    """(name, change(draws dict) -> None): what a tamperer could do to draws.npz."""
    name = draw(st.sampled_from(variables))
    how = draw(
        st.sampled_from(
            ["drop", "add", "dtype", "nan", "inf", "fewer", "more", "reshape", "transpose-like"]
        )
    )
    if how == "drop":
        return how, lambda d: d.pop(name)
    if how == "add":
        extra = draw(
            st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda s: s not in variables)
        )
        return how, lambda d: d.update({extra: np.zeros(len(d[name]))})
    if how == "dtype":
        dtype = draw(st.sampled_from(["int64", "float32", "complex128", "float16", "bool"]))
        return how, lambda d: d.update({name: d[name].astype(dtype)})
    if how in ("nan", "inf"):
        bad = np.nan if how == "nan" else draw(st.sampled_from([np.inf, -np.inf]))
        at = draw(st.integers(0, 10**6))

        def poison(d):
            flat = d[name].reshape(-1).copy()
            flat[at % flat.size] = bad
            d[name] = flat.reshape(d[name].shape)

        return how, poison
    if how in ("fewer", "more"):
        k = draw(st.integers(1, 50))
        if how == "fewer":
            return how, lambda d: d.update({v: a[: max(len(a) - k, 1)] for v, a in d.items()})
        return how, lambda d: d.update({v: np.concatenate([a, a[:k]]) for v, a in d.items()})
    if how == "reshape":
        return how, lambda d: d.update({name: d[name].reshape(len(d[name]), -1)[:, :1][:, :, None]})
    return how, lambda d: d.update({name: d[name][: len(d[name]) // 2].repeat(2, axis=0)[None]})


@fuzz(60)
@given(data=st.data(), model=st.sampled_from(["catalogue", "histories"]))
def test_tampered_cache_entry_is_refit_never_used(cache_dir, data, model):
    """draws.npz rewritten with a matching SHA-256 in meta.json: fit_model refits it (either
    model)."""
    import hashlib

    from forecast.fit import cache
    from forecast.fit.engine import FitSettings, fit_model

    spec, priors = _specs()[model]
    how, change = data.draw(tamperings(sorted(spec.shapes)), label="tampering")
    tried("test_tampered_cache_entry_is_refit_never_used", f"{model}: {how}")
    settings = FitSettings(**FAKE_SETTINGS)
    key = spec.key(priors, settings)
    fit = fake_sample(spec, priors, settings, key, True, True, None, None)
    folder, draws = fit.directory, dict(fit.draws)
    calls = []
    with sampler(lambda *a, **k: calls.append(a) or "refit"):
        assert fit_model(spec, priors, settings).how == "cache"  # intact
        change(draws)
        buffer = io.BytesIO()
        np.savez(buffer, **draws)
        (folder / "draws.npz").write_bytes(buffer.getvalue())
        meta = json.loads((folder / "meta.json").read_text())
        meta["draws_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        (folder / "meta.json").write_text(json.dumps(meta))
        assert fit_model(spec, priors, settings) == "refit"
    assert len(calls) == 1
    assert cache.entry_dir(key) == folder


_SPECS = []


def _specs():
    """Each model's spec of the shipped evidence under the default priors (built once)."""
    if not _SPECS:
        from forecast.evidence.catalogue import load_catalogue
        from forecast.evidence.histories import build_history_table
        from forecast.evidence.measurements import load_measurements
        from forecast.evidence.table import build_table
        from forecast.fit.catalogue import catalogue_spec
        from forecast.fit.histories import histories_spec
        from forecast.inputs.priors import load_priors

        priors = load_priors()
        catalogue = load_catalogue()
        histories = build_history_table(load_measurements(catalogue=catalogue))
        _SPECS.append(
            {
                "catalogue": (catalogue_spec(build_table(catalogue), priors), priors),
                "histories": (histories_spec(histories, priors), priors),
            }
        )
    return _SPECS[0]


def test_export_never_copies_from_outside_the_cache(run_cli, warm, monkeypatch):
    """posterior.nc swapped for a link to a secret after the fit was read (checksum
    resealed): export refuses to copy it and writes no bundle."""
    import hashlib

    import forecast.buffer.forecasting

    real_fit = forecast.buffer.forecasting.fit_histories
    swapped = []

    def fit_then_swap(*args, **kwargs):
        result = real_fit(*args, **kwargs)  # the intact entry passes every check here
        entry = result.directory
        secret = warm / "secret"
        secret.write_text("TOP SECRET")
        (entry / "posterior.nc").unlink()
        (entry / "posterior.nc").symlink_to(secret)
        meta = json.loads((entry / "meta.json").read_text())
        meta["files_sha256"]["posterior.nc"] = hashlib.sha256(b"TOP SECRET").hexdigest()
        (entry / "meta.json").write_text(json.dumps(meta))
        swapped.append(entry)
        return result

    monkeypatch.setattr(forecast.buffer.forecasting, "fit_histories", fit_then_swap)
    out = warm / "bundle"
    code, _, err = run_cli(["export", "--no-profiles", *FAKE_FIT, "--out", out])
    assert swapped, "the uplift model's fit was not read"
    assert code == 2, err
    assert "posterior.nc" in err and "Traceback" not in err
    assert not out.exists()


# --------------------------------------------------------------------------- hostile text

HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [
            "oops [/]",
            "[bold red]alarm[/bold red]",
            "[link=https://e.vil]click[/link]",
            "In-house [/] scaffold",
            "\x1b]8;;https://e.vil\x1b\\click\x1b]8;;\x1b\\",
            "\x1b[2J\x1b[Hcleared",
            "line one\nline two",
            "bidi \u202eevil\u202c",
            "zero\u200bwidth",
            ":warning: :skull:",
            "tab\there",
            "\x85NEL and \u2028 LS",
            "back\\slash [not a tag]",
        ]
    ),
    st.text(
        st.one_of(
            st.sampled_from("[]/\\:=@#\x1b\x07\x08\n\r\t\u202e\u2028\x85"),
            st.characters(exclude_categories=("Cs", "Cc")),
        ),
        min_size=1,
        max_size=30,
    ),
)
SCENARIO_TEXT_FIELDS = [
    ("title",),
    ("description",),
    ("base_model", "name"),
    (*E1, "description"),
]


def _yaml_ok(text: str) -> bool:
    """Text a YAML file can carry (YAML forbids most control characters even escaped? no:
    double-quoted escapes carry them; the dumper writes them so)."""
    return "\x00" not in text


def assert_safe_output(out: str) -> None:
    """Nothing a terminal would act on: no control character but newline."""
    bad = [c for c in out if (ord(c) < 0x20 and c not in "\n") or 0x7F <= ord(c) < 0xA0]
    assert not bad, f"control characters on stdout: {bad[:5]!r}"
    assert not any(c in out for c in "\u202e\u2028\u2029\u200b"), "invisible characters on stdout"


@fuzz(25)
@given(text=HOSTILE_TEXT, path=st.sampled_from(SCENARIO_TEXT_FIELDS))
def test_hostile_text_in_a_scenario_is_printed_as_written(run_cli, warm, text, path):
    """Rich markup renders nothing (a title 'oops [/]' used to crash, a [link] to become a
    hyperlink), control characters reach no terminal, the run still succeeds."""
    tried("test_hostile_text_in_a_scenario_is_printed_as_written", field(path))
    assume(text.strip() and _yaml_ok(text))
    data = copy.deepcopy(SCENARIO)
    set_in(data, path, text)
    with input_file(warm, "scenario.yaml", dump(data)) as scenario:
        code, out, err = run_cli(["run", *FAKE_FIT, scenario])
    assert code == 0, err
    assert "Traceback" not in err
    assert_safe_output(out)
    if path in (("title",), ("base_model", "name")) and not set(text) & set("\n\t"):
        assert squash(printable(text)) in squash(out)


CATALOGUE_TEXT_FIELDS = [(*EN, "name"), (*EN, "source"), (*OB, "benchmark"), (*OB, "where")]


@fuzz(25)
@given(text=HOSTILE_TEXT, path=st.sampled_from(CATALOGUE_TEXT_FIELDS))
def test_hostile_text_in_a_catalogue_is_printed_as_written(run_cli, sandbox, text, path):
    tried("test_hostile_text_in_a_catalogue_is_printed_as_written", field(path))
    assume(text.strip() and _yaml_ok(text))
    data = copy.deepcopy(CATALOGUE)
    set_in(data, path, text)
    with input_file(sandbox, "catalogue.yaml", dump(data)) as catalogue:
        code, out, err = run_cli(
            ["evidence", "show", "my_tool", "--no-posterior", "--evidence", catalogue]
        )
    assert code == 0, err
    assert_safe_output(out)
    if not set(text) & set("\n\t"):  # kept as line breaks in a table: compared above
        assert squash(printable(text)) in squash(out.replace("│", ""))


@fuzz(40)
@given(
    name=st.text(
        st.one_of(
            st.sampled_from("[]/:\x1b\n\r\t\u202e\u2028\x85\udcff"),
            st.characters(exclude_categories=("Cs",), exclude_characters="/\x00"),
        ),
        min_size=1,
        max_size=40,
    ).filter(lambda s: s not in (".", "..")),
    command=st.sampled_from(["scenarios validate", "evidence validate", "ceg estimate", "run"]),
)
def test_hostile_file_name_in_an_error_is_one_printable_line(run_cli, sandbox, name, command):
    """A missing file whose name holds markup, control characters, line breaks or bytes
    that are not UTF-8: one error line, nothing a terminal would act on."""
    tried("test_hostile_file_name_in_an_error_is_one_printable_line", command)
    path = sandbox / "no-such" / name
    argv = [*command.split(), path] if command != "run" else ["run", "-q", "--evidence", path]
    err = refused_quickly(run_cli, sandbox, argv)
    lines = err.strip().split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert_safe_output(err.replace("\n", ""))
    assert squash(printable(str(path))) in squash(err)


# ceg --emit-record: nothing echoed into the YAML can add to it


@fuzz(40)
@given(
    file_name=st.text(
        st.one_of(
            st.sampled_from("\n\r\x85\u2028\u2029#-:{}[]'\"&*!|>%@` "),
            st.characters(exclude_categories=("Cs",), exclude_characters="/\x00"),
        ),
        min_size=1,
        max_size=40,
    ).filter(lambda s: s not in (".", "..")),
    model=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "\x00" not in s),
    benchmark=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "\x00" not in s),
)
def test_emitted_records_are_exactly_the_estimates(run_cli, sandbox, file_name, model, benchmark):
    """A file name with a line break used to end the comment and add a fake observation."""
    tried("test_emitted_records_are_exactly_the_estimates", "emit")
    rows = [
        ["model", "compute_flop", "enhanced", "score", "benchmark"],
        ["small", "1e22", "false", "20", benchmark],
        ["medium", "1e23", "false", "30", benchmark],
        ["large", "1e24", "false", "40", benchmark],
        [model, "1e22", "true", "35", benchmark],
    ]
    folder = Path(tempfile.mkdtemp(dir=sandbox))
    try:
        path = folder / (file_name + ".csv")
        path.write_text(write_csv(rows), encoding="utf-8")
        code, out, err = run_cli(["ceg", "estimate", path, "--emit-record", "my_tool"])
    finally:
        shutil.rmtree(folder)
    assume(code == 0)  # cells that the CSV reader refuses are other properties' business
    records = yaml.safe_load(out)
    assert isinstance(records, list) and len(records) == 1, out
    (record,) = records
    assert set(record) <= {"benchmark", "domain", "ceg", "base_compute_flop", "where", "notes"}
    assert record["benchmark"] == benchmark.strip()
    assert model.strip() in record["notes"]
    assert all(line.startswith("#") for line in out.split("\n")[:2])


# --------------------------------------------------------------------------- destinations


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "64k", read_only: bool = False):
    """A small tmpfs at ``folder`` (root only); skips the test where it cannot mount."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> None:
    """Fill a file system to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)


@pytest.mark.parametrize("command", ["run", "export", "sensitivity"])
def test_full_disk_fails_cleanly_with_nothing_written(run_cli, warm, command):
    """A full disk under --out: exit 1 (a fault of the machine), one message, no partial
    file (run used to leave uplift.csv when results.json failed)."""
    tried("test_full_disk_fails_cleanly_with_nothing_written", command)
    with tmpfs(warm / "disk", "64k") as disk:
        _fill(disk)
        out = disk / "out"
        # (profiles would refit a fit this small: not what this test is about)
        extra = ["--no-profiles"] if command == "export" else []
        code, stdout, err = run_cli([command, *extra, *FAKE_FIT, "--out", out])
        left = sorted(os.listdir(disk))
    assert code in (1, 2), err
    assert "Traceback" not in err and err.startswith("error: ") and err.count("error:") == 1
    assert left == ["filler"], left


@fuzz(15)
@given(fail_at=st.integers(1, 2), errno_name=st.sampled_from(["ENOSPC", "EIO", "EDQUOT", "EROFS"]))
def test_injected_write_fault_leaves_no_partial_results(run_cli, warm, fail_at, errno_name):
    """Where no small file system can be mounted: the OS error injected into the write."""
    import errno

    import forecast.core.writing

    tried("test_injected_write_fault_leaves_no_partial_results", errno_name)
    number = getattr(errno, errno_name)
    calls = []
    real = forecast.core.writing._write_all

    def faulty(fh, data):
        calls.append(1)
        if len(calls) == fail_at:
            raise OSError(number, os.strerror(number))
        real(fh, data)

    out = warm / "out"
    forecast.core.writing._write_all = faulty
    try:
        code, stdout, err = run_cli(["run", *FAKE_FIT, "--out", out])
    finally:
        forecast.core.writing._write_all = real
    assert code == (2 if errno_name == "EROFS" else 1), err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "export", "sensitivity"])
def test_read_only_destination_is_refused_before_the_work(run_cli, warm, monkeypatch, command):
    tried("test_read_only_destination_is_refused_before_the_work", command)
    import forecast.buffer.forecasting

    monkeypatch.setattr(forecast.buffer.forecasting, "fit_both", _no_sampling)  # before the fit
    with tmpfs(warm / "ro", read_only=True) as ro:
        refused_quickly(run_cli, warm, [command, *FAKE_FIT, "--out", ro / "out"], ("--out",))


BAD_DESTINATIONS = {
    "under a file": lambda root: (root / "file", root / "file" / "out"),
    "a file": lambda root: (root / "file", root / "file"),
    "under a file, deeper": lambda root: (root / "file", root / "file" / "a" / "b"),
}


@pytest.mark.parametrize("command", ["run", "export", "sensitivity"])
@pytest.mark.parametrize("where", list(BAD_DESTINATIONS))
def test_destination_in_the_way_is_refused_before_the_work(
    run_cli, warm, monkeypatch, command, where
):
    import forecast.buffer.forecasting

    tried("test_destination_in_the_way_is_refused_before_the_work", where)
    monkeypatch.setattr(forecast.buffer.forecasting, "fit_both", _no_sampling)
    file, out = BAD_DESTINATIONS[where](warm)
    file.write_text("precious")
    refused_quickly(run_cli, warm, [command, *FAKE_FIT, "--out", out], ("--out",))
    assert file.read_text() == "precious"


@pytest.mark.parametrize("out", [".", "..", "home", "a folder of other files"])
def test_export_force_never_replaces_what_is_not_a_bundle(run_cli, warm, monkeypatch, out):
    """`export --out . --force` and `--out ..` used to delete the working folder."""
    tried("test_export_force_never_replaces_what_is_not_a_bundle", out)
    (warm / "cwd" / "keep.txt").write_text("precious")
    target = Path(out)
    if out == "home":
        target = warm / "home"
        monkeypatch.setenv("HOME", str(target))
    elif out == "a folder of other files":
        target = warm / "documents"
    if out in ("home", "a folder of other files"):
        target.mkdir()
        (target / "keep.txt").write_text("precious")
    refused_quickly(
        run_cli,
        warm,
        ["export", "--no-profiles", *FAKE_FIT, "--out", target, "--force"],
        ("--out",),
    )
    assert (warm / "cwd" / "keep.txt").read_text() == "precious"
    if out in ("home", "a folder of other files"):
        assert (target / "keep.txt").read_text() == "precious"


def test_export_force_replaces_only_an_earlier_bundle(run_cli, warm):
    out = warm / "bundle"
    code, _, err = run_cli(["export", "--no-profiles", *FAKE_FIT, "--out", out])
    assert code == 0, err
    (out / "notes.txt").write_text("mine")
    refused_quickly(
        run_cli,
        warm,
        ["export", "--no-profiles", *FAKE_FIT, "--out", out, "--force"],
        ("notes.txt",),
    )
    (out / "notes.txt").unlink()
    code, _, err = run_cli(["export", "--no-profiles", *FAKE_FIT, "--out", out, "--force"])
    assert code == 0, err


def test_export_to_an_existing_file_says_it_is_a_file(run_cli, warm):
    (warm / "file").write_text("x")
    refused_quickly(
        run_cli, warm, ["export", "--no-profiles", *FAKE_FIT, "--out", warm / "file"], ("a file",)
    )


# --------------------------------------------------------------------------- the cache folder


@pytest.mark.parametrize("how", ["a file", "read-only", "~nouser", "/dev/null", "full disk"])
def test_unusable_cache_folder_warns_and_still_gives_the_result(run_cli, warm, monkeypatch, how):
    """The cache is an optimisation: when it cannot be written the run warns once and
    gives its result (it used to fit, then fail and lose the fit)."""
    tried("test_unusable_cache_folder_warns_and_still_gives_the_result", how)
    fitted = {}

    def sample(spec, *args):  # what _sample does after NUTS: write the entry (made-up draws)
        fit = fake_sample(spec, *args)
        fitted[spec.name] = fit.directory
        return fit

    monkeypatch.setattr(forecast.fit.engine, "_sample", sample)
    context = contextlib.nullcontext()
    if how == "a file":
        (warm / "cachefile").write_text("x")
        value = warm / "cachefile"
    elif how == "read-only":
        context = tmpfs(warm / "rocache", read_only=True)
        value = warm / "rocache"
    elif how == "~nouser":
        value = "~no-such-user-forecast/cache"
    elif how == "/dev/null":
        value = "/dev/null"
    else:
        context = tmpfs(warm / "fullcache", "64k")
        value = warm / "fullcache"
    with context:
        monkeypatch.setenv("FORECAST_CACHE_DIR", str(value))
        code, out, err = run_cli(["run", *FAKE_FIT, "--json"])
    assert code == 0, err
    assert json.loads(out)["buffer"]["oom"] >= 0
    assert err.count("warning: the fit cache cannot be written") == 1, err
    # The uplift model fitted and not stored; the catalogue's too, unless its summary ships.
    assert fitted["histories"] is None and set(fitted.values()) == {None}, fitted


# regression test (was a package bug: forecast/fit/catalogue.py read_summary and write_summary,
# and the fit-time estimate of forecast/fit/engine.py, let CacheUnavailable escape: a traceback
# with FORECAST_CACHE_DIR=~nouser/x)
def test_fixed_bug_unusable_cache_name_in_summaries_and_timings(cache_dir, monkeypatch):
    from forecast.fit import engine
    from forecast.fit.catalogue import CatalogueSummary, read_summary, write_summary
    from forecast.fit.diagnostics import Diagnostics

    spec, _ = _specs()["catalogue"]
    monkeypatch.setenv("FORECAST_CACHE_DIR", "~no-such-user-forecast/cache")
    assert read_summary("0" * 64) is None
    write_summary(
        CatalogueSummary("0" * 64, "LogNormal(0.3, 0.2)", Diagnostics(1, 1, 1, 0, 2, 10), {})
    )
    settings = engine.FitSettings(**FAKE_SETTINGS)
    assert engine._expected_seconds(spec, settings) is None
    engine._record_seconds(spec, 1.0, 2.0, settings)


def test_entry_that_is_a_file_is_replaced_not_refit_forever(run_cli, warm, monkeypatch):
    """fits/<key> a file (the uplift model's fit, which a run reads): the first run refits
    and replaces it; the next one is warm."""
    entry = fake_fit().histories.directory
    shutil.rmtree(entry)
    entry.write_text("x")
    calls = []

    def sample(spec, priors, settings, key, use_cache, replace, log, on_progress):
        calls.append((spec.name, replace))
        return fake_sample(spec, priors, settings, key, use_cache, replace, log, on_progress)

    monkeypatch.setattr(forecast.fit.engine, "_sample", sample)
    for _ in range(2):
        code, out, err = run_cli(["run", *FAKE_FIT, "--json"])
        assert code == 0, err
    assert calls == [("histories", True)]
    assert entry.is_dir()


# --------------------------------------------------------------------------- validation gaps


def test_fixed_bug_two_evals_with_one_name(run_cli, sandbox):
    """compare used to merge them silently."""
    data = copy.deepcopy(SCENARIO)
    data["evals"][1]["name"] = data["evals"][0]["name"]
    with input_file(sandbox, "scenario.yaml", dump(data)) as path:
        err = refused_quickly(
            run_cli, sandbox, ["scenarios", "validate", path], (str(path), "evals[1].name")
        )
    assert "duplicate eval name" in err and "evals[0]" in err


@pytest.mark.parametrize(
    ("where", "value", "needle"),
    [
        ("published", "9999-12-31", "enhancements[0].published"),
        ("published", "0001-01-01", "enhancements[0].published"),
        ("published", "1949-12-31", "enhancements[0].published"),
        ("reference_date", "9999-12-31", "base_model.reference_date"),
        ("reference_date", "1900-01-01", "base_model.reference_date"),
        ("reference_date", "2014-12-31", "base_model.reference_date"),
    ],
)
def test_fixed_bug_dates_far_in_the_past_or_future(run_cli, sandbox, where, value, needle):
    if where == "published":
        data, command, name = copy.deepcopy(CATALOGUE), "evidence", "catalogue.yaml"
        set_in(data, (*EN, "published"), dt.date.fromisoformat(value))
    else:
        data, command, name = copy.deepcopy(SCENARIO), "scenarios", "scenario.yaml"
        set_in(data, ("base_model", "reference_date"), dt.date.fromisoformat(value))
    with input_file(sandbox, name, dump(data)) as path:
        refused_quickly(run_cli, sandbox, [command, "validate", path], (str(path), needle))


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "1949-12-31", "2101-01-01"])
@pytest.mark.parametrize("command", ["run", "backtest"])
def test_fixed_bug_as_of_far_in_the_past_or_future(run_cli, sandbox, command, value):
    refused_quickly(run_cli, sandbox, [command, "-q", f"--as-of={value}"], ("--as-of", "2100"))


def test_dates_at_the_edges_of_the_range_are_accepted(run_cli, sandbox):
    data = copy.deepcopy(SCENARIO)
    set_in(data, ("base_model", "reference_date"), dt.date(2015, 1, 1))
    with input_file(sandbox, "scenario.yaml", dump(data)) as path:
        code, out, err = run_cli(["scenarios", "validate", path])
    assert code == 0, err


@pytest.mark.parametrize("column", ["task_id", "successes", "attempts", "notes"])
def test_fixed_bug_tasks_csv_with_a_repeated_column(tmp_path, column):
    """The last of two 'attempts' columns used to win silently."""
    path = tmp_path / "tasks.csv"
    path.write_text(f"task_id,successes,attempts,notes,{column}\na,1,2,x,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="appears twice") as info:
        read_task_results(path)
    assert info.value.path == f"line 1, column {column}"


@pytest.mark.parametrize("value", [True, False, 1.0, "1"])
@pytest.mark.parametrize("kind", ["scenario", "catalogue"])
def test_fixed_bug_schema_version_that_is_not_the_number_one(run_cli, sandbox, kind, value):
    """`schema_version: true` used to pass as 1."""
    data = copy.deepcopy(SCENARIO if kind == "scenario" else CATALOGUE)
    data["schema_version"] = value
    command = "scenarios" if kind == "scenario" else "evidence"
    with input_file(sandbox, f"{kind}.yaml", dump(data)) as path:
        refused_quickly(
            run_cli, sandbox, [command, "validate", path], (str(path), "schema_version")
        )


def test_fixed_bug_user_id_equal_to_a_shipped_combination_id(run_cli, sandbox):
    """Reported at the line of the user's file, not of the shipped catalogue."""
    shipped = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    combo = shipped["combinations"][0]["id"]
    data = copy.deepcopy(CATALOGUE)
    data["enhancements"][0]["id"] = combo
    with input_file(sandbox, "catalogue.yaml", dump(data)) as path:
        err = refused_quickly(
            run_cli,
            sandbox,
            ["evidence", "validate", path],
            (str(path), "enhancements[0].id"),
            located_in=path,
        )
    assert "combination id" in err
