"""Reverse-mode execution: topological order without recursion, gradient accumulation, retain_graph."""
from __future__ import annotations

from .grad_mode import no_grad


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
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                child = t.grad_fn if t is not None else None
                if child is not None and id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _accumulate(store, key, grad):
    prev = store.get(key)
    store[key] = grad if prev is None else prev + grad


def run_backward(tensors, grad_arrays, retain_graph, capture=None):
    """Backpropagates ``grad_arrays`` from ``tensors``.

    Without ``capture``, leaf gradients accumulate into ``.grad`` (and into tensors that asked
    ``retain_grad``). With ``capture`` (a list of tensors), their gradients are returned instead, as
    ``autograd.grad`` does, and no ``.grad`` is touched.
    """
    from ..tensor import Tensor

    node_grads: dict = {}
    leaf_grads: dict = {}
    capture_ids = {id(t): t for t in capture} if capture is not None else None
    captured: dict = {}
    leaves: dict = {}

    for t, g in zip(tensors, grad_arrays):
        if t.grad_fn is not None:
            _accumulate(node_grads, t.grad_fn, g)
        elif capture_ids is not None:
            if id(t) in capture_ids:
                _accumulate(captured, id(t), g)
        else:
            _accumulate(leaf_grads, id(t), g)
            leaves[id(t)] = t

    with no_grad():
        for node in _topological_order([t.grad_fn for t in tensors]):
            g = node_grads.pop(node, None)
            if g is None:
                continue
            out = node.out_ref() if node.out_ref is not None else None
            if out is not None:
                if capture_ids is not None and id(out) in capture_ids:
                    _accumulate(captured, id(out), g)
                elif capture_ids is None and out._retains_grad:
                    out.grad = Tensor._wrap(g.copy() if out.grad is None else out.grad._data + g)
            if node.backward_fn is None:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time (or directly access saved tensors after "
                    f"they have already been freed) at {node.name}. Saved intermediate values of the graph are freed "
                    f"when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                    f"backward through the graph a second time.")
            for t, v in node.saved:
                if t._version != v:
                    raise RuntimeError(
                        f"one of the variables needed for gradient computation has been modified by an inplace "
                        f"operation: an input of {node.name} with shape {tuple(t.shape)} is at version {t._version}; "
                        f"expected version {v} instead.")
            in_grads = node.backward_fn(g)
            if not retain_graph:
                node.backward_fn = None
            for t, ig in zip(node.inputs, in_grads):
                if t is None or ig is None:
                    continue
                if ig.shape != t._data.shape:
                    raise RuntimeError(f"internal error: {node.name} returned a gradient of shape {ig.shape} "
                                       f"for an input of shape {t._data.shape}")
                if ig.dtype != t._data.dtype:
                    ig = ig.astype(t._data.dtype)
                if t.grad_fn is not None:
                    _accumulate(node_grads, t.grad_fn, ig)
                elif capture_ids is not None:
                    if id(t) in capture_ids:
                        _accumulate(captured, id(t), ig)
                else:
                    _accumulate(leaf_grads, id(t), ig)
                    leaves[id(t)] = t

        # Backward closures may hand one array to several inputs (add does), so a fresh .grad is a copy:
        # an in-place update of one parameter's grad must never show up in another's.
        for key, g in leaf_grads.items():
            t = leaves[key]
            t.grad = Tensor._wrap(g.copy() if t.grad is None else t.grad._data + g)
    return captured
