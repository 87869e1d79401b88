"""conv2d on the CUDA kernels (csrc/cuda/conv2d.cu: implicit GEMMs, no im2col buffer) for float32; other dtypes,
and arrays too large for the kernels' 32-bit indexing, go to the composite kernels (``super()``, CuPy's). The
arguments are checked by the composite's helpers first, so errors read as the composite's; the bindings check
them again at the boundary. Outputs and the weight gradient's split-K workspace are allocated here."""
from __future__ import annotations

import numpy as np

from ..composite.conv import _check_grad_output, _out_hw

_F32 = np.dtype(np.float32)
_INT32_MAX = 2**31 - 1


def _native(*arrays, ndim: int = 4) -> bool:
    """float32 operands of the expected rank that the kernels can index in int32."""
    return all(a.dtype == _F32 and a.ndim == ndim and a.size < _INT32_MAX - 256 for a in arrays)


def _pairs(stride, padding, dilation):
    return tuple(tuple(int(v) for v in p) for p in (stride, padding, dilation))


class CudaConvKernels:
    def conv2d_forward(self, x, w, b, stride, padding, dilation, groups: int):
        if not _native(x, w) or (b is not None and (b.dtype != _F32 or b.ndim != 1)):
            return super().conv2d_forward(x, w, b, stride, padding, dilation, groups)
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        out_hw = _out_hw("conv2d", c, h, wd, o, cg, (kh, kw), stride, padding, dilation, groups)
        if b is not None and b.shape[0] != o:
            raise ValueError(f"conv2d: bias must be 1-D of length out_channels ({o})")
        if n * o * out_hw[0] * out_hw[1] >= _INT32_MAX - 256:
            return super().conv2d_forward(x, w, b, stride, padding, dilation, groups)
        xp = self.xp
        with self.device_guard():
            y = xp.empty((n, o) + out_hw, xp.float32)
            self.native.conv2d_forward_f32(xp.ascontiguousarray(x), xp.ascontiguousarray(w),
                                           None if b is None else xp.ascontiguousarray(b), y,
                                           *_pairs(stride, padding, dilation), int(groups), device=self.device_id,
                                           stream=self.stream())
            return y

    def conv2d_backward_data(self, g, w, in_hw, stride, padding, dilation, groups: int):
        if not _native(g, w):
            return super().conv2d_backward_data(g, w, in_hw, stride, padding, dilation, groups)
        op = "conv2d_backward_data"
        n = g.shape[0]
        o, cg, kh, kw = w.shape
        c, (h, wd) = cg * groups, (int(in_hw[0]), int(in_hw[1]))
        out_hw = _out_hw(op, c, h, wd, o, cg, (kh, kw), stride, padding, dilation, groups)
        _check_grad_output(g, n, o, out_hw, op)
        if n * c * h * wd >= _INT32_MAX - 256:
            return super().conv2d_backward_data(g, w, in_hw, stride, padding, dilation, groups)
        xp = self.xp
        with self.device_guard():
            dx = xp.empty((n, c, h, wd), xp.float32)
            self.native.conv2d_backward_data_f32(xp.ascontiguousarray(g), xp.ascontiguousarray(w), dx,
                                                 *_pairs(stride, padding, dilation), int(groups),
                                                 device=self.device_id, stream=self.stream())
            return dx

    def conv2d_backward_weight(self, g, x, kernel, stride, padding, dilation, groups: int):
        if not _native(g, x):
            return super().conv2d_backward_weight(g, x, kernel, stride, padding, dilation, groups)
        op = "conv2d_backward_weight"
        n, c, h, wd = x.shape
        if groups < 1 or c % groups != 0:
            raise ValueError(f"{op}: bad groups")
        o, cg, (kh, kw) = g.shape[1], c // groups, (int(kernel[0]), int(kernel[1]))
        out_hw = _out_hw(op, c, h, wd, o, cg, (kh, kw), stride, padding, dilation, groups)
        _check_grad_output(g, n, o, out_hw, op)
        pairs = _pairs(stride, padding, dilation)
        splits = self.native.conv2d_backward_weight_f32_splits((n, c, h, wd), o, (kh, kw), *pairs, int(groups))
        if splits * o * cg * kh * kw >= _INT32_MAX:
            splits = 1
        xp = self.xp
        with self.device_guard():
            dw = xp.empty((o, cg, kh, kw), xp.float32)
            # The split reduction's slices: a scratch array from the pool, added in slice order by the kernel.
            workspace = xp.empty(splits * dw.size, xp.float32) if splits > 1 else None
            self.native.conv2d_backward_weight_f32(xp.ascontiguousarray(g), xp.ascontiguousarray(x), dw, workspace,
                                                   *pairs, int(groups), device=self.device_id, stream=self.stream())
            return dw

    def conv2d_backward_bias(self, g):
        if not _native(g):
            return super().conv2d_backward_bias(g)
        xp = self.xp
        with self.device_guard():
            db = xp.empty(g.shape[1], xp.float32)
            splits = self.native.conv2d_backward_bias_f32_splits(tuple(g.shape))
            workspace = xp.empty(splits * db.size, xp.float32) if splits > 1 else None
            self.native.conv2d_backward_bias_f32(xp.ascontiguousarray(g), db, workspace, device=self.device_id,
                                                 stream=self.stream())
            return db
