"""The shipped data folders: ``priors``, ``scenarios``, ``policies`` and ``profiles``.

They live at the top of the repository and ship inside the wheel as
``forecast/_data/<name>`` (pyproject's ``force-include``); :func:`data_dir` finds them
either way, from the package's root folder.
"""

from __future__ import annotations

from pathlib import Path


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
