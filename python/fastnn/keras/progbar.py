"""Keras' progress bar (``keras.utils.Progbar``): ``12/45 ━━━━━━━━━━━━━━━━━━━━ 1s 24ms/step - accuracy: 0.9100``.

On a terminal the line is redrawn in place (at most every ``interval`` seconds); in a log file only the
finished line is written, so CI logs stay readable. With interactive logging disabled
(``keras.utils.disable_interactive_logging``) lines go to the ``fastnn.keras`` logger instead of stdout."""
from __future__ import annotations

import logging
import math
import sys
import time

_interactive_logging = True


def enable_interactive_logging() -> None:
    """Progress bars and fit's messages are printed to stdout (the default)."""
    global _interactive_logging
    _interactive_logging = True


def disable_interactive_logging() -> None:
    """Progress bars and fit's messages go to the ``fastnn.keras`` logger (level INFO) instead of stdout."""
    global _interactive_logging
    _interactive_logging = False


def is_interactive_logging_enabled() -> bool:
    return _interactive_logging


def print_msg(message: str, line_break: bool = True, stream=None) -> None:
    if not _interactive_logging:
        logging.getLogger("fastnn.keras").info(message.strip("\r\n\x1b[K"))
        return
    stream = stream or sys.stdout
    stream.write(message + ("\n" if line_break else ""))
    stream.flush()


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _format_per_unit(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _format_value(v) -> str:
    if not isinstance(v, (int, float)):
        return f" {v}"
    return f" {v:.4f}" if abs(v) > 1e-3 else f" {v:.4e}"


def format_logs(logs: dict) -> str:
    return "".join(f" - {k}: {v:.4f}" for k, v in sorted(logs.items()) if isinstance(v, (int, float)))


class Progbar:
    """``Progbar(target, width=20, verbose=1, interval=0.05, stateful_metrics=None, stateless_metrics=None,
    unit_name='step')``, as Keras'. ``update(current, values)`` takes ``values`` as a list of
    ``(name, value_for_last_step)``: a stateless metric is shown averaged over the steps so far, a stateful
    one as it is. If neither list is given, every metric is stateless. A dict of values (fit's running
    logs) is shown as it is. ``stream`` (not in Keras) redirects the output from stdout."""

    def __init__(self, target, width: int = 20, verbose: int = 1, interval: float = 0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name: str = "step", stream=None) -> None:
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                             "`stateful_metrics` is used to make metrics stateless by default (with an exclusion "
                             "list), while `stateless_metrics` is used to make metrics stateful by default (with an "
                             "exclusion list).")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics is not None else (
            None if stateless_metrics is not None else set())
        self.stateless_metrics = set(stateless_metrics) if stateless_metrics is not None else None
        self.stream = stream
        self._out = stream or sys.stdout
        self._interactive = hasattr(self._out, "isatty") and self._out.isatty()
        self._values: dict = {}
        self._seen_so_far = 0
        self._start = time.perf_counter()
        self._last_update = 0.0
        self._time_after_first_step = None

    @property
    def start(self) -> float:
        return self._start

    def _is_stateless(self, name: str) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current: int, values, finalize: bool) -> None:
        if isinstance(values, dict):  # running logs: shown as they are
            for k, v in values.items():
                self._values[k] = [v, 1]
            return
        for k, v in values or []:
            if not self._is_stateless(k) or finalize:
                self._values[k] = [v, 1]
                continue
            base = max(current - self._seen_so_far, 1)
            total = self._values.setdefault(k, [0.0, 0])
            total[0] += v * base
            total[1] += base

    def _step_time(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    def _metrics(self) -> str:
        out = ""
        for k, (total, count) in self._values.items():
            value = total / max(1, count) if isinstance(total, (int, float)) else total
            out += f" - {k}:{_format_value(value)}"
        return out

    def _bar(self, current: int) -> str:
        if not self.target:
            return ""
        done = min(self.width, int(self.width * current / self.target))
        # the finished part, then the remainder drawn thin (Keras draws it dim; plain text stays portable)
        return "━" * done + "─" * (self.width - done)

    def update(self, current: int, values=None, finalize=None) -> None:
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values, finalize)
        self._seen_so_far = current
        now = time.perf_counter()
        per_step = self._step_time(current, now)
        if self.verbose == 1:
            if not finalize and (not self._interactive or now - self._last_update < self.interval):
                return
            self._last_update = now
            if self.target:
                digits = int(math.log10(self.target)) + 1
                count = f"{current:>{digits}d}/{self.target} {self._bar(current)}"
            else:
                count = f"{current:7d}/Unknown"
            if self.target and not finalize:
                timing = _format_time(per_step * (self.target - current))
            else:
                timing = f"{now - self._start:.0f}s"
            line = f"{count} {timing} {_format_per_unit(per_step, self.unit_name)}{self._metrics()}"
            if self._interactive:
                print_msg("\r" + line + ("\n" if finalize else "\x1b[K"), line_break=False, stream=self.stream)
            else:
                print_msg(line, stream=self.stream)
        elif self.verbose == 2 and finalize:
            count = f"{current}/{self.target}" if self.target else f"{current}"
            print_msg(f"{count} - {now - self._start:.0f}s - {_format_per_unit(per_step, self.unit_name)}"
                      f"{self._metrics()}", stream=self.stream)

    def add(self, n: int, values=None) -> None:
        self.update(self._seen_so_far + n, values)
