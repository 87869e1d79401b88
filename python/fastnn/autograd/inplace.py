"""In-place ops with PyTorch's autograd semantics: version counters, graph rebasing and views (CopySlices).

An in-place op on a tensor ``t`` keeps ``t``'s identity and storage (the new values are written into its
array, so every alias sees them) and *rebases* its graph: the op runs out of place on a snapshot of ``t``'s
previous autograd state (a new Tensor holding ``t``'s old ``grad_fn``), and the node that run recorded
becomes ``t.grad_fn``. Correctness is guarded at backward time, as in PyTorch:

- every write bumps the version counter of the storage's root tensor (a view's ``_base``), which nodes
  that saved the tensor (or any view of the same storage) check (``engine._check_versions``);
- a node whose backward reads its own output (``graph.OUTPUT_NOT_SAVED`` lists the ones that do not) is
  entered in ``graph.DIRTY`` when that output is written, and its backward raises PyTorch's error.

An in-place op on a *view* (``_base`` set by the view ops) also rebases the base, as PyTorch's CopySlices:
the base's new node routes the view region's gradient through the in-place op and the rest to the base's
old state, and the view's node becomes a strided view of the base's new state. The region is found from
the arrays' strides and offsets (``_ViewMap``), so every NumPy/CuPy view the view ops make is covered.

Nodes recorded *before* a rebase hold the tensor object, not its grad_fn: ``graph.set_grad_fn`` keeps the
replaced grad_fn per version (``graph.HISTORY``), and the engine routes such a node's gradient to the grad_fn
its input had at the version it saved (``graph.grad_fn_at``). Whether a write into an input invalidates a
node is by name (``graph.INPUT_VALUES_NOT_READ``: add, views, index, sum ... read no values); any other node
raises at backward, which is stricter than PyTorch where its node saves less than ours does (``y * 2`` saves
only the 2 there, all of ``y`` here) but never gives a wrong gradient. A view used after its base was written
gets a fresh grad_fn on that use (``refresh_view``), as PyTorch regenerates one.
"""
from __future__ import annotations

import weakref

from .._tensor import Tensor
from ..backend import backend_of, backend_with_cpu_scalars, check_output_device
from ..backend.bf16 import astype_any
from .grad_mode import is_grad_enabled
from .graph import DIRTY, INPUT_VALUES_NOT_READ, OUTPUT_NOT_SAVED, Node, record, set_grad_fn

# Outputs of split/chunk/unbind that require grad: id -> (weakref, output index, torch's function name).
# PyTorch refuses in-place writes into them. Keyed by id (a Tensor's == is elementwise, so it cannot be a
# WeakKeyDictionary key); the weakref's callback drops the entry with the tensor.
MULTI_OUTPUT_VIEWS: dict = {}


# detach()'s results: they share their source's storage and version counter (_base) but are no view for
# autograd: an in-place op on one builds its own graph. id -> weakref, dropped with the tensor.
DETACHED: dict = {}


def share_version(d, src) -> None:
    """Makes ``d`` (detach's result) share ``src``'s version counter, as PyTorch's detach does."""
    root = src if src._base is None else src._base
    d._base = root
    d._ver = root._ver
    key = id(d)
    DETACHED[key] = weakref.ref(d, lambda _, key=key: DETACHED.pop(key, None))


def _graph_root(t):
    """The tensor whose graph an in-place op on ``t`` rebases: t's base for a view, else t."""
    b = t._base
    if b is None:
        return t
    ref = DETACHED.get(id(t)) if DETACHED else None
    return t if ref is not None and ref() is t else b


def mark_multi_output(views, name: str) -> None:
    """Marks views made by one call (split, chunk, unbind)."""
    for i, v in enumerate(views):
        key = id(v)
        MULTI_OUTPUT_VIEWS[key] = (weakref.ref(v, lambda _, key=key: MULTI_OUTPUT_VIEWS.pop(key, None)), i, name)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_TORCH_NAME = {"float16": "Half", "float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _describe(t) -> str:
    """PyTorch's ``[torch.FloatTensor [2, 3]]``."""
    dev = "cuda." if backend_of(t._data).device.type == "cuda" else ""
    name = _TORCH_NAME.get(t._data.dtype.name, t._data.dtype.name)
    return f"[torch.{dev}{name}Tensor [{', '.join(str(s) for s in t._data.shape)}]]"


def mark_dirty(t) -> None:
    """After a write into ``t``'s storage (its version already bumped): the nodes that made ``t`` or its
    base and read their output can no longer run their backward."""
    root = t if t._base is None else t._base
    for node in (t.grad_fn, root.grad_fn):
        if node is not None and node.name not in OUTPUT_NOT_SAVED and node not in DIRTY:
            who = root if node is root.grad_fn else t
            DIRTY[node] = (weakref.ref(who), root._ver - 1, _describe(who))


def bump(t) -> None:
    root = t if t._base is None else t._base
    root._ver += 1
    if t.grad_fn is not None or root.grad_fn is not None:
        mark_dirty(t)


def _check_writable(t) -> None:
    if not getattr(t._data.flags, "writeable", True):  # CuPy arrays have no read-only flag: always writable
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a single "
                           "memory location. Please clone() the tensor before performing the operation.")


def _needs_graph(t, root, operands) -> bool:
    if not is_grad_enabled():
        return False
    if t._requires_grad or root._requires_grad:
        return True
    for o in operands:
        if isinstance(o, Tensor) and o._requires_grad:
            return True
    return False


def _check_target(t, root, through_view: bool) -> None:
    multi = MULTI_OUTPUT_VIEWS.get(id(t)) if MULTI_OUTPUT_VIEWS else None
    if multi is not None and multi[0]() is t:
        raise RuntimeError(f"Output {multi[1]} of {multi[2]} is a view and is being modified inplace. This view is "
                           "the output of a function that returns multiple views. Such functions do not allow the "
                           "output views to be modified inplace. You should replace the inplace operation by an "
                           "out-of-place one.")
    if root._requires_grad and root.grad_fn is None:
        if through_view or t is not root:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if t is not root and root._requires_grad and not t._requires_grad:
        raise RuntimeError("A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
                           "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
                           "your code by moving both the view and the inplace either both inside the no_grad block "
                           "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
                           "to be tracked).")


def _check_result(t, arr) -> None:
    if type(arr) is not type(t._data):  # a CPU scalar written from a device's result: PyTorch raises
        check_output_device(t._data, arr)
    dt, rt = t._data.dtype, arr.dtype
    if _KIND_RANK.get(rt.kind, 0) > _KIND_RANK.get(dt.kind, 0):
        raise RuntimeError(f"result type {_TORCH_NAME.get(rt.name, rt.name)} can't be cast to the desired output "
                           f"type {_TORCH_NAME.get(dt.name, dt.name)}")
    if arr.shape != t._data.shape:
        raise RuntimeError(f"output with shape {list(t._data.shape)} doesn't match the broadcast shape "
                           f"{list(arr.shape)}")


def _snapshot(t, copy: bool):
    """A tensor standing for ``t``'s state before the write: its grad_fn and requires_grad, and its values when
    the op's backward reads them (``copy``); it has its own version counter, which nothing bumps."""
    old = Tensor._wrap(t._data.copy() if copy else t._data, t._requires_grad)
    old.grad_fn = t.grad_fn
    return old


def _move_retain(t, node) -> None:
    """A retained (or captured) gradient follows the tensor to its newest version, as in PyTorch."""
    prev = t.grad_fn
    if prev is not None and prev.out_ref is not None and prev.out_ref() is t:
        prev.out_ref = None
    if t._retains_grad:
        node.out_ref = weakref.ref(t)


_UFUNCS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide"}


def arith(t, other, kind: str, alpha=1):
    """add_/sub_/mul_/div_. Outside the graph (nothing requires grad, or grad mode off: optimisers, counters) a
    float tensor is updated by the array module's ufunc in place, with no temporary; anything else (a graph to
    build, another dtype, an error to report) goes through ``apply`` and the out-of-place op."""
    b = t._base
    ot = isinstance(other, Tensor)
    if (t._requires_grad or (b is not None and b._requires_grad) or (ot and other._requires_grad)) and \
            is_grad_enabled():
        return apply(t, _ARITH[kind], (other,), {"alpha": alpha} if alpha != 1 else None,
                     copy_src=kind in ("mul", "div") and ot and other._requires_grad)
    x = t._data
    if x.dtype.kind in "fV" and (ot or type(other) is float or type(other) is int):
        o = other._data if ot else other
        if ot and type(o) is not type(x):  # a CPU scalar tensor beside a device's: brought over (else raises)
            o = backend_with_cpu_scalars(x, o).bring_scalars(o)[0]
        if alpha != 1:
            o = o * alpha
        try:
            getattr(backend_of(x).xp, _UFUNCS[kind])(x, o, out=x)
        except (ValueError, TypeError):
            pass  # a shape that does not broadcast into t, a read-only view...: apply raises PyTorch's error
        else:
            bump(t)
            return t
    return apply(t, _ARITH[kind], (other,), {"alpha": alpha} if alpha != 1 else None)


def apply(t, fn, operands=(), kwargs=None, copy_src: bool = False):
    """``t`` <- ``fn(t, *operands, **kwargs)`` in place, where ``fn`` is the out-of-place op (it records its
    node). ``copy_src``: the op's backward reads its first input's values, so the snapshot keeps a copy."""
    kwargs = kwargs or {}
    root = _graph_root(t)
    if not _needs_graph(t, root, operands):
        r = fn(t, *operands, **kwargs)
        _check_result(t, r._data)
        _check_writable(t)
        t._data[...] = r._data
        bump(t)
        return t
    _check_target(t, root, False)
    _check_writable(t)
    old = _snapshot(t, copy_src)
    # t as its own operand (y.add_(y)) reads its old state; an op that saves the operand keeps t itself, whose
    # version check then raises at backward as PyTorch's does (y.mul_(y)).
    ops = tuple(old if o is t and not copy_src else o for o in operands)
    r = fn(old, *ops, **kwargs)
    _check_result(t, r._data)
    arr = r._data
    # An op that hands its input back unchanged (r is old) leaves the graph as it was.
    _commit(t, root, old, r.grad_fn if r is not old else None, lambda: t._data.__setitem__(Ellipsis, arr))
    return t


def _commit(t, root, old, node, write) -> None:
    """Writes the new values and makes ``node`` (whose inputs include the snapshot ``old``) t's grad_fn; for a
    view, wraps it in a CopySlices node on the base."""
    if node is None:  # nothing asked for a gradient after all
        write()
        bump(t)
        return
    if t is root:
        write()
        bump(t)
        _move_retain(t, node)
        set_grad_fn(t, node)
        t._requires_grad = True
        return
    vm = _ViewMap(root._data, t._data)
    old_root = _snapshot(root, False)
    at = [i for i, s in enumerate(node.saved) if s is old]
    others = tuple(s for s in node.saved if s is not old)
    inner = node.backward_fn
    be = backend_of(root._data)

    def backward(g):
        grads = inner(vm.take(be.xp, g))
        g_old = None
        for i in at:
            if grads[i] is not None:
                g_old = grads[i] if g_old is None else g_old + grads[i]
        return (vm.put(be.xp, g_old, g),) + tuple(gi for i, gi in enumerate(grads) if i not in at)

    reads = node.reads_inputs and node.name not in INPUT_VALUES_NOT_READ
    copy_slices = (Node if reads else _ReadsNoInputs)("torch::autograd::CopySlices", backward, (old_root,) + others)
    write()
    bump(t)
    _move_retain(root, copy_slices)
    set_grad_fn(root, copy_slices)
    root._requires_grad = True
    _view_node(t, root, vm)


def _view_node(t, root, vm) -> None:
    """Makes t.grad_fn a strided view of the root's current state (PyTorch's AsStridedBackward0)."""
    be = backend_of(root._data)
    view_node = Node("AsStridedBackward0", lambda g: (vm.put(be.xp, g, None),), (root,))
    _move_retain(t, view_node)
    set_grad_fn(t, view_node)
    t._requires_grad = True
    t._ver = root._ver


def refresh_view(t) -> None:
    """A view used after its base was written: its grad_fn is re-made from the base's current graph (what
    PyTorch does on access), so its gradient reaches the base's newest state; ``t._ver`` records the base's
    version it now matches."""
    root = t._base
    if root._requires_grad and t._requires_grad and is_grad_enabled() and _graph_root(t) is root:
        try:
            vm = _ViewMap(root._data, t._data)
        except RuntimeError:  # the base's storage was swapped (.data = ...): the view is no longer of it
            vm = None
        if vm is not None:
            _view_node(t, root, vm)
    t._ver = root._ver


def fill(t, value, name: str):
    """fill_/zero_: every element becomes ``value`` (a number or a 0-d tensor, which then gets the gradient's
    sum)."""
    vt = value if isinstance(value, Tensor) else None
    if vt is not None and vt.ndim != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {vt.ndim} dimensions.")
    b = t._base
    if not ((t._requires_grad or (b is not None and b._requires_grad) or (vt is not None and vt._requires_grad))
            and is_grad_enabled() and _needs_graph(t, _graph_root(t), (vt,))):
        _check_writable(t)
        t._data[...] = vt._data if vt is not None else value
        bump(t)
        return t

    def filled(src, v):
        xp = backend_of(src._data).xp
        fv = v._data if v is not None else value
        if v is not None and type(fv) is not type(src._data):
            fv = v.item()  # a value tensor of another device (a CPU scalar): its value, as PyTorch's fill_ takes
        arr = xp.full(src._data.shape, fv, src._data.dtype)
        return record(Tensor._wrap(arr), name, (src, v),
                      lambda g: (xp.zeros_like(g), xp.asarray(g.sum(), g.dtype) if v is not None else None))

    return apply(t, filled, (vt,))


def overwrite(t, name: str, values):
    """Every element from ``values`` (an array or number: uniform_, normal_, nn.init); no gradient flows to it."""
    arr = values._data if isinstance(values, Tensor) else values
    root = _graph_root(t)
    if not _needs_graph(t, root, ()):
        _check_writable(t)
        t._data[...] = arr
        bump(t)
        return t

    def written(src):
        xp = backend_of(src._data).xp
        new = xp.broadcast_to(xp.asarray(arr, src._data.dtype), src._data.shape).copy()
        return record(Tensor._wrap(new), name, (src,), lambda g: (xp.zeros_like(g),))

    return apply(t, written)


def copy(t, src):
    """copy_: ``src`` broadcast and cast to ``t``; the gradient flows to ``src`` (and none to t's old state)."""
    be = backend_of(t._data)
    if not isinstance(src, Tensor):
        src = Tensor._wrap(be.asarray(src))
    elif backend_of(src._data) is not be:
        src = _conversion.move(src, be)  # across devices through the host, differentiably

    def copied(old, s):
        xp = be.xp
        try:
            arr = astype_any(xp.broadcast_to(s._data, old._data.shape), old._data.dtype)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({old._data.shape[-1] if old.ndim else 1}) must match the size "
                               f"of tensor b ({s._data.shape[-1] if s.ndim else 1}) at non-singleton dimension "
                               f"{old.ndim - 1}") from None
        sshape = s._data.shape
        return record(Tensor._wrap(arr), "torch::autograd::CopyBackwards", (old, s),
                      lambda g: (xp.zeros_like(g), _util.unbroadcast(g, sshape)))

    return apply(t, copied, (src,))


def setitem(t, index, value) -> None:
    """``t[index] = value``: writes the region in place; the region's gradient goes to ``value`` (when it is a
    tensor that requires grad), the rest to t's old state."""
    x = t._data
    idx = _indexing.convert_index(index, x)
    backend_of(x).check_index(x.shape, idx)  # a device that wraps out-of-range indices raises as NumPy here
    vt = value if isinstance(value, Tensor) else None
    arr = vt._data if vt is not None else value
    b = t._base
    if not ((t._requires_grad or (b is not None and b._requires_grad) or (vt is not None and vt._requires_grad))
            and is_grad_enabled() and _needs_graph(t, _graph_root(t), (vt,))):
        try:
            x[idx] = arr
        except ValueError:
            _check_writable(t)  # a read-only (broadcast) view: PyTorch's error; anything else as it was
            raise
        root = t if b is None else b  # bump(t), inlined: indexing writes are frequent
        root._ver += 1
        if t.grad_fn is not None or root.grad_fn is not None:
            mark_dirty(t)
        return
    root = _graph_root(t)
    basic = not _indexing._is_advanced(idx)
    _check_target(t, root, basic)
    _check_writable(t)
    old = _snapshot(t, False)
    vshape = vt._data.shape if vt is not None else None

    def backward(g):
        g_old = g.copy()
        g_old[idx] = 0
        g_val = None
        if vt is not None and vt._requires_grad:
            region = g[idx]
            if region.ndim < len(vshape):  # a value with extra leading 1s (x[0] = v of shape (1, n))
                region = region.reshape((1,) * (len(vshape) - region.ndim) + region.shape)
            g_val = _util.unbroadcast(region, vshape)
        return g_old, g_val

    node = _ReadsNoInputs("torch::autograd::CopySlices" if basic else "IndexPutBackward0", backward, (old, vt))

    def write():
        x[idx] = arr

    _commit(t, root, old, node, write)


class _ReadsNoInputs(Node):
    """A node whose backward reads no input's values, whatever its name: setitem's (only the index and shapes;
    PyTorch's CopySlices over a copy_ saves nothing either), and a CopySlices around such a node. A later
    write into its inputs does not invalidate it."""

    __slots__ = ()
    reads_inputs = False


class _ViewMap:
    """Where a view's elements sit inside its base, from the two arrays' strides and data pointers: it takes
    the view's region out of a base-shaped array and writes a region into one (any strides, negative ones
    included), on any backend whose array module has ``lib.stride_tricks.as_strided``."""

    def __init__(self, base, view):
        if base.dtype != view.dtype:
            raise RuntimeError("in-place operation on a view with another dtype than its base is not supported")
        isz = base.itemsize
        self.bshape, self.vshape = base.shape, view.shape
        self.bst = tuple(s // isz for s in base.strides)
        self.vst = tuple(s // isz for s in view.strides)
        if any(s % isz for s in base.strides + view.strides):
            raise RuntimeError("in-place operation on a view with unaligned strides is not supported")
        if any(s == 0 and n > 1 for s, n in zip(self.bst, self.bshape)):
            raise RuntimeError("in-place operation on a view of a base whose elements overlap is not supported")
        lo, hi = _extent(self.bshape, self.bst)
        off = (_pointer(view) - _pointer(base)) // isz
        vlo, vhi = _extent(self.vshape, self.vst)
        if view.size and base.size and (off + vlo < lo or off + vhi > hi):
            raise RuntimeError("in-place operation on a view that lies outside its base's storage (was the base's "
                               ".data replaced?) is not supported")
        self.size = hi - lo + 1 if base.size else 0
        self.b0, self.v0 = -lo, off - lo

    def _layout(self, xp, dtype):
        buf = xp.zeros(self.size, dtype)
        isz = buf.itemsize
        strided = xp.lib.stride_tricks.as_strided
        b = strided(buf[self.b0:], self.bshape, tuple(s * isz for s in self.bst))
        v = strided(buf[self.v0:], self.vshape, tuple(s * isz for s in self.vst))
        return b, v

    def take(self, xp, g):
        """The view's region of the base-shaped ``g``, as a new array."""
        b, v = self._layout(xp, g.dtype)
        b[...] = g
        return v.copy()

    def put(self, xp, region, full):
        """A base-shaped array: ``full`` (zeros when None) with the view's region replaced by ``region`` (zeros
        when None)."""
        dtype = (full if full is not None else region).dtype
        b, v = self._layout(xp, dtype)
        if full is not None:
            b[...] = full
        v[...] = 0 if region is None else region
        return xp.ascontiguousarray(b)


def _extent(shape, strides):
    lo = hi = 0
    for n, s in zip(shape, strides):
        if n > 1:
            if s < 0:
                lo += (n - 1) * s
            else:
                hi += (n - 1) * s
    return lo, hi


def _pointer(arr) -> int:
    iface = getattr(arr, "__array_interface__", None)
    if iface is None:
        iface = arr.__cuda_array_interface__
    return iface["data"][0]


# ---- imported last: the ops import autograd (graph, and this module's mark_multi_output) at their top.
from ..ops import _util  # noqa: E402
from ..ops import arithmetic as _arithmetic  # noqa: E402
from ..ops import conversion as _conversion  # noqa: E402
from ..ops import indexing as _indexing  # noqa: E402

_ARITH = {"add": _arithmetic.add, "sub": _arithmetic.sub, "mul": _arithmetic.mul, "div": _arithmetic.div}
