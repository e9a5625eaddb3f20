"""The fits shipped in fits/ are the ones a forecast of the default scenario asks for.

``tools/build_default_fit.py`` fits the default scenario's two models with the default
priors and sampler settings and ships the uplift model's fit (``fits/<key>/``) and the
catalogue fit's summary (``fits/summaries/<key>.json``). A change to either model, the
shipped evidence, the default priors or the default settings changes a key; these tests then
fail until the fits are rebuilt. The keys are computed here the way
``forecast.buffer.forecasting.fit_both`` computes them, without sampling anything.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from forecast.buffer.forecasting import HISTORIES_SETTINGS, histories_priors
from forecast.core.distributions import parse_distribution
from forecast.fit.catalogue import CatalogueSummary, FittedEvidence, catalogue_spec
from forecast.fit.diagnostics import Diagnostics
from forecast.fit.engine import FitSettings
from forecast.fit.histories import histories_spec
from forecast.inputs.resolve import resolve

FITS = Path(__file__).resolve().parents[2] / "fits"
REBUILD = "run python tools/build_default_fit.py"
#: The catalogue model's settings in a forecast: its defaults, with the uplift model's seed.
CATALOGUE_SETTINGS = FitSettings(seed=HISTORIES_SETTINGS.seed)


@pytest.fixture(scope="module")
def inputs():
    return resolve(None)


@pytest.fixture(scope="module")
def catalogue_key(inputs) -> str:
    spec = catalogue_spec(inputs.table, inputs.priors)
    return spec.key(inputs.priors, CATALOGUE_SETTINGS)


@pytest.fixture(scope="module")
def summary(catalogue_key) -> CatalogueSummary:
    """The shipped summary of the default catalogue fit (read from fits/ only, never from
    the user's cache)."""
    path = FITS / "summaries" / f"{catalogue_key}.json"
    if not path.is_file():
        found = sorted(p.name for p in (FITS / "summaries").glob("*.json"))
        pytest.fail(
            f"fits/summaries/ has no summary of the catalogue fit the default inputs ask for "
            f"(key {catalogue_key}; found {found or 'none'}): the catalogue model, the shipped "
            f"catalogue, its default priors or settings changed since the fits were built; "
            f"{REBUILD}"
        )
    data = json.loads(path.read_text())
    assert data["key"] == catalogue_key, f"{path} records another key: {REBUILD}"
    return CatalogueSummary(
        data["key"],
        str(data["gain_prior"]),
        Diagnostics.from_dict(data["diagnostics"]),
        dict(data["provenance"]),
    )


@pytest.fixture(scope="module")
def histories_key(inputs, summary) -> str:
    """The uplift model's key under the default priors, with catalogue_gain from the shipped
    catalogue summary (as fit_both sets it)."""
    fitted = FittedEvidence(inputs.catalogue, inputs.table, inputs.priors, None, summary)
    priors = histories_priors(inputs.priors, fitted)
    return histories_spec(inputs.histories, priors).key(priors, HISTORIES_SETTINGS)


@pytest.fixture(scope="module")
def profile_keys(inputs, summary) -> dict[str, str]:
    """The uplift model's key under each shipped profile's priors (as a run of it asks)."""
    from forecast.inputs.profiles import profile_priors, shipped_profiles

    fitted = FittedEvidence(inputs.catalogue, inputs.table, inputs.priors, None, summary)
    out = {}
    for name in shipped_profiles():
        priors = histories_priors(profile_priors(name)[0], fitted)
        out[name] = histories_spec(inputs.histories, priors).key(priors, HISTORIES_SETTINGS)
    return out


def test_the_shipped_catalogue_summary_is_the_default_inputs_and_passed(summary):
    assert summary.diagnostics.ok, (
        f"the shipped catalogue fit failed its diagnostics {summary.diagnostics.problems}: "
        f"{REBUILD} (with more tuning if it fails again)"
    )
    settings = summary.provenance.get("settings")
    assert settings == dataclasses.asdict(CATALOGUE_SETTINGS), f"fitted with {settings}: {REBUILD}"
    parse_distribution(summary.gain_prior)  # a distribution the priors can take


def test_the_shipped_uplift_fit_is_the_default_inputs_and_passed(
    inputs, histories_key, monkeypatch
):
    from forecast.fit import cache

    monkeypatch.setattr(cache, "shipped_dir", lambda: FITS)  # what a checkout reads anyway
    folder = FITS / histories_key
    if not (folder / "meta.json").is_file():
        found = sorted(p.name for p in FITS.iterdir() if p.is_dir() and p.name != "summaries")
        pytest.fail(
            f"fits/ has no uplift-model fit with the key the default inputs ask for "
            f"(key {histories_key}; found {found or 'none'}): the uplift model, the shipped "
            f"histories, the default priors, the catalogue summary or the settings changed "
            f"since the fits were built; {REBUILD}"
        )
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["key"] == histories_key, f"{folder}/meta.json records another key: {REBUILD}"
    # readable exactly as a forecast reads it: checksum, variables, shapes, draw count, labels
    spec = histories_spec(inputs.histories, inputs.priors)
    n = HISTORIES_SETTINGS.chains * HISTORIES_SETTINGS.draws
    try:
        hit = cache.read_shipped(histories_key, spec.shapes, n)
    except cache.CorruptEntry as exc:
        pytest.fail(f"the shipped uplift-model fit cannot be read ({exc}): {REBUILD}")
    assert hit is not None
    labels = {name: tuple(values) for name, values in hit[1]["labels"].items()}
    assert labels == dict(spec.labels), f"the shipped fit's suites or series differ: {REBUILD}"
    diagnostics = Diagnostics.from_dict(meta["diagnostics"])
    assert diagnostics.ok, f"the shipped uplift-model fit failed {diagnostics.problems}: {REBUILD}"


def test_fits_holds_the_shipped_fits_and_nothing_else(
    catalogue_key, histories_key, profile_keys, inputs, monkeypatch
):
    """The default fit, and profiles' fits only under keys a shipped profile asks for (the
    builder ships those a run could not reweight to), each readable and passing."""
    from forecast.fit import cache

    assert cache.shipped_dir() == FITS  # a checkout's forecast reads the fits from here
    fits = {p.name for p in FITS.iterdir() if p.is_dir() and p.name != "summaries"}
    stray = sorted(fits - {histories_key, catalogue_key, *profile_keys.values()})
    expected = {"README.md", f"summaries/{catalogue_key}.json"}
    expected |= {f"{key}/{name}" for key in fits for name in ("draws.npz", "meta.json")}
    present = {p.relative_to(FITS).as_posix() for p in FITS.rglob("*") if not p.is_dir()}
    extra, missing = sorted(present - expected), sorted(expected - present)
    assert not (stray or extra or missing), (
        f"fits/ should hold the default fits only: unexpected {stray + extra}, missing "
        f"{missing}; {REBUILD}"
    )
    by_key = {key: name for name, key in profile_keys.items()}
    n = HISTORIES_SETTINGS.chains * HISTORIES_SETTINGS.draws
    for key in fits - {histories_key, catalogue_key}:
        spec = histories_spec(inputs.histories, inputs.priors)  # shapes: the table's
        assert cache.read_shipped(key, spec.shapes, n) is not None
        meta = json.loads((FITS / key / "meta.json").read_text())
        assert Diagnostics.from_dict(meta["diagnostics"]).ok, f"{by_key[key]}: {REBUILD}"


def test_the_default_catalogue_gain_is_the_shipped_catalogue_fits(inputs, summary):
    """priors/defaults.yaml's catalogue_gain is the summary of the shipped catalogue fit, so
    a forecast of the shipped catalogue keeps it marked as a default."""
    default = inputs.priors.prior("catalogue_gain")
    shipped = parse_distribution(summary.gain_prior)
    assert default == shipped, (
        f"priors/defaults.yaml gives catalogue_gain {default}, but the shipped catalogue fit "
        f"implies {summary.gain_prior}: set it to {summary.gain_prior} there, then {REBUILD}"
    )


def test_a_default_forecast_reads_the_shipped_fits_without_sampling(
    inputs, histories_key, catalogue_key, cache_dir, monkeypatch
):
    """With an empty cache, fit_both reads the catalogue summary and the uplift fit from
    fits/ (no compile, no sampling)."""
    from forecast.buffer.forecasting import fit_both
    from forecast.fit import cache, engine

    monkeypatch.setattr(cache, "shipped_dir", lambda: FITS)  # what a checkout reads anyway

    def no_sampling(spec, *args, **kwargs):
        pytest.fail(f"the default forecast fitted the {spec.name} model: {REBUILD}")

    monkeypatch.setattr(engine, "_sample", no_sampling)
    fits = fit_both(inputs, CATALOGUE_SETTINGS, HISTORIES_SETTINGS)
    assert fits.catalogue.how == "summary" and fits.catalogue.key == catalogue_key
    assert fits.histories.how == "shipped" and fits.histories.key == histories_key
    assert fits.histories.directory == FITS / histories_key
    assert not fits.histories_priors["catalogue_gain"].overridden
