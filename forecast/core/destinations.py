"""Where output goes and who writes it: a link's target, one writer at a time.

:func:`output_target` follows a symbolic link given as ``--out`` to its target (a bundle
is replaced there, and the link stays); :func:`output_lock` keeps two commands from writing
one destination at once (the second fails at once, or waits for short writes).
:mod:`forecast.core.writing` writes through them.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from forecast.core.errors import InputError


def output_target(path: str | Path, field: str | None = "--out") -> Path:
    """Where output given as ``path`` really goes: a symbolic link's target (so a link to
    a bundle is replaced through the link, and the link stays), else ``path`` itself.

    Raises
    ------
    InputError
        For a link that points nowhere, or a loop of links.
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        raise InputError(
            f"a symbolic link to {os.readlink(path)}, which leads to nothing (a missing file "
            "or a loop of links)",
            str(path),
            field,
        ) from None
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise InputError(f"not a usable link: {exc}", str(path), field) from None
    return target


def _lock_folder() -> Path | None:
    """The user's private folder of output locks (in the temporary folder), or None when
    it cannot be made safely (then writes are not locked; the renames still refuse to
    replace what they must not)."""
    try:
        uid = os.getuid()
        folder = Path(tempfile.gettempdir()) / f"forecast-locks-{uid}"
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except (OSError, AttributeError):
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o022:
        return None
    return folder


#: The destinations this thread holds the lock of (:func:`output_lock` is re-entrant in a
#: thread; another thread waits or fails like another process).
_HELD = threading.local()


@contextmanager
def output_lock(path: str | Path, field: str | None = "--out", wait: bool = False):
    """Hold the lock on writing ``path`` while the block runs: a second command writing the
    same destination fails at once with a clear message (``wait``: waits for the first,
    for short writes). The lock is an ``flock`` on a file named by the destination's
    absolute path in :func:`_lock_folder`, released by the kernel if the process dies; a
    thread that holds it already may take it again.

    Raises
    ------
    InputError
        If another process holds the lock and ``wait`` is false.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on this platform: unlocked
        yield
        return
    folder = _lock_folder()
    try:
        key = str(Path(path).resolve())
    except (OSError, ValueError, RuntimeError):
        key = None
    held = _HELD.__dict__.setdefault("keys", set())
    if key is None or key in held:
        yield
        return
    try:
        name = key.encode("utf-8", "surrogateescape")
        fd = (
            None
            if folder is None
            else os.open(
                folder / f"{hashlib.sha256(name).hexdigest()[:32]}.lock",
                os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                0o600,
            )
        )
    except (OSError, ValueError, RuntimeError):
        fd = None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise InputError(
                "another forecast command is writing this folder now: wait for it to "
                "finish, or give another folder",
                str(path),
                field,
            ) from None
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)
