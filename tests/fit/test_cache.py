"""forecast.fit.cache: fit entries written whole, checked on read; warm fits skip PyMC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import fake_posterior, posterior_shapes

from forecast.fit import cache
from forecast.fit.cache import CorruptEntry, entry_dir, key_of, read_entry, write_entry

KEY = "ab" * 32


def sample_draws() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "ceg_oom": rng.normal(size=(40, 6)),
        "composability_within": rng.uniform(size=40),
        "arrival_rate": rng.gamma(2.0, size=(40, 5)).astype(np.float32),
        "counts": np.arange(12, dtype=np.int64).reshape(3, 4),
    }


def test_cache_dir_honours_env(cache_dir):
    assert cache.cache_dir() == cache_dir
    assert entry_dir(KEY) == cache_dir / "fits" / KEY[:32]


def test_cache_dir_default_without_env(monkeypatch):
    monkeypatch.delenv("FORECAST_CACHE_DIR", raising=False)
    default = cache.cache_dir()
    assert default.name == "forecast" or "forecast" in default.parts


def test_key_of_is_order_independent_and_content_sensitive():
    a = key_of({"x": 1, "y": [1, 2]})
    assert a == key_of({"y": [1, 2], "x": 1})
    assert a != key_of({"x": 2, "y": [1, 2]})
    assert len(a) == 64 and int(a, 16) >= 0


def test_round_trip(cache_dir):
    draws = sample_draws()
    folder = write_entry(KEY, draws, {"enhancement_ids": ["a", "b"], "note": "hi"})
    assert folder == entry_dir(KEY)
    assert sorted(os.listdir(folder)) == ["draws.npz", "meta.json"]
    assert os.listdir(folder.parent) == [folder.name]  # no staging folder left behind
    got, meta, where = read_entry(KEY)
    assert where == folder
    assert set(got) == set(draws)
    for name, arr in draws.items():
        np.testing.assert_array_equal(got[name], arr)
        assert got[name].dtype == arr.dtype and got[name].shape == arr.shape
    assert meta["key"] == KEY
    assert meta["enhancement_ids"] == ["a", "b"] and meta["note"] == "hi"
    assert len(meta["draws_sha256"]) == 64


def test_extra_writer_adds_files(cache_dir):
    folder = write_entry(
        KEY, sample_draws(), {}, extra_writer=lambda t: (t / "x.nc").write_text("x")
    )
    assert (folder / "x.nc").read_text() == "x"


def test_failing_extra_writer_leaves_no_entry(cache_dir):
    def broken(tmp):
        raise RuntimeError("netcdf failed")

    with pytest.raises(RuntimeError):
        write_entry(KEY, sample_draws(), {}, extra_writer=broken)
    assert read_entry(KEY) is None
    assert not (cache_dir / "fits").exists() or os.listdir(cache_dir / "fits") == []


def test_missing_entry_is_none(cache_dir):
    assert read_entry(KEY) is None


def test_existing_entry_kept_unless_replace(cache_dir):
    write_entry(KEY, {"x": np.zeros(3)}, {"v": 1})
    write_entry(KEY, {"x": np.ones(3)}, {"v": 2})
    draws, meta, _ = read_entry(KEY)
    assert meta["v"] == 1 and draws["x"].sum() == 0
    write_entry(KEY, {"x": np.ones(3)}, {"v": 2}, replace=True)
    draws, meta, folder = read_entry(KEY)
    assert meta["v"] == 2 and draws["x"].sum() == 3
    assert os.listdir(folder.parent) == [folder.name]


def _damage_truncate(folder):
    path = folder / "draws.npz"
    path.write_bytes(path.read_bytes()[:100])


def _damage_flip_byte(folder):
    path = folder / "draws.npz"
    blob = bytearray(path.read_bytes())
    blob[-30] ^= 0xFF
    path.write_bytes(bytes(blob))


def _damage_delete_draws(folder):
    (folder / "draws.npz").unlink()


def _damage_delete_meta(folder):
    (folder / "meta.json").unlink()


def _damage_meta_not_json(folder):
    (folder / "meta.json").write_text("{not json")


def _damage_meta_without_key(folder):
    meta = json.loads((folder / "meta.json").read_text())
    del meta["key"]
    (folder / "meta.json").write_text(json.dumps(meta))


def _damage_meta_other_key(folder):
    meta = json.loads((folder / "meta.json").read_text())
    meta["key"] = KEY[:32] + "0" * 32  # same folder, different key
    (folder / "meta.json").write_text(json.dumps(meta))


def _damage_checksum(folder):
    meta = json.loads((folder / "meta.json").read_text())
    meta["draws_sha256"] = "0" * 64
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (_damage_truncate, "checksum"),
        (_damage_flip_byte, "checksum"),
        (_damage_checksum, "checksum"),
        (_damage_delete_draws, None),
        (_damage_delete_meta, None),
        (_damage_meta_not_json, None),
        (_damage_meta_without_key, "key mismatch"),
        (_damage_meta_other_key, "key mismatch"),
    ],
)
def test_damaged_entry_raises_corrupt(cache_dir, damage, match):
    folder = write_entry(KEY, sample_draws(), {})
    damage(folder)
    with pytest.raises(CorruptEntry, match=match):
        read_entry(KEY)


def test_meta_not_an_object_is_corrupt(cache_dir):
    folder = write_entry(KEY, sample_draws(), {})
    for text in ("null", "[]", '"text"', "3"):
        (folder / "meta.json").write_text(text)
        with pytest.raises(CorruptEntry):
            read_entry(KEY)


def test_draws_never_unpickled(cache_dir):
    """An object array can only be stored by pickling; reading refuses it."""
    import hashlib
    import io

    folder = write_entry(KEY, {"x": np.zeros(2)}, {})
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([{"a": 1}], dtype=object))
    blob = buffer.getvalue()
    (folder / "draws.npz").write_bytes(blob)
    meta = json.loads((folder / "meta.json").read_text())
    meta["draws_sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptEntry, match="pickle"):
        read_entry(KEY)


# --------------------------------------------------------------------------- warm fit


WARM_FIT = textwrap.dedent(
    """
    import sys

    import numpy as np

    import forecast.fit.fitting
    from forecast.fit import cache
    from forecast.fit.diagnostics import Diagnostics
    from forecast.evidence.table import build_table
    from forecast.evidence.catalogue import load_catalogue
    from forecast.fit.fitting import FitSettings, fit, fit_key
    from forecast.inputs.priors import load_priors
    from conftest import fake_posterior

    table = build_table(load_catalogue())
    priors = load_priors()
    settings = FitSettings(draws=10, chains=1)
    key = fit_key(table, priors, settings)
    draws = fake_posterior(table, 10)
    diagnostics = Diagnostics(1.001, 900.0, 800.0, 0, 4, 1000)
    cache.write_entry(
        key,
        draws,
        {
            "enhancement_ids": list(table.enhancement_ids),
            "diagnostics": diagnostics.to_dict(),
            "provenance": {"fake": True},
        },
    )

    def no_sampling(*args, **kwargs):
        sys.exit("cache miss: fit() would have sampled")

    forecast.fit.fitting._sample = no_sampling  # never run NUTS here, whatever happens
    result = fit(table, priors, settings)
    assert result.from_cache, "expected a cache hit"
    assert result.key == key
    assert result.provenance == {"fake": True}
    assert result.diagnostics == diagnostics
    assert result.enhancement_ids == table.enhancement_ids
    assert result.n_draws == 10
    np.testing.assert_array_equal(result.draws["ceg_oom"], draws["ceg_oom"])
    loaded = sorted(m for m in ("pymc", "arviz", "pytensor") if m in sys.modules)
    print("LOADED", loaded)
    assert "pymc" not in sys.modules, "pymc was imported on a cache hit"
    assert "arviz" not in sys.modules, "arviz was imported on a cache hit"
    print("WARM_OK")
    """
)


def test_fit_cache_hit_imports_neither_pymc_nor_arviz(cache_dir):
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # conftest's folder
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), tests) if p)
    env = dict(os.environ, FORECAST_CACHE_DIR=str(cache_dir), PYTHONPATH=path)
    proc = subprocess.run(
        [sys.executable, "-c", WARM_FIT],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARM_OK" in proc.stdout
    # the entry is where the test's cache folder says
    assert len(os.listdir(cache_dir / "fits")) == 1


def test_fit_key_depends_on_fit_priors_and_settings():
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.table import build_table
    from forecast.fit.fitting import FitSettings, fit_key
    from forecast.inputs.priors import load_priors

    table = build_table(load_catalogue())
    priors = load_priors()
    base = fit_key(table, priors, FitSettings())
    assert base == fit_key(table, priors, FitSettings())
    assert base != fit_key(table, priors, FitSettings(seed=1))
    assert base != fit_key(table, priors, FitSettings(draws=500))
    fit_prior = priors.with_overrides({"composability_within": "Beta(3, 3)"})
    assert base != fit_key(table, fit_prior, FitSettings())
    forecast_prior = priors.with_overrides({"catalogue_coverage": "Beta(3, 3)"})
    assert base == fit_key(table, forecast_prior, FitSettings())
    with pytest.raises(ValueError):
        FitSettings(draws=5)


def test_write_sweeps_staging_folders_that_killed_writers_left(cache_dir):
    """Hidden .tmp-/.old- folders older than a day go; fresh ones and other files stay."""
    fits = cache_dir / "fits"
    fits.mkdir(parents=True)
    stale = [fits / ".deadbeef.tmp-abc123", fits / ".deadbeef.old-77-0a0b0c0d"]
    fresh = fits / ".cafe.tmp-live"  # a writer still at work
    unrelated = [fits / ".hidden", fits / "notes.tmp-1"]
    for folder in [*stale, fresh, *unrelated]:
        folder.mkdir()
        (folder / "part").write_text("x")
    two_days_ago = os.path.getmtime(fresh) - 2 * 24 * 3600
    for folder in stale:
        os.utime(folder, (two_days_ago, two_days_ago))

    write_entry(KEY, sample_draws(), {"model_version": "test"})

    assert not any(folder.exists() for folder in stale)
    assert fresh.exists() and all(folder.exists() for folder in unrelated)
    assert read_entry(KEY) is not None


# --------------------------------------------------------------------------- tampering

N_ENH, N_DRAWS = 6, 40
EXPECTED = posterior_shapes(N_ENH)


def reseal(folder, draws=None, posterior: bytes | None = None, meta_change=None):
    """Rewrite an entry's files *and* their checksums, as a tamperer would."""
    import hashlib
    import io

    meta = json.loads((folder / "meta.json").read_text())
    if draws is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **draws)
        (folder / "draws.npz").write_bytes(buffer.getvalue())
        meta["draws_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    if posterior is not None:
        (folder / "posterior.nc").write_bytes(posterior)
        meta["files_sha256"]["posterior.nc"] = hashlib.sha256(posterior).hexdigest()
    if meta_change is not None:
        meta_change(meta)
    (folder / "meta.json").write_text(json.dumps(meta))


def good_entry(extra=b"netcdf bytes"):
    draws = fake_posterior(N_ENH, N_DRAWS)
    folder = write_entry(
        KEY, draws, {"v": 1}, extra_writer=lambda t: (t / "posterior.nc").write_bytes(extra)
    )
    return folder, draws


def test_an_intact_entry_passes_every_check(cache_dir):
    folder, draws = good_entry()
    got, meta, _ = read_entry(KEY, EXPECTED, N_DRAWS)
    assert meta["n_draws"] == N_DRAWS and set(meta["files_sha256"]) == {"posterior.nc"}
    np.testing.assert_array_equal(got["ceg_oom"], draws["ceg_oom"])


def _without(name):
    return lambda d: d.pop(name)


def _set(name, value):
    return lambda d: d.update({name: value(d[name])})


TAMPERING = {
    "variable removed": (_without("arrival_rate"), "variables differ"),
    "variable added": (lambda d: d.update(extra=np.zeros(N_DRAWS)), "unexpected variable"),
    "int dtype": (_set("ceg_oom", lambda a: a.astype(np.int64)), "dtype"),
    "float32 dtype": (_set("ceg_oom", lambda a: a.astype(np.float32)), "dtype"),
    "complex dtype": (_set("ceg_oom", lambda a: a.astype(np.complex128)), "dtype"),
    "NaN draws": (_set("ceg_oom", lambda a: np.where(a > 1, np.nan, a)), "NaN"),
    "infinite draw": (_set("arrival_rate", lambda a: np.where(a > 0, np.inf, a)), "infinite"),
    "5 draws": (lambda d: d.update({k: v[:5] for k, v in d.items()}), "shape"),
    "one variable short": (_set("scale_slope", lambda a: a[:-1]), "shape"),
    "wrong trailing shape": (_set("category_mean", lambda a: a[:, :2]), "shape"),
    "scalar made 2-D": (_set("ceg_trend", lambda a: a[:, None]), "shape"),
    "object array": (_set("ceg_trend", lambda a: a.astype(object)), "pickle"),
}


@pytest.mark.parametrize("change", list(TAMPERING), ids=list(TAMPERING))
def test_tampered_draws_with_a_matching_checksum_are_refused(cache_dir, change):
    """A tamperer who rewrites draws.npz *and* its checksum still gets a refit."""
    folder, draws = good_entry()
    edit, words = TAMPERING[change]
    edit(draws)
    reseal(folder, draws)
    with pytest.raises(CorruptEntry, match=words):
        read_entry(KEY, EXPECTED, N_DRAWS)


def test_draw_count_recorded_in_meta_must_match(cache_dir):
    folder, _ = good_entry()
    reseal(folder, meta_change=lambda m: m.update(n_draws=7))
    with pytest.raises(CorruptEntry, match="7 draws"):
        read_entry(KEY, EXPECTED, N_DRAWS)
    with pytest.raises(CorruptEntry, match="draws"):
        read_entry(KEY)  # the arrays hold 40, meta says 7


def test_a_fit_asked_for_more_draws_does_not_use_a_smaller_entry(cache_dir):
    good_entry()
    with pytest.raises(CorruptEntry, match="draws"):
        read_entry(KEY, EXPECTED, 2 * N_DRAWS)


def test_compressed_member_is_refused_before_it_is_inflated(cache_dir):
    """A zip bomb (a member that inflates to gigabytes) is never decompressed."""
    import hashlib
    import zipfile

    folder, _ = good_entry()
    path = folder / "draws.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("ceg_oom.npy", "w", force_zip64=True) as member:
            for _ in range(64):
                member.write(b"\0" * (1 << 24))  # 1 GiB of zeros, ~1 MB compressed
    reseal(
        folder,
        meta_change=lambda m: m.update(draws_sha256=hashlib.sha256(path.read_bytes()).hexdigest()),
    )
    with pytest.raises(CorruptEntry, match="stored"):
        read_entry(KEY, EXPECTED, N_DRAWS)


def test_header_declaring_a_huge_array_allocates_nothing(cache_dir):
    import hashlib
    import io
    import zipfile

    folder, _ = good_entry()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**9, N_ENH)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("ceg_oom.npy", buffer.getvalue() + b"\0" * 64)
    (folder / "draws.npz").write_bytes(blob.getvalue())
    digest = hashlib.sha256(blob.getvalue()).hexdigest()
    reseal(folder, meta_change=lambda m: m.update(draws_sha256=digest))
    for expected in (EXPECTED, None):
        with pytest.raises(CorruptEntry, match="shape|shorter"):
            read_entry(KEY, expected, N_DRAWS if expected else None)


def test_posterior_nc_is_checksummed(cache_dir):
    folder, _ = good_entry()
    (folder / "posterior.nc").write_bytes(b"something else")
    with pytest.raises(CorruptEntry, match="posterior.nc"):
        read_entry(KEY, EXPECTED, N_DRAWS)


def test_meta_cannot_point_outside_the_entry(cache_dir):
    folder, _ = good_entry()
    reseal(folder, meta_change=lambda m: m["files_sha256"].update({"../../x": "0" * 64}))
    with pytest.raises(CorruptEntry, match="unexpected file"):
        read_entry(KEY, EXPECTED, N_DRAWS)


@pytest.mark.parametrize("name", ["draws.npz", "meta.json", "posterior.nc"])
def test_links_in_an_entry_are_never_followed(cache_dir, tmp_path, name):
    """A link to a file with the very same bytes (so every checksum matches) is refused."""
    folder, _ = good_entry()
    elsewhere = tmp_path / f"elsewhere-{name}"
    elsewhere.write_bytes((folder / name).read_bytes())
    (folder / name).unlink()
    (folder / name).symlink_to(elsewhere)
    with pytest.raises(CorruptEntry, match="link|cannot be opened"):
        read_entry(KEY, EXPECTED, N_DRAWS)


def test_an_entry_folder_that_is_a_link_is_refused(cache_dir, tmp_path):
    folder, _ = good_entry()
    moved = tmp_path / "moved-entry"
    folder.rename(moved)
    folder.symlink_to(moved)
    with pytest.raises(CorruptEntry, match="symbolic link"):
        read_entry(KEY, EXPECTED, N_DRAWS)


def test_an_entry_that_is_a_file_is_refused(cache_dir):
    folder, _ = good_entry()
    import shutil

    shutil.rmtree(folder)
    folder.write_text("x")
    with pytest.raises(CorruptEntry, match="not a folder"):
        read_entry(KEY, EXPECTED, N_DRAWS)
    assert write_entry(KEY, fake_posterior(N_ENH, N_DRAWS), {}, replace=True) == folder
    assert read_entry(KEY, EXPECTED, N_DRAWS) is not None


@pytest.mark.parametrize("what", ["folder", "draws.npz", "meta.json", "posterior.nc"])
def test_entries_others_could_write_are_refused(cache_dir, what):
    folder, _ = good_entry()
    path = folder if what == "folder" else folder / what
    path.chmod(path.stat().st_mode | 0o020)
    with pytest.raises(CorruptEntry, match="written by other users"):
        read_entry(KEY, EXPECTED, N_DRAWS)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
@pytest.mark.parametrize("what", ["folder", "draws.npz", "posterior.nc"])
def test_entries_owned_by_another_user_are_refused(cache_dir, what):
    folder, _ = good_entry()
    path = folder if what == "folder" else folder / what
    os.chown(path, 12345, 12345)
    with pytest.raises(CorruptEntry, match="owned by another user"):
        read_entry(KEY, EXPECTED, N_DRAWS)


def test_entries_are_private_whatever_the_umask(cache_dir):
    old = os.umask(0)
    try:
        folder, _ = good_entry()
    finally:
        os.umask(old)
    for path in [folder, *folder.iterdir()]:
        assert not path.stat().st_mode & 0o022, path
    assert read_entry(KEY, EXPECTED, N_DRAWS) is not None


def test_copy_file_verifies_while_copying(cache_dir, tmp_path):
    good_entry(extra=b"the posterior")
    cache.copy_file(KEY, "posterior.nc", tmp_path / "copy.nc")
    assert (tmp_path / "copy.nc").read_bytes() == b"the posterior"


def test_copy_file_never_copies_through_a_link(cache_dir, tmp_path):
    """The symlink-to-/etc/shadow attack: even with a matching checksum, nothing is copied."""
    import hashlib

    folder, _ = good_entry()
    secret = tmp_path / "shadow"
    secret.write_bytes(b"TOP SECRET")
    (folder / "posterior.nc").unlink()
    (folder / "posterior.nc").symlink_to(secret)
    digest = hashlib.sha256(b"TOP SECRET").hexdigest()
    reseal(folder, meta_change=lambda m: m["files_sha256"].update({"posterior.nc": digest}))
    with pytest.raises(CorruptEntry):
        cache.copy_file(KEY, "posterior.nc", tmp_path / "copy.nc")
    assert not (tmp_path / "copy.nc").exists()


def test_copy_file_removes_a_copy_that_fails_its_checksum(cache_dir, tmp_path):
    folder, _ = good_entry()
    (folder / "posterior.nc").write_bytes(b"changed after the write")
    with pytest.raises(CorruptEntry, match="checksum"):
        cache.copy_file(KEY, "posterior.nc", tmp_path / "copy.nc")
    assert not (tmp_path / "copy.nc").exists()


# --------------------------------------------------------------------------- unusable cache


def _warnings_of(action):
    import warnings

    from forecast.core.errors import ForecastWarning

    cache.reset_warnings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [str(w.message) for w in caught if issubclass(w.category, ForecastWarning)]


def test_a_cache_folder_that_is_a_file_warns_once_and_is_a_miss(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("FORECAST_CACHE_DIR", str(tmp_path / "file"))

    def both():
        return read_entry(KEY), write_entry(KEY, {"x": np.zeros(3)}, {}), read_entry(KEY)

    results, warned = _warnings_of(both)
    assert results == (None, None, None)
    assert len(warned) == 1 and "cannot be written" in warned[0]


@pytest.mark.parametrize("value", ["~no-such-user-forecast/x", "~no-such-user-forecast"])
def test_an_unexpandable_cache_folder_warns_and_is_a_miss(monkeypatch, value):
    monkeypatch.setenv("FORECAST_CACHE_DIR", value)
    (hit, written), warned = _warnings_of(
        lambda: (read_entry(KEY), write_entry(KEY, {"x": np.zeros(3)}, {}))
    )
    assert hit is None and written is None
    assert len(warned) == 1 and "FORECAST_CACHE_DIR" in warned[0]


def test_a_miss_says_before_the_fit_that_the_cache_cannot_be_written(tmp_path, monkeypatch):
    """Read-only: the warning comes from read_entry, i.e. before any sampling starts."""
    import errno

    monkeypatch.setenv("FORECAST_CACHE_DIR", str(tmp_path / "cache"))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path))

    monkeypatch.setattr(cache.os, "mkdir", read_only)
    hit, warned = _warnings_of(lambda: read_entry(KEY))
    assert hit is None
    assert len(warned) == 1 and "Read-only" in warned[0]


def test_a_nearly_full_disk_skips_the_write_before_the_netcdf_writer(cache_dir, monkeypatch):
    """HDF5 can crash on a full disk: the free space is checked before it is called."""
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(cache.shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 4096))
    called = []
    folder, warned = _warnings_of(
        lambda: write_entry(KEY, fake_posterior(N_ENH, N_DRAWS), {}, extra_writer=called.append)
    )
    assert folder is None and called == []
    assert len(warned) == 1 and "MiB free" in warned[0]
    assert not (cache_dir / "fits").exists() or os.listdir(cache_dir / "fits") == []


def test_a_write_failing_for_lack_of_space_warns_and_leaves_nothing(cache_dir):
    import errno

    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    folder, warned = _warnings_of(
        lambda: write_entry(KEY, fake_posterior(N_ENH, N_DRAWS), {}, extra_writer=full)
    )
    assert folder is None and len(warned) == 1 and "No space" in warned[0]
    assert os.listdir(cache_dir / "fits") == []


# --------------------------------------------------------------------------- fit's contract


def test_fit_checks_exactly_the_variables_the_model_stores(cache_dir, monkeypatch):
    """fit() checks a cached entry against model_data.expected_shapes (no PyMC import), which
    tests/fit/test_model.py holds to what the model really stores."""
    import forecast.fit.fitting
    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.table import build_table
    from forecast.fit.model_data import POSTERIOR_VARIABLES, expected_shapes
    from forecast.inputs.priors import load_priors

    seen = {}

    def spy(key, expected=None, n_draws=None):
        seen.update(expected=expected, n_draws=n_draws)
        return None

    monkeypatch.setattr(cache, "read_entry", spy)
    monkeypatch.setattr(forecast.fit.fitting, "_sample", lambda *a, **k: "sampled")
    table = build_table(load_catalogue())
    settings = forecast.fit.fitting.FitSettings()
    assert forecast.fit.fitting.fit(table, load_priors(), settings) == "sampled"
    assert seen["expected"] == expected_shapes(table)
    assert set(POSTERIOR_VARIABLES) <= set(seen["expected"])
    assert seen["n_draws"] == settings.chains * settings.draws


def test_fit_time_estimate_counts_the_compile_only_when_it_is_needed(cache_dir, monkeypatch):
    """The announced time: sampling scaled to the settings, plus the compile unless this
    process has compiled a model of the same structure."""
    import sys
    import types

    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.table import build_table
    from forecast.fit import fitting as fit_module
    from forecast.fit.fitting import FitSettings
    from forecast.fit.model_data import structure_key
    from forecast.inputs.priors import load_priors

    structure = structure_key(build_table(load_catalogue()), load_priors())
    settings = FitSettings()
    assert fit_module._expected_seconds(structure, settings) is None  # nothing recorded
    fit_module._record_seconds(40.0, 10.0, settings)
    fake = types.SimpleNamespace(is_compiled=lambda key: False)
    monkeypatch.setitem(sys.modules, "forecast.fit.sampler", fake)
    assert fit_module._expected_seconds(structure, settings) == pytest.approx(50.0)
    half = FitSettings(draws=settings.draws // 2, tune=settings.tune // 2)
    assert fit_module._expected_seconds(structure, half) == pytest.approx(45.0)
    fake.is_compiled = lambda key: True
    assert fit_module._expected_seconds(structure, settings) == pytest.approx(10.0)


def test_reweighting_with_too_few_effective_draws_refits(monkeypatch):
    """A prior moved far from the posterior can pass the Pareto k test with few effective
    draws; the tail quantile would rest on a handful of draws, so the fit is redone."""
    import types

    import numpy as np

    from forecast.evidence.catalogue import load_catalogue
    from forecast.evidence.table import build_table
    from forecast.fit import fitting as fit_module
    from forecast.fit.fitting import FitSettings
    from forecast.inputs.priors import load_priors

    table = build_table(load_catalogue())
    n = 6000
    rng = np.random.default_rng(0)
    base = types.SimpleNamespace(
        draws={"ceg_global_mean": rng.normal(1.4, 0.25, n)},
        n_draws=n,
        key="base",
        provenance={},
        enhancement_ids=table.enhancement_ids,
        diagnostics=None,
    )
    monkeypatch.setattr(fit_module, "_cached", lambda key, table, settings: base)
    said = []
    far = load_priors().with_overrides({"ceg_global_mean": "Normal(2.0, 0.1)"})
    assert fit_module._reweighted(table, far, FitSettings(), said.append) is None
    assert "effective draws" in said[-1] and "refitting" in said[-1]
    near = load_priors().with_overrides({"ceg_global_mean": "Normal(1.1, 0.5)"})
    assert fit_module._reweighted(table, near, FitSettings(), said.append) is not None
    assert "no refit needed" in said[-1]
