"""Whether operations record the graph: ``no_grad`` / ``enable_grad`` / ``set_grad_enabled``."""
from __future__ import annotations

import functools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode for its body, restoring the previous mode after."""

    _mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self._mode)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        mode_cls = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode_cls():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disables graph recording: results of operations inside do not require grad."""

    _mode = False


class enable_grad(_GradMode):
    """Re-enables graph recording inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """Sets grad mode to ``mode``: immediately (as a function) and, used as a context manager, for its body."""

    def __init__(self, mode: bool):
        self._prev = is_grad_enabled()
        self._mode = bool(mode)
        _set(self._mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False
