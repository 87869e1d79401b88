"""conv2d kernels and op against a float64 NumPy reference, gradcheck and PyTorch."""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import fastnn
from fastnn import _C
from fastnn.autograd import gradcheck

ISAS = list(_C.isa_levels())


def conv_ref(x, w, b, stride, pad, dil, groups):
    """Direct convolution in float64: windows of the padded input contracted with the weights."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    o, cg, kh, kw = w.shape
    win = sliding_window_view(x, ((kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1), axis=(2, 3))
    win = win[:, :, ::stride[0], ::stride[1], ::dil[0], ::dil[1]]
    og = o // groups
    y = np.concatenate([np.einsum("nchwij,ocij->nohw", win[:, g * cg:(g + 1) * cg],
                                  w[g * og:(g + 1) * og].astype(np.float64)) for g in range(groups)], axis=1)
    return y if b is None else y + b[None, :, None, None]


def check(actual, expected, atol=1e-4, rtol=1e-4):
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    err = np.abs(actual.astype(np.float64) - expected)
    bad = err > atol + rtol * np.abs(expected)
    assert not bad.any(), f"{int(bad.sum())} of {bad.size} mismatched, max abs err {err.max():.3g}"


# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
CASES = [
    (1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 3, 9, 7, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (3, 4, 10, 11, 6, 3, 2, (2, 1), (0, 2), (1, 2), 2),
    (2, 8, 5, 5, 8, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 6, 7, 17, 6, 3, 3, (2, 3), (1, 1), (2, 1), 6),
    (5, 1, 28, 28, 32, 5, 5, (1, 1), (0, 0), (1, 1), 1),
    (4, 3, 32, 32, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (3, 7, 13, 13, 5, 2, 4, (3, 2), (2, 1), (1, 1), 1),
    (0, 3, 5, 5, 2, 3, 3, (1, 1), (1, 1), (1, 1), 1),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_match_reference(isa, case, dtype):
    n, c, h, w_, o, kh, kw, s, p, d, g = case
    rng = np.random.default_rng(sum(case[:7]))
    x = rng.standard_normal((n, c, h, w_)).astype(dtype)
    w = rng.standard_normal((o, c // g, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    y = _C.conv2d_forward(x, w, b, s, p, d, g, isa=isa)
    tol = dict(atol=1e-4, rtol=1e-4) if dtype == np.float32 else dict(atol=1e-11, rtol=1e-11)
    check(y, conv_ref(x, w, b, s, p, d, g), **tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    # Reference gradients from the reference forward's exact adjoints, through float64 einsum.
    dx = _C.conv2d_backward_data(dy, w, (h, w_), s, p, d, g, isa=isa)
    dw = _C.conv2d_backward_weight(dy, x, (kh, kw), s, p, d, g, isa=isa)
    ref_dx, ref_dw = reference_grads(x, w, dy, s, p, d, g)
    check(dx, ref_dx, **tol)
    check(dw, ref_dw, **tol)


def reference_grads(x, w, dy, stride, pad, dil, groups):
    """dx and dw by linearity: conv is bilinear, so each gradient is a contraction of one-hot probes'
    outputs. Done with explicit loops over the kernel taps (small shapes only)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    dy = dy.astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    oh, ow = dy.shape[2:]
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                ys = slice(i * dil[0], i * dil[0] + stride[0] * (oh - 1) + 1, stride[0])
                xs = slice(j * dil[1], j * dil[1] + stride[1] * (ow - 1) + 1, stride[1])
                patch = xp[:, g * cg:(g + 1) * cg, ys, xs]  # (n, cg, oh, ow)
                dyg = dy[:, g * og:(g + 1) * og]  # (n, og, oh, ow)
                dw[g * og:(g + 1) * og, :, i, j] = np.einsum("nohw,nchw->oc", dyg, patch)
                dxp[:, g * cg:(g + 1) * cg, ys, xs] += np.einsum("nohw,oc->nchw", dyg, w[g * og:(g + 1) * og, :, i, j])
    dx = dxp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd]
    return dx, dw


# Shapes aimed at the implicit GEMM's internal paths: output channels per group that fill neither tile
# height (7, 13, 17) or fill the 8-row tile exactly (64); pixel counts off the 32-wide panels (63);
# CKK past one KC block (50 * 9 = 450 > 384) and images past one NC block (48 x 40 pixels); backward-data
# by the flipped-weight route (stride 1, padding <= dilation*(k-1)) and by col2im (stride 2, a 1x1 with
# padding, a single input channel); groups with odd channel counts.
# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
PATH_CASES = [
    (2, 5, 7, 9, 7, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 50, 6, 7, 13, 3, 3, (1, 1), (1, 0), (1, 1), 1),
    (2, 3, 48, 40, 17, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (3, 16, 9, 9, 64, 3, 3, (1, 1), (2, 2), (2, 2), 1),
    (2, 6, 11, 10, 64, 1, 1, (1, 1), (1, 1), (1, 1), 1),
    (2, 1, 15, 13, 9, 5, 5, (1, 1), (0, 0), (1, 1), 1),
    (2, 12, 10, 9, 15, 3, 2, (2, 2), (1, 1), (1, 1), 3),
    (1, 21, 8, 8, 14, 3, 3, (1, 1), (1, 1), (1, 1), 7),
    # B read in place from the padded image (rows of whole vectors, or rows that follow each other),
    # with a gathered partial last panel: 7 rows of 16, stride-2 rows of 32, a 1x1 over 6x7.
    (2, 4, 7, 16, 9, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (2, 3, 9, 32, 10, 3, 3, (2, 1), (1, 1), (1, 1), 1),
    (3, 10, 6, 7, 20, 1, 1, (1, 1), (0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("case", PATH_CASES, ids=lambda c: "x".join(map(str, c[:7])))
def test_implicit_gemm_paths(isa, case):
    n, c, h, w_, o, kh, kw, s, p, d, g = case
    rng = np.random.default_rng(sum(case[:7]) + 1)
    x = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    w = rng.standard_normal((o, c // g, kh, kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    y = _C.conv2d_forward(x, w, b, s, p, d, g, isa=isa)
    check(y, conv_ref(x, w, b, s, p, d, g), atol=2e-4, rtol=2e-4)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ref_dx, ref_dw = reference_grads(x, w, dy, s, p, d, g)
    check(_C.conv2d_backward_data(dy, w, (h, w_), s, p, d, g, isa=isa), ref_dx, atol=2e-4, rtol=2e-4)
    check(_C.conv2d_backward_weight(dy, x, (kh, kw), s, p, d, g, isa=isa), ref_dw, atol=5e-4, rtol=2e-4)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (3, 64, 16, 16), (0, 4, 3, 3), (2, 5, 0, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_bias(threads, isa, shape, dtype):
    dy = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    threads(1)
    db = _C.conv2d_backward_bias(dy, isa=isa)
    tol = dict(atol=1e-4, rtol=1e-5) if dtype == np.float32 else dict(atol=1e-12, rtol=1e-12)
    check(db, dy.astype(np.float64).sum(axis=(0, 2, 3)), **tol)
    threads(2)
    assert np.array_equal(db, _C.conv2d_backward_bias(dy, isa=isa))
    with pytest.raises(ValueError, match="conv2d_backward_bias"):
        _C.conv2d_backward_bias(dy[..., 0], isa=isa)


@pytest.mark.parametrize("width", [29, 32])
@pytest.mark.parametrize("batch", [1, 3])
def test_bitwise_identical_across_threads_small_batch(threads, batch, width):
    """A batch smaller than the team splits each image's pixels between threads (and backward-data's
    flipped-weight route runs on that split too), with B gathered (width 29) or read in place (32):
    results must not move by a bit."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((batch, 8, 30, width)).astype(np.float32)
    w = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    runs = []
    for nt in (1, 2):
        threads(nt)
        y = _C.conv2d_forward(x, w, b, *args)
        dy = np.cos(y)
        runs.append([y, _C.conv2d_backward_data(dy, w, (30, width), *args),
                     _C.conv2d_backward_weight(dy, x, (3, 3), *args)])
    for a, b_ in zip(*runs):
        assert np.array_equal(a, b_)


@pytest.mark.parametrize("nthreads", [1, 2])
def test_bitwise_identical_across_threads(threads, nthreads):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((9, 16, 12, 12)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    args = ((1, 1), (1, 1), (1, 1), 1)
    threads(1)
    base = [_C.conv2d_forward(x, w, None, *args)]
    dy = rng.standard_normal(base[0].shape).astype(np.float32)
    base += [_C.conv2d_backward_data(dy, w, (12, 12), *args), _C.conv2d_backward_weight(dy, x, (3, 3), *args)]
    threads(nthreads)
    again = [_C.conv2d_forward(x, w, None, *args), _C.conv2d_backward_data(dy, w, (12, 12), *args),
             _C.conv2d_backward_weight(dy, x, (3, 3), *args)]
    for a, b in zip(base, again):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                    dict(padding="same"), dict(groups=2, padding=(1, 0)), dict(padding="valid")])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 3)])
def test_op_gradcheck(kwargs, kernel):
    fastnn.manual_seed(0)
    x = fastnn.randn(2, 4, 6, 5, dtype=fastnn.float64, requires_grad=True)
    w = fastnn.randn(4, 4 // kwargs.get("groups", 1), *kernel, dtype=fastnn.float64, requires_grad=True)
    b = fastnn.randn(4, dtype=fastnn.float64, requires_grad=True)
    assert gradcheck(lambda x_, w_, b_: fastnn.conv2d(x_, w_, b_, **kwargs), (x, w, b))


def test_op_unbatched_input():
    fastnn.manual_seed(1)
    x = fastnn.randn(3, 8, 8, dtype=fastnn.float64, requires_grad=True)
    w = fastnn.randn(5, 3, 3, 3, dtype=fastnn.float64, requires_grad=True)
    y = fastnn.conv2d(x, w, padding=1)
    assert y.shape == (5, 8, 8)
    assert gradcheck(lambda a, b: fastnn.conv2d(a, b, padding=1), (x, w))


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2, padding=2, dilation=2), dict(padding="same"),
                                    dict(groups=4)])
def test_op_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    xn = rng.standard_normal((4, 8, 11, 10)).astype(np.float32)
    wn = rng.standard_normal((12, 8 // kwargs.get("groups", 1), 3, 4)).astype(np.float32)
    bn = rng.standard_normal(12).astype(np.float32)
    x, w, b = (fastnn.tensor(a, requires_grad=True) for a in (xn, wn, bn))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xn, wn, bn))
    y = fastnn.conv2d(x, w, b, **kwargs)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kwargs)
    assert np.allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    for a, t in ((x, tx), (w, tw), (b, tb)):
        assert np.allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-3)


class TestBadInput:
    def test_channel_mismatch(self):
        with pytest.raises(RuntimeError, match=r"expected input\[1, 3, 5, 5\] to have 4 channels"):  # torch's text
            fastnn.conv2d(fastnn.ones(1, 3, 5, 5), fastnn.ones(2, 4, 3, 3))

    def test_groups_divisibility(self):
        with pytest.raises(RuntimeError, match="expected weight to be divisible by 2 at dimension 0"):  # torch's
            fastnn.conv2d(fastnn.ones(1, 4, 5, 5), fastnn.ones(3, 2, 3, 3), groups=2)

    def test_kernel_too_large(self):
        with pytest.raises(RuntimeError, match="larger than the padded input"):
            fastnn.conv2d(fastnn.ones(1, 1, 2, 2), fastnn.ones(1, 1, 3, 3))

    def test_dims_and_dtypes(self):
        with pytest.raises(RuntimeError, match="3-D .* or 4-D"):
            fastnn.conv2d(fastnn.ones(5, 5), fastnn.ones(1, 1, 3, 3))
        with pytest.raises(RuntimeError, match="floating dtype"):
            fastnn.conv2d(fastnn.ones(1, 1, 5, 5), fastnn.ones(1, 1, 3, 3, dtype=fastnn.float64))

    def test_bad_params(self):
        with pytest.raises(RuntimeError, match="non-positive stride is not supported"):
            fastnn.conv2d(fastnn.ones(1, 1, 5, 5), fastnn.ones(1, 1, 3, 3), stride=0)
        with pytest.raises(RuntimeError, match="Invalid padding string"):  # torch F (nn.Conv2d: ValueError)
            fastnn.conv2d(fastnn.ones(1, 1, 5, 5), fastnn.ones(1, 1, 3, 3), padding="full")
        with pytest.raises(ValueError, match="strided"):
            fastnn.conv2d(fastnn.ones(1, 1, 5, 5), fastnn.ones(1, 1, 3, 3), padding="same", stride=2)

    def test_kernel_level_errors(self):
        with pytest.raises(TypeError, match="float32 or float64"):
            _C.conv2d_forward(np.ones((1, 1, 4, 4), np.int64), np.ones((1, 1, 3, 3), np.int64), None, (1, 1),
                              (0, 0), (1, 1), 1)
        with pytest.raises(ValueError, match="grad_output has shape"):
            _C.conv2d_backward_data(np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 3, 3), np.float32), (4, 4),
                                    (1, 1), (0, 0), (1, 1), 1)
        with pytest.raises(ValueError, match="bias must be 1-D"):
            _C.conv2d_forward(np.ones((1, 1, 4, 4), np.float32), np.ones((2, 1, 3, 3), np.float32),
                              np.ones(3, np.float32), (1, 1), (0, 0), (1, 1), 1)
