"""Reading input files safely, and YAML with the position of every node.

- Every input file is read through :func:`read_bytes` (or :func:`read_text`,
  :func:`read_yaml`): it must be a regular file (a folder, a named pipe, a device or a
  socket is refused before it is opened, and it is opened non-blocking, so a FIFO that
  appears in between never blocks), and it must fit in a size cap checked before reading
  (:data:`MAX_YAML_BYTES`, :data:`MAX_CSV_BYTES`). Text must be UTF-8; anything else
  (UTF-16, Latin-1, a NUL byte) is refused with the line and column of the first bad byte.
- YAML is read with ``yaml.SafeLoader`` only, with at most :data:`MAX_YAML_NODES` values,
  mapping keys that are plain scalars, and no aliases of lists or mappings; the line and
  column of every node are kept so that a validation error can point at
  ``file:line:col: field.path`` (:mod:`forecast.core.validation`).
- Inside :func:`recording`, every file read is noted with the SHA-256 and size of the very
  bytes read (:class:`FileRead`): provenance hashes and copies what a run read, when it
  read it, never the file as it is later. A file read twice with different contents is an
  error (it changed while the run read it).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import os
import stat
import typing
from pathlib import Path
from typing import Any

import yaml

from forecast.core.errors import InputError, Loc, format_loc
from forecast.core.escape import excerpt, printable

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
                format_loc(loc, 40),
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        seen.add(id(node))
    if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
        raise InputError(
            f"unsupported YAML tag {excerpt(node.tag)}: write plain mappings and lists",
            None,
            format_loc(loc, 40),
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
                    format_loc(loc, 40),
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            key = _scalar(loader, key_node, loc, marks)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                line = key_node.start_mark.line + 1
                raise InputError(
                    f"duplicate key {excerpt(key)} (a repeated key would silently replace the "
                    "first)",
                    None,
                    format_loc((*loc, key), 40),
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
            f"invalid value {excerpt(node.value)}: {printable(exc, 200)}",
            None,
            format_loc(loc, 40),
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
        data = b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", name) from None
    finally:
        os.close(fd)
    note_read(file_read(path, data), data)
    return data


# --------------------------------------------------------------------------- what was read


@dataclasses.dataclass(frozen=True)
class FileRead:
    """A file as a run read it: its absolute path, and the SHA-256 and size of the bytes."""

    path: str
    sha256: str
    size: int


class ReadLog:
    """The files read while :func:`recording` is active, by absolute path, with the bytes
    of each (a few inputs of at most a few MiB each)."""

    def __init__(self):
        self.reads: dict[str, FileRead] = {}
        self.data: dict[str, bytes] = {}

    def note(self, record: FileRead, data: bytes | None = None) -> None:
        """Note a read; the same file read again with other contents is an error."""
        seen = self.reads.get(record.path)
        if seen is not None and seen.sha256 != record.sha256:
            raise InputError(
                "the file changed while this run was reading it (read twice, with different "
                "contents): run again once it is no longer being edited",
                record.path,
            )
        self.reads.setdefault(record.path, record)
        if data is not None:
            self.data.setdefault(record.path, data)


_LOG: contextvars.ContextVar[ReadLog | None] = contextvars.ContextVar("read_log", default=None)


@contextlib.contextmanager
def recording() -> typing.Iterator[ReadLog]:
    """Note every file read through :func:`read_bytes` (and the readers on it) while the
    block runs; nested blocks note into the outer log too."""
    outer = _LOG.get()
    log = ReadLog()
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)
        if outer is not None:
            for path, record in log.reads.items():
                outer.note(record, log.data.get(path))


def file_read(path: str | Path, data: bytes) -> FileRead:
    """The record of ``data`` read from ``path``."""
    return FileRead(os.path.abspath(path), hashlib.sha256(data).hexdigest(), len(data))


def note_read(record: FileRead, data: bytes | None = None) -> None:
    """Note a read in the active log (if any): :func:`read_bytes` does, and so does a
    loader whose cache hit stands for an earlier read (the priors)."""
    log = _LOG.get()
    if log is not None:
        log.note(record, data)


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
