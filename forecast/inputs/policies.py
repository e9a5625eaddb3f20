"""Policy rules as data: the shipped ``policies/*.yaml``, users' files and a scenario's
``policies:`` block, and which of them a run shows.

Format and every shipped policy: docs/policies.md. This module reads and checks the files;
each rule's row of the comparison is built by :mod:`forecast.buffer.policies`.

Which policies a run shows:

- shipped ones: those named by ``--policies`` (names or the keywords below), else those
  the scenario's ``policies:`` block names, else :data:`DEFAULT_SELECTION`;
- plus every user rule: ``--policy FILE`` (repeatable) and the files and inline rules of
  the scenario's block.

Keywords: ``current`` (the rules in force: the default), ``superseded``, ``verified`` (every
shipped policy whose quotes were checked against the primary text), ``all``, ``none``. Every
rule shown gets a verdict; one whose text could not be verified is judged under its stated
reading and says so beside its row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.reading import YamlDocument, exists, read_yaml
from forecast.core.schemas.policy import InlinePolicies, PolicyFields, PolicyFile
from forecast.core.validation import locate, suggest, validate

KEYWORDS = ("current", "superseded", "verified", "all", "none")
DEFAULT_SELECTION = ("current",)


@dataclasses.dataclass(frozen=True)
class Policy:
    """A validated rule and where it came from (``shipped``, a file, or a scenario)."""

    rule: PolicyFields
    origin: str

    @property
    def name(self) -> str:
        return self.rule.name


# --------------------------------------------------------------------------- loading


def shipped_policy_files() -> dict[str, Path]:
    """Name (the file's stem) -> file of every policy shipped with the package."""
    return {p.stem: p for p in sorted(data_dir("policies").glob("*.yaml"))}


def load_policy_file(path: str | Path, origin: str | None = None) -> Policy:
    """Read and validate one policy file; every problem is a located InputError."""
    path = Path(path)
    if not exists(path, "policy file"):
        raise InputError("policy file not found", str(path))
    rule = validate(PolicyFile, read_yaml(path), "policy file")
    return Policy(rule, origin or str(path))


def load_shipped() -> dict[str, Policy]:
    """Every shipped policy by name. A shipped file's ``name`` must equal its file name."""
    out = {}
    for stem, path in shipped_policy_files().items():
        policy = load_policy_file(path, origin="shipped")
        if policy.name != stem:
            raise InputError(
                f"the policy's name {policy.name!r} differs from its file name {stem!r}",
                str(path),
                "name",
            )
        out[stem] = policy
    return out


def select_shipped(
    names: Sequence[str] | None, origin: str = "--policies", shipped: dict | None = None
) -> list[Policy]:
    """The shipped policies named by ``names`` (policy names or :data:`KEYWORDS`).

    ``None`` gives :data:`DEFAULT_SELECTION`. Order: as named; a keyword expands to current
    policies first, then by publisher and date.
    """
    if names is not None and "none" in {n.strip() for n in names} and len(names) > 1:
        raise InputError(
            "'none' shows no shipped policy: it cannot be combined with other names "
            f"(got {', '.join(n.strip() for n in names)})",
            origin,
        )
    shipped = load_shipped() if shipped is None else shipped
    ordered = sorted(
        shipped.values(),
        key=lambda p: (p.rule.status != "current", p.rule.publisher, p.rule.date, p.name),
    )
    chosen: dict[str, Policy] = {}
    for name in DEFAULT_SELECTION if names is None else names:
        name = name.strip()
        if name in shipped:
            chosen[name] = shipped[name]
        elif name in KEYWORDS:
            for p in ordered:
                if _keyword_matches(name, p):
                    chosen.setdefault(p.name, p)
        else:
            raise InputError(
                f"unknown policy {name!r}{suggest(name, [*shipped, *KEYWORDS])} (shipped: "
                f"{', '.join(shipped)}; or one of: {', '.join(KEYWORDS)})",
                origin,
            )
    return list(chosen.values())


def _keyword_matches(keyword: str, p: Policy) -> bool:
    if keyword == "all":
        return True
    if keyword == "none":
        return False
    if keyword == "verified":
        return p.rule.verified
    return p.rule.status == keyword


def parse_selection(text: str | None) -> list[str] | None:
    """``--policies a,b`` -> ``['a', 'b']``; None stays None (the default selection)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("expected policy names separated by commas", "--policies")
    return names


def scenario_block(loaded) -> tuple[list[str] | None, list[Policy]]:
    """A scenario's ``policies:`` block: (shipped names or None, the scenario's own rules).

    An entry ending in ``.yaml``/``.yml`` or containing a ``/`` is a policy file relative to
    the scenario file; another string is a shipped policy name or keyword; a mapping is an
    inline rule (the fields of a policy file without ``schema_version``).
    """
    doc: YamlDocument = loaded.document
    shipped_names: list[str] = []
    own: list[Policy] = []
    shipped = None
    for i, entry in enumerate(loaded.scenario.policies):
        where = ("policies", i)
        if isinstance(entry, dict):
            own.append(Policy(_validate_inline(doc, i), f"{loaded.path} policies[{i}]"))
        elif entry.endswith((".yaml", ".yml")) or "/" in entry:
            path = loaded.resolve(entry)
            try:
                found = exists(path, "policy file")
            except InputError as exc:
                raise locate(doc, where, exc.message) from None
            if not found:
                raise locate(doc, where, f"policy file not found: {path}")
            own.append(load_policy_file(path))
        else:
            shipped = load_shipped() if shipped is None else shipped
            if entry not in shipped and entry not in KEYWORDS:
                raise locate(
                    doc,
                    where,
                    f"unknown policy {entry!r}{suggest(entry, [*shipped, *KEYWORDS])} (a "
                    "shipped policy name, a keyword, or a file ending in .yaml)",
                )
            shipped_names.append(entry)
    return (shipped_names or None), own


def _validate_inline(doc: YamlDocument, index: int) -> PolicyFields:
    """Validate ``policies[index]`` of a scenario, with every error located in the scenario
    (``policies[index].field``, the first one and those listed after it)."""
    sub = YamlDocument(doc.path, {"policies": {index: doc.data["policies"][index]}}, doc.marks)
    return validate(InlinePolicies, sub, "scenario").policies[index]


def resolve_policies(
    loaded=None, select: Sequence[str] | None = None, files: Sequence[str | Path] = ()
) -> list[Policy]:
    """Every policy a run shows (module docstring): shipped ones, then the user's rules.

    Parameters
    ----------
    loaded
        A :class:`forecast.inputs.scenarios.LoadedScenario` (its ``policies:`` block), or None.
    select
        ``--policies``: shipped names or keywords; None for the scenario's or the default.
    files
        ``--policy FILE`` paths.
    """
    block_names, own = scenario_block(loaded) if loaded is not None else (None, [])
    origin = "--policies" if select is not None else (str(loaded.path) if loaded else "")
    chosen = select_shipped(select if select is not None else block_names, origin)
    own += [load_policy_file(f) for f in files]
    seen: dict[str, Policy] = {p.name: p for p in chosen}
    for p in own:
        if p.name in seen:
            raise InputError(
                f"policy name {p.name!r} is used twice ({seen[p.name].origin} and {p.origin}); "
                "give your rule another name",
                p.origin,
                "name",
            )
        seen[p.name] = p
    return list(seen.values())


# --------------------------------------------------------------------------- rows


def policy_months(policies: Sequence[Policy]) -> list[float]:
    """The calendar periods of the rules, and those periods lengthened by their exceptions:
    the simulation's time grid must contain them (``setup_forecast(..., extra_months=...)``).
    A rule without a calendar cadence, or an exception that suspends it, is judged at the
    horizon, which the grid always contains."""
    months = set()
    for p in policies:
        reading = p.rule.reading
        if reading.calendar_months:
            months.add(float(reading.calendar_months))
            months |= {
                float(reading.calendar_months + e.months)
                for e in reading.exceptions
                if e.effect == "extends_period"
            }
    return sorted(months)
