"""The on-disk cache of fits: one folder per key, written whole or not at all.

An entry holds ``draws.npz`` (the posterior draws the forecast reads, numpy only, no
pickle), ``meta.json`` (provenance, diagnostics and the SHA-256 of ``draws.npz``) and
``posterior.nc`` (the full ArviZ InferenceData, for export). Reading an entry needs
neither PyMC nor ArviZ. A truncated or altered entry fails its checksum and is refit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from forecast.files import remove_stale_staging, staged_dir


def cache_dir() -> Path:
    """``$FORECAST_CACHE_DIR`` or the platform's user cache folder."""
    env = os.environ.get("FORECAST_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("forecast"))


def key_of(parts: dict) -> str:
    """SHA-256 of a JSON-serialisable description of everything a fit depends on."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def entry_dir(key: str) -> Path:
    return cache_dir() / "fits" / key[:32]


class CorruptEntry(Exception):
    """The entry exists but fails its checksum or cannot be read."""


def read_entry(key: str) -> tuple[dict[str, np.ndarray], dict, Path] | None:
    """Draws, metadata and folder of a cached fit; None if absent.

    Raises
    ------
    CorruptEntry
        If the entry is present but damaged (it must then be refit, never used).
    """
    folder = entry_dir(key)
    meta_path, draws_path = folder / "meta.json", folder / "draws.npz"
    if not folder.is_dir():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        blob = draws_path.read_bytes()
        if not isinstance(meta, dict) or meta.get("key") != key:
            raise CorruptEntry("key mismatch")
        if hashlib.sha256(blob).hexdigest() != meta.get("draws_sha256"):
            raise CorruptEntry("checksum mismatch in draws.npz")
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            draws = {name: npz[name] for name in npz.files}
    except CorruptEntry:
        raise
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CorruptEntry(str(exc)) from None
    return draws, meta, folder


def write_entry(
    key: str, draws: dict[str, np.ndarray], meta: dict, extra_writer=None, replace: bool = False
) -> Path:
    """Write an entry atomically. ``extra_writer(folder)`` may add files (posterior.nc)."""
    buffer = io.BytesIO()
    np.savez(buffer, **draws)
    blob = buffer.getvalue()
    meta = dict(meta, key=key, draws_sha256=hashlib.sha256(blob).hexdigest())
    folder = entry_dir(key)
    with staged_dir(folder, replace=replace) as tmp:
        (tmp / "draws.npz").write_bytes(blob)
        if extra_writer is not None:
            extra_writer(tmp)
        # meta.json last: an entry without it is never read as complete
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    remove_stale_staging(folder.parent)  # what earlier writers killed mid-write left behind
    return folder
