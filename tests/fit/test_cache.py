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

    import forecast.fit.engine
    from forecast.fit import cache
    from forecast.fit.diagnostics import Diagnostics
    from forecast.fit.engine import FitSettings
    from forecast.fit.histories import fit_histories, histories_spec
    from forecast.inputs.resolve import resolve
    from conftest import GOOD_DIAGNOSTICS, fake_posterior

    inputs = resolve(None)
    table, priors = inputs.histories, inputs.priors
    settings = FitSettings(draws=10, chains=1)
    key = histories_spec(table, priors).key(priors, settings)
    draws = fake_posterior(table, 10)
    diagnostics = Diagnostics(*GOOD_DIAGNOSTICS)
    cache.write_entry(
        key,
        draws,
        {
            "labels": {"suites": list(table.suites), "series": list(table.series)},
            "diagnostics": diagnostics.to_dict(),
            "provenance": {"fake": True},
        },
    )

    def no_sampling(*args, **kwargs):
        sys.exit("cache miss: fit_model would have sampled")

    forecast.fit.engine._sample = no_sampling  # never run NUTS here, whatever happens
    result = fit_histories(table, priors, settings)
    assert result.how == "cache" and result.from_cache, result.how
    assert result.key == key
    assert result.provenance == {"fake": True}
    assert result.diagnostics == diagnostics
    assert result.labels == {"suites": table.suites, "series": table.series}
    assert result.n_draws == 10 and result.effective_draws == 10
    for name, values in draws.items():
        np.testing.assert_array_equal(result.draws[name], values)
    loaded = sorted(m for m in ("pymc", "arviz", "pytensor", "nutpie") if m in sys.modules)
    print("LOADED", loaded)
    assert not loaded, f"{loaded} imported on a cache hit"
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
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "WARM_OK" in proc.stdout
    # the entry is where the test's cache folder says
    assert len(os.listdir(cache_dir / "fits")) == 1


@pytest.fixture(scope="module")
def inputs():
    from forecast.inputs.resolve import resolve

    return resolve(None)


def _specs(inputs, priors=None):
    from forecast.fit.catalogue import catalogue_spec
    from forecast.fit.histories import histories_spec

    priors = priors or inputs.priors
    return {
        "catalogue": catalogue_spec(inputs.table, priors),
        "histories": histories_spec(inputs.histories, priors),
    }


@pytest.mark.parametrize("model", ["catalogue", "histories"])
def test_a_fit_key_depends_on_its_model_priors_and_settings_only(inputs, model):
    """A model is refitted when a prior that drives it or a sampler setting changes; never for
    a forecast-only prior or a prior of the other model."""
    from forecast.fit.engine import FitSettings

    priors = inputs.priors
    spec = _specs(inputs)[model]

    def key(p=priors, settings=FitSettings()):
        return _specs(inputs, p)[model].key(p, settings)

    base = key()
    assert base == spec.key(priors, FitSettings()) and len(base) == 64
    for settings in (
        FitSettings(seed=1),
        FitSettings(draws=500),
        FitSettings(tune=500),
        FitSettings(chains=2),
        FitSettings(target_accept=0.95),
    ):
        assert key(settings=settings) != base, settings
    own = {"catalogue": "composability_within", "histories": "increment_share"}[model]
    other = {"catalogue": "increment_share", "histories": "composability_within"}[model]
    assert key(priors.with_overrides({own: "Beta(3, 3)"})) != base
    assert key(priors.with_overrides({other: "Beta(3, 3)"})) == base
    assert key(priors.with_overrides({"trend_fade_years": "LogNormal(1, 0.5)"})) == base
    # the priors in the key are those that drive the model, at full precision
    driving = spec.priors_of(priors)
    assert own in driving and other not in driving and "trend_fade_years" not in driving
    assert set(driving) == {n for n, info in priors.items() if info.drives == model}


def test_a_fit_key_depends_on_the_evidence_and_the_model_version(inputs):
    import dataclasses

    from forecast.fit.engine import FitSettings

    spec = _specs(inputs)["histories"]
    base = spec.key(inputs.priors, FitSettings())
    for change in ({"evidence_digest": "0" * 64}, {"version": "999"}, {"name": "other"}):
        assert dataclasses.replace(spec, **change).key(inputs.priors, FitSettings()) != base
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


# --------------------------------------------------------------------------- the fit engine

SETTINGS_N = (100, 2)  # draws per chain, chains: fake fits of 200 draws (enough for PSIS)


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """An empty folder of shipped fits in place of the package's fits/ (a test adds to it)."""
    folder = tmp_path / "shipped"
    (folder / "summaries").mkdir(parents=True)
    monkeypatch.setattr(cache, "shipped_dir", lambda: folder)
    return folder


@pytest.fixture
def sampled(monkeypatch):
    """``engine._sample`` replaced by a fake sampler; the list records its calls."""
    from conftest import fake_sampler

    from forecast.fit import engine

    calls: list = []
    monkeypatch.setattr(engine, "_sample", fake_sampler(calls))
    return calls


def _settings(**kw):
    from forecast.fit.engine import FitSettings

    draws, chains = SETTINGS_N
    return FitSettings(draws=draws, chains=chains, **kw)


def _fit(inputs, model="histories", priors=None, settings=None, **kw):
    from forecast.fit.engine import fit_model

    priors = priors or inputs.priors
    spec = _specs(inputs, priors)[model]
    return fit_model(spec, priors, settings or _settings(), **kw)


@pytest.mark.parametrize("model", ["catalogue", "histories"])
def test_a_fit_is_cached_and_then_served_from_the_cache(cache_dir, shipped, sampled, inputs, model):
    first = _fit(inputs, model)
    assert first.how == "sampled" and not first.from_cache and len(sampled) == 1
    assert (cache_dir / "fits" / first.key[:32] / "meta.json").is_file()
    again = _fit(inputs, model)
    assert again.how == "cache" and again.from_cache and len(sampled) == 1
    assert again.key == first.key and again.labels == first.labels
    assert again.diagnostics == first.diagnostics
    for name, values in first.draws.items():
        np.testing.assert_array_equal(again.draws[name], values)
    assert _fit(inputs, model, use_cache=False).how == "sampled" and len(sampled) == 2


def _ship(folder, key, draws, labels, diagnostics, provenance=None, meta_key=None):
    """A shipped fit as tools/build_default_fit.py writes it: draws.npz and meta.json (no
    netCDF, no checksums of other files)."""
    import hashlib
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **draws)
    target = folder / key
    target.mkdir()
    (target / "draws.npz").write_bytes(buffer.getvalue())
    meta = {
        "labels": {name: list(values) for name, values in labels.items()},
        "diagnostics": diagnostics.to_dict(),
        "provenance": provenance or {"shipped": True},
        "key": meta_key or key,
        "draws_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "n_draws": len(next(iter(draws.values()))),
        "files_sha256": {},
    }
    (target / "meta.json").write_text(json.dumps(meta))
    return target


def test_a_shipped_fit_is_served_when_its_key_matches(cache_dir, shipped, sampled, inputs):
    from conftest import GOOD_DIAGNOSTICS

    from forecast.fit.diagnostics import Diagnostics
    from forecast.fit.engine import fit_model

    spec = _specs(inputs)["histories"]
    settings = _settings()
    key = spec.key(inputs.priors, settings)
    n = settings.chains * settings.draws
    draws = fake_posterior(inputs.histories, n, seed=9)
    _ship(shipped, key, draws, spec.labels, Diagnostics(*GOOD_DIAGNOSTICS))
    fit = fit_model(spec, inputs.priors, settings)
    assert fit.how == "shipped" and fit.from_cache and sampled == []
    assert fit.directory == shipped / key and fit.provenance == {"shipped": True}
    np.testing.assert_array_equal(fit.draws["event_rate"], draws["event_rate"])
    assert not (cache_dir / "fits").exists() or os.listdir(cache_dir / "fits") == []
    # other settings: another key, not served from the shipped fit
    assert fit_model(spec, inputs.priors, _settings(seed=1)).how == "sampled"
    assert len(sampled) == 1


def test_the_user_cache_comes_before_the_shipped_fit(cache_dir, shipped, sampled, inputs):
    from conftest import GOOD_DIAGNOSTICS

    from forecast.fit.diagnostics import Diagnostics

    first = _fit(inputs)  # sampled and cached
    _ship(shipped, first.key, fake_posterior(inputs.histories, first.n_draws, seed=9),
          first.labels, Diagnostics(*GOOD_DIAGNOSTICS))  # fmt: skip
    again = _fit(inputs)
    assert again.how == "cache"
    np.testing.assert_array_equal(again.draws["event_rate"], first.draws["event_rate"])


@pytest.mark.parametrize("damage", ["key", "checksum", "labels", "draws"])
def test_a_damaged_shipped_fit_is_refitted_not_used(cache_dir, shipped, sampled, inputs, damage):
    from conftest import GOOD_DIAGNOSTICS

    from forecast.fit.diagnostics import Diagnostics

    spec = _specs(inputs)["histories"]
    settings = _settings()
    key = spec.key(inputs.priors, settings)
    n = settings.chains * settings.draws
    draws = fake_posterior(inputs.histories, n, seed=9)
    labels = dict(spec.labels)
    if damage == "labels":
        labels["suites"] = labels["suites"][::-1]
    if damage == "draws":
        draws = {k: v[:-1] for k, v in draws.items()}  # one draw short of the settings
    target = _ship(shipped, key, draws, labels, Diagnostics(*GOOD_DIAGNOSTICS),
                   meta_key="0" * 64 if damage == "key" else None)  # fmt: skip
    if damage == "checksum":
        blob = bytearray((target / "draws.npz").read_bytes())
        blob[-30] ^= 0xFF
        (target / "draws.npz").write_bytes(bytes(blob))
    said = []
    fit = _fit(inputs, log=said.append)
    assert fit.how == "sampled" and len(sampled) == 1
    assert any("damaged or untrusted" in line for line in said), said


def test_a_damaged_cache_entry_is_replaced_by_the_refit(cache_dir, shipped, sampled, inputs):
    first = _fit(inputs)
    path = cache_dir / "fits" / first.key[:32] / "draws.npz"
    path.write_bytes(path.read_bytes()[:100])
    said = []
    refit = _fit(inputs, log=said.append)
    assert refit.how == "sampled" and len(sampled) == 2
    assert any("damaged or untrusted" in line and "refitting" in line for line in said)
    assert _fit(inputs).how == "cache"  # the refit replaced the damaged entry


def test_a_prior_change_reweights_the_default_fit_instead_of_refitting(
    cache_dir, shipped, sampled, inputs
):
    """Only this model's priors changed: the cached default-prior fit is reweighted by PSIS
    (no sampling), its draws resampled by weight; the provenance says from what."""
    base = _fit(inputs)
    assert len(sampled) == 1
    moved = inputs.priors.with_overrides({"increment_share": "Beta(3, 8)"})
    said = []
    fit = _fit(inputs, priors=moved, log=said.append)
    assert fit.how == "reweighted" and fit.from_cache and len(sampled) == 1
    record = fit.provenance["reweighted"]
    assert record["from_fit"] == base.key
    assert record["priors"] == {"increment_share": "Beta(3, 8)"}
    assert 0 < record["ess"] <= base.n_draws and record["pareto_k"] <= 0.7
    assert fit.effective_draws == record["ess"] < fit.n_draws == base.n_draws
    assert fit.provenance["priors"] == moved.driving("histories")  # the new ones, in full
    assert fit.key == _specs(inputs, moved)["histories"].key(moved, _settings())
    assert fit.key != base.key and fit.directory is None
    assert "no refit needed" in said[-1]
    # every draw is one of the base fit's (resampled), and a larger share is favoured
    assert set(fit.draws["increment_share"]) <= set(base.draws["increment_share"])
    assert fit.draws["increment_share"].mean() > base.draws["increment_share"].mean()
    # the same call again gives the same draws (the resampling is seeded)
    again = _fit(inputs, priors=moved)
    np.testing.assert_array_equal(again.draws["increment_share"], fit.draws["increment_share"])
    # reweighting can be refused: then the model is fitted
    assert _fit(inputs, priors=moved, reweight=False).how == "sampled" and len(sampled) == 2


def test_a_prior_of_the_other_model_or_the_forecast_reuses_the_fit(
    cache_dir, shipped, sampled, inputs
):
    base = _fit(inputs)
    for change in ({"composability_within": "Beta(3, 3)"}, {"trend_fade_years": "LogNormal(1, 1)"}):
        fit = _fit(inputs, priors=inputs.priors.with_overrides(change))
        assert fit.how == "cache" and fit.key == base.key
    assert len(sampled) == 1


def test_a_far_prior_change_refits(cache_dir, shipped, sampled, inputs):
    _fit(inputs)
    said = []
    far = inputs.priors.with_overrides({"increment_share": "Beta(80, 20)"})
    fit = _fit(inputs, priors=far, log=said.append)
    assert fit.how == "sampled" and len(sampled) == 2
    assert any("refitting" in line for line in said), said
    # and the refit is cached under the new priors' key
    assert _fit(inputs, priors=far).how == "cache"


def test_reweighting_needs_a_cached_default_fit(cache_dir, shipped, sampled, inputs):
    moved = inputs.priors.with_overrides({"increment_share": "Beta(3, 8)"})
    assert _fit(inputs, priors=moved).how == "sampled"  # nothing to reweight
    assert sampled[0][2] is moved


def test_reweighting_with_too_few_effective_draws_refits(inputs, monkeypatch):
    """A prior moved far from the posterior can pass the Pareto k test with few effective
    draws; the tail quantile would rest on a handful of draws, so the fit is redone."""
    import types

    from forecast.fit import engine
    from forecast.fit.engine import FitSettings

    spec = _specs(inputs)["histories"]
    n = 6000
    rng = np.random.default_rng(0)
    base = types.SimpleNamespace(
        draws={"eval_slope": rng.lognormal(-0.22, 0.1, n)},
        n_draws=n,
        key="base",
        provenance={},
        labels=dict(spec.labels),
        diagnostics=None,
    )
    monkeypatch.setattr(engine, "cached_fit", lambda spec, key, settings: base)
    said = []
    defaults = inputs.priors
    far = defaults.with_overrides({"eval_slope": "LogNormal(0, 0.04)"})
    assert engine._reweighted(spec, far, FitSettings(), said.append, defaults) is None
    assert "effective draws" in said[-1] and "refitting" in said[-1]  # k passes; ESS does not
    near = defaults.with_overrides({"eval_slope": "LogNormal(-0.1, 0.5)"})
    fit = engine._reweighted(spec, near, FitSettings(), said.append, defaults)
    assert fit is not None and fit.how == "reweighted"
    assert "no refit needed" in said[-1]
    fixed = defaults.with_overrides({"eval_slope": "0.8"})  # a Constant: no density ratio
    assert engine._reweighted(spec, fixed, FitSettings(), said.append, defaults) is None
    assert "cannot be reweighted" in said[-1]


def test_prior_log_ratio():
    from forecast.core.distributions import Prior
    from forecast.fit.engine import prior_log_ratio

    theta = np.array([0.5, 1.0, 2.0])
    old, new = Prior("LogNormal", (0.0, 1.0)), Prior("LogNormal", (0.5, 1.0))
    ratio = prior_log_ratio({"x": theta}, {"x": (old, new)})
    np.testing.assert_allclose(ratio, new.logpdf(theta) - old.logpdf(theta))
    shifted = prior_log_ratio({"y": theta - 1.0}, {"x": (old, new)}, lambda n: "y", {"x": 1.0})
    np.testing.assert_allclose(shifted, ratio)
    assert prior_log_ratio({"x": theta}, {"z": (old, new)}) is None  # not in the draws
    assert prior_log_ratio({"x": theta}, {"x": (old, Prior("Constant", (1.0,)))}) is None
    assert prior_log_ratio({"x": theta}, {"x": (old, new)}, lambda n: None) is None


def test_a_fit_that_fails_its_diagnostics_is_cached_with_them_and_says_so(
    cache_dir, shipped, inputs, monkeypatch
):
    """The engine stores a fit whatever its diagnostics, but never silently: the failure is
    logged when it is fitted and travels with the entry, so every later run that reads it
    sees the same failing diagnostics (and warns, or exits 3 under --strict)."""
    import dataclasses
    import types

    from conftest import BAD_DIAGNOSTICS, fake_spec_draws

    from forecast.fit import posterior, sampler
    from forecast.fit.diagnostics import Diagnostics
    from forecast.fit.engine import fit_model

    bad = Diagnostics(*BAD_DIAGNOSTICS, worst_ess="event_rate")
    assert not bad.ok
    settings = _settings()
    spec = _specs(inputs)["histories"]
    spec = dataclasses.replace(spec, build=lambda p: types.SimpleNamespace(free_RVs=[]))
    draws = fake_spec_draws(spec, settings.chains * settings.draws)
    monkeypatch.setattr(sampler, "compiled_for", lambda key, build, data: (object(), False))
    monkeypatch.setattr(sampler, "sample", lambda *a, **k: types.SimpleNamespace(attrs={}))
    monkeypatch.setattr(posterior, "diagnose", lambda idata, names: bad)
    monkeypatch.setattr(posterior, "flat_draws", lambda idata, names: draws)
    monkeypatch.setattr(posterior, "write_netcdf", lambda idata, path: path.write_bytes(b"nc"))
    said = []
    fit = fit_model(spec, inputs.priors, settings, log=said.append)
    assert fit.how == "sampled" and fit.diagnostics == bad
    assert any("FAILED" in line and "bulk ESS" in line for line in said), said
    meta = json.loads((fit.directory / "meta.json").read_text())
    assert meta["diagnostics"]["ok"] is False and meta["diagnostics"]["problems"]
    assert set(meta["files_sha256"]) == {"posterior.nc"}
    monkeypatch.setattr(sampler, "sample", lambda *a, **k: pytest.fail("sampled again"))
    again = fit_model(spec, inputs.priors, settings)
    assert again.how == "cache" and again.diagnostics == bad and not again.diagnostics.ok


def test_fit_checks_exactly_the_variables_the_model_stores(cache_dir, monkeypatch, inputs):
    """fit_model checks a cached or shipped entry against the spec's shapes (no PyMC
    import), which tests/fit/test_model.py holds to what each model really stores."""
    from forecast.fit import engine
    from forecast.fit.model_data import POSTERIOR_VARIABLES
    from forecast.fit.model_data import expected_shapes as catalogue_shapes
    from forecast.fit.uplift_model import UPLIFT_SCALARS
    from forecast.fit.uplift_model import expected_shapes as uplift_shapes

    seen = []

    def spy(key, expected=None, n_draws=None):
        seen.append((key, expected, n_draws))
        return None

    monkeypatch.setattr(cache, "read_entry", spy)
    monkeypatch.setattr(cache, "read_shipped", spy)
    monkeypatch.setattr(engine, "_sample", lambda *a, **k: "sampled")
    settings = _settings()
    for model, shapes, variables in (
        ("catalogue", catalogue_shapes(inputs.table), POSTERIOR_VARIABLES),
        ("histories", uplift_shapes(inputs.histories), UPLIFT_SCALARS),
    ):
        seen.clear()
        assert _fit(inputs, model, settings=settings, reweight=False) == "sampled"
        assert len(seen) == 2  # the user's cache, then the shipped fits
        for key, expected, n_draws in seen:
            assert key == _specs(inputs)[model].key(inputs.priors, settings)
            assert expected == shapes and set(variables) <= set(expected)
            assert n_draws == settings.chains * settings.draws


def test_fit_time_estimate_counts_the_compile_only_when_it_is_needed(
    cache_dir, monkeypatch, inputs
):
    """The announced time: sampling scaled to the settings, plus the compile unless this
    process has compiled a model of the same structure; each model keeps its own record."""
    import types

    from forecast.fit import engine
    from forecast.fit.engine import FitSettings

    specs = _specs(inputs)
    spec = specs["histories"]
    settings = FitSettings()
    assert engine._expected_seconds(spec, settings) is None  # nothing recorded
    engine._record_seconds(spec, 40.0, 10.0, settings)
    assert engine._expected_seconds(specs["catalogue"], settings) is None
    fake = types.SimpleNamespace(is_compiled=lambda key: False)
    monkeypatch.setitem(sys.modules, "forecast.fit.sampler", fake)
    assert engine._expected_seconds(spec, settings) == pytest.approx(50.0)
    half = FitSettings(draws=settings.draws // 2, tune=settings.tune // 2)
    assert engine._expected_seconds(spec, half) == pytest.approx(45.0)
    fake.is_compiled = lambda key: key == spec.structure
    assert engine._expected_seconds(spec, settings) == pytest.approx(10.0)
