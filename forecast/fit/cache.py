"""The on-disk cache of fits: one folder per key, written whole or not at all.

An entry holds ``draws.npz`` (the posterior draws the forecast reads, numpy only, no
pickle), ``posterior.nc`` (the full ArviZ InferenceData, for export) and ``meta.json``
(provenance, diagnostics, the number of draws and the SHA-256 of every other file),
written last. Reading an entry needs neither PyMC nor ArviZ.

Trust model (docs/reliability.md): an entry is used only if it is a real folder (not a
symbolic link) owned by the user and not writable by group or others, every file in it
is a regular file with the same owner and mode (opened without following links), every
checksum in ``meta.json`` matches, and the draws have exactly the variables, dtypes,
shapes and number of draws the caller expects, all finite. Anything else is
:class:`CorruptEntry`: the caller refits and replaces the entry. A cache that cannot be
read or written never stops a run: :func:`read_entry` treats it as a miss and
:func:`write_entry` as a skipped write, each with one :class:`ForecastWarning`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import stat
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from forecast.core.errors import ForecastWarning
from forecast.core.writing import remove_stale_staging, staged_dir

#: Largest meta.json read.
MAX_META_BYTES = 1 << 20
#: Largest file of an entry read or copied (draws.npz, posterior.nc).
MAX_FILE_BYTES = 4 << 30
#: A cache write needs this much free space per byte of draws.npz (posterior.nc holds
#: every variable and sampler statistic: about four times the draws), plus a margin.
SPACE_PER_DRAWS_BYTE = 10
SPACE_MARGIN = 32 << 20


class CorruptEntry(Exception):
    """The entry exists but is damaged or untrusted; it must be refit, never used."""


class CacheUnavailable(Exception):
    """The cache folder cannot be used (named by a bad ``FORECAST_CACHE_DIR``)."""


_warned: set[str] = set()


def reset_warnings() -> None:
    """Forget which warnings were given (each command run warns afresh)."""
    _warned.clear()


def warn_once(message: str, topic: str | None = None) -> None:
    """Warn (:class:`ForecastWarning`) once per run for each topic (default: the message)."""
    topic = message if topic is None else topic
    if topic not in _warned:
        _warned.add(topic)
        warnings.warn(message, ForecastWarning, stacklevel=3)


def cache_dir() -> Path:
    """``$FORECAST_CACHE_DIR`` or the platform's user cache folder.

    Raises
    ------
    CacheUnavailable
        If ``FORECAST_CACHE_DIR`` cannot be expanded (``~nouser/x``) or holds a NUL byte.
    """
    env = os.environ.get("FORECAST_CACHE_DIR")
    if env:
        try:
            return Path(env).expanduser()
        except (RuntimeError, ValueError) as exc:
            raise CacheUnavailable(f"FORECAST_CACHE_DIR={env!r} is not usable: {exc}") from None
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("forecast"))


def key_of(parts: dict) -> str:
    """SHA-256 of a JSON-serialisable description of everything a fit depends on."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_dir(key: str) -> Path:
    return cache_dir() / "fits" / key[:32]


def unwritable_reason() -> str | None:
    """Why the cache cannot be written (None if it can): checked before a fit, so that a
    fit that cannot be stored is known (and said) before it starts."""
    try:
        existing = cache_dir() / "fits"
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent  # created when the entry is written
        if not existing.is_dir():
            return f"{existing} is not a folder"
        probe = existing / f".forecast-probe-{os.getpid()}-{os.urandom(4).hex()}"
        probe.mkdir()
        probe.rmdir()
    except CacheUnavailable as exc:
        return str(exc)
    except (OSError, ValueError) as exc:
        where = getattr(exc, "filename", None)
        return f"{where or 'the cache folder'}: {getattr(exc, 'strerror', None) or exc}"
    return None


def _warn_unwritable(reason: str) -> None:
    warn_once(
        f"the fit cache cannot be written ({reason}): fits are not stored, so each run "
        "fits again (set FORECAST_CACHE_DIR to a writable folder)",
        topic="unwritable cache",
    )


# --------------------------------------------------------------------------- reading


def _check_owner(info: os.stat_result, name: str) -> None:
    """Refuse what another user owns or could have written (a shared or planted entry)."""
    if not hasattr(os, "geteuid"):  # pragma: no cover - not POSIX
        return
    if info.st_uid != os.geteuid():
        raise CorruptEntry(
            f"{name} is owned by another user (uid {info.st_uid}); only your own entries are used"
        )
    if info.st_mode & 0o022:
        raise CorruptEntry(
            f"{name} can be written by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            "such entries are not trusted"
        )


def _open_member(dir_fd: int, name: str) -> int:
    """Open a file of the entry without following a link; it must be a trusted regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(name, flags | getattr(os, "O_CLOEXEC", 0), dir_fd=dir_fd)
    except FileNotFoundError:
        raise CorruptEntry(f"{name} is missing") from None
    except OSError as exc:  # ELOOP: a symbolic link
        raise CorruptEntry(
            f"{name} cannot be opened ({exc.strerror}; links are not followed)"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CorruptEntry(f"{name} is not a regular file")
        _check_owner(info, name)
        if info.st_size > MAX_FILE_BYTES:
            raise CorruptEntry(f"{name} is larger than {MAX_FILE_BYTES >> 30} GiB")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_member(dir_fd: int, name: str, limit: int) -> bytes:
    fd = _open_member(dir_fd, name)
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 24, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise CorruptEntry(f"{name} is larger than expected")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _sha256_member(dir_fd: int, name: str) -> str:
    fd = _open_member(dir_fd, name)
    try:
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 24):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def _open_entry(folder: Path) -> int | None:
    """A descriptor of the entry folder, or None if there is no entry.

    Raises
    ------
    CorruptEntry
        If something other than a trusted real folder is at the entry's name.
    """
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise CorruptEntry("the entry is a symbolic link (links are never followed)")
    if not stat.S_ISDIR(info.st_mode):
        raise CorruptEntry("the entry is not a folder")
    _check_owner(info, "the entry folder")
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(folder, flags)
    except OSError as exc:
        raise CorruptEntry(f"the entry cannot be opened ({exc.strerror})") from None


def read_entry(
    key: str,
    expected: Mapping[str, tuple[int, ...]] | None = None,
    n_draws: int | None = None,
) -> tuple[dict[str, np.ndarray], dict, Path] | None:
    """Draws, metadata and folder of a cached fit; None if absent.

    Parameters
    ----------
    expected
        Variable name -> shape of one draw (``()`` for a scalar): the draws must hold
        exactly these variables, as float64 arrays of shape ``(n_draws, *shape)``
        (see :func:`validate_draws`). None checks only what the entry says of itself.
    n_draws
        The number of draws the fit was asked for (chains x draws per chain).

    Returns None, with one warning, when the cache folder itself cannot be used; a
    miss first checks that the cache can be written (warning once if not), so that is
    known before the fit that follows.

    Raises
    ------
    CorruptEntry
        If the entry is present but damaged or untrusted (it must then be refit, never
        used).
    """
    try:
        folder = entry_dir(key)
        dir_fd = _open_entry(folder)
    except CacheUnavailable as exc:
        _warn_unwritable(str(exc))
        return None
    except NotADirectoryError:  # the cache folder (or fits/) is a file
        _warn_unwritable(f"{cache_dir()} is not a folder")
        return None
    except PermissionError as exc:
        _warn_unwritable(f"{exc.filename}: {exc.strerror}")
        return None
    if dir_fd is None:
        reason = unwritable_reason()
        if reason is not None:
            _warn_unwritable(reason)
        return None
    try:
        meta = _read_meta(dir_fd, key)
        blob = _read_member(dir_fd, "draws.npz", MAX_FILE_BYTES)
        if hashlib.sha256(blob).hexdigest() != meta["draws_sha256"]:
            raise CorruptEntry("checksum mismatch in draws.npz")
        for name, digest in meta["files_sha256"].items():
            if _sha256_member(dir_fd, name) != digest:
                raise CorruptEntry(f"checksum mismatch in {name}")
        if n_draws is not None and meta["n_draws"] != n_draws:
            raise CorruptEntry(f"meta.json records {meta['n_draws']} draws, not {n_draws}")
        n = meta["n_draws"]
        if expected is not None and n is None:
            raise CorruptEntry("meta.json has no number of draws")
        draws = load_draws(blob, expected, n)
        validate_draws(draws, expected, n)
    except CorruptEntry:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise CorruptEntry(str(exc) or type(exc).__name__) from None
    finally:
        os.close(dir_fd)
    return draws, meta, folder


def _read_meta(dir_fd: int, key: str) -> dict:
    meta = json.loads(_read_member(dir_fd, "meta.json", MAX_META_BYTES))
    if not isinstance(meta, dict) or meta.get("key") != key:
        raise CorruptEntry("key mismatch")
    if not isinstance(meta.get("draws_sha256"), str):
        raise CorruptEntry("meta.json has no checksum of draws.npz")
    files = meta.get("files_sha256")
    if not isinstance(files, dict) or not all(
        isinstance(n, str) and isinstance(d, str) for n, d in files.items()
    ):
        raise CorruptEntry("meta.json has no checksums of the entry's files")
    for name in files:
        if name in ("meta.json", "draws.npz") or "/" in name or name.startswith("."):
            raise CorruptEntry(f"meta.json lists an unexpected file {name!r}")
    n = meta.get("n_draws")  # None: arrays of different lengths (not posterior draws)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise CorruptEntry("meta.json has no valid number of draws")
    return meta


def load_draws(
    blob: bytes, expected: Mapping[str, tuple[int, ...]] | None, n_draws: int | None
) -> dict[str, np.ndarray]:
    """The arrays of a ``draws.npz``, read only after its structure is checked.

    Every member must be stored uncompressed (an npz written by :func:`write_entry`; a
    compressed member could inflate to any size), be a ``.npy`` of a plain numeric dtype
    (never a pickle), and, when ``expected`` is given, have the expected name and shape:
    nothing larger than what is expected is ever allocated.
    """
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise CorruptEntry(f"draws.npz: {info.filename!r} is not a stored .npy array")
            if expected is not None and name not in expected:
                raise CorruptEntry(f"draws.npz holds an unexpected variable {name!r}")
            with archive.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version not in ((1, 0), (2, 0)):
                    raise CorruptEntry(f"{name}: unsupported .npy version {version}")
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(fh)
                if dtype.hasobject or dtype.kind not in "fiub":
                    raise CorruptEntry(
                        f"{name}: dtype {dtype} is not a plain number (never read: "
                        "objects would need a pickle)"
                    )
                if expected is not None and shape != (n_draws, *expected[name]):
                    raise CorruptEntry(
                        f"{name} has shape {shape}, expected {(n_draws, *expected[name])}"
                    )
                if math.prod(shape) * dtype.itemsize > info.file_size:
                    raise CorruptEntry(f"{name} is shorter than its shape")
            with archive.open(info) as fh:
                arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
    return arrays


def validate_draws(
    draws: Mapping[str, np.ndarray],
    expected: Mapping[str, tuple[int, ...]] | None,
    n_draws: int | None,
) -> None:
    """Check posterior draws before they are used.

    With ``expected`` (variable -> shape of one draw): exactly those variables, each a
    float64 array of shape ``(n_draws, *shape)``. Always: every value finite, and (with
    ``n_draws``) every array's first axis ``n_draws`` long.

    Raises
    ------
    CorruptEntry
        Naming the first variable that is wrong and how.
    """
    if expected is not None:
        missing = sorted(set(expected) - set(draws))
        extra = sorted(set(draws) - set(expected))
        if missing or extra:
            raise CorruptEntry(f"variables differ: missing {missing}, unexpected {extra}")
    for name, arr in draws.items():
        if expected is not None:
            want = (n_draws, *expected[name]) if n_draws is not None else None
            if arr.dtype != np.float64:
                raise CorruptEntry(f"{name} has dtype {arr.dtype}, expected float64")
            if want is not None and arr.shape != want:
                raise CorruptEntry(f"{name} has shape {arr.shape}, expected {want}")
        if n_draws is not None and (arr.ndim == 0 or len(arr) != n_draws):
            raise CorruptEntry(f"{name} does not hold {n_draws} draws")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise CorruptEntry(f"{name} holds NaN or infinite values")


def copy_file(key: str, name: str, destination: str | Path) -> None:
    """Copy file ``name`` of the cached entry ``key`` to ``destination``, verified.

    The file is opened without following links (it must be a trusted regular file inside
    the entry) and hashed while it is copied; if its checksum is not the one in
    ``meta.json`` the copy is removed. Nothing from outside the cache is ever copied.

    Raises
    ------
    CorruptEntry
        If the entry, the file or its checksum is not right.
    """
    destination = Path(destination)
    try:
        dir_fd = _open_entry(entry_dir(key))
    except CacheUnavailable as exc:
        raise CorruptEntry(str(exc)) from None
    if dir_fd is None:
        raise CorruptEntry("the entry is gone")
    try:
        meta = _read_meta(dir_fd, key)
        digest = meta["files_sha256"].get(name)
        if digest is None:
            raise CorruptEntry(f"meta.json has no checksum of {name}")
        fd = _open_member(dir_fd, name)
        h = hashlib.sha256()
        try:
            with open(destination, "wb") as out:
                while chunk := os.read(fd, 1 << 24):
                    h.update(chunk)
                    out.write(chunk)
        finally:
            os.close(fd)
        if h.hexdigest() != digest:
            destination.unlink(missing_ok=True)
            raise CorruptEntry(f"checksum mismatch in {name}")
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(str(exc)) from None
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------- writing


def write_entry(
    key: str, draws: dict[str, np.ndarray], meta: dict, extra_writer=None, replace: bool = False
) -> Path | None:
    """Write an entry atomically. ``extra_writer(folder)`` may add files (posterior.nc).

    Every file gets its SHA-256 in ``meta.json``, which is written last. Returns the
    entry's folder, or None (with one warning) when the cache cannot be written: a
    missing, read-only or full cache folder loses the stored copy, never the fit. Before
    ``extra_writer`` runs, the free space is checked (writing netCDF into a full disk can
    crash the HDF5 library rather than fail cleanly).
    """
    buffer = io.BytesIO()
    np.savez(buffer, **draws)
    blob = buffer.getvalue()
    lengths = {len(a) for a in draws.values() if np.ndim(a) > 0}
    meta = dict(
        meta,
        key=key,
        draws_sha256=hashlib.sha256(blob).hexdigest(),
        n_draws=lengths.pop() if len(lengths) == 1 else None,
    )
    try:
        folder = entry_dir(key)
        existing = folder.parent
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        needed = SPACE_PER_DRAWS_BYTE * len(blob) + SPACE_MARGIN
        free = shutil.disk_usage(existing).free  # before anything is created
        if free < needed:
            raise OSError(
                28, f"{free >> 20} MiB free, the fit needs about {needed >> 20} MiB", None
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        with staged_dir(folder, replace=replace) as tmp:
            (tmp / "draws.npz").write_bytes(blob)
            if extra_writer is not None:
                extra_writer(tmp)
            files = {}
            for path in sorted(tmp.iterdir()):
                if path.is_symlink() or not path.is_file():
                    raise OSError(f"{path.name} in a cache entry must be a regular file")
                # Never writable by group or others, whatever the umask: read_entry
                # refuses entries others could have changed.
                path.chmod(path.stat().st_mode & 0o755)
                if path.name != "draws.npz":
                    files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
            tmp.chmod(tmp.stat().st_mode & 0o755)
            # meta.json last: an entry without it is never read as complete
            (tmp / "meta.json").write_text(
                json.dumps(dict(meta, files_sha256=files), indent=2, default=str)
            )
            (tmp / "meta.json").chmod((tmp / "meta.json").stat().st_mode & 0o755)
    except CacheUnavailable as exc:
        _warn_unwritable(str(exc))
        return None
    except OSError as exc:
        where = getattr(exc, "filename", None)
        _warn_unwritable(f"{where + ': ' if where else ''}{exc.strerror or exc}")
        return None
    remove_stale_staging(folder.parent)  # what earlier writers killed mid-write left behind
    return folder
