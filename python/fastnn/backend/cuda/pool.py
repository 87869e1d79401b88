"""2-D max and average pooling on the CUDA kernels (csrc/cuda/pool.cu) for float32; other dtypes go to the
composite kernels (``super()``, CuPy's). Arguments are checked by the composite's helpers first, so errors
read as the composite's; the bindings check them again at the boundary."""
from __future__ import annotations

import numpy as np

from ..composite.pool import _check_grad, _check_input, _geometry

_F32 = np.dtype(np.float32)
_INT32_MAX = 2**31 - 1


def _native_shape(shape) -> bool:
    """The kernels index a plane's argmax in int32."""
    return int(shape[2]) * int(shape[3]) <= _INT32_MAX


class CudaPoolKernels:
    def _max_pool_native(self, x4, kernel, stride, padding, dilation, ceil_mode, op, with_argmax):
        _check_input(x4, op, "input")
        oh, ow = _geometry(op, x4.shape, kernel, stride, padding, dilation, ceil_mode, True)
        xp = self.xp
        n, c = x4.shape[:2]
        x = xp.ascontiguousarray(x4)
        y = xp.empty((n, c, oh, ow), xp.float32)
        arg = xp.empty((n, c, oh, ow), xp.int32) if with_argmax else None
        self.native.max_pool2d_f32(x, y, arg, tuple(kernel), tuple(stride), tuple(padding), tuple(dilation),
                                   bool(ceil_mode), device=self.device_id, stream=self.stream())
        return y, arg, (oh, ow)

    def max_pool2d(self, x4, kernel, stride, padding, dilation, ceil_mode):
        if x4.dtype != _F32 or x4.ndim != 4 or not _native_shape(x4.shape):
            return super().max_pool2d(x4, kernel, stride, padding, dilation, ceil_mode)
        with self.device_guard():
            return self._max_pool_native(x4, kernel, stride, padding, dilation, ceil_mode, "max_pool2d", False)[0]

    def max_pool2d_backward(self, x4, g4, kernel, stride, padding, dilation, ceil_mode):
        if x4.dtype != _F32 or g4.dtype != _F32 or x4.ndim != 4 or not _native_shape(x4.shape):
            return super().max_pool2d_backward(x4, g4, kernel, stride, padding, dilation, ceil_mode)
        op = "max_pool2d_backward"
        with self.device_guard():
            # The forward again, for the argmax (the op keeps no indices); the backward then gathers.
            _, arg, (oh, ow) = self._max_pool_native(x4, kernel, stride, padding, dilation, ceil_mode, op, True)
            _check_grad(g4, x4.dtype, x4.shape, oh, ow, op)
            gx = self.xp.empty(x4.shape, self.xp.float32)
            self.native.max_pool2d_backward_f32(self.xp.ascontiguousarray(g4), arg, gx, tuple(kernel), tuple(stride),
                                                tuple(padding), tuple(dilation), bool(ceil_mode),
                                                device=self.device_id, stream=self.stream())
            return gx

    def avg_pool2d(self, x4, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        if (x4.dtype != _F32 or x4.ndim != 4 or not _integral(divisor_override)):
            return super().avg_pool2d(x4, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
        op = "avg_pool2d"
        _check_input(x4, op, "input")
        oh, ow, _, _ = self._avg_geometry(x4.shape, kernel, stride, padding, ceil_mode, divisor_override, op)
        xp = self.xp
        with self.device_guard():
            y = xp.empty(tuple(x4.shape[:2]) + (oh, ow), xp.float32)
            self.native.avg_pool2d_f32(xp.ascontiguousarray(x4), y, tuple(kernel), tuple(stride), tuple(padding),
                                       bool(ceil_mode), bool(count_include_pad), _divisor(divisor_override),
                                       device=self.device_id, stream=self.stream())
            return y

    def avg_pool2d_backward(self, g4, input_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                            divisor_override):
        shape = tuple(int(v) for v in input_shape)
        if g4.dtype != _F32 or len(shape) != 4 or min(shape) < 0 or not _integral(divisor_override):
            return super().avg_pool2d_backward(g4, input_shape, kernel, stride, padding, ceil_mode,
                                               count_include_pad, divisor_override)
        op = "avg_pool2d_backward"
        oh, ow, _, _ = self._avg_geometry(shape, kernel, stride, padding, ceil_mode, divisor_override, op)
        _check_grad(g4, g4.dtype, shape, oh, ow, op)
        xp = self.xp
        with self.device_guard():
            gx = xp.empty(shape, xp.float32)
            self.native.avg_pool2d_backward_f32(xp.ascontiguousarray(g4), gx, tuple(kernel), tuple(stride),
                                                tuple(padding), bool(ceil_mode), bool(count_include_pad),
                                                _divisor(divisor_override), device=self.device_id,
                                                stream=self.stream())
            return gx


def _integral(divisor_override) -> bool:
    """None or an integer the kernel takes (the composite handles anything else as it does)."""
    if divisor_override is None:
        return True
    if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)):
        return False
    return 0 <= int(divisor_override) <= _INT32_MAX


def _divisor(divisor_override):
    """The composite reads ``if divisor_override:``; 0 was rejected by its geometry check already."""
    return int(divisor_override) if divisor_override else None
