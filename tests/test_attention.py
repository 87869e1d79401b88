"""Fused attention against a float64 NumPy softmax(q k^T scale + mask) v, at every ISA level and 1/2 threads."""
import numpy as np
import pytest

import fastnn
from fastnn import _C

ISAS = list(_C.isa_levels())
DTYPES = [np.float32, np.float64]
# (Lq, Lk, D, Dv): odd sizes, Lq != Lk both ways, single rows/keys, tiles cut short (48/96-row query tiles,
# 256-key tiles), head dims that are and are not whole micro-tiles.
SIZES = [(1, 1, 1, 1), (7, 17, 8, 8), (17, 7, 64, 64), (63, 63, 1, 1), (129, 300, 64, 32), (300, 129, 8, 65),
         (300, 300, 64, 64), (1, 300, 64, 64), (300, 1, 8, 8)]


def reference(q, k, v, mask=None, causal=False, scale=None, grad_out=None):
    """(out, lse[, dq, dk, dv]) in float64; rows no key takes part in give 0 (PyTorch 2.x)."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    if scale is None:  # PyTorch's default; D = 0 gives all-zero scores whatever the scale
        scale = 1 / np.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    m = s.max(-1, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    l = e.sum(-1, keepdims=True)
    live = l > 0
    p = np.where(live, e / np.where(live, l, 1), 0)
    out = p @ v
    lse = np.where(live, np.log(np.where(live, l, 1)) + m, -np.inf)[..., 0]
    if grad_out is None:
        return out, lse
    g = np.asarray(grad_out, np.float64)
    dv = np.swapaxes(p, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * scale
    return out, lse, ds @ k, np.swapaxes(ds, -1, -2) @ q, dv


def assert_close(actual, expected, dtype, depth=1, what=""):
    """Within atol + rtol |ref|, atol growing with the length of the sums (depth) and the values' size."""
    atol, rtol = (2e-6, 1e-4) if dtype == np.float32 else (1e-13, 1e-10)
    atol = atol * np.sqrt(max(depth, 1)) * max(1.0, float(np.abs(expected[np.isfinite(expected)]).max(initial=0)))
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    same_inf = (a == e) & np.isinf(e)
    with np.errstate(invalid="ignore"):
        err = np.where(same_inf, 0, np.abs(a - e))
    bad = ~(err <= atol + rtol * np.abs(np.where(same_inf, 0, e)))
    assert not bad.any(), (f"{what}: {int(bad.sum())} of {bad.size} mismatched; max abs err {np.nanmax(err):.3g}, "
                           f"max rel err {np.nanmax(err / np.maximum(np.abs(e), 1e-30)):.3g}")


def inputs(rng, shape_q, lk, dv, dtype):
    b, h, lq, d = shape_q
    q = rng.standard_normal((b, h, lq, d)).astype(dtype)
    k = rng.standard_normal((b, h, lk, d)).astype(dtype)
    v = rng.standard_normal((b, h, lk, dv)).astype(dtype)
    g = rng.standard_normal((b, h, lq, dv)).astype(dtype)
    return q, k, v, g


def run(q, k, v, g, isa, **kw):
    out, lse = _C.attention_forward(q, k, v, isa=isa, **kw)
    dq, dk, dv = _C.attention_backward(g, q, k, v, out, lse, isa=isa, **kw)
    return out, lse, dq, dk, dv


def check_all(got, ref, dtype, lq, lk, d, dv):
    names = ("out", "lse", "dq", "dk", "dv")
    depths = (lk, d, lk * max(d, dv), lq * max(d, dv), lq)
    for name, a, e, depth in zip(names, got, ref, depths):
        assert_close(a, e, dtype, depth, name)


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lq,lk,d,dv", SIZES)
def test_matches_reference(isa, threads, nthreads, dtype, causal, lq, lk, d, dv):
    threads(nthreads)
    rng = np.random.default_rng(lq * 1009 + lk * 17 + d + dv)
    bh = (2, 3) if lq * lk < 5000 else (1, 2)
    q, k, v, g = inputs(rng, bh + (lq, d), lk, dv, dtype)
    got = run(q, k, v, g, isa, is_causal=causal)
    assert all(x.dtype == dtype for x in got)
    check_all(got, reference(q, k, v, causal=causal, grad_out=g), dtype, lq, lk, d, dv)


def _mask(kind, shape, rng, dtype):
    keep = rng.random(shape) > 0.3
    if kind == "bool":
        return keep
    return np.where(keep, rng.standard_normal(shape), -np.inf).astype(dtype)


# Mask shapes broadcast to (B=2, H=3, Lq, Lk): full, shared over batch/heads, one row per head, one
# column per query, and lower-rank ones.
MASK_SHAPES = ["full", "lq_lk", "b1_lq_lk", "1h1lk", "bh_lq_1", "lk"]


def _mask_shape(name, lq, lk):
    return {"full": (2, 3, lq, lk), "lq_lk": (lq, lk), "b1_lq_lk": (2, 1, lq, lk), "1h1lk": (1, 3, 1, lk),
            "bh_lq_1": (2, 3, lq, 1), "lk": (lk,)}[name]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["bool", "additive"])
@pytest.mark.parametrize("shape", MASK_SHAPES)
@pytest.mark.parametrize("lq,lk", [(17, 7), (63, 300)])
def test_masks_broadcast(isa, threads, dtype, kind, shape, lq, lk):
    threads(2)
    rng = np.random.default_rng(7)
    d, dv = 8, 17
    q, k, v, g = inputs(rng, (2, 3, lq, d), lk, dv, dtype)
    mask = _mask(kind, _mask_shape(shape, lq, lk), rng, dtype)
    got = run(q, k, v, g, isa, attn_mask=mask)
    check_all(got, reference(q, k, v, mask=mask, grad_out=g), dtype, lq, lk, d, dv)


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_strided_mask_and_operands(isa, kind):
    rng = np.random.default_rng(3)
    lq, lk, d, dv = 33, 70, 16, 8
    # Heads-second layouts (B, L, H, D) transposed to (B, H, L, D): rows contiguous, odd head strides.
    q = rng.standard_normal((2, lq, 3, d)).transpose(0, 2, 1, 3)
    k = rng.standard_normal((2, lk, 3, d)).transpose(0, 2, 1, 3)
    v = rng.standard_normal((2, 3, lk, 2 * dv))[..., ::2]  # strided columns: the binding copies
    g = rng.standard_normal((2, 3, lq, dv))[:, :, ::-1]  # negative row stride
    mask = _mask(kind, (lk, lq), rng, np.float64).T  # column stride != 1
    got = run(q, k, v, g, isa, attn_mask=mask, scale=0.3)
    check_all(got, reference(q, k, v, mask=mask, scale=0.3, grad_out=g), np.float64, lq, lk, d, dv)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fully_masked_rows_give_zeros(isa, dtype):
    rng = np.random.default_rng(5)
    q, k, v, g = inputs(rng, (1, 2, 9, 8), 12, 5, dtype)
    mask = rng.random((9, 12)) > 0.5
    mask[[0, 4, 8]] = False
    out, lse, dq, dk, dv = run(q, k, v, g, isa, attn_mask=mask)
    assert np.all(out[:, :, [0, 4, 8]] == 0) and np.all(dq[:, :, [0, 4, 8]] == 0)
    assert np.all(np.isneginf(lse[:, :, [0, 4, 8]]))
    assert np.isfinite(out).all() and np.isfinite(dq).all() and np.isfinite(dk).all() and np.isfinite(dv).all()
    additive = np.where(mask, 0.0, -np.inf).astype(dtype)
    got = run(q, k, v, g, isa, attn_mask=additive)
    check_all(got, reference(q, k, v, mask=mask, grad_out=g), dtype, 9, 12, 8, 5)


@pytest.mark.parametrize("b,h,lq,lk,d,dv", [(0, 2, 5, 5, 4, 4), (1, 2, 0, 5, 4, 4), (1, 2, 5, 0, 4, 3),
                                            (1, 1, 5, 6, 0, 3), (1, 1, 5, 6, 4, 0)])
def test_zero_sizes(isa, b, h, lq, lk, d, dv):
    rng = np.random.default_rng(0)
    q, k, v, g = inputs(rng, (b, h, lq, d), lk, dv, np.float32)
    got = run(q, k, v, g, isa)
    check_all(got, reference(q, k, v, grad_out=g), np.float32, lq, lk, d, dv)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bh,lq,lk,causal,masked", [((1, 1), 300, 300, True, False), ((1, 1), 129, 517, False, True),
                                                    ((2, 2), 200, 257, True, False), ((3, 1), 97, 300, False, False)])
def test_bitwise_identical_across_thread_counts_and_runs(isa, threads, dtype, bh, lq, lk, causal, masked):
    # One head: the backward's split schedule on 2 threads against the per-head one on 1 thread.
    rng = np.random.default_rng(11)
    q, k, v, g = inputs(rng, bh + (lq, 64), lk, 64, dtype)
    kw = {"is_causal": causal, "attn_mask": (rng.random((lq, lk)) > 0.2) if masked else None}
    threads(1)
    one = run(q, k, v, g, isa, **kw)
    threads(2)
    two = run(q, k, v, g, isa, **kw)
    again = run(q, k, v, g, isa, **kw)
    for name, a, b, c in zip(("out", "lse", "dq", "dk", "dv"), one, two, again):
        assert np.array_equal(a, b) and np.array_equal(b, c), f"{name} differs between 1 and 2 threads or runs"


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_exp_matches_numpy(isa, dtype):
    finfo = np.finfo(dtype)
    top = np.log(finfo.max)
    x = np.concatenate([np.linspace(-top * 1.2, top * 1.2, 20001), np.linspace(-1, 1, 1001),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30]]).astype(dtype)
    for base2 in (False, True):
        got = _C.vector_exp(x, base2=base2, isa=isa)
        with np.errstate(over="ignore"):
            ref = np.exp2(x.astype(np.float64)) if base2 else np.exp(x.astype(np.float64))
        normal = (ref >= finfo.tiny * 2) & (ref <= finfo.max)
        rel = np.abs(got[normal] - ref[normal]) / ref[normal]
        assert rel.max() < (3e-7 if dtype == np.float32 else 5e-16), f"base2={base2}: max rel err {rel.max():.3g}"
        assert np.all(got[ref < finfo.tiny / 2] == 0)  # flushed, never a denormal
        over = np.isinf(ref) if dtype == np.float64 else ref > 1.001 * float(finfo.max)
        assert over.any() and np.all(np.isposinf(got[over]))
        assert np.isnan(got[np.isnan(x)]).all()
    assert _C.vector_exp(np.array([-np.inf], dtype), isa=isa)[0] == 0


# ---- the autograd op -------------------------------------------------------------------------------

def _tensors(arrays, grad=True):
    return [fastnn.tensor(a, requires_grad=grad) for a in arrays]


@pytest.mark.parametrize("case", ["plain", "causal", "causal_wide", "bool_mask", "float_mask", "float_mask_grad",
                                  "scale"])
def test_gradcheck_float64(case):
    rng = np.random.default_rng(2)
    lq, lk = (5, 3) if case == "causal_wide" else (3, 5)
    q, k, v = _tensors([rng.standard_normal(s) for s in [(1, 2, lq, 4), (1, 2, lk, 4), (1, 2, lk, 3)]])
    kw = {}
    if case.startswith("causal"):
        kw["is_causal"] = True
    elif case == "bool_mask":
        m = rng.random((lq, lk)) > 0.4
        m[1] = False  # a fully masked row: zero output, zero gradient
        kw["attn_mask"] = m
    elif case == "float_mask":
        kw["attn_mask"] = fastnn.tensor(rng.standard_normal((2, 1, lk)))
    elif case == "float_mask_grad":  # the mask is differentiated too (broadcast over the batch and rows)
        mask = fastnn.tensor(rng.standard_normal((2, 1, lk)), requires_grad=True)
        assert fastnn.autograd.gradcheck(lambda a, b, c, m: fastnn.scaled_dot_product_attention(a, b, c, m),
                                         (q, k, v, mask))
        return
    elif case == "scale":
        kw["scale"] = 0.7
    assert fastnn.autograd.gradcheck(lambda a, b, c: fastnn.scaled_dot_product_attention(a, b, c, **kw), (q, k, v))


@pytest.mark.parametrize("qs,ks,vs", [((7, 5), (9, 5), (9, 3)), ((2, 7, 5), (1, 9, 5), (1, 9, 3)),
                                      ((2, 2, 3, 7, 5), (2, 2, 3, 9, 5), (2, 2, 3, 9, 3))])
def test_op_leading_dims_and_broadcast(qs, ks, vs):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in (qs, ks, vs)]
    q, k, v = _tensors(arrays)
    out = fastnn.scaled_dot_product_attention(q, k, v, is_causal=True)
    g = rng.standard_normal(out.shape)
    out.backward(fastnn.tensor(g))
    ref = reference(*arrays, causal=True, grad_out=g)
    assert_close(out.detach().numpy(), ref[0], np.float64, 9, "out")
    for t, r, name in zip((q, k, v), ref[2:], ("dq", "dk", "dv")):
        # A broadcast operand's gradient sums over the dims it was broadcast along.
        lead = r.ndim - t.ndim
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(t.shape) if n == 1 and r.shape[lead + i] != 1)
        assert_close(t.grad.numpy(), r.sum(axis=axes).reshape(t.shape), np.float64, 9, name)


@pytest.mark.torch
@pytest.mark.parametrize("case", ["plain", "causal", "causal_long_q", "bool_mask", "float_mask", "masked_rows",
                                  "broadcast"])
def test_torch_parity(case):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    lq, lk = (300, 129) if case == "causal_long_q" else (129, 300)
    shapes = [(2, 3, lq, 64), (2, 3, lk, 64), (2, 3, lk, 48)]
    if case == "broadcast":
        shapes = [(2, 3, lq, 64), (1, 3, lk, 64), (1, 3, lk, 48)]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    kw = {}
    if case.startswith("causal"):
        kw["is_causal"] = True
    elif case in ("bool_mask", "masked_rows"):
        m = rng.random((2, 1, lq, lk)) > 0.5
        if case == "masked_rows":
            m[:, :, ::7] = False
        kw["attn_mask"] = m
    elif case == "float_mask":
        kw["attn_mask"] = rng.standard_normal((lq, lk)).astype(np.float32)
    ours = _tensors(arrays)
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    if case == "float_mask":  # a mask that requires grad gets one, as in torch
        ours.append(fastnn.tensor(kw.pop("attn_mask"), requires_grad=True))
        theirs.append(torch.tensor(ours[-1].detach().numpy(), requires_grad=True))
    out = fastnn.scaled_dot_product_attention(*ours, **kw)
    tkw = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val for key, val in kw.items()}
    tout = F.scaled_dot_product_attention(*theirs, **tkw)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(fastnn.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(out.detach().numpy(), tout.detach().numpy(), np.float32, lk, "out")
    for a, b, name in zip(ours, theirs, ("dq", "dk", "dv", "dmask")):
        assert_close(a.grad.numpy(), b.grad.numpy(), np.float32, lq * 64, name)


class TestBadInput:
    sdpa = staticmethod(fastnn.scaled_dot_product_attention)

    def qkv(self, dtype=np.float32, lq=4, lk=5, d=8, dv=3):
        rng = np.random.default_rng(0)
        return [fastnn.tensor(rng.standard_normal(s).astype(dtype)) for s in [(2, lq, d), (2, lk, d), (2, lk, dv)]]

    def test_dtype_mismatch(self):
        q, k, v = self.qkv()
        with pytest.raises(RuntimeError, match="same dtype"):
            self.sdpa(q, k.double(), v)

    def test_integer_dtype(self):
        q, k, v = (t.long() for t in self.qkv())
        with pytest.raises(RuntimeError, match="float32 or float64"):
            self.sdpa(q, k, v)

    def test_head_dim_mismatch(self):
        q, k, v = self.qkv()
        with pytest.raises(RuntimeError, match=r"\(2, 4, 8\).*\(2, 5, 7\)"):
            self.sdpa(q, fastnn.ones(2, 5, 7), v)

    def test_key_value_length_mismatch(self):
        q, k, v = self.qkv()
        with pytest.raises(RuntimeError, match="do not fit"):
            self.sdpa(q, k, fastnn.ones(2, 6, 3))

    def test_batch_not_broadcastable(self):
        q, k, v = self.qkv()
        with pytest.raises(RuntimeError, match="do not fit"):
            self.sdpa(q, fastnn.ones(3, 5, 8), fastnn.ones(3, 5, 3))

    def test_one_dim(self):
        with pytest.raises(RuntimeError, match="at least 2 dims"):
            self.sdpa(fastnn.ones(8), fastnn.ones(5, 8), fastnn.ones(5, 3))

    @pytest.mark.parametrize("shape", [(4, 6), (3, 5), (3, 4, 5), (1, 2, 1, 4, 5)])
    def test_mask_shape(self, shape):
        with pytest.raises(RuntimeError, match="cannot be broadcast"):
            self.sdpa(*self.qkv(), attn_mask=np.ones(shape, bool))

    def test_mask_dtype(self):
        with pytest.raises(RuntimeError, match="bool or float"):
            self.sdpa(*self.qkv(), attn_mask=np.ones((4, 5), np.int64))

    def test_mask_with_causal(self):
        with pytest.raises(RuntimeError, match="is_causal"):
            self.sdpa(*self.qkv(), attn_mask=np.ones((4, 5), bool), is_causal=True)

    def test_dropout_out_of_range(self):  # dropout_p in (0, 1] itself: tests/test_functional_misc.py
        with pytest.raises(ValueError, match="dropout probability"):
            self.sdpa(*self.qkv(), dropout_p=1.5)

    def test_scale_not_finite(self):
        with pytest.raises(ValueError, match="finite"):
            self.sdpa(*self.qkv(), scale=float("nan"))

    def test_binding_checks(self):
        q, k, v = (np.ones((1, 2, 4, 8), np.float32) for _ in range(3))
        with pytest.raises(ValueError, match="4-D"):
            _C.attention_forward(q[0], k[0], v[0])
        with pytest.raises(TypeError, match="share a dtype"):
            _C.attention_forward(q, k.astype(np.float64), v)
        with pytest.raises(TypeError, match="float32 or float64"):
            _C.attention_forward(q.astype(np.int32), k, v)
        with pytest.raises(ValueError, match="do not fit"):
            _C.attention_forward(q, k[:, :1], v)
        with pytest.raises(ValueError, match="cannot be broadcast"):
            _C.attention_forward(q, k, v, np.ones((3, 4), bool))
        with pytest.raises(ValueError, match="more than 4 dims"):
            _C.attention_forward(q, k, v, np.ones((1, 1, 1, 4, 4), bool))
        with pytest.raises(TypeError, match="bool or the query's dtype"):
            _C.attention_forward(q, k, v, np.ones((4, 4), np.float64))
        with pytest.raises(ValueError, match="is_causal"):
            _C.attention_forward(q, k, v, np.ones((4, 4), bool), True)
        out, lse = _C.attention_forward(q, k, v)
        with pytest.raises(ValueError, match="do not match"):
            _C.attention_backward(out, q, k, v, out, lse[:, :, :2])
        with pytest.raises(TypeError, match="dtype"):
            _C.attention_backward(out.astype(np.float64), q, k, v, out, lse)
        with pytest.raises(ValueError, match="unknown ISA level"):
            _C.attention_forward(q, k, v, isa="sse9")
