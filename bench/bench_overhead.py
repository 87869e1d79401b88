"""Python overhead per op: chains of ops on 4-element tensors, where the arithmetic costs nothing and
every microsecond is dispatch, graph recording and backward bookkeeping."""
from __future__ import annotations

import numpy as np

from common import median_time


def run(lib: str, quick: bool) -> list[dict]:
    x = np.ones(4, np.float32)
    if lib == "fastnn":
        import fastnn as F

        a, b = F.tensor(x, requires_grad=True), F.tensor(x)

        def op():
            return a + b

        def chain():
            ((a * b + 1.0).relu().sum()).backward()
    elif lib == "torch":
        import torch as F

        a, b = F.tensor(x, requires_grad=True), F.tensor(x)

        def op():
            return a + b

        def chain():
            ((a * b + 1.0).relu().sum()).backward()
    else:  # NumPy has no autograd: its rows time the same arithmetic alone, the floor any library pays
        a, b = x, x.copy()

        def op():
            return a + b

        def chain():
            np.maximum(a * b + 1.0, 0).sum()
    reps = 3 if quick else 5
    return [{"kernel": "overhead", "case": "a + b (4 elems, grad)", "seconds": median_time(op, repeats=reps)},
            {"kernel": "overhead", "case": "4 ops + backward", "seconds": median_time(chain, repeats=reps)}]
