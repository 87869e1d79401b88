"""fastnn.keras reshaping layers (Cropping*, ZeroPadding*, UpSampling1D/3D, Permute), core layers (Identity,
Lambda, Masking, EinsumDense, TimeDistributed), Dot, Softmax / PReLU / ELU and keras.layers.serialize /
deserialize against Keras 3 (torch backend): outputs, gradients w.r.t. inputs and weights, configs."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import build_pair, rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]
KL = keras.layers


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


def same_config(ours, theirs, skip=()):
    """Keras' config keys (its base 'dtype' policy aside) are in ours with equal values."""
    co, ct = ours.get_config(), theirs.get_config()
    for k, v in ct.items():
        if k in ("dtype", "name") or k in skip:
            continue
        assert k in co, f"config key {k!r} missing"
        assert co[k] == v, f"config {k}: {co[k]!r} != Keras' {v!r}"
    return co


# ---- reshaping ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kw,shape", [
    ("Cropping1D", dict(), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(0, 2)), (2, 5, 3)),
    ("Cropping1D", dict(cropping=3), (1, 7, 2)),
    ("Cropping2D", dict(), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=1), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=(1, 2), data_format="channels_first"), (2, 3, 4, 6)),
    ("Cropping3D", dict(), (2, 4, 5, 3, 2)),
    ("Cropping3D", dict(cropping=((0, 1), (1, 0), (0, 0))), (1, 3, 3, 3, 2)),
    ("Cropping3D", dict(cropping=(1, 0, 1), data_format="channels_first"), (2, 2, 4, 3, 5)),
    ("ZeroPadding1D", dict(), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=(0, 3)), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=2, data_format="channels_first"), (2, 3, 4)),
    ("ZeroPadding2D", dict(), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 3))), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=(2, 1), data_format="channels_first"), (1, 2, 3, 4)),
    ("ZeroPadding3D", dict(), (1, 2, 3, 2, 2)),
    ("ZeroPadding3D", dict(padding=((0, 1), (2, 0), (1, 1)), data_format="channels_first"), (1, 2, 2, 3, 2)),
    ("UpSampling1D", dict(), (2, 3, 4)),
    ("UpSampling1D", dict(size=3), (1, 1, 2)),
    ("UpSampling3D", dict(), (1, 2, 3, 2, 2)),
    ("UpSampling3D", dict(size=(1, 3, 2), data_format="channels_first"), (2, 2, 2, 3, 2)),
    ("Permute", dict(dims=(2, 1)), (2, 3, 4)),
    ("Permute", dict(dims=(3, 1, 2)), (2, 3, 4, 5)),
])
def test_reshaping_layers(cls, kw, shape):
    ours, theirs = getattr(L, cls)(**kw), getattr(KL, cls)(**kw)
    out = check(ours, theirs, rand(*shape), atol=0, rtol=0)
    assert tuple(ours.compute_output_shape((None,) + shape[1:]))[1:] == out.shape[1:]
    same_config(ours, theirs)


@pytest.mark.parametrize("cls,kw,shape", [
    ("Cropping1D", dict(cropping=(2, 3)), (2, 5, 3)),
    ("Cropping2D", dict(cropping=((2, 2), (0, 0))), (2, 4, 5, 3)),
    ("Cropping3D", dict(), (1, 2, 4, 4, 1)),
    ("Cropping1D", dict(), (2, 5)),
    ("ZeroPadding2D", dict(), (2, 5, 3)),
    ("UpSampling1D", dict(), (2, 5, 3, 1)),
    ("Permute", dict(dims=(2, 1)), (2, 3, 4, 5)),
])
def test_reshaping_errors_on_call(cls, kw, shape):
    with pytest.raises(ValueError):
        getattr(KL, cls)(**kw)(rand(*shape))
    with pytest.raises(ValueError):
        getattr(L, cls)(**kw)(rand(*shape))


@pytest.mark.parametrize("cls,kw,exc", [
    ("Cropping1D", dict(cropping=(-1, 1)), ValueError),
    ("Cropping1D", dict(cropping=(1, 2, 3)), ValueError),
    ("Cropping2D", dict(cropping=-1), ValueError),
    ("Cropping2D", dict(cropping=(1, 2, 3)), ValueError),
    ("Cropping2D", dict(cropping="a"), ValueError),
    ("Cropping3D", dict(cropping=(1, 2)), ValueError),
    ("ZeroPadding2D", dict(padding=((1, 2, 3), 1)), ValueError),
    ("ZeroPadding3D", dict(padding=(1, 1)), ValueError),
    ("ZeroPadding1D", dict(padding=-1), ValueError),
    ("UpSampling1D", dict(size=2.0), TypeError),
    ("UpSampling1D", dict(size=0), ValueError),
    ("UpSampling3D", dict(size=(1, 0, 1)), ValueError),
    ("Permute", dict(dims=(0, 1)), ValueError),
    ("Permute", dict(dims=(1, 3)), ValueError),
    ("Cropping2D", dict(data_format="nhwc"), ValueError),
])
def test_reshaping_constructor_errors(cls, kw, exc):
    with pytest.raises(exc):
        getattr(KL, cls)(**kw)
    with pytest.raises(exc):
        getattr(L, cls)(**kw)
