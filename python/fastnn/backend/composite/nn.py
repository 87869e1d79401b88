"""nn kernels in ``xp`` calls: the references of backend/cpu/nn.py (csrc/cpu/softmax_xent.cpp and
layernorm.cpp): softmax / log-softmax over the last dim, cross-entropy of rows against class indices, and
layer norm of rows.

Each kernel returns new arrays of its input's float dtype. Statistics that the native kernels keep in
double (the cross-entropy loss and logsumexp, layer norm's rstd) are computed in float64 here too and
rounded once. The argument checks are the bindings' (same exception types, same wording), since the ops
leave some of them (a target out of range, say) to the kernel. The arithmetic runs under
``errstate(all="ignore")``: like the native kernels, these return IEEE results (inf, NaN) without warnings.
"""
from __future__ import annotations

import numpy as np

_FLOAT_KINDS = (np.dtype(np.float32), np.dtype(np.float64))
# |lse| from which the cross-entropy backward recomputes the softmax exactly (the kernels' kLseExact): the
# saved lse's ulp there exceeds ~1e-6 relative.
_LSE_EXACT = {np.dtype(np.float32): 32.0, np.dtype(np.float64): 2.0 ** 20}


def _float(x, op: str, name: str):
    if x.dtype not in _FLOAT_KINDS:
        raise TypeError(f"{op}: expected {name} to be float32 or float64, got {x.dtype}")


def _rows2d(x, op: str, name: str):
    if x.ndim != 2:
        raise ValueError(f"{op}: expected {name} to be 2-D, got shape {tuple(x.shape)}")


def _same_dtype(a, ref, op: str, name: str):
    if a.dtype != ref.dtype:
        raise TypeError(f"{op}: expected {name} to have dtype {ref.dtype}, got {a.dtype}")


def _vector(v, n: int, op: str, name: str):
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{op}: expected {name} of shape ({n},), got {tuple(v.shape)}")


class NNKernels:
    # ---- softmax ---------------------------------------------------------------------------------------
    def softmax_last(self, x, log: bool):
        """softmax (log_softmax with ``log``) over the last dim of a float array of any shape.

        exp(x - max) / sum, or (x - max) - log(sum) for the log form (not x - logsumexp, which loses
        log(sum) against a large max in float32). A row holding NaN, or with max = +-inf, comes out NaN."""
        xp = self.xp
        _float(x, "log_softmax" if log else "softmax", "x")
        if x.size == 0:
            return xp.empty_like(x)
        with self.errstate(all="ignore"):
            z = x - x.max(axis=-1, keepdims=True)
            if log:
                return z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
            e = xp.exp(z)
            return e / e.sum(axis=-1, keepdims=True)

    def softmax_last_backward(self, y, g, log: bool):
        """Input gradient of softmax_last from its output y and the output gradient g (same shape and
        dtype): y * (g - sum(g * y)) for softmax, g - exp(y) * sum(g) for log_softmax, sums per row."""
        xp = self.xp
        op = "log_softmax_backward" if log else "softmax_backward"
        _float(y, op, "output")
        _same_dtype(g, y, op, "grad_output")
        if g.shape != y.shape:
            raise ValueError(f"{op}: grad_output has shape {tuple(g.shape)} but output has shape {tuple(y.shape)}")
        if y.size == 0:
            return xp.zeros_like(y)
        with self.errstate(all="ignore"):
            if log:
                return g - xp.exp(y) * g.sum(axis=-1, keepdims=True)
            return y * (g - (g * y).sum(axis=-1, keepdims=True))

    # ---- cross-entropy over class indices -----------------------------------------------------------------
    def _check_xent(self, logits, target, ignore_index, label_smoothing, op):
        """The binding's checks; returns the rows that count (target != ignore_index)."""
        _float(logits, op, "logits")
        _rows2d(logits, op, "logits")
        if target.dtype != np.int64:
            raise TypeError(f"{op}: expected target to hold int64 class indices, got {target.dtype}")
        n, c = logits.shape
        if target.ndim != 1 or target.shape[0] != n:
            raise ValueError(f"{op}: expected target of shape ({n},) for logits of shape {tuple(logits.shape)}, "
                             f"got {tuple(target.shape)}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        keep = target != ignore_index
        bad = keep & ((target < 0) | (target >= c))
        if bad.any():
            row = int(self.xp.argmax(bad))
            raise IndexError(f"{op}: Target {int(target[row])} is out of bounds (row {row}; logits "
                             f"{tuple(logits.shape)} have {c} classes)")
        return keep

    def cross_entropy_rows(self, logits, target, ignore_index: int, label_smoothing: float):
        """Per-row cross-entropy of (N, C) logits against int64 class indices (N,), each in [0, C) or equal
        to ``ignore_index``. Returns (loss, lse), both (N,) in the logits' dtype, with m_i = max_c x_ic and
        L_i = log sum_c exp(x_ic - m_i):

            lse_i  = m_i + L_i                                                     (the logsumexp)
            loss_i = L_i + (1 - s)(m_i - x_it) - (s / C) sum_c (x_ic - m_i)     (s = label_smoothing)

        and loss = lse = 0 on ignored rows. The loss takes m - x_t first: m + L - x_t rounded L away (0
        instead of log C at logits of 3.4e38). The x - m of the smoothing sum is rounded to the logits'
        dtype as torch's log_softmax is, so it overflows to -inf (an inf loss) where torch's does. Raises
        IndexError for a target out of range."""
        xp = self.xp
        keep = self._check_xent(logits, target, ignore_index, label_smoothing, "cross_entropy")
        n, c = logits.shape
        if n == 0 or c == 0:  # no classes: every row is ignored (the check above saw to it)
            return xp.zeros(n, logits.dtype), xp.zeros(n, logits.dtype)
        x = logits.astype(xp.float64)
        with self.errstate(all="ignore"):  # ignored rows may hold anything: they are dropped below
            m = x.max(axis=1)
            log_sum = xp.log(xp.exp(x - m[:, None]).sum(axis=1))
            lse = m + log_sum
            picked = x[xp.arange(n), xp.where(keep, target, 0)]
            loss = log_sum + (1.0 - label_smoothing) * (m - picked)
            if label_smoothing:
                z = logits - logits.max(axis=1, keepdims=True)
                loss = loss - (label_smoothing / c) * z.sum(axis=1).astype(xp.float64)
            zero = x.dtype.type(0)
            return xp.where(keep, loss, zero).astype(logits.dtype), xp.where(keep, lse, zero).astype(logits.dtype)

    def cross_entropy_rows_backward(self, logits, target, lse, grad_rows, scale, ignore_index, label_smoothing):
        """d loss_i / d logits for the rows of cross_entropy_rows, row i scaled by g_i = scale * grad_rows[i]
        (grad_rows rounded to the logits' dtype first), or by ``scale`` when grad_rows is None:

            dx_i = g_i (softmax(x_i) - (s / C)) - g_i (1 - s) e_t,     softmax(x_i) = exp(x_i - lse_i)

        from the forward's lse; ignored rows get 0. Where |lse| >= kLseExact (32 for float32), whose rounding
        would show (5-30% at logits of 1e6-1e7), softmax is recomputed exactly as exp((x - m) - L), as the
        native kernels do. Returns (N, C) in the logits' dtype."""
        xp = self.xp
        op = "cross_entropy_backward"
        keep = self._check_xent(logits, target, ignore_index, label_smoothing, op)
        n, c = logits.shape
        _same_dtype(lse, logits, op, "lse")
        _vector(lse, n, op, "lse")
        if grad_rows is not None:
            grad_rows = grad_rows.astype(logits.dtype, copy=False)
            _vector(grad_rows, n, op, "grad_rows")
        if n == 0 or c == 0:
            return xp.zeros((n, c), logits.dtype)
        g = float(scale) if grad_rows is None else float(scale) * grad_rows.astype(xp.float64)
        g = xp.where(keep, g, 0.0)[:, None]
        s = label_smoothing
        with self.errstate(all="ignore"):
            x = logits.astype(xp.float64)
            lse64 = lse.astype(xp.float64)[:, None]
            p = xp.exp(x - lse64)
            exact = xp.abs(lse64) >= _LSE_EXACT[np.dtype(logits.dtype)]
            if bool(exact.any()):  # large logits only
                z = x - x.max(axis=1, keepdims=True)
                p = xp.where(exact, xp.exp(z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))), p)
            dx = g * p - g * (s / c)
            dx = xp.where(keep[:, None], dx, 0.0)  # an ignored row's lse is 0, not its logsumexp
            dx[xp.arange(n), xp.where(keep, target, 0)] -= g[:, 0] * (1.0 - s)
            return dx.astype(logits.dtype)

    # ---- layer norm ----------------------------------------------------------------------------------------
    def _check_ln(self, x2, params, eps, op):
        _float(x2, op, "x")
        _rows2d(x2, op, "x")
        for name, p in params:
            if p is not None:
                _same_dtype(p, x2, op, name)
                if p.ndim != 1 or p.shape[0] != x2.shape[1]:
                    raise ValueError(f"{op}: expected {name} of shape ({x2.shape[1]},) for x of shape "
                                     f"{tuple(x2.shape)}, got {tuple(p.shape)}")
        if not eps >= 0.0:
            raise ValueError(f"{op}: eps must be non-negative, got {eps}")

    def layer_norm_rows(self, x2, weight, bias, eps: float):
        """LayerNorm of each row of a 2-D float array (biased variance):

            y = (x - mean) * rstd * weight + bias,     rstd = 1 / sqrt(var + eps)

        weight / bias: None or (cols,) of x's dtype. Returns (y, mean, rstd): (rows, cols), (rows,), (rows,),
        all in x's dtype. The variance is the mean of squared deviations (no cancellation when |mean| >> std);
        a row of no columns gets NaN statistics."""
        xp = self.xp
        op = "layer_norm"
        self._check_ln(x2, (("weight", weight), ("bias", bias)), eps, op)
        n = x2.shape[1]
        with self.errstate(all="ignore"):  # 0 / 0 on rows of no columns; 1 / 0 for a constant row at eps = 0
            x = x2.astype(xp.float64)
            mean64 = x.sum(axis=1) / n
            # A float64 row of 1e308 overflows the sum: there, the mean of x / n (which cannot overflow).
            over = ~xp.isfinite(mean64)
            if over.any():
                mean64 = xp.where(over, (x / n).sum(axis=1), mean64)
            var = ((x - mean64[:, None]) ** 2).sum(axis=1) / n
            rstd = (1.0 / xp.sqrt(var + float(eps))).astype(x2.dtype)
            mean = mean64.astype(x2.dtype)
            y = (x2 - mean[:, None]) * rstd[:, None]
            if weight is not None:
                y = y * weight
            if bias is not None:
                y = y + bias
        return y, mean, rstd

    def layer_norm_rows_backward(self, x2, g2, mean, rstd, weight, need_input: bool, need_weight: bool,
                                 need_bias: bool):
        """Gradients of layer_norm_rows from its saved mean and rstd. With xhat = (x - mean) * rstd and
        gw = g * weight (g where weight is None), per row:

            dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))

        and over the rows dweight = sum(g * xhat), dbias = sum(g) (zeros when there are no rows). Returns
        (dx, dweight, dbias), each None unless its need_* flag is set; x's dtype throughout."""
        op = "layer_norm_backward"
        self._check_ln(x2, (("weight", weight),), 0.0, op)
        _same_dtype(g2, x2, op, "grad_output")
        if g2.shape != x2.shape:
            raise ValueError(f"{op}: grad_output has shape {tuple(g2.shape)} but x has shape {tuple(x2.shape)}")
        for name, v in (("mean", mean), ("rstd", rstd)):
            _same_dtype(v, x2, op, name)
            _vector(v, x2.shape[0], op, name)
        with self.errstate(all="ignore"):
            xhat = (x2 - mean[:, None]) * rstd[:, None]
            dx = dw = db = None
            if need_input:
                gw = g2 if weight is None else g2 * weight
                cols = x2.shape[1]  # a row of no columns has nothing to mean (and nothing to write)
                c1 = gw.mean(axis=1, keepdims=True) if cols else 0
                c2 = (gw * xhat).mean(axis=1, keepdims=True) if cols else 0
                dx = (rstd[:, None] * (gw - c1 - xhat * c2)).astype(x2.dtype, copy=False)
            if need_weight:
                dw = (g2 * xhat).sum(axis=0)
            if need_bias:
                db = g2.sum(axis=0)
        return dx, dw, db
