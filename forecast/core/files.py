"""Reading input files and writing output files safely.

- Every input file is read through :func:`read_bytes` (or :func:`read_text`,
  :func:`read_yaml`): it must be a regular file (a folder, a named pipe, a device or a
  socket is refused before it is opened, and it is opened non-blocking, so a FIFO that
  appears in between never blocks), and it must fit in a size cap checked before reading
  (:data:`MAX_YAML_BYTES`, :data:`MAX_CSV_BYTES`). Text must be UTF-8; anything else
  (UTF-16, Latin-1, a NUL byte) is refused with the line and column of the first bad byte.
- YAML is read with ``yaml.SafeLoader`` only, with at most :data:`MAX_YAML_NODES` values,
  mapping keys that are plain scalars, and no aliases of lists or mappings; the line and
  column of every node are kept so that a validation error can point at
  ``file:line:col: field.path``.
- Validation errors from pydantic become one :class:`~forecast.core.errors.InputError` that
  names the file, the field path, what was expected and, for a misspelt key, the
  nearest valid name.
- Output is written to a temporary name and renamed into place, so files appear whole
  or not at all; :func:`write_files` writes several files as a set (all or none). Files
  and folders get the user's umask. :func:`check_output_folder` checks a destination
  before any work, and :func:`os_error` turns an ``OSError`` into one located message
  (exit 2 when another destination would fix it, 1 for a fault of the machine).
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from forecast.core.errors import ForecastError, InputError, LocatedValueError, MachineError

Loc = tuple[str | int, ...]

MiB = 1 << 20
#: Largest YAML input (scenario, catalogue, priors, measurements, policies, profiles).
MAX_YAML_BYTES = 2 * MiB
#: Most values (scalars, lists, mappings) in one YAML input: parsing cost and memory grow
#: with the number of values, not the bytes (100,000 take about a second and 100 MB).
MAX_YAML_NODES = 100_000
#: Largest CSV input (per-task results, benchmark results).
MAX_CSV_BYTES = 8 * MiB
#: Most data rows in one CSV input.
MAX_CSV_ROWS = 100_000
#: Largest text file of any other kind.
MAX_TEXT_BYTES = 2 * MiB


def data_dir(name: str) -> Path:
    """The folder of shipped data (``priors`` or ``scenarios``).

    Installed wheels carry it as ``forecast/_data/<name>``; a source checkout (editable
    install) has it at the top of the repository.
    """
    here = Path(__file__).resolve().parent.parent  # the package: forecast/
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
            if not isinstance(key_node, yaml.ScalarNode):
                # A list or mapping as a key is never valid here, and constructing one
                # would expand its aliases (a few hundred bytes -> gigabytes).
                raise InputError(
                    "a key must be a plain name, not a list or mapping",
                    None,
                    format_loc(loc),
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
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


def _count_values(text: str, path: str) -> None:
    """Refuse a document of more than :data:`MAX_YAML_NODES` values before composing it
    (composing costs about 1 KB and 5 microseconds a value; counting parser events costs
    a tenth of that)."""
    loader = SafeLoader(text)
    try:
        count = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.NodeEvent):
                count += 1
                if count > MAX_YAML_NODES:
                    mark = event.start_mark
                    raise InputError(
                        f"more than {MAX_YAML_NODES:,} values: too large for an input file "
                        "(see the limits in docs/reliability.md)",
                        path,
                        None,
                        mark.line + 1,
                        mark.column + 1,
                    )
    finally:
        loader.dispose()


def parse_yaml(text: str, path: str = "<string>") -> YamlDocument:
    """Parse YAML text with the safe loader, keeping node positions."""
    loader = None
    try:
        _count_values(text, path)
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
    except (RecursionError, MemoryError):
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


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_bytes(path: str | Path, what: str = "file", max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``.

    The path is checked with ``stat`` before it is opened: a folder, a named pipe, a
    device or a socket is refused without being opened (opening a FIFO for reading
    blocks until a writer appears; ``/dev/zero`` never ends). The file is then opened
    non-blocking and checked again on the open descriptor, so a FIFO swapped in between
    cannot block either, and at most ``max_bytes + 1`` bytes are ever read.

    Raises
    ------
    InputError
        For a missing or unreadable path, something that is not a regular file, or a
        file larger than ``max_bytes``.
    """
    name = str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"expected a {what}, found {_kind_of(info.st_mode)}", name)
        if info.st_size > max_bytes:
            raise _too_large(name, what, info.st_size, max_bytes)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise InputError(f"not a usable path: {exc}", name[:200]) from None
    except FileNotFoundError:
        raise InputError("file not found", name) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"expected a {what}, found {_kind_of(info.st_mode)}", name)
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise _too_large(name, what, None, max_bytes)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", name) from None
    finally:
        os.close(fd)


def _too_large(name: str, what: str, size: int | None, cap: int) -> InputError:
    shown = f"{size / MiB:,.1f} MiB" if size is not None else "larger than that"
    return InputError(
        f"file is too large for a {what}: {shown}, the limit is {cap / MiB:g} MiB "
        "(see the limits in docs/reliability.md)",
        name,
    )


def text_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` in UTF-8 ``data``."""
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    if start == 0 and data.startswith(b"\xef\xbb\xbf"):
        start = 3
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    return line, column


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is a located InputError.

    UTF-16 and UTF-32 files (a byte-order mark, or NUL bytes between ASCII letters), files
    in a legacy 8-bit encoding (Latin-1, Windows-1252) and binary files with a NUL byte
    are refused with the line and column of the first byte that is not UTF-8 text.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise InputError("the file is UTF-16 or UTF-32 text: save it as UTF-8", name, None, 1, 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # after the BOM
        line, column = text_position(data, offset)
        byte = data[offset]
        hint = (
            "the file may be UTF-16 text"
            if data.count(0) > len(data) // 4
            else "the file may be in Latin-1 or Windows-1252"
        )
        raise InputError(
            f"not UTF-8 text: byte 0x{byte:02x} cannot be decoded ({hint}; save it as UTF-8)",
            name,
            None,
            line,
            column,
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - text.rfind("\n", 0, nul)
        raise InputError(
            "a NUL character: this is not a text file (or it is UTF-16: save it as UTF-8)",
            name,
            None,
            line,
            column,
        )
    return text


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file's contents (see :func:`read_bytes` and :func:`decode_text`)."""
    return decode_text(read_bytes(path, what, max_bytes), str(path))


def read_yaml(path: str | Path, what: str = "YAML file") -> YamlDocument:
    """Read a YAML file; a missing, unreadable, oversized or malformed file is an InputError."""
    return parse_yaml(read_text(path, what, MAX_YAML_BYTES), str(path))


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
        are wrong, the first is located and every other one is listed after it with its
        field path and line.
    """
    if not isinstance(doc.data, dict):
        raise InputError(f"expected a mapping of keys at the top of the {what}", doc.path)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        # An unknown key first: a misspelt required key then reads "unknown key 'categroy',
        # did you mean 'category'?" rather than "required field is missing".
        errors = [_located(e) for e in exc.errors()]
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = _data_loc(doc, first["loc"])
        line, col = doc.position(loc)
        raise InputError(
            _error_message(first, model) + _others(doc, errors[1:], model),
            doc.path,
            format_loc(loc),
            line,
            col,
        ) from None


#: Characters of a validation message given to the problems after the first: enough for
#: dozens of them; a file with more is told how many were left out.
OTHERS_CHARS = 1500


def _located(err: dict) -> dict:
    """A pydantic error with a validator's inner location appended to its own."""
    inner = err.get("ctx", {}).get("error")
    if isinstance(inner, LocatedValueError):  # a validator pointing below its field
        return dict(err, loc=(*err["loc"], *inner.loc), msg=str(inner))
    return err


def _others(doc: YamlDocument, errors: list[dict], model: type[BaseModel]) -> str:
    """Every problem after the first, each with its field path and line:
    ``"; 2 more problems: a.b (line 4): ...; c (line 9): ..."``."""
    if not errors:
        return ""
    parts = []
    used = 0
    for err in errors:
        loc = _data_loc(doc, err["loc"])
        line, _ = doc.position(loc)
        where = format_loc(loc) or "top level"
        at = f" (line {line})" if line is not None else ""
        part = f"{where}{at}: {_error_message(err, model)}"
        if used + len(part) > OTHERS_CHARS and parts:
            parts.append(f"and {len(errors) - len(parts)} more")
            break
        parts.append(part)
        used += len(part)
    noun = "problem" if len(errors) == 1 else "problems"
    return f"; {len(errors)} more {noun}: " + "; ".join(parts)


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


def current_umask() -> int:
    """The process's umask (read without changing it where the system allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions of a new file: what ``open`` would give (0o666 less the umask)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Permissions of a new folder: what ``mkdir`` would give (0o777 less the umask)."""
    return 0o777 & ~current_umask()


#: errno values another destination would fix: the user's choice of path (exit 2).
USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EACCES",
        "EPERM",
        "EROFS",
        "ENOTDIR",
        "EISDIR",
        "EEXIST",
        "ENOTEMPTY",
        "ENAMETOOLONG",
        "ENOENT",
        "ELOOP",
        "EXDEV",
        "EINVAL",
        "EBUSY",
        "ETXTBSY",
    )
    if hasattr(errno, name)
)


def os_error(
    exc: OSError, path: str | Path, field: str | None = None, doing: str = "write"
) -> ForecastError:
    """One located error for an ``OSError`` met while writing ``path``.

    A problem another destination would fix (no permission, a read-only file system, a
    file where a folder is needed, a name too long) is the user's: an
    :class:`~forecast.core.errors.InputError` (exit 2). A fault of the machine (a full disk,
    a quota, an I/O error) is a :class:`~forecast.core.errors.MachineError` (exit 1).
    """
    reason = exc.strerror or str(exc)
    where = str(getattr(exc, "filename", None) or path)
    if exc.errno in USER_ERRNOS:
        return InputError(f"cannot {doing} here: {reason}", where, field)
    return MachineError(
        f"cannot {doing}: {reason} (a fault of the machine or its disk; nothing was written)",
        where,
        field,
    )


def _probe_writable(folder: Path) -> None:
    """Create and remove an empty file in ``folder``: the surest check that it can be
    written (permissions, a read-only mount, an exhausted inode table)."""
    fd, tmp = tempfile.mkstemp(prefix=".forecast-probe-", dir=folder)
    os.close(fd)
    os.unlink(tmp)


def check_output_folder(path: str | Path, field: str | None = "--out") -> Path:
    """Check, before any work, that ``path`` can become or receive output files.

    ``path`` may exist (it must then be a folder that can be written) or not (every
    existing part of it must be a folder, and the deepest existing one writable). Nothing
    is created; at most an empty probe file is made and removed.

    Raises
    ------
    InputError
        Naming ``path`` (and ``field``) and what is wrong.
    """
    path = Path(path)
    try:
        existing = path
        while not existing.exists() and not existing.is_symlink():
            if existing.parent == existing:
                break
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            what = (
                "expected a folder, found a file"
                if existing == path
                else (f"{existing} is a file, not a folder")
            )
            raise InputError(what, str(path), field)
        if existing != path and existing.is_symlink() and not existing.exists():
            raise InputError(f"{existing} is a broken symbolic link", str(path), field)
        _probe_writable(existing)
    except InputError:
        raise
    except (ValueError, RuntimeError) as exc:  # a NUL byte, ~user that does not exist
        raise InputError(f"not a usable path: {exc}", str(path)[:200], field) from None
    except OSError as exc:
        raise os_error(exc, path, field) from None
    return path


def _write_all(fh, data: bytes) -> None:
    """Write, flush and sync: a full disk fails here, before any rename (tests replace
    this function to inject ENOSPC where no small file system can be mounted)."""
    fh.write(data)
    fh.flush()
    os.fsync(fh.fileno())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (mode from the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            _write_all(fh, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, outermost first."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        created.append(d)
    return created


def write_files(folder: str | Path, files: dict[str, bytes]) -> None:
    """Write several files into ``folder`` as a set: all of them or none.

    Every file is first written in full to a hidden temporary name in ``folder`` (and
    flushed to disk), then each is renamed over its target. If anything fails (a full
    disk while writing the third file, a rename refused), the targets that were already
    replaced get their previous contents back, the temporary files are removed, and any
    folder this call created is removed again: a failed write changes nothing.
    Files get the user's umask.
    """
    folder = Path(folder)
    created = _make_dirs(folder)
    temps: dict[str, str] = {}
    backups: dict[str, Path] = {}
    renamed: list[str] = []
    tag = f"{os.getpid()}-{os.urandom(4).hex()}"
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            temps[name] = tmp
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), file_mode())
                _write_all(fh, data)
        for name, tmp in temps.items():
            target = folder / name
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(errno.EISDIR, "a folder has this name", str(target))
            if target.exists() or target.is_symlink():
                backup = folder / f".{name}.old-{tag}"
                os.rename(target, backup)
                backups[name] = backup
            os.rename(tmp, target)
            renamed.append(name)
    except BaseException:
        for name in reversed(renamed):
            with _quietly():
                os.unlink(folder / name)
        for name, backup in backups.items():
            with _quietly():
                os.rename(backup, folder / name)
        for tmp in temps.values():
            with _quietly():
                os.unlink(tmp)
        for d in reversed(created):
            with _quietly():
                d.rmdir()
        raise
    for backup in backups.values():
        with _quietly():
            os.unlink(backup)
    _fsync_dir(folder)


@contextmanager
def _quietly():
    try:
        yield
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_path(path: str | Path) -> None:
    """Remove a file, a symbolic link or a folder tree; never follows a link."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with _quietly():
            path.unlink()


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
            if path.is_dir() and not path.is_symlink() and path.lstat().st_mtime < cutoff:
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
    the staged folder is discarded (another writer got there first). With ``replace``,
    whatever is at ``final`` (a folder, or a file or link in the way) is replaced. The
    folder gets the user's umask.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        os.chmod(tmp, dir_mode())
        yield tmp
        if replace and (final.exists() or final.is_symlink()):
            old = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
            try:
                os.replace(final, old)
            except FileNotFoundError:  # another writer moved it first
                pass
            remove_path(old)
        try:
            os.replace(tmp, final)
        except OSError:
            # Another writer put a complete folder there between our check and our rename:
            # theirs is as good as ours (same key, same content), so keep theirs.
            if not final.is_dir() or final.is_symlink():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
