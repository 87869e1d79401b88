"""CPU autocast's state and casts (torch's autocast dispatch key, for the ops fastnn routes through it).

``ACTIVE`` counts enabled CPU autocast regions over all threads: an op tests it (one global read) and pays
nothing more outside autocast; inside, the per-thread state (torch's is thread-local) decides. Two policies,
torch's CPU lists for the ops fastnn has:
- ``lower``: matmul / mm / bmm / linear / conv1d-3d / conv_transpose / addmm-family / sdpa cast their floating
  non-float64 tensors to the autocast dtype (bfloat16), so they compute on bf16 values with fp32 sums and
  return bfloat16;
- ``fp32``: the losses, cdist, prod... cast bfloat16/float16 tensors to float32.
Everything else runs in its inputs' dtype. The casts are ordinary differentiable ``.to(dtype)`` copies, so
gradients reach float32 master weights in float32 and the backward of a cast op runs in bf16, as torch's.

The cast cache (``cache_enabled``): a float32 leaf that requires grad (a weight) is rounded once per outermost
region, as torch's (each use still gets its own cast node); unlike torch, a cached cast is dropped if the weight
was written since (its version), so an optimizer step inside a region cannot leave a stale bf16 copy.
"""
from __future__ import annotations

import functools
import threading

from . import dtypes

ACTIVE = 0  # enabled CPU autocast regions, all threads (the ops' one flag test)
_LOCK = threading.Lock()


class _State(threading.local):
    def __init__(self):
        self.enabled = False
        self.dtype = dtypes.bfloat16
        self.cache_enabled = True
        self.nesting = 0
        self.cache: dict = {}


STATE = _State()


def bump(delta: int) -> None:
    global ACTIVE
    with _LOCK:
        ACTIVE += delta


def _cast(t, dt):
    from ._tensor import Tensor

    if not isinstance(t, Tensor) or t.dtype is dt or not t.dtype.is_floating_point or t.dtype is dtypes.float64:
        return t
    if t.device.type != "cpu":
        return t
    st = STATE
    if st.cache_enabled and t.dtype is dtypes.float32 and t._requires_grad and t.grad_fn is None \
            and t._base is None and dt is st.dtype:
        hit = st.cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1] == t._version:
            return _cast_node(t, hit[2])
        c = t.to(dt)
        st.cache[id(t)] = (t, t._version, c._data)
        return c
    return t.to(dt)


def _cast_node(t, y):
    """A fresh differentiable cast around a cached bf16 array: each use gets its own node (the engine frees a
    node's backward after one pass), the rounding is not redone."""
    from ._tensor import Tensor
    from .autograd.graph import record
    from .backend.bf16 import astype_any

    src = t._data.dtype
    return record(Tensor._wrap(y), "ToCopyBackward0", (t,), lambda g: (astype_any(g, src, copy=False),))


def lower(*ts):
    """The tensors for a lower-precision op: cast to the autocast dtype when this thread's autocast is on."""
    st = STATE
    if not st.enabled:
        return ts
    return tuple(_cast(t, st.dtype) for t in ts)


def fp32(*ts):
    """The tensors for a float32-policy op (losses...): bfloat16 / float16 ones cast to float32."""
    if not STATE.enabled:
        return ts
    return tuple(_cast(t, dtypes.float32) if t is not None and getattr(t, "dtype", None) in
                 (dtypes.bfloat16, dtypes.float16) else t for t in ts)


def applies(weight, input) -> bool:
    """Whether a lower-precision module (LSTM, RNN, RNNCell) with float32 ``weight`` runs ``input`` in the
    autocast dtype now: this thread's CPU autocast on, the input float32 or already bfloat16."""
    from ._tensor import Tensor

    return bool(ACTIVE) and STATE.enabled and isinstance(input, Tensor) and weight.dtype is dtypes.float32 \
        and input.device.type == "cpu" and input.dtype in (dtypes.float32, dtypes.bfloat16)


def on_rounded(fn, *tensors):
    """``fn(*tensors)`` on their values rounded to the autocast dtype (weights through the cache), computed in
    float32 with autocast off inside (its own products must not cast again): the lower-precision modules
    fastnn has no bf16 kernel for. The casts are differentiable, so float32 weights get float32 gradients.
    The caller rounds the results (``.to(STATE.dtype)``)."""
    rounded = [None if t is None else lower(t)[0].float() for t in tensors]
    STATE.enabled = False
    try:
        return fn(*rounded)
    finally:
        STATE.enabled = True


def _policy(n_tensors: int, caster):
    """A decorator for ops whose first ``n_tensors`` positional arguments (and tensor keywords) take a policy."""
    from ._tensor import Tensor

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if ACTIVE and STATE.enabled:
                k = min(n_tensors, len(args))
                args = caster(*args[:k]) + tuple(args[k:])
                kwargs = {name: (caster(v)[0] if isinstance(v, Tensor) else v) for name, v in kwargs.items()}
            return fn(*args, **kwargs)

        return wrapper

    return deco


def lower_precision_op(n_tensors: int):
    return _policy(n_tensors, lower)


def fp32_op(n_tensors: int):
    return _policy(n_tensors, fp32)
