"""Tensor hooks and the engine's final-callback queue, with PyTorch's semantics.

- ``register_hook(fn)``: ``fn(grad) -> None | Tensor`` runs on the gradient w.r.t. a tensor before it is used
  (a non-leaf's before its grad_fn runs and before ``retain_grad`` stores it; a leaf's once its gradient is
  complete, before it is accumulated into ``.grad`` or captured by ``autograd.grad``).
- ``register_post_accumulate_grad_hook(fn)``: ``fn(tensor)`` on a leaf right after its ``.grad`` is final for
  this backward (not under ``autograd.grad``, which accumulates nothing).
- ``queue_callback(cb)``: ``cb()`` runs once after the current backward (of the calling thread) has finished.

A non-leaf's hooks are kept on the grad_fn it had at registration (as torch keeps them on the node: after an
in-place write, hooks registered before see the gradient of the old value). The tables are module-level and
keyed by id with weakref clean-up, so Tensor keeps its slots and ``_wrap`` its cost. ``STATE[0]`` counts the
live hooks: the engine reads it once per backward and takes the hook-aware branches only when it is non-zero.
"""
from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict

STATE = [0]  # live hooks (all kinds); 0 keeps the engine on its plain path

# id(leaf tensor) -> _LeafHooks; id(node) -> (weakref to node, OrderedDict of tensor hooks)
LEAVES: dict = {}
NODES: dict = {}

_ids = itertools.count()
_LOCAL = threading.local()  # .frames: one list of queued callbacks per running hooked backward of this thread


def _frames() -> list:
    frames = getattr(_LOCAL, "frames", None)
    if frames is None:
        frames = _LOCAL.frames = []
    return frames


class RemovableHandle:
    """A hook's handle (torch.utils.hooks.RemovableHandle's surface): ``remove()``, ``id``, a context manager."""

    def __init__(self, table: OrderedDict):
        self.id = next(_ids)
        self._table = weakref.ref(table)

    def remove(self) -> None:
        table = self._table()
        if table is not None and table.pop(self.id, None) is not None:
            STATE[0] -= 1

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _LeafHooks:
    __slots__ = ("ref", "pre", "post")

    def __init__(self, ref):
        self.ref, self.pre, self.post = ref, OrderedDict(), OrderedDict()


def _add(table: OrderedDict, hook) -> RemovableHandle:
    handle = RemovableHandle(table)
    table[handle.id] = hook
    STATE[0] += 1
    return handle


def _leaf_entry(t) -> _LeafHooks:
    key = id(t)
    entry = LEAVES.get(key)
    if entry is None or entry.ref() is not t:
        def gone(_, key=key, table=LEAVES, state=STATE):  # bound now: module globals are gone at exit
            dead = table.pop(key, None)
            if dead is not None:
                state[0] -= len(dead.pre) + len(dead.post)
                dead.pre.clear()  # a handle removed later must not count these again
                dead.post.clear()
        entry = LEAVES[key] = _LeafHooks(weakref.ref(t, gone))
    return entry


def _node_table(node) -> OrderedDict:
    key = id(node)
    entry = NODES.get(key)
    if entry is None or entry[0]() is not node:
        def gone(_, key=key, table=NODES, state=STATE):
            dead = table.pop(key, None)
            if dead is not None:
                state[0] -= len(dead[1])
                dead[1].clear()
        entry = NODES[key] = (weakref.ref(node, gone), OrderedDict())
    return entry[1]


def register_hook(t, hook) -> RemovableHandle:
    if not t._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        return _add(_node_table(t.grad_fn), hook)
    return _add(_leaf_entry(t).pre, hook)


def register_post_accumulate_grad_hook(t, hook) -> RemovableHandle:
    if not t._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    return _add(_leaf_entry(t).post, hook)


def leaf_hooks(t):
    """``t``'s _LeafHooks when it has any live one, else None."""
    entry = LEAVES.get(id(t))
    return entry if entry is not None and entry.ref() is t and (entry.pre or entry.post) else None


def node_hooks(node):
    entry = NODES.get(id(node))
    return entry[1] if entry is not None and entry[0]() is node and entry[1] else None


def run_tensor_hooks(hooks: OrderedDict, g, wrap):
    """Runs ``hooks`` in registration order on gradient array ``g``; returns the (possibly replaced) array."""
    for hook in list(hooks.values()):
        gt = wrap(g)
        res = hook(gt)
        if res is None:
            continue
        _check_result(hook, gt, res)
        g = res._data
    return g


def _check_result(hook, was, res) -> None:
    from .._tensor import Tensor
    if not isinstance(res, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(res).__name__}'")
    name = getattr(hook, "__name__", type(hook).__name__)
    if res.type() != was.type():
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {was.type()} got {res.type()})")
    if res.shape != was.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")


def run_post_hooks(hooks: OrderedDict, t) -> None:
    for hook in list(hooks.values()):
        res = hook(t)
        if res is not None:
            raise TypeError(f"expected Variable, but hook returned '{type(res).__name__}'")


def last_contributors(order, grad_fn_of) -> dict:
    """node -> [hooked leaves whose last contributing node in ``order`` it is]: the point where each such
    leaf's gradient is complete, so it can be accumulated (and its hooks fired) while backward goes on."""
    last = {}
    for node in order:
        for t, v in zip(node.inputs, node.versions):
            if t is not None and id(t) in LEAVES and grad_fn_of(t, v) is None and leaf_hooks(t) is not None:
                last[id(t)] = (node, t)
    by_node: dict = {}
    for node, t in last.values():
        by_node.setdefault(node, []).append(t)
    return by_node


def needed_nodes(order, capture_ids, grad_fn_of) -> set:
    """Under ``autograd.grad``, the nodes on a path to a captured tensor: torch runs only those, so only their
    tensor hooks fire (the engine here still runs the whole graph)."""
    needed: set = set()
    for node in reversed(order):  # inputs before their consumers
        ref = node.out_ref
        out = ref() if ref is not None else None
        if out is not None and id(out) in capture_ids:
            needed.add(node)
            continue
        for t, v in zip(node.inputs, node.versions):
            if t is not None:
                child = grad_fn_of(t, v)
                if (child is None and id(t) in capture_ids) or (child is not None and child in needed):
                    needed.add(node)
                    break
    return needed


# ---- final callbacks ----------------------------------------------------------------------------------------
def queue_callback(callback) -> None:
    """Runs ``callback()`` once after the current backward pass has finished (torch's
    ``Variable._execution_engine.queue_callback``); callbacks queued by callbacks run too."""
    frames = _frames()
    if not frames:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    frames[-1].append(callback)


def push_frame() -> list:
    frame: list = []
    _frames().append(frame)
    return frame


def pop_frame(frame: list) -> None:
    frames = _frames()
    if frames and frames[-1] is frame:
        frames.pop()


def run_callbacks(frame: list) -> None:
    i = 0
    while i < len(frame):  # a callback may queue another one: it runs in this same pass
        frame[i]()
        i += 1
