"""fastnn's GPU rows: each kernel family through the public API on a CUDA device, beside torch (CUDA) and
CuPy (cuBLAS for GEMM, plain copies for bandwidth) in the same run.

    python bench/gpu.py [--quick] [--json gpu.json]          # on a machine with a GPU (FASTNN_CUDA=auto)
    python bench/gpu.py --emulate --quick                     # smoke run on the emulated device (no GPU)

Ratios are peer time / fastnn time (above 1.0 fastnn is faster). "% limit" is fastnn's rate as a share of
the device's limit measured in the same run: the copy bandwidth (a device-to-device copy of 1 GiB) for
memory-bound rows, and the datasheet FP32 / TF32 peak for GEMM-like rows (there is no portable way to
measure peak FLOP/s without a peak kernel; the figure used is printed). Medians of repeats; each timing
synchronises the device before and after. On the emulator the figures mean nothing: the run checks that
every row executes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

# Datasheet dense peaks (TFLOP/s) of the parts we expect; others print no % of peak.
PEAKS = {"H100": {"fp32": 66.9, "tf32": 495.0}, "H200": {"fp32": 66.9, "tf32": 495.0},
         "A100": {"fp32": 19.5, "tf32": 156.0}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller shapes, fewer repeats")
    p.add_argument("--emulate", action="store_true", help="run on the emulated CUDA device (tiny shapes)")
    p.add_argument("--json", help="write the rows to this file")
    p.add_argument("--only", default="", help="comma-separated row families (copy, gemm, linear, conv, attention, "
                                              "adam, xent, layernorm, pool, batchnorm, gemm_kernels, train)")
    return p.parse_args(argv)


class Lib:
    """One library under test: its module and how to synchronise its device."""

    def __init__(self, name, mod, sync):
        self.name, self.mod, self.sync = name, mod, sync


def libraries(emulate: bool):
    import fastnn

    libs = [Lib("fastnn", fastnn, fastnn.cuda.synchronize)]
    if not emulate:
        try:
            import torch

            if torch.cuda.is_available():
                libs.append(Lib("torch", torch, torch.cuda.synchronize))
        except ImportError:
            pass
    return libs


def median_time(fn, sync, repeats, inner=1):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def _randn(lib, shape, requires_grad=False):
    t = lib.mod.randn(*shape, device="cuda")
    return t.requires_grad_() if requires_grad else t


def rows_copy(libs, cfg):
    n = cfg["copy_elems"]
    out = []
    for lib in libs:
        a = lib.mod.empty(n, device="cuda")
        b = lib.mod.empty(n, device="cuda")
        t = median_time(lambda: b.copy_(a), lib.sync, cfg["repeats"])
        out.append({"row": "copy", "case": f"{n * 4 / 2**20:.0f} MiB", "lib": lib.name, "seconds": t,
                    "bytes": 2.0 * n * 4})
    return out


def rows_gemm(libs, cfg):
    out = []
    for s in cfg["gemm_sizes"]:
        for tf32 in (False, True):
            for lib in libs:
                a, b = _randn(lib, (s, s)), _randn(lib, (s, s))
                lib.mod.backends.cuda.matmul.allow_tf32 = tf32
                t = median_time(lambda: lib.mod.matmul(a, b), lib.sync, cfg["repeats"])
                lib.mod.backends.cuda.matmul.allow_tf32 = False
                out.append({"row": "gemm", "case": f"{s}^3 {'tf32' if tf32 else 'fp32'}", "lib": lib.name,
                            "seconds": t, "flops": 2.0 * s ** 3, "peak": "tf32" if tf32 else "fp32"})
    return out


def rows_linear(libs, cfg):
    m, k, n = cfg["linear"]
    out = []
    for lib in libs:
        x, w, b = _randn(lib, (m, k)), _randn(lib, (n, k)), _randn(lib, (n,))
        F = lib.mod.nn.functional
        t = median_time(lambda: F.relu(F.linear(x, w, b)), lib.sync, cfg["repeats"])
        out.append({"row": "linear+relu", "case": f"{m}x{k} -> {n}", "lib": lib.name, "seconds": t,
                    "flops": 2.0 * m * k * n, "peak": "fp32"})
    return out


def rows_conv(libs, cfg):
    nb, c, hw, oc = cfg["conv"]
    out = []
    for lib in libs:
        x, w = _randn(lib, (nb, c, hw, hw), True), _randn(lib, (oc, c, 3, 3), True)
        F = lib.mod.nn.functional
        flops = 2.0 * nb * oc * hw * hw * c * 9
        t = median_time(lambda: F.conv2d(x, w, padding=1), lib.sync, cfg["repeats"])
        out.append({"row": "conv2d fwd", "case": f"{nb}x{c}x{hw}x{hw} k3 -> {oc}", "lib": lib.name, "seconds": t,
                    "flops": flops, "peak": "fp32"})

        def step():
            y = F.conv2d(x, w, padding=1)
            y.sum().backward()
        t = median_time(step, lib.sync, cfg["repeats"])
        out.append({"row": "conv2d fwd+bwd", "case": f"{nb}x{c}x{hw}x{hw} k3 -> {oc}", "lib": lib.name,
                    "seconds": t, "flops": 3 * flops, "peak": "fp32"})
    return out


def rows_attention(libs, cfg):
    b, h, seq, d = cfg["attention"]
    out = []
    for causal in (False, True):
        for lib in libs:
            q, k, v = (_randn(lib, (b, h, seq, d), True) for _ in range(3))
            F = lib.mod.nn.functional
            flops = 4.0 * b * h * seq * seq * d / (2 if causal else 1)
            t = median_time(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), lib.sync,
                            cfg["repeats"])
            case = f"B{b} H{h} L{seq} D{d}{' causal' if causal else ''}"
            out.append({"row": "attention fwd", "case": case, "lib": lib.name, "seconds": t, "flops": flops,
                        "peak": "fp32"})

            def step():
                F.scaled_dot_product_attention(q, k, v, is_causal=causal).sum().backward()
            t = median_time(step, lib.sync, cfg["repeats"])
            out.append({"row": "attention fwd+bwd", "case": case, "lib": lib.name, "seconds": t,
                        "flops": 3.5 * flops, "peak": "fp32"})
    return out


def rows_adam(libs, cfg):
    tensors, size = cfg["adam"]
    out = []
    for lib in libs:
        params = [lib.mod.nn.Parameter(_randn(lib, (size,))) for _ in range(tensors)]
        for p in params:
            p.grad = _randn(lib, (size,))
        kwargs = {"fused": True} if lib.name == "torch" else {}
        opt = lib.mod.optim.Adam(params, lr=1e-3, **kwargs)
        t = median_time(opt.step, lib.sync, cfg["repeats"])
        # read p, g, m, v and write p, m, v: 7 float32 per element
        out.append({"row": "adam step", "case": f"{tensors} x {size}", "lib": lib.name, "seconds": t,
                    "bytes": 7.0 * 4 * tensors * size})
    return out


def rows_xent(libs, cfg):
    rows, classes = cfg["xent"]
    out = []
    for lib in libs:
        logits = _randn(lib, (rows, classes), True)
        target = lib.mod.randint(0, classes, (rows,), device="cuda")
        F = lib.mod.nn.functional

        def step():
            F.cross_entropy(logits, target).backward()
        t = median_time(step, lib.sync, cfg["repeats"])
        out.append({"row": "softmax-xent fwd+bwd", "case": f"{rows}x{classes}", "lib": lib.name, "seconds": t,
                    "bytes": 3.0 * 4 * rows * classes})  # logits read twice, their gradient written once
    return out


def rows_layernorm(libs, cfg):
    rows, cols = cfg["layernorm"]
    out = []
    for lib in libs:
        x = _randn(lib, (rows, cols))
        w, b = _randn(lib, (cols,)), _randn(lib, (cols,))
        F = lib.mod.nn.functional
        t = median_time(lambda: F.layer_norm(x, (cols,), w, b), lib.sync, cfg["repeats"])
        out.append({"row": "layer_norm fwd", "case": f"{rows}x{cols}", "lib": lib.name, "seconds": t,
                    "bytes": 2.0 * 4 * rows * cols})
    return out


def rows_pool(libs, cfg):
    nb, c, hw = cfg["pool"]
    out = []
    for lib in libs:
        x = _randn(lib, (nb, c, hw, hw))
        F = lib.mod.nn.functional
        t = median_time(lambda: F.max_pool2d(x, 2), lib.sync, cfg["repeats"])
        out.append({"row": "max_pool2d 2x2", "case": f"{nb}x{c}x{hw}x{hw}", "lib": lib.name, "seconds": t,
                    "bytes": 1.25 * 4 * nb * c * hw * hw})
    return out


def rows_batchnorm(libs, cfg):
    nb, c, hw = cfg["pool"]
    out = []
    for lib in libs:
        x = _randn(lib, (nb, c, hw, hw), True)
        bn = lib.mod.nn.BatchNorm2d(c).to("cuda")

        def step():
            bn(x).sum().backward()
        t = median_time(step, lib.sync, cfg["repeats"])
        out.append({"row": "batch_norm fwd+bwd", "case": f"{nb}x{c}x{hw}x{hw}", "lib": lib.name, "seconds": t,
                    "bytes": 5.0 * 4 * nb * c * hw * hw})  # x read twice, g read twice, dx written (plus y)
    return out


def rows_gemm_kernels(libs, cfg):
    """Each GEMM kernel path called directly (bench/gpu_gemm.py) beside torch at the same precision."""
    import gpu_gemm

    return gpu_gemm.rows_gemm_kernels(libs, cfg)


def _train_model(mod, kind, cfg):
    """The CNN or transformer-encoder bench model, a batch on the device, and one training step."""
    nn, F = mod.nn, mod.nn.functional
    mod.manual_seed(0)
    if kind == "cnn":
        batch, hw = cfg["train_cnn"]
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * (hw // 4) ** 2, 10))
        x = mod.randn(batch, 1, hw, hw, device="cuda")
        y = mod.randint(0, 10, (batch,), device="cuda")
    else:
        batch, seq, width = cfg["train_encoder"]
        layer = nn.TransformerEncoderLayer(width, 4, 4 * width, dropout=0.0, batch_first=True)
        model = nn.Sequential(nn.TransformerEncoder(layer, 2), nn.Flatten(), nn.Linear(seq * width, 10))
        x = mod.randn(batch, seq, width, device="cuda")
        y = mod.randint(0, 10, (batch,), device="cuda")
    model = model.to("cuda")
    opt = mod.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def train_worker(kind, lib_name, cfg_name):
    """One training-step timing in this process (the kernel choice is per process): prints seconds."""
    cfg = {"full": FULL, "quick": QUICK, "emulated": EMULATED}[cfg_name]
    if lib_name == "torch":
        import torch

        lib = Lib("torch", torch, torch.cuda.synchronize)
    else:
        import fastnn

        lib = Lib("fastnn", fastnn, fastnn.cuda.synchronize)
    step = _train_model(lib.mod, kind, cfg)
    print(json.dumps({"seconds": median_time(step, lib.sync, cfg["repeats"])}))


def rows_train(libs, cfg):
    """A training step of the CNN and the transformer encoder: fastnn with our kernels, fastnn with every
    kernel left to CuPy's ops (FASTNN_CUDA_KERNELS=composite: "the same model written with CuPy-only ops"),
    and torch; each in its own process."""
    import subprocess

    cfg_name = next(k for k, v in {"full": FULL, "quick": QUICK, "emulated": EMULATED}.items() if v is cfg)
    variants = [("fastnn", "fastnn", "native"), ("fastnn-cupy", "fastnn", "composite")]
    if any(lib.name == "torch" for lib in libs):
        variants.append(("torch", "torch", "native"))
    out = []
    for kind in ("cnn", "encoder"):
        for label, lib_name, kernels in variants:
            env = dict(os.environ, FASTNN_CUDA_KERNELS=kernels)
            r = subprocess.run([sys.executable, __file__, "--train-worker", kind, lib_name, cfg_name],
                               capture_output=True, text=True, env=env, timeout=600)
            if r.returncode != 0:
                raise RuntimeError(f"train worker {kind}/{label} failed:\n{r.stderr[-2000:]}")
            seconds = json.loads(r.stdout.strip().splitlines()[-1])["seconds"]
            case = (f"CNN batch {cfg['train_cnn'][0]}" if kind == "cnn" else
                    "encoder B{} L{} d{}".format(*cfg["train_encoder"]))
            out.append({"row": "train step", "case": case, "lib": label, "seconds": seconds})
    return out


FAMILIES = {"copy": rows_copy, "gemm": rows_gemm, "linear": rows_linear, "conv": rows_conv,
            "attention": rows_attention, "adam": rows_adam, "xent": rows_xent, "layernorm": rows_layernorm,
            "pool": rows_pool, "batchnorm": rows_batchnorm, "gemm_kernels": rows_gemm_kernels, "train": rows_train}

FULL = {"repeats": 7, "copy_elems": 2**28, "gemm_sizes": (1024, 4096), "linear": (8192, 1024, 4096),
        "conv": (32, 128, 56, 128), "attention": (4, 16, 2048, 64), "adam": (64, 2**20), "xent": (8192, 32000),
        "layernorm": (16384, 4096), "pool": (32, 128, 112), "train_cnn": (256, 28), "train_encoder": (32, 256, 256),
        "gemm_kernel_size": 4096}
QUICK = {"repeats": 3, "copy_elems": 2**26, "gemm_sizes": (2048,), "linear": (4096, 1024, 1024),
         "conv": (16, 64, 56, 64), "attention": (2, 8, 1024, 64), "adam": (32, 2**18), "xent": (4096, 8192),
         "layernorm": (4096, 1024), "pool": (16, 64, 56), "train_cnn": (128, 28), "train_encoder": (16, 128, 256),
         "gemm_kernel_size": 2048,
         "gemm_split_shape": (256, 256, 16384)}
EMULATED = {"repeats": 1, "copy_elems": 1024, "gemm_sizes": (48,), "linear": (16, 24, 8), "conv": (1, 3, 6, 4),
            "attention": (1, 1, 16, 8), "adam": (3, 40), "xent": (5, 7), "layernorm": (4, 33), "pool": (1, 2, 6),
            "train_cnn": (2, 8), "train_encoder": (2, 4, 8), "gemm_kernel_size": 32, "gemm_split_shape": (8, 8, 256)}


def device_name(emulate: bool) -> str:
    if emulate:
        return "emulated CUDA device (host memory; timings meaningless)"
    import fastnn

    return fastnn.cuda.get_device_name(0)


def report(rows, name):
    peaks = next((v for k, v in PEAKS.items() if k in name), None)
    copy = {r["lib"]: r["bytes"] / r["seconds"] for r in rows if r["row"] == "copy"}
    limit_bw = copy.get("fastnn")
    print(f"device: {name}")
    if limit_bw:
        print(f"copy bandwidth (the memory limit): {limit_bw / 1e9:.0f} GB/s")
    if peaks:
        print(f"datasheet peaks used for % limit: FP32 {peaks['fp32']} TFLOP/s, TF32 {peaks['tf32']} TFLOP/s")
    header = (f"{'row':<22} {'case':<28} {'fastnn ms':>10} {'rate':>14} {'% limit':>8} {'peer ms':>10} {'ratio':>6}"
              "   (peer: torch; 'vs CuPy ops': fastnn with every kernel left to CuPy)")
    print(header)
    print("-" * len(header))
    keyed = {}
    for r in rows:
        keyed.setdefault((r["row"], r["case"]), {})[r["lib"]] = r
    for (row, case), by_lib in keyed.items():
        ours = by_lib.get("fastnn")
        if ours is None:
            continue
        t = ours["seconds"]
        if "flops" not in ours and "bytes" not in ours:
            rate_text, pct = "", None
        elif "flops" in ours:
            rate = ours["flops"] / t / 1e12
            rate_text = f"{rate:8.2f} TFLOP/s"
            pct = 100 * rate / peaks[ours["peak"]] if peaks else None
        else:
            rate = ours["bytes"] / t / 1e9
            rate_text = f"{rate:8.1f} GB/s"
            pct = 100 * ours["bytes"] / t / limit_bw if limit_bw else None
        pct_text = f"{pct:7.1f}%" if pct is not None else "       -"
        for name in [p for p in ("torch", "fastnn-cupy") if p in by_lib] or [None]:
            peer = by_lib.get(name)
            ratio = f"{peer['seconds'] / t:6.2f}" if peer else "     -"
            peer_ms = f"{peer['seconds'] * 1e3:10.3f}" if peer else "         -"
            label = case + (" vs CuPy ops" if name == "fastnn-cupy" else "")
            print(f"{row:<22} {label:<28} {t * 1e3:10.3f} {rate_text:>14} {pct_text:>8} {peer_ms} {ratio}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--train-worker"]:
        if len(argv) != 4:
            raise SystemExit("usage: gpu.py --train-worker cnn|encoder fastnn|torch full|quick|emulated")
        train_worker(*argv[1:])
        return 0
    args = parse_args(argv)
    if args.emulate:
        os.environ["FASTNN_CUDA"] = "emulate"
    import fastnn

    if not fastnn.cuda.is_available():
        print("bench/gpu.py: no CUDA device (fastnn.cuda.is_available() is False); use --emulate for a smoke run",
              file=sys.stderr)
        return 2
    cfg = EMULATED if args.emulate else (QUICK if args.quick else FULL)
    libs = libraries(args.emulate)
    wanted = [f for f in args.only.split(",") if f] or list(FAMILIES)
    rows = []
    for family in wanted:
        print(f"  {family} ...", file=sys.stderr, flush=True)
        rows += FAMILIES[family](libs, cfg)
    name = device_name(args.emulate)
    report(rows, name)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
