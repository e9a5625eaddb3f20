"""The catalogue model's cacheable callbacks: a new process loads them from numba's cache
instead of compiling the graph, and the fit they give is the shipped one, bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import json, sys, time
import numpy as np
from forecast.inputs.resolve import resolve
from forecast.fit.catalogue import catalogue_spec, fit_catalogue
from forecast.fit import sampler
from forecast.fit.engine import FitSettings
inputs = resolve("frontier-api")
spec = catalogue_spec(inputs.table, inputs.priors)
started = time.perf_counter()
compiled = sampler.compile_model(spec.build(inputs.priors))
seconds = time.perf_counter() - started
out = {"kind": type(compiled).__name__, "seconds": seconds,
       "hits": [compiled.compiled_logp_func._cache_hits,
                compiled.compiled_expand_func._cache_hits]}
if sys.argv[2] == "fit":
    fit = fit_catalogue(inputs.table, inputs.priors, FitSettings(), use_cache=False)
    np.savez(sys.argv[1] + ".npz", **fit.draws)
    out["key"] = fit.key
json.dump(out, open(sys.argv[1], "w"))
"""


@pytest.mark.slow
def test_a_new_process_loads_the_callbacks_and_reproduces_the_shipped_fit(tmp_path):
    """The first process compiles the callbacks unless an earlier one did (PyTensor's
    compile folder is the user's: an empty one would recompile every PyTensor function,
    minutes); the second must load both from the cache."""
    env = dict(
        os.environ,
        FORECAST_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    runs = []
    for name, what in (("first", "compile"), ("second", "fit")):
        out = tmp_path / name
        done = subprocess.run([sys.executable, "-c", _SCRIPT, str(out), what], env=env,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(out.read_text()))
    first, second = runs
    assert first["kind"] == second["kind"] == "CachedPyMCModel"
    assert second["hits"] == [1, 1]  # loaded, not compiled, by a new process
    assert second["seconds"] < first["seconds"] or first["hits"] == [1, 1]
    # the default catalogue fit through the cached callbacks is the shipped fit, bit for bit
    shipped = np.load(ROOT / "fits" / second["key"] / "draws.npz")
    fresh = np.load(tmp_path / "second.npz")
    assert set(shipped.files) == set(fresh.files)
    for name in shipped.files:
        np.testing.assert_array_equal(shipped[name], fresh[name])
