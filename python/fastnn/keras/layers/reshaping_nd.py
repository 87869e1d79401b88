"""Cropping1D/2D/3D, ZeroPadding1D/2D/3D, UpSampling1D/3D and Permute with Keras' arguments, on fastnn's
differentiable slicing, pad, repeat_interleave and permute (channels_last by default, channels_first where
Keras has it)."""
from __future__ import annotations

from ... import ops
from ...nn import functional as F
from .base import Layer
from .conv import check_input_rank, normalize_data_format


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """Keras' ``argument_validation.standardize_tuple``: an int or n ints -> a tuple of n ints (>= 0 with
    ``allow_zero``, > 0 otherwise), with Keras' messages."""
    msg = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if isinstance(value, int):
        out = (value,) * n
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(msg) from None
        if len(out) != n:
            raise ValueError(msg)
        for v in out:
            try:
                int(v)
            except (ValueError, TypeError):
                raise ValueError(f"{msg}including element {v} of type {type(v)}") from None
    bad = {v for v in out if (v < 0 if allow_zero else v <= 0)}
    if bad:
        raise ValueError(f"{msg}, including values {bad} that do not satisfy `value {'>= 0' if allow_zero else '> 0'}`")
    return out


_ORDINALS = ("1st", "2nd", "3rd")


def _pairs(value, rank: int, name: str, what: str) -> tuple:
    """An int, ``rank`` ints or ``rank`` pairs -> ``rank`` (before, after) pairs (Cropping2D/3D, ZeroPadding2D/3D)."""
    if isinstance(value, int):
        if value < 0 and name == "cropping":
            raise ValueError(f"`cropping` cannot be negative. Received: cropping={value}.")
        return ((value, value),) * rank
    if hasattr(value, "__len__"):
        if len(value) != rank:
            if rank == 2:
                raise ValueError(f"`{name}` should have two elements. Received: {name}={value}.")
            raise ValueError(f"`{name}` should have {rank} elements. Received: {value}.")
        return tuple(standardize_tuple(v, 2, f"{_ORDINALS[i]} entry of {name}", allow_zero=True)
                     for i, v in enumerate(value))
    raise ValueError(f"`{name}` should be either an int, a tuple of {rank} ints, or a tuple of {rank} tuples of 2 "
                     f"ints {what}. Received: {name}={value}.")


def _spatial_axes(rank: int, data_format: str) -> tuple:
    return tuple(range(2, 2 + rank)) if data_format == "channels_first" else tuple(range(1, 1 + rank))


class _CroppingND(Layer):
    _rank = 1

    def call(self, inputs):
        check_input_rank(self, inputs.shape, self._rank + 2)
        axes = _spatial_axes(self._rank, self.data_format)
        index = [slice(None)] * inputs.ndim
        for axis, (before, after) in zip(axes, self._crops):
            if before + after >= inputs.shape[axis]:
                raise ValueError(self._too_large(tuple(inputs.shape)))
            index[axis] = slice(before, inputs.shape[axis] - after)
        return inputs[tuple(index)]

    def _too_large(self, shape) -> str:
        return ("Values in `cropping` argument should be smaller than the corresponding spatial dimension of the "
                f"input. Received: inputs.shape={shape}, cropping={self.cropping}")

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        for axis, (before, after) in zip(_spatial_axes(self._rank, self.data_format), self._crops):
            if s[axis] is not None:
                if before + after >= s[axis]:
                    raise ValueError(self._too_large(tuple(input_shape)))
                s[axis] -= before + after
        return tuple(s)

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}


class Cropping1D(_CroppingND):
    """Crops (start, end) steps off axis 1 of (batch, steps, features)."""

    _rank = 1

    def __init__(self, cropping=(1, 1), **kwargs) -> None:
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        self._crops = (self.cropping,)
        self.data_format = "channels_last"

    def _too_large(self, shape) -> str:
        return ("`cropping` parameter of `Cropping1D` layer must be smaller than the input length. Received: "
                f"inputs.shape={shape}, cropping={self.cropping}")

    def get_config(self) -> dict:
        config = super().get_config()
        del config["data_format"]
        return config


class Cropping2D(_CroppingND):
    _rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.cropping = self._crops = _pairs(cropping, 2, "cropping",
                                             "((top_crop, bottom_crop), (left_crop, right_crop))")


class Cropping3D(_CroppingND):
    _rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.cropping = self._crops = _pairs(cropping, 3, "cropping", "((left_dim1_crop, right_dim1_crop), ...)")


class _ZeroPaddingND(Layer):
    _rank = 1

    def call(self, inputs):
        check_input_rank(self, inputs.shape, self._rank + 2)
        pads = [0] * (2 * inputs.ndim)  # torch's order: the last dim first
        for axis, (before, after) in zip(_spatial_axes(self._rank, self.data_format), self._pads):
            k = 2 * (inputs.ndim - 1 - axis)
            pads[k], pads[k + 1] = before, after
        return F.pad(inputs, tuple(pads))

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        for axis, (before, after) in zip(_spatial_axes(self._rank, self.data_format), self._pads):
            if s[axis] is not None:
                s[axis] += before + after
        return tuple(s)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPaddingND):
    _rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self._pads = (self.padding,)


class ZeroPadding2D(_ZeroPaddingND):
    _rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.padding = self._pads = _pairs(padding, 2, "padding", "((top_pad, bottom_pad), (left_pad, right_pad))")


class ZeroPadding3D(_ZeroPaddingND):
    _rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.padding = self._pads = _pairs(padding, 3, "padding", "((left_dim1_pad, right_dim1_pad), ...)")


class UpSampling1D(Layer):
    """Repeats each step ``size`` times along axis 1."""

    def __init__(self, size=2, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"Expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        self.size = size

    def call(self, inputs):
        check_input_rank(self, inputs.shape, 3)
        return ops.repeat_interleave(inputs, self.size, dim=1) if self.size > 1 else inputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None if input_shape[1] is None else input_shape[1] * self.size, input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size}


class UpSampling3D(Layer):
    """Repeats each voxel ``size[i]`` times along the three spatial axes (nearest neighbour)."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.size = standardize_tuple(size, 3, "size")

    def call(self, inputs):
        check_input_rank(self, inputs.shape, 5)
        y = inputs
        for axis, n in zip(_spatial_axes(3, self.data_format), self.size):
            if n > 1:
                y = ops.repeat_interleave(y, n, dim=axis)
        return y

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        for axis, n in zip(_spatial_axes(3, self.data_format), self.size):
            s[axis] = None if s[axis] is None else s[axis] * n
        return tuple(s)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of 1..rank-1."""

    def __init__(self, dims, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` "
                             f"must be consecutive and start from 1. Received dims={dims}")

    def call(self, inputs):
        check_input_rank(self, inputs.shape, len(self.dims) + 1)
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}
