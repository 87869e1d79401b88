"""torch.distributed.Work: the handle of a collective started with ``async_op=True``.

MPI makes no progress by itself here (no communication thread, no asynchronous progress in the MPI library):
a nonblocking collective moves forward whenever any request is tested, so ``is_completed()`` both checks and
advances, and ``wait()`` polls until the data is there, the timeout passes, or a peer reports that it failed.
"""
from __future__ import annotations

import os
import time
from datetime import timedelta

__all__ = ["Work"]

_BURST = 32  # request tests between two looks at the clock and the notices
_HARD_POLL_S = 1.0


def _seconds(timeout) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return float(timeout)


class Work:
    """``requests``: (request, status) pairs of the transport; ``finish``: run once when all have completed
    (the AVG division, the copy back to a device, unpacking a gather); ``result`` what ``result()`` returns."""

    def __init__(self, group, op: str, requests, finish=None, result=None) -> None:
        self._group, self._op = group, op
        self._pending = list(requests)
        self._finish, self._result = finish, result if result is not None else []
        self._done = False
        self._error = None
        self._group._in_flight += 1

    def _poll(self) -> bool:
        test = self._group.transport.test
        pending = self._pending
        if len(pending) == 1:  # the common case, kept cheap: wait() calls this in a tight loop
            r, s = pending[0]
            if not test(r, s):
                return False
            self._pending = []
        else:
            self._pending = [(r, s) for r, s in pending if not test(r, s)]
            if self._pending:
                return False
        self._complete()
        return True

    def _complete(self) -> None:
        if self._done:
            return
        self._done = True
        self._group._in_flight -= 1
        if self._finish is not None:
            finish, self._finish = self._finish, None
            out = finish()
            if out is not None:
                self._result = out

    def is_completed(self) -> bool:
        if self._done or self._error is not None:
            return self._done
        self._group.check_notices(self._op)
        return self._poll()

    def is_success(self) -> bool:
        return self.is_completed() and self._error is None

    def exception(self):
        return self._error

    def wait(self, timeout=None) -> bool:
        """Blocks until the collective has completed; RuntimeError after ``timeout`` (default: the group's)
        or when a peer reports a failure."""
        if self._done:
            return True
        if self._error is not None:
            raise self._error
        group = self._group
        limit = _seconds(timeout)
        if limit is None:
            limit = group.timeout_s
        start = time.monotonic()
        deadline = start + limit
        burst = _BURST
        try:
            while True:
                # A burst of tests between the other checks: the collective moves only inside MPI calls, so
                # time spent outside them (the notice check, the clock, a yield) is bandwidth lost.
                for _ in range(burst):
                    if self._poll():
                        return True
                group.check_notices(self._op)
                now = time.monotonic()
                if now > deadline:
                    raise group.timed_out(self._op, limit)
                # Poll hard for the first second: only polling moves the data (a 64 MiB allreduce between two
                # ranks here takes ~40 ms of it), so a sleep there costs bandwidth. Past that, the wait is for a
                # slow peer, not for data: back off and leave the core to it.
                if now - start > _HARD_POLL_S:
                    time.sleep(0.0005 if now - start < 5.0 else 0.005)
                    burst = 1
                else:
                    # Ranks often outnumber idle cores (2 ranks on 2 busy cores here): yielding lets a peer
                    # that shares this core run its half of the collective instead of waiting out our slice.
                    os.sched_yield()
        except RuntimeError as e:
            self._error = e
            raise
        return True

    def result(self):
        self.wait()
        return self._result

    def synchronize(self) -> None:
        self.wait()
