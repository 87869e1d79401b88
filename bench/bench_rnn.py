"""Recurrent layers: the issue's 2-layer LSTM (seq 50, hidden 128, input 128, batch 32), forward +
backward (one training step without the optimizer; the input needs no gradient) and forward alone under no_grad, plus a GRU of the
same size; fastnn's nn.LSTM/nn.GRU beside torch's (oneDNN on CPU) with the same weights. There is no
NumPy row: a NumPy LSTM would be fastnn's own kernels.

Flops count the GEMMs only (2 per multiply-add): per layer the input projection 2·L·N·I·G plus the
recurrence 2·L·N·H·G (G = gates·H); the backward repeats each GEMM for dW and for dh or dx (no dx for
the first layer, whose input is data).
"""
from __future__ import annotations

import numpy as np

from common import median_time

SEQ, BATCH, INPUT, HIDDEN, LAYERS = 50, 32, 128, 128, 2
CASES = [("LSTM", 4), ("GRU", 3)]


def _flops(gates: int, backward: bool) -> float:
    g = gates * HIDDEN
    proj = [2 * SEQ * BATCH * (INPUT if layer == 0 else HIDDEN) * g for layer in range(LAYERS)]
    rec = 2 * SEQ * BATCH * HIDDEN * g
    fwd = sum(proj) + LAYERS * rec
    # backward: dW_ih and dW_hh of every layer, the dh recurrence, dx of all but the first layer (its input
    # is data and needs no gradient)
    return fwd + sum(proj) + 2 * LAYERS * rec + sum(proj[1:]) if backward else fwd


def _models(lib: str, kind: str, rng):
    """The model of ``kind`` in ``lib`` with weights drawn here (same seed, same weights in every library:
    the fastnn worker needs no torch), and its input."""
    x = rng.standard_normal((SEQ, BATCH, INPUT), dtype=np.float32)
    if lib == "torch":
        import torch as mod

        model = getattr(mod.nn, kind)(INPUT, HIDDEN, LAYERS)
        x_t = mod.from_numpy(x)
    else:
        import fastnn as mod

        model = getattr(mod.nn, kind)(INPUT, HIDDEN, LAYERS)
        x_t = mod.tensor(x)
    wrng = np.random.default_rng(1)
    bound = 1 / np.sqrt(HIDDEN)
    state = {k: wrng.uniform(-bound, bound, tuple(v.shape)).astype(np.float32)
             for k, v in model.state_dict().items()}
    if lib == "torch":
        state = {k: mod.from_numpy(v) for k, v in state.items()}
    model.load_state_dict(state)
    return model, x_t, mod


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

        def train_step():  # the input is data: no gradient for it, as in a training step
            model.zero_grad()
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
