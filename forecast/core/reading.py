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
- A YAML file of :data:`PARSE_CACHE_MIN_BYTES` or more is parsed once per content: the
  result (values and positions) is kept in the cache folder under the SHA-256 of the file's
  bytes (and of the parser's version), so a changed byte parses anew. Only successful
  parses are kept; a kept parse is used only if it is a regular file the user owns that no
  one else can write, and a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import dataclasses
import datetime as dt
import hashlib
import json
import os
import stat
import sys
import tempfile
import typing
import zlib
from collections.abc import Mapping
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
    marks: Mapping[Loc, tuple[int, int]]

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
    """Read a YAML file; a missing, unreadable, oversized or malformed file is an InputError.

    A file of :data:`PARSE_CACHE_MIN_BYTES` or more is parsed once per content (the module
    docstring); the document is the same either way.
    """
    data = read_bytes(path, what, MAX_YAML_BYTES)
    if len(data) < PARSE_CACHE_MIN_BYTES:
        return parse_yaml(decode_text(data, str(path)), str(path))
    key = parse_key(data)
    kept = _kept_parse(key)
    if kept is not None:
        return YamlDocument(str(path), *kept)
    doc = parse_yaml(decode_text(data, str(path)), str(path))
    _keep_parse(key, doc)
    return doc


# --------------------------------------------------------------------------- parse cache

#: YAML files this large or larger are parsed once per content (smaller ones parse in less
#: time than reading a kept parse takes).
PARSE_CACHE_MIN_BYTES = 16 * 1024
#: Most kept parses; the oldest go first.
PARSE_CACHE_ENTRIES = 64
#: Largest kept parse read.
MAX_PARSE_CACHE_BYTES = 64 * MiB
#: Bump when reading gives other values, positions or errors for the same bytes (a change
#: of :func:`decode_text`, :func:`parse_yaml` or the kept format).
PARSE_CACHE_FORMAT = 1


def parse_key(data: bytes) -> str:
    """The SHA-256 naming a file's kept parse: of its bytes, and of what else decides the
    parse (this format, PyYAML's version and loader, the value limit)."""
    parser = (
        f"forecast-yaml:{PARSE_CACHE_FORMAT}:{yaml.__version__}:{SafeLoader.__name__}:"
        f"{MAX_YAML_NODES}:{sys.version_info[0]}.{sys.version_info[1]}\0"
    )
    return hashlib.sha256(parser.encode() + data).hexdigest()


def parse_cache_dir() -> Path | None:
    """The folder of kept parses: ``parsed`` in ``$FORECAST_CACHE_DIR`` or the user's cache
    folder (the fit cache's folder, :func:`forecast.fit.cache.cache_dir`); None if unusable."""
    try:
        env = os.environ.get("FORECAST_CACHE_DIR")
        if env:
            return Path(env).expanduser() / "parsed"
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("forecast")) / "parsed"
    except (RuntimeError, ValueError, OSError, ImportError):
        return None


def _trusted(info: os.stat_result, kind) -> bool:
    """A ``kind`` (stat.S_ISREG, S_ISDIR) that this user owns and no one else can write."""
    owner_ok = not hasattr(os, "geteuid") or info.st_uid == os.geteuid()
    return kind(info.st_mode) and owner_ok and not info.st_mode & 0o022


def _kept_parse(key: str) -> tuple[Any, Mapping] | None:
    """The kept (data, marks) of the parse named ``key``, or None (missing, untrusted,
    unreadable or damaged: then the file is parsed)."""
    folder = parse_cache_dir()
    if folder is None:
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(folder / f"{key}.json", flags | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not _trusted(info, stat.S_ISREG) or info.st_size > MAX_PARSE_CACHE_BYTES:
            return None
        if not _trusted(os.lstat(folder), stat.S_ISDIR):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            raw = fh.read(MAX_PARSE_CACHE_BYTES + 1)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    head, _, marks = raw.partition(b"\n")
    try:
        fmt, kept_key, marks_crc, data = json.loads(head, object_hook=_decode)
        if fmt != PARSE_CACHE_FORMAT or kept_key != key or marks_crc != zlib.crc32(marks):
            return None
    except (ValueError, TypeError, KeyError, RecursionError, MemoryError):
        return None
    return data, _Marks(marks)


class _Marks(Mapping):
    """A kept parse's positions, decoded when first asked for (an error message needs them;
    a valid file never does)."""

    def __init__(self, raw: bytes):
        self._raw: bytes | None = raw
        self._positions: dict[Loc, tuple[int, int]] = {}

    def _decoded(self) -> dict[Loc, tuple[int, int]]:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            try:
                self._positions = {
                    tuple(loc): (line, column) for loc, line, column in json.loads(raw)
                }
            except (ValueError, TypeError, RecursionError, MemoryError):
                self._positions = {}  # errors then name the field without a line
        return self._positions

    def __getitem__(self, loc):
        return self._decoded()[loc]

    def __iter__(self):
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())


def _keep_parse(key: str, doc: YamlDocument) -> None:
    """Keep ``doc``'s parse under ``key`` (written whole, readable by the user alone); a
    value the format cannot hold or a folder that cannot be written keeps nothing."""
    folder = parse_cache_dir()
    if folder is None:
        return
    try:
        marks = json.dumps(
            [[list(loc), line, column] for loc, (line, column) in doc.marks.items()],
            separators=(",", ":"),
        ).encode("ascii")
        head = json.dumps(
            [PARSE_CACHE_FORMAT, key, zlib.crc32(marks), _encode(doc.data)],
            separators=(",", ":"),
        ).encode("ascii")
    except (TypeError, ValueError, RecursionError):
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(os.lstat(folder), stat.S_ISDIR):
            return
        fd, tmp = tempfile.mkstemp(prefix=".parse.", suffix=".tmp", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(head + b"\n" + marks)  # JSON as written here holds no newline
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except (OSError, ValueError):
        return


def _prune(folder: Path) -> None:
    """Remove the oldest kept parses past :data:`PARSE_CACHE_ENTRIES`."""
    entries = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
            entries.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
    for _, path in sorted(entries)[: max(0, len(entries) - PARSE_CACHE_ENTRIES)]:
        try:
            os.unlink(path)
        except OSError:
            pass


def _encode(value: Any) -> Any:
    """A parsed YAML value as JSON: every JSON object is a tag (a mapping as its key-value
    pairs, keys of any scalar type; dates, times and bytes as text), so none is ambiguous."""
    if isinstance(value, dict):
        return {"map": [[key, _encode(item)] for key, item in value.items()]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise TypeError(f"cannot keep a {type(value).__name__}")


def _decode(tagged: dict) -> Any:
    (tag, value), *rest = tagged.items()
    if rest:
        raise ValueError("not a tag")
    if tag == "map":
        return {key: item for key, item in value}
    if tag == "datetime":
        return dt.datetime.fromisoformat(value)
    if tag == "date":
        return dt.date.fromisoformat(value)
    if tag == "bytes":
        return base64.b64decode(value, validate=True)
    raise ValueError(f"unknown tag {tag!r}")
