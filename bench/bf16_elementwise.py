"""Per-op time of bfloat16 elementwise ops and their backward on a (128, 256) tensor beside the same op in float32,
medians of repeats in microseconds (the rows that dominate an autocast MLP step besides the GEMMs).

    OMP_NUM_THREADS=1 python bench/bf16_elementwise.py [--repeats 200]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _median_us(f, n: int) -> float:
    for _ in range(5):
        f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    import fastnn

    F = fastnn.nn.functional
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((128, 256)).astype(np.float32) for _ in range(2))
    big = rng.standard_normal(1 << 20).astype(np.float32)
    for dt in (fastnn.float32, fastnn.bfloat16):
        x, y = fastnn.tensor(a).to(dt), fastnn.tensor(b).to(dt)
        xg, g = fastnn.tensor(a).to(dt).requires_grad_(True), fastnn.tensor(b).to(dt)
        m = fastnn.tensor(big).to(dt)

        def bwd(fn, xg=xg, g=g):
            return lambda: fn(xg).backward(g)

        rows = {"relu": lambda: F.relu(x), "add": lambda: x + y, "mul": lambda: x * y, "gelu": lambda: F.gelu(x),
                "sum": lambda: x.sum(), "softmax": lambda: F.softmax(x, 1), "relu fwd+bwd": bwd(F.relu),
                "mul fwd+bwd": bwd(lambda t: t * y), "gelu fwd+bwd": bwd(F.gelu),
                "softmax fwd+bwd": bwd(lambda t: F.softmax(t, 1)), "mul 1M": lambda: m * m}
        for name, f in rows.items():
            print(f"{str(dt):16s} {name:16s} {_median_us(f, args.repeats):9.1f} us")


if __name__ == "__main__":
    main()
