"""Image preprocessing layers on fastnn ops (differentiable, on any device): Resizing, CenterCrop, and the
random augmentations RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast,
RandomBrightness. Geometric ones sample with ``affine_transform`` (Keras' torch-backend
``ops.image.affine_transform``: output pixel (x, y) reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2),
nearest or bilinear, fill modes constant / nearest / wrap / mirror / reflect).

Random layers follow Keras' training rule: ``training=None`` (a direct call, or a model called directly)
means training (the default of Keras' ``call(..., training=True)``); fit passes True, predict / evaluate
False, where they are the identity (RandomCrop included: Keras 3.15 returns its input unchanged then).
Each layer draws from its own fastnn Generator seeded with ``seed``, so equal seeds repeat the same
transformations (not Keras' random numbers)."""
from __future__ import annotations

import math
import random

import fastnn

from ....nn import functional as F
from ..conv import normalize_data_format
from ._common import PreprocessingLayer, Tensor, as_tensor

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")
_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}


def _image_batch(images, data_format):
    """(N, H, W, C) float view of rank-3 or rank-4 images, and whether a batch dim was added."""
    x = as_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"Expected image tensor to have rank 3 (single image) or 4 (batch of images). Received: "
                         f"data.shape={tuple(x.shape)}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    if data_format == "channels_first":
        x = x.permute(0, 2, 3, 1)
    return x, unbatched


def _image_restore(y, data_format, unbatched):
    if data_format == "channels_first":
        y = y.permute(0, 3, 1, 2)
    return y.squeeze(0) if unbatched else y


def _float(x: Tensor) -> Tensor:
    return x if x.dtype in (fastnn.float32, fastnn.float64) else x.to(fastnn.float32)


# ---- resize ---------------------------------------------------------------------------------------------
def _aspect_box(height, width, target_h, target_w):
    """Keras' crop_to_aspect_ratio box: (h_start, w_start, crop_h, crop_w)."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format="channels_last"):
    """Keras' ``ops.image.resize`` on its torch backend: half-pixel bilinear / bicubic, 'nearest-exact'
    nearest, an optional centred crop or constant pad to the target aspect ratio first."""
    if interpolation not in _RESIZE_MODES:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {tuple(_RESIZE_MODES)}. "
                         f"Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError(f"Invalid value for argument `fill_mode`. Only `'constant'` is supported. Received: "
                         f"fill_mode={fill_mode}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`.")
    if len(size) != 2:
        raise ValueError(f"Argument `size` must be a tuple of two elements (height, width). Received: size={size}")
    x, unbatched = _image_batch(images, data_format)
    in_dtype = x.dtype
    x = _float(x).permute(0, 3, 1, 2)  # NCHW for interpolate
    n, c, height, width = x.shape
    th, tw = size
    if crop_to_aspect_ratio:
        h0, w0, ch, cw = _aspect_box(height, width, th, tw)
        x = x[:, :, h0:h0 + ch, w0:w0 + cw]
    elif pad_to_aspect_ratio:
        ph = max(height, int(float(width * th) / tw))
        pw = max(width, int(float(height * tw) / th))
        hs, ws = int(float(ph - height) / 2), int(float(pw - width) / 2)
        if hs > 0:
            band = fastnn.full((n, c, hs, width), float(fill_value), dtype=x.dtype).to(x.device)
            x = fastnn.cat([band, x, band], dim=2)
        if ws > 0:
            band = fastnn.full((n, c, x.shape[2], ws), float(fill_value), dtype=x.dtype).to(x.device)
            x = fastnn.cat([band, x, band], dim=3)
    mode = _RESIZE_MODES[interpolation]
    align = False if mode in ("bilinear", "bicubic") else None
    y = F.interpolate(x, size=(th, tw), mode=mode, align_corners=align,
                      antialias=bool(antialias) and mode in ("bilinear", "bicubic"))
    y = y.permute(0, 2, 3, 1)
    if not in_dtype.is_floating_point:  # Keras rounds and saturates back to an integer input's dtype
        y = fastnn.round(y)
        if in_dtype == fastnn.uint8:
            y = fastnn.clamp(y, 0, 255)
        y = y.to(in_dtype)
    return _image_restore(y, data_format, unbatched)


# ---- affine sampling ------------------------------------------------------------------------------------
def _fix_index(idx: Tensor, size: int, fill_mode: str) -> Tensor:
    if fill_mode in ("constant", "nearest"):
        return fastnn.clamp(idx, 0, size - 1)
    if fill_mode == "wrap":
        return fastnn.remainder(idx, size)
    if fill_mode == "mirror":
        return _mirror(idx, size)
    return fastnn.floor_divide(_mirror(2 * idx + 1, 2 * size + 1) - 1, 2)  # reflect


def _mirror(idx: Tensor, size: int) -> Tensor:
    s = size - 1
    return fastnn.abs(fastnn.remainder(idx + s, 2 * s) - s)


def _taps(coord: Tensor, interpolation: str):
    if interpolation == "nearest":
        return [(fastnn.round(coord).to(fastnn.int64), None)]
    lower = fastnn.floor(coord)
    upper_w = coord - lower
    idx = lower.to(fastnn.int64)
    return [(idx, 1 - upper_w), (idx + 1, upper_w)]


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0,
                     data_format="channels_last"):
    """Keras' ``ops.image.affine_transform`` (projective terms c0, c1 must be 0, as every Keras layer
    passes them) with fastnn gathers, so gradients flow to the images."""
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {set(_INTERPOLATIONS)}. "
                         f"Received: interpolation={interpolation}")
    if fill_mode not in _FILL_MODES + ("mirror",):
        raise ValueError(f"Invalid value for argument `fill_mode`. Expected of one {set(_FILL_MODES + ('mirror',))}. "
                         f"Received: fill_mode={fill_mode}")
    x, unbatched = _image_batch(images, data_format)
    x = _float(x)
    t = as_tensor(transform).to(x.dtype).to(x.device)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    n, h, w, c = x.shape
    ys = fastnn.arange(h, dtype=x.dtype).to(x.device).reshape(1, h, 1)
    xs = fastnn.arange(w, dtype=x.dtype).to(x.device).reshape(1, 1, w)
    a0, a1, a2, b0, b1, b2 = (t[:, k].reshape(n, 1, 1) for k in range(6))
    cy = ys * b1 + xs * b0 + b2
    cx = ys * a1 + xs * a0 + a2
    return _image_restore(_sample(x, cy, cx, interpolation, fill_mode, fill_value), data_format, unbatched)


def _sample(x: Tensor, cy: Tensor, cx: Tensor, interpolation, fill_mode, fill_value) -> Tensor:
    """out[n, i, j] = x[n] read at (cy[n, i, j], cx[n, i, j]) (Keras' map_coordinates, order 0 or 1)."""
    n, h, w, c = x.shape
    flat_x = x.reshape(n, h * w, c)
    out = None
    for iy, wy in _taps(cy, interpolation):
        for ix, wx in _taps(cx, interpolation):
            fy, fx = _fix_index(iy, h, fill_mode), _fix_index(ix, w, fill_mode)
            lin = (fy * w + fx).reshape(n, h * w, 1).expand(n, h * w, c)
            value = fastnn.gather(flat_x, 1, lin).reshape(n, h, w, c)
            if fill_mode == "constant":
                valid = ((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)).unsqueeze(-1)
                value = fastnn.where(valid, value, fastnn.full_like(value, float(fill_value)))
            if wy is not None:
                value = (wy * wx).unsqueeze(-1) * value
            out = value if out is None else out + value
    return out


def homography(start_points, end_points) -> Tensor:
    """Keras' ``compute_homography_matrix``: the 8 projective coefficients mapping end points to start points,
    from an (N, 8, 8) linear solve."""
    s = as_tensor(start_points, "float32")
    e = as_tensor(end_points, "float32").to(s.device)
    if s.ndim == 2:
        s, e = s.unsqueeze(0), e.unsqueeze(0)
    rows, targets = [], []
    zero, one = fastnn.zeros_like(e[:, 0, 0]), fastnn.ones_like(e[:, 0, 0])
    for k in range(4):
        sx, sy, ex, ey = s[:, k, 0], s[:, k, 1], e[:, k, 0], e[:, k, 1]
        rows.append(fastnn.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], dim=-1))
        rows.append(fastnn.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], dim=-1))
        targets += [sx, sy]
    a = fastnn.stack(rows, dim=1)
    b = fastnn.stack(targets, dim=-1).unsqueeze(-1)
    return fastnn.linalg.solve(a, b).reshape(-1, 8)


def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0.0,
                          data_format="channels_last"):
    """Keras' ``ops.image.perspective_transform`` on its torch backend (constant fill)."""
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Invalid value for argument `interpolation`. Expected of one {set(_INTERPOLATIONS)}. "
                         f"Received: interpolation={interpolation}")
    x, unbatched = _image_batch(images, data_format)
    x = _float(x)
    t = homography(start_points, end_points).to(x.dtype).to(x.device)
    n, h, w, c = x.shape
    if t.shape[0] == 1 and n > 1:
        t = t.expand(n, 8)
    ys = fastnn.arange(h, dtype=x.dtype).to(x.device).reshape(1, h, 1)
    xs = fastnn.arange(w, dtype=x.dtype).to(x.device).reshape(1, 1, w)
    a = [t[:, k].reshape(n, 1, 1) for k in range(8)]
    denom = a[6] * xs + a[7] * ys + 1.0
    cx = (a[0] * xs + a[1] * ys + a[2]) / denom
    cy = (a[3] * xs + a[4] * ys + a[5]) / denom
    return _image_restore(_sample(x, cy, cx, interpolation, "constant", fill_value), data_format, unbatched)


def rotation_matrix(angle_deg: Tensor, height: int, width: int) -> Tensor:
    """Keras' ``_compute_affine_matrix`` for a rotation about the image centre (no shear / scale / shift)."""
    theta = angle_deg * (math.pi / 180.0)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = fastnn.cos(theta), fastnn.sin(theta)
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - cx * a0 - cy * a1
    b2 = cy - cx * b0 - cy * b1
    zeros = fastnn.zeros_like(theta)
    return fastnn.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], dim=1)


# ---- layers ---------------------------------------------------------------------------------------------
def _hw_axes(data_format):
    return (-3, -2) if data_format == "channels_last" else (-2, -1)


def _sized_shape(input_shape, data_format, height, width) -> tuple:
    """``input_shape`` with its height and width set (Resizing's, CenterCrop's, RandomCrop's output)."""
    s = list(input_shape)
    hx, wx = _hw_axes(data_format)
    s[hx], s[wx] = height, width
    return tuple(s)


class Resizing(PreprocessingLayer):
    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = height, width, interpolation
        self.data_format = normalize_data_format(data_format)
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.fill_mode, self.fill_value, self.antialias = fill_mode, fill_value, bool(antialias)

    def call(self, inputs):
        return resize(inputs, (self.height, self.width), self.interpolation, self.antialias,
                      self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_mode, self.fill_value,
                      self.data_format)

    def compute_output_shape(self, input_shape):
        return _sized_shape(input_shape, self.data_format, self.height, self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(PreprocessingLayer):
    """The central (height, width) window; an image smaller than that is cropped to the target aspect ratio
    and resized bilinearly (Keras' ``smart_resize``). Output float32."""

    def __init__(self, height, width, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.height, self.width = height, width
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs):
        x = _float(as_tensor(inputs))
        hx, wx = _hw_axes(self.data_format)
        if x.ndim not in (3, 4):
            raise ValueError(f"Expected image tensor to have rank 3 (single image) or 4 (batch of images). "
                             f"Received: data.shape={tuple(x.shape)}")
        dh, dw = x.shape[hx] - self.height, x.shape[wx] - self.width
        if dh >= 0 and dw >= 0:
            x = x.narrow(x.ndim + hx, dh // 2, self.height)
            return x.narrow(x.ndim + wx, dw // 2, self.width)
        return resize(x, (self.height, self.width), "bilinear", crop_to_aspect_ratio=True, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        return _sized_shape(input_shape, self.data_format, self.height, self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "height": self.height, "width": self.width}


class _RandomImageLayer(PreprocessingLayer):
    """Shared by the random augmentations: a seeded generator, channels_last / channels_first, and the
    training rule (None -> training, Keras' default)."""

    def __init__(self, seed=None, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.data_format = normalize_data_format(data_format)
        self._generator = fastnn.Generator()
        self._generator.manual_seed(seed if seed is not None else random.randrange(2 ** 31))

    def forward(self, inputs, training=None, **kwargs):
        self._maybe_build(inputs)
        return self.call(inputs, training=True if training is None else bool(training))

    def _uniform(self, shape, low, high, device) -> Tensor:
        u = fastnn.rand(tuple(shape), generator=self._generator)
        return (u * (float(high) - float(low)) + float(low)).to(device)

    def compute_output_shape(self, input_shape):
        return input_shape


def _factor_pair(factor, bounds, error):
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(error)
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if factor < bounds[0] or factor > bounds[1]:
            raise ValueError(error)
        f = abs(factor)
        return (max(-f, bounds[0]), f)
    raise ValueError(error)


def _base_factor(factor, bounds=(-1, 1)):
    return _factor_pair(factor or 0.0, bounds, "The `factor` argument should be a number (or a list of two numbers) "
                        f"in the range [{bounds[0]}, {bounds[1]}]. Received: factor={factor}")


class RandomFlip(_RandomImageLayer):
    """Flips each image (independently, with probability 1/2) left-right, up-down, or both at once."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode argument {mode}")
        self.mode = mode

    def call(self, inputs, training=True):
        x, unbatched = _image_batch(inputs, self.data_format)
        x = _float(x)
        if not training:
            return _image_restore(x, self.data_format, unbatched)
        flips = self._uniform((x.shape[0], 1, 1, 1), 0.0, 1.0, x.device) <= 0.5
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = fastnn.where(flips, fastnn.flip(x, [2]), x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = fastnn.where(flips, fastnn.flip(x, [1]), x)
        return _image_restore(x, self.data_format, unbatched)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "seed": self.seed, "mode": self.mode}


class RandomCrop(_RandomImageLayer):
    """A random (height, width) window in training (resized if the image is smaller); the input unchanged
    at inference, as Keras 3.15."""

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        self.height, self.width = height, width

    def call(self, inputs, training=True):
        x = _float(as_tensor(inputs))
        if not training:
            return x
        hx, wx = _hw_axes(self.data_format)
        ih, iw = x.shape[hx], x.shape[wx]
        if ih > self.height and iw > self.width:
            u = self._uniform((2,), 0.0, 1.0, "cpu").tolist()
            h0 = int(u[0] * (ih - self.height + 1))
            w0 = int(u[1] * (iw - self.width + 1))
        else:
            h0, w0, _, _ = _aspect_box(ih, iw, self.height, self.width)
        x = x.narrow(x.ndim + hx, h0, min(self.height, ih - h0)).narrow(x.ndim + wx, w0, min(self.width, iw - w0))
        if x.shape[hx] != self.height or x.shape[wx] != self.width:
            x = resize(x, (self.height, self.width), data_format=self.data_format)
        return x

    def compute_output_shape(self, input_shape):
        return _sized_shape(input_shape, self.data_format, self.height, self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "height": self.height, "width": self.width,
                "seed": self.seed}


class _AffineLayer(_RandomImageLayer):
    def _check_modes(self, fill_mode, interpolation) -> None:
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one {_FILL_MODES}.")
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one {_INTERPOLATIONS}.")

    def _matrix(self, n, h, w, device) -> Tensor:
        raise NotImplementedError

    def call(self, inputs, training=True):
        x, unbatched = _image_batch(inputs, self.data_format)
        x = _float(x)
        if training:
            n, h, w, _ = x.shape
            x = affine_transform(x, self._matrix(n, h, w, x.device), self.interpolation, self.fill_mode,
                                 self.fill_value)
        return _image_restore(x, self.data_format, unbatched)


class RandomRotation(_AffineLayer):
    """Rotates by an angle uniform in factor * 360 degrees about the centre (counter-clockwise positive)."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _base_factor(factor)
        self._check_modes(fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def _matrix(self, n, h, w, device):
        angle = self._uniform((n,), self.factor[0] * 360.0, self.factor[1] * 360.0, device)
        return rotation_matrix(angle, h, w)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "interpolation": self.interpolation,
                "seed": self.seed}


def _range_factor(factor, name, error, lowest_open=False, low=-1.0, stored_pair_ok=False, one_sided=False):
    """A factor (or pair) in [low, 1] (``low`` itself excluded with ``lowest_open``) as a sorted pair; a
    number f is (-f, f) ((0, f) when ``one_sided``). With ``stored_pair_ok`` a pair (-f, f), f in [0, 1]
    (what get_config stores for a number), is taken as it is."""
    def check(v):
        if v > 1.0 or (v <= low if lowest_open else v < low):
            raise ValueError(error + f"Received: input_number={v}")

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(error + f"Received: {name}={factor}")
        if not (stored_pair_ok and factor[0] == -factor[1] and 0 <= factor[1] <= 1):
            check(factor[0])
            check(factor[1])
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        check(factor)
        return (0, factor) if one_sided else (-abs(factor), abs(factor))
    raise ValueError(error + f"Received: {name}={factor}")


class RandomTranslation(_AffineLayer):
    """Shifts by fractions of the height / width drawn from ``height_factor`` / ``width_factor``."""

    _ERROR = "The `factor` argument should be a number (or a list of two numbers) in the range [-1.0, 1.0]. "

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _range_factor(height_factor, "height_factor", self._ERROR)
        self.width_lower, self.width_upper = _range_factor(width_factor, "width_factor", self._ERROR)
        self._check_modes(fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def _matrix(self, n, h, w, device):
        dy = self._uniform((n,), self.height_lower, self.height_upper, device) * h
        dx = self._uniform((n,), self.width_lower, self.width_upper, device) * w
        one, zero = fastnn.ones_like(dx), fastnn.zeros_like(dx)
        return fastnn.stack([one, zero, -dx, zero, one, -dy, zero, zero], dim=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value, "data_format": self.data_format}


class RandomZoom(_AffineLayer):
    """Zooms by 1 + a factor drawn from ``height_factor`` (and ``width_factor``, else the same draw);
    positive factors zoom out, negative zoom in (Keras' convention)."""

    _ERROR = ("The `height_factor` and `width_factor` arguments should be a number (or a list of two numbers) in the "
              "range (-1.0, 1.0]. ")

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _range_factor(height_factor, "height_factor", self._ERROR, True)
        if width_factor is not None:
            self.width_lower, self.width_upper = _range_factor(width_factor, "width_factor", self._ERROR, True)
        self._check_modes(fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def _matrix(self, n, h, w, device):
        zy = self._uniform((n,), 1.0 + self.height_lower, 1.0 + self.height_upper, device)
        zx = zy if self.width_factor is None else self._uniform((n,), 1.0 + self.width_lower,
                                                                1.0 + self.width_upper, device)
        zero = fastnn.zeros_like(zx)
        return fastnn.stack([zx, zero, (w - 1.0) / 2.0 * (1.0 - zx), zero, zy, (h - 1.0) / 2.0 * (1.0 - zy), zero,
                             zero], dim=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value, "data_format": self.data_format}


class RandomContrast(_RandomImageLayer):
    """(x - mean) * f + mean per image and channel, f uniform in [1 - lower, 1 + upper] of ``factor``,
    clipped to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor = _base_factor(factor, (0, 1))
        self.value_range = value_range

    def call(self, inputs, training=True):
        x, unbatched = _image_batch(inputs, self.data_format)
        x = _float(x)
        if training:
            f = self._uniform((x.shape[0], 1, 1, 1), 1.0 - self.factor[0], 1.0 + self.factor[1], x.device)
            mean = fastnn.mean(x, dim=(1, 2), keepdim=True)
            x = fastnn.clamp((x - mean) * f + mean, self.value_range[0], self.value_range[1])
        return _image_restore(x, self.data_format, unbatched)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomBrightness(_RandomImageLayer):
    """Adds factor * (value_range width) to each image (one draw per image), clipped to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor = _base_factor(factor)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"The `value_range` argument should be a list of two numbers. Received: "
                             f"value_range={value_range}")
        self.value_range = sorted(value_range)

    def call(self, inputs, training=True):
        x = _float(as_tensor(inputs))
        if x.ndim not in (3, 4):
            raise ValueError(f"Expected the input image to be rank 3 or 4. Received inputs.shape={tuple(x.shape)}")
        if not training:
            return x
        shape = (1, 1, 1) if x.ndim == 3 else (x.shape[0], 1, 1, 1)
        delta = self._uniform(shape, self.factor[0], self.factor[1], x.device)
        delta = delta * (self.value_range[1] - self.value_range[0])
        return fastnn.clamp(x + delta, self.value_range[0], self.value_range[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}



class RandomShear(_AffineLayer):
    """Shears along x and y by factors drawn from ``x_factor`` / ``y_factor`` (in [0, 1]), both negated for
    about half the images (Keras' random ``invert``)."""

    _ERROR = "The `factor` argument should be a number (or a list of two numbers) in the range [0, 1.0]. "

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 data_format=None, seed=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = self._shear_factor(x_factor, "x_factor")
        self.y_factor = self._shear_factor(y_factor, "y_factor")
        self._check_modes(fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def _shear_factor(self, factor, name):
        return _range_factor(factor, name, self._ERROR, low=0.0, stored_pair_ok=True)

    def _matrix(self, n, h, w, device):
        sign = fastnn.where(self._uniform((n,), 0.0, 1.0, device) > 0.5, -1.0, 1.0)
        sy = self._uniform((n,), self.y_factor[0], self.y_factor[1], device) * sign
        sx = self._uniform((n,), self.x_factor[0], self.x_factor[1], device) * sign
        one, zero = fastnn.ones_like(sx), fastnn.zeros_like(sx)
        return fastnn.stack([one, sx, zero, sy, one, zero, zero, zero], dim=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "x_factor": self.x_factor,
                "y_factor": self.y_factor, "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "interpolation": self.interpolation, "seed": self.seed}


class RandomPerspective(_RandomImageLayer):
    """Moves each image's corners by up to ``scale`` / 2 of the image size (one draw per corner) and warps the
    image accordingly (constant ``fill_value``), with probability drawn from ``factor``."""

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None, data_format=None,
                 **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _base_factor(factor, (0, 1))
        if scale < 0.0 or scale > 1.0:
            raise ValueError(f"The `scale` argument should be a number in the range [0,1]. Received: scale={scale}")
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one {_INTERPOLATIONS}.")
        self.scale, self.interpolation, self.fill_value = scale, interpolation, fill_value

    def call(self, inputs, training=True):
        x, unbatched = _image_batch(inputs, self.data_format)
        x = _float(x)
        if training:
            n, h, w, _ = x.shape
            p = self._uniform((n,), self.factor[0], self.factor[1], x.device)
            apply = (self._uniform((n,), 0.0, 1.0, x.device) < p).reshape(n, 1, 1, 1)
            moves = self._uniform((n, 4, 2), -0.5 * self.scale, 0.5 * self.scale, x.device)
            start = fastnn.tensor([[0.0, 0.0], [w - 1.0, 0.0], [0.0, h - 1.0], [w - 1.0, h - 1.0]]).to(x.device)
            start = start.unsqueeze(0).expand(n, 4, 2)
            warped = perspective_transform(x, start, start + start * moves, self.interpolation, self.fill_value)
            x = fastnn.where(apply, warped, x)
        return _image_restore(x, self.data_format, unbatched)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor, "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value, "seed": self.seed}
