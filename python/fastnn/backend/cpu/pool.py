"""2-D max and average pooling of C-contiguous NCHW arrays on the native kernels (csrc/cpu/pool.cpp)."""
from __future__ import annotations

from ... import _C
from .layout import dense


class CpuPoolKernels:
    def max_pool2d(self, x4, kernel, stride, padding, dilation, ceil_mode):
        return _C.max_pool2d_forward(dense(x4), kernel, stride, padding, dilation, ceil_mode)

    def max_pool2d_backward(self, x4, g4, kernel, stride, padding, dilation, ceil_mode):
        return _C.max_pool2d_backward(dense(x4), dense(g4), kernel, stride, padding, dilation, ceil_mode)

    def avg_pool2d(self, x4, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        return _C.avg_pool2d_forward(dense(x4), kernel, stride, padding, ceil_mode, count_include_pad,
                                     divisor_override)

    def avg_pool2d_backward(self, g4, input_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                            divisor_override):
        return _C.avg_pool2d_backward(dense(g4), tuple(input_shape), kernel, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override)
