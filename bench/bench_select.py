"""Selection and gathering ops beside torch and NumPy: topk and sort along the last dim (on the backend's
argpartition / argsort), and embedding_bag's mean over bags of gathered rows. Memory-bound: rows count bytes
(the input read plus the output written)."""
from __future__ import annotations

import numpy as np

from common import median_time


def np_topk(x, k):
    idx = np.argpartition(-x, k - 1, axis=-1)[..., :k]
    vals = np.take_along_axis(x, idx, -1)
    order = np.argsort(-vals, axis=-1, kind="stable")
    return np.take_along_axis(vals, order, -1), np.take_along_axis(idx, order, -1)


def np_embedding_bag_mean(weight, idx, offsets):
    rows = weight[idx]
    sums = np.add.reduceat(rows, offsets, axis=0)
    counts = np.diff(np.append(offsets, len(idx)))
    return sums / counts[:, None]


def _cases(rng, quick):
    f32 = np.float32
    x = rng.standard_normal((1024, 1024), dtype=f32)
    n_bags, per_bag, dim = 4096, 20, 64
    weight = rng.standard_normal((10000, dim), dtype=f32)
    idx = rng.integers(0, 10000, n_bags * per_bag)
    offsets = np.arange(0, n_bags * per_bag, per_bag)
    cases = [("topk", "1024x1024 k=10 dim=-1", dict(x=x), x.nbytes + 1024 * 10 * 12),
             ("sort", "1024x1024 dim=-1", dict(x=x), x.nbytes + x.nbytes * 3),
             ("emb_bag", f"mean {n_bags} bags x {per_bag} of 10000x{dim}",
              dict(weight=weight, idx=idx, offsets=offsets), idx.size * dim * 4 + n_bags * dim * 4)]
    return cases[:1] + cases[2:] if quick else cases


def _calls(kernel, lib, a):
    if lib == "numpy":
        return {"topk": lambda: np_topk(a["x"], 10),
                "sort": lambda: (np.sort(a["x"], axis=-1), np.argsort(a["x"], axis=-1)),
                "emb_bag": lambda: np_embedding_bag_mean(a["weight"], a["idx"], a["offsets"])}[kernel]
    if lib == "fastnn":
        import fastnn as m
        from fastnn.nn import functional as F
    else:
        import torch as m
        import torch.nn.functional as F
    t = {k: m.tensor(v) for k, v in a.items()}
    return {"topk": lambda: m.topk(t["x"], 10, dim=-1),
            "sort": lambda: m.sort(t["x"], dim=-1),
            "emb_bag": lambda: F.embedding_bag(t["idx"], t["weight"], t["offsets"], mode="mean")}[kernel]


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    reps = 3 if quick else 7
    for kernel, label, arrays, work in _cases(rng, quick):
        rows.append({"kernel": kernel, "case": label, "seconds": median_time(_calls(kernel, lib, arrays), repeats=reps),
                     "bytes": work})
    return rows
