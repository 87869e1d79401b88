"""The composite backend's nn, pool and attention kernels (plain ``xp`` code) against the CPU backend's
native ones: same values (float64 ~1e-12, float32 ~1e-5, relative to the output's scale), same shapes and
dtypes, and the same exception types for bad input, over odd, unit, empty and non-contiguous shapes."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastnn
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend
from fastnn.backend.table import KERNELS
from op_helpers import assert_close

COMPOSITE = CompositeBackend(fastnn.device("cpu"))
CPU = CpuBackend(fastnn.device("cpu"))
DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def both(name, *args, **kwargs):
    """(composite result, CPU result) of kernel ``name``."""
    return getattr(COMPOSITE, name)(*args, **kwargs), getattr(CPU, name)(*args, **kwargs)


def same(actual, expected, dtype, scale=1.0, what=""):
    """Element-wise |a - e| <= tol * (scale + |e|) over results, tuples of results and Nones, with equal
    dtypes and shapes. ``scale`` is the size of the terms a result is made of (cancellation leaves the
    rounding of those, not of the result)."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            same(a, e, dtype, scale, f"{what}[{i}]")
        return
    if expected is None:
        assert actual is None, what
        return
    tol = TOL[dtype]
    assert_close(actual, expected, atol=tol * scale, rtol=tol, check_dtype=True, msg=what)


def strided(rng, shape, dtype, scale=1.0):
    """A standard-normal array of ``shape`` whose rows are not contiguous (every other column)."""
    base = rng.standard_normal(shape[:-1] + (2 * shape[-1],)) * scale
    return base.astype(dtype)[..., ::2]


# ---- nn: softmax -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 7), (1, 1), (2, 3, 33), (5,), (0, 4), (4, 0), (2, 1, 130)], ids=str)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_last(dtype, shape, log):
    rng = np.random.default_rng(len(shape) + sum(shape))
    for x in (rng.standard_normal(shape).astype(dtype) * 4, strided(rng, shape, dtype, 4)):
        y, ref = both("softmax_last", x, log)
        same(y, ref, dtype, what="forward")
        g = rng.standard_normal(shape).astype(dtype)
        same(*both("softmax_last_backward", ref, g, log), dtype, scale=float(np.abs(g).max(initial=1)),
             what="backward")


def test_softmax_last_infinities():
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0]])
    for log in (False, True):
        same(*both("softmax_last", x, log), np.float64, what=f"log={log}")


# ---- nn: cross-entropy -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,c", [(5, 7), (1, 1), (9, 130), (0, 3), (3, 2)], ids=str)
@pytest.mark.parametrize("ls", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_cross_entropy_rows(dtype, n, c, ls, ignore_index):
    rng = np.random.default_rng(n * 100 + c)
    t = rng.integers(0, c, n)
    if n > 2:
        t[1] = ignore_index  # an ignored row (with ignore_index = 1 other rows may hit it as well)
    for x in (rng.standard_normal((n, c)).astype(dtype) * 3, strided(rng, (n, c), dtype, 3),
              (rng.standard_normal((c, n)) * 3).astype(dtype).T):
        (loss, lse), ref = both("cross_entropy_rows", x, t, ignore_index, ls)
        same((loss, lse), ref, dtype, scale=3.0, what="forward")
        for grad_rows in (None, rng.standard_normal(n)):  # float64 grad_rows: the kernel casts them
            same(*both("cross_entropy_rows_backward", x, t, ref[1], grad_rows, 0.7, ignore_index, ls), dtype,
                 what=f"backward, grad_rows {'given' if grad_rows is not None else 'None'}")


def test_cross_entropy_rows_extreme_logits():
    x = np.array([[0.0, -np.inf, 2.0], [3e4, 3e4 + 1, -3e4], [np.nan, 0.0, 1.0], [-np.inf, 1.0, 2.0]], np.float32)
    t = np.array([1, 0, 2, 0])
    for ls in (0.0, 0.1):
        (loss, lse), ref = both("cross_entropy_rows", x, t, -100, ls)
        same((loss, lse), ref, np.float32, scale=3e4, what=f"ls={ls}")
        same(*both("cross_entropy_rows_backward", x, t, ref[1], None, 1.0, -100, ls), np.float32,
             what=f"backward, ls={ls}")


# ---- nn: layer norm ----------------------------------------------------------------------------------------

NEEDS = [(True, True, True), (True, False, False), (False, True, False), (False, False, True),
         (False, False, False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d", [(5, 7), (1, 1), (9, 130), (0, 3), (3, 2), (17, 33)], ids=str)
@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
def test_layer_norm_rows(dtype, n, d, affine):
    rng = np.random.default_rng(n * 100 + d)
    w = rng.standard_normal(d).astype(dtype) if affine in ("weight", "both") else None
    b = rng.standard_normal(d).astype(dtype) if affine in ("bias", "both") else None
    for x in (rng.standard_normal((n, d)).astype(dtype) * 2 + 1, strided(rng, (n, d), dtype, 2)):
        out, ref = both("layer_norm_rows", x, w, b, 1e-5)
        same(out, ref, dtype, scale=2.0, what="forward")
        g = rng.standard_normal((n, d)).astype(dtype)
        _, mean, rstd = ref
        # dx = rstd * (g w - mean(g w) - ...): its terms are rstd * |g w| large (rstd = 1/sqrt(eps) on a
        # one-column row), and the result cancels to ~0 there; dweight and dbias add n terms of size ~1.
        w_max = 1.0 if w is None else float(np.abs(w).max(initial=1))
        scale = max(float(np.abs(rstd).max(initial=1) * np.abs(g).max(initial=1)) * w_max, n)
        for need in NEEDS:
            same(*both("layer_norm_rows_backward", x, g, mean, rstd, w, *need), dtype, scale=scale,
                 what=f"backward, need={need}")


# ---- pool ------------------------------------------------------------------------------------------------------

# (kernel, stride, padding, dilation, ceil_mode); the first is the native 2x2/2 fast path
POOL_CONFIGS = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), False),
                ((3, 3), (1, 1), (1, 1), (1, 1), False), ((2, 3), (1, 2), (1, 0), (2, 1), True),
                ((2, 2), (2, 2), (1, 1), (1, 1), True), ((3, 2), (2, 3), (1, 1), (2, 2), True),
                ((1, 1), (3, 3), (0, 0), (1, 1), True), ((3, 1), (1, 1), (1, 0), (1, 1), False)]
POOL_SIZES = [(1, 1, 2, 2), (2, 3, 7, 17), (1, 2, 16, 16), (1, 1, 5, 5), (0, 2, 5, 5), (1, 1, 1, 9)]
AVG_OPTIONS = [(True, None), (False, None), (True, 3), (False, 5)]


def _pool_inputs(rng, size, dtype):
    x = (np.round(rng.standard_normal(size) * 4) / 4).astype(dtype)  # many ties: the first maximum wins
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values, not C-contiguous
    return x, xt


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", POOL_SIZES, ids=str)
@pytest.mark.parametrize("config", POOL_CONFIGS, ids=str)
def test_pool2d(dtype, size, config):
    k, s, p, d, ceil = config
    rng = np.random.default_rng(sum(size) + sum(k))
    x, xt = _pool_inputs(rng, size, dtype)
    try:
        CPU.max_pool2d(x, k, s, p, d, ceil)
    except ValueError:  # output too small for this size: both must say so
        with pytest.raises(ValueError, match="too small"):
            COMPOSITE.max_pool2d(x, k, s, p, d, ceil)
        return
    for arr in (x, xt):
        y, ref = both("max_pool2d", arr, k, s, p, d, ceil)
        same(y, ref, dtype, what="max forward")
        g = rng.standard_normal(ref.shape).astype(dtype)
        same(*both("max_pool2d_backward", arr, g, k, s, p, d, ceil), dtype, what="max backward")
    if d != (1, 1):
        return
    for cip, div in AVG_OPTIONS:
        y, ref = both("avg_pool2d", xt, k, s, p, ceil, cip, div)
        same(y, ref, dtype, what=f"avg forward {cip, div}")
        g = rng.standard_normal(ref.shape).astype(dtype)
        same(*both("avg_pool2d_backward", g, x.shape, k, s, p, ceil, cip, div), dtype, what=f"avg backward {cip, div}")


@pytest.mark.parametrize("config", POOL_CONFIGS[:3], ids=str)
def test_max_pool2d_nan_and_inf(config):
    k, s, p, d, ceil = config
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 8, 12)).astype(np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 1, 2:4, 4:6] = np.nan  # a window of NaNs: the last one wins
    x[1, 1, 5, 7] = np.inf
    x[1, 0, 6, 6] = -np.inf
    y, ref = both("max_pool2d", x, k, s, p, d, ceil)
    same(y, ref, np.float32)
    g = rng.standard_normal(ref.shape).astype(np.float32)
    same(*both("max_pool2d_backward", x, g, k, s, p, d, ceil), np.float32)


def test_max_pool2d_all_minus_inf_window():
    """A window of only -inf sends its gradient to its first tap inside the input, as PyTorch's argmax
    does, on both backends and both native paths (2x2/2 and general)."""
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 0, 0] = 1.0
    g = np.ones((1, 1, 2, 2))
    expect = np.zeros((1, 1, 4, 4))
    expect[0, 0, ::2, ::2] = 1.0
    same(*both("max_pool2d_backward", x, g, (2, 2), (2, 2), (0, 0), (1, 1), False), np.float64)
    np.testing.assert_array_equal(COMPOSITE.max_pool2d_backward(x, g, (2, 2), (2, 2), (0, 0), (1, 1), False), expect)
    # 3x3 windows at stride 2 with padding 1 (the general path): window (0, 0) holds the 1.0; windows (0, 1),
    # (1, 0), (1, 1) are all -inf, and their first taps inside the input are (0, 1), (1, 0), (1, 1).
    # PyTorch's max_pool2d backward gives this same array.
    expect = np.zeros((1, 1, 4, 4))
    expect[0, 0, :2, :2] = 1.0
    for be in (COMPOSITE, CPU):
        got = be.max_pool2d_backward(x, np.ones((1, 1, 2, 2)), (3, 3), (2, 2), (1, 1), (1, 1), False)
        np.testing.assert_array_equal(got, expect)


# ---- attention ----------------------------------------------------------------------------------------------

ATTN_SHAPES = [(2, 3, 5, 7, 4, 3), (1, 1, 1, 1, 1, 1), (1, 2, 50, 61, 16, 8), (2, 1, 7, 3, 5, 2),
               (1, 1, 4, 0, 3, 2), (1, 1, 0, 4, 3, 2), (1, 2, 3, 4, 0, 2), (0, 2, 3, 4, 5, 2)]


def _masks(rng, b, h, lq, lk, dtype):
    """(mask, is_causal) cases: none, causal, bool and float masks of several broadcast shapes, a dead row."""
    dead = rng.random((b, h, lq, lk)) > 0.5
    if lq:
        dead[..., 0, :] = False  # query 0 sees no key
    return [(None, False), (None, True), (rng.random((lq, lk)) > 0.3, False),
            (rng.standard_normal((h, 1, lk)).astype(dtype), False), (rng.random(lk) > 0.2, False),
            (dead, False), (np.where(dead, 0, -np.inf).astype(dtype), False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ATTN_SHAPES, ids=str)
def test_attention(dtype, shape):
    b, h, lq, lk, d, dv = shape
    rng = np.random.default_rng(sum(shape))
    # q: a head-major view of a (B, L, H, D) array; k: broadcast over the batch (stride 0); v: plain
    q = rng.standard_normal((b, lq, h, d)).astype(dtype).transpose(0, 2, 1, 3)
    k = np.broadcast_to(rng.standard_normal((1, h, lk, d)).astype(dtype), (b, h, lk, d))
    v = rng.standard_normal((b, h, lk, dv)).astype(dtype)
    for mask, causal in _masks(rng, b, h, lq, lk, dtype):
        for scale in (None, 0.4):
            what = f"mask {None if mask is None else (mask.dtype, mask.shape)}, causal={causal}, scale={scale}"
            out, ref = both("attention_forward", q, k, v, mask, causal, scale)
            same(out, ref, dtype, what="forward, " + what)
            g = rng.standard_normal(ref[0].shape).astype(dtype)
            same(*both("attention_backward", g, q, k, v, ref[0], ref[1], mask, causal, scale), dtype, scale=10.0,
                 what="backward, " + what)


@pytest.mark.parametrize("lq,lk", [(3, 8), (8, 3)], ids=str)
def test_attention_causal_is_top_left(lq, lk):
    """Query i sees keys 0..i whatever Lk is: row 0 of the output is v[0] exactly."""
    rng = np.random.default_rng(7)
    q, k = rng.standard_normal((1, 1, lq, 4)), rng.standard_normal((1, 1, lk, 4))
    v = rng.standard_normal((1, 1, lk, 2))
    (out, lse), ref = both("attention_forward", q, k, v, None, True, None)
    same((out, lse), ref, np.float64)
    np.testing.assert_allclose(out[0, 0, 0], v[0, 0, 0], rtol=1e-15)


# ---- IEEE edge values: the same infinities and NaNs as the native kernels, and no warnings --------------------

def test_edge_values_give_native_results_without_warnings():
    const = np.array([[2.0, 2.0, 2.0], [1.0, np.inf, 0.0]], np.float32)  # rstd = 1/0 at eps = 0; an inf row
    pool = np.array([[[[np.inf, -np.inf], [1.0, 2.0]]]], np.float32)  # inf + -inf in one window
    q = np.ones((1, 1, 2, 2), np.float32) * 3e19  # scores overflow float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, ref = both("layer_norm_rows", const, None, None, 0.0)
        same(out, ref, np.float32)
        g = np.ones_like(const)
        same(*both("layer_norm_rows_backward", const, g, ref[1], ref[2], None, True, True, True), np.float32)
        same(*both("avg_pool2d", pool, (2, 2), (2, 2), (0, 0), False, True, None), np.float32)
        # the loss, 4.5e38, overflows float32 when it is rounded
        same(*both("cross_entropy_rows", np.array([[3e38, -3e38, 0.0]], np.float32), np.array([1]), -100, 0.5),
             np.float32)
        out, ref = both("attention_forward", q, q, q, None, False, None)
        same(out, ref, np.float32)


# ---- bad input: both backends refuse it with the same exception type ----------------------------------------

def _bad_calls():
    f32 = np.zeros((4, 5), np.float32)
    t = np.array([0, 1, 2, 3])
    x4 = np.zeros((1, 1, 4, 4), np.float32)
    q = np.zeros((1, 1, 3, 2), np.float32)
    return [
        ("softmax_last", (f32.astype(np.int64), False)),
        ("softmax_last_backward", (f32, f32.astype(np.float64), False)),
        ("cross_entropy_rows", (f32, np.array([0, 5, 1, 1]), -100, 0.0)),
        ("cross_entropy_rows", (f32, np.array([0, -1, 1, 1]), -100, 0.0)),
        ("cross_entropy_rows", (f32, t.astype(np.int32), -100, 0.0)),
        ("cross_entropy_rows", (f32, t[:3], -100, 0.0)),
        ("cross_entropy_rows", (f32[None], t, -100, 0.0)),
        ("cross_entropy_rows", (f32, t, -100, 1.5)),
        ("cross_entropy_rows_backward", (f32, t, np.zeros(3, np.float32), None, 1.0, -100, 0.0)),
        ("layer_norm_rows", (f32, None, None, -1.0)),
        ("layer_norm_rows", (f32, np.ones(4, np.float32), None, 1e-5)),
        ("layer_norm_rows", (f32, None, np.ones(5, np.float64), 1e-5)),
        ("layer_norm_rows_backward", (f32, f32[:3], np.zeros(4, np.float32), np.ones(4, np.float32), None,
                                      True, False, False)),
        ("max_pool2d", (x4[0], (2, 2), (2, 2), (0, 0), (1, 1), False)),
        ("max_pool2d", (x4.astype(np.float16), (2, 2), (2, 2), (0, 0), (1, 1), False)),
        ("max_pool2d", (x4, (2, 2), (2, 2), (2, 2), (1, 1), False)),
        ("max_pool2d", (x4, (2, 2), (0, 2), (0, 0), (1, 1), False)),
        ("max_pool2d", (x4, (5, 5), (1, 1), (0, 0), (1, 1), False)),
        ("max_pool2d_backward", (x4, np.zeros((1, 1, 3, 3), np.float32), (2, 2), (2, 2), (0, 0), (1, 1), False)),
        ("avg_pool2d", (x4, (2, 2), (2, 2), (0, 0), False, True, 0)),
        ("avg_pool2d_backward", (np.zeros((1, 1, 2, 2), np.float32), (1, 1, 4, -4), (2, 2), (2, 2), (0, 0), False,
                                 True, None)),
        ("attention_forward", (q[0], q[0], q[0], None, False, None)),
        ("attention_forward", (q, q.astype(np.float64), q, None, False, None)),
        ("attention_forward", (q, q[:, :, :2], q, None, False, None)),
        ("attention_forward", (q, q, q, np.ones((3, 3), bool), True, None)),
        ("attention_forward", (q, q, q, np.ones((3, 3), np.int64), False, None)),
        ("attention_forward", (q, q, q, np.ones((2, 3, 3), bool), False, None)),
        ("attention_forward", (q, q, q, None, False, float("inf"))),
        ("attention_backward", (q, q, q, q, q, np.zeros((1, 1, 2), np.float32), None, False, None)),
    ]


@pytest.mark.parametrize("name,args", _bad_calls(), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_raises_alike(name, args):
    with pytest.raises(Exception) as native:
        getattr(CPU, name)(*args)
    with pytest.raises(Exception) as composite:
        getattr(COMPOSITE, name)(*args)
    assert type(composite.value) is type(native.value), (composite.value, native.value)


def test_every_kernel_is_compared():
    """Each kernel of the three families is named in a ``both(...)`` call of some test above."""
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__]).split("def test_every_kernel_is_compared")[0]
    wanted = set(KERNELS["nn"]) | set(KERNELS["pool"]) | set(KERNELS["attention"])
    missing = sorted(k for k in wanted if f'both("{k}"' not in source)
    assert not missing, missing
