"""Writing output files: whole or not at all.

Output is written to a temporary name and renamed into place, so files appear whole or not
at all; :func:`write_files` writes several files as a set (all or none) and
:func:`staged_dir` builds a folder beside its destination and renames it into place
(:func:`staged_output` for a user's ``--out`` folder: it never replaces a folder it was not
told to and never deletes a file it did not write). Files and folders get the user's umask.
:func:`check_output_folder` checks a destination before any work; one command at a time
writes a destination (:mod:`forecast.core.destinations`); :func:`os_error` turns an
``OSError`` into one located message (exit 2 when another destination would fix it, 1 for a
fault of the machine).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from forecast.core.destinations import output_lock
from forecast.core.errors import ForecastError, InputError, MachineError
from forecast.core.escape import excerpts

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


def check_output_folder(
    path: str | Path, field: str | None = "--out", files: Iterable[str] = ()
) -> Path:
    """Check, before any work, that ``path`` can become or receive output files.

    ``path`` may exist (it must then be a folder that can be written) or not (every
    existing part of it must be a folder, and the deepest existing one writable). Each of
    ``files`` (the names the command will write into it) must not be a folder there.
    Nothing is created; at most an empty probe file is made and removed.

    Raises
    ------
    InputError
        Naming ``path`` (and ``field``) and what is wrong.
    """
    path = Path(path)
    if not str(path).strip():
        raise InputError("expected a folder, got an empty name", "''", field)
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
        if existing.is_symlink() and not existing.exists():
            if existing == path:
                raise InputError(
                    f"a symbolic link to {os.readlink(path)}, which leads to nothing (a "
                    "missing file or a loop of links)",
                    str(path),
                    field,
                )
            raise InputError(f"{existing} is a broken symbolic link", str(path), field)
        _probe_writable(existing)
        if existing == path:
            for name in files:
                target = path / name
                if target.is_dir():
                    raise InputError(
                        f"{name} in it is a folder: the file cannot be written over it",
                        str(path),
                        field,
                    )
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
    flushed to disk), then each is renamed over its target, under the folder's lock
    (:func:`output_lock`, waiting for another writer), so two commands writing one folder
    at once leave one command's set, never a mix. If anything fails (a full
    disk while writing the third file, a rename refused), the targets that were already
    replaced get their previous contents back, the temporary files are removed, and any
    folder this call created is removed again: a failed write changes nothing.
    Files get the user's umask.
    """
    folder = Path(folder)
    with output_lock(folder, wait=True):  # two writers' files never mix
        _write_files(folder, files)


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
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


def _staging_folder(final: Path) -> Path:
    """A new hidden folder beside ``final`` (``.NAME.tmp-*``), with the user's umask."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        os.chmod(tmp, dir_mode())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


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
    tmp = _staging_folder(final)
    try:
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


# --------------------------------------------------------------------------- user folders


@contextmanager
def staged_output(
    final: str | Path,
    force: bool = False,
    replaceable: Callable[[Path], bool] = lambda path: False,
    field: str | None = "--out",
) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; put it in place on success, only as the
    user asked.

    - ``final`` missing or empty: the rename itself puts the new folder there, and fails
      if anything appeared in ``final`` meanwhile (another writer, a file of the user's):
      that is an error, and nothing is replaced or deleted.
    - ``final`` holding files: only with ``force``, and only if every entry is
      ``replaceable`` at the moment it is moved aside (checked after the move, so a file
      created while the new folder was built is seen); otherwise the old folder is put
      back and nothing is deleted.

    On any error the temporary folder is removed. The folder gets the user's umask.

    Raises
    ------
    InputError
        When ``final`` changed under the writer as described.
    """
    final = Path(final)
    tmp = _staging_folder(final)
    try:
        yield tmp
        _install(tmp, final, force, replaceable, field)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_IN_THE_WAY = (errno.ENOTEMPTY, errno.EEXIST)


def _install(tmp: Path, final: Path, force: bool, replaceable, field) -> None:
    """Rename ``tmp`` to ``final`` as :func:`staged_output` says."""
    try:
        os.rename(tmp, final)  # onto nothing or an empty folder; refused if it holds anything
        return
    except OSError as exc:
        if exc.errno not in _IN_THE_WAY:
            raise
    if not force:
        raise InputError(
            "files appeared in this folder while the output was being made (another "
            "command, or files of yours): nothing was replaced or deleted; give an empty "
            "folder (or --force to replace an earlier bundle)",
            str(final),
            field,
        )
    old = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
    os.rename(final, old)  # anything written to final from now on fails: it is gone
    foreign = sorted(p.name for p in old.iterdir() if not replaceable(p))
    if foreign:
        try:
            os.rename(old, final)
        except OSError:
            raise InputError(
                f"files other than the output's appeared in this folder while it was being "
                f"made; they were moved to {old} and could not be put back: move them back",
                str(final),
                field,
            ) from None
        raise InputError(
            f"files other than the output's appeared in this folder while it was being made "
            f"({excerpts(foreign)}): nothing was replaced or deleted",
            str(final),
            field,
        )
    try:
        os.rename(tmp, final)
    except OSError:
        with _quietly():
            os.rename(old, final)
        raise InputError(
            "another writer put a folder here while the output was being made: nothing "
            "was replaced",
            str(final),
            field,
        ) from None
    remove_path(old)
