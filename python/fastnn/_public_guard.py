"""torch's TypeError for a public op given a non-Tensor where its Tensor goes, in ONE place.

The op functions read ``x._data`` / ``x.ndim`` straight away (checking types in every op would cost every call),
so a NumPy array or a list handed to ``fastnn.relu`` used to surface as ``AttributeError: 'numpy.ndarray' object
has no attribute '_data'`` — a message naming no op. ``guard_namespace`` wraps the op functions a public
namespace exports (``fastnn``, ``fastnn.nn.functional``) so that:

- a NumPy array, list or tuple as the Tensor-typed first argument is refused up front (torch refuses it too;
  letting NumPy compute on it would return a value where torch raises), and
- an AttributeError raised while the op reads its arguments becomes, when some argument is not a Tensor, torch's
  ``relu(): argument 'input' (position 1) must be Tensor, not numpy.ndarray``.

The op functions themselves stay unwrapped, so fastnn's own callers (which pass numbers and arrays on purpose)
pay nothing and see no change.
"""
from __future__ import annotations

import functools
import inspect
import numbers
import types

from ._tensor import Tensor


def _foreign(x) -> bool:
    """A container torch refuses where a Tensor goes (it has no implicit tensor()): a list, a tuple, or an
    array of another library (anything with ``__array__`` that is not a Tensor)."""
    return not isinstance(x, Tensor) and (isinstance(x, (list, tuple)) or hasattr(x, "__array__"))


def _torch_type_name(value) -> str:
    """The type's name as torch prints it: ``int``, ``list``, ``numpy.ndarray``."""
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__qualname__}"


def _first_tensor_param(fn):
    """(name of the first parameter when it takes a Tensor, all positional parameter names), from the
    signature: a first parameter named ``input`` or annotated ``Tensor``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None, ()
    positional = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        return None, positional
    first = params[0]
    takes_tensor = first.name in ("input", "a", "x", "self", "tensor") or first.annotation in ("Tensor", Tensor)
    return (first.name if takes_tensor else None), positional


def _offender(args, kwargs, positional, exc: AttributeError):
    """(parameter name, 1-based position or None, value) of the argument the AttributeError came from: the
    argument that is the object missing the attribute, else the first argument that is an array or a list."""
    named = list(zip(positional, args)) + [(k, v) for k, v in kwargs.items()]
    missing = getattr(exc, "obj", None)
    for i, (name, value) in enumerate(named):
        if value is missing and not isinstance(value, Tensor):
            return name, (i + 1 if i < len(args) else None), value
    for i, (name, value) in enumerate(named):
        if not isinstance(value, Tensor) and (_foreign(value) or isinstance(value, numbers.Number)) and \
                (i == 0 or hasattr(value, "__array__")):
            return name, (i + 1 if i < len(args) else None), value
    return None


def _must_be_tensor(op: str, name: str, position, value) -> TypeError:
    if position == 1:
        name = "input"  # torch's name for the first Tensor (fastnn's ops call it ``a``)
    where = f" (position {position})" if position else ""
    return TypeError(f"{op}(): argument '{name}'{where} must be Tensor, not {_torch_type_name(value)}")


def guard(fn, op: str):
    first, positional = _first_tensor_param(fn)

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        if first is not None:
            x = args[0] if args else kwargs.get(first)
            if type(x) is not Tensor and _foreign(x):  # a Tensor costs one type() test
                raise _must_be_tensor(op, first, 1 if args else None, x)
        try:
            return fn(*args, **kwargs)
        except AttributeError as exc:
            found = _offender(args, kwargs, positional, exc)
            if found is None:
                raise
            raise _must_be_tensor(op, *found) from exc

    guarded.__fastnn_guarded__ = True
    return guarded


# One wrapper per op function across every namespace, so that an alias in another namespace stays the same object
# (``fastnn.special.expit is fastnn.sigmoid``, as in torch).
_GUARDED: dict[int, object] = {}


def guard_namespace(namespace: dict, modules: tuple[str, ...]) -> None:
    """Replaces each public function in ``namespace`` (a module's globals) defined in one of ``modules``
    (prefixes such as "fastnn.ops") by its guarded twin; aliases (``clip`` is ``clamp``), in this namespace or
    another, share one wrapper."""
    done = _GUARDED
    for name, fn in list(namespace.items()):
        if name.startswith("_") or not isinstance(fn, types.FunctionType) or getattr(fn, "__fastnn_guarded__", 0):
            continue
        if not fn.__module__.startswith(modules):
            continue
        if id(fn) not in done:
            done[id(fn)] = guard(fn, fn.__name__)
        namespace[name] = done[id(fn)]
