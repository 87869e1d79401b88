"""Reverse-mode execution: topological order without recursion, gradient accumulation, retain_graph."""
from __future__ import annotations

from . import grad_mode
from .._tensor import Tensor
from ..backend import backend_of
from ..backend import registry as _registry
from ..backend.bf16 import astype_any
from . import anomaly_mode as _anomaly
from . import hooks as _hooks
from .graph import ANOMALY, DIRTY, HISTORY, INPUT_VALUES_NOT_READ, grad_fn_at, watch_output
from .inplace import _describe, refresh_view


def _topological_order(roots):
    """Nodes reachable from ``roots`` with every node after all nodes that consume its output.

    Iterative post-order DFS, so graphs thousands of ops deep (long RNN unrolls) do not hit Python's
    recursion limit.
    """
    order, visited = [], set()
    for root in roots:
        if root is None or id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(zip(root.inputs, root.versions)))]
        while stack:
            node, it = stack[-1]
            for t, v in it:
                if t is None:
                    continue
                child = t.grad_fn if not HISTORY else grad_fn_at(t, v)
                if child is not None and id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, iter(zip(child.inputs, child.versions))))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _second_pass_error(name):
    return RuntimeError(
        f"Trying to backward through the graph a second time (or directly access saved tensors after they have "
        f"already been freed) at {name}. Saved intermediate values of the graph are freed when you call "
        f".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a "
        f"second time.")


def _check_versions(node):
    name = node.name
    if name in INPUT_VALUES_NOT_READ or not node.reads_inputs:
        return  # its backward reads no input's values: an input written since is routed by its version
    saved, versions = node.saved, node.versions
    if len(saved) == 2 and (name == "MulBackward0" or name == "DivBackward0"):
        # a * b reads a's values only for b's gradient and b's only for a's; a / b reads b's always and a's
        # only for b's gradient (PyTorch saves no more): a tensor multiplied by a constant may be written after.
        a, b = saved
        grad_a, grad_b = node.inputs[0] is not None, node.inputs[1] is not None
        read = (grad_b, grad_a) if name == "MulBackward0" else (grad_b, True)
        saved = tuple(t if r else None for t, r in zip(saved, read))
    for t, v in zip(saved, versions):
        if t is not None and t._version != v:
            raise _modified_error(t, t.grad_fn, t._version, v)


def _modified_error(t, producer, now, expected):
    """PyTorch's text: the tensor, the node that (now) makes it, and the two versions."""
    name = producer.name if producer is not None else None
    short = name[:name.rfind("Backward")] if name is not None and "Backward" in name else name
    made_by = f", which is output 0 of {short}," if short is not None else ""
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"{_describe(t)}{made_by} is at version {now}; expected version {expected} instead. Hint: enable anomaly "
        "detection to find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def _check_output(node):
    """PyTorch's error for a node whose backward reads its output after that output was written in place."""
    entry = DIRTY.get(node)
    if entry is None:
        return
    ref, expected, desc = entry
    t = ref()
    now = t._version if t is not None else expected + 1
    short = node.name[:node.name.rfind("Backward")] if "Backward" in node.name else node.name
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: {desc}, "
        f"which is output 0 of {short}, is at version {now}; expected version {expected} instead. Hint: enable "
        "anomaly detection to find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def _onto_input_device(g, data):
    """A 0-d gradient computed on another device than its input's, moved to the input's, as PyTorch's engine
    does (validate_outputs): a CPU scalar tensor that met CUDA tensors gets its ``.grad`` on the CPU."""
    bg, bd = backend_of(g), backend_of(data)
    return g if bg is bd else bd.from_host(bg.to_host(g))


def _run_anomalous(node, fn, g, check_nan):
    """A node's backward in anomaly mode: torch's forward-traceback warning on any error, and its NaN check."""
    try:
        in_grads = fn(g)
        if check_nan:
            _anomaly.check_gradients(node, in_grads)
    except Exception:
        _anomaly.warn_forward_trace(node)
        raise
    return in_grads


def run_backward(tensors, grad_arrays, retain_graph, capture=None, accumulate=False):
    """Backpropagates ``grad_arrays`` from ``tensors``.

    Without ``capture``, leaf gradients accumulate into ``.grad`` (and into tensors that asked
    ``retain_grad``). With ``capture`` (a list of tensors), their gradients are returned instead, as
    ``autograd.grad`` does, and no ``.grad`` is touched; with ``accumulate`` too, only the captured tensors'
    gradients accumulate into their ``.grad`` (``backward(inputs=...)``).

    Tensor hooks (autograd/hooks.py) cost one counter test per backward while none exists; with some, a
    hooked leaf gets its ``.grad`` and fires its hooks right after the last node that feeds it, so a
    post-accumulate hook (DDP's) can start communicating while the rest of backward runs.
    """
    hooked = _hooks.STATE[0]
    if hooked:
        frame = _hooks.push_frame()
        try:
            result = _run(tensors, grad_arrays, retain_graph, capture, accumulate, True)
            _hooks.run_callbacks(frame)
        finally:
            _hooks.pop_frame(frame)
        return result
    return _run(tensors, grad_arrays, retain_graph, capture, accumulate, False)


def _run(tensors, grad_arrays, retain_graph, capture, accumulate, hooked):
    node_grads: dict = {}
    leaf_grads: dict = {}  # id(tensor) -> [tensor, grad]
    capture_ids = {id(t) for t in capture} if capture is not None else None
    for t in capture or ():
        watch_output(t)

    def to_leaf(t, g):
        if capture_ids is not None and id(t) not in capture_ids:
            return
        entry = leaf_grads.get(id(t))
        if entry is None:
            leaf_grads[id(t)] = [t, g]
        else:
            entry[1] = entry[1] + g

    for t, g in zip(tensors, grad_arrays):
        if t._base is not None and t._ver != t._base._ver:
            refresh_view(t)  # a view whose base was written since: its grad_fn follows the base's graph
        if t.grad_fn is not None:
            prev = node_grads.get(t.grad_fn)
            node_grads[t.grad_fn] = g if prev is None else prev + g
        else:
            to_leaf(t, g)

    was_enabled = grad_mode.is_grad_enabled()
    grad_mode._set(False)
    anomaly, check_nan = ANOMALY  # read once per pass: anomaly mode off costs one test per node
    try:
        order = _topological_order([t.grad_fn for t in tensors])
        if hooked:
            ready = _hooks.last_contributors(order, _grad_fn_of)
            done: set = set()  # hooked leaves whose hooks ran (autograd.grad keeps their entries)
            needed = _hooks.needed_nodes(order, capture_ids, _grad_fn_of) if capture_ids is not None else None
        for node in order:
            g = node_grads.pop(node, None)
            if g is None:
                continue
            if hooked:
                table = _hooks.node_hooks(node)
                if table is not None and (needed is None or node in needed):
                    g = _hooks.run_tensor_hooks(table, g, Tensor._wrap)
            if node.out_ref is not None:
                out = node.out_ref()
                if out is not None and (out._retains_grad if capture_ids is None else id(out) in capture_ids):
                    to_leaf(out, g)  # a captured or retained intermediate collects like a leaf
            fn = node.backward_fn
            if fn is None:
                raise _second_pass_error(node.name)
            _check_versions(node)
            if DIRTY:  # empty unless some output was written in place: one truth test per node
                _check_output(node)
            if _registry.ACTIVATES:  # several CUDA devices: the step runs on its gradient's device
                backend_of(g)
            if anomaly:
                in_grads = _run_anomalous(node, fn, g, check_nan)
            else:
                in_grads = fn(g)
            if not retain_graph:
                node.backward_fn = None
            for t, ig, v in zip(node.inputs, in_grads, node.versions):
                if t is None or ig is None:
                    continue
                data = t._data
                if ig.shape != data.shape:
                    raise RuntimeError(f"internal error: {node.name} returned a gradient of shape {ig.shape} "
                                       f"for an input of shape {data.shape}")
                if type(ig) is not type(data) and ig.ndim == 0:
                    ig = _onto_input_device(ig, data)
                if ig.dtype != data.dtype:
                    ig = astype_any(ig, data.dtype)  # NumPy casts to bfloat16's bits as zeros: never astype there
                # The input's grad_fn when this node saw it (an in-place op may have rebased it since).
                child = t.grad_fn if not HISTORY else grad_fn_at(t, v)
                if child is not None:
                    prev = node_grads.get(child)
                    node_grads[child] = ig if prev is None else prev + ig
                else:
                    to_leaf(t, ig)
            if hooked and node in ready:
                in_grads = ig = g = None  # as below: the arrays must not look shared to exclusively_owned
                for t in ready.pop(node):
                    _finish_hooked_leaf(t, leaf_grads, capture_ids, accumulate, done)
        in_grads = ig = g = None  # the last node's arrays must not look shared to exclusively_owned
        if hooked:  # hooked leaves no node fed last (roots, or a last feeder that got no gradient)
            for t in [e[0] for e in leaf_grads.values() if _hooks.leaf_hooks(e[0]) is not None]:
                _finish_hooked_leaf(t, leaf_grads, capture_ids, accumulate, done)
    finally:
        grad_mode._set(was_enabled)

    if capture_ids is not None:
        if accumulate:
            for t, g in leaf_grads.values():
                t.grad = Tensor._wrap(g.copy() if t.grad is None else t.grad._data + g)
            return {}
        return {key: g for key, (t, g) in leaf_grads.items()}
    # A new .grad must own its memory: backward closures may hand one array to several inputs (add
    # does), and an in-place update of one parameter's grad must never show up in another's. An array
    # that nothing else references (the engine's entry, the loop variable and getrefcount's argument)
    # is adopted as it is (where the backend can tell: backend/cpu/memory.py); anything else is copied.
    for t, g in leaf_grads.values():
        if t.grad is not None:
            t.grad = Tensor._wrap(t.grad._data + g)
        elif backend_of(g).exclusively_owned(g):
            t.grad = Tensor._wrap(g)
        else:
            t.grad = Tensor._wrap(g.copy())
    return {}


def _grad_fn_of(t, v):
    return t.grad_fn if not HISTORY else grad_fn_at(t, v)


def _finish_hooked_leaf(t, leaf_grads, capture_ids, accumulate, done):
    """A hooked leaf's gradient is complete: its tensor hooks, then (unless ``autograd.grad`` only captures
    it) its ``.grad`` by the same adopt-or-copy rule as the end of ``_run``, then its post-accumulate hooks."""
    key = id(t)
    entry = leaf_grads.get(key)
    if entry is None or key in done:
        return  # not captured (autograd.grad does not reach this leaf), or finished already
    done.add(key)
    hooks = _hooks.leaf_hooks(t)
    if hooks.pre:
        entry[1] = _hooks.run_tensor_hooks(hooks.pre, entry[1], Tensor._wrap)
    if capture_ids is not None and not accumulate:
        return  # autograd.grad: the hooked gradient is returned; nothing accumulates, no post hook runs
    g = entry[1]  # references: the entry, this name, and the calls' own (the end of _run's count)
    if t.grad is not None:
        t.grad = Tensor._wrap(t.grad._data + g)
    elif capture_ids is None and backend_of(g).exclusively_owned(g):
        t.grad = Tensor._wrap(g)
    else:
        t.grad = Tensor._wrap(g.copy())
    del leaf_grads[key]
    g = entry = None
    if hooks.post:
        _hooks.run_post_hooks(hooks.post, t)
