"""Optimizer steps on 10M float32 parameters, as 1 tensor and as 100 tensors of 100k: fastnn.optim
(one fused native call per group) beside torch.optim with fused=True (foreach=True where fused is
unavailable) and the best in-place NumPy update (ufuncs with out=, one scratch array per tensor).

Bytes count STREAM-style, each array once per read and once per write: Adam 28 per parameter (param
r+w 8, grad r 4, exp_avg r+w 8, exp_avg_sq r+w 8), SGD with momentum 20 (param r+w, grad r, buf r+w).
"""
from __future__ import annotations

import numpy as np

from common import median_time

TOTAL = 10_000_000
LAYOUTS = [("10M x1", 1), ("100 x 100k", 100)]
HYPER = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
SGD_HYPER = dict(lr=1e-3, momentum=0.9)


def _arrays(count, rng):
    size = TOTAL // count
    params = [rng.standard_normal(size, dtype=np.float32) for _ in range(count)]
    grads = [rng.standard_normal(size, dtype=np.float32) for _ in range(count)]
    return params, grads


class _NumpyAdam:
    """torch's single-tensor Adam in in-place NumPy ufuncs: nine passes over memory per tensor."""

    def __init__(self, params, grads):
        self.p, self.g = params, grads
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self):
        self.t += 1
        lr, (b1, b2), eps = HYPER["lr"], HYPER["betas"], HYPER["eps"]
        step_size = lr / (1 - b1 ** self.t)
        bc2_sqrt = (1 - b2 ** self.t) ** 0.5
        for p, g, m, v, tmp in zip(self.p, self.g, self.m, self.v, self.tmp):
            np.subtract(g, m, out=tmp)                # m.lerp_(g, 1 - b1)
            tmp *= 1 - b1
            m += tmp
            np.multiply(g, g, out=tmp)                # v = b2 v + (1 - b2) g^2
            tmp *= 1 - b2
            v *= b2
            v += tmp
            np.sqrt(v, out=tmp)                       # denom = sqrt(v) / bc2_sqrt + eps
            tmp *= 1 / bc2_sqrt
            tmp += eps
            np.divide(m, tmp, out=tmp)                # p -= step_size * m / denom
            tmp *= step_size
            p -= tmp


class _NumpySgd:
    def __init__(self, params, grads):
        self.p, self.g = params, grads
        self.buf = [g.copy() for g in grads]  # as after torch's first step
        self.tmp = [np.empty_like(p) for p in params]

    def step(self):
        lr, momentum = SGD_HYPER["lr"], SGD_HYPER["momentum"]
        for p, g, buf, tmp in zip(self.p, self.g, self.buf, self.tmp):
            buf *= momentum
            buf += g
            np.multiply(buf, lr, out=tmp)
            p -= tmp


def _fastnn_opt(kind, params, grads):
    import fastnn

    ts = [fastnn.from_numpy(p).requires_grad_() for p in params]
    for t, g in zip(ts, grads):
        t.grad = fastnn.from_numpy(g)
    return fastnn.optim.Adam(ts, **HYPER) if kind == "adam" else fastnn.optim.SGD(ts, **SGD_HYPER)


def _torch_opt(kind, params, grads):
    import torch

    ts = [torch.nn.Parameter(torch.from_numpy(p)) for p in params]
    for t, g in zip(ts, grads):
        t.grad = torch.from_numpy(g)
    cls, hyper = (torch.optim.Adam, HYPER) if kind == "adam" else (torch.optim.SGD, SGD_HYPER)
    try:
        opt = cls(ts, fused=True, **hyper)
        opt.step()  # fused CPU kernels exist from torch 2.4; older versions raise here
        return opt, "fused"
    except (RuntimeError, TypeError):
        return cls(ts, foreach=True, **hyper), "foreach"


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for kind, bytes_per_param in (("adam", 28), ("sgd", 20)):
        for label, count in LAYOUTS:
            params, grads = _arrays(count, rng)
            variant = ""
            if lib == "fastnn":
                opt = _fastnn_opt(kind, params, grads)
            elif lib == "numpy":
                opt = _NumpyAdam(params, grads) if kind == "adam" else _NumpySgd(params, grads)
            else:
                opt, variant = _torch_opt(kind, params, grads)
            opt.step()  # state allocated and first-touched outside the timing
            t = median_time(opt.step, repeats=5 if quick else 11, min_batch_s=0.05)
            case = f"{label}" + (" momentum" if kind == "sgd" else "")
            row = {"kernel": kind, "case": case, "seconds": t, "bytes": bytes_per_param * TOTAL}
            if variant:
                row["torch_variant"] = variant
            rows.append(row)
            del opt, params, grads
    return rows
