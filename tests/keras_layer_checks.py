"""Checks shared by the Keras-parity layer tests: outputs and gradients (w.r.t. inputs and trainable weights,
Keras' through torch autograd) after copying Keras' weights into ours, and config agreement."""
from __future__ import annotations

import math

import fastnn
from keras_helpers import build_pair, rand, to_np
from op_helpers import assert_close


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check(ours, theirs, x, atol=1e-5, rtol=1e-5, grads=True, **call_kwargs):
    """Same outputs after copying Keras' weights into ours, then the same gradients of sum(out * r) w.r.t.
    every (float) input and every trainable weight (Keras through torch autograd)."""
    a, b = build_pair(ours, theirs, x, **call_kwargs)
    assert_close(to_np(a), to_np(b), atol=atol, rtol=rtol, msg="output")
    if not grads:
        return to_np(a)
    xs = _as_list(x)
    import torch

    xt = [torch.tensor(v, requires_grad=True) for v in xs]
    xf = [fastnn.tensor(v, requires_grad=True) for v in xs]
    yt = theirs(xt if isinstance(x, (list, tuple)) else xt[0], **call_kwargs)
    yf = ours(xf if isinstance(x, (list, tuple)) else xf[0], **call_kwargs)
    r = rand(*yt.shape, seed=11)
    (yt * torch.tensor(r)).sum().backward()
    (yf * fastnn.tensor(r)).sum().backward()
    for i, (gf, gt) in enumerate(zip(xf, xt)):
        assert_close(gf.grad, gt.grad.numpy(), atol=atol, rtol=rtol, msg=f"input {i} grad")
    tw = [w for w in theirs.weights if w.trainable]
    ow = [w for w in ours.weights if w.requires_grad]
    assert len(ow) == len(tw)
    for wo, wt in zip(ow, tw):
        assert_close(wo.grad, wt.value.grad.numpy(), atol=atol, rtol=rtol, msg=wt.path)
    return to_np(a)


def _same(a, b) -> bool:
    """Equal configs, floats to float32 precision (Keras stores some, e.g. regularizer factors, as float32)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        same_kind = isinstance(a, tuple) == isinstance(b, tuple)  # Keras' lists may be tracking list subclasses
        return same_kind and len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return a == b


def same_config(ours, theirs, skip=()):
    """Keras' config keys (its base 'dtype' policy aside) are in ours with equal values."""
    co, ct = ours.get_config(), theirs.get_config()
    for k, v in ct.items():
        # the base's keys: Keras' dtype policy, and an activity_regularizer of None that Keras writes out
        if k in ("dtype", "name", "activity_regularizer") or k in skip:
            continue
        assert k in co, f"config key {k!r} missing"
        assert _same(co[k], v), f"config {k}: {co[k]!r} != Keras' {v!r}"
    return co
