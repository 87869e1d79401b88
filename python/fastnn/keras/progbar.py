"""Keras' progress bar: ``12/45 ━━━━━━━━━━━━━━━━━━━━ 1s 24ms/step - accuracy: 0.9100 - loss: 0.3012``.

On a terminal the line is redrawn in place (at most every 50 ms); in a log file only the finished line is
written, so CI logs stay readable."""
from __future__ import annotations

import sys
import time

_BAR_WIDTH = 20


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs: dict) -> str:
    return "".join(f" - {k}: {v:.4f}" for k, v in sorted(logs.items()) if isinstance(v, (int, float)))


class Progbar:
    def __init__(self, target: int | None, verbose: int = 1, stream=None) -> None:
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def _bar(self, current: int) -> str:
        if not self.target:
            return ""
        done = min(_BAR_WIDTH, int(_BAR_WIDTH * current / self.target))
        # the finished part, then the remainder drawn thin (Keras draws it dim; plain text stays portable)
        return "━" * done + "─" * (_BAR_WIDTH - done)

    def update(self, current: int, logs: dict | None = None, finalize: bool = False) -> None:
        if self.verbose == 0:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        if self.verbose == 2:
            if finalize:
                self.stream.write(f"{current}/{self.target} - {_format_time(elapsed)} - "
                                  f"{_format_per_step(per_step)}{format_logs(logs or {})}\n")
                self.stream.flush()
            return
        if not finalize and (not self._interactive or now - self._last_draw < 0.05):
            return
        self._last_draw = now
        count = f"{current}/{self.target}" if self.target else f"{current}"
        if finalize:
            timing = _format_time(elapsed)
        else:
            timing = _format_time(per_step * (self.target - current)) if self.target else _format_time(elapsed)
        line = f"{count} {self._bar(current)} {timing} {_format_per_step(per_step)}{format_logs(logs or {})}"
        if self._interactive:
            self.stream.write("\r" + line + ("\n" if finalize else "\x1b[K"))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
