"""A recorded operation: the closure that maps its output's gradient to its inputs' gradients.

Ops build nodes through ``record``: forward computes arrays, then ``record`` wraps the result and, when
grad mode is on and an input requires grad, attaches a Node holding the backward closure (which keeps
whatever the backward needs, as in micrograd). Running the backward frees the closure unless the graph
is retained, so a second pass through freed buffers can be detected and refused.
"""
from __future__ import annotations

import weakref

from .grad_mode import _state  # read directly: record runs once per op


class Node:
    __slots__ = ("name", "backward_fn", "inputs", "saved", "out_ref", "__weakref__")

    def __init__(self, name, backward_fn, inputs):
        self.name = name
        self.backward_fn = backward_fn
        # Inputs that do not need a gradient are stored as None so the engine skips them. Every tensor
        # input is saved with its version: the closure may keep any of their arrays (a constant factor
        # included), so an in-place change to any of them would make the backward wrong.
        kept, saved = [], []
        for t in inputs:
            if t is None:
                kept.append(None)
            else:
                kept.append(t if t._requires_grad else None)
                saved.append((t, t._version))
        self.inputs = tuple(kept)
        self.saved = tuple(saved)
        self.out_ref = None

    def __repr__(self) -> str:
        return f"<{self.name} object>"

    def name_(self) -> str:
        return self.name


def record(out, name, inputs, backward_fn):
    """Attaches ``backward_fn`` (grad_out array -> tuple of input grads) to ``out`` when needed; returns out."""
    if not getattr(_state, "enabled", True):
        return out
    for t in inputs:
        if t is not None and t._requires_grad:
            break
    else:
        return out
    node = Node(name, backward_fn, inputs)
    node.out_ref = weakref.ref(out)
    out._requires_grad = True
    out.grad_fn = node
    return out
