"""Row kernels of the training-step ops on the CUDA kernels: softmax / log-softmax over the last dim and
fused softmax + cross-entropy (csrc/cuda/softmax.cu), layer norm (csrc/cuda/layernorm.cu). float32 runs
natively; other dtypes, and arguments the kernels do not take, go to the composite versions (super()),
which also raise the errors for bad arguments with the composite's wording.

A target out of range is found by the kernel, which flags the first such row on the device; reading the
flag back to raise IndexError is a host sync, as the composite's own check is.
"""
from __future__ import annotations

_NO_ROW = 2**31 - 1  # the flag's value while no target is out of range
_MAX_ROWS = 2**31 - 1


class CudaNNKernels:
    def _f32(self, *arrays) -> bool:
        return all(a is None or getattr(a, "dtype", None) == self.xp.float32 for a in arrays)

    def _dense(self, a):
        return None if a is None else self.xp.ascontiguousarray(a)

    # ---- softmax ---------------------------------------------------------------------------------------
    def softmax_last(self, x, log: bool):
        if not self._f32(x) or x.ndim == 0:
            return super().softmax_last(x, log)
        y = self.xp.empty(x.shape, x.dtype)
        if x.size:
            self.native.softmax_last_f32(self._dense(x), y, bool(log), device=self.device_id, stream=self.stream())
        return y

    def softmax_last_backward(self, y, g, log: bool):
        if not self._f32(y, g) or y.ndim == 0 or g.shape != y.shape:
            return super().softmax_last_backward(y, g, log)
        if y.size == 0:
            return self.xp.zeros(y.shape, y.dtype)
        dx = self.xp.empty(y.shape, y.dtype)
        self.native.softmax_last_backward_f32(self._dense(y), self._dense(g), dx, bool(log), device=self.device_id,
                                              stream=self.stream())
        return dx

    # ---- cross-entropy over class indices -----------------------------------------------------------------
    def _xent_native(self, logits, target, label_smoothing) -> bool:
        return (self._f32(logits) and logits.ndim == 2 and logits.shape[0] <= _MAX_ROWS
                and getattr(target, "dtype", None) == self.xp.int64 and target.ndim == 1
                and target.shape[0] == logits.shape[0] and 0.0 <= label_smoothing <= 1.0)

    def _raise_bad_target(self, bad, logits, target, op):
        row = int(bad[0])  # the host sync
        if row != _NO_ROW:
            raise IndexError(f"{op}: Target {int(target[row])} is out of bounds (row {row}; logits "
                             f"{tuple(logits.shape)} have {logits.shape[1]} classes)")

    def cross_entropy_rows(self, logits, target, ignore_index: int, label_smoothing: float):
        if not self._xent_native(logits, target, label_smoothing):
            return super().cross_entropy_rows(logits, target, ignore_index, label_smoothing)
        xp = self.xp
        n = logits.shape[0]
        loss, lse = xp.empty(n, xp.float32), xp.empty(n, xp.float32)
        if n == 0:
            return loss, lse
        bad = xp.full((1,), _NO_ROW, xp.int32)
        self.native.cross_entropy_rows_f32(self._dense(logits), self._dense(target), loss, lse, bad, int(ignore_index),
                                           float(label_smoothing), device=self.device_id, stream=self.stream())
        self._raise_bad_target(bad, logits, target, "cross_entropy")
        return loss, lse

    def cross_entropy_rows_backward(self, logits, target, lse, grad_rows, scale, ignore_index, label_smoothing):
        n = getattr(logits, "shape", (0,))[0]
        if (not self._xent_native(logits, target, label_smoothing) or not self._f32(lse) or lse.shape != (n,)
                or (grad_rows is not None and grad_rows.shape != (n,))):
            return super().cross_entropy_rows_backward(logits, target, lse, grad_rows, scale, ignore_index,
                                                       label_smoothing)
        xp = self.xp
        if grad_rows is not None:
            grad_rows = grad_rows.astype(xp.float32, copy=False)  # rounded to the logits' dtype first
        dx = xp.empty(logits.shape, xp.float32)
        if n == 0:
            return dx
        bad = xp.full((1,), _NO_ROW, xp.int32)
        self.native.cross_entropy_rows_backward_f32(self._dense(logits), self._dense(target), self._dense(lse),
                                                    self._dense(grad_rows), dx, bad, float(scale), int(ignore_index),
                                                    float(label_smoothing), device=self.device_id,
                                                    stream=self.stream())
        self._raise_bad_target(bad, logits, target, "cross_entropy_backward")
        return dx

    # ---- layer norm ----------------------------------------------------------------------------------------
    def _ln_native(self, x2, *vectors) -> bool:
        return (self._f32(x2, *vectors) and x2.ndim == 2 and x2.shape[0] <= _MAX_ROWS
                and all(v is None or v.shape == (x2.shape[1],) for v in vectors))

    def layer_norm_rows(self, x2, weight, bias, eps: float):
        if not self._ln_native(x2, weight, bias) or x2.shape[1] == 0 or not eps >= 0.0:
            return super().layer_norm_rows(x2, weight, bias, eps)  # rows of no columns: NaN statistics there
        xp = self.xp
        rows, cols = x2.shape
        y = xp.empty((rows, cols), xp.float32)
        mean, rstd = xp.empty(rows, xp.float32), xp.empty(rows, xp.float32)
        self.native.layer_norm_rows_f32(self._dense(x2), self._dense(weight), self._dense(bias), y, mean, rstd,
                                        float(eps), device=self.device_id, stream=self.stream())
        return y, mean, rstd

    def layer_norm_rows_backward(self, x2, g2, mean, rstd, weight, need_input: bool, need_weight: bool,
                                 need_bias: bool):
        rows = getattr(x2, "shape", (0,))[0]
        if (not self._ln_native(x2, weight) or not self._f32(g2, mean, rstd) or g2.shape != x2.shape
                or mean.shape != (rows,) or rstd.shape != (rows,)):
            return super().layer_norm_rows_backward(x2, g2, mean, rstd, weight, need_input, need_weight, need_bias)
        xp = self.xp
        cols = x2.shape[1]
        dx = xp.empty((rows, cols), xp.float32) if need_input else None
        dw = xp.empty(cols, xp.float32) if need_weight else None
        db = xp.empty(cols, xp.float32) if need_bias else None
        scratch = None
        if need_weight or need_bias:
            scratch = xp.empty(self.native.layer_norm_rows_backward_scratch(rows, cols), xp.float32)
        if dx is not None or scratch is not None:
            self.native.layer_norm_rows_backward_f32(self._dense(x2), self._dense(g2), self._dense(mean),
                                                     self._dense(rstd), self._dense(weight), dx, dw, db, scratch,
                                                     device=self.device_id, stream=self.stream())
        return dx, dw, db
