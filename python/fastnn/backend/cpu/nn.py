"""Row kernels of the training-step ops on the native code: softmax / log-softmax over the last dim
(csrc/cpu/softmax_xent.cpp), cross-entropy with class indices, and layer norm (csrc/cpu/layernorm.cpp)."""
from __future__ import annotations

import numpy as np

from ... import _C
from .layout import dense, rows_view


class CpuNNKernels:
    def softmax_last(self, x, log: bool):
        if x.size == 0:
            return np.empty_like(x)
        return _C.softmax_forward(rows_view(x, x.shape[-1]), log).reshape(x.shape)

    def softmax_last_backward(self, y, g, log: bool):
        if y.size == 0:
            return np.zeros_like(y)
        cols = y.shape[-1]
        return _C.softmax_backward(y.reshape(-1, cols), dense(g).reshape(-1, cols), log).reshape(y.shape)

    def cross_entropy_rows(self, logits, target, ignore_index: int, label_smoothing: float):
        return _C.cross_entropy_forward(rows_view(logits, logits.shape[1]), dense(target), ignore_index,
                                        label_smoothing)

    def cross_entropy_rows_backward(self, logits, target, lse, grad_rows, scale, ignore_index, label_smoothing):
        if grad_rows is not None:
            grad_rows = dense(grad_rows.astype(logits.dtype, copy=False))
        return _C.cross_entropy_backward(rows_view(logits, logits.shape[1]), dense(target), lse, grad_rows,
                                         float(scale), ignore_index, label_smoothing)

    def layer_norm_rows(self, x2, weight, bias, eps: float):
        return _C.layer_norm_forward(rows_view(x2, x2.shape[1]), _flat(weight), _flat(bias), float(eps))

    def layer_norm_rows_backward(self, x2, g2, mean, rstd, weight, need_input: bool, need_weight: bool,
                                 need_bias: bool):
        return _C.layer_norm_backward(rows_view(x2, x2.shape[1]), dense(g2), mean, rstd, _flat(weight),
                                      need_input=need_input, need_weight=need_weight, need_bias=need_bias)


def _flat(p):
    return None if p is None else dense(p).reshape(-1)
