"""The enhancement catalogue: loading, merging and checking catalogue files, and cuts.

The shipped catalogues (the seeds, then later primary sources) with a user's file or folder
on top, each record checked against the format and ids unique across files; a cut keeps
what was printed before a date (enhancements by their date, figures by their own). The arrays
the model reads are built from the result by :mod:`forecast.evidence.table`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from forecast.core.errors import InputError
from forecast.core.paths import data_dir
from forecast.core.reading import YamlDocument, exists, read_yaml
from forecast.core.schemas.catalogue import Catalogue, Combination, Enhancement
from forecast.core.validation import locate, suggest, validate

#: The shipped catalogue files, in load order: the seeds, then later primary sources.
SHIPPED_CATALOGUES = ("catalogue.yaml", "catalogue-outside-seeds.yaml")


def shipped_catalogue_path() -> Path:
    """The seed catalogue (``priors/catalogue.yaml``)."""
    return data_dir("priors") / SHIPPED_CATALOGUES[0]


def shipped_catalogue_paths() -> list[Path]:
    """Every shipped catalogue file present: the seed catalogue and, when it exists,
    ``priors/catalogue-outside-seeds.yaml``."""
    folder = data_dir("priors")
    return [folder / name for name in SHIPPED_CATALOGUES if (folder / name).is_file()]


def _not_a_catalogue(name: str) -> bool:
    """Files of a priors folder that hold other formats (priors, measurements)."""
    return name == "defaults.yaml" or name.startswith("measurements")


def _catalogue_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        files = [f for f in files if not _not_a_catalogue(f.name)]
        if not files:
            raise InputError("folder holds no catalogue .yaml files", str(path))
        return files
    return [path]


def _read(path: str | Path) -> tuple[Catalogue, YamlDocument]:
    doc = read_yaml(path)
    catalogue = validate(Catalogue, doc, "catalogue")
    seen: dict[str, int] = {}
    for i, e in enumerate(catalogue.enhancements):
        if e.id in seen:
            raise locate(
                doc,
                ("enhancements", i, "id"),
                f"duplicate id {e.id!r} (first used by enhancements[{seen[e.id]}])",
            )
        seen[e.id] = i
        for j, o in enumerate(e.observations):
            if o.published is not None and o.published < e.published:
                raise locate(
                    doc,
                    ("enhancements", i, "observations", j, "published"),
                    f"the figure is dated {o.published}, before its enhancement was published "
                    f"({e.published}): a figure's own date can only be later",
                )
    combo_ids: set[str] = set()
    for i, c in enumerate(catalogue.combinations):
        if c.id in combo_ids or c.id in seen:
            raise locate(doc, ("combinations", i, "id"), f"duplicate id {c.id!r}")
        combo_ids.add(c.id)
    return catalogue, doc


def load_catalogue(extra: str | Path | None = None, shipped: bool = True) -> Catalogue:
    """The catalogue to fit: the shipped one, with a user's file or folder on top.

    A user record whose id matches a shipped one replaces it. Combination members must
    name enhancements present in the merged catalogue.

    Raises
    ------
    InputError
        For a missing or malformed file, duplicate ids or unknown member names.
    """
    parts: list[tuple[Catalogue, YamlDocument]] = []
    if shipped:
        parts.extend(_read(f) for f in shipped_catalogue_paths())
        _unique_across(parts)
    if extra is not None:
        extra = Path(extra)
        if not exists(extra, "catalogue"):
            raise InputError("file or folder not found", str(extra))
        parts.extend(_read(f) for f in _catalogue_files(extra))
    if not parts:
        raise InputError("no catalogue given: pass --evidence PATH", "--evidence")
    enhancements: dict[str, Enhancement] = {}
    combinations: dict[str, tuple[Combination, YamlDocument, int]] = {}
    # Where each id was given last (part, document, index): a clash is reported in the
    # later file, the user's, not in the shipped catalogue it collides with.
    origin: dict[str, tuple[int, YamlDocument, int]] = {}
    combo_part: dict[str, int] = {}
    for part, (catalogue, doc) in enumerate(parts):
        enhancements.update((e.id, e) for e in catalogue.enhancements)
        origin.update((e.id, (part, doc, i)) for i, e in enumerate(catalogue.enhancements))
        combinations.update((c.id, (c, doc, i)) for i, c in enumerate(catalogue.combinations))
        combo_part.update((c.id, part) for c in catalogue.combinations)
    for combo, doc, i in combinations.values():
        if combo.id in enhancements:
            part, enh_doc, j = origin[combo.id]
            if part > combo_part[combo.id]:
                raise locate(
                    enh_doc,
                    ("enhancements", j, "id"),
                    f"id {combo.id!r} is already a combination id (in {doc.path})",
                )
            raise locate(
                doc, ("combinations", i, "id"), f"id {combo.id!r} is already an enhancement id"
            )
        for j, member in enumerate(combo.members):
            if member not in enhancements:
                raise locate(
                    doc,
                    ("combinations", i, "members", j),
                    f"unknown enhancement {member!r}{suggest(member, list(enhancements))}",
                )
        latest = max(enhancements[m].published for m in combo.members)
        if combo.published is not None and combo.published < latest:
            raise locate(
                doc,
                ("combinations", i, "published"),
                f"the figure is dated {combo.published}, before its last member was published "
                f"({latest}): a figure's own date can only be later",
            )
    return Catalogue(
        schema_version=1,
        source_document="; ".join(c.source_document for c, _ in parts if c.source_document),
        enhancements=list(enhancements.values()),
        combinations=[c for c, _, _ in combinations.values()],
    )


def _unique_across(parts: list[tuple[Catalogue, YamlDocument]]) -> None:
    """Shipped catalogue files may not share an id (a later file cannot replace a seed
    record silently; a user's ``--evidence`` file may, on purpose)."""
    first: dict[str, str] = {}
    for catalogue, doc in parts:
        records = [("enhancements", i, e.id) for i, e in enumerate(catalogue.enhancements)]
        records += [("combinations", i, c.id) for i, c in enumerate(catalogue.combinations)]
        for key, i, rid in records:
            if rid in first:
                raise locate(doc, (key, i, "id"), f"id {rid!r} is already used in {first[rid]}")
            first[rid] = doc.path


def figure_date(figure, published: dt.date) -> dt.date:
    """When a figure (an observation or a combination) was first printed: its own
    ``published`` when it has one, else ``published`` (its enhancement's date, or the latest
    of a combination's members')."""
    return figure.published or published


def catalogue_cut(catalogue: Catalogue, as_of: dt.date) -> Catalogue:
    """What was known before ``as_of``: the enhancements published before it, each with the
    figures first printed before it (a figure's own ``published``, else its enhancement's
    date), and the combinations of them whose figure was printed before it.

    An enhancement whose figures (its observations and the combinations it is a member of)
    all fall out is dropped: its only evidence came later. One that never had a figure stays
    (it counts as an arrival).
    """
    published = {e.id: e.published for e in catalogue.enhancements if e.published < as_of}
    combos = [
        c
        for c in catalogue.combinations
        if set(c.members) <= set(published)
        and figure_date(c, max(published[m] for m in c.members)) < as_of
    ]
    in_combos = {m for c in combos for m in c.members}
    with_combos = {m for c in catalogue.combinations for m in c.members}
    keep = []
    for e in catalogue.enhancements:
        if e.id not in published:
            continue
        figures = [o for o in e.observations if figure_date(o, e.published) < as_of]
        had_figures = bool(e.observations) or e.id in with_combos
        if had_figures and not figures and e.id not in in_combos:
            continue
        if len(figures) < len(e.observations):
            e = e.model_copy(update={"observations": figures})
        keep.append(e)
    return Catalogue(
        schema_version=1,
        source_document=catalogue.source_document,
        enhancements=keep,
        combinations=combos,
    )
