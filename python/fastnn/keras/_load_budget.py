"""What ``load_model`` lets a model's config allocate: a ``.keras`` file's config is a few hundred bytes that
can ask for any number of weights (``Dense(units=10**9)``), which building the model would allocate before the
saved weights are compared with them. While a file loads, every weight a layer creates is charged against the
bytes of weights the file actually holds, and each example batch traced through the layers to infer shapes
is bounded too, so such a file is a ValueError naming the layer before anything large is allocated.

Outside ``load_model`` (no budget set) nothing is checked."""
from __future__ import annotations

import contextlib
import contextvars
import math

_budget: contextvars.ContextVar = contextvars.ContextVar("fastnn_keras_load_budget", default=None)
_EXAMPLE_FLOOR = 64 << 20  # an example batch of one sample may take this much, or as much as the weights


class _Budget:
    def __init__(self, weight_bytes: int, where: str) -> None:
        self.left = weight_bytes
        self.total = weight_bytes
        self.where = where


@contextlib.contextmanager
def loading(weight_bytes: int, where: str):
    token = _budget.set(_Budget(int(weight_bytes), where))
    try:
        yield
    finally:
        _budget.reset(token)


def _nbytes(shape, itemsize: int, what: str, where: str) -> int:
    dims = tuple(shape)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ValueError(f"load_model: {where}: {what} has an invalid shape {dims}")
    return math.prod(dims) * itemsize


def charge_weight(layer: str, name: str, shape, itemsize: int) -> None:
    """Called before a layer allocates a weight."""
    b = _budget.get()
    if b is None:
        return
    need = _nbytes(shape, itemsize, f"the weight {layer}/{name}", b.where)
    if need > b.left:
        raise ValueError(f"load_model: {b.where}: the config asks layer {layer!r} for a weight {name!r} of shape "
                         f"{tuple(shape)} ({need:,} bytes), more than the {b.total:,} bytes of weights the file "
                         "holds: the config does not match the weights (a corrupted or hostile file)")
    b.left -= need


def check_example(shape, itemsize: int) -> None:
    """Called before a zero batch of one sample is made to trace a layer's output shape."""
    b = _budget.get()
    if b is None:
        return
    need = _nbytes(shape, itemsize, "an input", b.where)
    if need > max(_EXAMPLE_FLOOR, b.total):
        raise ValueError(f"load_model: {b.where}: the config gives an input of shape {tuple(shape)} ({need:,} bytes "
                         f"for one sample), out of proportion to the {b.total:,} bytes of weights the file holds")
