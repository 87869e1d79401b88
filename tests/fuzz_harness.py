"""Runs fuzz cases in a separate, long-lived worker process, so that a crash (a signal, a sanitizer abort) or a
hang is a test failure naming the case rather than a lost test run.

A case is a module-level function in a file under tests/ (``"fuzz_cases_ops:index_select"``) called with plain,
picklable arguments (ints, floats, strings, tuples, NumPy arrays): it builds its tensors inside the worker,
calls the op, and returns a small summary (never a big array). The worker answers each case with an
``Outcome``; when it dies or overruns its time, the runner records that and starts a fresh worker for the next.

    with FuzzRunner() as run:
        outcome = run("fuzz_cases_ops:index_select", (3, 4), -2)
        assert_clear(outcome, "index_select")

``fuzz_settings()`` gives the hypothesis settings for a fuzz test: a few dozen examples in CI,
``FASTNN_FUZZ_EXAMPLES=100000`` for a long run.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, settings

TESTS_DIR = Path(__file__).resolve().parent
DEFAULT_TIMEOUT_S = 30.0

# Exception types a user may see from a bad argument. Anything else (AttributeError, KeyError,
# ZeroDivisionError, OverflowError, a bare numpy error from deep inside ...) is an unclear error.
# OutOfMemoryError: fastnn's (and torch's) name for an allocation refused up front, a RuntimeError and a MemoryError.
CLEAR_TYPES = ("TypeError", "ValueError", "RuntimeError", "IndexError", "MemoryError", "NotImplementedError",
               "OutOfMemoryError")

# Text a sanitizer or the C++ runtime writes to stderr when something went wrong even though the process lived.
_STDERR_ALARMS = ("runtime error:", "AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                  "terminate called")


@dataclass
class Outcome:
    """What one case did. ``kind``: "ok" (returned ``value``), "error" (raised ``exc_type``: ``message``),
    "crash" (the worker died: ``signal`` or exit ``returncode``), "hang" (overran the timeout), or
    "sanitizer" (a sanitizer or the C++ runtime reported on stderr while the case ran)."""

    case: str
    kind: str
    value: object = None
    exc_type: str = ""
    message: str = ""
    signal: int = 0
    returncode: int = 0
    stderr: str = ""
    args: tuple = field(default_factory=tuple)

    def describe(self) -> str:
        head = f"{self.case}{self.args!r}: {self.kind}"
        if self.kind == "error":
            head += f" {self.exc_type}: {self.message}"
        elif self.kind == "ok":
            head += f" -> {self.value!r}"
        elif self.kind == "crash":
            head += f" (signal {self.signal})" if self.signal else f" (exit {self.returncode})"
        tail = self.stderr.strip().splitlines()[-15:]
        return head + ("\n  stderr: " + "\n          ".join(tail) if tail else "")


def fuzz_settings(default_examples: int = 30, **overrides) -> settings:
    """Hypothesis settings for a fuzz test: FASTNN_FUZZ_EXAMPLES overrides the example count."""
    examples = int(os.environ.get("FASTNN_FUZZ_EXAMPLES", default_examples))
    return settings(max_examples=examples, deadline=None, derandomize=examples <= default_examples,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large], **overrides)


def _write_frame(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read_exact(fd: int, n: int, deadline_s: float | None) -> bytes | None:
    """n bytes from fd, or None on EOF; raises TimeoutError when nothing arrives for deadline_s."""
    chunks, got = [], 0
    while got < n:
        ready, _, _ = select.select([fd], [], [], deadline_s)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class FuzzRunner:
    """A worker process that runs cases one at a time; restarted after a crash or a hang. ``env`` adds to the
    worker's environment (e.g. ``{"FASTNN_CUDA": "off"}``); the parent's environment is inherited otherwise,
    so a sanitizer run's LD_PRELOAD reaches the worker."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, env: dict | None = None):
        self.timeout_s = timeout_s
        self.env = dict(os.environ, **(env or {}))
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(TESTS_DIR), self.env.get("PYTHONPATH", "")) if p)
        self._proc = None
        self._stderr = None
        self.cases_run = 0
        self.restarts = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen([sys.executable, "-u", "-m", "fuzz_worker"], cwd=str(TESTS_DIR),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      env=self.env, start_new_session=True)

    def _kill(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                _write_frame(self._proc.stdin, None)
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def _stderr_since(self, offset: int) -> str:
        self._stderr.flush()
        self._stderr.seek(offset)
        text = self._stderr.read().decode(errors="replace")
        self._stderr.seek(0, os.SEEK_END)
        return text

    def __call__(self, case: str, *args, timeout_s: float | None = None, **kwargs) -> Outcome:
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                self._kill()
                self.restarts += 1
            self._start()
        self.cases_run += 1
        offset = self._stderr.seek(0, os.SEEK_END)
        try:
            _write_frame(self._proc.stdin, (case, args, kwargs))
            header = _read_exact(self._proc.stdout.fileno(), 8, timeout_s or self.timeout_s)
            body = None if header is None else _read_exact(self._proc.stdout.fileno(),
                                                           struct.unpack("<Q", header)[0], 60.0)
        except TimeoutError:
            stderr = self._stderr_since(offset)
            self._kill()
            self.restarts += 1
            return Outcome(case, "hang", stderr=stderr, args=args)
        except BrokenPipeError:
            body = None
        if body is None:  # the worker died while running the case
            code = self._proc.wait()
            stderr = self._stderr_since(offset)
            self._kill()
            self.restarts += 1
            return Outcome(case, "crash", signal=-code if code < 0 else 0, returncode=code, stderr=stderr,
                           args=args)
        kind, value, exc_type, message = pickle.loads(body)
        stderr = self._stderr_since(offset)
        if any(alarm in stderr for alarm in _STDERR_ALARMS):
            kind = "sanitizer"
        return Outcome(case, kind, value=value, exc_type=exc_type, message=message, stderr=stderr, args=args)


def is_clear(outcome: Outcome, op: str, *wordings: str) -> bool:
    """An error a user can act on: one of CLEAR_TYPES whose message names ``op`` or contains one of
    ``wordings`` (PyTorch's own wording for the same mistake, e.g. "out of range")."""
    return (outcome.kind == "error" and outcome.exc_type in CLEAR_TYPES
            and any(w.lower() in outcome.message.lower() for w in (op, *wordings)))


def assert_clear(outcome: Outcome, op: str, *wordings: str) -> None:
    assert is_clear(outcome, op, *wordings), "expected a clear error naming " + op + ": " + outcome.describe()


def assert_survived(outcome: Outcome) -> None:
    """The case returned or raised (any exception): no crash, hang or sanitizer report."""
    assert outcome.kind in ("ok", "error"), outcome.describe()
