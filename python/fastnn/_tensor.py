"""Tensor: an array (NumPy on CPU) plus autograd state, with PyTorch's attributes, methods and operators.

The core (storage, autograd state, device moves, in-place ops, operators, the common math, reductions,
shape ops and casts) is declared here; the rest of torch's Tensor methods are declared by family in
``tensor_methods/`` and copied onto the class at the end of this module. Every method has PyTorch's
signature and delegates to its op in ``fastnn.ops``, where each op's forward sits beside its backward; the
hottest few are the op functions themselves, bound right after the imports at the end (see there). The
ops import ``Tensor`` at their top, so this module imports them at its end, once the class exists.
"""
from __future__ import annotations

import numpy as np

from . import _location
from . import _memory_format as _mf
from . import dtypes
from ._device import device as _device
from .backend import backend_of, get_backend
from .backend import bf16 as _bf16
from .backend.registry import _BY_TYPE as _ARRAY_TYPES
from .backend.registry import allocating

_new = object.__new__


def _allocating(device, dtype):
    be = get_backend(device)
    return be if dtype is None else allocating(be, dtypes.to_dtype(dtype).np)


_BF16_STORAGE = dtypes.bfloat16.np
_bf16_values = _bf16.float_from_bits
_Bf16Pending = _bf16.Bf16Pending
_HOST = get_backend("cpu")
_host_asarray = _HOST.xp.asarray  # the host backend's array module's asarray: a C call, no Python frame


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``fastnn.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"fastnn.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    # _ver: the version counter (bumped by every write into the storage); a view's own is unused: _base,
    # the root tensor whose storage a view looks into (None for a non-view), holds the shared one.
    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_retains_grad", "_ver", "_base", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: ndarray + Tensor -> Tensor
    __hash__ = object.__hash__  # stated: __eq__ below is elementwise and would otherwise unset hashing

    def __init__(self, *args, dtype=None, device=None, requires_grad: bool = False):
        """``Tensor()`` (empty), ``Tensor(*sizes)`` / ``Tensor(Size)`` (zeros: torch leaves them uninitialised)
        or ``Tensor(data)`` (copied, of the default float dtype unless ``data`` is a tensor, as in torch)."""
        if len(args) == 1 and args[0] is None:  # Tensor(None): the old spelling of Tensor()
            args = ()
        if not args:
            arr = _allocating(device, dtype).zeros((0,), (dtype and dtypes.to_dtype(dtype) or dtypes.default_float).np)
        elif (all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args)
              or (len(args) == 1 and isinstance(args[0], Size))):
            shape = tuple(args[0]) if isinstance(args[0], Size) else tuple(int(a) for a in args)
            arr = _allocating(device, dtype).zeros(shape, (dtype and dtypes.to_dtype(dtype) or dtypes.default_float).np)
        elif len(args) == 1:
            data = args[0]
            if dtype is None and not isinstance(data, Tensor):
                dtype = dtypes.default_float
            arr = _creation._to_array(data, dtype)
            if device is not None:
                arr = _creation._place(arr, get_backend(device), False)
            elif arr is data:  # a NumPy array of the right dtype: copied, never aliased
                arr = arr.copy()
        else:
            raise TypeError(f"Tensor(): expected sizes (ints) or one data argument, got {args!r}")
        self._set(arr, requires_grad)

    def _set(self, arr, requires_grad: bool) -> None:
        self._data = arr
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False
        self._ver = 0
        self._base = None
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, arr, requires_grad: bool = False) -> "Tensor":
        """Wraps an op's result array without copying or checking (a scalar result becomes a 0-d array)."""
        t = _new(cls)
        if type(arr) not in _ARRAY_TYPES:
            # NumPy reductions return scalars (np.float32), not 0-d arrays; device backends return 0-d
            # arrays, so a scalar is host data. Looking the type up in the registry's table is cheaper than
            # the `type(arr) is np.ndarray` test it replaces, and a new backend's arrays pass untouched.
            # A bfloat16 op's float32 result is rounded here, once (backend/bf16/array.py).
            arr = _bf16.settle(arr) if type(arr) is _Bf16Pending else _host_asarray(arr)
        t._data = arr
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._retains_grad = False
        t._ver = 0
        t._base = None
        return t

    # ---- attributes -----------------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, outside the graph (as ``torch.Tensor.data``)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        # Swaps the storage instead of writing into it, so no version bump (as in PyTorch): the arrays a
        # graph saved keep their values.
        arr = value._data if isinstance(value, Tensor) else backend_of(self._data).asarray(value)
        if arr.dtype != self._data.dtype:
            arr = arr.astype(self._data.dtype)
        self._data = arr

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if flag and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype}")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self._retains_grad = True
            watch_output(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[normalize_dim(dim, self.ndim, "size")]

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes._BY_NP[self._data.dtype]

    @property
    def device(self) -> _device:
        return backend_of(self._data).device

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_contiguous(self, *, memory_format=_mf.contiguous_format) -> bool:
        if memory_format is _mf.contiguous_format:
            return bool(self._data.flags.c_contiguous)
        fmt = _mf.resolve(memory_format, "is_contiguous")
        return _mf.is_contiguous(tuple(self._data.shape), _mf.strides_of(self._data), fmt)

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    # ---- conversion out and device moves ----------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array behind a CPU tensor (shared). ``force=True`` skips the grad check and copies a
        device tensor to the host, as in PyTorch."""
        be = backend_of(self._data)
        if force:
            return be.to_host(self._numpy_dtype_checked())
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        self._numpy_dtype_checked()
        if be.device.type != "cpu":
            raise TypeError(f"can't convert {be.device} device type tensor to numpy. Use Tensor.cpu() to copy "
                            "the tensor to host memory first.")
        return self._data

    def _numpy_dtype_checked(self):
        if self._data.dtype == _BF16_STORAGE:  # NumPy has no bfloat16: torch's TypeError
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if self._data.dtype == _BF16_STORAGE:
            raise TypeError("Got unsupported ScalarType BFloat16")
        arr = backend_of(self._data).to_host(self._data)
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __dlpack__(self, *args, **kwargs):
        if self._requires_grad:
            raise RuntimeError("Can't export a tensor that requires grad with DLPack; call .detach() first.")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def to(self, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False,
           memory_format=None) -> "Tensor":
        """``t.to(dtype)``, ``t.to(device)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``."""
        return _conversion.to(self, *args, dtype=dtype, device=device, copy=copy, non_blocking=non_blocking,
                              memory_format=memory_format)

    def cpu(self) -> "Tensor":
        return _conversion.to(self, "cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        dev = _device("cuda", device) if isinstance(device, int) else ("cuda" if device is None else device)
        return _conversion.to(self, device=dev, non_blocking=non_blocking)

    def detach(self) -> "Tensor":
        # Shares the storage and its version counter, as PyTorch's detach (so a saved tensor written through
        # the detached one is still caught); .data shares neither version nor graph.
        d = Tensor._wrap(self._data)
        _inplace_ops.share_version(d, self)
        return d

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self._requires_grad = False
        return self

    def __repr__(self) -> str:
        prefix = "tensor("
        # __array__ hands back host (NumPy) data on every device, so NumPy formats it.
        host = _bf16_values(self._data) if self._data.dtype == _BF16_STORAGE else self.__array__()  # values, not bits
        body = np.array2string(host, separator=", ", prefix=prefix, **_printing.array_kwargs(host))
        extras = []
        if self.dtype not in (dtypes.default_float, dtypes.int64, dtypes.bool_) or self._data.size == 0:
            if not (self._data.size == 0 and self.dtype is dtypes.default_float):
                extras.append(f"dtype={self.dtype!r}")
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return prefix + body + "".join(", " + e for e in extras) + ")"

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        out = type(self)._wrap(self._data.copy(), self._requires_grad)  # the array's own copy: same device
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        # Pickled as host bytes + dtype name + shape + requires_grad, rebuilt by one module-level function:
        # no NumPy globals, so fastnn.load's weights_only unpickler can allow exactly this rebuild.
        # The graph is not pickled (a non-leaf arrives as a leaf), as with torch.save.
        return (_rebuild_tensor, _host_state(self))

    # ---- autograd ---------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        _functional.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    # ---- in-place ops, with PyTorch's autograd semantics (autograd/inplace.py rebases the graph) ------------
    @property
    def _version(self) -> int:
        """The storage's version counter, shared with every view of it (bumped by each in-place write)."""
        b = self._base
        return (self if b is None else b)._ver

    @_version.setter
    def _version(self, value: int) -> None:
        b = self._base
        (self if b is None else b)._ver = value

    def _inplace(self, op: str, values) -> "Tensor":
        """Overwrites every element with ``values`` (an array or a number; no gradient flows into them)."""
        return _inplace_ops.overwrite(self, op, values)

    # ---- the one write path into storage: every write bumps the version counter ------------------------
    # Autograd saves each input's version when it records a node and refuses a backward whose inputs
    # changed since, so a write that skips the bump would let a stale gradient through silently.
    def _write(self, index, values) -> "Tensor":
        """Writes ``values`` into ``self._data[index]`` (no autograd checks: callers check) and bumps the
        version."""
        self._data[index] = values
        if self._base is None and self.grad_fn is None:  # a leaf's own storage: the optimisers' case
            self._ver += 1
        else:
            _inplace_ops.bump(self)
        return self

    def _written(self) -> "Tensor":
        """Bumps the version after a kernel updated ``self._data`` in place (the optimizers' fused steps)."""
        if self._base is None and self.grad_fn is None:
            self._ver += 1
        else:
            _inplace_ops.bump(self)
        return self

    def zero_(self) -> "Tensor":
        return _inplace_ops.fill(self, 0, "ZeroBackward0")

    def fill_(self, value) -> "Tensor":
        return _inplace_ops.fill(self, value, "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")

    def copy_(self, src, non_blocking: bool = False) -> "Tensor":
        return _inplace_ops.copy(self, src)

    def add_(self, other, alpha=1) -> "Tensor":
        return _inplace_ops.arith(self, other, "add", alpha)

    def sub_(self, other, alpha=1) -> "Tensor":
        return _inplace_ops.arith(self, other, "sub", alpha)

    def mul_(self, other) -> "Tensor":
        return _inplace_ops.arith(self, other, "mul")

    def div_(self, other) -> "Tensor":
        return _inplace_ops.arith(self, other, "div")

    # x += y updates x in place, as in PyTorch (optimiser code and ResNet's `out += identity` rely on it).
    def __iadd__(self, other) -> "Tensor":
        return self.add_(other)

    def __isub__(self, other) -> "Tensor":
        return self.sub_(other)

    def __imul__(self, other) -> "Tensor":
        return self.mul_(other)

    def __itruediv__(self, other) -> "Tensor":
        return self.div_(other)

    def clamp_(self, min=None, max=None) -> "Tensor":  # noqa: A002  (PyTorch's names)
        # clamp's backward reads its input's values (the mask of the kept elements).
        return _inplace_ops.apply(self, _elementwise.clamp, (min, max), copy_src=True)

    def clip_(self, min=None, max=None) -> "Tensor":  # noqa: A002
        return self.clamp_(min, max)

    def relu_(self) -> "Tensor":
        return _inplace_ops.apply(self, _activation.relu)

    def masked_fill_(self, mask, value) -> "Tensor":
        return _inplace_ops.apply(self, _indexing.masked_fill, (mask, value))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        # PyTorch names these `from` and `to`; `from` is a Python keyword, so torch.nn.init's a, b are used.
        return self._inplace("UniformBackward0", backend_of(self._data).generator().uniform(a, b, self._data.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        return self._inplace("NormalBackward0", backend_of(self._data).generator().normal(mean, std, self._data.shape))

    def __setitem__(self, index, value) -> None:
        _inplace_ops.setitem(self, index, value)

    # ---- operators ----------------------------------------------------------------------------------------
    # __add__, __mul__, __matmul__, __getitem__ (and sum, reshape, view, permute, expand) are the op functions
    # themselves, bound at the end of the module for speed: see there.
    def __radd__(self, other) -> "Tensor":
        return _arith.add(other, self)

    def __sub__(self, other) -> "Tensor":
        return _arith.sub(self, other)

    def __rsub__(self, other) -> "Tensor":
        return _arith.sub(other, self)

    def __rmul__(self, other) -> "Tensor":
        return _arith.mul(other, self)

    def __truediv__(self, other) -> "Tensor":
        return _arith.div(self, other)

    def __rtruediv__(self, other) -> "Tensor":
        return _arith.div(other, self)

    def __pow__(self, exponent) -> "Tensor":
        return _arith.pow(self, exponent)

    def __rpow__(self, other) -> "Tensor":
        return _arith.pow(other, self)

    def __rmatmul__(self, other) -> "Tensor":
        return _linalg.matmul(other, self)

    def __neg__(self) -> "Tensor":
        return _arith.neg(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return _elementwise.abs(self)

    def __eq__(self, other) -> "Tensor":  # type: ignore[override]
        return _arith.eq(self, other)

    def __ne__(self, other) -> "Tensor":  # type: ignore[override]
        return _arith.ne(self, other)

    def __lt__(self, other) -> "Tensor":
        return _arith.lt(self, other)

    def __le__(self, other) -> "Tensor":
        return _arith.le(self, other)

    def __gt__(self, other) -> "Tensor":
        return _arith.gt(self, other)

    def __ge__(self, other) -> "Tensor":
        return _arith.ge(self, other)

    def __and__(self, other) -> "Tensor":
        return _arith.bitwise_and(self, other)

    def __rand__(self, other) -> "Tensor":
        return _arith.bitwise_and(other, self)

    def __or__(self, other) -> "Tensor":
        return _arith.bitwise_or(self, other)

    def __ror__(self, other) -> "Tensor":
        return _arith.bitwise_or(other, self)

    def __xor__(self, other) -> "Tensor":
        return _arith.bitwise_xor(self, other)

    def __invert__(self) -> "Tensor":
        return _arith.bitwise_not(self)

    # ---- arithmetic and math --------------------------------------------------------------------------------
    def add(self, other, *, alpha=1) -> "Tensor":
        return _arith.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1) -> "Tensor":
        return _arith.sub(self, other, alpha=alpha)

    def mul(self, other) -> "Tensor":
        return _arith.mul(self, other)

    def div(self, other, *, rounding_mode=None) -> "Tensor":
        return _binary_math.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent) -> "Tensor":
        return _arith.pow(self, exponent)

    def neg(self) -> "Tensor":
        return _arith.neg(self)

    def exp(self) -> "Tensor":
        return _elementwise.exp(self)

    def log(self) -> "Tensor":
        return _elementwise.log(self)

    def log1p(self) -> "Tensor":
        return _elementwise.log1p(self)

    def sin(self) -> "Tensor":
        return _elementwise.sin(self)

    def cos(self) -> "Tensor":
        return _elementwise.cos(self)

    def erf(self) -> "Tensor":
        return _elementwise.erf(self)

    def sqrt(self) -> "Tensor":
        return _elementwise.sqrt(self)

    def rsqrt(self) -> "Tensor":
        return _trig.rsqrt(self)

    def square(self) -> "Tensor":
        return _trig.square(self)

    def abs(self) -> "Tensor":
        return _elementwise.abs(self)

    def sign(self) -> "Tensor":
        return _elementwise.sign(self)

    def clamp(self, min=None, max=None) -> "Tensor":  # noqa: A002
        return _elementwise.clamp(self, min, max)

    def clip(self, min=None, max=None) -> "Tensor":  # noqa: A002
        return _elementwise.clamp(self, min, max)

    def maximum(self, other) -> "Tensor":
        return _elementwise.maximum(self, other)

    def minimum(self, other) -> "Tensor":
        return _elementwise.minimum(self, other)

    def eq(self, other) -> "Tensor":
        return _arith.eq(self, other)

    def ne(self, other) -> "Tensor":
        return _arith.ne(self, other)

    def lt(self, other) -> "Tensor":
        return _arith.lt(self, other)

    def le(self, other) -> "Tensor":
        return _arith.le(self, other)

    def gt(self, other) -> "Tensor":
        return _arith.gt(self, other)

    def ge(self, other) -> "Tensor":
        return _arith.ge(self, other)

    def logical_not(self) -> "Tensor":
        return _arith.logical_not(self)

    def isnan(self) -> "Tensor":
        return _elementwise.isnan(self)

    def isfinite(self) -> "Tensor":
        return _elementwise.isfinite(self)

    def masked_fill(self, mask, value) -> "Tensor":
        return _indexing.masked_fill(self, mask, value)

    # ---- reductions (sum: bound at the end of the module) ---------------------------------------------------
    def mean(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        return _reduction.mean(self, dim, keepdim, dtype=dtype)

    def max(self, dim=None, keepdim: bool = False):
        return _reduction.max(self, dim, keepdim)

    def min(self, dim=None, keepdim: bool = False):
        return _reduction.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim: bool = False) -> "Tensor":
        return _reduction.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim: bool = False) -> "Tensor":
        return _reduction.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim: bool = False) -> "Tensor":
        return _reduction.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False) -> "Tensor":
        return _reduction.argmin(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> "Tensor":
        return _reduction.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> "Tensor":
        return _reduction.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim, keepdim: bool = False) -> "Tensor":
        return _reduction.logsumexp(self, dim, keepdim)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        return _reduction.prod(self, dim, keepdim, dtype=dtype)

    def all(self, dim=None, keepdim: bool = False) -> "Tensor":
        return _reduction.all(self, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False) -> "Tensor":
        return _reduction.any(self, dim, keepdim)

    # ---- shape (reshape, view, permute, expand: bound at the end of the module) -------------------------
    @property
    def T(self) -> "Tensor":
        return _shape.numpy_T(self)

    @property
    def mT(self) -> "Tensor":
        return _shape.transpose(self, -2, -1)

    def view_as(self, other) -> "Tensor":
        return _shape.view_as(self, other)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        return _shape.transpose(self, dim0, dim1)

    def t(self) -> "Tensor":
        return _shape.t(self)

    def squeeze(self, dim=None) -> "Tensor":
        return _shape.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> "Tensor":
        return _shape.unsqueeze(self, dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        return _shape.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: int, sizes) -> "Tensor":
        return _shape.unflatten(self, dim, sizes)

    def expand_as(self, other) -> "Tensor":
        return _shape.expand_as(self, other)

    def contiguous(self, *, memory_format=_mf.contiguous_format) -> "Tensor":
        return _shape.contiguous(self, memory_format=memory_format)

    def clone(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _shape.clone(self, memory_format=memory_format)

    def split(self, split_size, dim: int = 0):
        return _shape.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return _shape.chunk(self, chunks, dim)

    def narrow(self, dim: int, start: int, length: int) -> "Tensor":
        return _shape.narrow(self, dim, start, length)

    def unbind(self, dim: int = 0):
        return _shape.unbind(self, dim)

    def index_select(self, dim: int, index) -> "Tensor":
        return _indexing.index_select(self, dim, index)

    # ---- linear algebra and activations (__matmul__: bound at the end of the module) ------------------------
    def matmul(self, other) -> "Tensor":
        return _linalg.matmul(self, other)

    def mm(self, mat2) -> "Tensor":
        return _linalg.mm(self, mat2)

    def bmm(self, mat2) -> "Tensor":
        return _linalg.bmm(self, mat2)

    def relu(self) -> "Tensor":
        return _activation.relu(self)

    def sigmoid(self) -> "Tensor":
        return _activation.sigmoid(self)

    def tanh(self) -> "Tensor":
        return _activation.tanh(self)

    def gelu(self, approximate: str = "none") -> "Tensor":
        return _activation.gelu(self, approximate)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        return _activation.leaky_relu(self, negative_slope)

    def softmax(self, dim: int, dtype=None) -> "Tensor":
        return _activation.softmax(self, dim, dtype)

    def log_softmax(self, dim: int, dtype=None) -> "Tensor":
        return _activation.log_softmax(self, dim, dtype)

    # ---- dtype ----------------------------------------------------------------------------------------------
    def type_as(self, other) -> "Tensor":
        return _conversion.cast(self, other.dtype)

    def float(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "float32", memory_format, "float")

    def double(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "float64", memory_format, "double")

    def long(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int64", memory_format, "long")

    def bool(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "bool", memory_format, "bool")

def _host_state(t: Tensor) -> tuple:
    """What a pickle holds of a tensor: host bytes, dtype name, shape, requires_grad, and the device it was on
    (None for the CPU, so the tuple is the old four-field one's extension)."""
    be = backend_of(t._data)
    arr = be.to_host(t._data)
    # the fastnn dtype's name: NumPy's own for every dtype but bfloat16 (whose storage NumPy names "V2"-like)
    return (arr.tobytes(), t.dtype.name, arr.shape, t._requires_grad, _location.saved_device(be))


def _host_array(raw: bytes, dtype_name: str, shape):
    arr = np.frombuffer(raw, dtype=dtypes.to_dtype(dtype_name).np).reshape(shape).copy()
    return arr if dtype_name != "bfloat16" else arr.view(_bf16.Bf16Array)


def _rebuild_tensor(raw: bytes, dtype_name: str, shape, requires_grad: bool, device=None) -> "Tensor":
    """Unpickles what ``Tensor.__reduce_ex__`` wrote (Parameter and Buffer have their own, in nn.parameter),
    on the device the load in progress chooses (``_location``: the saved one by default)."""
    return Tensor._wrap(_location.place(_host_array(raw, dtype_name, shape), device), requires_grad)


# ---- imported last: each of these modules imports Tensor at its top, so the class must exist first. Module
# objects (not names) are bound where the module may still be initialising when this runs.
from . import creation as _creation  # noqa: E402
from . import _printing  # noqa: E402
from .autograd import functional as _functional  # noqa: E402
from .autograd import inplace as _inplace_ops  # noqa: E402
from .autograd.grad_mode import is_grad_enabled  # noqa: E402
from .autograd.graph import watch_output  # noqa: E402
from .ops import activation as _activation  # noqa: E402
from .ops import arithmetic as _arith  # noqa: E402
from .ops import binary_math as _binary_math  # noqa: E402
from .ops import trig as _trig  # noqa: E402
from .ops import conversion as _conversion  # noqa: E402
from .ops import elementwise as _elementwise  # noqa: E402
from .ops import indexing as _indexing  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduction as _reduction  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops._util import normalize_dim  # noqa: E402

# Bound as the op functions themselves, not as methods that call them (measured with thread time on tiny
# tensors): a delegating method's extra Python frame costs ~30-40 ns, 1.5-2.5% of the hottest operators
# (a + b is ~1.5-2 us), and a `*shape` method costs ~200 ns (~8% of reshape): re-packing the arguments
# takes CPython's slow call path. Each op's signature is PyTorch's, with the tensor as its first argument.
Tensor.__add__ = _arith.add_same_shape  # (a, b): one shape and dtype skips promotion and broadcasting
Tensor.__mul__ = _arith.mul  # (a, b)
Tensor.__matmul__ = _linalg.matmul  # (a, b)
Tensor.__getitem__ = _indexing.getitem  # (a, index)
Tensor.sum = _reduction.sum  # (a, dim=None, keepdim=False, *, dtype=None)
Tensor.reshape = _shape.reshape  # (a, *shape)
Tensor.view = _shape.view  # (a, *shape)
Tensor.permute = _shape.permute  # (a, *dims)
Tensor.expand = _shape.expand  # (a, *sizes)

# The methods declared by family in tensor_methods/ (math, sorting, shape and indexing, linalg, the API
# surface), copied onto the class now that every op module they call is importable.
from .tensor_methods import attach as _attach_methods  # noqa: E402

_attach_methods(Tensor)
