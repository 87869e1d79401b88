"""Batch norm on the CUDA kernels (csrc/cuda/batchnorm.cu) for float32 (N, C, L) arrays, float64 channel
statistics as the composite's; other dtypes go to the composite kernels (``super()``, CuPy's). The running
buffers are the op's to update, as everywhere."""
from __future__ import annotations

import numpy as np

from ..composite.batchnorm import _check_forward

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _all_f32(*arrays) -> bool:
    return all(a is None or a.dtype == _F32 for a in arrays)


class CudaBatchNormKernels:
    def _vector(self, v):
        return None if v is None else self.xp.ascontiguousarray(v.reshape(-1))

    def batch_norm_forward(self, x3, weight, bias, running_mean, running_var, training: bool, eps: float):
        eval_buffers = () if training else (running_mean, running_var)
        if x3.ndim != 3 or not _all_f32(x3, weight, bias, *eval_buffers):
            return super().batch_norm_forward(x3, weight, bias, running_mean, running_var, training, eps)
        n, c, l = (int(v) for v in x3.shape)
        _check_forward(training, n * l, eps, running_mean, running_var)
        xp = self.xp
        with self.device_guard():
            y = xp.empty((n, c, l), xp.float32)
            mean, invstd = xp.empty(c, xp.float64), xp.empty(c, xp.float64)
            var = xp.empty(c, xp.float64) if training else None
            work = xp.empty(self.native.batch_norm_workspace(n, c, l), xp.float64)
            self.native.batch_norm_forward_f32(
                xp.ascontiguousarray(x3), self._vector(weight), self._vector(bias),
                None if training else self._vector(running_mean), None if training else self._vector(running_var),
                y, mean, invstd, var, work, bool(training), float(eps), device=self.device_id, stream=self.stream())
            return y, mean, invstd, var

    def batch_norm_backward(self, g3, x3, mean, invstd, weight, training: bool, need_input: bool,
                            need_weight: bool, need_bias: bool):
        if (x3.ndim != 3 or not _all_f32(g3, x3, weight) or mean.dtype != _F64 or invstd.dtype != _F64
                or tuple(g3.shape) != tuple(x3.shape)):
            return super().batch_norm_backward(g3, x3, mean, invstd, weight, training, need_input, need_weight,
                                               need_bias)
        if not (need_input or need_weight or need_bias):
            return None, None, None
        n, c, l = (int(v) for v in x3.shape)
        xp = self.xp
        with self.device_guard():
            gx = xp.empty((n, c, l), xp.float32) if need_input else None
            gw = xp.empty(c, xp.float32) if need_weight else None
            gb = xp.empty(c, xp.float32) if need_bias else None
            work = xp.empty(self.native.batch_norm_workspace(n, c, l), xp.float64)
            self.native.batch_norm_backward_f32(
                xp.ascontiguousarray(g3), xp.ascontiguousarray(x3), self._vector(mean), self._vector(invstd),
                self._vector(weight), gx, gw, gb, work, bool(training), device=self.device_id, stream=self.stream())
            return gx, gw, gb
