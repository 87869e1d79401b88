"""Dot: the batched dot product of two tensors along one axis each (``axes``), optionally of their
L2-normalized versions (cosine proximity), and Keras' functional ``dot``."""
from __future__ import annotations

from ... import ops
from .base import Layer
from .merge import _tensors


def l2_normalize(x, axis, epsilon: float = 1e-7):
    """x * min(rsqrt(sum(x^2, axis)), 1 / epsilon): Keras' ``ops.normalize`` (order 2); ``axis`` an int, a
    tuple, or None for all axes."""
    dims = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    square_sum = (x * x).sum(dim=tuple(dims), keepdim=True)
    return x * ops.clamp(ops.rsqrt(square_sum), max=1.0 / epsilon)


def batch_dot(x, y, axes):
    """Keras' ``batch_dot``: for each sample, contracts axis ``axes[0]`` of x with ``axes[1]`` of y; the
    result keeps x's other axes then y's (a rank-2 input contributes a size-1 axis that is squeezed away)."""
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"Cannot do batch_dot on inputs with different batch sizes. Received inputs with shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    a0, a1 = axes
    if 0 in (a0, a1):
        raise ValueError("Cannot perform batch_dot over axis 0. If your inputs are not batched, add a dummy batch "
                         "dimension to your inputs using keras.ops.expand_dims(x, 0)")
    if x.shape[a0] != y.shape[a1]:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {tuple(x.shape)} and {tuple(y.shape)} with "
                         f"axes={list(axes)}. x.shape[{a0}] != y.shape[{a1}] ({x.shape[a0]} != {y.shape[a1]}).")
    x_rest = [d for d in range(1, x.ndim) if d != a0]
    y_rest = [d for d in range(1, y.ndim) if d != a1]
    batch = x.shape[0]
    xm = x.permute(0, *x_rest, a0).reshape(batch, -1, x.shape[a0])  # (batch, prod(x_rest), k)
    ym = y.permute(0, a1, *y_rest).reshape(batch, y.shape[a1], -1)  # (batch, k, prod(y_rest))
    out = ops.bmm(xm, ym)
    shape = (batch,) + tuple(x.shape[d] for d in x_rest) + tuple(y.shape[d] for d in y_rest)
    if len(shape) == 1:
        shape = (batch, 1)  # two rank-2 inputs: Keras keeps a (batch, 1) result
    return out.reshape(shape)


class Dot(Layer):
    """``axes``: an int (the same axis of both inputs) or a pair; ``normalize``: L2-normalize both inputs
    along those axes first, so the result is the cosine similarity."""

    def __init__(self, axes, normalize: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. Received: "
                                f"axes={axes}")
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two elements. Received: "
                                 f"axes={axes}")
            if not isinstance(axes[0], int) or not isinstance(axes[1], int):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be integers. Received: "
                                 f"axes={axes}")
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _axes_for(self, nd1: int, nd2: int):
        if isinstance(self.axes, int):
            return [self.axes % nd1, self.axes % nd2] if self.axes < 0 else [self.axes] * 2
        return [a % n if a < 0 else a for a, n in zip(self.axes, (nd1, nd2))]

    def build(self, input_shape) -> None:
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        s1, s2 = input_shape
        a1, a2 = self._axes_for(len(s1), len(s2))
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"Incompatible input shapes: axis values {s1[a1]} (at axis {a1}) != {s2[a2]} (at axis "
                             f"{a2}). Full input shapes: {tuple(s1)}, {tuple(s2)}")

    def call(self, inputs):
        x1, x2 = _tensors(inputs, "Dot", 2)
        axes = self._axes_for(x1.ndim, x2.ndim)
        if self.normalize:
            x1, x2 = l2_normalize(x1, axes[0]), l2_normalize(x2, axes[1])
        return batch_dot(x1, x2, axes)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        s1, s2 = list(input_shape[0]), list(input_shape[1])
        a1, a2 = self._axes_for(len(s1), len(s2))
        s1.pop(a1)
        s2.pop(a2)
        s2.pop(0)
        out = s1 + s2
        return tuple(out + [1] if len(out) == 1 else out)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """Keras' functional form: ``Dot(axes, **kwargs)(inputs)``."""
    return Dot(axes=axes, **kwargs)(inputs)
