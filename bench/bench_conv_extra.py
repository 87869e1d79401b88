"""The convolution family's newer ops beside torch and NumPy: conv1d and conv_transpose2d (on the conv2d
kernels; rows count flops), bilinear interpolate and group_norm (memory-bound; rows count bytes: input read
plus output written). Forward, and forward + backward for fastnn and torch (NumPy times the forward only)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common import median_time


def np_conv1d(x, w, b, pad):
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    win = sliding_window_view(xp, w.shape[2], axis=2)            # n, c, l, k
    n, c, lo, k = win.shape
    cols = win.transpose(0, 2, 1, 3).reshape(n * lo, c * k)
    return (cols @ w.reshape(w.shape[0], -1).T + b).reshape(n, lo, -1).transpose(0, 2, 1)


def np_conv_transpose2d(x, w, b, stride):
    """Per input pixel, its (O, k, k) block of weights scattered at stride: one matmul, then k*k strided adds."""
    n, c, h, wd = x.shape
    o, k = w.shape[1], w.shape[2]
    cols = (x.transpose(0, 2, 3, 1).reshape(-1, c) @ w.reshape(c, -1)).reshape(n, h, wd, o, k, k)
    oh, ow = (h - 1) * stride + k, (wd - 1) * stride + k
    y = np.zeros((n, o, oh, ow), x.dtype)
    for i in range(k):
        for j in range(k):
            y[:, :, i:i + stride * (h - 1) + 1:stride, j:j + stride * (wd - 1) + 1:stride] += \
                cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return y + b[:, None, None]


def np_bilinear_2x(x):
    """align_corners=False bilinear resize to twice the size: gather + lerp along each axis."""
    def axis_taps(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        lam = (src - i0).astype(x.dtype)
        return i0, np.minimum(i0 + 1, n_in - 1), lam
    h, w = x.shape[2:]
    a0, a1, la = axis_taps(h, 2 * h)
    b0, b1, lb = axis_taps(w, 2 * w)
    t = x[:, :, a0] * (1 - la)[:, None] + x[:, :, a1] * la[:, None]
    return t[..., b0] * (1 - lb) + t[..., b1] * lb


def np_group_norm(x, groups, w, b, eps=1e-5):
    n, c = x.shape[:2]
    xg = x.reshape(n, groups, -1)
    mean = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    y = ((xg - mean) / np.sqrt(var + eps)).reshape(x.shape)
    return y * w[:, None, None] + b[:, None, None]


def _cases(rng, quick):
    f32 = np.float32
    cases = [("conv1d", "b32 64->64 L256 k5 p2", dict(x=rng.standard_normal((32, 64, 256), dtype=f32),
                                                       w=rng.standard_normal((64, 64, 5), dtype=f32) * 0.1,
                                                       b=rng.standard_normal(64, dtype=f32)),
              2.0 * 32 * 64 * 256 * 64 * 5),
             ("convT2d", "b32 64->32 8x8 k4 s2", dict(x=rng.standard_normal((32, 64, 8, 8), dtype=f32),
                                                      w=rng.standard_normal((64, 32, 4, 4), dtype=f32) * 0.1,
                                                      b=rng.standard_normal(32, dtype=f32)),
              2.0 * 32 * 64 * 8 * 8 * 32 * 16),
             ("interp", "bilinear 2x b8 32x64x64", dict(x=rng.standard_normal((8, 32, 64, 64), dtype=f32)),
              4.0 * 8 * 32 * 64 * 64 * 5),
             ("groupnrm", "b32 64ch 32x32 g8", dict(x=rng.standard_normal((32, 64, 32, 32), dtype=f32),
                                                    w=rng.standard_normal(64, dtype=f32),
                                                    b=rng.standard_normal(64, dtype=f32)),
              4.0 * 32 * 64 * 32 * 32 * 2)]
    return cases[:2] + cases[3:] if quick else cases


def _calls(kernel, lib, a):
    """(forward, forward+backward or None) for one library."""
    if lib == "numpy":
        fwd = {"conv1d": lambda: np_conv1d(a["x"], a["w"], a["b"], 2),
               "convT2d": lambda: np_conv_transpose2d(a["x"], a["w"], a["b"], 2),
               "interp": lambda: np_bilinear_2x(a["x"]),
               "groupnrm": lambda: np_group_norm(a["x"], 8, a["w"], a["b"])}[kernel]
        return fwd, None
    if lib == "fastnn":
        import fastnn as m
        from fastnn.nn import functional as F
        grad_ctx = m.no_grad
    else:
        import torch as m
        import torch.nn.functional as F
        grad_ctx = m.no_grad
    t = {k: m.tensor(v, requires_grad=True) for k, v in a.items()}
    op = {"conv1d": lambda: F.conv1d(t["x"], t["w"], t["b"], padding=2),
          "convT2d": lambda: F.conv_transpose2d(t["x"], t["w"], t["b"], stride=2),
          "interp": lambda: F.interpolate(t["x"], scale_factor=2, mode="bilinear"),
          "groupnrm": lambda: F.group_norm(t["x"], 8, t["w"], t["b"])}[kernel]
    with grad_ctx():
        gy = m.tensor(np.ones(tuple(op().shape), np.float32))

    def fwd():
        with grad_ctx():
            op()

    def fwd_bwd():
        op().backward(gy)

    return fwd, fwd_bwd


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    reps = 3 if quick else 5
    for kernel, label, arrays, work in _cases(rng, quick):
        unit = "bytes" if kernel in ("interp", "groupnrm") else "flops"
        fwd, fwd_bwd = _calls(kernel, lib, arrays)
        rows.append({"kernel": kernel, "case": label + " fwd", "seconds": median_time(fwd, repeats=reps), unit: work})
        if fwd_bwd is not None:
            rows.append({"kernel": kernel, "case": label + " f+b", "seconds": median_time(fwd_bwd, repeats=reps),
                         unit: 3 * work})
    return rows
