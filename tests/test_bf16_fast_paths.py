"""The bfloat16 fast paths (issue 15, speed): the two-operand ufunc path without the generic argument walk, ReLU on
the stored bits, and the narrowing threshold. Each is checked bit for bit against the generic float path (which a
keyword argument forces) and against torch where torch's result agrees with that path (finite, not -0.0)."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.backend.bf16 import Bf16Array, Bf16Pending, STORAGE, bits_from_float, float_from_bits
from fastnn.backend.bf16.convert import bits_from_float_numpy

torch = pytest.importorskip("torch")

ALL_BITS = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)


def stored(bits) -> Bf16Array:
    return np.ascontiguousarray(bits, np.uint16).view(STORAGE).view(Bf16Array)


def bits(a) -> np.ndarray:
    """The uint16 bits a stored or pending bf16 result rounds to."""
    if type(a) is Bf16Pending:
        return bits_from_float_numpy(a.view(np.ndarray))
    return np.asarray(a).view(np.ndarray).view(np.uint16)


def generic(ufunc, *args):
    # a keyword the ufunc already defaults to sends the call down the generic path
    return ufunc(*args, casting="same_kind")


def test_relu_on_bits_equals_the_float_path_for_every_pattern():
    x = stored(ALL_BITS)
    fast = np.maximum(x, 0)
    assert type(fast) is Bf16Array
    ref = bits_from_float_numpy(np.maximum(float_from_bits(ALL_BITS, native=False), np.float32(0)))
    np.testing.assert_array_equal(bits(fast), ref)
    np.testing.assert_array_equal(bits(fast), bits(generic(np.maximum, x, 0)))
    np.testing.assert_array_equal(bits(np.maximum(x, 0.0)), ref)
    for part in (x[::7], x.reshape(256, 256)[:, ::3], x[:0]):  # strided and empty views
        np.testing.assert_array_equal(bits(np.maximum(part, 0)), bits(generic(np.maximum, part, 0)))
    for v in (x[0x3F80:0x3F81].reshape(()), x[0xBF80:0xBF81].reshape(())):  # 0-d: the float path, as before
        np.testing.assert_array_equal(np.asarray(bits(np.maximum(v, 0))).reshape(()),
                                      np.asarray(bits(generic(np.maximum, v, 0))).reshape(()))
        assert fastnn.relu(fastnn.Tensor._wrap(v)).shape == ()
    # torch agrees except on NaN payloads and -0.0, which it keeps (the float path rounds them to 0xFFFF / +0.0)
    t = torch.relu(torch.from_numpy(ALL_BITS.view(np.int16).copy()).view(torch.bfloat16))
    tb = t.view(torch.int16).numpy().view(np.uint16)
    keep = ~np.isnan(float_from_bits(ALL_BITS)) & (ALL_BITS != 0x8000)
    np.testing.assert_array_equal(bits(fast)[keep], tb[keep])


def test_relu_tensor_uses_bits_and_matches_torch():
    rng = np.random.default_rng(1)
    v = rng.standard_normal((7, 33)).astype(np.float32)
    x = fastnn.tensor(v).to(fastnn.bfloat16).requires_grad_(True)
    tx = torch.tensor(v).to(torch.bfloat16).requires_grad_(True)
    y, ty = fastnn.relu(x), torch.relu(tx)
    np.testing.assert_array_equal(bits(y._data), ty.detach().view(torch.int16).numpy().view(np.uint16))
    g = rng.standard_normal((7, 33)).astype(np.float32)
    y.backward(fastnn.tensor(g).to(fastnn.bfloat16))
    ty.backward(torch.tensor(g).to(torch.bfloat16))
    # values, not bits: fastnn's masked gradient is g * mask (-0.0 where a negative g is masked, in fp32 too)
    # where torch's threshold_backward writes +0.0
    np.testing.assert_array_equal(float_from_bits(bits(x.grad._data)), tx.grad.float().numpy())


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.true_divide, np.maximum, np.greater,
                                   np.power, np.arctan2])
def test_binary_fast_path_equals_generic(ufunc):
    rng = np.random.default_rng(2)
    a = stored(rng.integers(0, 1 << 16, (64, 50), dtype=np.uint32).astype(np.uint16))
    b = stored(rng.integers(0, 1 << 16, (64, 50), dtype=np.uint32).astype(np.uint16))
    mask = rng.random((64, 50)) > 0.5
    ints = rng.integers(-300, 300, (64, 50))
    with np.errstate(all="ignore"):
        pend = np.add(a, 1.5)  # a pending operand
        for x, y in [(a, b), (a, 2), (3.25, b), (pend, b), (a, pend), (a, mask), (mask, b), (a, ints), (a, True)]:
            fast, ref = ufunc(x, y), generic(ufunc, x, y)
            assert type(fast) is type(ref)
            if ref.dtype.kind == "b":
                np.testing.assert_array_equal(fast, ref)
            else:
                np.testing.assert_array_equal(bits(fast), bits(ref))


@pytest.mark.parametrize("ufunc", [np.negative, np.exp, np.tanh, np.abs, np.sqrt, np.isnan])
def test_unary_fast_path_equals_generic(ufunc):
    x = stored(ALL_BITS)
    with np.errstate(all="ignore"):
        for v in (x, x[5]):  # a 0-d operand too: NumPy hands back a scalar, narrowed as before
            fast, ref = ufunc(v), generic(ufunc, v)
            assert type(fast) is type(ref)
            if np.asarray(ref).dtype.kind == "b":
                np.testing.assert_array_equal(fast, ref)
            else:
                np.testing.assert_array_equal(bits(fast), bits(ref))


def test_wide_float_operand_is_not_narrowed():
    a = stored(bits_from_float(np.linspace(-3, 3, 40, dtype=np.float32)))
    w = np.linspace(0, 1, 40, dtype=np.float32)
    r = a * w
    assert type(r) is np.ndarray and r.dtype == np.float32
    np.testing.assert_array_equal(r, float_from_bits(a) * w)


@pytest.mark.parametrize("n", [0, 1, 7, 100, 4095, 4096, 5000])
def test_narrowing_small_arrays_native_equals_numpy(n):
    rng = np.random.default_rng(n)
    f = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    np.testing.assert_array_equal(bits_from_float(f), bits_from_float_numpy(f))
    f2 = f.reshape(1, -1)[:, ::2]  # a strided source
    np.testing.assert_array_equal(bits_from_float(f2), bits_from_float_numpy(f2))
    with np.errstate(invalid="ignore"):
        d = f.astype(np.float64)
    np.testing.assert_array_equal(bits_from_float(d), bits_from_float_numpy(d))


def test_cast_backward_hands_pending_values_on_without_aliasing_leaf_grads():
    # ToCopyBackward0 to float32 passes a pending gradient's float32 values on uncopied (the engine adopts an
    # exclusively owned array as .grad and copies a shared one): one pending gradient feeding two casts (add's
    # backward hands the same array to both) must still give two independent .grad arrays of the same values
    rng = np.random.default_rng(3)
    v1, v2, vc = (rng.standard_normal((5, 6)).astype(np.float32) for _ in range(3))
    w1, w2 = fastnn.tensor(v1).requires_grad_(True), fastnn.tensor(v2).requires_grad_(True)
    c = fastnn.tensor(vc).to(fastnn.bfloat16)
    ((w1.to(fastnn.bfloat16) + w2.to(fastnn.bfloat16)) * c).sum().backward()
    t1, t2 = torch.tensor(v1).requires_grad_(True), torch.tensor(v2).requires_grad_(True)
    ((t1.to(torch.bfloat16) + t2.to(torch.bfloat16)) * torch.tensor(vc).to(torch.bfloat16)).sum().backward()
    assert w1.grad.dtype is fastnn.float32 and not np.shares_memory(w1.grad._data, w2.grad._data)
    np.testing.assert_array_equal(w1.grad.numpy(), t1.grad.numpy())
    np.testing.assert_array_equal(w2.grad.numpy(), t2.grad.numpy())
    w1.grad._data[...] = 0  # an in-place change of one .grad leaves the other alone
    np.testing.assert_array_equal(w2.grad.numpy(), t2.grad.numpy())


def test_settle_rounds_as_the_numpy_reference():
    from fastnn.backend.bf16 import settle

    rng = np.random.default_rng(4)
    f = rng.integers(0, 1 << 32, (40, 30), dtype=np.uint64).astype(np.uint32).view(np.float32)
    for p in (f, f[:, ::3], f[3:4, 4].reshape(()), f[:0]):  # contiguous, strided, 0-d, empty
        out = settle(p.view(Bf16Pending))
        assert type(out) is Bf16Array and out.shape == p.shape
        np.testing.assert_array_equal(bits(out), bits_from_float_numpy(p))
