"""A recorded operation: the closure that maps its output's gradient to its inputs' gradients.

Ops build nodes through ``record``: forward computes arrays, then ``record`` wraps the result and, when
grad mode is on and an input requires grad, attaches a Node holding the backward closure (which keeps
whatever the backward needs, as in micrograd). Running the backward frees the closure unless the graph
is retained, so a second pass through freed buffers can be detected and refused.
"""
from __future__ import annotations

import weakref

from . import anomaly_mode as _anomaly
from .anomaly_mode import STATE as ANOMALY
from .grad_mode import _state  # read directly: record runs once per op


class Node:
    __slots__ = ("name", "backward_fn", "inputs", "saved", "versions", "out_ref", "__weakref__")
    reads_inputs = True  # False on a node kind whose backward reads no input's values (see INPUT_VALUES_NOT_READ)

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
            # A version lives on the root of a view (_base); a view whose base was written since its grad_fn
            # was made gets a fresh one first (_view_version), as PyTorch regenerates a view's grad_fn.
            if a is None:
                va = 0
            else:
                r = a._base
                va = a._ver if r is None else (r._ver if a._ver == r._ver else _view_version(a))
            if b is None:
                vb = 0
            else:
                r = b._base
                vb = b._ver if r is None else (r._ver if b._ver == r._ver else _view_version(b))
            self.versions = (va, vb)
            self.inputs = (a if a is not None and a._requires_grad else None,
                           b if b is not None and b._requires_grad else None)
        elif n == 1:
            a = inputs[0]
            if a is None:
                self.versions = (0,)
            else:
                r = a._base
                self.versions = (a._ver if r is None else (r._ver if a._ver == r._ver else _view_version(a)),)
            self.inputs = (a if a is not None and a._requires_grad else None,)
        else:
            self.versions = tuple([(t._ver if t._base is None else _view_version(t)) if t is not None else 0
                                   for t in inputs])
            self.inputs = tuple([t if t is not None and t._requires_grad else None for t in inputs])
        self.saved = inputs
        # Set only when someone wants this node's output: retain_grad() or autograd.grad's inputs. Not
        # making a weakref per op saved ~0.1 us of the ~2 us an op costs on tiny tensors.
        self.out_ref = None

    def __repr__(self) -> str:
        return f"<{self.name} object>"

    def name_(self) -> str:
        return self.name


# Nodes whose output was written in place while their backward still reads that output's array: node ->
# (weakref to the written tensor, its version when the node made it, its description for the message).
# Filled by autograd/inplace.py, checked by the engine; weak keys so a freed graph leaves nothing behind
# (and no per-op cost: an entry exists only after an in-place write).
DIRTY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

# Node names whose backward never reads the values of its own output (it reads the inputs, their shapes,
# or nothing): writing into their output in place is safe. Any other name is assumed to read its output
# (exp, sigmoid, tanh, relu, softmax, sqrt, pow, max/amax, std, prod, ...), so an in-place write into its
# output makes its backward raise PyTorch's error instead of computing with overwritten values. An op
# whose backward does not read its output may add its node name here.
OUTPUT_NOT_SAVED = frozenset({
    "AddBackward0", "SubBackward0", "MulBackward0", "DivBackward0", "NegBackward0", "MmBackward0",
    "MatmulBackward0", "AddmmBackward0", "ConvolutionBackward0", "NativeBatchNormBackward0",
    "NativeLayerNormBackward0", "CloneBackward0", "ToCopyBackward0", "ViewBackward0", "PermuteBackward0",
    "TransposeBackward0", "SqueezeBackward0", "UnsqueezeBackward0", "ExpandBackward0", "IndexBackward0",
    "NarrowBackward0", "CatBackward0", "MaxBackward0", "MinBackward0", "SumBackward1", "MeanBackward1",
    "WhereBackward0", "ClampBackward1",
    "GeluBackward0", "LeakyReluBackward0", "EmbeddingBackward0", "AvgPool2DBackward0",
    "AdaptiveAvgPool2DBackward0", "MaxPool2DWithIndicesBackward0", "SinBackward0", "CosBackward0",
    "AbsBackward0", "SignBackward0", "LogBackward0", "Log1PBackward0", "ErfBackward0",
    # the in-place family's own nodes (autograd/inplace.py)
    "torch::autograd::CopySlices", "AsStridedBackward0", "IndexPutBackward0", "torch::autograd::CopyBackwards",
    "ZeroBackward0", "FillBackward2", "FillBackward3", "UniformBackward0", "NormalBackward0",
    "MaskedFillBackward0",
})


# Node names whose backward reads no input's values (only shapes, indices, constants): an input written in
# place after such a node was recorded does not invalidate it (as in PyTorch, which saves nothing there);
# the engine routes its gradient to the grad_fn the input had then (grad_fn_at).
INPUT_VALUES_NOT_READ = frozenset({
    "AddBackward0", "SubBackward0", "NegBackward0", "ViewBackward0", "PermuteBackward0", "TransposeBackward0",
    "SqueezeBackward0", "UnsqueezeBackward0", "ExpandBackward0", "IndexBackward0", "NarrowBackward0",
    "CatBackward0", "SumBackward1", "MeanBackward1", "CloneBackward0", "ToCopyBackward0", "AsStridedBackward0",
    "IndexPutBackward0", "torch::autograd::CopyBackwards", "ZeroBackward0", "FillBackward2", "FillBackward3",
    "UniformBackward0", "NormalBackward0",
})

# Tensors whose grad_fn an in-place op replaced: id -> (weakref, [(version, previous grad_fn), ...]); the
# previous grad_fn served the storage's versions below ``version``. Nodes recorded before the rebase hold
# the tensor object, and reach the grad_fn it had when they recorded it through grad_fn_at.
HISTORY: dict = {}


def grad_fn_at(t, version: int):
    """``t``'s grad_fn as of storage version ``version``."""
    entry = HISTORY.get(id(t))
    if entry is not None and entry[0]() is t:
        for until, fn in entry[1]:
            if version < until:
                return fn
    return t.grad_fn


def set_grad_fn(t, node) -> None:
    """Replaces ``t.grad_fn`` after an in-place write (the storage's version already bumped), keeping the
    old one for the nodes recorded before."""
    root = t if t._base is None else t._base
    key = id(t)
    entry = HISTORY.get(key)
    if entry is None or entry[0]() is not t:
        entry = HISTORY[key] = (weakref.ref(t, lambda _, key=key: HISTORY.pop(key, None)), [])
    entry[1].append((root._ver, t.grad_fn))
    t.grad_fn = node


def _view_version(t) -> int:
    """The version of view ``t``'s storage (its root's); first re-makes ``t.grad_fn`` as a view of the root's
    current graph when the root was written since (a view's own ``_ver`` holds the root's version then)."""
    root = t._base
    if t._ver != root._ver:
        _inplace.refresh_view(t)
    return root._ver


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
    node = out.grad_fn = Node(name, backward_fn, inputs)
    if ANOMALY[0]:  # anomaly mode: the forward traceback (and the forward NaN check); one test when off
        _anomaly.on_record(out, node, inputs)
    return out


def watch_output(t) -> None:
    """Lets the engine find ``t`` from its node (to retain or capture its gradient)."""
    if t.grad_fn is not None:
        t.grad_fn.out_ref = weakref.ref(t)


# ---- imported last: inplace builds Nodes and imports this module's names at its top.
from . import inplace as _inplace  # noqa: E402
