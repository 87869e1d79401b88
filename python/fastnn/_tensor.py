"""Tensor: an array (NumPy on CPU) plus autograd state, with PyTorch's attributes and operators.

The arithmetic lives in ``fastnn.ops``; the methods here only delegate, so a reader finds each op's
forward and backward side by side in one place.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from .autograd.grad_mode import is_grad_enabled
from ._device import CPU, device as _device


_new = object.__new__


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
    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_retains_grad", "_version", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators: ndarray + Tensor -> Tensor
    __hash__ = object.__hash__

    def __init__(self, data=None, *, dtype=None, requires_grad: bool = False):
        from .creation import _to_array

        arr = np.zeros(0, dtypes.default_float.np) if data is None else _to_array(data, dtype)
        self._set(arr, requires_grad)

    def _set(self, arr, requires_grad: bool) -> None:
        self._data = arr
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False
        self._version = 0
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, arr, requires_grad: bool = False) -> "Tensor":
        """Wraps an op's result array without copying or checking (0-d NumPy scalars become arrays)."""
        t = _new(cls)
        if type(arr) is not np.ndarray and not hasattr(arr, "__cuda_array_interface__"):
            arr = np.asarray(arr)
        t._data = arr
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._retains_grad = False
        t._version = 0
        return t

    # ---- attributes -----------------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, outside the graph (as ``torch.Tensor.data``)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
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
            from .autograd.graph import watch_output

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
        from .ops._util import normalize_dim

        return self._data.shape[normalize_dim(dim, self.ndim, "size")]

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes._BY_NP[self._data.dtype]

    @property
    def device(self) -> _device:
        if isinstance(self._data, np.ndarray):
            return CPU
        return _device("cuda", int(self._data.device.id))

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

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    # ---- conversion out ---------------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if not isinstance(self._data, np.ndarray):
            raise TypeError(f"can't convert {self.device} tensor to numpy. Use Tensor.cpu() to copy the tensor "
                            "to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self._data if isinstance(self._data, np.ndarray) else self._data.get()
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

    def cpu(self) -> "Tensor":
        return self

    def detach(self) -> "Tensor":
        return Tensor._wrap(self._data)

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self._requires_grad = False
        return self

    def __repr__(self) -> str:
        prefix = "tensor("
        body = np.array2string(np.asarray(self.__array__()), separator=", ", prefix=prefix, threshold=1000, precision=4)
        extras = []
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_) or self._data.size == 0:
            if not (self._data.size == 0 and self.dtype is dtypes.float32):
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
        if self.dtype is not dtypes.int64 or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    # ---- autograd ---------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        from .autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    # ---- in-place updates (outside the graph: optimisers, initialisers) ---------------------------------
    def _check_inplace(self, op: str) -> None:
        if self._requires_grad and is_grad_enabled():
            kind = "a leaf Variable that requires grad" if self.grad_fn is None else "a tensor that is part of the graph"
            raise RuntimeError(f"{op}: {kind} is being used in an in-place operation; wrap the update in "
                               "fastnn.no_grad() or use an out-of-place op")
        if not self._data.flags.writeable:
            raise RuntimeError(f"{op}: this tensor is a read-only (broadcast) view; call .clone() first")

    def _inplace(self, op: str, values) -> "Tensor":
        self._check_inplace(op)
        return self._write(..., values._data if isinstance(values, Tensor) else values)

    # ---- the one write path into storage: every write bumps the version counter ------------------------
    # Autograd saves each input's version when it records a node and refuses a backward whose inputs
    # changed since, so a write that skips the bump would let a stale gradient through silently.
    def _write(self, index, values) -> "Tensor":
        """Writes ``values`` into ``self._data[index]`` (no autograd checks: callers check) and bumps the
        version."""
        self._data[index] = values
        self._version += 1
        return self

    def _written(self) -> "Tensor":
        """Bumps the version after a kernel updated ``self._data`` in place (the optimizers' fused steps)."""
        self._version += 1
        return self

    def zero_(self) -> "Tensor":
        return self._inplace("zero_", 0)

    def fill_(self, value) -> "Tensor":
        return self._inplace("fill_", value.item() if isinstance(value, Tensor) else value)

    def copy_(self, src) -> "Tensor":
        arr = src._data if isinstance(src, Tensor) else np.asarray(src)
        return self._inplace("copy_", np.broadcast_to(arr, self._data.shape).astype(self._data.dtype, copy=False))

    def add_(self, other, alpha=1) -> "Tensor":
        o = other._data if isinstance(other, Tensor) else other
        return self._inplace("add_", self._data + (o if alpha == 1 else alpha * o))

    def sub_(self, other, alpha=1) -> "Tensor":
        o = other._data if isinstance(other, Tensor) else other
        return self._inplace("sub_", self._data - (o if alpha == 1 else alpha * o))

    def mul_(self, other) -> "Tensor":
        return self._inplace("mul_", self._data * (other._data if isinstance(other, Tensor) else other))

    def div_(self, other) -> "Tensor":
        return self._inplace("div_", self._data / (other._data if isinstance(other, Tensor) else other))

    # x += y on a tensor outside the graph updates it in place, as in PyTorch (optimiser code relies on it).
    def __iadd__(self, other) -> "Tensor":
        return self.add_(other)

    def __isub__(self, other) -> "Tensor":
        return self.sub_(other)

    def __imul__(self, other) -> "Tensor":
        return self.mul_(other)

    def __itruediv__(self, other) -> "Tensor":
        return self.div_(other)

    def clamp_(self, min=None, max=None) -> "Tensor":
        return self._inplace("clamp_", np.clip(self._data, min, max))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        from .random import generator

        return self._inplace("uniform_", generator().uniform(a, b, self._data.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        from .random import generator

        return self._inplace("normal_", generator().normal(mean, std, self._data.shape))

    def __setitem__(self, index, value) -> None:
        from .ops.indexing import convert_index

        self._check_inplace("__setitem__")
        if isinstance(value, Tensor):
            if value._requires_grad and is_grad_enabled():
                raise RuntimeError("__setitem__: assigning a tensor that requires grad into another tensor is not "
                                   "recorded by autograd; build the result with fastnn.where or fastnn.cat instead")
            value = value._data
        self._write(convert_index(index), value)

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        out = type(self)._wrap(self._data.copy(), self._requires_grad)
        memo[id(self)] = out
        return out

    def __getstate__(self):
        raise TypeError("fastnn tensors are not pickled; use fastnn.save / numpy() to persist them")


def _install_methods() -> None:
    """Binds the ops as methods and operators (kept apart so the class body reads as the data model)."""
    from . import ops

    for name, fn in ops.TENSOR_METHODS.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(ops.shape.numpy_T)
    Tensor.mT = property(lambda self: ops.shape.transpose(self, -2, -1))
