"""Build the fits that ship with the package (``fits/``): run after the model, the shipped
evidence or the default priors change (a test fails until then: tests/fit/test_shipped.py).

    python tools/build_default_fit.py

It fits the default scenario's two models in an empty cache folder with the default sampler
settings, then copies

- the uplift model's fit (``draws.npz`` and ``meta.json``; the netCDF posterior stays out:
  the export writes one from the draws) to ``fits/<key>/``, and
- the catalogue model's summary (what a forecast needs of it: the prior of catalogue_gain,
  the diagnostics and the provenance) to ``fits/summaries/<key>.json``,

and removes every other entry of ``fits/``. A forecast of the shipped evidence under the
default priors and settings then reads these instead of fitting (no compile, no sampling).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    folder = ROOT / "fits"
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FORECAST_CACHE_DIR"] = tmp
        sys.path.insert(0, str(ROOT))
        from forecast.buffer.forecasting import HISTORIES_SETTINGS, fit_both
        from forecast.fit.cache import entry_dir
        from forecast.fit.catalogue import CatalogueSummary
        from forecast.fit.engine import FitSettings
        from forecast.inputs.resolve import resolve

        inputs = resolve(None)
        fits = fit_both(
            inputs,
            FitSettings(seed=HISTORIES_SETTINGS.seed),
            HISTORIES_SETTINGS,
            log=lambda message: print(message, file=sys.stderr),
        )
        for fitted, name in ((fits.catalogue.fit, "catalogue"), (fits.histories, "uplift")):
            if fitted is not None and not fitted.diagnostics.ok:
                print(f"the {name} fit failed its diagnostics: {fitted.diagnostics.problems}")
                return 1
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "summaries").mkdir(parents=True)
        source = entry_dir(fits.histories.key)
        target = folder / fits.histories.key
        target.mkdir()
        shutil.copyfile(source / "draws.npz", target / "draws.npz")
        meta = json.loads((source / "meta.json").read_text())
        meta["files_sha256"] = {}
        (target / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        summary = CatalogueSummary.of(fits.catalogue.fit)
        (folder / "summaries" / f"{summary.key}.json").write_text(
            json.dumps(summary.to_dict(), indent=2, default=str) + "\n"
        )
        (folder / "README.md").write_text(
            "Fits shipped with the package, built by `python tools/build_default_fit.py` "
            "(its docstring says what each file is). Do not edit by hand.\n"
        )
    print(f"uplift model fit: fits/{fits.histories.key}")
    print(f"catalogue summary: fits/summaries/{summary.key}.json ({summary.gain_prior})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
