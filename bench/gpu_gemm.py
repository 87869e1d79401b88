"""GPU rows for the CUDA GEMM kernels called directly (csrc/cuda/gemm.cu through the backend's kernel module),
one row per path the launcher can take, beside torch's matmul (cuBLAS) at the same precision:

    fp32 simt_128x128 / fp32 simt_64x64   the SIMT kernels (torch with allow_tf32 False)
    tf32 mma                              TF32 mma.sync (torch with allow_tf32 True)
    bf16 mma (f32 out / bf16 out)         BF16 mma.sync (torch bfloat16 matmul)
    fp32 auto                             the launcher's own choice (what fastnn.matmul runs)
    bf16 wgmma f32 out                    the Hopper kernel (opt-in; skipped where the GPU or build lacks it)
    m x n over k (g.T @ x)                a weight gradient's shape with and without split-K

    python bench/gpu_gemm.py [--size 4096] [--repeats 7] [--json rows.json]   # on a GPU (FASTNN_CUDA=auto)
    python bench/gpu_gemm.py --emulate                                         # smoke run, tiny shapes

``rows_gemm_kernels(libs, cfg)`` has the shape of bench/gpu.py's row functions (``libs``: objects with
``name``, ``mod``, ``sync``; ``cfg``: ``repeats``, ``gemm_kernel_size``, optionally ``gemm_split_shape``), so
gpu.py can list it in its FAMILIES. Timing: the median of ``repeats`` calls, the device synchronised before
and after each (one warm-up call first); rates are 2 * m * n * k flops over that time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def _median_time(fn, sync, repeats):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _bf16_bits(np, x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def rows_gemm_kernels(libs, cfg):
    import numpy as np

    import fastnn
    from fastnn.backend import get_backend

    be = get_backend("cuda")
    nat, xp, s = be.native, be.xp, int(cfg.get("gemm_kernel_size", 4096))
    rng = np.random.default_rng(0)
    ha, hb = rng.standard_normal((s, s), np.float32), rng.standard_normal((s, s), np.float32)
    with be.device_guard():
        a, b, c = xp.asarray(ha), xp.asarray(hb), xp.empty((s, s), xp.float32)
        a16, b16 = xp.asarray(_bf16_bits(np, ha)), xp.asarray(_bf16_bits(np, hb))
        c16 = xp.empty((s, s), xp.uint16)

    # case: (binding, operands, dtype, allow_tf32, kernel)
    cases = {
        "fp32 simt_128x128": (nat.gemm_f32, (a, b, c), "float32", False, "simt_128x128"),
        "fp32 simt_64x64": (nat.gemm_f32, (a, b, c), "float32", False, "simt_64x64"),
        "fp32 auto": (nat.gemm_f32, (a, b, c), "float32", False, "auto"),
        "tf32 mma": (nat.gemm_f32, (a, b, c), "float32", True, "mma"),
        "bf16 mma f32 out": (nat.gemm_bf16, (a16, b16, c), "bfloat16", None, "mma"),
        "bf16 mma bf16 out": (nat.gemm_bf16, (a16, b16, c16), "bfloat16", None, "mma"),
        "bf16 wgmma f32 out": (nat.gemm_bf16, (a16, b16, c), "bfloat16", None, "wgmma"),
    }
    flops = 2.0 * s ** 3
    rows = []
    for case, (fn, operands, dtype, tf32, kernel) in cases.items():
        kw = {"kernel": kernel, "device": be.device_id, "stream": be.stream()}
        if tf32 is not None:
            kw["allow_tf32"] = tf32
        try:
            t = _median_time(lambda: fn(*operands, **kw), fastnn.cuda.synchronize, cfg["repeats"])
        except RuntimeError as e:  # wgmma: not an sm_90 GPU, or a build without sm_90a code
            print(f"  skipped {case}: {e}", file=sys.stderr)
            continue
        rows.append({"row": "gemm kernel", "case": f"{s}^3 {case}", "lib": "fastnn", "seconds": t, "flops": flops,
                     "peak": "fp32" if case.startswith("fp32") else "tf32",
                     "kernel": nat.gemm_kernel_for(s, s, s, dtype=dtype, allow_tf32=bool(tf32), kernel=kernel,
                                                   device=be.device_id)})
    for lib in libs:
        if lib.name != "torch":
            continue
        torch = lib.mod
        ta, tb = torch.as_tensor(ha, device="cuda"), torch.as_tensor(hb, device="cuda")
        peers = {}
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            peers["tf32" if tf32 else "fp32"] = _median_time(lambda: torch.matmul(ta, tb), lib.sync, cfg["repeats"])
        torch.backends.cuda.matmul.allow_tf32 = False
        ta16, tb16 = ta.bfloat16(), tb.bfloat16()
        peers["bf16"] = _median_time(lambda: torch.matmul(ta16, tb16), lib.sync, cfg["repeats"])
        for case in cases:
            rows.append({"row": "gemm kernel", "case": f"{s}^3 {case}", "lib": "torch",
                         "seconds": peers[case.split()[0]], "flops": flops})
    return rows + _rows_split_k(libs, cfg, be)


def _rows_split_k(libs, cfg, be):
    """A weight gradient's shape, g.T @ x (small m x n, long k), with and without the split-K workspace."""
    import numpy as np

    import fastnn

    m, n, k = cfg.get("gemm_split_shape", (256, 256, 65536))
    rng = np.random.default_rng(1)
    hg, hx = rng.standard_normal((k, m), np.float32), rng.standard_normal((k, n), np.float32)
    nat, xp = be.native, be.xp
    with be.device_guard():
        g, x, c = xp.asarray(hg), xp.asarray(hx), xp.empty((m, n), xp.float32)
        ws = xp.empty(max(nat.gemm_workspace_size(m, n, k, device=be.device_id), 1), xp.float32)
    case = f"{m}x{n} over k={k} (g.T @ x)"
    rows = []
    for label, w in (("split-K", ws), ("one slice", None)):
        t = _median_time(lambda: nat.gemm_f32(g.T, x, c, workspace=w, device=be.device_id, stream=be.stream()),
                         fastnn.cuda.synchronize, cfg["repeats"])
        rows.append({"row": "gemm kernel", "case": f"{case} {label}", "lib": "fastnn", "seconds": t,
                     "flops": 2.0 * m * n * k, "peak": "fp32",
                     "kernel": nat.gemm_kernel_for(m, n, k, device=be.device_id) +
                     (f" x{ws.size // (m * n)}" if w is not None and ws.size > 1 else "")})
    for lib in libs:
        if lib.name == "torch":
            torch = lib.mod
            tg, tx = torch.as_tensor(hg, device="cuda"), torch.as_tensor(hx, device="cuda")
            t = _median_time(lambda: tg.T @ tx, lib.sync, cfg["repeats"])
            rows += [{"row": "gemm kernel", "case": f"{case} {label}", "lib": "torch", "seconds": t,
                      "flops": 2.0 * m * n * k} for label in ("split-K", "one slice")]
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--emulate", action="store_true", help="the emulated CUDA device, 48^3 (timings meaningless)")
    p.add_argument("--json", help="write the rows to this file")
    args = p.parse_args(argv)
    if args.emulate:
        os.environ["FASTNN_CUDA"] = "emulate"
    import fastnn

    if not fastnn.cuda.is_available():
        print("bench/gpu_gemm.py: no CUDA device; use --emulate for a smoke run", file=sys.stderr)
        return 2

    class Lib:
        def __init__(self, name, mod, sync):
            self.name, self.mod, self.sync = name, mod, sync

    libs = [Lib("fastnn", fastnn, fastnn.cuda.synchronize)]
    if not args.emulate:
        try:
            import torch

            if torch.cuda.is_available():
                libs.append(Lib("torch", torch, torch.cuda.synchronize))
        except ImportError:
            pass
    cfg = {"repeats": 1 if args.emulate else args.repeats, "gemm_kernel_size": 48 if args.emulate else args.size}
    if args.emulate:
        cfg["gemm_split_shape"] = (16, 16, 1024)
    rows = rows_gemm_kernels(libs, cfg)
    peer = {r["case"]: r["seconds"] for r in rows if r["lib"] == "torch"}
    print(f"{'case':<44} {'kernel':<17} {'ms':>9} {'TFLOP/s':>9} {'torch ms':>9} {'torch/ours':>10}")
    for r in rows:
        if r["lib"] != "fastnn":
            continue
        t = r["seconds"]
        tp = peer.get(r["case"])
        print(f"{r['case']:<44} {r['kernel']:<17} {t * 1e3:9.3f} {r['flops'] / t / 1e12:9.2f} "
              f"{(tp * 1e3 if tp else float('nan')):9.3f} {(tp / t if tp else float('nan')):10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": "emulated" if args.emulate else fastnn.cuda.get_device_name(0), "rows": rows}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
