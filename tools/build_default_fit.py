"""Build the fits that ship with the package (``fits/``): run after the model, the shipped
evidence or the default priors change (a test fails until then: tests/fit/test_shipped.py).

    python tools/build_default_fit.py

It fits the default scenario's two models in an empty cache folder with the default sampler
settings, then copies

- the uplift model's fit (``draws.npz`` and ``meta.json``; the netCDF posterior stays out:
  the export writes one from the draws) to ``fits/<key>/``, under the default priors and
  under each shipped assumption profile's (unless a run would reweight the default fit to
  it), and
- the catalogue model's summary (what a forecast needs of it: the prior of catalogue_gain,
  the diagnostics and the provenance) to ``fits/summaries/<key>.json``, and its draws to
  ``fits/<key>/`` (the full sensitivity ranking reweights them),

and removes every other entry of ``fits/``. A forecast of the shipped evidence under the
default priors and settings then reads these instead of fitting (no compile, no sampling).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ship(source: Path, target: Path) -> None:
    """A cache entry's draws and meta (without the netCDF posterior: the export writes one
    from the draws, so its checksum is dropped) copied to ``target``."""
    target.mkdir()
    shutil.copyfile(source / "draws.npz", target / "draws.npz")
    meta = json.loads((source / "meta.json").read_text())
    meta["files_sha256"] = {}
    (target / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def main() -> int:
    folder = ROOT / "fits"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FORECAST_CACHE_DIR"] = tmp
        sys.path.insert(0, str(ROOT))
        from forecast.buffer.forecasting import HISTORIES_SETTINGS, fit_both
        from forecast.fit import cache
        from forecast.fit.cache import entry_dir
        from forecast.fit.catalogue import CatalogueSummary
        from forecast.fit.engine import FitSettings
        from forecast.inputs.profiles import profile_priors, shipped_profiles
        from forecast.inputs.resolve import resolve

        # fit from scratch: the fits already in fits/ must not answer
        cache.shipped_dir = lambda: None

        def log(message: str) -> None:
            print(message, file=sys.stderr)

        inputs = resolve(None)
        staging = Path(tmp) / "staging"
        (staging / "summaries").mkdir(parents=True)
        shipped = []
        # the default priors first, then each shipped profile's (their fits serve the
        # headline's profile range and `forecast explain` without sampling)
        for name in [None, *(n for n in shipped_profiles() if n != "central")]:
            priors = inputs.priors if name is None else profile_priors(name)[0]
            fits = fit_both(
                dataclasses.replace(inputs, priors=priors),
                FitSettings(seed=HISTORIES_SETTINGS.seed),
                HISTORIES_SETTINGS,
                log=log,
            )
            label = name or "default"
            for fitted, model in ((fits.catalogue.fit, "catalogue"), (fits.histories, "uplift")):
                if fitted is not None and not fitted.diagnostics.ok:
                    print(f"the {model} fit ({label}) failed its diagnostics: "
                          f"{fitted.diagnostics.problems}")  # fmt: skip
                    return 1
            if fits.histories.how != "sampled":
                log(f"{label}: the uplift fit is {fits.histories.how}; a run does the same")
                continue
            _ship(entry_dir(fits.histories.key), staging / fits.histories.key)
            shipped.append(f"{label}: fits/{fits.histories.key}")
            if name is None:
                # the catalogue model's draws too: the full sensitivity ranking reweights them
                _ship(entry_dir(fits.catalogue.key), staging / fits.catalogue.key)
                summary = CatalogueSummary.of(fits.catalogue.fit)
                (staging / "summaries" / f"{summary.key}.json").write_text(
                    json.dumps(summary.to_dict(), indent=2, default=str) + "\n"
                )
        (staging / "README.md").write_text(
            "Fits shipped with the package, built by `python tools/build_default_fit.py` "
            "(its docstring says what each file is). Do not edit by hand.\n"
        )
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(staging, folder)
    print("uplift model fits: " + "; ".join(shipped))
    print(f"catalogue summary: fits/summaries/{summary.key}.json ({summary.gain_prior})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
