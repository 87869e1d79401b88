"""torch's argument-type errors for top-level functions that take Tensors only where the method form's
``self`` is always one: ``torch.eq(2, t)`` and ``torch.maximum(t, 2)`` raise TypeError (torch has no Scalar
overload there), while the op functions underneath stay free to take numbers for fastnn's own callers."""
from __future__ import annotations

import functools

from ._tensor import Tensor


def _type_names(args) -> str:
    return ", ".join("Tensor" if isinstance(a, Tensor) else type(a).__name__ for a in args)


def tensor_args(fn, name: str, other: str | None = None, either: bool = False):
    """``fn`` refusing a non-Tensor ``input`` (with torch's "invalid combination" text), and, when ``other``
    names the second parameter, a non-Tensor there too (torch's "argument ... must be Tensor" text).
    ``either``: only refuse when neither of the first two arguments is a Tensor (the bit shifts)."""

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        first = args[0] if args else kwargs.get("input")
        second = args[1] if len(args) > 1 else kwargs.get(other or "other")
        if either:
            if not isinstance(first, Tensor) and not isinstance(second, Tensor):
                raise TypeError(f"{name}() received an invalid combination of arguments - got "
                                f"({_type_names(args)}), but expected one of:\n * (Tensor input, Tensor other)\n"
                                " * (Tensor input, Number other)\n * (Number input, Tensor other)")
        elif other is not None:
            if not isinstance(first, Tensor):
                raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(first).__name__}")
            if (len(args) > 1 or other in kwargs) and not isinstance(second, Tensor):
                raise TypeError(f"{name}(): argument '{other}' (position 2) must be Tensor, not "
                                f"{type(second).__name__}")
        elif not isinstance(first, Tensor):
            raise TypeError(f"{name}() received an invalid combination of arguments - got ({_type_names(args)}), "
                            "but expected one of:\n * (Tensor input, ...): the input must be a Tensor")
        return fn(*args, **kwargs)

    return checked
