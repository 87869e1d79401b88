"""Helpers every op shares: operand conversion, dtype promotion, dim checks, un-broadcasting."""
from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes
from ..backend import backend_of, backend_with_cpu_scalars
from ..backend import registry as _registry
from ..backend.bf16 import STORAGE as _BF16
from ..backend.bf16 import astype_any, bits_from_float, float_from_bits
from .._tensor import Tensor

_CATEGORY = {d: (0 if d is dtypes.bool_ else 2 if d.is_floating_point else 1) for d in dtypes.ALL}


def as_tensor(x, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple, numbers.Number, np.generic)) or _is_array(x):
        from ..creation import tensor

        return tensor(x)
    raise TypeError(f"{op}(): expected a Tensor or a number, got {type(x).__name__}")


def _is_array(x) -> bool:
    """Whether some backend holds ``x`` (backend_of refuses a type no backend knows with a TypeError)."""
    if x is None:  # backend_of skips None, which is no operand here
        return False
    try:
        backend_of(x)
    except TypeError:
        return False
    return True


def _scalar_category(x) -> int:
    if isinstance(x, (bool, np.bool_)):
        return 0
    if isinstance(x, (numbers.Integral, np.integer)):
        return 1
    if isinstance(x, (numbers.Real, np.floating)):
        return 2
    raise TypeError(f"unsupported scalar {x!r} of type {type(x).__name__}")


def is_scalar(x) -> bool:
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, Tensor)


def promote_types(da: dtypes.dtype, db: dtypes.dtype) -> dtypes.dtype:
    """The dtype two tensors of equal standing promote to (torch.promote_types): bool < integers < floats;
    within a category the wider, and uint8 with int8 gives int16 (the smallest holding both ranges)."""
    if da is db:
        return da
    ca, cb = _CATEGORY[da], _CATEGORY[db]
    if ca != cb:
        return da if ca > cb else db
    if ca == 1 and da.is_signed != db.is_signed:  # uint8 beside a signed integer
        signed = da if da.is_signed else db
        return signed if signed.itemsize > 1 else dtypes.int16
    if da.itemsize == db.itemsize == 2 and ca == 2:  # bfloat16 with float16: neither holds the other, float32 both
        return dtypes.float32
    return da if da.itemsize >= db.itemsize else db


def result_dtype(a, b) -> dtypes.dtype:
    """PyTorch's promotion: bool < int64 < float; two floats give the wider; a Python scalar only lifts
    the category (an int tensor times 0.5 is float32, a float32 tensor times 2.0 stays float32).

    A 0-d tensor beside a tensor with dims counts like a scalar of its dtype, as in PyTorch: it changes
    the result only when its category is higher (float32[3] * float64[] stays float32, int64[3] *
    float64[] is float64)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if (a.ndim == 0) != (b.ndim == 0):
            dimmed, zero_d = (b, a) if a.ndim == 0 else (a, b)
            if _CATEGORY[zero_d.dtype] <= _CATEGORY[dimmed.dtype]:
                return dimmed.dtype
        return promote_types(a.dtype, b.dtype)
    t, s = (a, b) if isinstance(a, Tensor) else (b, a)
    cs = _scalar_category(s)
    if cs > _CATEGORY[t.dtype]:
        return dtypes.int64 if cs == 1 else dtypes.default_float
    return t.dtype


def on_device(*tensors) -> None:
    """With several CUDA devices in use (``registry.ACTIVATES``), makes the first CUDA tensor's device the
    current one, for ops whose fast path never asks backend_of (CuPy allocates and launches on its current
    device). Callers test ``_registry.ACTIVATES`` first, so the CPU pays one attribute read."""
    for t in tensors:
        if isinstance(t, Tensor):
            be = backend_of(t._data)
            if be.device.type == "cuda":
                return


def binary_operands(a, b, op: str):
    """(ta, tb, xa, xb): the operands as Tensors (None for a Python scalar) and as arrays/scalars of the
    promoted dtype."""
    if _registry.ACTIVATES:
        on_device(a, b)
    # Fast paths for the common cases (two tensors of one dtype; a float tensor and a Python float): they
    # skip promotion, which costs as much as a small op itself.
    if isinstance(a, Tensor):
        xa = a._data
        if isinstance(b, Tensor):
            xb = b._data
            if type(xa) is not type(xb):
                # arrays of two devices: PyTorch's RuntimeError (same type: one device), unless one is a CPU
                # 0-d array, a scalar beside the other device's array, which then gets it as its own
                xa, xb = backend_with_cpu_scalars(xa, xb).bring_scalars(xa, xb)
            if xa.dtype == xb.dtype:
                if xa.shape != xb.shape:
                    _check_broadcast(xa.shape, xb.shape)
                return a, b, xa, xb
        elif (type(b) is float or type(b) is int) and xa.dtype.kind == "f":  # (bfloat16 rounds b: below)
            return a, None, xa, xa.dtype.type(b)
    if not isinstance(a, Tensor) and not is_scalar(a):
        a = as_tensor(a, op)
    if not isinstance(b, Tensor) and not is_scalar(b):
        b = as_tensor(b, op)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): expected at least one Tensor operand")
    be = None
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if type(a._data) is not type(b._data):
            be = backend_with_cpu_scalars(a._data, b._data)  # two devices raise, unless one is a CPU scalar
        if a.shape != b.shape:
            _check_broadcast(a.shape, b.shape)
    dt = result_dtype(a, b).np
    xa = _cast(a, dt, op)
    xb = _cast(b, dt, op)
    if be is not None:
        xa, xb = be.bring_scalars(xa, xb)
    return (a if isinstance(a, Tensor) else None, b if isinstance(b, Tensor) else None, xa, xb)


def _check_broadcast(sa, sb) -> None:
    """PyTorch's RuntimeError for shapes that do not broadcast (NumPy would raise a ValueError mid-op)."""
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            dim = max(len(sa), len(sb)) - i
            raise RuntimeError(f"The size of tensor a ({sa[-i]}) must match the size of tensor b ({sb[-i]}) at "
                               f"non-singleton dimension {dim}")


_BF16_SCALAR_KEPT = {"mul", "div", "true_divide", "multiply"}


def _cast(x, dt, op: str = ""):
    if isinstance(x, Tensor):
        arr = x._data
        return arr if arr.dtype == dt else astype_any(arr, dt)
    if dt == _BF16:  # a number beside bfloat16 stays a float (weak in NumPy's promotion)
        # torch's CPU kernels round it to bfloat16 first for add/sub, and keep it in float32 for mul/div (their
        # reduced-float scalar paths take the original value): the results match torch's bit for bit
        return float(x) if op in _BF16_SCALAR_KEPT else float(float_from_bits(bits_from_float(float(x))))
    return dt.type(x)


def float_data(t: Tensor):
    """t's array, as float32 when t holds integers or bools (PyTorch promotes so for exp, log ...)."""
    arr = t._data
    return arr if arr.dtype.kind in "fV" or arr.dtype == _BF16 else arr.astype(dtypes.default_float.np)


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    if type(dim) is int and -ndim <= dim < ndim:  # the common case, one type test (ndim 0 never gets here)
        return dim % ndim
    bound = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        if not (isinstance(dim, Tensor) and dim._data.dtype.kind in "iu" and dim._data.size == 1):
            raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
        dim = dim.__index__()  # an integer tensor of one element is an int argument, as in PyTorch (any device)
    if not -bound <= dim < bound:
        raise IndexError(f"{op}(): Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], "
                         f"but got {dim})")
    return int(dim) % bound if ndim else 0


def normalize_dims(dim, ndim: int, op: str):
    """``dim`` (None, an int or a sequence) as a sorted tuple of non-negative axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))
        if len(axes) != len(dim):
            raise RuntimeError(f"{op}(): dim {tuple(dim)} appears multiple times in the list of dims")
        return axes if ndim else ()
    ax = normalize_dim(dim, ndim, op)  # checked on a 0-d tensor too: its dims are [-1, 0], as in PyTorch
    return (ax,) if ndim else ()


def reduction_dims(dim, ndim: int, op: str):
    """Like ``normalize_dims``, but an empty ``dim`` reduces over every dim, as PyTorch's sum/mean/var/std do."""
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    return normalize_dims(dim, ndim, op)


def unbroadcast(grad, shape):
    """Sums ``grad`` over the axes that broadcasting expanded, so that it has ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def expand_reduced(grad, shape, axes, keepdim: bool, be=None):
    """Broadcasts the gradient of a reduction over ``axes`` back to the input's ``shape``. ``be``, the
    op's backend, saves a look-up where the op has one; otherwise the gradient's own is asked."""
    if not keepdim and axes:
        grad = grad.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))
    xp = (be if be is not None else backend_of(grad)).xp
    if grad.size == 1:
        # full is several times cheaper than broadcast_to's view machinery for the scalar case.
        return xp.full(shape, grad.reshape(()), grad.dtype)
    return xp.broadcast_to(grad, shape)


_SIZE_NAME = {"reshape": "shape", "view": "shape"}
_SIZE_REQUIRED = {"zeros", "ones", "empty", "rand", "randn", "reshape", "view", "expand"}  # f(): torch's TypeError


def shape_arg(args, op: str):
    """Accepts f(2, 3), f((2, 3)) and f([2, 3]) as PyTorch does; f() is torch's TypeError (f(()) is the 0-d
    shape)."""
    if not args and op in _SIZE_REQUIRED:
        raise TypeError(f'{op}() missing 1 required positional arguments: "{_SIZE_NAME.get(op, "size")}"')
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for s in args:
        if type(s) is int:  # the common case (a bool is not, and fails below)
            out.append(s)
            continue
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}(): size must be a sequence of ints, got {args!r}")
        out.append(int(s))
    return tuple(out)
