"""conv2d (NCHW) on the native implicit-GEMM kernels (csrc/cpu/conv2d*.cpp)."""
from __future__ import annotations

from ... import _C


class CpuConvKernels:
    def conv2d_forward(self, x, w, b, stride, padding, dilation, groups: int):
        return _C.conv2d_forward(x, w, b, stride, padding, dilation, groups)

    def conv2d_backward_data(self, g, w, in_hw, stride, padding, dilation, groups: int):
        return _C.conv2d_backward_data(g, w, in_hw, stride, padding, dilation, groups)

    def conv2d_backward_weight(self, g, x, kernel, stride, padding, dilation, groups: int):
        return _C.conv2d_backward_weight(g, x, kernel, stride, padding, dilation, groups)

    def conv2d_backward_bias(self, g):
        return _C.conv2d_backward_bias(g)
