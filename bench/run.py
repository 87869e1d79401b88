"""fastnn benchmark: every kernel beside NumPy (and PyTorch when importable), in one run.

    python bench/run.py [--quick] [--only gemm] [--threads 1,2] [--json results.json] [--png chart.png]
                        [--contended]

Each library runs in its own process per thread count (idle OpenMP/OpenBLAS threads of one library
spin and slow the other down when they share a process). Ratios are peer time / fastnn time: above
1.0 fastnn is faster. "% limit" is fastnn's rate as a share of the machine's limit measured by
fastnn's native probe in the same run: peak FMA at the active ISA level for rows that count flops,
DRAM triad bandwidth for rows that count bytes moved (memory-bound kernels).

--contended times everything (limits included) beside one busy process pinned to the last CPU of the
bench's affinity set (see contended.py) and adds a check of every N-thread row against its own 1-thread
figure and NumPy's N-thread figure from the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (BENCH_DIR, LIBRARIES, UNSET_FOR_PEERS, cpu_model, import_time_s,  # noqa: E402
                    library_available, run_worker)
from contended import Spinner, check_rows, print_check  # noqa: E402

FAMILIES = ["gemm", "gemm_bf16", "conv", "conv_extra", "select", "attention", "softmax", "optim", "overhead", "rnn",
            "train_step", "keras_fit"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="", help=f"comma-separated families to run (of {', '.join(FAMILIES)})")
    p.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    p.add_argument("--no-demo", dest="demo", action="store_false", help="skip the training demo after the table")
    p.add_argument("--threads", default="1,2", help="thread counts to run, comma-separated")
    p.add_argument("--libs", default=",".join(LIBRARIES), help="libraries to time (fastnn always included)")
    p.add_argument("--json", type=Path, help="write all results to this JSON file")
    p.add_argument("--png", type=Path, help="write a chart of the ratios (needs matplotlib); "
                                             "defaults to the --json path with .png")
    p.add_argument("--contended", action="store_true",
                   help="time beside one busy process pinned to the last CPU (a busy machine) and check every "
                        "N-thread row against its 1-thread figure and NumPy's")
    args = p.parse_args(argv)
    args.families = [f for f in args.only.split(",") if f] or FAMILIES
    unknown = set(args.families) - set(FAMILIES)
    if unknown:
        p.error(f"unknown family: {', '.join(sorted(unknown))} (known: {', '.join(FAMILIES)})")
    args.thread_counts = [int(t) for t in args.threads.split(",") if t]
    args.libs = ["fastnn"] + [lib for lib in args.libs.split(",") if lib and lib != "fastnn"]
    return args


def fmt_ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:9.3f}" if ms >= 0.1 else f"{ms:9.5f}"  # overhead rows are microseconds


def fmt_rate(rate, unit):
    return "-" if rate is None else f"{rate:6.1f} {unit:<5}"


def fmt_pct(pct):
    return "-" if pct is None else f"{pct:6.1f}%"


def fmt_ratio(peer, ours):
    if peer is None or ours is None:
        return "   -  "
    r = peer / ours
    return f"{r:5.2f}{'*' if r < 1.0 else ' '}"


def collect(args):
    libs = [lib for lib in args.libs if library_available(lib)]
    results = {"limits": {}, "info": {}, "rows": []}
    for threads in args.thread_counts:
        print(f"  measuring machine limits, {threads} thread(s) ...", file=sys.stderr, flush=True)
        out = run_worker("limits", "fastnn", threads, args.quick)
        results["limits"][threads] = out["limits"]
    for family in args.families:
        for threads in args.thread_counts:
            merged = {}
            for lib in libs:
                print(f"  {family}: {lib}, {threads} thread(s) ...", file=sys.stderr, flush=True)
                out = run_worker(family, lib, threads, args.quick)
                results["info"][lib] = out["info"]
                for row in out["rows"]:
                    key = (row["kernel"], row["case"])
                    entry = merged.setdefault(key, {**row, "threads": threads, "times": {}})
                    entry["times"][lib] = row["seconds"]
            for entry in merged.values():
                entry.pop("seconds", None)
                results["rows"].append(entry)
    return results, libs


def print_report(results, libs, args):
    info = results["info"]
    fi = info.get("fastnn", {})
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); fastnn {fi.get('version')} at ISA {fi.get('isa')}")
    print(f"import fastnn (NumPy included): {results['import_time_s'] * 1e3:.0f} ms (median of 5 fresh interpreters)")
    if "numpy" in info:
        print(f"NumPy {info['numpy']['version']}, BLAS: {info['numpy'].get('blas', 'unknown')}")
    if "torch" in info:
        print(f"PyTorch {info['torch']['version']}")
    else:
        print("PyTorch: not importable, its columns are empty")
    unset = [v for v in UNSET_FOR_PEERS if v in os.environ]
    print("Method: each library in its own process per thread count; median of repeated batches"
          + (f"; unset for the workers: {', '.join(unset)}" if unset else ""))
    for threads, lim in sorted(results["limits"].items()):
        peaks = ", ".join(f"{isa} {g:.0f}" for isa, g in lim["peak_gflops"].items())
        bf16 = ", ".join(f"{isa} {g:.0f}" for isa, g in lim.get("peak_gflops_bf16", {}).items()) or "none"
        print(f"Limits, {threads} thread(s): peak fp32 GFLOP/s {peaks}; peak bf16 GFLOP/s {bf16}; DRAM copy "
              f"{lim['copy_gbs']:.1f} GB/s, triad {lim['triad_gbs']:.1f} GB/s ({lim['array_mib']:.0f} MiB arrays)")
    if results.get("contended"):
        c = results["contended"]
        print(f"CONTENDED: one busy process ({c['competitor']}) pinned to CPU {c['cpu']} for the whole timed part; "
              "the timed workers are unpinned")
    print()
    if results.get("contended"):
        print(f"[contended: busy process on CPU {results['contended']['cpu']}]")
    head = (f"{'kernel':<8} {'case':<24} {'thr':>3} {'fastnn ms':>10} {'numpy ms':>10} {'torch ms':>10} "
            f"{'vs numpy':>8} {'vs torch':>8} {'rate':>12} {'% limit':>7}")
    print(head)
    print("-" * len(head))
    isa = info.get("fastnn", {}).get("isa")
    for row in results["rows"]:
        t = row["times"]
        ours = t.get("fastnn")
        limits = results["limits"][row["threads"]]
        if "bytes" in row:  # memory-bound: GB/s against the triad bandwidth
            rate = row["bytes"] / ours / 1e9 if ours else None
            limit, unit = limits["triad_gbs"], "GB/s"
        elif "samples" in row:  # training throughput: samples per second, no hardware limit to compare
            rate, limit, unit = row["samples"] / ours if ours else None, None, "smp/s"
        elif "flops" not in row:  # overhead rows: time is all there is
            rate, limit, unit = None, None, ""
        else:
            rate = row["flops"] / ours / 1e9 if ours else None
            limit, unit = limits["peak_gflops"].get(isa), "GFLOP/s"
            if row.get("precision") == "bf16":  # bf16 rows against the active bf16 level's peak
                limit = limits.get("peak_gflops_bf16", {}).get(limits.get("bf16_isa"))
        row["rate"], row["rate_unit"] = rate, unit
        row["pct_limit"] = 100 * rate / limit if rate and limit else None
        row["ratio_numpy"] = t["numpy"] / ours if "numpy" in t and ours else None
        row["ratio_torch"] = t["torch"] / ours if "torch" in t and ours else None
        print(f"{row['kernel']:<8} {row['case']:<24} {row['threads']:>3} {fmt_ms(ours):>10} "
              f"{fmt_ms(t.get('numpy')):>10} {fmt_ms(t.get('torch')):>10} {fmt_ratio(t.get('numpy'), ours):>8} "
              f"{fmt_ratio(t.get('torch'), ours):>8} {fmt_rate(rate, unit):>12} {fmt_pct(row['pct_limit']):>7}")
    print("\nvs X = X's time / fastnn's time (above 1 fastnn is faster; * marks rows where fastnn is slower).")
    if results.get("contended"):
        results["contended_check"] = check_rows(results["rows"])
        print_check(results["contended_check"])


def write_png(results, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib not installed: no chart written to {path})")
        return
    rows = results["rows"]
    labels = [f"{r['case']} {r['threads']}t" for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(rows) + 1.5))
    y = range(len(rows))
    for offset, key, name in ((-0.2, "ratio_numpy", "vs NumPy"), (0.2, "ratio_torch", "vs PyTorch")):
        vals = [r.get(key) or 0 for r in rows]
        ax.barh([i + offset for i in y], vals, height=0.4, label=name)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_yticks(list(y))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up of fastnn (peer time / fastnn time)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart written to {path}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.contended:
        with Spinner() as spinner:
            results, libs = collect(args)
        results["contended"] = {"cpu": spinner.cpu, "competitor": "Python busy loop, no I/O"}
    else:
        results, libs = collect(args)
        results["contended"] = None  # the JSON always says which kind of run it holds
    results["import_time_s"] = import_time_s()
    results["cpu"] = cpu_model()
    print_report(results, libs, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        print(f"results written to {args.json}")
    png = args.png or (args.json.with_suffix(".png") if args.json else None)
    if png:
        write_png(results, png)
    if args.demo:
        demo(args.quick)


def demo(quick: bool) -> None:
    """A short training run after the numbers: the Keras-style MLP example on the digits."""
    import subprocess

    script = BENCH_DIR.parent / "examples" / "mlp_digits_keras.py"
    print(f"\nTraining demo: {script.relative_to(BENCH_DIR.parent)} ({'smoke run' if quick else '15 epochs'})",
          flush=True)
    cmd = [sys.executable, str(script)] + (["--smoke"] if quick else ["--epochs", "15"])
    if subprocess.call(cmd) != 0:
        print("(the demo failed; is scikit-learn installed? it ships the digits)")


if __name__ == "__main__":
    main()
