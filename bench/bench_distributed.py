"""Data-parallel bench: fastnn.distributed's allreduce against MPI's own, and DDP training steps.

    python bench/bench_distributed.py [--quick] [--json results.json] [--ranks 2]

It launches its own ranks (``mpiexec -n N`` for fastnn and mpi4py; ``python -m torch.distributed.run`` for
torch's DDP over gloo) and prints one table:

* allreduce, osu-style: for each size, fastnn.distributed.all_reduce on a float32 Tensor and mpi4py's plain
  ``comm.Allreduce`` on a NumPy buffer of the same size, timed in the same run (interleaved repeats), the
  median of the repeats; bus bandwidth = 2(N-1)/N * bytes / t; ratio = fastnn's bandwidth / MPI's.
* train steps of bench/train_step.py's MLP, CNN and transformer: 1 rank without DDP (the compute), N ranks
  under DistributedDataParallel with the overlap of gradient allreduce and backward on and off, and torch's own
  DDP (gloo) beside them. Weak scaling: every rank keeps the model's bench batch, so an ideal N-rank step takes
  the 1-rank time. Every rank runs one thread (OMP_NUM_THREADS=1).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
STEP_MODELS = ("mlp", "cnn", "transformer")
KIB = 1024


def parse_size(text: str) -> int:
    text = text.strip().upper()
    for suffix, mult in (("K", KIB), ("M", KIB * KIB), ("G", KIB ** 3)):
        if text.endswith(suffix):
            return int(text[:-1]) * mult
    return int(text)


def fmt_size(n: int) -> str:
    return f"{n // (KIB * KIB)} MiB" if n >= KIB * KIB else f"{n // KIB} KiB"


def default_sizes(quick: bool) -> list[int]:
    """4 KiB .. 64 MiB in powers of two (quick: every fourth power, up to 4 MiB)."""
    sizes = [4 * KIB << i for i in range(15)]
    return [s for s in sizes[::2] if s <= 4 * KIB * KIB] if quick else sizes


# ---- the ranks' side -----------------------------------------------------------------------------------------
def _inner_count(fn, comm, min_batch_s: float) -> int:
    """Calls per timed batch so a batch lasts at least ``min_batch_s``; rank 0 decides, every rank follows
    (the ranks must call the collective the same number of times)."""
    fn()
    comm.barrier()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    return comm.bcast(max(1, int(min_batch_s / once)))


def _batch_seconds(fn, comm, inner: int) -> float:
    comm.barrier()
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return comm.max((time.perf_counter() - t0) / inner)  # the slowest rank's time, as osu's max latency


def _paired_batch(a, b, comm, inner: int) -> tuple[float, float]:
    """Seconds per call of ``a`` and of ``b``, called in alternation ``inner`` times each: on a shared machine
    whose load changes from one millisecond to the next, each call of one has a call of the other beside it."""
    comm.barrier()
    ta = tb = 0.0
    clock = time.perf_counter
    for _ in range(inner):
        t0 = clock()
        a()
        t1 = clock()
        b()
        tb += clock() - t1
        ta += t1 - t0
    return comm.max(ta / inner), comm.max(tb / inner)


def _mpi():
    from mpi4py import MPI
    return MPI


class _MpiComm:
    """The three calls the timing helpers make (barrier, broadcast of a number, max over ranks) on a
    duplicate of COMM_WORLD, a communicator of its own as fastnn's group has."""

    def __init__(self) -> None:
        self.comm = _mpi().COMM_WORLD.Dup()

    def barrier(self):
        self.comm.Barrier()

    def bcast(self, value):
        return self.comm.bcast(value, root=0)

    def max(self, value):
        return self.comm.allreduce(value, op=_mpi().MAX)


def worker_allreduce(args) -> dict:
    """fastnn.distributed.all_reduce vs mpi4py's Allreduce, interleaved per repeat so both see the same load."""
    import numpy as np

    import fastnn
    import fastnn.distributed as dist
    MPI = _mpi()
    dist.init_process_group("mpi")
    comm = _MpiComm()
    raw = comm.comm
    n = raw.Get_size()
    rows = []
    for size in args.sizes:
        count = size // 4
        t = fastnn.zeros(count)  # zeros: repeated in-place sums stay finite (inf would not be slower, but odd)
        buf = np.zeros(count, np.float32)
        ours = lambda: dist.all_reduce(t)
        theirs = lambda: raw.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        both = lambda: (ours(), theirs())
        inner = _inner_count(both, comm, args.min_batch_s)
        so, st = [], []
        for _ in range(args.repeats):
            o, m = _paired_batch(ours, theirs, comm, inner)
            so.append(o)
            st.append(m)
        rows.append({"bytes": size, "fastnn_s": statistics.median(so), "mpi_s": statistics.median(st),
                     "fastnn_min_s": min(so), "mpi_min_s": min(st)})
    raw.Free()
    dist.destroy_process_group()
    return {"ranks": n, "rows": rows, "mpi": MPI.Get_library_version().splitlines()[0].strip()}


def _step_closure(L, name: str, wrap=None, cap_mb=None):
    """bench/train_step.py's model ``name`` and a closure running one Adam step on fixed data; ``wrap``
    turns the model into its DDP form before the optimizer sees its parameters."""
    sys.path.insert(0, str(BENCH_DIR))
    from train_step import step_fn
    grad_bytes = []

    def measured(model):  # the gradient bytes and bucket count of the bare model, then its DDP form
        sizes = [p.numel() * 4 for p in model.parameters()]
        grad_bytes.append((sum(sizes), bucket_count(sizes, cap_mb)))
        return model if wrap is None else wrap(model)

    step = step_fn(L, name, wrap=measured)
    return step, grad_bytes[0]


def _time_interleaved(steps, comm, args, name: str) -> list[dict]:
    """Times every mode's step in turns (one batch each per repeat) so a change in the machine's load (it is
    shared) falls on all of them alike; the median of the repeats."""
    inner = {}
    for mode, (step, _) in steps.items():
        step()  # warm-up: workspaces, DDP's buckets
        inner[mode] = _inner_count(step, comm, args.min_batch_s)
    samples = {mode: [] for mode in steps}
    for _ in range(args.repeats):
        for mode, (step, _) in steps.items():
            samples[mode].append(_batch_seconds(step, comm, inner[mode]))
    return [{"model": name, "mode": mode, "seconds": statistics.median(samples[mode]), "grad_bytes": gb[0],
             "buckets": gb[1]} for mode, (_, gb) in steps.items()]


def _time_step(step, comm, repeats: int, min_batch_s: float) -> float:
    step()  # warm-up: workspaces, DDP's buckets
    inner = _inner_count(step, comm, min_batch_s)
    return statistics.median(_batch_seconds(step, comm, inner) for _ in range(repeats))


def _ddp(DDP, module, args, overlap: bool):
    """``DDP(module)`` with its overlap switch (a property of the wrapper) set to ``overlap``."""
    switch = args.overlap_switch
    ddp = DDP(module, bucket_cap_mb=args.bucket_cap_mb)
    if not isinstance(getattr(type(ddp), switch, None), property):
        raise SystemExit(f"DistributedDataParallel has no overlap switch {switch!r} (see --overlap-switch)")
    setattr(ddp, switch, overlap)
    return ddp


def worker_fastnn_step(args) -> dict:
    import fastnn
    import fastnn.distributed as dist
    dist.init_process_group("mpi")
    comm = _MpiComm()
    n = dist.get_world_size()
    rows = []
    for name in args.models:
        if n == 1:
            modes = {"single": None}
        else:
            from fastnn.nn.parallel import DistributedDataParallel as DDP
            # "local": N ranks stepping without DDP, so the cores are shared as in the DDP runs but nothing is
            # communicated; DDP's extra time over it is the communication (and the reducer's own work)
            modes = {"local": None,
                     "ddp-overlap": lambda m: _ddp(DDP, m, args, True),
                     "ddp-no-overlap": lambda m: _ddp(DDP, m, args, False)}
        steps = {mode: _step_closure(fastnn, name, wrap=wrap, cap_mb=args.bucket_cap_mb)
                 for mode, wrap in modes.items()}
        rows += _time_interleaved(steps, comm, args, name)
    comm.comm.Free()
    dist.destroy_process_group()
    return {"ranks": n, "rows": rows}


class _TorchComm:
    """The three calls the timing helpers make, over torch.distributed (gloo) or a single process."""

    def __init__(self, dist) -> None:
        self.dist = dist

    def barrier(self):
        if self.dist is not None:
            self.dist.barrier()

    def bcast(self, value):
        if self.dist is None:
            return value
        box = [value]
        self.dist.broadcast_object_list(box, src=0)
        return box[0]

    def max(self, value):
        if self.dist is None:
            return value
        import torch
        t = torch.tensor([value], dtype=torch.float64)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
        return t.item()


def worker_torch_step(args) -> dict:
    import torch
    torch.set_num_threads(1)
    n = int(os.environ.get("WORLD_SIZE", "1"))
    dist = None
    if n > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo")
    comm = _TorchComm(dist)
    rows = []
    for name in args.models:
        wrap = None
        if n > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            wrap = lambda m: DDP(m, bucket_cap_mb=args.bucket_cap_mb)  # noqa: E731
        step, gb = _step_closure(torch, name, wrap=wrap, cap_mb=args.bucket_cap_mb)
        rows.append({"model": name, "mode": "ddp-overlap" if n > 1 else "single",
                     "seconds": _time_step(step, comm, args.repeats, args.min_batch_s), "grad_bytes": gb[0],
                     "buckets": gb[1]})
    if dist is not None:
        dist.destroy_process_group()
    return {"ranks": n, "rows": rows}


WORKERS = {"allreduce": worker_allreduce, "fastnn-step": worker_fastnn_step, "torch-step": worker_torch_step}


def worker_main(args) -> None:
    out = WORKERS[args.worker](args)
    rank = int(os.environ.get("RANK", os.environ.get("PMI_RANK", "0")))
    if rank == 0:
        Path(args.out).write_text(json.dumps(out))


# ---- the launcher's side -------------------------------------------------------------------------------------
def rank_env() -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    if not _fastnn_importable():  # a checkout without an installed fastnn: the ranks use the checkout's
        src = str(REPO / "python")
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _fastnn_importable() -> bool:
    import importlib.util
    return importlib.util.find_spec("fastnn") is not None


def _worker_args(args, worker: str, out: str) -> list[str]:
    a = [str(Path(__file__).resolve()), "--worker", worker, "--out", out, "--repeats", str(args.repeats),
         "--min-batch-s", str(args.min_batch_s), "--models", ",".join(args.models),
         "--sizes", ",".join(str(s) for s in args.sizes), "--overlap-switch", args.overlap_switch]
    if args.bucket_cap_mb is not None:
        a += ["--bucket-cap-mb", str(args.bucket_cap_mb)]
    return a


def launch(args, worker: str, nranks: int, torch_launcher: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        if torch_launcher:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nranks}"]
        else:
            if not _fastnn_importable():
                sys.path.insert(0, str(REPO / "python"))
            from fastnn.distributed._mpiexec import find_mpiexec
            cmd = [find_mpiexec(), "-n", str(nranks), sys.executable]
        cmd += _worker_args(args, worker, out)
        print(f"  {worker}: {nranks} rank(s) ...", file=sys.stderr, flush=True)
        # a session of its own: a launch that passes --timeout is ended with every rank it started
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=rank_env(),
                                start_new_session=True)
        try:
            _, err = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            import signal
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"{worker} on {nranks} rank(s) did not finish within {args.timeout:g} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{err[-4000:]}")
        return json.loads(Path(out).read_text())


def torch_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def collect(args) -> dict:
    res = {"ranks": args.ranks, "cpus": os.cpu_count()}
    res["allreduce"] = launch(args, "allreduce", args.ranks) if "allreduce" in args.only else None
    if "step" not in args.only:
        res["fastnn_step"] = res["torch_step"] = None
        return res
    res["fastnn_step"] = {str(n): launch(args, "fastnn-step", n) for n in (1, args.ranks)}
    if args.torch and torch_available():
        res["torch_step"] = {"1": launch(args, "torch-step", 1),
                             str(args.ranks): launch(args, "torch-step", args.ranks, torch_launcher=True)}
    else:
        res["torch_step"] = None
    return res


def bus_gbs(nbytes: int, seconds: float, n: int) -> float:
    return 2 * (n - 1) / n * nbytes / seconds / 1e9


def print_report(res) -> None:
    n = res["ranks"]
    print(f"{n} ranks on {res['cpus']} logical CPUs, one thread per rank")
    if res["allreduce"]:
        print_allreduce(res["allreduce"], n)
    if res["fastnn_step"]:
        print_steps(res, n)
    if res["allreduce"] and res["fastnn_step"]:
        print_scaling(res, n)


def print_allreduce(ar, n) -> None:
    print(f"MPI: {ar['mpi']}")
    print("allreduce float32, in place; median of repeats; bus GB/s = 2(N-1)/N * bytes / t; "
          "ratio = fastnn / MPI bandwidth")
    head = f"{'command':<44} {'size':>8} {'fastnn us':>10} {'mpi4py us':>10} {'fastnn GB/s':>11} " \
           f"{'MPI GB/s':>9} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for r in ar["rows"]:
        bo, bt = bus_gbs(r["bytes"], r["fastnn_s"], n), bus_gbs(r["bytes"], r["mpi_s"], n)
        r["fastnn_bus_gbs"], r["mpi_bus_gbs"], r["ratio"] = bo, bt, bo / bt
        print(f"{'all_reduce(t) vs comm.Allreduce(IN_PLACE, buf)':<44} {fmt_size(r['bytes']):>8} "
              f"{r['fastnn_s'] * 1e6:10.1f} {r['mpi_s'] * 1e6:10.1f} {bo:11.2f} {bt:9.2f} {bo / bt:6.2f}")
    print()


def print_steps(res, n) -> None:
    single = {r["model"]: r for r in res["fastnn_step"]["1"]["rows"]}
    multi = {(r["model"], r["mode"]): r for r in res["fastnn_step"][str(n)]["rows"]}
    ts = res["torch_step"]
    t1 = {r["model"]: r for r in ts["1"]["rows"]} if ts else {}
    tn = {r["model"]: r for r in ts[str(n)]["rows"]} if ts else {}
    cap = res.get("bucket_cap_mb")
    print(f"DDP buckets: {'torch defaults (1 MiB first, 25 MiB after)' if cap is None else f'{cap:g} MiB'}; "
          + ", ".join(f"{CASE[r['model']]}: {r['buckets']}" for r in res["fastnn_step"]["1"]["rows"]))
    print(f"train step (Adam), weak scaling: each rank keeps the bench batch; ms per step, median of repeats; "
          f"efficiency = 1-rank time / {n}-rank time; overlap = share of the exposed communication it hides")
    head = f"{'model':<26} {'grad MB':>7} {'command':<34} {'ms':>8} {'efficiency':>10} {'vs torch':>8}"
    print(head)
    print("-" * len(head))
    for name in res["models"]:
        s = single[name]
        on, off = multi[(name, "ddp-overlap")], multi[(name, "ddp-no-overlap")]
        local = multi[(name, "local")]
        mb = s["grad_bytes"] / 1e6
        lines = [("fastnn 1 rank", s["seconds"], t1.get(name)),
                 (f"fastnn {n} ranks no DDP (no comm)", local["seconds"], None),
                 (f"fastnn DDP {n} ranks overlap on", on["seconds"], tn.get(name)),
                 (f"fastnn DDP {n} ranks overlap off", off["seconds"], None)]
        if ts:
            lines += [("torch 1 rank", t1[name]["seconds"], None),
                      (f"torch DDP gloo {n} ranks", tn[name]["seconds"], None)]
        for label, sec, peer in lines:
            base = single[name]["seconds"] if label.startswith("fastnn") else t1[name]["seconds"]
            vs = f"{peer['seconds'] / sec:8.2f}" if peer else f"{'-':>8}"
            print(f"{CASE[name]:<26} {mb:7.3f} {label:<34} {sec * 1e3:8.2f} {base / sec:10.2f} {vs}")
        # the communication a step exposes: the DDP step less the same ranks' step without DDP (which shares
        # the cores alike); the overlap fraction is the share of it that overlapping hides
        exposed = off["seconds"] - local["seconds"]
        hidden = off["seconds"] - on["seconds"]
        frac = hidden / exposed if exposed > 0 else float("nan")
        res.setdefault("overlap", {})[name] = {"compute_s": s["seconds"], "local_s": local["seconds"],
                                               "on_s": on["seconds"], "off_s": off["seconds"], "fraction": frac,
                                               "exposed_off_s": exposed, "grad_bytes": s["grad_bytes"],
                                               "buckets": s["buckets"]}
        print(f"{CASE[name]:<26} {'':>7} {'comm exposed, overlap off (off-local)':<34} {exposed * 1e3:8.2f}")
        print(f"{CASE[name]:<26} {'':>7} {'overlap fraction (off-on)/(off-local)':<34} {frac:8.2f}")
    if not ts:
        print("(torch not importable or --no-torch: its rows are empty)")
    print("vs torch = torch's time / fastnn's time for the same row (above 1 fastnn is faster)")


# ---- the scaling model (docs/distributed.md): step(N) = compute + (1 - overlap) * (alpha + 2(N-1)/N * G / beta)
SCALE_NODES = (2, 4, 8, 16, 64)
LINKS_GBIT = (10, 25, 100)  # assumed inter-node links, Gb/s (beta = Gb/s / 8 in GB/s)
FIRST_BUCKET, BUCKET = 1 << 20, 25 << 20  # torch's DDP defaults, which fastnn's DDP follows


def fit_alpha_beta(rows, n: int, key: str) -> tuple[float, float]:
    """(alpha s, beta B/s) of t = alpha + 2(N-1)/N * bytes / beta: beta from the least-squares slope over the
    sizes >= 1 MiB (bandwidth-bound), alpha the median over the sizes <= 16 KiB of t less its bandwidth term."""
    import numpy as np
    k = 2 * (n - 1) / n
    big = [(k * r["bytes"], r[key]) for r in rows if r["bytes"] >= 1 << 20]
    small = [(k * r["bytes"], r[key]) for r in rows if r["bytes"] <= 16 << 10]
    if len(big) < 2 or not small:
        return float("nan"), float("nan")
    x, t = np.array(big).T
    slope = np.polyfit(x, t, 1)[0]
    beta = 1 / slope
    alpha = statistics.median(ti - xi / beta for xi, ti in small)
    return float(alpha), float(beta)


def bucket_count(param_bytes, cap_mb=None) -> int:
    """DDP's all_reduce calls per step for parameters of these sizes: taken in reverse order, a bucket closes
    once it holds at least its cap, 1 MiB for the first and 25 MiB after (torch's defaults), or ``cap_mb``
    MiB for every bucket when given (torch's bucket_cap_mb); the rest is one."""
    later = BUCKET if cap_mb is None else int(cap_mb * (1 << 20))
    count, held, cap = 0, 0, FIRST_BUCKET if cap_mb is None else later
    for b in reversed(list(param_bytes)):
        held += b
        if held >= cap:
            count, held, cap = count + 1, 0, later
    return count + (held > 0)


def model_step(compute: float, overlap: float, grad_bytes: int, buckets: int, alpha: float, beta: float,
               n: int) -> float:
    comm = buckets * alpha + 2 * (n - 1) / n * grad_bytes / beta
    return compute + (1 - overlap) * comm


def print_scaling(res, n: int) -> None:
    rows = res["allreduce"]["rows"]
    # the fit takes each size's fastest repeat: the machine's capability, where the medians also carry the
    # other users' load on a shared machine (both are printed)
    fits = {key: fit_alpha_beta(rows, n, key) for key in ("fastnn_min_s", "mpi_min_s", "fastnn_s", "mpi_s")}
    res["fit"] = {k: {"alpha_s": a, "beta_Bps": b} for k, (a, b) in fits.items()}
    alpha, beta_here = fits["fastnn_min_s"]
    print()
    for kind, o, m in (("fastest repeats", "fastnn_min_s", "mpi_min_s"), ("medians", "fastnn_s", "mpi_s")):
        print(f"fit of t = alpha + 2(N-1)/N * bytes / beta to the allreduce {kind} ({n} ranks, shared memory): "
              f"fastnn alpha {fits[o][0] * 1e6:.1f} us, beta {fits[o][1] / 1e9:.2f} GB/s; "
              f"MPI alpha {fits[m][0] * 1e6:.1f} us, beta {fits[m][1] / 1e9:.2f} GB/s")
    print("model: step(N) = compute + (1 - overlap) * (buckets * alpha + 2(N-1)/N * grad bytes / beta)")
    print("  compute = fastnn's 1-rank step; overlap = the measured fraction clipped to [0, 1]; alpha = fastnn's fit "
          "(fastest repeats); beta = the link")
    print("  cell = modelled ms per step (efficiency = compute / step); limit = the exposed communication as N grows "
          "(a compute per step below it is communication-bound at any N)")
    print("  x faster = how much faster than this 1-thread rank a node must compute for that (more cores, a GPU)")
    head = f"{'model':<26} {'link':>8} {'ovl':>4} " + " ".join(f"{'N=' + str(k):>14}" for k in SCALE_NODES) \
        + f" {'comm > compute':>15} {'limit ms':>9} {'x faster':>8}"
    print(head)
    print("-" * len(head))
    table = {}
    for name, o in res["overlap"].items():
        f = min(1.0, max(0.0, o["fraction"])) if o["fraction"] == o["fraction"] else 0.0
        for gbit in LINKS_GBIT:
            beta = gbit * 1e9 / 8
            for label, ov in (("on", f), ("off", 0.0)):
                cells = [model_step(o["compute_s"], ov, o["grad_bytes"], o["buckets"], alpha, beta, k)
                         for k in SCALE_NODES]
                exposed = [c - o["compute_s"] for c in cells]
                dominant = next((k for k, e in zip(SCALE_NODES, exposed) if e > o["compute_s"]), None)
                # N -> infinity: 2(N-1)/N -> 2, so the exposed communication never passes this; a faster node
                # (more cores, a GPU) whose compute per step falls below it is communication-bound
                limit = (1 - ov) * (o["buckets"] * alpha + 2 * o["grad_bytes"] / beta)
                table[f"{name} {gbit}Gb {label}"] = {"ms": [c * 1e3 for c in cells], "dominates_at": dominant,
                                                    "overlap": ov, "limit_ms": limit * 1e3}
                txt = " ".join(f"{c * 1e3:7.2f} ({o['compute_s'] / c:4.2f})" for c in cells)
                dom = f"N >= {dominant}" if dominant else "never"
                # a measured overlap of 1 hides all communication: no compute is too fast for it ("-")
                faster = f"{o['compute_s'] / limit:8.1f}" if limit > 0 else f"{'-':>8}"
                print(f"{CASE[name]:<26} {str(gbit) + 'Gb/s':>8} {label:>4} {txt} {dom:>15} {limit * 1e3:9.3f} "
                      f"{faster}")
    res["scaling"] = table


CASE = {"mlp": "MLP 784-256-256-10 b128", "cnn": "LeNet 1x28x28 b64", "transformer": "encoder 2xd128 L128 b16"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    p.add_argument("--json", type=Path, help="write the results to this JSON file")
    p.add_argument("--ranks", type=int, default=2, help="ranks of the multi-rank runs (default 2)")
    p.add_argument("--sizes", default="", help="allreduce sizes in bytes, comma-separated (4K, 1M: KiB, MiB)")
    p.add_argument("--models", default=",".join(STEP_MODELS), help="train-step models, comma-separated")
    p.add_argument("--repeats", type=int, default=0, help="timed batches per figure (default 7, quick 3)")
    p.add_argument("--min-batch-s", type=float, default=0.0, help="least seconds per timed batch")
    p.add_argument("--only", default="allreduce,step", help="parts to run: allreduce, step (comma-separated)")
    p.add_argument("--no-torch", dest="torch", action="store_false", help="skip torch's DDP rows")
    p.add_argument("--overlap-switch", default="_overlap",
                   help="DistributedDataParallel's property that turns the overlap of allreduce and backward "
                        "on and off (default: _overlap)")
    p.add_argument("--bucket-cap-mb", type=float, default=None,
                   help="DDP's bucket_cap_mb for fastnn and torch (default: torch's 1 MiB first bucket, 25 MiB after)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds each launch may take")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.sizes = [parse_size(s) for s in args.sizes.split(",") if s] or default_sizes(args.quick)
    bad = [s for s in args.sizes if s < 4 or s % 4]
    if bad:
        p.error(f"--sizes must be positive multiples of 4 bytes (float32), got {bad}")
    args.only = set(args.only.split(","))
    if not args.only <= {"allreduce", "step"}:
        p.error(f"--only takes allreduce and/or step, got {','.join(sorted(args.only))}")
    args.models = [m for m in args.models.split(",") if m]
    unknown = set(args.models) - set(STEP_MODELS)
    if unknown:
        p.error(f"unknown model: {', '.join(sorted(unknown))} (known: {', '.join(STEP_MODELS)})")
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.min_batch_s = args.min_batch_s or (0.01 if args.quick else 0.05)
    if args.ranks < 2:
        p.error("--ranks must be at least 2")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker:
        worker_main(args)
        return {}
    res = collect(args)
    res["models"] = args.models
    res["bucket_cap_mb"] = args.bucket_cap_mb
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
        print(f"results written to {args.json}")
    return res


if __name__ == "__main__":
    main()
