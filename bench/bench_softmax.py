"""The other heavy ops of a training step: fused softmax + cross-entropy (and log_softmax), layer norm,
batch norm (training mode, on conv activations), and 2x2/2 max / average pooling on the conv shapes,
forward and forward+backward.

fastnn and torch run their autograd ops (what a model calls: Python overhead and output allocation
included); "numpy" is the straightforward vectorised NumPy version of the same math. All rows are
memory-bound, so they count bytes (STREAM counting: each array read or written once per pass; batch
norm's forward reads x twice, as no output can be written before the whole batch's statistics are known,
and its backward reads x and g twice).
"""
from __future__ import annotations

import numpy as np

from common import median_time

F32 = 4
N_CLASSES = (4096, 1000)
LN_SHAPE = (4096, 1024)
POOL_SHAPES = [(32, 32, 32, 32), (32, 64, 16, 16)]
BN_SHAPES = [(64, 32, 28, 28), (128, 64, 16, 16)]


def _label(shape):
    return "x".join(str(s) for s in shape)


# ---- straightforward NumPy ------------------------------------------------------------------------

def np_xent(x, t, backward):
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(x.shape[0])
    loss = (np.log(s[:, 0]) - z[rows, t]).mean()
    if not backward:
        return loss
    g = e / s
    g[rows, t] -= 1
    g *= 1.0 / x.shape[0]
    return loss, g


def np_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def np_layer_norm(x, w, b, g=None, eps=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    xc = x - mean
    rstd = 1 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + eps)
    xhat = xc * rstd
    y = xhat * w + b
    if g is None:
        return y
    gw = g * w
    dx = rstd * (gw - gw.mean(axis=1, keepdims=True) - xhat * (gw * xhat).mean(axis=1, keepdims=True))
    return y, dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def np_batch_norm(x, w, b, g=None, eps=1e-5):
    """Training mode: batch statistics over (N, H, W), biased variance (running buffers left out: C values)."""
    axes = (0, 2, 3)
    count = x.size // x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    invstd = 1 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    xhat = xc * invstd
    y = xhat * w + b
    if g is None:
        return y
    gsum, gdot = g.sum(axis=axes, keepdims=True), (g * xhat).sum(axis=axes, keepdims=True)
    dx = (w * invstd) * (g - gsum / count - xhat * (gdot / count))
    return y, dx, gdot, gsum


def np_pool(x, kind, g=None):
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = win.max(axis=(3, 5)) if kind == "max" else win.mean(axis=(3, 5))
    if g is None:
        return y
    gb = g[:, :, :, None, :, None]
    if kind == "max":
        hit = win == y[:, :, :, None, :, None]  # ties share the gradient: close enough for timing
        dx = np.where(hit, gb, 0).reshape(x.shape)
    else:
        dx = np.broadcast_to(gb * 0.25, win.shape).reshape(x.shape)
    return y, dx


# ---- the libraries ------------------------------------------------------------------------------------

def _fastnn_ops():
    import fastnn

    def tensor(a, grad=False):
        return fastnn.tensor(a, requires_grad=grad)

    return dict(tensor=tensor, xent=fastnn.cross_entropy, log_softmax=lambda a: fastnn.log_softmax(a, -1),
                layer_norm=fastnn.layer_norm, batch_norm=fastnn.nn.functional.batch_norm,
                max_pool=lambda a: fastnn.max_pool2d(a, 2),
                avg_pool=lambda a: fastnn.avg_pool2d(a, 2), clear=lambda *ts: [setattr(t, "grad", None) for t in ts])


def _torch_ops():
    import torch
    import torch.nn.functional as F

    def tensor(a, grad=False):
        return torch.tensor(a, requires_grad=grad)

    return dict(tensor=tensor, xent=F.cross_entropy, log_softmax=lambda a: F.log_softmax(a, -1),
                layer_norm=F.layer_norm, batch_norm=F.batch_norm, max_pool=lambda a: F.max_pool2d(a, 2),
                avg_pool=lambda a: F.avg_pool2d(a, 2), clear=lambda *ts: [setattr(t, "grad", None) for t in ts])


def _cases_autograd(ops, rng, quick):
    """(kernel, case, bytes, fn) for fastnn or torch."""
    T = ops["tensor"]
    n, c = N_CLASSES
    x = rng.standard_normal((n, c), dtype=np.float32)
    t = rng.integers(0, c, n)
    xt, xg, tt = T(x), T(x, True), T(t)

    def xent_fb():
        ops["xent"](xg, tt).backward()
        ops["clear"](xg)

    yield "xent", f"{_label(N_CLASSES)} fwd", n * c * F32, lambda: ops["xent"](xt, tt)
    yield "xent", f"{_label(N_CLASSES)} fwd+bwd", 3 * n * c * F32, xent_fb
    if not quick:
        yield "logsmax", f"{_label(N_CLASSES)} fwd", 2 * n * c * F32, lambda: ops["log_softmax"](xt)

    r, d = LN_SHAPE
    y = rng.standard_normal((r, d), dtype=np.float32)
    w, b = rng.standard_normal(d, dtype=np.float32), rng.standard_normal(d, dtype=np.float32)
    yt, wt, bt = T(y), T(w), T(b)
    yg, wg, bg = T(y, True), T(w, True), T(b, True)
    up = T(rng.standard_normal((r, d), dtype=np.float32))

    def ln_fb():
        ops["layer_norm"](yg, (d,), wg, bg).backward(up)
        ops["clear"](yg, wg, bg)

    yield "lnorm", f"{_label(LN_SHAPE)} fwd", 2 * r * d * F32, lambda: ops["layer_norm"](yt, (d,), wt, bt)
    yield "lnorm", f"{_label(LN_SHAPE)} fwd+bwd", 5 * r * d * F32, ln_fb

    for shape in BN_SHAPES if not quick else BN_SHAPES[:1]:
        c = shape[1]
        z = rng.standard_normal(shape, dtype=np.float32)
        zt, zg, gz = T(z), T(z, True), T(rng.standard_normal(shape, dtype=np.float32))
        w, b = rng.uniform(0.5, 1.5, c).astype(np.float32), rng.standard_normal(c, dtype=np.float32)
        wt, bt, wg, bg = T(w), T(b), T(w, True), T(b, True)
        rm, rv = T(np.zeros(c, np.float32)), T(np.ones(c, np.float32))

        def bn_fb(zg=zg, gz=gz, wg=wg, bg=bg, rm=rm, rv=rv):
            ops["batch_norm"](zg, rm, rv, wg, bg, True).backward(gz)
            ops["clear"](zg, wg, bg)

        size = z.size * F32
        yield ("bnorm", f"{_label(shape)} fwd", 3 * size,
               lambda zt=zt, wt=wt, bt=bt, rm=rm, rv=rv: ops["batch_norm"](zt, rm, rv, wt, bt, True))
        yield "bnorm", f"{_label(shape)} fwd+bwd", 8 * size, bn_fb

    for shape in POOL_SHAPES if not quick else POOL_SHAPES[:1]:
        p = rng.standard_normal(shape, dtype=np.float32)
        pt, pg = T(p), T(p, True)
        size = p.size * F32
        for kind in ("max", "avg"):
            fn = ops[f"{kind}_pool"]
            gy = T(rng.standard_normal(tuple(shape[:2]) + (shape[2] // 2, shape[3] // 2), dtype=np.float32))

            def pool_fb(fn=fn, gy=gy, pg=pg):
                fn(pg).backward(gy)
                ops["clear"](pg)

            # fwd: read x, write y (x/4). bwd: max reads x and g, avg only g; both write dx.
            bwd_bytes = (2.25 if kind == "max" else 1.25) * size
            yield f"{kind}pool", f"{_label(shape)} fwd", 1.25 * size, lambda fn=fn, pt=pt: fn(pt)
            yield f"{kind}pool", f"{_label(shape)} fwd+bwd", 1.25 * size + bwd_bytes, pool_fb


def _cases_numpy(rng, quick):
    n, c = N_CLASSES
    x = rng.standard_normal((n, c), dtype=np.float32)
    t = rng.integers(0, c, n)
    yield "xent", f"{_label(N_CLASSES)} fwd", n * c * F32, lambda: np_xent(x, t, False)
    yield "xent", f"{_label(N_CLASSES)} fwd+bwd", 3 * n * c * F32, lambda: np_xent(x, t, True)
    if not quick:
        yield "logsmax", f"{_label(N_CLASSES)} fwd", 2 * n * c * F32, lambda: np_log_softmax(x)
    r, d = LN_SHAPE
    y = rng.standard_normal((r, d), dtype=np.float32)
    w, b = rng.standard_normal(d, dtype=np.float32), rng.standard_normal(d, dtype=np.float32)
    up = rng.standard_normal((r, d), dtype=np.float32)
    yield "lnorm", f"{_label(LN_SHAPE)} fwd", 2 * r * d * F32, lambda: np_layer_norm(y, w, b)
    yield "lnorm", f"{_label(LN_SHAPE)} fwd+bwd", 5 * r * d * F32, lambda: np_layer_norm(y, w, b, up)
    for shape in BN_SHAPES if not quick else BN_SHAPES[:1]:
        c = shape[1]
        z = rng.standard_normal(shape, dtype=np.float32)
        gz = rng.standard_normal(shape, dtype=np.float32)
        w = rng.uniform(0.5, 1.5, (1, c, 1, 1)).astype(np.float32)
        b = rng.standard_normal((1, c, 1, 1), dtype=np.float32)
        size = z.size * F32
        yield "bnorm", f"{_label(shape)} fwd", 3 * size, lambda z=z, w=w, b=b: np_batch_norm(z, w, b)
        yield "bnorm", f"{_label(shape)} fwd+bwd", 8 * size, lambda z=z, w=w, b=b, gz=gz: np_batch_norm(z, w, b, gz)
    for shape in POOL_SHAPES if not quick else POOL_SHAPES[:1]:
        p = rng.standard_normal(shape, dtype=np.float32)
        gy = rng.standard_normal(tuple(shape[:2]) + (shape[2] // 2, shape[3] // 2), dtype=np.float32)
        size = p.size * F32
        for kind in ("max", "avg"):
            bwd_bytes = (2.25 if kind == "max" else 1.25) * size
            yield f"{kind}pool", f"{_label(shape)} fwd", 1.25 * size, lambda kind=kind, p=p: np_pool(p, kind)
            yield (f"{kind}pool", f"{_label(shape)} fwd+bwd", 1.25 * size + bwd_bytes,
                   lambda kind=kind, p=p, gy=gy: np_pool(p, kind, gy))


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    if lib == "numpy":
        cases = _cases_numpy(rng, quick)
    else:
        cases = _cases_autograd(_fastnn_ops() if lib == "fastnn" else _torch_ops(), rng, quick)
    rows = []
    for kernel, case, nbytes, fn in cases:
        t = median_time(fn, repeats=5 if quick else 9)
        rows.append({"kernel": kernel, "case": case, "seconds": t, "bytes": float(nbytes)})
    return rows
