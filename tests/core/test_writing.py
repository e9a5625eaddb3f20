"""forecast.core.writing: atomic writes, files written as a set, staged folders, checked
destinations."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.core.errors import InputError
from forecast.core.writing import (
    atomic_write_bytes,
    atomic_write_text,
    check_output_folder,
    os_error,
    remove_stale_staging,
    staged_dir,
    write_files,
)

# --------------------------------------------------------------------------- writing


def test_atomic_write_bytes_writes_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "dir" / "out.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert os.listdir(target.parent) == ["out.bin"]


def test_atomic_write_text_is_utf8(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "café")
    assert target.read_bytes() == "café".encode()


def test_atomic_write_bytes_failure_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_staged_dir_success_moves_folder_into_place(tmp_path):
    final = tmp_path / "bundle"
    with staged_dir(final) as tmp:
        assert tmp.parent == tmp_path and tmp != final
        assert not final.exists()
        (tmp / "a.txt").write_text("a")
    assert (final / "a.txt").read_text() == "a"
    assert sorted(os.listdir(tmp_path)) == ["bundle"]


def test_staged_dir_exception_removes_staged_and_leaves_final_absent(tmp_path):
    final = tmp_path / "bundle"
    staged: list[Path] = []
    with pytest.raises(RuntimeError, match="boom"):
        with staged_dir(final) as tmp:
            staged.append(tmp)
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert not final.exists()
    assert not staged[0].exists()
    assert os.listdir(tmp_path) == []


def test_staged_dir_keeps_existing_final_unless_replace(tmp_path):
    final = tmp_path / "bundle"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with staged_dir(final) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(os.listdir(final)) == ["old.txt"]
    assert os.listdir(tmp_path) == ["bundle"]

    with staged_dir(final, replace=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(os.listdir(final)) == ["new.txt"]
    assert os.listdir(tmp_path) == ["bundle"]


def test_remove_stale_staging_only_takes_old_staging_folders_of_the_name(tmp_path):
    import os

    names = [".bundle.tmp-a1", ".bundle.old-9-ff", ".report.tmp-b2", "bundle", ".bundle"]
    for name in names:
        (tmp_path / name).mkdir()
    old = os.path.getmtime(tmp_path / "bundle") - 3 * 24 * 3600
    for name in names:
        os.utime(tmp_path / name, (old, old))
    (tmp_path / ".bundle.tmp-fresh").mkdir()

    assert remove_stale_staging(tmp_path, name="bundle") == 2
    left = [".bundle", ".bundle.tmp-fresh", ".report.tmp-b2", "bundle"]
    assert sorted(os.listdir(tmp_path)) == left
    assert remove_stale_staging(tmp_path) == 1  # any name: the old .report.tmp- goes too


# --------------------------------------------------------------------------- writing sets


def test_write_files_writes_every_file_with_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_files(tmp_path / "new" / "out", {"a.csv": b"a", "b.json": b"{}"})
    finally:
        os.umask(old)
    folder = tmp_path / "new" / "out"
    assert sorted(os.listdir(folder)) == ["a.csv", "b.json"]
    assert stat.S_IMODE((folder / "a.csv").stat().st_mode) == 0o640
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750


def test_write_files_failure_on_the_second_file_changes_nothing(tmp_path, monkeypatch):
    """A full disk while writing results.json leaves no uplift.csv (nor a created folder)."""
    import errno

    import forecast.core.writing

    calls = []

    def full_disk(fh, data):
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        fh.write(data)

    monkeypatch.setattr(forecast.core.writing, "_write_all", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_files(tmp_path / "out", {"uplift.csv": b"u", "results.json": b"r"})
    assert os.listdir(tmp_path) == []

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "uplift.csv").write_bytes(b"previous")
    calls.clear()
    with pytest.raises(OSError):
        write_files(tmp_path / "old", {"uplift.csv": b"u", "results.json": b"r"})
    assert os.listdir(tmp_path / "old") == ["uplift.csv"]
    assert (tmp_path / "old" / "uplift.csv").read_bytes() == b"previous"


def test_write_files_failed_rename_restores_what_was_replaced(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_bytes(b"old a")
    real_rename = os.rename
    renamed = []

    def second_rename_fails(src, dst):
        if str(dst).endswith("b.json"):
            raise OSError(5, "Input/output error")
        renamed.append(dst)
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", second_rename_fails)
    with pytest.raises(OSError):
        write_files(tmp_path, {"a.csv": b"new a", "b.json": b"new b"})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["a.csv"]
    assert (tmp_path / "a.csv").read_bytes() == b"old a"


def test_atomic_write_and_staged_dir_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
        with staged_dir(tmp_path / "d") as tmp:
            (tmp / "g").write_bytes(b"y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755  # not mkdtemp's 0700


def test_staged_dir_replace_takes_a_file_in_the_way(tmp_path):
    final = tmp_path / "entry"
    final.write_text("not a folder")
    with staged_dir(final, replace=True) as tmp:
        (tmp / "x").write_text("x")
    assert (final / "x").read_text() == "x"
    assert os.listdir(tmp_path) == ["entry"]


def test_staged_dir_without_replace_does_not_hide_a_file_in_the_way(tmp_path):
    final = tmp_path / "entry"
    final.write_text("not a folder")
    with pytest.raises(OSError):
        with staged_dir(final) as tmp:
            (tmp / "x").write_text("x")
    assert final.read_text() == "not a folder"
    assert os.listdir(tmp_path) == ["entry"]


# --------------------------------------------------------------------------- destinations


def test_check_output_folder_accepts_new_and_existing_folders(tmp_path):
    assert check_output_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing is created
    assert check_output_folder(tmp_path) == tmp_path
    assert os.listdir(tmp_path) == []  # the probe file is gone


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda t: (t / "f").write_text("x") and t / "f", "found a file"),
        (lambda t: (t / "f").write_text("x") and t / "f" / "sub" / "deeper", "is a file"),
    ],
    ids=["a-file", "under-a-file"],
)
def test_check_output_folder_refuses_files_in_the_way(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(InputError, match=words) as info:
        check_output_folder(path)
    assert info.value.file == str(path) and info.value.path == "--out"
    assert info.value.exit_code == 2


def test_check_output_folder_refuses_a_read_only_folder(read_only_folder):
    with pytest.raises(InputError, match="cannot write") as info:
        check_output_folder(read_only_folder / "results")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [("EACCES", 2), ("EROFS", 2), ("ENOTDIR", 2), ("ENAMETOOLONG", 2), ("ENOSPC", 1), ("EIO", 1)],
)
def test_os_error_blames_the_path_or_the_machine(code, exit_code):
    import errno

    number = getattr(errno, code)
    error = os_error(OSError(number, os.strerror(number), "/x/y"), "/x", "--out")
    assert error.exit_code == exit_code
    assert str(error).startswith("/x/y: --out: cannot write")


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write to: a read-only tmpfs when root (root ignores modes),
    otherwise a folder without write permission."""
    import subprocess

    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip("root without permission to mount a read-only tmpfs")
        try:
            yield folder
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False)
    else:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)


# --------------------------------------------------------------------------- user folders


def _state(folder: Path) -> dict[str, bytes | str] | None:
    """What ``folder`` holds (names -> bytes, or "dir"), or None if it is missing."""
    if not folder.exists():
        return None
    return {p.name: "dir" if p.is_dir() else p.read_bytes() for p in sorted(folder.iterdir())}


#: What the output folder holds before the write.
BEFORE = {
    "missing": None,
    "empty": {},
    "a bundle": {"report.md": b"old report", "results.json": b"{}"},
    "a bundle and a file of yours": {"report.md": b"old", "notes.txt": b"mine"},
}


def _intrude(final: Path, how: str) -> str | None:
    """Do to ``final`` what a user or another writer might while the output is staged;
    returns the name of a file of the user's that must survive."""
    if how == "nothing":
        return None
    if how in ("a file of yours", "a folder of yours"):
        final.mkdir(exist_ok=True)
        if how == "a file of yours":
            (final / "draft.txt").write_bytes(b"my draft")
            return "draft.txt"
        (final / "figures").mkdir()
        (final / "figures" / "f.png").write_bytes(b"mine")
        return "figures"
    if how == "a file of yours named like an output":
        final.mkdir(exist_ok=True)
        (final / "report.md").write_bytes(b"my own report")
        return None  # a bundle's name: --force may replace it
    if how == "another writer's output":
        final.mkdir(exist_ok=True)
        for name in ("report.md", "results.json"):
            (final / name).write_bytes(b"the other writer's")
        return None
    if how == "the folder removed":
        if final.exists():
            shutil.rmtree(final)
        return None
    raise AssertionError(how)


INTRUSIONS = (
    "nothing",
    "a file of yours",
    "a folder of yours",
    "a file of yours named like an output",
    "another writer's output",
    "the folder removed",
)


def _is_output(path: Path) -> bool:
    return path.name in ("report.md", "results.json") and path.is_file()


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    before=st.sampled_from(sorted(BEFORE)),
    intrusion=st.sampled_from(INTRUSIONS),
    force=st.booleans(),
)
def test_staged_output_never_loses_a_file_it_did_not_write(
    tmp_path_factory, before, intrusion, force
):
    """Whatever happens to the folder while the output is staged, the write either puts
    exactly the new files in place (and says nothing) or raises and leaves the folder as
    the intrusion left it; a file the user made is never deleted, without --force or
    with it; nothing temporary is left beside the folder."""
    from forecast.core.writing import staged_output

    base = tmp_path_factory.mktemp("out")
    final = base / "bundle"
    if BEFORE[before] is not None:
        final.mkdir()
        for name, data in BEFORE[before].items():
            (final / name).write_bytes(data)
    ours = {"report.md": b"new report", "results.json": b'{"new": 1}'}
    error = None
    try:
        with staged_output(final, force=force, replaceable=_is_output) as tmp:
            for name, data in ours.items():
                (tmp / name).write_bytes(data)
            keep = _intrude(final, intrusion)
            after_intrusion = _state(final)
    except InputError as exc:
        error = exc
    if error is None:
        assert _state(final) == ours
        assert keep is None  # a user's file was there: it must have been refused
        had_foreign = after_intrusion and set(after_intrusion) - set(ours)
        assert not had_foreign
        assert force or not after_intrusion  # something there needs --force
    else:
        assert _state(final) == after_intrusion  # nothing replaced or deleted
        assert error.exit_code == 2 and "nothing was replaced" in error.message
    assert sorted(os.listdir(base)) == (["bundle"] if final.exists() else [])


def test_output_lock_refuses_a_second_holder_at_once(tmp_path):
    """Another process holding the folder's lock: the second writer fails at once; this
    process may take its own lock again."""
    import subprocess
    import sys
    import time

    from forecast.core.destinations import output_lock

    folder = tmp_path / "bundle"
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from forecast.core.destinations import output_lock\n"
            "with output_lock(sys.argv[1]):\n"
            "    pathlib.Path(sys.argv[2]).touch(); time.sleep(60)\n",
            str(folder),
            str(ready),
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(InputError, match="another forecast command is writing"):
            with output_lock(folder):
                pass
        assert time.monotonic() - start < 2
    finally:
        holder.kill()
        holder.wait()
    with output_lock(folder), output_lock(folder / "." / ""):  # re-entrant; freed on exit
        pass


def test_write_files_of_two_writers_never_mix(tmp_path):
    """Two threads writing results.json and uplift.csv into one folder many times: the
    folder always holds one writer's pair."""
    import threading

    folder = tmp_path / "out"
    stop = threading.Event()
    seen = []

    def writer(tag: bytes):
        for _ in range(60):
            write_files(folder, {"results.json": tag, "uplift.csv": tag})

    def reader():
        while not stop.is_set():
            try:
                a = (folder / "results.json").read_bytes()
                b = (folder / "uplift.csv").read_bytes()
            except OSError:
                continue
            seen.append((a, b))

    threads = [threading.Thread(target=writer, args=(t,)) for t in (b"A", b"B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    final = {(folder / n).read_bytes() for n in ("results.json", "uplift.csv")}
    assert len(final) == 1


@pytest.mark.parametrize("name", ["results.json", "uplift.csv"])
def test_check_output_folder_refuses_a_folder_where_a_file_goes(tmp_path, name):
    (tmp_path / name).mkdir()
    with pytest.raises(InputError, match=f"{name} in it is a folder"):
        check_output_folder(tmp_path, "--out", ("results.json", "uplift.csv"))


def test_output_target_follows_a_link_and_names_a_broken_one(tmp_path):
    from forecast.core.destinations import output_target

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "broken").symlink_to("nowhere")
    assert output_target(tmp_path / "link") == (tmp_path / "real").resolve()
    assert output_target(tmp_path / "plain") == tmp_path / "plain"
    with pytest.raises(InputError, match="leads to nothing"):
        check_output_folder(tmp_path / "broken")
