"""parameters_to_vector / vector_to_parameters, as torch.nn.utils."""
from __future__ import annotations

from ...ops.shape import cat, reshape
from ..._tensor import Tensor


def _check_same_device(param: Tensor, old_device):
    if old_device is not None and param.device != old_device:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return param.device


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable, like torch's
    cat of views)."""
    device, parts = None, []
    for param in parameters:
        device = _check_same_device(param, device)
        parts.append(reshape(param, -1))
    if not parts:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    return cat(parts)


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copies slices of the 1-D ``vec`` into the parameters' data, in order. As torch, each parameter's
    data becomes a view of ``vec`` (no copy; later in-place changes to one show in the other)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device, pointer = None, 0
    data = vec._data.reshape(-1)
    for param in parameters:
        device = _check_same_device(param, device)
        n = param.numel()
        if pointer + n > data.size:
            raise RuntimeError(f"vector_to_parameters(): vec has {data.size} elements, fewer than the parameters "
                               f"need ({pointer + n} and counting)")
        param.data = Tensor._wrap(data[pointer:pointer + n].reshape(param.shape))
        pointer += n
