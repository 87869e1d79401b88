"""The CUDA backend's attention kernels (backend/cuda/attention.py on csrc/cuda/attention.cu) against the
composite ones on the same device arrays (CI: the emulated device), and scaled_dot_product_attention on
CUDA against the CPU through the public API."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from cuda_backend_helpers import cuda_backend_with, composite as _composite

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture
def be():
    return cuda_backend_with("attention_forward")


def _close(be, got, want, tol=2e-5):
    np.testing.assert_allclose(be.to_host(got), be.to_host(want), rtol=10 * tol, atol=tol)


def _qkv(be, seed, b, h, lq, lk, d, dv, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = ((b, h, lq, d), (b, h, lk, d), (b, h, lk, dv))
    return tuple(be.asarray(rng.standard_normal(s).astype(dtype)) for s in shapes)


CASES = [  # (b, h, lq, lk, d, dv), causal, mask kind
    ((1, 2, 5, 33, 16, 16), False, None),
    ((2, 1, 33, 70, 8, 16), True, None),
    ((1, 2, 9, 11, 16, 8), False, "bool"),      # (Lq, Lk) mask broadcast over batch and heads, a dead row
    ((2, 2, 6, 7, 6, 5), False, "float"),       # (B, 1, Lq, Lk) additive mask with an -inf row
    ((1, 1, 4, 0, 8, 8), False, None),          # no keys: every row dead
]


def _mask(be, kind, b, lq, lk, seed):
    rng = np.random.default_rng(seed)
    if kind == "bool":
        m = rng.random((lq, lk)) > 0.4
        m[2] = False
        return be.asarray(m)
    if kind == "float":
        m = rng.standard_normal((b, 1, lq, lk)).astype(np.float32)
        m[:, :, 1] = -np.inf
        return be.asarray(m)
    return None


@pytest.mark.parametrize("shape, causal, mask_kind", CASES)
def test_attention_matches_the_composite(be, shape, causal, mask_kind):
    b, h, lq, lk, d, dv = shape
    q, k, v = _qkv(be, sum(shape), *shape)
    mask = _mask(be, mask_kind, b, lq, lk, sum(shape) + 1)
    args = (mask, causal, 0.4 if mask_kind == "float" else None)
    out, lse = be.attention_forward(q, k, v, *args)
    want_out, want_lse = _composite(be, "attention_forward", q, k, v, *args)
    assert out.dtype == lse.dtype == np.float32 and out.shape == (b, h, lq, dv) and lse.shape == (b, h, lq)
    _close(be, out, want_out)
    _close(be, lse, want_lse)
    g = be.asarray(np.random.default_rng(7).standard_normal((b, h, lq, dv)).astype(np.float32))
    got = be.attention_backward(g, q, k, v, out, lse, *args)
    want = _composite(be, "attention_backward", g, q, k, v, out, lse, *args)
    for x, y, like in zip(got, want, (q, k, v)):
        assert x.shape == like.shape and x.dtype == np.float32
        _close(be, x, y, 5e-5)


def test_broadcast_operands_stay_views(be):
    """A key/value head broadcast over the query heads (stride 0) and a transposed query reach the kernel
    as they are; the gradients have the operands' full 4-D shapes, as the composite's."""
    rng = np.random.default_rng(3)
    q = be.asarray(rng.standard_normal((2, 9, 3, 16)).astype(np.float32)).transpose(0, 2, 1, 3)
    k = be.xp.broadcast_to(be.asarray(rng.standard_normal((2, 1, 12, 16)).astype(np.float32)), (2, 3, 12, 16))
    v = be.xp.broadcast_to(be.asarray(rng.standard_normal((2, 1, 12, 8)).astype(np.float32)), (2, 3, 12, 8))
    out, lse = be.attention_forward(q, k, v, None, True, None)
    want_out, want_lse = _composite(be, "attention_forward", q, k, v, None, True, None)
    _close(be, out, want_out)
    g = be.asarray(rng.standard_normal(out.shape).astype(np.float32))
    for x, y in zip(be.attention_backward(g, q, k, v, out, lse, None, True, None),
                    _composite(be, "attention_backward", g, q, k, v, want_out, want_lse, None, True, None)):
        _close(be, x, y, 5e-5)


class _NoKernels:
    def __getattr__(self, name):
        raise AssertionError(f"the native kernel {name} was called")


@pytest.mark.parametrize("dtype, d", [(np.float64, 16), (np.float32, 130)])
def test_other_dtypes_and_wide_heads_go_to_the_composite(be, monkeypatch, dtype, d):
    q, k, v = _qkv(be, 5, 1, 2, 5, 6, d, 4, dtype)
    want = _composite(be, "attention_forward", q, k, v, None, False, None)
    monkeypatch.setattr(be, "native", _NoKernels())
    out, lse = be.attention_forward(q, k, v, None, False, None)
    assert out.dtype == dtype
    np.testing.assert_array_equal(be.to_host(out), be.to_host(want[0]))
    g = be.asarray(np.ones((1, 2, 5, 4), dtype))
    for x, y in zip(be.attention_backward(g, q, k, v, out, lse, None, False, None),
                    _composite(be, "attention_backward", g, q, k, v, out, lse, None, False, None)):
        np.testing.assert_array_equal(be.to_host(x), be.to_host(y))


def test_argument_errors_are_the_composites(be):
    q, k, v = _qkv(be, 6, 1, 1, 3, 4, 8, 8)
    bad = [(q, k, v, be.asarray(np.ones((3, 4), bool)), True, None),          # a mask and is_causal
           (q, k, v, be.asarray(np.ones((3, 5), bool)), False, None),         # a mask that does not broadcast
           (q, k, v, be.asarray(np.ones((3, 4), np.int32)), False, None),     # a mask of another dtype
           (q, k.astype(np.float64), v, None, False, None),                    # mixed dtypes
           (q, k, v, None, False, float("nan"))]                               # a non-finite scale
    for args in bad:
        with pytest.raises((TypeError, ValueError)) as mine:
            be.attention_forward(*args)
        with pytest.raises((TypeError, ValueError)) as theirs:
            _composite(be, "attention_forward", *args)
        assert (type(mine.value), str(mine.value)) == (type(theirs.value), str(theirs.value))


@pytest.mark.parametrize("causal, mask_kind", [(False, None), (True, None), (False, "bool"), (False, "float")])
def test_scaled_dot_product_attention_on_cuda_matches_the_cpu(causal, mask_kind):
    """Through the public API, gradients included: a float mask that requires grad gets its gradient from
    the op's own formula, fed by the kernel's saved logsumexp (a dead row's -inf among them)."""
    rng = np.random.default_rng(11)
    host = [rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 7, 16), (2, 3, 10, 16), (2, 3, 10, 8))]
    if mask_kind == "bool":
        mask = rng.random((7, 10)) > 0.3
        mask[4] = False
    elif mask_kind == "float":
        mask = rng.standard_normal((3, 7, 10)).astype(np.float32)
        mask[:, 2] = -np.inf
    results = []
    for device in ("cpu", "cuda"):
        ts = [fastnn.tensor(a, device=device, requires_grad=True) for a in host]
        m = None if mask_kind is None else fastnn.tensor(mask, device=device, requires_grad=mask_kind == "float")
        out = F.scaled_dot_product_attention(*ts, attn_mask=m, is_causal=causal)
        (out * out).sum().backward()
        grads = ts + ([m] if mask_kind == "float" else [])
        results.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
