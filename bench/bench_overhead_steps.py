"""Per-step time of tiny training steps, where Python overhead per op decides: fastnn vs torch in ONE process,
timed alternately (A/B/A/B...) so that a shared, noisy machine slows both alike. Prints median microseconds per
step and the ratio fastnn/torch (below 1: fastnn faster).

    PYTHONPATH=python python bench/bench_overhead_steps.py [--rounds 15] [--profile mlp|lstm32|lstm64|gpt|gpt_heads]

Models: a Linear-ReLU-Linear MLP (batch 16, cross_entropy, Adam); an LSTMCell loop (seq 20, batch 8, hidden 32,
MSE on the last state, Adam) in float32 and float64; a GPT block (embedding, layer_norm, Linear qkv, causal
scaled_dot_product_attention, GELU MLP, AdamW; batch 4, seq 16, width 32). 1 thread each.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import fastnn


def mlp(lib):
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((16, 32)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 16))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def lstm(lib, dtype_name):
    nn = lib.nn
    dtype = getattr(lib, dtype_name)
    lib.manual_seed(0)
    cell = nn.LSTMCell(16, 32).to(dtype)
    head = nn.Linear(32, 1).to(dtype)
    opt = lib.optim.Adam(list(cell.parameters()) + list(head.parameters()), lr=1e-3)
    rng = np.random.default_rng(0)
    xs = lib.tensor(rng.standard_normal((20, 8, 16))).to(dtype)
    y = lib.tensor(rng.standard_normal((8, 1))).to(dtype)

    def step():
        opt.zero_grad()
        h = lib.zeros(8, 32, dtype=dtype)
        c = lib.zeros(8, 32, dtype=dtype)
        for t in range(20):
            h, c = cell(xs[t], (h, c))
        loss = nn.functional.mse_loss(head(h), y)
        loss.backward()
        opt.step()
    return step


def gpt(lib):
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    B, T, C, H, V = 4, 16, 32, 4, 64
    emb, pos = nn.Embedding(V, C), nn.Embedding(T, C)
    ln1, ln2, lnf = nn.LayerNorm(C), nn.LayerNorm(C), nn.LayerNorm(C)
    qkv, proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
    fc, fc2, head = nn.Linear(C, 4 * C), nn.Linear(4 * C, C), nn.Linear(C, V, bias=False)
    mods = [emb, pos, ln1, ln2, lnf, qkv, proj, fc, fc2, head]
    opt = lib.optim.AdamW([p for m in mods for p in m.parameters()], lr=1e-3)
    rng = np.random.default_rng(0)
    idx = lib.tensor(rng.integers(0, V, (B, T)))
    tgt = lib.tensor(rng.integers(0, V, (B, T)))
    ar = lib.arange(T)

    def step():
        opt.zero_grad()
        x = emb(idx) + pos(ar)
        q, k, v = qkv(ln1(x)).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + proj(a.transpose(1, 2).reshape(B, T, C))
        x = x + fc2(F.gelu(fc(ln2(x))))
        logits = head(lnf(x))
        loss = F.cross_entropy(logits.view(B * T, V), tgt.view(B * T))
        loss.backward()
        opt.step()
    return step


def gpt_heads(lib):
    """The same block written as the well-known small-GPT tutorials do: a Linear per head for k, q, v, the
    attention by hand (matmul, scale, masked_fill with a tril buffer, softmax, dropout), torch.cat of the
    heads, dropout after the projection and in the ReLU MLP: many small ops per step."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    B, T, C, H, V = 4, 16, 32, 4, 64
    hs = C // H
    heads = [(nn.Linear(C, hs, bias=False), nn.Linear(C, hs, bias=False), nn.Linear(C, hs, bias=False))
             for _ in range(H)]
    emb, pos = nn.Embedding(V, C), nn.Embedding(T, C)
    ln1, ln2, lnf = nn.LayerNorm(C), nn.LayerNorm(C), nn.LayerNorm(C)
    proj, fc, fc2, head = nn.Linear(C, C), nn.Linear(C, 4 * C), nn.Linear(4 * C, C), nn.Linear(C, V)
    drop = nn.Dropout(0.1)
    mods = [m for h in heads for m in h] + [emb, pos, ln1, ln2, lnf, proj, fc, fc2, head]
    opt = lib.optim.AdamW([p for m in mods for p in m.parameters()], lr=1e-3)
    tril = lib.tril(lib.ones(T, T))
    rng = np.random.default_rng(0)
    idx = lib.tensor(rng.integers(0, V, (B, T)))
    tgt = lib.tensor(rng.integers(0, V, (B, T)))
    ar = lib.arange(T)

    def step():
        opt.zero_grad()
        x = emb(idx) + pos(ar)
        y = ln1(x)
        outs = []
        for kl, ql, vl in heads:
            k, q, v = kl(y), ql(y), vl(y)
            wei = q @ k.transpose(-2, -1) * hs ** -0.5
            wei = wei.masked_fill(tril[:T, :T] == 0, float("-inf"))
            wei = drop(F.softmax(wei, dim=-1))
            outs.append(wei @ v)
        x = x + drop(proj(lib.cat(outs, dim=-1)))
        x = x + drop(fc2(F.relu(fc(ln2(x)))))
        logits = head(lnf(x))
        loss = F.cross_entropy(logits.view(B * T, V), tgt.view(B * T))
        loss.backward()
        opt.step()
    return step


MODELS = {"mlp": mlp, "lstm32": lambda lib: lstm(lib, "float32"), "lstm64": lambda lib: lstm(lib, "float64"),
          "gpt": gpt, "gpt_heads": gpt_heads}


def per_step_us(step, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        step()
    return (time.perf_counter_ns() - t0) / n / 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--profile", choices=list(MODELS), help="cProfile fastnn's step of this model instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    fastnn.set_num_threads(1)
    if args.profile:
        import cProfile
        import pstats
        step = MODELS[args.profile](fastnn)
        for _ in range(20):
            step()
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(200 if args.profile == "mlp" else 30):
            step()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(30)
        return
    print(f"{'model':8s} {'fastnn us':>10s} {'torch us':>10s} {'ratio':>6s}")
    for name in args.models.split(","):
        steps = {lib.__name__: MODELS[name](lib) for lib in (fastnn, torch)}
        # calibrate: about 20 ms per batch
        n = {}
        for k, s in steps.items():
            for _ in range(3):
                s()
            n[k] = max(1, int(20000 / per_step_us(s, 3)))
        samples = {k: [] for k in steps}
        for _ in range(args.rounds):
            for k, s in steps.items():
                samples[k].append(per_step_us(s, n[k]))
        f, t = statistics.median(samples["fastnn"]), statistics.median(samples["torch"])
        print(f"{name:8s} {f:10.1f} {t:10.1f} {f / t:6.2f}", flush=True)


if __name__ == "__main__":
    main()
