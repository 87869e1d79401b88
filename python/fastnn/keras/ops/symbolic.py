"""Makes keras.ops functions accept symbolic tensors (KerasTensors of the functional API): a call with one
among its arguments records an OpLayer node instead of computing (``layers/op_layer.py``). Eager calls pay
one scan of their arguments."""
from __future__ import annotations

import functools

# queries of a symbolic tensor's static facts, and control flow over Python callables: never recorded
_NOT_RECORDED = {"shape", "ndim", "dtype", "is_tensor", "convert_to_numpy", "cond", "switch", "fori_loop",
                 "while_loop", "map", "scan", "vectorized_map", "associative_scan", "custom_gradient"}

_KT = None


def _keras_tensor_class():
    global _KT
    if _KT is None:
        from ..layers.base import KerasTensor

        _KT = KerasTensor
    return _KT


def has_symbolic(values) -> bool:
    kt = _keras_tensor_class()
    for v in values:
        if isinstance(v, kt):
            return True
        if isinstance(v, (list, tuple)) and any(isinstance(u, kt) for u in v):
            return True
    return False


def symbolic_aware(fn, name: str):
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if has_symbolic(args) or (kwargs and has_symbolic(kwargs.values())):
            from ..layers.op_layer import symbolic_call

            return symbolic_call(name, args, kwargs)
        return fn(*args, **kwargs)

    return op


def wrap_namespace(namespace: dict, prefix: str = "", shared: dict | None = None) -> None:
    """Replaces each public keras.ops function defined in fastnn.keras.ops in ``namespace``; a name that is
    already wrapped in ``shared`` (keras.ops.nn's functions at keras.ops' top level) takes that wrapper, so
    both names stay one object."""
    originals = {id(getattr(v, "__wrapped__", None)): v for v in (shared or {}).values() if callable(v)}
    for key, value in list(namespace.items()):
        if id(value) in originals:
            namespace[key] = originals[id(value)]
            continue
        if key.startswith("_") or key in _NOT_RECORDED or not callable(value) or isinstance(value, type):
            continue
        if not getattr(value, "__module__", "").startswith("fastnn.keras.ops") or hasattr(value, "__wrapped__"):
            continue
        namespace[key] = symbolic_aware(value, prefix + key)
