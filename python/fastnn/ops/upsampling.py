"""interpolate: torch.nn.functional.interpolate's resizing modes over (N, C, *spatial) with 1 to 3 spatial dims.

Every supported mode is separable: along each spatial axis, output position i is a weighted sum of a few input
positions (``idx[i, :]`` with weights ``wts[i, :]``): nearest and nearest-exact one tap, linear two, cubic four
(torch's A = -0.75 with clamped borders), area the adaptive-average window. The forward applies the axes one
after another as gathers; the backward applies the transposes, each a small dense (out, in) matrix product on
the backend's matmul (the scatter of a gather, without a slow indexed add).

The index arithmetic follows ATen's UpSample.h: the scale is 1/scale_factor when a scale factor is given (and
not recomputed), else in/out (align_corners: (in-1)/(out-1)); nearest indices are computed in float32 as
ATen's are, so the boundary cases round the same way."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_ints, check_memory, check_storage

_GEMM_MAX_IN = 128  # rows up to this long are resized along the last axis by a GEMM (see interpolate)
_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_NEEDS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_NODE = {"nearest": "UpsampleNearest{d}DBackward0", "nearest-exact": "UpsampleNearestExact{d}DBackward0",
         "linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
         "bicubic": "UpsampleBicubic2DBackward0", "trilinear": "UpsampleTrilinear3DBackward0",
         "area": "AdaptiveAvgPool{d}DBackward0"}


def _scale(in_size, out_size, align_corners, scale_factor):
    """ATen's area_pixel_compute_scale (float64)."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def _taps(xp, mode, in_size, out_size, align_corners, scale_factor):
    """(idx, wts): (out, K) int64 input positions and float64 weights of each output position."""
    dst = xp.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        if scale_factor is not None and scale_factor > 0:
            s = np.float32(1.0 / scale_factor)
        else:
            s = np.float32(in_size) / np.float32(out_size)
        if out_size == in_size:
            src = dst
        elif mode == "nearest":
            src = xp.floor(dst.astype(np.float32) * s).astype(np.int64)
        else:
            src = xp.floor(((dst + 0.5) * float(s)).astype(np.float32)).astype(np.int64)
        return xp.minimum(src, in_size - 1)[:, None], xp.ones((out_size, 1))
    if mode == "area":  # torch's adaptive windows [floor(i*in/out), ceil((i+1)*in/out))
        start = (dst * in_size) // out_size
        end = -((-(dst + 1) * in_size) // out_size)
        k = int((end - start).max())
        idx = start[:, None] + xp.arange(k)[None, :]
        inside = idx < end[:, None]
        return xp.minimum(idx, in_size - 1), inside / (end - start)[:, None]
    s = _scale(in_size, out_size, align_corners, scale_factor)
    cubic = mode == "bicubic"
    src = s * dst if align_corners else s * (dst + 0.5) - 0.5
    if not cubic:
        src = xp.maximum(src, 0.0)
        i0 = xp.minimum(xp.floor(src).astype(np.int64), in_size - 1)
        lam = xp.clip(src - i0, 0.0, 1.0)
        return xp.stack([i0, xp.minimum(i0 + 1, in_size - 1)], axis=1), xp.stack([1.0 - lam, lam], axis=1)
    i0 = xp.floor(src).astype(np.int64)
    t = src - i0
    a = -0.75

    def conv1(v):
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def conv2(v):
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    wts = xp.stack([conv2(t + 1.0), conv1(t), conv1(1.0 - t), conv2(2.0 - t)], axis=1)
    idx = xp.clip(i0[:, None] + xp.arange(-1, 3)[None, :], 0, in_size - 1)
    return idx, wts


def _resize_axis(xp, x, axis, idx, wts, linear: bool):
    """x resized along ``axis`` by the taps: sum_k x.take(idx[:, k]) * wts[:, k], in place on fresh gathers
    (two taps as a lerp: x0 + lam * (x1 - x0))."""
    shape = [1] * x.ndim
    shape[axis] = -1
    if idx.shape[1] == 1:
        return xp.take(x, idx[:, 0], axis=axis)
    if linear:
        out = xp.take(x, idx[:, 0], axis=axis)
        d = xp.take(x, idx[:, 1], axis=axis)
        d -= out
        d *= wts[:, 1].astype(x.dtype).reshape(shape)
        out += d
        return out
    out = xp.take(x, idx[:, 0], axis=axis)
    out *= wts[:, 0].astype(x.dtype).reshape(shape)
    for k in range(1, idx.shape[1]):
        term = xp.take(x, idx[:, k], axis=axis)
        term *= wts[:, k].astype(x.dtype).reshape(shape)
        out += term
    return out


def _matrix(xp, idx, wts, in_size, dtype):
    """The (out, in) dense matrix of the taps (repeated clamped taps add up)."""
    m = xp.zeros((idx.shape[0], in_size), np.float64)
    rows = xp.arange(idx.shape[0])
    for k in range(idx.shape[1]):
        xp.add.at(m, (rows, idx[:, k]), wts[:, k])
    return m.astype(dtype)


def _working_set(shape, out, itemsize: int, mode: str) -> int:
    """An upper bound on interpolate's bytes: every axis' intermediate result (each axis is resized in turn)
    and its taps with their temporaries (index and weight columns: under 48 bytes per output position for the
    nearest modes' one tap, under 192 for up to four)."""
    per_position = 48 if mode.startswith("nearest") else 192
    total, cur = 0, list(shape)
    for axis, n in enumerate(out):
        cur[axis + 2] = n
        total += math.prod(cur) * itemsize + per_position * n
    return total


def _sizes(a, size, scale_factor, mode, recompute_scale_factor):
    dim = a.ndim - 2
    spatial = list(a.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {spatial} and output size of {size}. Please provide "
                                 "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                                 "format.")
            out = [int(v) for v in size]
        else:
            out = [int(size)] * dim
        scales = None
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {spatial} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(v) for v in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out = []
        for n, s in zip(spatial, scales):
            v = float(n) * s
            if not -2.0 ** 63 <= v < 2.0 ** 63:  # inf, NaN or beyond int64 (Python would raise OverflowError)
                raise RuntimeError("interpolate(): value cannot be converted to type int64_t without overflow")
            out.append(int(math.floor(v)))
        if mode == "area" or recompute_scale_factor:
            scales = None  # the sizes are recomputed from the scale and the scale from the sizes (torch's rule)
    else:
        raise ValueError("either size or scale_factor should be defined")
    return out, (scales if scales is not None else [None] * dim)


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """torch.nn.functional.interpolate for the modes nearest, nearest-exact, linear (3-D), bilinear / bicubic
    (4-D), trilinear (5-D) and area (3-D to 5-D). antialias and lanczos raise NotImplementedError."""
    if size is not None:
        check_ints(size, "interpolate", "size")  # 1.5 would truncate; torch's upsample refuses a float size
    a = as_tensor(input, "interpolate")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias and not (mode in ("bilinear", "bicubic") and a.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor as "
                         "input")
    # The sizes before the mode's rank: torch's order (its size checks are Python, the mode dispatch last).
    out, scales = _sizes(a, size, scale_factor, mode, recompute_scale_factor) if a.ndim >= 3 else (None, None)
    if out is not None and min(out) >= 0:
        check_storage(tuple(a.shape[:2]) + tuple(out), a._data.dtype.itemsize, "interpolate")
    if a.ndim not in (3, 4, 5) or mode not in _NODE:
        if mode == "lanczos" and a.ndim in (3, 4, 5):
            raise NotImplementedError("interpolate(): mode='lanczos' is not supported by fastnn")
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {a.ndim}D) for the "
                                  f"modes: {_MODES} (got {mode})")
    if mode in _NEEDS and a.ndim != _NEEDS[mode]:
        raise NotImplementedError(f"Got {a.ndim}D input, but {mode} mode needs {_NEEDS[mode]}D input")
    if antialias:
        raise NotImplementedError(f"interpolate(): antialias=True is not supported by fastnn (mode='{mode}')")
    x = a._data
    if x.dtype.kind not in "fV":
        raise NotImplementedError(f'"upsample_{mode}" not implemented for \'{a.dtype.name}\'')
    spatial = list(x.shape[2:])
    if mode == "area" and min(out) >= 0 and min(spatial) > 0:
        if min(out) == 0:  # torch's area is adaptive_avg_pool: an output size of 0 is an empty result
            return Tensor._wrap(backend_of(x).xp.zeros(tuple(x.shape[:2]) + tuple(out), x.dtype))
    elif mode == "area" and min(out) < 0:
        raise RuntimeError(f"adaptive_avg_pool{len(out)}d: elements of output_size must be greater than or equal to "
                           f"0 but received {{{', '.join(str(v) for v in out)}}}")
    elif min(spatial + out) <= 0:
        names = ("D", "H", "W")[3 - len(spatial):]
        raise RuntimeError("interpolate(): Input and output sizes should be greater than 0, but got input ("
                           + ", ".join(f"{nm}: {v}" for nm, v in zip(names, spatial)) + ") output ("
                           + ", ".join(f"{nm}: {v}" for nm, v in zip(names, out)) + ")")
    be = backend_of(x)
    xp = be.xp
    check_memory(be, _working_set(x.shape, out, x.dtype.itemsize, mode), "interpolate")
    plan = []
    y = x
    for i, (n_in, n_out, sf) in enumerate(zip(spatial, out, scales)):
        if n_in == n_out and mode in ("nearest", "nearest-exact", "area") or \
                (n_in == n_out and sf is None and mode in ("linear", "bilinear", "trilinear", "bicubic")):
            continue  # the identity resize (torch's fast path gives the input values exactly)
        idx, wts = _taps(xp, mode, n_in, n_out, align_corners, sf)
        plan.append((i + 2, n_in, idx, wts))
        if i + 2 == x.ndim - 1 and idx.shape[1] > 1 and n_in <= _GEMM_MAX_IN and y.size:
            # The last axis: a gather there is a slow strided copy, and a GEMM with the (in, out) matrix,
            # 2 * in flops per output, beats it for short rows (about 2x at in = 64 on one core).
            m = _matrix(xp, idx, wts, n_in, y.dtype)
            y = be.matmul(xp.ascontiguousarray(y).reshape(-1, n_in), xp.ascontiguousarray(m.T)) \
                .reshape(y.shape[:-1] + (n_out,))
        else:
            y = _resize_axis(xp, y, i + 2, idx, wts, mode in ("linear", "bilinear", "trilinear"))
    if not plan:
        y = y.copy()
    y = xp.ascontiguousarray(y)

    def backward(g):
        if g.size == 0:
            return (xp.zeros(x.shape, x.dtype),)
        for axis, n_in, idx, wts in reversed(plan):
            m = _matrix(xp, idx, wts, n_in, g.dtype)                         # (out, in)
            gm = xp.moveaxis(g, axis, -1)
            lead = gm.shape[:-1]
            g = xp.moveaxis(be.matmul(xp.ascontiguousarray(gm).reshape(-1, gm.shape[-1]), m).reshape(lead + (n_in,)),
                            -1, axis)
        return (xp.ascontiguousarray(g),)

    name = _NODE[mode].format(d=a.ndim - 2)
    return record(Tensor._wrap(y), name, (a,), backward)


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None) -> Tensor:
    """torch.nn.functional.upsample (deprecated there): interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
