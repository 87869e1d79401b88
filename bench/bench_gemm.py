"""GEMM: square sizes and the products a training step runs (forward NN, backward NT and TN)."""
from __future__ import annotations

import numpy as np

from common import median_time

# (label, m, k, n, layout): layout says which operand arrives transposed (a strided view, as autograd
# passes it): NN forward, NT = dY @ W^T, TN = X^T @ dY.
SQUARE = [(f"{s}^3", s, s, s, "NN") for s in (256, 512, 1024, 2048)]
TRAINING = []
for m, k, n in ((64, 784, 256), (256, 1024, 1024), (4096, 64, 4096)):
    TRAINING += [(f"{m}x{k}.{k}x{n}", m, k, n, "NN"),
                 (f"dX {m}x{n}.({k}x{n})T", m, n, k, "NT"),
                 (f"dW ({m}x{k})T.{m}x{n}", k, m, n, "TN")]
CASES = SQUARE + TRAINING
QUICK = {"256^3", "1024^3", "64x784.784x256", "dX 64x256.(784x256)T", "dW (64x784)T.64x256"}


def operands(m, k, n, layout, rng):
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    if layout == "NT":
        b = np.ascontiguousarray(b.T).T
    elif layout == "TN":
        a = np.ascontiguousarray(a.T).T
    return a, b


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    if lib == "fastnn":
        from fastnn import _C

        matmul = _C.matmul
        convert = lambda x: x  # noqa: E731
    elif lib == "numpy":
        matmul = np.matmul
        convert = lambda x: x  # noqa: E731
    else:
        import torch

        matmul = torch.matmul
        convert = torch.from_numpy  # a transposed NumPy view becomes a transposed torch view
    rows = []
    for label, m, k, n, layout in CASES:
        if quick and label not in QUICK:
            continue
        a, b = operands(m, k, n, layout, rng)
        ta, tb = convert(a), convert(b)
        t = median_time(lambda: matmul(ta, tb), repeats=3 if quick else 5)
        rows.append({"kernel": "gemm", "case": label, "layout": layout, "seconds": t, "flops": 2.0 * m * k * n})
    return rows
