"""nutpie's C callbacks for a PyMC model, compiled once per machine (stage 2).

nutpie compiles a PyMC model's log density and gradient with PyTensor's numba backend and
wraps them in C callbacks that read the model's data through a pointer. Two things made the
catalogue model compile for 45-50 s in every new process:

1. PyTensor caches a graph's numba code on disk only when every operation in it has a cache
   key. ``psi`` (digamma, in the gradient of the negative binomial of the arrival counts)
   calls scipy's cython function through a pointer, which PyTensor does not cache. Here
   ``psi`` of a float64 gets a cache key: it calls the same cython function (so the same
   floats), through PyTensor's own helper for caching function pointers (the one its LAPACK
   calls use).
2. nutpie's callbacks hold the data arrays as globals, so numba cannot cache them, and
   compiling them recompiles the whole graph. Here the callbacks are generated as source
   that reads every array through the pointer (addresses and shapes in ``user_data``) and
   are registered with PyTensor's numba cache under a key made of the graph's key and their
   own source, so a later process loads them.

:func:`compile_cached` returns the same kind of object as
``nutpie.compile_pymc_model(model, backend="numba")``, built from the same functions and
initial points, so a fit gives the same draws for the same seed
(``tests/fit/test_cached_callbacks.py`` reproduces the shipped catalogue fit bit for bit).
Both depend on nutpie's and PyTensor's internals (pinned versions);
:func:`forecast.fit.sampler.compile_model` falls back to nutpie's own compile if building
them fails.

Imports PyMC, PyTensor, nutpie and numba (only a fit imports this module).
"""

from __future__ import annotations

import dataclasses
import hashlib

import numba
import numpy as np
from nutpie.compile_pymc import CompiledPyMCModel

#: Bump when the generated callbacks or the psi implementation change (part of the keys).
WRAPPER_VERSION = "3"

# --------------------------------------------------------------------------- psi, cacheable


def _psi_cython():
    """scipy's cython psi for a float64, as PyTensor's numba backend finds it."""
    import scipy.special.cython_special as special
    from pytensor.link.numba.dispatch.cython_support import wrap_cython_function

    return wrap_cython_function(special.psi, np.dtype("float64"), [np.dtype("float64")])


_PSI = _psi_cython()


def psi_address() -> int:
    """The address of scipy's cython psi in this process."""
    return _PSI.__wrapper_address__()


def _register_psi() -> None:
    from numba.core import types
    from pytensor.link.numba.cache import _call_cached_ptr
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
    from pytensor.link.numba.dispatch.scalar import numba_funcify_ScalarOp
    from pytensor.scalar.math import Psi

    function_type = types.FunctionType(_PSI.signature())

    @numba_njit
    def psi_pointer():
        with numba.objmode(ptr=types.intp):
            ptr = psi_address()
        return ptr

    if _PSI.has_pyx_skip_dispatch():

        @numba_njit
        def psi(x):
            fn = _call_cached_ptr(psi_pointer, function_type, "forecast_scipy_psi_float64")
            return fn(x, np.intc(1))

    else:

        @numba_njit
        def psi(x):
            fn = _call_cached_ptr(psi_pointer, function_type, "forecast_scipy_psi_float64")
            return fn(x)

    @register_funcify_and_cache_key(Psi)
    def numba_funcify_psi(op, node, **kwargs):
        dtypes = [v.type.dtype for v in (*node.inputs, *node.outputs)]
        if dtypes != ["float64", "float64"]:
            return numba_funcify_ScalarOp(op, node, **kwargs)
        return psi, f"forecast_psi_float64_scipy_cython_v{WRAPPER_VERSION}"


_register_psi()

# --------------------------------------------------------------------------- callbacks

_LOGP_BODY = """\
def forecast_callback(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    ud = numba.carray(user_data_, ({skip} + {n_words},), np.uint64)[{skip}:]
    x = numba.carray(x_, ({n_dim},))
    out = numba.carray(out_, ({n_dim},))
    logp = numba.carray(logp_, (1,))
{unpack}
    logp_val, grad = inner(x{args})
    logp[0] = logp_val
    out[...] = grad
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(logp_val):
        return 4
    return 0
"""

_EXPAND_BODY = """\
def forecast_callback(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    ud = numba.carray(user_data_, ({skip} + {n_words},), np.uint64)[{skip}:]
    x = numba.carray(x_, ({n_dim},))
    out = numba.carray(out_, ({n_expanded},))
{unpack}
    (values,) = inner(x{args})
    out[...] = values
    return 0
"""


def _unpack(names: list[str], data: dict[str, np.ndarray]) -> tuple[str, str, int]:
    """Source lines reading each array from the pointer words (its address, then its
    shape), the arguments they make, and the number of words."""
    lines, args, offset = [], [], 0
    for i, name in enumerate(names):
        arr = data[name]
        shape = [f"int(ud[{offset + 1 + k}])" for k in range(arr.ndim)]
        size = " * ".join(shape) if shape else "1"
        lines.append(
            f"    d{i} = numba.carray(address_as_void_pointer(ud[{offset}]), ({size},), "
            f"np.{np.dtype(arr.dtype).name}).reshape(({''.join(s + ', ' for s in shape)}))"
        )
        args.append(f", d{i}")
        offset += 1 + arr.ndim
    return "\n".join(lines), "".join(args), max(offset, 1)


def pointer_words(names, data: dict[str, np.ndarray]) -> np.ndarray:
    """What the callbacks read: each array's address and shape, in ``names``' order."""
    words = []
    for name in names:
        words.append(data[name].ctypes.data)
        words.extend(data[name].shape)
    return np.array(words or [0], dtype=np.uint64)


def _callback(template: str, signature, inner, names, data, cache: bool, **sizes):
    """A numba cfunc from ``template``; with ``cache``, cached under the graph's own key
    and the callback's source (None of the graph's key: not cached)."""
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    unpack, args, n_words = _unpack(list(names), data)
    source = template.format(unpack=unpack, args=args, n_words=n_words, **sizes)
    graph_key = CACHED_SRC_FUNCTIONS.get(inner.py_func) if cache else None
    key = None
    if graph_key is not None:
        text = f"{WRAPPER_VERSION}\n{graph_key}\n{source}"
        key = f"forecast_callback_{hashlib.sha256(text.encode()).hexdigest()}"
    function = compile_numba_function_src(
        source,
        "forecast_callback",
        global_env={
            "__name__": __name__,
            "numba": numba,
            "np": np,
            "inner": inner,
            "address_as_void_pointer": address_as_void_pointer,
        },  # fmt: skip
        cache_key=key,
    )
    return numba.cfunc(signature, cache=key is not None)(function)


@dataclasses.dataclass(frozen=True)
class CachedPyMCModel(CompiledPyMCModel):
    """nutpie's compiled PyMC model with cacheable callbacks: ``user_data`` holds the
    addresses and shapes of the arrays in ``shared_data`` (kept alive here)."""

    logp_names: tuple[str, ...] = ()
    expand_names: tuple[str, ...] = ()

    def with_data(self, **updates):
        shared = dict(self.shared_data)
        for name, value in updates.items():
            if name not in shared:
                raise KeyError(f"Unknown shared variable: {name}")
            new = np.array(value, dtype=shared[name].dtype, order="C", copy=True)
            if new.ndim != shared[name].ndim:
                raise ValueError(f"Shared variable {name} must have rank {shared[name].ndim}")
            new.flags.writeable = False
            shared[name] = new
        words = np.concatenate([pointer_words(self.logp_names, shared),
                                pointer_words(self.expand_names, shared)])  # fmt: skip
        return dataclasses.replace(self, shared_data=shared, user_data=words)


def compile_cached(model, signatures) -> CachedPyMCModel:
    """``nutpie.compile_pymc_model(model, backend="numba")``, with callbacks numba caches
    (module docstring). ``signatures``: the C signatures of nutpie's logp and expand
    callbacks (:func:`forecast.fit.sampler.callback_signatures`)."""
    from nutpie import compile_pymc as cp
    from pymc.initial_point import make_initial_point_fn

    initial = make_initial_point_fn(
        model=model,
        overrides=None,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    n_dim, n_expanded, logp_pt, expand_pt, initial_point, shape_info = cp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=cp._wrap_with_lock(initial),
    )
    shared = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared[var.name] = value
    logp_names = tuple(v.name for v in logp_pt.get_shared())
    expand_names = tuple(v.name for v in expand_pt.get_shared())
    logp_words = pointer_words(logp_names, shared)
    logp_signature, expand_signature = signatures
    logp_callback = _callback(
        _LOGP_BODY, logp_signature,
        logp_pt.vm.jit_fn, logp_names, shared, True, n_dim=n_dim, skip=0,
    )  # fmt: skip
    expand_callback = _callback(
        _EXPAND_BODY, expand_signature,
        expand_pt.vm.jit_fn, expand_names, shared, True,
        n_dim=n_dim, n_expanded=n_expanded, skip=len(logp_words),
    )  # fmt: skip
    dims, coords = cp._prepare_dims_and_coords(model, shape_info)
    return CachedPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=initial_point,
        shared_data=shared,
        user_data=np.concatenate([logp_words, pointer_words(expand_names, shared)]),
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        logp_names=logp_names,
        expand_names=expand_names,
    )
