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
    __slots__ = ("name", "backward_fn", "inputs", "saved", "versions", "out_ref", "__weakref__")

    def __init__(self, name, backward_fn, inputs):
        self.name = name
        self.backward_fn = backward_fn
        # Inputs that do not need a gradient are stored as None so the engine skips them. Every tensor
        # input is saved with its version: the closure may keep any of their arrays (a constant factor
        # included), so an in-place change to any of them would make the backward wrong. One- and
        # two-input ops are unrolled: list comprehensions cost 0.3 us of a ~2 us tiny-tensor op.
        n = len(inputs)
        if n == 2:
            a, b = inputs
            self.inputs = (a if a is not None and a._requires_grad else None,
                           b if b is not None and b._requires_grad else None)
            self.versions = (a._version if a is not None else 0, b._version if b is not None else 0)
        elif n == 1:
            a = inputs[0]
            self.inputs = (a if a is not None and a._requires_grad else None,)
            self.versions = (a._version if a is not None else 0,)
        else:
            self.inputs = tuple([t if t is not None and t._requires_grad else None for t in inputs])
            self.versions = tuple([t._version if t is not None else 0 for t in inputs])
        self.saved = inputs
        # Set only when someone wants this node's output: retain_grad() or autograd.grad's inputs. Not
        # making a weakref per op saved ~0.1 us of the ~2 us an op costs on tiny tensors.
        self.out_ref = None

    def __repr__(self) -> str:
        return f"<{self.name} object>"

    def name_(self) -> str:
        return self.name


def record(out, name, inputs, backward_fn):
    """Attaches ``backward_fn`` (grad_out array -> tuple of input grads) to ``out`` when needed; returns out."""
    try:
        if not _state.enabled:
            return out
    except AttributeError:  # a thread that never set the mode: grad mode is on by default
        pass
    for t in inputs:
        if t is not None and t._requires_grad:
            break
    else:
        return out
    out._requires_grad = True
    out.grad_fn = Node(name, backward_fn, inputs)
    return out


def watch_output(t) -> None:
    """Lets the engine find ``t`` from its node (to retain or capture its gradient)."""
    if t.grad_fn is not None:
        t.grad_fn.out_ref = weakref.ref(t)
