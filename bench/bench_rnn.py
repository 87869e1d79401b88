"""Recurrent layers: the issue's 2-layer LSTM (seq 50, hidden 128, input 128, batch 32), forward +
backward (one training step without the optimizer) and forward alone under no_grad, plus a GRU of the
same size; fastnn's nn.LSTM/nn.GRU beside torch's (oneDNN on CPU) with the same weights. There is no
NumPy row: a NumPy LSTM would be fastnn's own kernels.

Flops count the GEMMs only (2 per multiply-add): per layer the input projection 2·L·N·I·G plus the
recurrence 2·L·N·H·G (G = gates·H); a backward costs twice the forward (dx and dW of each GEMM).
"""
from __future__ import annotations

import numpy as np

from common import median_time

SEQ, BATCH, INPUT, HIDDEN, LAYERS = 50, 32, 128, 128, 2
CASES = [("LSTM", 4), ("GRU", 3)]


def _flops(gates: int, backward: bool) -> float:
    g = gates * HIDDEN
    fwd = sum(2 * SEQ * BATCH * (INPUT if layer == 0 else HIDDEN) * g + 2 * SEQ * BATCH * HIDDEN * g
              for layer in range(LAYERS))
    return 3 * fwd if backward else fwd


def _models(lib: str, kind: str, rng):
    import torch

    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(INPUT, HIDDEN, LAYERS)
    x = rng.standard_normal((SEQ, BATCH, INPUT), dtype=np.float32)
    if lib == "torch":
        return ref, torch.from_numpy(x).requires_grad_(), torch
    import fastnn

    model = getattr(fastnn.nn, kind)(INPUT, HIDDEN, LAYERS)
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return model, fastnn.tensor(x, requires_grad=True), fastnn


def run(lib: str, quick: bool) -> list[dict]:
    if lib == "numpy":
        return []
    rng = np.random.default_rng(0)
    rows = []
    case = f"{LAYERS}L s{SEQ} h{HIDDEN} b{BATCH}"
    for kind, gates in CASES:
        if quick and kind != "LSTM":
            continue
        model, x, mod = _models(lib, kind, rng)

        def train_step():
            model.zero_grad()
            x.grad = None
            out, _ = model(x)
            out.sum().backward()

        def forward():
            with mod.no_grad():
                model(x)

        repeats = 5 if quick else 11
        rows.append({"kernel": kind.lower(), "case": case + " fwd+bwd", "flops": _flops(gates, True),
                     "seconds": median_time(train_step, repeats=repeats, min_batch_s=0.1)})
        rows.append({"kernel": kind.lower(), "case": case + " fwd", "flops": _flops(gates, False),
                     "seconds": median_time(forward, repeats=repeats, min_batch_s=0.1)})
    return rows
