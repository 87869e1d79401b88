"""conv2d on the issue's training shapes (batch 32), forward and forward + backward (input, weight, bias)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common import median_time

# (label, N, C, H, W, O, K, padding)
CASES = [("b32 3->32 32x32 k3 p1", 32, 3, 32, 32, 32, 3, 1),
         ("b32 32->64 16x16 k3 p1", 32, 32, 16, 16, 64, 3, 1),
         ("b32 64->64 8x8 k1", 32, 64, 8, 8, 64, 1, 0),
         ("b32 1->32 28x28 k5", 32, 1, 28, 28, 32, 5, 0)]
QUICK = {"b32 3->32 32x32 k3 p1", "b32 32->64 16x16 k3 p1"}


class NumpyConv:
    """The straightforward NumPy route: im2col of the whole batch, one matmul, col2im by slices."""

    def __init__(self, x, w, b, pad):
        self.x, self.w, self.b, self.pad = x, w, b, pad

    def forward(self):
        x, w, p = self.x, self.w, self.pad
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, c = x.shape[:2]
        o, _, k, _ = w.shape
        win = sliding_window_view(xp, (k, k), axis=(2, 3))  # n, c, oh, ow, k, k
        oh, ow = win.shape[2:4]
        self.cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k)
        y = self.cols @ w.reshape(o, -1).T + self.b
        self.shape = (n, oh, ow)
        return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    def backward(self, dy):
        x, w, p = self.x, self.w, self.pad
        n, oh, ow = self.shape
        o, c, k, _ = w.shape
        dym = dy.transpose(0, 2, 3, 1).reshape(-1, o)
        dw = (dym.T @ self.cols).reshape(w.shape)
        db = dym.sum(axis=0)
        dcols = (dym @ w.reshape(o, -1)).reshape(n, oh, ow, c, k, k)
        dxp = np.zeros((n, c, x.shape[2] + 2 * p, x.shape[3] + 2 * p), x.dtype)
        for i in range(k):
            for j in range(k):
                dxp[:, :, i:i + oh, j:j + ow] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, db


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for label, n, c, h, w_, o, k, pad in CASES:
        if quick and label not in QUICK:
            continue
        x = rng.standard_normal((n, c, h, w_), dtype=np.float32)
        w = rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1
        b = rng.standard_normal(o, dtype=np.float32)
        oh, ow = h + 2 * pad - k + 1, w_ + 2 * pad - k + 1
        dy = rng.standard_normal((n, o, oh, ow), dtype=np.float32)
        flops = 2.0 * n * o * oh * ow * c * k * k
        if lib == "fastnn":
            import fastnn

            tx, tw, tb = (fastnn.tensor(a, requires_grad=True) for a in (x, w, b))
            tdy = fastnn.tensor(dy)

            def fwd():
                with fastnn.no_grad():
                    fastnn.conv2d(tx, tw, tb, padding=pad)

            def fwd_bwd():
                fastnn.conv2d(tx, tw, tb, padding=pad).backward(tdy)
        elif lib == "numpy":
            conv = NumpyConv(x, w, b, pad)
            fwd = conv.forward

            def fwd_bwd():
                conv.forward()
                conv.backward(dy)
        else:
            import torch

            tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
            tdy = torch.tensor(dy)

            def fwd():
                with torch.no_grad():
                    torch.nn.functional.conv2d(tx, tw, tb, padding=pad)

            def fwd_bwd():
                torch.nn.functional.conv2d(tx, tw, tb, padding=pad).backward(tdy)
        reps = 3 if quick else 5
        rows.append({"kernel": "conv2d", "case": label + " fwd", "seconds": median_time(fwd, repeats=reps),
                     "flops": flops})
        rows.append({"kernel": "conv2d", "case": label + " f+b", "seconds": median_time(fwd_bwd, repeats=reps),
                     "flops": 3 * flops})
    return rows
