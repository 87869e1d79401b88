"""conv kernels in ``xp`` calls: the references of backend/cpu/conv.py.

conv2d is PyTorch's 2-D cross-correlation over NCHW arrays: x (N, C, H, W), w (O, C/groups, KH, KW), b (O,)
or None; stride, padding (symmetric zeros) and dilation are pairs of ints; the output is (N, O, OH, OW) with
OH = (H + 2 ph - dh (KH - 1) - 1) // sh + 1 (OW alike). Channel group k of the input meets output channels
k*O/groups .. (k+1)*O/groups - 1 only.

It is lowered to matrix products: im2col gathers, for each kernel tap (i, j), the strided slice of the
padded input that the tap sees at every output position, and one batched matmul per group contracts those
columns with the weights. The data gradient is the transpose (a matmul, then each tap's columns added back
into its slice of a zero-padded buffer); the weight gradient contracts the output gradient with the same
columns.

``conv2d_forward(x, w, b, stride, padding, dilation, groups) -> y (N, O, OH, OW)``
``conv2d_backward_data(g, w, in_hw, stride, padding, dilation, groups) -> dx (N, C, H, W)``
    g (N, O, OH, OW), C = w.shape[1] * groups, (H, W) = in_hw.
``conv2d_backward_weight(g, x, kernel, stride, padding, dilation, groups) -> dw (O, C/groups, KH, KW)``
    O = g.shape[1], (KH, KW) = kernel.
``conv2d_backward_bias(g) -> db (O,)``: g summed over N, OH and OW.

Results are fresh C-contiguous arrays of the input's dtype; inputs may be strided. Bad input raises what
the native binding (csrc/bindings/bind_conv2d.cpp) raises: TypeError for a dtype other than float32 /
float64 or operands of different dtypes; ValueError for a wrong rank, a non-positive stride, dilation,
groups or kernel size, negative padding, channels not divisible by groups or not matching the weight, a
dilated kernel larger than the padded input, a bias that is not (O,), a grad_output not (N, O, OH, OW).
"""
from __future__ import annotations


def _check_float(xp, a, op: str, name: str):
    if a.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"{op}: expected {name} to be float32 or float64, got {a.dtype}")


def _check_same_dtype(a, b, op: str):
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ ({a.dtype} and {b.dtype})")


def _check_ndim(a, nd: int, op: str, name: str):
    if a.ndim != nd:
        raise ValueError(f"{op}: expected {name} to be {nd}-D, got shape {tuple(a.shape)}")


def _out_hw(op, c, h, w, o, wc, kernel, stride, padding, dilation, groups):
    """(OH, OW) after the binding's checks of the parameters against the shapes."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride must be positive")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: negative padding is not supported")
    if dh < 1 or dw < 1:
        raise ValueError(f"{op}: dilation must be positive")
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive")
    if c % groups != 0 or o % groups != 0:
        raise ValueError(f"{op}: in_channels ({c}) and out_channels ({o}) must be divisible by groups ({groups})")
    if wc * groups != c:
        raise ValueError(f"{op}: expected input with {wc * groups} channels (weight has {wc} per group, "
                         f"groups={groups}), but got {c} channels")
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel size must be positive")
    if h + 2 * ph < dh * (kh - 1) + 1 or w + 2 * pw < dw * (kw - 1) + 1:
        raise ValueError(f"{op}: kernel size ({kh}, {kw}) after dilation is larger than the padded input "
                         f"({h + 2 * ph}, {w + 2 * pw})")
    return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1


def _check_grad_output(g, n, o, out_hw, op: str):
    if tuple(g.shape) != (n, o) + tuple(out_hw):
        raise ValueError(f"{op}: grad_output has shape {tuple(g.shape)}, expected {(n, o) + tuple(out_hw)}")


def _tap(i: int, j: int, stride, dilation, out_hw):
    """The (rows, cols) slices of the padded input that kernel tap (i, j) sees at the OH x OW outputs."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_hw
    return (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def _im2col(xp, x, kernel, stride, padding, dilation, out_hw):
    """(N, C, KH, KW, OH, OW): entry [n, c, i, j, p, q] is the padded input that tap (i, j) multiplies at
    output position (p, q)."""
    (kh, kw), (ph, pw) = kernel, padding
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.empty(tuple(x.shape[:2]) + (kh, kw) + tuple(out_hw), x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _tap(i, j, stride, dilation, out_hw)
            cols[:, :, i, j] = padded[:, :, rows, columns]
    return cols


class ConvKernels:
    def conv2d_forward(self, x, w, b, stride, padding, dilation, groups: int):
        xp, op = self.xp, "conv2d"
        _check_float(xp, x, op, "input")
        _check_same_dtype(x, w, op)
        if b is not None:
            _check_same_dtype(x, b, op)
        _check_ndim(x, 4, op, "input (N, C, H, W)")
        _check_ndim(w, 4, op, "weight (O, C/groups, KH, KW)")
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        out_hw = _out_hw(op, c, h, wd, o, cg, (kh, kw), stride, padding, dilation, groups)
        if b is not None and (b.ndim != 1 or b.shape[0] != o):
            raise ValueError(f"conv2d: bias must be 1-D of length out_channels ({o})")
        cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, out_hw)
        cols = cols.reshape(n, groups, cg * kh * kw, out_hw[0] * out_hw[1])
        # (G, O/G, C/G*KH*KW) @ (N, G, C/G*KH*KW, OH*OW): one product per sample and group.
        y = xp.matmul(w.reshape(groups, o // groups, cg * kh * kw), cols).reshape((n, o) + out_hw)
        if b is not None:
            y += b.reshape(o, 1, 1)
        return y

    def conv2d_backward_data(self, g, w, in_hw, stride, padding, dilation, groups: int):
        xp, op = self.xp, "conv2d_backward_data"
        _check_float(xp, g, op, "grad_output")
        _check_same_dtype(g, w, op)
        _check_ndim(w, 4, op, "weight")
        _check_ndim(g, 4, op, "grad_output")
        n = g.shape[0]
        o, cg, kh, kw = w.shape
        c, (h, wd) = cg * groups, in_hw
        out_hw = _out_hw(op, c, h, wd, o, cg, (kh, kw), stride, padding, dilation, groups)
        _check_grad_output(g, n, o, out_hw, op)
        wg = w.reshape(groups, o // groups, cg * kh * kw)
        gg = g.reshape(n, groups, o // groups, out_hw[0] * out_hw[1])
        dcols = xp.matmul(wg.swapaxes(1, 2), gg).reshape((n, c, kh, kw) + out_hw)
        (ph, pw) = padding
        dpadded = xp.zeros((n, c, h + 2 * ph, wd + 2 * pw), g.dtype)
        for i in range(kh):
            for j in range(kw):
                rows, columns = _tap(i, j, stride, dilation, out_hw)
                dpadded[:, :, rows, columns] += dcols[:, :, i, j]  # one tap's positions are distinct
        return xp.ascontiguousarray(dpadded[:, :, ph:ph + h, pw:pw + wd])

    def conv2d_backward_weight(self, g, x, kernel, stride, padding, dilation, groups: int):
        xp, op = self.xp, "conv2d_backward_weight"
        _check_float(xp, g, op, "grad_output")
        _check_same_dtype(g, x, op)
        _check_ndim(x, 4, op, "input")
        _check_ndim(g, 4, op, "grad_output")
        n, c, h, wd = x.shape
        if groups < 1 or c % groups != 0:
            raise ValueError(f"{op}: bad groups")
        o, cg, (kh, kw) = g.shape[1], c // groups, kernel
        out_hw = _out_hw(op, c, h, wd, o, cg, (kh, kw), stride, padding, dilation, groups)
        _check_grad_output(g, n, o, out_hw, op)
        pixels, taps = out_hw[0] * out_hw[1], cg * kh * kw
        cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, out_hw).reshape(n, groups, taps, pixels)
        # Samples and output positions contract together: (G, O/G, N*OH*OW) @ (G, N*OH*OW, C/G*KH*KW).
        gg = g.reshape(n, groups, o // groups, pixels).transpose(1, 2, 0, 3).reshape(groups, o // groups, n * pixels)
        cc = cols.transpose(1, 0, 3, 2).reshape(groups, n * pixels, taps)
        return xp.matmul(gg, cc).reshape(o, cg, kh, kw)

    def conv2d_backward_bias(self, g):
        _check_float(self.xp, g, "conv2d_backward_bias", "grad_output")
        _check_ndim(g, 4, "conv2d_backward_bias", "grad_output (N, O, OH, OW)")
        return g.sum(axis=(0, 2, 3))
