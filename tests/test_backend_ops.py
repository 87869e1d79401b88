"""The generic ops stay on their input's device: run on a fake second device, every array they make or
return belongs to it and nothing crosses over to the host.

The fake device is a NumPy subclass served by its own backend: its array module (``xp``) takes and gives
device arrays, and the arrays refuse what a real device's (CuPy's) would: NumPy functions called on them
directly (``np.concatenate(...)`` instead of ``be.xp.concatenate(...)``) and host arrays mixed into their
math. An op that makes an array with ``np`` or mixes one in fails here; the results must be device arrays,
their backend the fake one, and their values (and gradients) those of the same op on host arrays.
"""
import types

import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import Tensor
from fastnn.backend import backend_of, registry
from fastnn.backend.composite import CompositeBackend
from fastnn.ops.penalty import norm_penalty


class DevArray(np.ndarray):
    """An array on the fake device (registered with the backend registry by the fixture below, which is also
    what makes Tensor._wrap keep it as it is)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [_host_view(x, ufunc.__name__) for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(_host_view(o, ufunc.__name__) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _to_device(result)

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"np.{func.__name__} called on a device array: route it through the backend's xp")


def _host_view(x, what):
    if type(x) is np.ndarray:
        raise TypeError(f"a host array mixed into device math ({what})")
    return x.view(np.ndarray) if isinstance(x, DevArray) else x


def _to_device(x):
    """Arrays and NumPy scalars as device arrays (a device has no scalars: CuPy returns 0-d arrays)."""
    if isinstance(x, tuple):
        return tuple(_to_device(v) for v in x)
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x).view(DevArray)
    return x


def _unwrap(x):
    if isinstance(x, DevArray):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


class _DeviceNumpy:
    """NumPy as the fake device's array module: functions take and give device arrays; ufuncs pass as they
    are (DevArray.__array_ufunc__ serves them); dtypes, constants and classes (errstate) are NumPy's."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        obj = getattr(self._module, name)
        if isinstance(obj, types.ModuleType):
            return _DeviceNumpy(obj)
        if isinstance(obj, (type, np.ufunc)) or not callable(obj):
            return obj

        def call(*args, **kwargs):
            return _to_device(obj(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))

        return call


class _DeviceGenerator:
    def __init__(self):
        self._rng = np.random.default_rng(0)

    def random(self, *args, **kwargs):
        return _to_device(self._rng.random(*args, **kwargs))


class FakeDeviceBackend(CompositeBackend):
    name = "fake-device"
    xp = _DeviceNumpy(np)

    def generator(self):
        return _DeviceGenerator()


FAKE = FakeDeviceBackend(fastnn.device("cpu"))  # the ops tell devices apart by backend, not by device name


@pytest.fixture(autouse=True)
def fake_device(monkeypatch):
    monkeypatch.setitem(registry._BY_TYPE, DevArray, FAKE)


def _on_device(arr):
    return arr.view(DevArray)


RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
P = RNG.uniform(0.05, 0.95, (3, 4))  # probabilities for binary cross-entropy
POS = RNG.uniform(0.5, 2.0, (3, 4))
W = RNG.standard_normal((5, 4))  # a weight / embedding matrix
IDX = np.array([[0, 2, 2], [4, 1, 0]])
LABELS = np.array([1, 0, 3])

# name -> (op on tensors, its float inputs, its constant (non-differentiated) inputs)
CASES = {
    "div": (lambda a, b: a / b, (X, Y), ()),
    "div scalar": (lambda a: 1.5 / a, (X,), ()),
    "pow": (lambda a: a.abs() ** 1.5, (X,), ()),
    "pow tensor exponent": (lambda a, b: a.abs() ** b, (X, Y), ()),
    "exp log sqrt": (lambda a: (a.exp() + 1).log().sqrt(), (X,), ()),
    "abs sign": (lambda a: a.abs() * a.sign(), (X,), ()),
    "clamp": (lambda a: a.clamp(-0.5, 0.5), (X,), ()),
    "maximum minimum": (lambda a, b: fastnn.maximum(a, b) + fastnn.minimum(a, b), (X, Y), ()),
    "where": (lambda a, b: fastnn.where(a > b, a, b * 2) + fastnn.where(b > 0, 0.5, a), (X, Y), ()),
    "masked_fill": (lambda a: a.masked_fill(a > 0, 2.0), (X,), ()),
    "sum": (lambda a: a.sum() + a.sum(1).sum(), (X,), ()),
    "mean": (lambda a: a.mean(0), (X,), ()),
    "var std": (lambda a: a.var(1) + a.std(0).sum(), (X,), ()),
    "max min": (lambda a: a.max() + a.max(1).values.sum() + a.min(0, keepdim=True).values.sum(), (X,), ()),
    "amax amin": (lambda a: a.amax(1) + a.amin(1), (X,), ()),
    "logsumexp": (lambda a: a.logsumexp(1), (X,), ()),
    "prod": (lambda a: a.prod(1), (X,), ()),
    "reshape permute": (lambda a: a.reshape(2, 6).permute(1, 0).flatten(), (X,), ()),
    "transpose contiguous": (lambda a: a.transpose(0, 1).contiguous(), (X,), ()),
    "squeeze unsqueeze": (lambda a: a.unsqueeze(1).squeeze(1), (X,), ()),
    "expand": (lambda a: a[:1].expand(3, 4) * a, (X,), ()),
    "cat stack": (lambda a, b: fastnn.cat([a, b], 0) + fastnn.stack([a, b]).reshape(6, 4), (X, Y), ()),
    "narrow split chunk": (lambda a: a.narrow(1, 1, 2).sum() + fastnn.split(a, 2, 1)[1].sum() + a.chunk(3)[2].sum(),
                           (X,), ()),
    "getitem basic": (lambda a: a[1:, ::2] * 2, (X,), ()),
    "getitem scalar": (lambda a: a[1, 2] * 2, (X,), ()),
    "getitem advanced": (lambda a, i: a[i], (X,), (np.array([2, 0, 2]),)),
    "getitem mask": (lambda a: a[a > 0], (X,), ()),
    "index_select": (lambda a, i: a.index_select(1, i), (X,), (np.array([3, 3, 0]),)),
    "matmul": (lambda a, b: a @ b.T, (X, Y), ()),
    "mse l1": (lambda a, b: F.mse_loss(a, b) + F.l1_loss(a, b, reduction="sum"), (X, Y), ()),
    "huber smooth_l1": (lambda a, b: F.huber_loss(a, b, reduction="none") + F.smooth_l1_loss(a, b, beta=0.5),
                        (X, Y), ()),
    "binary_cross_entropy": (lambda a, t: F.binary_cross_entropy(a, t), (P,), (P[::-1].copy(),)),
    "bce with logits": (lambda a, t, w: F.binary_cross_entropy_with_logits(a, t, pos_weight=w), (X,), (P, POS)),
    "multi_margin": (lambda a, t: F.multi_margin_loss(a, t, p=2), (X,), (LABELS,)),
    "hinge_embedding": (lambda a, t: F.hinge_embedding_loss(a, t), (X,), (np.sign(Y),)),
    "embedding": (lambda w, i: F.embedding(i, w, padding_idx=1, scale_grad_by_freq=True), (W,), (IDX,)),
    "embedding max_norm": (lambda w, i: F.embedding(i, w, max_norm=1.0), (W,), (IDX,)),
    "batch_norm train": (lambda a, w, b, rm, rv: F.batch_norm(a, rm, rv, w, b, training=True), (X, X[0], Y[0]),
                         (Y[1], P[0])),
    "batch_norm eval": (lambda a, w, rm, rv: F.batch_norm(a, rm, rv, w, None), (X, X[0]), (Y[1], P[0])),
    "penalties": (lambda a, b: norm_penalty([a, b], "l2") + norm_penalty([b], "l1"), (X, Y), ()),
}


def _run(case, device: bool):
    fn, floats, consts = CASES[case]
    put = _on_device if device else (lambda a: a)
    leaves = [Tensor._wrap(put(a.copy()), requires_grad=True) for a in floats]
    out = fn(*leaves, *[Tensor._wrap(put(c.copy())) for c in consts])
    out.backward(Tensor._wrap(put(np.ones(out.shape, out._data.dtype))))  # the seed on the op's device
    return out, leaves


@pytest.mark.parametrize("case", list(CASES))
def test_op_stays_on_its_device(case):
    out, leaves = _run(case, device=True)
    assert type(out._data) is DevArray and backend_of(out._data) is FAKE
    for t in leaves:
        assert type(t.grad._data) is DevArray, "the gradient left the device"
    ref, ref_leaves = _run(case, device=False)
    np.testing.assert_allclose(out._data.view(np.ndarray), ref._data, rtol=1e-12, atol=1e-12)
    for t, r in zip(leaves, ref_leaves):
        np.testing.assert_allclose(t.grad._data.view(np.ndarray), r.grad._data, rtol=1e-12, atol=1e-12)


MASK_OPS = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "and": lambda a, b: (a > 0) & (b > 0),
    "xor": lambda a, b: (a > 0) ^ (b > 0),
    "invert": lambda a, b: ~(a > b),
    "logical_not": lambda a, b: (a > b).logical_not(),
    "isnan isfinite": lambda a, b: a.isnan() | b.isfinite(),
    "all any": lambda a, b: (a > 0).all(1) | (b > 0).any(1),
    "argmax": lambda a, b: a.argmax(1),
}


@pytest.mark.parametrize("name", list(MASK_OPS))
def test_comparisons_and_masks_stay_on_the_device(name):
    op = MASK_OPS[name]
    out = op(Tensor._wrap(_on_device(X.copy())), Tensor._wrap(_on_device(Y.copy())))
    assert type(out._data) is DevArray
    np.testing.assert_array_equal(out._data.view(np.ndarray), op(fastnn.tensor(X), fastnn.tensor(Y))._data)


def test_dropout_masks_come_from_the_devices_generator():
    x = Tensor._wrap(_on_device(np.ones((4, 6))), requires_grad=True)
    for y in (F.dropout(x, 0.5), F.dropout2d(x.reshape(1, 4, 2, 3), 0.5).reshape(4, 6)):
        assert type(y._data) is DevArray
        assert set(np.unique(y._data.view(np.ndarray))) <= {0.0, 2.0}


def test_a_device_array_meeting_a_host_one_is_refused():
    """The fake device's own check: without it the tests above could not fail on a stray host array."""
    with pytest.raises(TypeError, match="host array"):
        _on_device(X) + X
    with pytest.raises(TypeError, match="xp"):
        np.concatenate([_on_device(X)])
