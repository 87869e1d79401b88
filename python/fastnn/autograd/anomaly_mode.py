"""Autograd anomaly mode, as torch.autograd's: ``detect_anomaly`` / ``set_detect_anomaly`` /
``is_anomaly_enabled`` / ``is_anomaly_check_nan_enabled``.

With the mode on, ``graph.record`` keeps the forward traceback of every node it makes (user frames only:
fastnn's own frames are dropped, as torch's traceback holds no C++ ones), and the engine (engine.py):
- on any error raised while running a node's backward, warns "Error detected in XxxBackward0. Traceback of
  forward call that caused the error: ..." and re-raises, as torch does;
- with ``check_nan``, raises torch's RuntimeError "Function 'XxxBackward0' returned nan values in its 0th
  output." for the first backward function whose gradient holds NaN (after that same warning).

An extra torch has no equivalent of (the issue asks to name the op that produced the first NaN/inf in
forward too): with ``check_nan``, a recorded op whose output holds NaN or inf although none of its tensor
inputs does warns ``AnomalyWarning`` naming its node and the forward traceback. A warning, not an error:
an inf made on purpose (a -inf attention mask) is legitimate in forward.

Off, the cost is one truth test per recorded op and one per backward pass. The mode is process-wide, as
torch's (a global flag, not per thread).
"""
from __future__ import annotations

import contextlib
import os
import traceback
import warnings
import weakref

# [enabled, check_nan]; a list so graph.record and the engine read one global without a function call.
STATE = [False, True]
# node -> its forward traceback (a string), kept only while anomaly mode records; weak keys: a freed graph
# leaves nothing behind and Node keeps its slots.
TRACES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AnomalyWarning(UserWarning):
    """A forward op made NaN or inf from inputs without any (anomaly mode's forward check)."""


def is_anomaly_enabled() -> bool:
    return STATE[0]


def is_anomaly_check_nan_enabled() -> bool:
    return STATE[1]


def _set(mode: bool, check_nan: bool) -> None:
    STATE[0], STATE[1] = bool(mode), bool(check_nan)


class detect_anomaly(contextlib.ContextDecorator):  # the decorator form from the standard library
    """Context manager enabling anomaly detection (``check_nan``: also raise on a NaN gradient). As torch's,
    constructing it warns that the mode is slow. Also usable as a decorator (``@detect_anomaly()``), which
    torch's is not."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = STATE[0], STATE[1]
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        self.prev, self.prev_check_nan = STATE[0], STATE[1]
        _set(True, self.check_nan)

    def __exit__(self, *args) -> None:
        _set(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Sets anomaly detection on or off at once (a function call), and restores the previous setting on
    leaving a ``with`` block."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev, self.prev_check_nan = STATE[0], STATE[1]
        _set(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args) -> None:
        _set(self.prev, self.prev_check_nan)


def _user_frames():
    return [f for f in traceback.extract_stack()[:-3] if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]


def _nonfinite(data, what: str) -> bool:
    if getattr(data, "dtype", None) is None or data.dtype.kind not in "fc" or data.size == 0:
        return False
    from ..backend import backend_of
    xp = backend_of(data).xp
    bad = xp.isnan(data) if what == "nan" else ~xp.isfinite(data)
    return bool(bad.any())


def on_record(out, node, inputs) -> None:
    """graph.record's hook in anomaly mode: keep the forward traceback; with check_nan, warn when the op
    made NaN / inf that none of its inputs held."""
    frames = _user_frames()
    stack = TRACES[node] = "".join(traceback.format_list(frames))
    if not STATE[1]:
        return
    for what in ("nan", "inf"):
        if _nonfinite(out._data, what) and not any(t is not None and _nonfinite(t._data, what) for t in inputs):
            kind = "nan" if what == "nan" else "inf or nan"
            message = (f"Anomaly detected in forward: {node.name[:node.name.rfind('Backward')] or node.name} "
                       f"({node.name}) produced {kind} values in its output from inputs without any. Traceback "
                       f"of the forward call:\n{stack}")
            where = frames[-1] if frames else None  # the user's line that called the op
            warnings.warn_explicit(message, AnomalyWarning, where.filename if where else __file__,
                                   where.lineno if where else 0)
            return


def warn_forward_trace(node) -> None:
    """torch's warning when a node's backward fails in anomaly mode."""
    stack = TRACES.get(node)
    if stack is None:
        stack = "  (no traceback: the node was made with anomaly mode off)\n"
    warnings.warn(f"Error detected in {node.name}. Traceback of forward call that caused the error:\n{stack}",
                  UserWarning, stacklevel=4)


def check_gradients(node, in_grads) -> None:
    """With check_nan: torch's error for the first gradient of ``node`` holding NaN."""
    for i, (t, g) in enumerate(zip(node.inputs, in_grads)):
        if t is not None and g is not None and _nonfinite(g, "nan"):
            raise RuntimeError(f"Function '{node.name}' returned nan values in its {i}th output.")
