"""pixel_shuffle / pixel_unshuffle: a reshape, a transpose and a reshape (a copy only where the transpose needs
one); each one's backward is the other."""
from __future__ import annotations

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor


def _shuffle(xp, x, r):
    *lead, c, h, w = x.shape
    oc = c // (r * r)
    y = x.reshape(tuple(lead) + (oc, r, r, h, w))
    k = len(lead)
    y = y.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return xp.ascontiguousarray(y).reshape(tuple(lead) + (oc, h * r, w * r))


def _unshuffle(xp, x, r):
    *lead, c, h, w = x.shape
    y = x.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    k = len(lead)
    y = y.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return xp.ascontiguousarray(y).reshape(tuple(lead) + (c * r * r, h // r, w // r))


def pixel_shuffle(input, upscale_factor: int) -> Tensor:
    """torch.nn.functional.pixel_shuffle: (*, C*r², H, W) -> (*, C, H*r, W*r)."""
    a = as_tensor(input, "pixel_shuffle")
    r = int(upscale_factor)
    if a.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {a.ndim} "
                           "dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    if a.shape[-3] % (r * r) != 0:
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={a.shape[-3]} is not divisible by {r * r}")
    be = backend_of(a._data)
    xp = be.xp
    y = _shuffle(xp, a._data, r)
    return record(Tensor._wrap(y), "PixelShuffleBackward0", (a,), lambda g: (_unshuffle(xp, g, r),))


def pixel_unshuffle(input, downscale_factor: int) -> Tensor:
    """torch.nn.functional.pixel_unshuffle: (*, C, H*r, W*r) -> (*, C*r², H, W)."""
    a = as_tensor(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if a.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {a.ndim} "
                           "dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    for name, dim in (("height", -2), ("width", -1)):
        if a.shape[dim] % r != 0:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                               f"input.size({dim})={a.shape[dim]} is not divisible by {r}")
    be = backend_of(a._data)
    xp = be.xp
    y = _unshuffle(xp, a._data, r)
    return record(Tensor._wrap(y), "PixelUnshuffleBackward0", (a,), lambda g: (_shuffle(xp, g, r),))
