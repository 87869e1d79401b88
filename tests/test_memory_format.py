"""fastnn.memory_format: the layouts (strides) to / casts / clone / contiguous / *_like give, against torch's,
and torch.zero_ / torch.fill_."""
import copy
import pickle

import numpy as np
import pytest

import fastnn
from op_helpers import run_both as _both

torch = pytest.importorskip("torch")

FORMATS = ["contiguous_format", "preserve_format", "channels_last", "channels_last_3d"]


def _cl(x):  # NCHW values in NHWC memory, built the same way in both libraries
    return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)


# (name, shape, view): each view is applied to torch and fastnn tensors alike, so their strides agree.
CASES = [
    ("c4d", (2, 3, 4, 5), lambda x: x),
    ("cl4d", (2, 3, 4, 5), _cl),
    ("cl4d_sliced", (2, 3, 4, 5), lambda x: _cl(x)[:, :, ::2]),
    ("permuted4d", (2, 3, 4, 5), lambda x: x.permute(0, 3, 1, 2)),
    ("sliced4d", (2, 3, 4, 6), lambda x: x[:, 1:, :, ::2]),
    ("size1", (2, 1, 4, 1), lambda x: x),
    ("cl_size1", (2, 1, 4, 1), _cl),
    ("empty4d", (2, 0, 4, 1), lambda x: x),
    ("c5d", (2, 3, 2, 2, 3), lambda x: x),
    ("t2d", (3, 4), lambda x: x.t()),
    ("sliced_t2d", (4, 6), lambda x: x[:, ::2].t()),
    ("expanded", (3, 1), lambda x: x.expand(3, 4)),
    ("expanded3d", (2, 3), lambda x: x.expand(4, 2, 3)),
    ("vec", (5,), lambda x: x[::2]),
    ("scalar", (), lambda x: x),
]


def _pair(shape, view):
    base = np.asarray(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) - 3)
    return view(torch.from_numpy(base.copy())), view(fastnn.tensor(base))


def _same(t, f, strides=True):
    assert tuple(f.shape) == tuple(t.shape)
    assert str(f.dtype).rpartition(".")[2] == str(t.dtype).rpartition(".")[2]
    np.testing.assert_array_equal(np.asarray(f.detach().numpy()), t.detach().numpy())
    if strides:
        assert f.stride() == t.stride()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name,shape,view", CASES, ids=[c[0] for c in CASES])
def test_layouts_match_torch(name, shape, view, fmt):
    tx, fx = _pair(shape, view)
    tf, ff = getattr(torch, fmt), getattr(fastnn, fmt)
    assert fx.stride() == tx.stride()
    assert fx.is_contiguous(memory_format=ff) == tx.is_contiguous(memory_format=tf)
    calls = [
        (lambda x, m: x.to(memory_format=m), True),
        (lambda x, m: x.to(torch.float64 if isinstance(x, torch.Tensor) else fastnn.float64, memory_format=m), False),
        (lambda x, m: x.double(memory_format=m), False), (lambda x, m: x.long(memory_format=m), False),
        (lambda x, m: x.half(memory_format=m), False), (lambda x, m: x.bool(memory_format=m), False),
        (lambda x, m: x.int(memory_format=m), False), (lambda x, m: x.float(memory_format=m), True),
        (lambda x, m: x.clone(memory_format=m), False), (lambda x, m: x.contiguous(memory_format=m), True),
    ]
    for call, may_alias in calls:
        t, f = _both(lambda: call(tx, tf), lambda: call(fx, ff))
        if t is None:
            continue
        _same(t, f)
        assert (f is fx) == (t is tx), "aliasing differs from torch's"
        assert may_alias or f is not fx
    for like in ("empty_like", "zeros_like", "ones_like", "rand_like", "randn_like"):
        t, f = _both(lambda: getattr(torch, like)(tx, memory_format=tf),
                     lambda: getattr(fastnn, like)(fx, memory_format=ff))
        if t is not None:
            assert tuple(f.shape) == tuple(t.shape) and f.stride() == t.stride()
    t, f = _both(lambda: torch.full_like(tx, 7, memory_format=tf), lambda: fastnn.full_like(fx, 7, memory_format=ff))
    if t is not None:
        _same(t, f)


@pytest.mark.parametrize("name,shape,view", CASES, ids=[c[0] for c in CASES])
def test_defaults_preserve_like_torch(name, shape, view):
    tx, fx = _pair(shape, view)
    _same(tx.clone(), fx.clone())
    _same(tx.double(), fx.double())
    _same(torch.zeros_like(tx), fastnn.zeros_like(fx))
    _same(tx.contiguous(), fx.contiguous())
    _same(tx.to(copy=True), fx.to(copy=True))
    _same(torch.permute_copy(tx, tuple(reversed(range(tx.ndim)))),
          fastnn.permute_copy(fx, tuple(reversed(range(fx.ndim)))))


def test_errors_match_torch():
    for fn in (lambda m, x: x.to(memory_format=m.channels_last), lambda m, x: x.clone(memory_format=m.channels_last),
               lambda m, x: x.contiguous(memory_format=m.channels_last_3d),
               lambda m, x: m.zeros_like(x, memory_format=m.channels_last),
               lambda m, x: x.t().contiguous(memory_format=m.preserve_format),
               lambda m, x: m.empty(2, 3, memory_format=m.preserve_format),
               lambda m, x: m.empty(2, 3, memory_format=m.channels_last)):
        _both(lambda: fn(torch, torch.ones(3, 4)), lambda: fn(fastnn, fastnn.ones(3, 4)))
    with pytest.raises(TypeError, match="memory_format"):
        fastnn.ones(2, 3).to(memory_format="channels_last")
    with pytest.raises(TypeError, match="cannot create"):
        fastnn.memory_format()
    with pytest.raises(TypeError):
        fastnn.ones(2).float(fastnn.contiguous_format)  # keyword-only, as torch's


def test_empty_channels_last():
    assert fastnn.empty(2, 3, 4, 5, memory_format=fastnn.channels_last).stride() == \
        torch.empty(2, 3, 4, 5, memory_format=torch.channels_last).stride()


def test_the_formats_are_singletons():
    assert repr(fastnn.channels_last) == "fastnn.channels_last"
    assert str(fastnn.preserve_format) == "fastnn.preserve_format"
    for f in (fastnn.contiguous_format, fastnn.preserve_format, fastnn.channels_last, fastnn.channels_last_3d):
        assert isinstance(f, fastnn.memory_format)
        assert pickle.loads(pickle.dumps(f)) is f and copy.deepcopy(f) is f


def test_gradients_flow_through_layout_changes():
    x = fastnn.randn(2, 3, 4, 5, requires_grad=True)
    y = x.to(memory_format=fastnn.channels_last)
    assert y.grad_fn is not None and y.stride() == (60, 1, 15, 3)
    z = y.clone(memory_format=fastnn.contiguous_format)
    (z * z).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)


def test_zero_and_fill_functions():
    x = fastnn.ones(2, 3)
    assert fastnn.zero_(x) is x and not x.numpy().any()
    assert fastnn.fill_(x, 2.5) is x and (x.numpy() == 2.5).all()
    with pytest.raises(TypeError, match="zero_"):
        fastnn.zero_(3)
