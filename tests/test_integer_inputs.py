"""Integer tensors through linear, bilinear, convolutions, average pooling and local_response_norm, against torch:
the same dtype, exactly the same values (integer division truncating, overflow wrapping), torch's errors for mixed
or unsupported dtypes. Each case runs on both exact paths of ops/int_kernels.py: float64 through the kernels
(small magnitudes) and int64 with xp (forced by ``int_path``, and taken by large magnitudes)."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn.ops import int_kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.torch

RNG = np.random.default_rng(7)


@pytest.fixture(params=["float64", "int64"])
def path(request, monkeypatch):
    if request.param == "int64":  # no bound is below 0: every product-sum takes the integer path
        monkeypatch.setattr(int_kernels, "_EXACT", 0)
    return request.param


def ints(shape, lo=-9, hi=10, dtype=np.int64):
    return RNG.integers(lo, hi, size=shape).astype(dtype)


def check(fn, tfn, *arrays, **kw):
    """fn on fastnn tensors of the arrays in ``arrays`` (other arguments as they are) equals tfn on torch's:
    dtype, shape and values."""
    ours = fn(*[fastnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays], **kw)
    ref = tfn(*[torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in arrays],
              **kw)
    assert ours.dtype.name == str(ref.dtype).replace("torch.", ""), (ours.dtype, ref.dtype)
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    assert ours.grad_fn is None and not ours.requires_grad
    return ours


@pytest.mark.parametrize("xshape", [(5,), (3, 5), (2, 3, 5), (0, 5), (4, 0)])
def test_linear(path, xshape):
    k = xshape[-1]
    x, w, b = ints(xshape), ints((4, k)), ints((4,))
    check(F.linear, TF.linear, x, w, b)
    check(F.linear, TF.linear, x, w)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_linear_wraps_in_its_dtype(path, dtype):
    info = np.iinfo(dtype)
    x, w, b = (ints(s, info.min // 2, info.max // 2, dtype) for s in ((3, 7), (5, 7), (5,)))
    check(F.linear, TF.linear, x, w, b)


def test_linear_large_values_take_the_integer_path():
    x = np.array([[2 ** 62, 2 ** 62, -(2 ** 40)], [3, -(2 ** 52), 1]])
    w = np.array([[2, 3, 2 ** 20], [-1, 7, 5]])
    check(F.linear, TF.linear, x, w, np.array([2 ** 60, -5]))
    check(F.linear, TF.linear, np.array([[2 ** 26, 2 ** 26]]), np.array([[2 ** 26, 2 ** 26]]))  # 2**53: int path


def test_linear_relu_extension():
    x, w = ints((3, 4)), ints((2, 4))
    y = fastnn.linear(fastnn.tensor(x), fastnn.tensor(w), activation="relu")
    np.testing.assert_array_equal(y.numpy(), np.maximum(x @ w.T, 0))


@pytest.mark.parametrize("kw", [{}, {"stride": 2}, {"padding": 2}, {"dilation": 2, "padding": 1}, {"groups": 2},
                                {"padding": "same"}, {"padding": "valid", "stride": 3}])
@pytest.mark.parametrize("dtype", [np.int64, np.int8])
def test_conv1d(path, kw, dtype):
    if dtype is not np.int64 and kw.get("dilation", 1) > 1:
        pytest.skip("torch dilates int64 only (test_dilated_narrow_integers_raise)")
    x, w, b = ints((2, 4, 9), dtype=dtype), ints((6, 4 // kw.get("groups", 1), 4), dtype=dtype), ints((6,), dtype=dtype)
    check(F.conv1d, TF.conv1d, x, w, b, **kw)
    check(F.conv1d, TF.conv1d, x[0], w, None, **kw)  # unbatched, no bias


@pytest.mark.parametrize("kw", [{}, {"stride": (2, 1)}, {"padding": (1, 2)}, {"dilation": (2, 1), "padding": 1},
                                {"groups": 2, "stride": 2}, {"padding": "same"}, {"groups": 4}])
def test_conv2d(path, kw):
    g = kw.get("groups", 1)
    x, w, b = ints((2, 4, 7, 6)), ints((8, 4 // g, 3, 2)), ints((8,))
    check(F.conv2d, TF.conv2d, x, w, b, **kw)
    check(F.conv2d, TF.conv2d, x[1], w, None, **kw)
    check(F.conv2d, TF.conv2d, x[:, :, ::2, ::-1], w, b, **kw)  # a non-contiguous view
    check(F.conv2d, TF.conv2d, x[:0], w, b, **kw)  # empty batch


def test_conv2d_overflow_wraps(path):
    x = np.full((1, 1, 3, 3), 2 ** 61)
    w = np.array([[[[3, -1], [2, 5]]]])
    check(F.conv2d, TF.conv2d, x, w, np.array([2 ** 62]))
    x8, w8 = ints((1, 3, 5, 5), -128, 128, np.int8), ints((2, 3, 3, 3), -128, 128, np.int8)
    check(F.conv2d, TF.conv2d, x8, w8, None)


@pytest.mark.parametrize("kw", [{}, {"stride": 2}, {"stride": 3, "padding": 2, "output_padding": 1},
                                {"dilation": 2, "padding": 1}, {"groups": 2, "stride": 2, "output_padding": 1},
                                {"stride": 1, "dilation": 3, "output_padding": 2, "padding": 1}])
def test_conv_transpose1d(path, kw):
    g = kw.get("groups", 1)
    x, w, b = ints((2, 4, 6)), ints((4, 6 // g, 3)), ints((6,))
    check(F.conv_transpose1d, TF.conv_transpose1d, x, w, b, **kw)
    check(F.conv_transpose1d, TF.conv_transpose1d, x[1], w, None, **kw)


@pytest.mark.parametrize("kw", [{}, {"stride": (2, 3)}, {"stride": 2, "padding": (1, 2), "output_padding": 1},
                                {"dilation": (2, 1), "padding": 1}, {"groups": 2, "stride": 2},
                                {"dilation": 3, "output_padding": 2, "padding": 1}])
def test_conv_transpose2d(path, kw):
    g = kw.get("groups", 1)
    x, w, b = ints((2, 4, 5, 4)), ints((4, 6 // g, 3, 2)), ints((6,))
    check(F.conv_transpose2d, TF.conv_transpose2d, x, w, b, **kw)
    check(F.conv_transpose2d, TF.conv_transpose2d, x[0, :, ::-1], w, None, **kw)
    check(F.conv_transpose2d, TF.conv_transpose2d, x[:0], w, b, **kw)


def test_conv_transpose_bias_promotes_like_torch():
    x, w = ints((1, 2, 5)), ints((2, 3, 2))
    check(F.conv_transpose1d, TF.conv_transpose1d, x, w, ints((3,), dtype=np.int32))  # int bias adds into int64
    check(F.conv_transpose1d, TF.conv_transpose1d, x.astype(np.float32), w.astype(np.float32), ints((3,)))


@pytest.mark.parametrize("dtype", [np.int64, np.int16])
def test_bilinear(path, dtype):
    a, c, w, b = ints((2, 3, 4), dtype=dtype), ints((2, 3, 5), dtype=dtype), ints((6, 4, 5), dtype=dtype), \
        ints((6,), dtype=dtype)
    check(F.bilinear, TF.bilinear, a, c, w, b)
    check(F.bilinear, TF.bilinear, a[0], c[0], w, None)
    check(F.bilinear, TF.bilinear, a[:, :0], c[:, :0], w, b)


@pytest.mark.parametrize("kw", [{}, {"stride": 1}, {"padding": 1}, {"padding": 1, "count_include_pad": False},
                                {"stride": 2, "padding": 1, "ceil_mode": True},
                                {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
                                {"divisor_override": 3}, {"divisor_override": -4, "stride": 1}])
def test_avg_pool2d_truncates(kw):
    x = ints((2, 3, 7, 6), -50, 50)
    check(F.avg_pool2d, TF.avg_pool2d, x, 3 if "stride" not in kw else (3, 2), **kw)
    check(F.avg_pool2d, TF.avg_pool2d, x[0, :, ::2], 2, **kw)
    check(F.avg_pool2d, TF.avg_pool2d, x[:0], 2, **kw)


@pytest.mark.parametrize("kw", [{}, {"stride": 1}, {"padding": 1}, {"padding": 2, "count_include_pad": False},
                                {"stride": 2, "padding": 1, "ceil_mode": True}])
def test_avg_pool1d_truncates(kw):
    x = ints((2, 3, 9), -50, 50)
    check(F.avg_pool1d, TF.avg_pool1d, x, 4, **kw)
    check(F.avg_pool1d, TF.avg_pool1d, x[1, :, ::-2], 3, **{k: v for k, v in kw.items() if k != "padding"})


def test_avg_pool2d_sum_wraps():
    check(F.avg_pool2d, TF.avg_pool2d, np.array([[[[2 ** 62, 2 ** 62, -3, 2 ** 63 - 1]]]]), (1, 2))


@pytest.mark.parametrize("shape,size", [((2, 5, 4), 3), ((1, 4, 3, 2), 2), ((2, 3, 2, 2, 2), 4)])
def test_local_response_norm(shape, size):
    x = ints(shape, -20, 20)
    ours = F.local_response_norm(fastnn.tensor(x), size)
    ref = TF.local_response_norm(torch.from_numpy(x), size)
    assert ours.dtype is fastnn.float32 and ref.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)


def _torch_error(fn, *args, **kw):
    with pytest.raises(Exception) as info:
        fn(*args, **kw)
    return info.type, str(info.value)


@pytest.mark.parametrize("case", [
    ("linear", lambda m, L, f: m.linear(L(2, 3), f(4, 3))),
    ("linear", lambda m, L, f: m.linear(f(2, 3), L(4, 3))),
    ("linear", lambda m, L, f: m.linear(L(2, 3), L(4, 3), f(4))),
    ("conv1d", lambda m, L, f: m.conv1d(L(1, 2, 5), f(3, 2, 2))),
    ("conv1d", lambda m, L, f: m.conv1d(f(1, 2, 5), L(3, 2, 2))),
    ("conv1d", lambda m, L, f: m.conv1d(L(1, 2, 5), L(3, 2, 2), f(3))),
    ("conv2d", lambda m, L, f: m.conv2d(L(1, 2, 5, 5), f(3, 2, 2, 2))),
    ("conv2d", lambda m, L, f: m.conv2d(L(1, 2, 5, 5), L(3, 2, 2, 2), f(3))),
    ("conv_transpose1d", lambda m, L, f: m.conv_transpose1d(L(1, 2, 5), f(2, 3, 2))),
    ("conv_transpose2d", lambda m, L, f: m.conv_transpose2d(L(1, 2, 5, 5), L(2, 3, 2, 2), f(3))),
    ("bilinear", lambda m, L, f: m.bilinear(L(2, 3), L(2, 4), f(5, 3, 4))),
    ("bilinear", lambda m, L, f: m.bilinear(L(2, 3), L(2, 4), L(5, 3, 4), f(5))),
])
def test_mixed_dtypes_raise_torchs_error(case):
    _, build = case

    def run(mod, lib, long_dtype):
        return build(mod, lambda *s: lib.ones(*s, dtype=long_dtype), lambda *s: lib.ones(*s))

    want = _torch_error(run, TF, torch, torch.long)
    got = _torch_error(run, F, fastnn, fastnn.int64)
    assert got == want


@pytest.mark.parametrize("dt", ["int32", "int8", "uint8", "bool"])
@pytest.mark.parametrize("call", [
    lambda m, t: m.avg_pool2d(t(1, 2, 4, 4), 2),
    lambda m, t: m.avg_pool1d(t(1, 2, 4), 2),
    lambda m, t: m.conv_transpose1d(t(1, 2, 5), t(2, 3, 2)),
    lambda m, t: m.conv_transpose2d(t(1, 2, 5, 5), t(2, 3, 2, 2)),
    lambda m, t: m.local_response_norm(t(1, 3, 4), 2),
])
def test_unsupported_integer_dtypes_raise_torchs_error(dt, call):
    want = _torch_error(call, TF, lambda *s: torch.ones(*s, dtype=getattr(torch, dt)))
    got = _torch_error(call, F, lambda *s: fastnn.ones(*s, dtype=getattr(fastnn, dt)))
    assert got == want


@pytest.mark.parametrize("call", [
    lambda m, t: m.conv1d(t(1, 2, 5), t(3, 2, 2), dilation=2),
    lambda m, t: m.conv2d(t(1, 2, 5, 5), t(3, 2, 2, 2), dilation=(1, 2)),
])
def test_dilated_narrow_integers_raise(call):
    want = _torch_error(call, TF, lambda *s: torch.ones(*s, dtype=torch.int32))
    got = _torch_error(call, F, lambda *s: fastnn.ones(*s, dtype=fastnn.int32))
    assert got == want


@pytest.mark.parametrize("call", [
    lambda m, t: m.linear(t(2, 3), t(4, 3)),
    lambda m, t: m.conv1d(t(1, 2, 5), t(3, 2, 2)),
    lambda m, t: m.conv2d(t(1, 2, 5, 5), t(3, 2, 2, 2)),
    lambda m, t: m.bilinear(t(2, 3), t(2, 4), t(5, 3, 4)),
])
def test_bool_raises_torchs_error(call):
    want = _torch_error(call, TF, lambda *s: torch.ones(*s, dtype=torch.bool))
    got = _torch_error(call, F, lambda *s: fastnn.ones(*s, dtype=fastnn.bool))
    assert got == want


def test_conv2d_integer_path_checks_shapes(path):
    x, w = fastnn.tensor(ints((1, 4, 3, 3))), fastnn.tensor(ints((2, 4, 4, 4)))
    with pytest.raises(RuntimeError, match="larger than the padded input"):
        F.conv2d(x, w)


def test_non_contiguous_views(path):
    x, w = ints((2, 3, 5, 6)), ints((4, 3, 2, 3))
    fx, tx = fastnn.tensor(x).transpose(2, 3), torch.from_numpy(x).transpose(2, 3)
    assert not fx.is_contiguous()
    np.testing.assert_array_equal(F.conv2d(fx, fastnn.tensor(w)).numpy(), TF.conv2d(tx, torch.from_numpy(w)).numpy())
    np.testing.assert_array_equal(F.avg_pool2d(fx, 2, padding=1).numpy(), TF.avg_pool2d(tx, 2, padding=1).numpy())
    lw = ints((4, 5))
    np.testing.assert_array_equal(F.linear(fx, fastnn.tensor(lw)).numpy(), TF.linear(tx, torch.from_numpy(lw)).numpy())
    tw = ints((3, 2, 2, 2))
    np.testing.assert_array_equal(F.conv_transpose2d(fx, fastnn.tensor(tw), stride=2).numpy(),
                                  TF.conv_transpose2d(tx, torch.from_numpy(tw), stride=2).numpy())


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        fastnn.tensor(ints((2, 3))).requires_grad_()
