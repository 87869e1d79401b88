"""The bench's --contended mode: one competing busy process pinned to one core for the whole timed part,
and the check of issue 15's two targets on the rows measured beside it.

The competitor is a pure CPU spin loop in its own Python process (no I/O once it runs), pinned with
os.sched_setaffinity to the last CPU of the bench's own affinity set: it stands for the other program on a
laptop, CI runner or shared server. The timed workers stay unpinned, as a user's process would be, so the
scheduler has to share that core between a worker thread and the spinner, which is what makes a kernel that
waits at a barrier for a descheduled partner collapse.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

# The spinner checks every 2**20 iterations (about 20 ms) that the bench that started it is still its parent,
# so it ends on its own even when the bench is SIGKILLed and no finally block runs: no orphan spins on.
_SPIN = """
import os, sys
parent = int(sys.argv[1])
sys.stdout.write("spinning\\n")
sys.stdout.flush()
sys.stdout.close()
while os.getppid() == parent:
    for _ in range(1 << 20):
        pass
"""


def busy_cpu() -> int:
    """The CPU the competitor is pinned to: the last one the bench itself may run on."""
    return max(os.sched_getaffinity(0))


class Spinner:
    """Context manager: a busy-loop process pinned to ``cpu`` from enter to exit (also on errors and Ctrl-C)."""

    def __init__(self, cpu: int | None = None):
        self.cpu = busy_cpu() if cpu is None else cpu
        self.proc: subprocess.Popen | None = None

    def start(self) -> Spinner:
        # Its own session: a terminal Ctrl-C reaches only the bench, whose finally stops the spinner
        # (no KeyboardInterrupt traceback from the child, no race between the two).
        self.proc = subprocess.Popen([sys.executable, "-c", _SPIN, str(os.getpid())], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        try:
            os.sched_setaffinity(self.proc.pid, {self.cpu})
            # Wait until the interpreter is up and about to spin, so the first timed batch is already contended.
            if self.proc.stdout.readline().strip() != "spinning":
                raise RuntimeError(f"the busy process exited early (status {self.proc.poll()})")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()  # a spin loop holds nothing worth a graceful shutdown
        proc.wait()
        if proc.stdout:
            proc.stdout.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> Spinner:
        # SIGTERM (a CI runner's cancel, `kill`) becomes SystemExit so __exit__ still stops the spinner.
        self._old_term = signal.signal(signal.SIGTERM, _raise_exit)
        try:
            return self.start()
        except BaseException:
            signal.signal(signal.SIGTERM, self._old_term)
            raise

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, self._old_term)


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def check_rows(rows: list[dict], base: int = 1) -> list[dict]:
    """For every row measured at more than ``base`` threads: fastnn's time at ``base`` threads from the same
    run, NumPy's time at the same thread count, the ratios and the two flags of issue 15's targets
    (no slower than at 1 thread, >= 1.0x NumPy's figure at that thread count)."""
    at_base = {(r["kernel"], r["case"]): r["times"].get("fastnn") for r in rows if r["threads"] == base}
    out = []
    for r in rows:
        if r["threads"] <= base:
            continue
        ours = r["times"].get("fastnn")
        one = at_base.get((r["kernel"], r["case"]))
        numpy = r["times"].get("numpy")
        vs_base = one / ours if one and ours else None  # above 1: more threads helped
        vs_numpy = numpy / ours if numpy and ours else None  # above 1: fastnn faster than NumPy
        flags = []
        if vs_base is not None and vs_base < 1.0:
            flags.append(f"slower than {base}t")
        if vs_numpy is not None and vs_numpy < 1.0:
            flags.append(f"slower than numpy {r['threads']}t")
        out.append({"kernel": r["kernel"], "case": r["case"], "threads": r["threads"], "fastnn_s": ours,
                    "fastnn_base_s": one, "numpy_s": numpy, "vs_base": vs_base, "vs_numpy": vs_numpy,
                    "flags": flags})
    return out


def _ms(s):
    return "-" if s is None else f"{s * 1e3:.3f}"


def _x(r):
    return "-" if r is None else f"{r:.2f}x"


def print_check(check: list[dict], base: int = 1) -> None:
    if not check:
        print(f"\nContended check: no row measured both at {base} thread and at more (pass --threads 1,2).")
        return
    print(f"\nContended check (same run, busy process beside it): fastnn at N threads against its own {base}-thread "
          f"figure and NumPy's N-thread figure; targets: both ratios >= 1.00")
    head = (f"{'kernel':<8} {'case':<24} {'thr':>3} {'fastnn ms':>10} {f'{base}t ms':>10} {'1t/Nt':>7} "
            f"{'numpy ms':>10} {'vs numpy':>8}  flags")
    print(head)
    print("-" * len(head))
    for c in check:
        print(f"{c['kernel']:<8} {c['case']:<24} {c['threads']:>3} {_ms(c['fastnn_s']):>10} "
              f"{_ms(c['fastnn_base_s']):>10} {_x(c['vs_base']):>7} {_ms(c['numpy_s']):>10} "
              f"{_x(c['vs_numpy']):>8}  {'; '.join(c['flags']) or 'ok'}")
    flagged = sum(1 for c in check if c["flags"])
    print(f"{flagged} of {len(check)} rows miss a target.")
