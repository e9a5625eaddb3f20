"""Reading input files and writing output files safely.

- YAML is read with ``yaml.SafeLoader`` only, and the line and column of every node are
  kept so that a validation error can point at ``file:line:col: field.path``.
- Validation errors from pydantic become one :class:`~forecast.errors.InputError` that
  names the file, the field path, what was expected and, for a misspelt key, the
  nearest valid name.
- Output is written to a temporary name and renamed into place, so files appear whole
  or not at all.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import tempfile
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from forecast.errors import InputError

Loc = tuple[str | int, ...]


def data_dir(name: str) -> Path:
    """The folder of shipped data (``priors`` or ``scenarios``).

    Installed wheels carry it as ``forecast/_data/<name>``; a source checkout (editable
    install) has it at the top of the repository.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped data folder {name!r} not found next to {here}")


# --------------------------------------------------------------------------- YAML


class YamlDocument(typing.NamedTuple):
    """A parsed YAML file with the position of each node, keyed by its field path."""

    path: str
    data: Any
    marks: dict[Loc, tuple[int, int]]

    def position(self, loc: Loc) -> tuple[int | None, int | None]:
        """Line and column of ``loc``, or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while loc:
            if loc in self.marks:
                return self.marks[loc]
            loc = loc[:-1]
        return self.marks.get((), (None, None))


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _construct(
    loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, marks: dict, seen: set[int] | None = None
) -> Any:
    marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    seen = set() if seen is None else seen
    if isinstance(node, yaml.CollectionNode):
        # An alias makes one node appear twice: refuse it rather than expand it (a few
        # hundred bytes of nested aliases would otherwise expand to gigabytes).
        if id(node) in seen:
            raise InputError(
                "YAML aliases (*name) of lists or mappings are not supported: write the values out",
                None,
                format_loc(loc),
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        seen.add(id(node))
    if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
        raise InputError(
            f"unsupported YAML tag {node.tag!r}: write plain mappings and lists",
            None,
            format_loc(loc),
            node.start_mark.line + 1,
            node.start_mark.column + 1,
        )
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node, loc, marks)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                line = key_node.start_mark.line + 1
                raise InputError(
                    f"duplicate key {key!r} (a repeated key would silently replace the first)",
                    None,
                    format_loc((*loc, key)),
                    line,
                    key_node.start_mark.column + 1,
                )
            out[key] = _construct(loader, value_node, (*loc, key), marks, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*loc, i), marks, seen) for i, item in enumerate(node.value)
        ]
    return _scalar(loader, node, loc, marks)


def _scalar(loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, marks: dict) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. the date 2023-02-30
        raise InputError(
            f"invalid value {node.value!r}: {exc}",
            None,
            format_loc(loc),
            node.start_mark.line + 1,
            node.start_mark.column + 1,
        ) from None


#: libyaml's safe loader when PyYAML was built with it (about 10x faster), else pure Python.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, path: str = "<string>") -> YamlDocument:
    """Parse YAML text with the safe loader, keeping node positions."""
    loader = None
    try:
        loader = SafeLoader(text)
        node = loader.get_single_node()
        marks: dict[Loc, tuple[int, int]] = {}
        data = None if node is None else _construct(loader, node, (), marks)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"not valid YAML: {problem}", path, None, line, col) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path) from None
    except InputError as exc:
        raise InputError(exc.message, path, exc.path, exc.line, exc.column) from None
    except RecursionError:
        raise InputError("not valid input: nested too deeply", path) from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(path, data, marks)


def exists(path: str | Path, what: str = "file or folder") -> bool:
    """``Path.exists`` that turns an impossible path (too long, NUL byte) into an InputError."""
    try:
        return Path(path).exists()
    except (OSError, ValueError) as exc:
        raise InputError(f"not a usable path for a {what}: {exc}", str(path)[:200]) from None


def read_text(path: str | Path) -> str:
    """A text file's contents; a missing, unreadable or non-UTF-8 file is an InputError."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise InputError(f"not a usable path: {exc}", str(path)[:200]) from None
    except FileNotFoundError:
        raise InputError("file not found", str(path)) from None
    except IsADirectoryError:
        raise InputError("expected a file, found a folder", str(path)) from None
    except UnicodeDecodeError:
        raise InputError("cannot read file: expected UTF-8 text", str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", str(path)) from None


def read_yaml(path: str | Path) -> YamlDocument:
    """Read a YAML file; a missing, unreadable or malformed file is an InputError."""
    return parse_yaml(read_text(path), str(path))


# --------------------------------------------------------------------------- validation


def format_loc(loc: Loc) -> str:
    """``('enhancements', 2, 'category')`` -> ``enhancements[2].category``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _field_names_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names valid at ``loc`` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[-1] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated wrappers down to the model or container type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else (args[0] if args else tp)
            if len(args) <= 1 or models:
                continue
            return tp
        else:
            return tp


def suggest(name: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest option, or an empty string."""
    near = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    return f", did you mean {near[0]!r}?" if near else ""


def _error_message(err: dict, model: type[BaseModel]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        options = _field_names_at(model, loc[:-1])
        return f"unknown key {loc[-1]!r}{suggest(str(loc[-1]), options)}" + (
            f" (expected one of: {', '.join(options)})" if options and len(options) <= 12 else ""
        )
    if kind == "missing":
        return "required field is missing"
    message = err["msg"]
    if kind in ("literal_error", "enum") and "expected" in err.get("ctx", {}):
        given = err.get("input")
        options = [o.strip(" '\"") for o in err["ctx"]["expected"].replace(" or ", ",").split(",")]
        return f"{message}, got {given!r}{suggest(str(given), options)}"
    given = err.get("input")
    if not isinstance(given, dict | list) and given is not None and "got" not in message:
        text = repr(given)
        message += f", got {text if len(text) <= 80 else text[:77] + '...'}"
    return message


def validate(model: type[BaseModel], doc: YamlDocument, what: str = "file"):
    """Validate a YAML document against a pydantic model.

    Raises
    ------
    InputError
        Naming the file, line, field path and what was expected; when several fields
        are wrong, the first is located and the count of the others is given.
    """
    if not isinstance(doc.data, dict):
        raise InputError(f"expected a mapping of keys at the top of the {what}", doc.path)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        # An unknown key first: a misspelt required key then reads "unknown key 'categroy',
        # did you mean 'category'?" rather than "required field is missing".
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = _data_loc(doc, first["loc"])
        line, col = doc.position(loc)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(
            _error_message(first, model) + more, doc.path, format_loc(loc), line, col
        ) from None


def _data_loc(doc: YamlDocument, loc: Loc) -> Loc:
    """Drop the parts pydantic adds to a location that are not data keys (union tags)."""
    kept: Loc = ()
    for part in loc:
        if (*kept, part) in doc.marks or (isinstance(part, str) and part.isidentifier()):
            kept = (*kept, part)
    return kept


def locate(doc: YamlDocument, loc: Loc, message: str) -> InputError:
    """An InputError for a semantic problem found after schema validation."""
    line, col = doc.position(loc)
    return InputError(message, doc.path, format_loc(loc), line, col)


# --------------------------------------------------------------------------- writing


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


#: The names :func:`staged_dir` gives its temporary and replaced folders.
STAGING_NAME = re.compile(r"^\..+\.(tmp|old)-[^/]+$")
#: A staging folder untouched for this long belongs to a writer that was killed.
STALE_STAGING_SECONDS = 24 * 3600


def remove_stale_staging(
    folder: str | Path, older_than: float = STALE_STAGING_SECONDS, name: str | None = None
) -> int:
    """Delete the hidden ``.NAME.tmp-*`` / ``.NAME.old-*`` folders that killed writers left.

    Only folders of :func:`staged_dir`'s naming (for the target ``name`` if given), not
    modified for ``older_than`` seconds, are removed (a live writer touches its folder as it
    writes). Returns how many went.
    """
    removed = 0
    cutoff = time.time() - older_than
    try:
        candidates = [
            p
            for p in Path(folder).iterdir()
            if STAGING_NAME.match(p.name) and (name is None or p.name.startswith(f".{name}."))
        ]
    except OSError:
        return 0
    for path in candidates:
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path)
                removed += 1
        except OSError:  # another process removed or renamed it first
            pass
    return removed


@contextmanager
def staged_dir(final: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; rename it into place on success.

    On any exception the temporary folder is removed and ``final`` is untouched, so a
    bundle appears whole or not at all. If ``final`` exists and ``replace`` is false,
    the staged folder is discarded (another writer got there first).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        if replace and final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
            try:
                os.replace(final, old)
            except FileNotFoundError:  # another writer moved it first
                pass
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:
            # Another writer put a complete folder there between our check and our rename:
            # theirs is as good as ours (same key, same content), so keep theirs.
            if not final.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
