"""Tensor's methods by family, one file each (math, sorting, shape and indexing, linalg, the API surface):
``attach`` copies every function and property of their classes onto ``Tensor``, refusing to overwrite one
``_tensor.py`` declares itself, so the class keeps one flat ``__dict__`` (method lookup as fast as ever)."""
from __future__ import annotations

_SKIP = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__"}


def attach(tensor_cls) -> None:
    from .api import ApiMethods
    from .device import DeviceMethods
    from .hooks import HookMethods
    from .linalg import LinalgMethods
    from .math import MathMethods
    from .shape_indexing import ShapeIndexingMethods
    from .sorting import SortingMethods

    for family in (MathMethods, SortingMethods, ShapeIndexingMethods, LinalgMethods, ApiMethods, DeviceMethods,
                   HookMethods):
        for name, value in vars(family).items():
            if name in _SKIP:
                continue
            if name in vars(tensor_cls):
                raise RuntimeError(f"Tensor.{name} is declared twice ({family.__name__} and _tensor.py)")
            setattr(tensor_cls, name, value)
