"""forecast.cache: fit entries written whole, checked on read; warm fits skip PyMC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from forecast import cache
from forecast.cache import CorruptEntry, entry_dir, key_of, read_entry, write_entry

KEY = "ab" * 32

#: The shape of one draw of each posterior variable (n_enh: enhancements in the catalogue).
SCALARS = (
    "ceg_global_mean",
    "category_spread",
    "enhancement_spread",
    "scale_slope",
    "ceg_trend",
    "composability_within",
    "composability_between",
    "benchmark_spread",
    "observation_noise",
)


def posterior_shapes(n_enh: int, n_cat: int = 5) -> dict[str, tuple[int, ...]]:
    return dict.fromkeys(SCALARS, ()) | {
        "category_mean": (n_cat,),
        "arrival_rate": (n_cat,),
        "ceg_oom": (n_enh,),
    }


def fake_posterior(n_enh: int, n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Made-up posterior draws with every variable a forecast reads (plausible values)."""
    rng = np.random.default_rng(seed)
    draws = {
        name: rng.uniform(0.2, 0.6, (n, *shape)) for name, shape in posterior_shapes(n_enh).items()
    }
    draws["ceg_oom"] = rng.normal(1.0, 0.3, (n, n_enh))
    draws["category_mean"] = rng.normal(1.0, 0.1, (n, 5))
    draws["arrival_rate"] = np.full((n, 5), 1.5)
    draws["scale_slope"] = np.zeros(n)
    draws["ceg_trend"] = np.zeros(n)
    return draws


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

    import forecast.fit
    from forecast import cache
    from forecast.diagnostics import Diagnostics
    from forecast.evidence import build_table, load_catalogue
    from forecast.fit import FitSettings, fit, fit_key
    from forecast.priors import load_priors

    from test_cache import fake_posterior

    table = build_table(load_catalogue())
    priors = load_priors()
    settings = FitSettings(draws=10, chains=1)
    key = fit_key(table, priors, settings)
    draws = fake_posterior(len(table.enhancement_ids), 10)
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

    forecast.fit._sample = no_sampling  # never run NUTS here, whatever happens
    result = fit(table, priors, settings, progress=False)
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
    tests = os.path.dirname(os.path.abspath(__file__))
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
    from forecast.evidence import build_table, load_catalogue
    from forecast.fit import FitSettings, fit_key
    from forecast.priors import load_priors

    table = build_table(load_catalogue())
    priors = load_priors()
    base = fit_key(table, priors, FitSettings())
    assert base == fit_key(table, priors, FitSettings())
    assert base != fit_key(table, priors, FitSettings(seed=1))
    assert base != fit_key(table, priors, FitSettings(draws=500))
    fit_prior = priors.with_overrides({"composability_within": "Beta(3, 3)"})
    assert base != fit_key(table, fit_prior, FitSettings())
    forecast_prior = priors.with_overrides({"relevance": "Beta(3, 3)"})
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
