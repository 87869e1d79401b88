"""The checkpoint probes of issue 14, runnable against any fastnn on PYTHONPATH (to compare before/after):

    PYTHONPATH=python python bench/checkpoint_probe.py hostile --per-mutation 12
    PYTHONPATH=python python bench/checkpoint_probe.py sigkill --trials 100 --mib 200

``hostile``: every base file of tests/checkpoint_corpus.py under each of its mutations (seeded draws), loaded
in fuzz_harness' worker; prints the counts of rejected / intact / changed / unclear / bloat / ran-code /
crash / hang, and a few examples of each bad outcome. ``sigkill``: a child saves a state dict over and over and
is SIGKILLed at a random moment, ``--trials`` times; then counts the stale temp files left beside the target
before and after one more save, and whether the target always loads complete (old or new).
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))


def hostile(per_mutation: int, seed: int) -> None:
    import numpy as np

    import checkpoint_corpus as corpus
    from fuzz_cases_checkpoint import digest, model_digest
    from fuzz_harness import FuzzRunner

    import fastnn

    rng = np.random.default_rng(seed)
    counts, examples = collections.Counter(), collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as d, FuzzRunner(timeout_s=60) as run:
        bases = corpus.base_files(Path(d))
        for base, (kind, raw) in bases.items():
            p = Path(d) / ("ref.keras" if kind == "keras" else "ref.st")
            p.write_bytes(raw)
            ref = model_digest(fastnn.keras.models.load_model(str(p))) if kind == "keras" \
                else digest(fastnn.load(p))
            for mname, mutate in corpus.mutations_for(kind).items():
                for _ in range(per_mutation):
                    a, b = int(rng.integers(0, 2**31)), int(rng.integers(0, 2**31))
                    try:
                        data = mutate(raw, a, b)
                    except (KeyError, IndexError, ValueError, TypeError):
                        continue  # the mutation does not apply to this base file
                    if data == raw:
                        continue
                    out = run("fuzz_cases_checkpoint:load_file", data, kind)
                    if out.kind != "ok":
                        verdict = out.kind
                        note = out.describe()[:200]
                    else:
                        verdict = corpus.classify(out.value, kind, ref, len(data))
                        note = f"{out.value['exc_type']}: {out.value['message'][:160]} peak={out.value['peak']}"
                    counts[verdict] += 1
                    counts[f"{base}/{verdict}"] += 1
                    if verdict not in ("rejected", "intact") and len(examples[verdict]) < 12:
                        examples[verdict].append(f"{base}/{mname}({a},{b}): {note}")
    total = sum(v for k, v in counts.items() if "/" not in k)
    print(f"hostile files: {total}")
    for k in ("rejected", "intact", "changed", "unclear", "bloat", "ran-code", "crash", "hang", "sanitizer"):
        print(f"  {k:10s} {counts[k]}")
    print("  by base:", {k: v for k, v in sorted(counts.items()) if "/" in k})
    for k, notes in examples.items():
        print(f"-- {k}:")
        for n in notes:
            print("   ", n)


def sigkill(trials: int, mib: int, seed: int) -> None:
    import fastnn

    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as d:
        target = os.path.join(d, "ckpt.safetensors")
        survived = 0
        for t in range(trials):
            ready = os.path.join(d, f"ready{t}")
            child = subprocess.Popen([sys.executable, "-c", "import sys, fuzz_cases_checkpoint as c; "
                                      "c.save_forever(sys.argv[1], int(sys.argv[2]), sys.argv[3])",
                                      target, str(mib), ready], env=env)
            while not os.path.exists(ready) and child.poll() is None:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.3 + mib / 100))
            child.send_signal(signal.SIGKILL)
            child.wait()
            try:
                obj = fastnn.load(target)
                w = obj["w"].numpy()
                survived += int(w.size == mib * (1 << 20) // 4 and (w == obj["step"]).all())
            except Exception as e:  # noqa: BLE001
                print("trial", t, "target did not load:", type(e).__name__, e)
        stale = [n for n in os.listdir(d) if n.startswith(".ckpt")]
        size = sum(os.path.getsize(os.path.join(d, n)) for n in stale)
        fastnn.save({"step": 0, "w": fastnn.ones(4)}, target)
        after = [n for n in os.listdir(d) if n.startswith(".ckpt")]
        print(f"sigkill trials: {trials}, target complete and loadable after: {survived}")
        print(f"stale temp files before the next save: {len(stale)} ({size / 2**20:.0f} MiB); after it: {len(after)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["hostile", "sigkill"])
    ap.add_argument("--per-mutation", type=int, default=12)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--mib", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.what == "hostile":
        hostile(args.per_mutation, args.seed)
    else:
        sigkill(args.trials, args.mib, args.seed)


if __name__ == "__main__":
    main()
