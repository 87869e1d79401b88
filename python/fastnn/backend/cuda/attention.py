"""Scaled dot-product attention on the CUDA flash kernels (csrc/cuda/attention.cu, bindings
attention_forward_f32 / attention_backward_f32), with the semantics of backend/composite/attention.py.

float32 with head dims up to 128 runs natively; other dtypes and wider heads go to the composite version
(array math on the device's xp). The kernels read every operand with its strides (0 for a broadcast dim),
so a mask is handed over broadcast to (B, H, Lq, Lk) as a view, never a copy; outputs, the logsumexp and
the backward's scratch are allocated here. Dropout never reaches these kernels: ops/attention.py sends
dropout_p > 0 to the composite path (ops/attention_dropout.py).

``fastnn.backends.cuda.matmul.allow_tf32`` (read per call, as the GEMM does; torch's SDPA math runs its
products in TF32 under the same flag) lets an sm_80+ GPU run the forward's Q K^T and P V on TF32 tensor
cores (head dims that are multiples of 8), and the backward's products likewise."""
from __future__ import annotations

import numpy as np

from ..composite.attention import _check_mask, _check_qkv, _scale_of, check_backward
from .linalg import _allow_tf32

_MAX_HEAD_DIM = 128  # kAttentionMaxHeadDim in csrc/cuda/attention.h


def _native(q, k, v) -> bool:
    return (q.dtype == np.float32 and q.ndim == 4 and k.ndim == 4 and v.ndim == 4
            and q.shape[3] <= _MAX_HEAD_DIM and v.shape[3] <= _MAX_HEAD_DIM)


class CudaAttentionKernels:
    def _attention_mask4(self, mask, target):
        """The mask as a (B, H, Lq, Lk) view (stride 0 on its broadcast dims), or None."""
        if mask is None:
            return None
        return self.xp.broadcast_to(mask.reshape((1,) * (4 - mask.ndim) + tuple(mask.shape)), target)

    def attention_forward(self, q, k, v, mask, is_causal: bool, scale):
        if not _native(q, k, v):
            return super().attention_forward(q, k, v, mask, is_causal, scale)
        op = "attention_forward"
        _check_qkv(q, k, v, op)
        b, h, lq, d = q.shape
        lk, dv = k.shape[2], v.shape[3]
        _check_mask(mask, is_causal, q, (b, h, lq, lk), op)
        sc = _scale_of(scale, d, op)
        xp = self.xp
        out = xp.empty((b, h, lq, dv), np.float32)
        lse = xp.empty((b, h, lq), np.float32)
        self.native.attention_forward_f32(q, k, v, self._attention_mask4(mask, (b, h, lq, lk)), out, lse,
                                          bool(is_causal), sc, allow_tf32=_allow_tf32(), device=self.device_id,
                                          stream=self.stream())
        return out, lse

    def attention_backward(self, grad_out, q, k, v, out, lse, mask, is_causal: bool, scale):
        if not _native(q, k, v):
            return super().attention_backward(grad_out, q, k, v, out, lse, mask, is_causal, scale)
        b, h, lq, d, lk, dv, sc = check_backward(grad_out, q, k, v, out, lse, mask, is_causal, scale)
        xp = self.xp
        delta = xp.empty((b, h, lq), np.float32)  # rowsum(grad_out * out), the kernels' scratch
        dq = xp.empty((b, h, lq, d), np.float32)
        dk = xp.empty((b, h, lk, d), np.float32)
        dv_ = xp.empty((b, h, lk, dv), np.float32)
        self.native.attention_backward_f32(grad_out, q, k, v, out, xp.ascontiguousarray(lse),
                                           self._attention_mask4(mask, (b, h, lq, lk)), delta, dq, dk, dv_,
                                           bool(is_causal), sc, allow_tf32=_allow_tf32(), device=self.device_id,
                                           stream=self.stream())
        return dq, dk, dv_
