"""PyTorch's *_copy functions: each is its view op followed by a copy, so the result never aliases the
input (torch.expand_copy(x, s) == x.expand(s).clone())."""
from __future__ import annotations

from .. import _memory_format as _mf
from . import shape as _shape
from . import reshaping as _reshaping
from . import triangular as _triangular


def _copying(view_fn, name: str):
    def op(*args, **kwargs):
        out = view_fn(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(_shape.clone(o, memory_format=_mf.contiguous_format) for o in out)
        return _shape.clone(out, memory_format=_mf.contiguous_format)  # torch's *_copy results are C order

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{view_fn.__name__}`` followed by a copy (torch.{name})."
    return op


def _alias(t):
    return t


alias_copy = _copying(_alias, "alias_copy")
diagonal_copy = _copying(_triangular.diagonal, "diagonal_copy")
expand_copy = _copying(_shape.expand, "expand_copy")
permute_copy = _copying(_shape.permute, "permute_copy")
squeeze_copy = _copying(_shape.squeeze, "squeeze_copy")
t_copy = _copying(_shape.t, "t_copy")
transpose_copy = _copying(_shape.transpose, "transpose_copy")
unbind_copy = _copying(_shape.unbind, "unbind_copy")
unfold_copy = _copying(_reshaping.unfold, "unfold_copy")
unsqueeze_copy = _copying(_shape.unsqueeze, "unsqueeze_copy")
# A functional op has no strides to respect: view_copy of a non-contiguous tensor works, as in PyTorch.
view_copy = _copying(_shape.reshape, "view_copy")
