"""``backward`` and ``grad``: the entry points into the engine."""
from __future__ import annotations

from .._tensor import Tensor
from ..backend import backend_of
from ..backend.bf16 import astype_any
from .engine import run_backward


def _as_tuple(x):
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _grad_arrays(outputs, grad_outputs, api: str):
    arrays = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{api}: outputs must be Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = grad_outputs[i] if grad_outputs is not None else None
        be = backend_of(out._data)
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            arrays.append(be.xp.ones(out.shape, out._data.dtype))
            continue
        ga = g._data if isinstance(g, Tensor) else be.asarray(g)
        if ga.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(ga.shape)} and output[{i}] "
                               f"has a shape of {tuple(out.shape)}.")
        arrays.append(ga if ga.dtype == out._data.dtype else astype_any(ga, out._data.dtype, copy=False))
    return arrays


def _reject_create_graph(create_graph: bool, api: str) -> None:
    if create_graph:
        # Backward closures work on raw arrays, so they cannot themselves be differentiated yet.
        raise NotImplementedError(f"{api}: create_graph=True (higher-order gradients) is not supported by fastnn yet")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Accumulates d(tensors)/d(leaf) into each leaf's ``.grad`` (``inputs`` restricts which leaves)."""
    _reject_create_graph(create_graph, "backward")
    outs = _as_tuple(tensors)
    gts = _as_tuple(grad_tensors) if grad_tensors is not None else None
    arrays = _grad_arrays(outs, gts, "backward")
    if inputs is not None:
        ins = _as_tuple(inputs)
        run_backward(outs, arrays, bool(retain_graph), capture=ins, accumulate=True)
        return
    run_backward(outs, arrays, bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False):
    """Returns d(outputs)/d(inputs) as a tuple, without touching any ``.grad``."""
    _reject_create_graph(create_graph, "grad")
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    for t in ins:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    gos = _as_tuple(grad_outputs) if grad_outputs is not None else None
    arrays = _grad_arrays(outs, gos, "grad")
    captured = run_backward(outs, arrays, bool(retain_graph), capture=ins)
    result = []
    for t in ins:
        g = captured.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        result.append(None if g is None else Tensor._wrap(g.copy()))
    return tuple(result)
