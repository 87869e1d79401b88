"""Tensor: an array (NumPy on CPU) plus autograd state, with PyTorch's attributes, methods and operators.

Every method is declared on the class with PyTorch's signature and delegates to its op in ``fastnn.ops``,
so a reader (or an IDE) finds the API here and each op's forward beside its backward in one place; the
hottest few are the op functions themselves, bound right after the imports at the end (see there). The
ops import ``Tensor`` at their top, so this module imports them at its end, once the class exists; the
methods look them up when called.
"""
from __future__ import annotations

import numpy as np

from . import _memory_format as _mf
from . import dtypes
from ._device import device as _device
from .backend import backend_of, get_backend
from .backend import shared_memory as _shared_memory
from .backend.registry import _BY_TYPE as _ARRAY_TYPES

_new = object.__new__
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
            arr = get_backend(device).zeros((0,), (dtype and dtypes.to_dtype(dtype) or dtypes.default_float).np)
        elif (all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args)
              or (len(args) == 1 and isinstance(args[0], Size))):
            shape = tuple(args[0]) if isinstance(args[0], Size) else tuple(int(a) for a in args)
            arr = get_backend(device).zeros(shape, (dtype and dtypes.to_dtype(dtype) or dtypes.default_float).np)
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
            arr = _host_asarray(arr)
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
            return be.to_host(self._data)
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if be.device.type != "cpu":
            raise TypeError(f"can't convert {be.device} tensor to numpy. Use Tensor.cpu() to copy the tensor "
                            "to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
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
        host = self.__array__()
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

    # ---- math: trigonometric, rounding, special functions, binary math, scans, norms ----------------------
    # (ops/trig.py, rounding.py, special_math.py, binary_math.py, cumulative.py, stats.py, norms.py)
    def tan(self) -> "Tensor":
        return _trig.tan(self)

    def asin(self) -> "Tensor":
        return _trig.asin(self)

    def acos(self) -> "Tensor":
        return _trig.acos(self)

    def atan(self) -> "Tensor":
        return _trig.atan(self)

    def sinh(self) -> "Tensor":
        return _trig.sinh(self)

    def cosh(self) -> "Tensor":
        return _trig.cosh(self)

    def asinh(self) -> "Tensor":
        return _trig.asinh(self)

    def acosh(self) -> "Tensor":
        return _trig.acosh(self)

    def atanh(self) -> "Tensor":
        return _trig.atanh(self)

    def arcsin(self) -> "Tensor":
        return _trig.arcsin(self)

    def arccos(self) -> "Tensor":
        return _trig.arccos(self)

    def arctan(self) -> "Tensor":
        return _trig.arctan(self)

    def arcsinh(self) -> "Tensor":
        return _trig.arcsinh(self)

    def arccosh(self) -> "Tensor":
        return _trig.arccosh(self)

    def arctanh(self) -> "Tensor":
        return _trig.arctanh(self)

    def expm1(self) -> "Tensor":
        return _trig.expm1(self)

    def exp2(self) -> "Tensor":
        return _trig.exp2(self)

    def log2(self) -> "Tensor":
        return _trig.log2(self)

    def log10(self) -> "Tensor":
        return _trig.log10(self)

    def reciprocal(self) -> "Tensor":
        return _trig.reciprocal(self)

    def sinc(self) -> "Tensor":
        return _trig.sinc(self)

    def deg2rad(self) -> "Tensor":
        return _trig.deg2rad(self)

    def rad2deg(self) -> "Tensor":
        return _trig.rad2deg(self)

    def erfc(self) -> "Tensor":
        return _special_math.erfc(self)

    def erfinv(self) -> "Tensor":
        return _special_math.erfinv(self)

    def lgamma(self) -> "Tensor":
        return _special_math.lgamma(self)

    def digamma(self) -> "Tensor":
        return _special_math.digamma(self)

    def i0(self) -> "Tensor":
        return _special_math.i0(self)

    def logit(self, eps=None) -> "Tensor":
        return _special_math.logit(self, eps)

    def floor(self) -> "Tensor":
        return _rounding.floor(self)

    def ceil(self) -> "Tensor":
        return _rounding.ceil(self)

    def trunc(self) -> "Tensor":
        return _rounding.trunc(self)

    def fix(self) -> "Tensor":
        return _rounding.fix(self)

    def frac(self) -> "Tensor":
        return _rounding.frac(self)

    def sgn(self) -> "Tensor":
        return _rounding.sgn(self)

    def signbit(self) -> "Tensor":
        return _rounding.signbit(self)

    def positive(self) -> "Tensor":
        return _rounding.positive(self)

    def negative(self) -> "Tensor":
        return _rounding.negative(self)

    def isinf(self) -> "Tensor":
        return _rounding.isinf(self)

    def isposinf(self) -> "Tensor":
        return _rounding.isposinf(self)

    def isneginf(self) -> "Tensor":
        return _rounding.isneginf(self)

    def isreal(self) -> "Tensor":
        return _rounding.isreal(self)

    def round(self, *, decimals: int = 0) -> "Tensor":
        return _rounding.round(self, decimals=decimals)

    def nan_to_num(self, nan: float = 0.0, posinf=None, neginf=None) -> "Tensor":
        return _rounding.nan_to_num(self, nan, posinf, neginf)

    def logical_and(self, other) -> "Tensor":
        return _rounding.logical_and(self, other)

    def logical_or(self, other) -> "Tensor":
        return _rounding.logical_or(self, other)

    def logical_xor(self, other) -> "Tensor":
        return _rounding.logical_xor(self, other)

    def bitwise_left_shift(self, other) -> "Tensor":
        return _rounding.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other) -> "Tensor":
        return _rounding.bitwise_right_shift(self, other)

    def bitwise_and(self, other) -> "Tensor":
        return _arith.bitwise_and(self, other)

    def bitwise_or(self, other) -> "Tensor":
        return _arith.bitwise_or(self, other)

    def bitwise_xor(self, other) -> "Tensor":
        return _arith.bitwise_xor(self, other)

    def bitwise_not(self) -> "Tensor":
        return _arith.bitwise_not(self)

    def remainder(self, other) -> "Tensor":
        return _binary_math.remainder(self, other)

    def fmod(self, other) -> "Tensor":
        return _binary_math.fmod(self, other)

    def floor_divide(self, other) -> "Tensor":
        return _binary_math.floor_divide(self, other)

    def atan2(self, other) -> "Tensor":
        return _binary_math.atan2(self, other)

    def arctan2(self, other) -> "Tensor":
        return _binary_math.arctan2(self, other)

    def hypot(self, other) -> "Tensor":
        return _binary_math.hypot(self, other)

    def copysign(self, other) -> "Tensor":
        return _binary_math.copysign(self, other)

    def logaddexp(self, other) -> "Tensor":
        return _binary_math.logaddexp(self, other)

    def logaddexp2(self, other) -> "Tensor":
        return _binary_math.logaddexp2(self, other)

    def xlogy(self, other) -> "Tensor":
        return _binary_math.xlogy(self, other)

    def fmax(self, other) -> "Tensor":
        return _binary_math.fmax(self, other)

    def fmin(self, other) -> "Tensor":
        return _binary_math.fmin(self, other)

    def heaviside(self, values) -> "Tensor":
        return _binary_math.heaviside(self, values)

    def float_power(self, exponent) -> "Tensor":
        return _binary_math.float_power(self, exponent)

    def clamp_min(self, min) -> "Tensor":  # noqa: A002
        return _binary_math.clamp_min(self, min)

    def clamp_max(self, max) -> "Tensor":  # noqa: A002
        return _binary_math.clamp_max(self, max)

    def divide(self, other, *, rounding_mode=None) -> "Tensor":
        return _binary_math.div(self, other, rounding_mode=rounding_mode)

    def lerp(self, end, weight) -> "Tensor":
        return _binary_math.lerp(self, end, weight)

    def addcmul(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return _binary_math.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return _binary_math.addcdiv(self, tensor1, tensor2, value=value)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> "Tensor":
        return _binary_math.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return _binary_math.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other) -> bool:
        return _binary_math.equal(self, other)

    def __floordiv__(self, other) -> "Tensor":
        return _binary_math.floor_divide(self, other)

    def __rfloordiv__(self, other) -> "Tensor":
        return _binary_math.floor_divide(other, self)

    def __mod__(self, other) -> "Tensor":
        return _binary_math.remainder(self, other)

    def __rmod__(self, other) -> "Tensor":
        return _binary_math.remainder(other, self)

    def __ifloordiv__(self, other) -> "Tensor":
        return self._inplace("__ifloordiv__", _binary_math.floor_divide(self, other))

    def __imod__(self, other) -> "Tensor":
        return self._inplace("__imod__", _binary_math.remainder(self, other))

    def cumsum(self, dim, *, dtype=None) -> "Tensor":
        return _cumulative.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None) -> "Tensor":
        return _cumulative.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim):
        return _cumulative.cummax(self, dim)

    def cummin(self, dim):
        return _cumulative.cummin(self, dim)

    def logcumsumexp(self, dim) -> "Tensor":
        return _cumulative.logcumsumexp(self, dim)

    def nansum(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        return _stats.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        return _stats.nanmean(self, dim, keepdim, dtype=dtype)

    def count_nonzero(self, dim=None) -> "Tensor":
        return _stats.count_nonzero(self, dim)

    def aminmax(self, *, dim=None, keepdim: bool = False):
        return _stats.aminmax(self, dim=dim, keepdim=keepdim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None) -> "Tensor":
        return _norms.norm(self, p, dim, keepdim, dtype=dtype)

    def polygamma(self, n: int) -> "Tensor":
        return _special_math.polygamma(n, self)

    def mvlgamma(self, p: int) -> "Tensor":
        return _special_math.mvlgamma(self, p)

    def gcd(self, other) -> "Tensor":
        return _float_bits.gcd(self, other)

    def lcm(self, other) -> "Tensor":
        return _float_bits.lcm(self, other)

    def ldexp(self, other) -> "Tensor":
        return _float_bits.ldexp(self, other)

    def frexp(self):
        return _float_bits.frexp(self)

    def nextafter(self, other) -> "Tensor":
        return _float_bits.nextafter(self, other)

    def angle(self) -> "Tensor":
        return _complex_parts.angle(self)

    def conj(self) -> "Tensor":
        return self

    def conj_physical(self) -> "Tensor":
        return self

    def resolve_conj(self) -> "Tensor":
        return self

    def resolve_neg(self) -> "Tensor":
        return self

    @property
    def real(self) -> "Tensor":
        return self  # a real tensor is its own real part, as in PyTorch

    @property
    def imag(self) -> "Tensor":
        return _complex_parts.imag(self)

    def dist(self, other, p=2) -> "Tensor":
        return _norms.dist(self, other, p)

    def renorm(self, p, dim: int, maxnorm) -> "Tensor":
        return _norms.renorm(self, p, dim, maxnorm)

    # In-place forms for tensors outside the graph (as the other in-place updates above): the op's result
    # written back through _inplace, which refuses tensors that need a gradient.
    def floor_(self) -> "Tensor":
        return self._inplace("floor_", _rounding.floor(self))

    def ceil_(self) -> "Tensor":
        return self._inplace("ceil_", _rounding.ceil(self))

    def trunc_(self) -> "Tensor":
        return self._inplace("trunc_", _rounding.trunc(self))

    def round_(self, *, decimals: int = 0) -> "Tensor":
        return self._inplace("round_", _rounding.round(self, decimals=decimals))

    def nan_to_num_(self, nan: float = 0.0, posinf=None, neginf=None) -> "Tensor":
        return self._inplace("nan_to_num_", _rounding.nan_to_num(self, nan, posinf, neginf))

    def clamp_min_(self, min) -> "Tensor":  # noqa: A002
        return self._inplace("clamp_min_", _binary_math.clamp_min(self, min))

    def clamp_max_(self, max) -> "Tensor":  # noqa: A002
        return self._inplace("clamp_max_", _binary_math.clamp_max(self, max))

    def lerp_(self, end, weight) -> "Tensor":
        return self._inplace("lerp_", _binary_math.lerp(self, end, weight))

    def addcmul_(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return self._inplace("addcmul_", _binary_math.addcmul(self, tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return self._inplace("addcdiv_", _binary_math.addcdiv(self, tensor1, tensor2, value=value))

    # ---- sorting and selection ------------------------------------------------------------------------------
    def sort(self, dim: int = -1, descending: bool = False, *, stable=False):
        return _sorting.sort(self, dim, descending, stable=stable)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable=False) -> "Tensor":
        return _sorting.argsort(self, dim, descending, stable=stable)

    def msort(self) -> "Tensor":
        return _sorting.msort(self)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        return _sorting.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
        return _sorting.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim: bool = False):
        return _sorting.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim: bool = False):
        return _sorting.nanmedian(self, dim, keepdim)

    def mode(self, dim: int = -1, keepdim: bool = False):
        return _sorting.mode(self, dim, keepdim)

    def quantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> "Tensor":
        return _sorting.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> "Tensor":
        return _sorting.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def unique(self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
               dim=None):
        return _sorting.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse: bool = False, return_counts: bool = False, dim=None):
        return _sorting.unique_consecutive(self, return_inverse, return_counts, dim)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None) -> "Tensor":
        return _sorting.multinomial(self, num_samples, replacement, generator=generator)

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

    # ---- shape and indexing (flip ... scatter, searchsorted: ops/reshaping, triangular, scatter_gather) --------
    def flip(self, *dims) -> "Tensor":
        return _reshaping.flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def fliplr(self) -> "Tensor":
        return _reshaping.fliplr(self)

    def flipud(self) -> "Tensor":
        return _reshaping.flipud(self)

    def roll(self, shifts, dims=None) -> "Tensor":
        return _reshaping.roll(self, shifts, dims)

    def rot90(self, k: int = 1, dims=(0, 1)) -> "Tensor":
        return _reshaping.rot90(self, k, dims)

    def repeat(self, *sizes) -> "Tensor":
        return _reshaping.repeat(self, *sizes)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None) -> "Tensor":
        return _reshaping.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tile(self, *dims) -> "Tensor":
        return _reshaping.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def broadcast_to(self, size) -> "Tensor":
        return _reshaping.broadcast_to(self, size)

    def movedim(self, source, destination) -> "Tensor":
        return _reshaping.movedim(self, source, destination)

    def moveaxis(self, source, destination) -> "Tensor":
        return _reshaping.movedim(self, source, destination)

    def swapaxes(self, axis0: int, axis1: int) -> "Tensor":
        return _shape.transpose(self, axis0, axis1)

    def swapdims(self, dim0: int, dim1: int) -> "Tensor":
        return _shape.transpose(self, dim0, dim1)

    def ravel(self) -> "Tensor":
        return _reshaping.ravel(self)

    def unfold(self, dimension: int, size: int, step: int) -> "Tensor":
        return _reshaping.unfold(self, dimension, size, step)

    def narrow_copy(self, dim: int, start: int, length: int) -> "Tensor":
        return _reshaping.narrow_copy(self, dim, start, length)

    def select(self, dim: int, index: int) -> "Tensor":
        return _reshaping.select(self, dim, index)

    def take(self, index) -> "Tensor":
        return _reshaping.take(self, index)

    def tril(self, diagonal: int = 0) -> "Tensor":
        return _triangular.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> "Tensor":
        return _triangular.triu(self, diagonal)

    def tril_(self, diagonal: int = 0) -> "Tensor":
        return _scatter_gather.inplace(self, "tril_", _triangular.tril(self, diagonal))

    def triu_(self, diagonal: int = 0) -> "Tensor":
        return _scatter_gather.inplace(self, "triu_", _triangular.triu(self, diagonal))

    def diag(self, diagonal: int = 0) -> "Tensor":
        return _triangular.diag(self, diagonal)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> "Tensor":
        return _triangular.diag_embed(self, offset, dim1, dim2)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> "Tensor":
        return _triangular.diagonal(self, offset, dim1, dim2)

    def diagflat(self, offset: int = 0) -> "Tensor":
        return _triangular.diagflat(self, offset)

    def trace(self) -> "Tensor":
        return _triangular.trace(self)

    def gather(self, dim: int, index, *, sparse_grad: bool = False) -> "Tensor":
        return _scatter_gather.gather(self, dim, index, sparse_grad=sparse_grad)

    def take_along_dim(self, indices, dim=None) -> "Tensor":
        return _scatter_gather.take_along_dim(self, indices, dim)

    def scatter(self, dim: int, index, src=None, *, value=None, reduce=None) -> "Tensor":
        return _scatter_gather.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(self, dim: int, index, src=None, *, value=None, reduce=None) -> "Tensor":
        return _scatter_gather.inplace(self, "scatter_", _scatter_gather.scatter(self, dim, index, src, value=value,
                                                                                  reduce=reduce), src)

    def scatter_add(self, dim: int, index, src) -> "Tensor":
        return _scatter_gather.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: int, index, src) -> "Tensor":
        return _scatter_gather.inplace(self, "scatter_add_", _scatter_gather.scatter_add(self, dim, index, src), src)

    def scatter_reduce(self, dim: int, index, src, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.inplace(self, "scatter_reduce_", _scatter_gather.scatter_reduce(
            self, dim, index, src, reduce, include_self=include_self), src)

    def index_add(self, dim: int, index, source, *, alpha=1) -> "Tensor":
        return _scatter_gather.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: int, index, source, *, alpha=1) -> "Tensor":
        return _scatter_gather.inplace(self, "index_add_", _scatter_gather.index_add(self, dim, index, source,
                                                                                      alpha=alpha), source)

    def index_copy(self, dim: int, index, source) -> "Tensor":
        return _scatter_gather.index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index, source) -> "Tensor":
        return _scatter_gather.inplace(self, "index_copy_", _scatter_gather.index_copy(self, dim, index, source),
                                       source)

    def index_fill(self, dim: int, index, value) -> "Tensor":
        return _scatter_gather.index_fill(self, dim, index, value)

    def index_fill_(self, dim: int, index, value) -> "Tensor":
        return _scatter_gather.inplace(self, "index_fill_", _scatter_gather.index_fill(self, dim, index, value),
                                       value)

    def index_put(self, indices, values, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.inplace(self, "index_put_", _scatter_gather.index_put(self, indices, values,
                                                                                      accumulate), values)

    def masked_select(self, mask) -> "Tensor":
        return _scatter_gather.masked_select(self, mask)

    def masked_scatter(self, mask, source) -> "Tensor":
        return _scatter_gather.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source) -> "Tensor":
        return _scatter_gather.inplace(self, "masked_scatter_", _scatter_gather.masked_scatter(self, mask, source),
                                       source)

    def tensor_split(self, indices_or_sections, dim: int = 0):
        return _splitting.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, indices_or_sections):
        return _splitting.hsplit(self, indices_or_sections)

    def vsplit(self, indices_or_sections):
        return _splitting.vsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections):
        return _splitting.dsplit(self, indices_or_sections)

    def split_with_sizes(self, split_sizes, dim: int = 0):
        return _splitting.split_with_sizes(self, split_sizes, dim)

    def unsafe_split(self, split_size, dim: int = 0):
        return _splitting.unsafe_split(self, split_size, dim)

    def unsafe_chunk(self, chunks: int, dim: int = 0):
        return _splitting.unsafe_chunk(self, chunks, dim)

    def select_scatter(self, src, dim: int, index: int) -> "Tensor":
        return _splitting.select_scatter(self, src, dim, index)

    def slice_scatter(self, src, dim: int = 0, start=None, end=None, step: int = 1) -> "Tensor":
        return _splitting.slice_scatter(self, src, dim, start, end, step)

    def diagonal_scatter(self, src, offset: int = 0, dim1: int = 0, dim2: int = 1) -> "Tensor":
        return _splitting.diagonal_scatter(self, src, offset, dim1, dim2)

    def index_reduce(self, dim: int, index, source, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.index_reduce(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim: int, index, source, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.inplace(self, "index_reduce_", _scatter_gather.index_reduce(
            self, dim, index, source, reduce, include_self=include_self), source)

    def put(self, index, source, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.put(self, index, source, accumulate)

    def put_(self, index, source, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.inplace(self, "put_", _scatter_gather.put(self, index, source, accumulate), source)

    def nonzero_static(self, *, size: int, fill_value: int = -1) -> "Tensor":
        return _searching.nonzero_static(self, size=size, fill_value=fill_value)

    def sum_to_size(self, *size) -> "Tensor":
        return _reshaping.sum_to_size(self, *size)

    def reshape_as(self, other) -> "Tensor":
        return _shape.reshape(self, other.shape)

    @property
    def mH(self) -> "Tensor":  # noqa: N802  (PyTorch's names)
        return _reshaping.mH(self)

    @property
    def H(self) -> "Tensor":  # noqa: N802
        return _reshaping.H(self)

    def adjoint(self) -> "Tensor":
        return _reshaping.adjoint(self)

    def nonzero(self, *, as_tuple: bool = False):
        return _searching.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> "Tensor":
        return _searching.argwhere(self)
    # ---- matmul family and linalg (ops/matmul_family.py, ops/decompositions.py) ----------------------------
    def addmm(self, mat1, mat2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def dot(self, other) -> "Tensor":
        return _mmf.dot(self, other)

    def vdot(self, other) -> "Tensor":
        return _mmf.vdot(self, other)

    def inner(self, other) -> "Tensor":
        return _mmf.inner(self, other)

    def mv(self, vec) -> "Tensor":
        return _mmf.mv(self, vec)

    def outer(self, vec2) -> "Tensor":
        return _mmf.outer(self, vec2)

    def ger(self, vec2) -> "Tensor":
        return _mmf.outer(self, vec2)

    def kron(self, other) -> "Tensor":
        return _mmf.kron(self, other)

    def cross(self, other, dim=None) -> "Tensor":
        return _mmf.cross(self, other, dim)

    def inverse(self) -> "Tensor":
        return _decomp.inv(self)

    def det(self) -> "Tensor":
        return _decomp.det(self)

    def logdet(self) -> "Tensor":
        return _decomp.logdet(self)

    def slogdet(self):
        return _decomp.torch_slogdet(self)

    def matrix_power(self, n: int) -> "Tensor":
        return _decomp.matrix_power(self, n)

    def pinverse(self, rcond: float = 1e-15) -> "Tensor":
        return _decomp.pinverse(self, rcond)

    def cholesky(self, upper: bool = False) -> "Tensor":
        return _decomp.torch_cholesky(self, upper)

    def qr(self, some: bool = True):
        return _decomp.torch_qr(self, some)

    def svd(self, some: bool = True, compute_uv: bool = True):
        return _decomp.torch_svd(self, some, compute_uv)
    # ---- apimisc: the torch API surface programs reach for ------------------------------------------------
    def __format__(self, format_spec: str) -> str:
        # torch: a 0-d tensor formats as its Python number (f"{loss:.4f}"); any other, only with an empty spec
        if self._data.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def type(self, dtype=None, non_blocking: bool = False, *, memory_format=None, **kwargs):
        """``t.type()`` is torch's type string ('torch.FloatTensor'); ``t.type(dtype_or_name)`` casts (a copy
        laid out as ``memory_format`` says, as ``to``). ``async=`` is the old name of ``non_blocking``."""
        for k in kwargs:
            if k != "async":
                raise TypeError(f"type() got an unexpected keyword argument '{k}'")
        if dtype is None:
            return _legacy.type_name(self)
        return _conversion.cast(self, _legacy.resolve(dtype), memory_format, "type")

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.tensor(data.detach() if isinstance(data, Tensor) else data,
                                dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def int(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int32", memory_format, "int")

    def short(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int16", memory_format, "short")

    def char(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int8", memory_format, "char")

    def byte(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "uint8", memory_format, "byte")

    def half(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "float16", memory_format, "half")

    def is_complex(self) -> bool:
        return False  # fastnn has no complex dtypes

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def nelement(self) -> int:
        return int(self._data.size)

    def ndimension(self) -> int:
        return self._data.ndim

    @property
    def is_sparse(self) -> bool:
        return False  # a dense Tensor; fastnn.sparse's COO tensors answer True

    def to_sparse(self, sparse_dim: int | None = None):
        return _sparse.from_dense(self, sparse_dim)

    def share_memory_(self) -> "Tensor":
        """Moves the storage into shared memory (an anonymous shared mapping), so that processes forked
        afterwards (torch.multiprocessing's Hogwild pattern) see each other's writes. A no-op when shared."""
        self._data = _shared_memory.share(self._data)
        return self

    def pin_memory(self, device=None) -> "Tensor":
        # torch pins host memory for an accelerator's DMA; with none there it refuses, as here
        if not _cuda.is_available():
            raise RuntimeError("Cannot access accelerator device when none is available.")
        raise NotImplementedError("pin_memory: fastnn has no pinned host memory; copy with .to('cuda')")

    def is_pinned(self, device=None) -> bool:
        return False  # fastnn never allocates pinned memory

    def is_shared(self) -> bool:
        return _shared_memory.is_shared(self._data)


def _host_state(t: Tensor) -> tuple:
    """What a pickle holds of a tensor: host bytes, dtype name, shape, requires_grad."""
    arr = backend_of(t._data).to_host(t._data)
    return (arr.tobytes(), arr.dtype.name, arr.shape, t._requires_grad)


def _host_array(raw: bytes, dtype_name: str, shape):
    return np.frombuffer(raw, dtype=dtypes.to_dtype(dtype_name).np).reshape(shape).copy()


def _rebuild_tensor(raw: bytes, dtype_name: str, shape, requires_grad: bool) -> "Tensor":
    """Unpickles what ``Tensor.__reduce_ex__`` wrote (Parameter and Buffer have their own, in nn.parameter)."""
    return Tensor._wrap(_host_array(raw, dtype_name, shape), requires_grad)


# ---- imported last: each of these modules imports Tensor at its top, so the class must exist first. Module
# objects (not names) are bound where the module may still be initialising when this runs.
from . import creation as _creation  # noqa: E402
from . import legacy_types as _legacy  # noqa: E402
from . import _printing  # noqa: E402
from .autograd import functional as _functional  # noqa: E402
from .autograd import inplace as _inplace_ops  # noqa: E402
from .autograd.grad_mode import is_grad_enabled  # noqa: E402
from .autograd.graph import watch_output  # noqa: E402
from .ops import activation as _activation  # noqa: E402
from .ops import arithmetic as _arith  # noqa: E402
from .ops import binary_math as _binary_math  # noqa: E402
from .ops import complex_parts as _complex_parts  # noqa: E402
from .ops import cumulative as _cumulative  # noqa: E402
from .ops import float_bits as _float_bits  # noqa: E402
from .ops import norms as _norms  # noqa: E402
from .ops import rounding as _rounding  # noqa: E402
from .ops import special_math as _special_math  # noqa: E402
from .ops import stats as _stats  # noqa: E402
from .ops import trig as _trig  # noqa: E402
from .ops import conversion as _conversion  # noqa: E402
from .ops import elementwise as _elementwise  # noqa: E402
from .ops import indexing as _indexing  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import matmul_family as _mmf  # noqa: E402
from .ops import decompositions as _decomp  # noqa: E402
from .ops import reduction as _reduction  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import reshaping as _reshaping  # noqa: E402
from .ops import scatter_gather as _scatter_gather  # noqa: E402
from .ops import searching as _searching  # noqa: E402
from .ops import splitting as _splitting  # noqa: E402
from .ops import triangular as _triangular  # noqa: E402
from .ops import sorting as _sorting  # noqa: E402
from .ops._util import normalize_dim  # noqa: E402
from . import sparse as _sparse  # noqa: E402  (after the ops: it imports ops.sparse)
from . import cuda as _cuda  # noqa: E402

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
