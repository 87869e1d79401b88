"""The leaves a backward from some tensors would reach: DDP's unused-parameter detection walks this after
forward (torch's Reducer::prepare_for_backward searches the graph the same way)."""
from __future__ import annotations

from .engine import _grad_fn_of, _topological_order


def reachable_leaf_ids(tensors) -> set:
    """ids of the leaf tensors that requires-grad paths from ``tensors`` lead to (``tensors`` included)."""
    found = {id(t) for t in tensors if t.grad_fn is None and t._requires_grad}
    for node in _topological_order([t.grad_fn for t in tensors if t.grad_fn is not None]):
        for t, v in zip(node.inputs, node.versions):
            if t is not None and _grad_fn_of(t, v) is None:
                found.add(id(t))
    return found
