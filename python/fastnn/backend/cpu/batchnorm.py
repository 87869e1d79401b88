"""Batch norm on the native kernels (csrc/cpu/batchnorm.cpp): C-contiguous (N, C, L) arrays, float64
channel statistics; the running buffers are the op's to update."""
from __future__ import annotations

from ... import _C
from .layout import dense


class CpuBatchNormKernels:
    def batch_norm_forward(self, x3, weight, bias, running_mean, running_var, training: bool, eps: float):
        return _C.batch_norm_forward(dense(x3), _flat(weight), _flat(bias), _flat(running_mean), _flat(running_var),
                                     bool(training), float(eps))

    def batch_norm_backward(self, g3, x3, mean, invstd, weight, training: bool, need_input: bool,
                            need_weight: bool, need_bias: bool):
        return _C.batch_norm_backward(dense(g3), dense(x3), mean, invstd, _flat(weight), bool(training),
                                      need_input=need_input, need_weight=need_weight, need_bias=need_bias)


def _flat(v):
    return None if v is None else dense(v).reshape(-1)
