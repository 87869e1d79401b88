"""``torch.zero_(t)`` and ``torch.fill_(t, value)``: the function forms of the in-place fills (the writes
and their autograd go through ``Tensor.zero_`` / ``Tensor.fill_``, autograd/inplace.py)."""
from __future__ import annotations

from .._tensor import Tensor


def _tensor_arg(input, op: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input


def zero_(input) -> Tensor:
    """Fills ``input`` with zeros in place and returns it."""
    return _tensor_arg(input, "zero_").zero_()


def fill_(input, value) -> Tensor:
    """Fills ``input`` with ``value`` (a number or a 0-d tensor) in place and returns it."""
    return _tensor_arg(input, "fill_").fill_(value)
