"""NUTS with nutpie: compile a PyMC model once, sample it with progress, stop cleanly.

nutpie compiles the model's log density and gradient with numba and runs the chains as
threads of one process (so a killed run leaves no worker process behind). It was measured
faster here than PyMC's own sampler and JAX-based samplers (docs/performance.md). A compiled
model can be refitted to new data of the same shape without compiling again
(:func:`with_data`), which is what makes simulation-based calibration affordable.

Imports nutpie and PyMC: only a fit imports this module.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import numpy as np

#: ``on_progress(done, total)``: draws (tuning included) finished over all chains.
ProgressCallback = Callable[[int, int], None]
_TEMPLATE = "{{ total_finished_draws }} {{ total_draws }}"


def callback_signatures():
    """The C signatures of nutpie's callbacks, as its numba backend declares them:
    ``logp(dim, x, grad, logp, user_data) -> code`` and
    ``expand(dim, n_expanded, x, out, user_data) -> code``."""
    import numba

    t = numba.types
    pointer = t.CPointer(t.double)
    return (
        t.int64(t.uint64, pointer, pointer, pointer, t.voidptr),
        t.int64(t.uint64, t.uint64, pointer, pointer, t.voidptr),
    )


#: Compiled models of this process by structure key (see :func:`compiled_for`).
_COMPILED: dict[str, object] = {}


def compile_model(model):
    """The nutpie-compiled model (numba backend) of a PyMC model.

    Through :func:`forecast.fit.cached_callbacks.compile_cached` (callbacks numba caches on
    disk, so a new process loads the graph instead of compiling it for tens of seconds);
    if that fails (it uses nutpie's and PyTensor's internals), nutpie's own compile.
    The compile runs in a helper thread while this one waits in short steps: numba's LLVM
    passes do not look at signals, so waiting here keeps Ctrl-C responsive during the tens
    of seconds a first compile takes.
    """
    import nutpie

    def build():
        try:
            from forecast.fit.cached_callbacks import compile_cached

            return compile_cached(model, callback_signatures())
        except Exception:  # noqa: BLE001 - the uncached compile gives the same model
            return nutpie.compile_pymc_model(model, backend="numba")

    return _responsive(build)


def _responsive(work: Callable[[], object]):
    """``work()`` run in a daemon thread; the calling thread waits so signals reach it."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="forecast-compile", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if "error" in box:
        raise box["error"]
    return box["value"]


def is_compiled(key: str) -> bool:
    """Whether this process has already compiled a model of graph structure ``key``."""
    return key in _COMPILED


def compiled_for(key: str, build: Callable[[], object], data: dict):
    """A compiled model for graph structure ``key``, with ``data`` in its containers.

    The first request for a structure builds and compiles the model (``build()`` returns the
    PyMC model); later ones in the same process reuse it with new data. Returns
    ``(compiled, reused)``.
    """
    if key in _COMPILED:
        return with_data(_COMPILED[key], **data), True
    compiled = compile_model(build())
    _COMPILED[key] = compiled
    return compiled, False


def prepare(spec, priors) -> tuple[object, list[str]]:
    """The compiled model of ``spec`` (a :class:`forecast.fit.engine.ModelSpec`) under
    ``priors``, and the names of its sampled variables (for the diagnostics).

    A spec with its own ``compile`` (the uplift model's kernels) needs no PyMC; otherwise
    the PyMC model is built and compiled once per structure and process
    (:func:`compiled_for`)."""
    if spec.compile is not None:
        compiled = spec.compile(priors)
        return compiled, list(compiled.free_names)
    model = spec.build(priors)
    compiled, _ = compiled_for(spec.structure, lambda: model, spec.data(priors))
    return compiled, [v.name for v in model.free_RVs]


def with_data(compiled, **data):
    """The same compiled model with new values for its ``pm.Data`` containers (containers
    the graph does not use, such as interval ends when there are no intervals, are skipped)."""
    used = getattr(compiled, "shared_data", data)
    return compiled.with_data(**{name: value for name, value in data.items() if name in used})


def sample(
    compiled,
    *,
    draws: int,
    tune: int,
    chains: int,
    target_accept: float,
    seed: int,
    cores: int | None = None,
    on_progress: ProgressCallback | None = None,
):
    """Sample ``compiled`` with NUTS; returns ArviZ ``InferenceData``.

    The mass matrix is diagonal, or diagonal plus low rank when the compiled model asks for
    it (``low_rank_mass_matrix``: the uplift model, whose attention factors and their
    spread are correlated).

    ``on_progress`` is called from the sampler's thread about five times a second. A
    KeyboardInterrupt while waiting cancels the chains before it propagates.
    """
    import os

    import nutpie

    cores = cores or min(chains, os.cpu_count() or 1)
    low_rank = bool(getattr(compiled, "low_rank_mass_matrix", False))
    kwargs = dict(
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=seed,
        target_accept=target_accept,
        progress_bar=False,
        blocking=False,
        low_rank_modified_mass_matrix=low_rank,
    )
    sampler = None
    if on_progress is not None:
        sampler = _with_progress(compiled, kwargs, on_progress)
    if sampler is None:
        sampler = nutpie.sample(compiled, **kwargs)
    try:
        while not _finished(sampler):
            threading.Event().wait(0.1)  # short waits keep Ctrl-C responsive
        return sampler.wait()
    except BaseException:
        sampler.cancel()
        raise


def sample_on(compiled, data: dict, settings, seed: int):
    """Sample the compiled model again on new values of its data containers (a
    cross-validation fold, an SBC fit), with ``settings``' draws, tuning, chains and
    target acceptance and the given seed."""
    return sample(
        with_data(compiled, **data),
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        target_accept=settings.target_accept,
        seed=seed,
    )


def _finished(sampler) -> bool:
    try:
        return bool(sampler.is_finished)
    except TimeoutError:  # nutpie's check times out while the chains hold its lock
        return False


def _with_progress(compiled, kwargs: dict, on_progress: ProgressCallback):
    """A background sampler that reports progress through ``on_progress``.

    nutpie's public API shows progress only as its own bar or notebook widget; its template
    callback (used for notebooks) is reached through the sampler class. If that inner API
    changes, None is returned and the caller samples without progress.
    """
    try:
        from nutpie import _lib
        from nutpie.sample import _BackgroundSampler

        numbers = re.compile(r"(\d+)\s+(\d+)")

        def callback(text: str) -> None:
            found = numbers.search(text)
            if found:
                on_progress(int(found.group(1)), int(found.group(2)))

        low_rank = kwargs["low_rank_modified_mass_matrix"]
        kind = _lib.PyNutsSettings.LowRank if low_rank else _lib.PyNutsSettings.Diag
        settings = kind(kwargs["seed"])
        settings.num_tune = kwargs["tune"]
        settings.num_draws = kwargs["draws"]
        settings.num_chains = kwargs["chains"]
        settings.target_accept = kwargs["target_accept"]
        progress_type = _lib.ProgressType.template_callback(
            200, _TEMPLATE, kwargs["cores"], callback
        )
        # The sampler class, set up as its constructor would, but with the callback.
        sampler = object.__new__(_BackgroundSampler)
        sampler._settings = settings
        sampler._compiled_model = compiled
        sampler._save_warmup = True
        sampler._return_raw_trace = False
        sampler._html = None
        sampler._store = _lib.PyStorage.arrow()
        sampler._sampler = compiled._make_sampler(
            settings, np.zeros(compiled.n_dim), kwargs["cores"], progress_type, sampler._store
        )
        return sampler
    except Exception:  # noqa: BLE001 - an inner API we only use for a progress bar
        return None
