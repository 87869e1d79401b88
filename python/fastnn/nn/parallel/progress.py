"""A thread that keeps DDP's bucket all_reduces moving while backward computes.

MPI moves a nonblocking collective on only inside MPI calls, and the hooks run only between backward's
nodes: a large GEMM backward would leave the buckets in flight idle. fastnn's GEMM and convolution kernels
release the GIL, so this thread tests the buckets in flight while they run (mpi4py initialises MPI with
MPI_THREAD_MULTIPLE). Every touch of a Work, from this thread or the main one, holds ``lock``, so the
collectives' Python state is never shared between the two threads at once.
"""
from __future__ import annotations

import threading
import time


class Progress:
    def __init__(self, interval_s: float = 0.0002) -> None:
        self.lock = threading.Lock()
        self.interval = interval_s
        self._works: list = []
        self._thread = None
        self._stop = threading.Event()

    def add(self, work, limit_s: float) -> None:
        """Polls ``work`` (with those already added) until all have completed, failed, or ``limit_s`` passed."""
        self._works.append(work)
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(time.monotonic() + limit_s,),
                                            name="fastnn-ddp-progress", daemon=True)
            self._thread.start()

    def _run(self, deadline: float) -> None:
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self.lock:
                try:
                    self._works = [w for w in self._works if not w.is_completed()]
                except RuntimeError:
                    return  # a peer's failure: the main thread's wait raises it with its context
                if not self._works:
                    return
            time.sleep(self.interval)

    def stop(self) -> None:
        """Joins the thread: from here on only the caller's thread touches the works."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._works = []
