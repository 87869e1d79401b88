"""Colour / intensity image layers on fastnn ops: AutoContrast (deterministic), and the random
RandomGrayscale, RandomInvert, Solarization, RandomPosterization, RandomColorDegeneration and RandomSharpness
(identity at inference, as Keras; RandomGrayscale's output keeps the input's channel count, the grey value
repeated, as Keras' broadcast gives)."""
from __future__ import annotations

import fastnn

from ....nn import functional as F
from ..conv import normalize_data_format
from ._common import PreprocessingLayer, Tensor, as_tensor
from .image import _factor_pair, _float, _RandomImageLayer, _range_factor


def _value_range(value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"The `value_range` argument should be a list of two numbers. Received: "
                         f"value_range={value_range}")
    return sorted(value_range)


def _rescale(x: Tensor, source, target) -> Tensor:
    """Keras' ``_transform_value_range``: a linear map of ``source`` onto ``target``."""
    if source[0] == target[0] and source[1] == target[1]:
        return x
    x = (x - float(source[0])) / (float(source[1]) - float(source[0]))
    return x * (float(target[1]) - float(target[0])) + float(target[0])


def _images(inputs, data_format):
    x = _float(as_tensor(inputs))
    if x.ndim not in (3, 4):
        raise ValueError(f"Expected the input image to be rank 3 or 4. Received inputs.shape={tuple(x.shape)}")
    hw = (-3, -2) if data_format == "channels_last" else (-2, -1)
    return x, tuple(d % x.ndim for d in hw)


class AutoContrast(PreprocessingLayer):
    """Stretches each image's channels to the full ``value_range`` (min -> low, max -> high); a flat channel
    (max == min) is left as it is. Applied in training and inference alike, as Keras does."""

    def __init__(self, value_range=(0, 255), data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.value_range = _value_range(value_range)
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs):
        original = as_tensor(inputs)
        x, hw = _images(original, self.data_format)
        x = _rescale(x, self.value_range, (0, 255))
        low = fastnn.amin(x, dim=hw, keepdim=True)
        high = fastnn.amax(x, dim=hw, keepdim=True)
        flat = high == low  # Keras gets NaN there (0 * inf) and puts the input back: same, without the NaN
        scale = 255.0 / fastnn.where(flat, fastnn.ones_like(high), high - low)
        y = fastnn.clamp(x * scale + (-low * scale), 0.0, 255.0)
        y = _rescale(y, (0, 255), self.value_range)
        return fastnn.where(flat, _float(original), y)  # float32 for integer images too, as Keras

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "value_range": self.value_range}


def rgb_to_grayscale(x: Tensor, data_format="channels_last") -> Tensor:
    """Keras' torch-backend ``rgb_to_grayscale``: 0.2989 R + 0.587 G + 0.114 B, one channel."""
    axis = -1 if data_format == "channels_last" else -3
    if x.shape[axis] not in (1, 3):
        raise ValueError(f"Invalid channel size: expected 3 (RGB) or 1 (Grayscale). Received input with shape: "
                         f"images.shape={tuple(x.shape)}")
    if x.shape[axis] == 1:
        return x
    r, g, b = (x.narrow(x.ndim + axis, i, 1) for i in range(3))
    return 0.2989 * r + 0.587 * g + 0.114 * b


class RandomGrayscale(_RandomImageLayer):
    """Turns each image grey with probability ``factor``."""

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if factor < 0 or factor > 1:
            raise ValueError(f"`factor` should be between 0 and 1. Received: factor={factor}")
        self.factor = factor

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        apply = self._uniform((n,), 0.0, 1.0, x.device) < self.factor
        apply = apply.reshape((n, 1, 1, 1) if x.ndim == 4 else (1, 1, 1))
        return fastnn.where(apply, rgb_to_grayscale(x, self.data_format).expand_as(x), x)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor}


def _unit_factor(factor, error):
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > 1 or factor[1] < 0:
            raise ValueError(error)
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if factor < 0 or factor > 1:
            raise ValueError(error)
        return (0, abs(factor))
    raise ValueError(error)


class RandomInvert(_RandomImageLayer):
    """value_range[1] - x for each image with probability drawn from ``factor``."""

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_factor(factor, "The `factor` argument should be a number (or a list of two numbers) in "
                                   f"the range [0, 1]. Received: factor={factor}")
        self.value_range = value_range

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        p = self._uniform((n,), self.factor[0], self.factor[1], x.device)
        apply = (self._uniform((n,), 0.0, 1.0, x.device) < p).reshape((n, 1, 1, 1) if x.ndim == 4 else (1, 1, 1))
        return fastnn.where(apply, float(self.value_range[1]) - x, x)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class Solarization(_RandomImageLayer):
    """Adds a random amount (``addition_factor`` * 255), then inverts the pixels at or above a random
    threshold (``threshold_factor`` * 255), on the 0..255 scale of ``value_range``."""

    _ERROR = ("The `addition_factor` and `threshold_factor` arguments should be a number (or a list of two numbers) "
              "in the range [0, 1]. ")

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs) -> None:
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = self._factor(addition_factor, "addition_factor")
        self.threshold_factor = self._factor(threshold_factor, "threshold_factor")
        self.value_range = _value_range(value_range)

    def _factor(self, factor, name):
        return _range_factor(factor, name, self._ERROR, low=0.0, one_sided=True)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        shape = (x.shape[0], 1, 1, 1) if x.ndim == 4 else (1, 1, 1)
        # Keras draws uniform(low, high * 255) for both (the low end is not scaled)
        additions = self._uniform(shape, self.addition_factor[0], self.addition_factor[1] * 255, x.device)
        thresholds = self._uniform(shape, self.threshold_factor[0], self.threshold_factor[1] * 255, x.device)
        y = fastnn.clamp(_rescale(x, self.value_range, (0, 255)) + additions, 0, 255)
        y = fastnn.where(y < thresholds, y, 255 - y)
        return _rescale(y, (0, 255), self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "value_range": self.value_range,
                "addition_factor": self.addition_factor, "threshold_factor": self.threshold_factor,
                "seed": self.seed}


class _FactorColorLayer(_RandomImageLayer):
    """Keras' ``(factor, value_range=(0, 255), data_format=None, seed=None)`` colour layers: ``factor``
    bounded by the class' ``_factor_bounds``, ``value_range`` checked, and their config."""
    _factor_bounds = (-1, 1)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _bounded_factor(factor, self._factor_bounds)
        self.value_range = _value_range(value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomPosterization(_FactorColorLayer):
    """Keeps the top ``bits`` bits of each 0..255 value, ``bits`` drawn per image from ``factor`` in [1, 8]
    (Keras' randint: the upper bound is excluded unless both bounds are equal)."""
    _factor_bounds = (1, 8)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        low, high = self.factor
        if low != high:
            bits = fastnn.floor(self._uniform((n,), low, high, x.device))
        else:
            bits = fastnn.full((n,), float(low)).to(x.device)
        step = (2.0 ** (8 - bits)).reshape((n, 1, 1, 1) if x.ndim == 4 else (1, 1, 1))
        v = _rescale(x, self.value_range, (0, 255)).to(fastnn.uint8).to(x.dtype)  # Keras' uint8 cast
        return _rescale(fastnn.floor(v / step) * step, (0, 255), self.value_range)


def _bounded_factor(factor, bounds):
    return _factor_pair(factor, bounds, f"The `factor` argument should be a number (or a list of two numbers) in the "
                        f"range [{bounds[0]}, {bounds[1]}]. Received: factor={factor}")


class RandomColorDegeneration(_FactorColorLayer):
    """Blends each RGB image towards its greyscale version by a factor drawn from ``factor``."""
    _factor_bounds = (-1, 1)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        f = self._uniform((n, 1, 1, 1) if x.ndim == 4 else (1, 1, 1), self.factor[0], self.factor[1], x.device)
        gray = rgb_to_grayscale(x, self.data_format)
        return fastnn.clamp(x + f * (gray - x), self.value_range[0], self.value_range[1])

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1 if self.data_format == "channels_last" else -3]
        if channels is not None and channels != 3:
            raise ValueError(f"Input images must have 3 channels, but received images with {channels} channels.")
        return input_shape


class RandomSharpness(_FactorColorLayer):
    """Blends each image with a 3x3 smoothing of it (Keras' kernel: 5/13 centre, 1/13 around, zero padding):
    x + (1 - 2 f) (smooth - x), f drawn from ``factor`` in [0, 1]."""
    _factor_bounds = (0, 1)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        batched = x.unsqueeze(0) if x.ndim == 3 else x
        nchw = batched.permute(0, 3, 1, 2) if self.data_format == "channels_last" else batched
        n, c = nchw.shape[0], nchw.shape[1]
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = fastnn.tensor([[a, a, a], [a, b, a], [a, a, a]], dtype=x.dtype).to(x.device)
        kernel = kernel.reshape(1, 1, 3, 3).expand(c, 1, 3, 3).contiguous()
        smooth = F.conv2d(nchw, kernel, padding=1, groups=c)
        s = self._uniform((n, 1, 1, 1), self.factor[0], self.factor[1], x.device) * 2.0
        y = fastnn.clamp(nchw + (1.0 - s) * (smooth - nchw), self.value_range[0], self.value_range[1])
        y = y.permute(0, 2, 3, 1) if self.data_format == "channels_last" else y
        return y.squeeze(0) if x.ndim == 3 else y


def _planes(x: Tensor, data_format):
    axis = -1 if data_format == "channels_last" else -3
    if x.shape[axis] != 3:
        raise ValueError(f"Expected RGB images with 3 channels. Received: images.shape={tuple(x.shape)}")
    return [x.narrow(x.ndim + axis, i, 1) for i in range(3)], axis


def rgb_to_hsv(x: Tensor, data_format="channels_last") -> Tensor:
    """Keras' torch-backend ``rgb_to_hsv`` (hue in [0, 1), values below float eps treated as 0)."""
    x = _float(as_tensor(x))
    eps = 1.1920928955078125e-07 if x.dtype == fastnn.float32 else 2.220446049250313e-16
    x = fastnn.where(fastnn.abs(x) < eps, fastnn.zeros_like(x), x)
    (r, g, b), axis = _planes(x, data_format)
    value = fastnn.maximum(fastnn.maximum(r, g), b)
    minimum = fastnn.minimum(fastnn.minimum(r, g), b)
    rng = value - minimum
    one = fastnn.ones_like(value)
    saturation = fastnn.where(value > 0, rng / fastnn.where(value > 0, value, one), fastnn.zeros_like(value))
    norm = 1.0 / (6.0 * fastnn.where(rng > 0, rng, one))
    hue = fastnn.where(value == g, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0)
    hue = fastnn.where(value == r, norm * (g - b), hue)
    hue = fastnn.where(rng > 0, hue, fastnn.zeros_like(hue)) + (hue < 0.0).to(hue.dtype)
    return fastnn.cat([hue, saturation, value], dim=x.ndim + axis)


def hsv_to_rgb(x: Tensor, data_format="channels_last") -> Tensor:
    """Keras' torch-backend ``hsv_to_rgb``."""
    x = _float(as_tensor(x))
    (h, s, v), axis = _planes(x, data_format)
    dh = fastnn.remainder(h, 1.0) * 6.0
    dr = fastnn.clamp(fastnn.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = fastnn.clamp(2.0 - fastnn.abs(dh - 2.0), 0.0, 1.0)
    db = fastnn.clamp(2.0 - fastnn.abs(dh - 4.0), 0.0, 1.0)
    keep = 1.0 - s
    return fastnn.cat([v * (keep + s * dr), v * (keep + s * dg), v * (keep + s * db)], dim=x.ndim + axis)


def _with_channel(x: Tensor, index: int, plane: Tensor, data_format) -> Tensor:
    planes, axis = _planes(x, data_format)
    planes[index] = plane
    return fastnn.cat(planes, dim=x.ndim + axis)


def _per_image(t: Tensor, x: Tensor) -> Tensor:
    return t.reshape((t.shape[0], 1, 1, 1) if x.ndim == 4 else (1, 1, 1))


class RandomHue(_RandomImageLayer):
    """Shifts the hue by +-factor/2 of a turn (sign drawn per image, as Keras), on ``value_range`` images."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _bounded_factor(factor, (0, 1))
        self.value_range = value_range

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        sign = fastnn.where(self._uniform((n,), 0.0, 1.0, x.device) > 0.5, -1.0, 1.0)
        shift = _per_image(sign * self._uniform((n,), self.factor[0], self.factor[1], x.device) * 0.5, x)
        hsv = rgb_to_hsv(_rescale(x, self.value_range, (0, 1)), self.data_format)
        (h, _, _), _ = _planes(hsv, self.data_format)
        h = h + shift
        h = fastnn.where(h > 1.0, h - 1.0, h)
        h = fastnn.where(h < 0.0, h + 1.0, h)
        rgb = fastnn.clamp(hsv_to_rgb(_with_channel(hsv, 0, h, self.data_format), self.data_format), 0, 1)
        return _rescale(rgb, (0, 1), self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomSaturation(_FactorColorLayer):
    """Scales the saturation by f / (1 - f) with f drawn from ``factor`` (0.5 keeps it; Keras then clips
    the saturation to ``value_range``)."""
    _factor_bounds = (-1, 1)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        f = self._uniform((n,), self.factor[0], self.factor[1], x.device)
        f = _per_image(f / (1 - f + 1e-7), x)
        hsv = rgb_to_hsv(x, self.data_format)
        (_, s, _), _ = _planes(hsv, self.data_format)
        s = fastnn.clamp(s * f, self.value_range[0], self.value_range[1])
        return hsv_to_rgb(_with_channel(hsv, 1, s, self.data_format), self.data_format)


class RandomColorJitter(_RandomImageLayer):
    """RandomBrightness, RandomContrast, RandomSaturation, RandomHue in that order, each present when its
    factor is given (the sub-layers draw from generators seeded from ``seed``)."""

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None, saturation_factor=None,
                 hue_factor=None, seed=None, data_format=None, **kwargs) -> None:
        from .image import RandomBrightness, RandomContrast

        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = value_range
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        steps = []
        for k, (factor, cls) in enumerate(((brightness_factor, RandomBrightness), (contrast_factor, RandomContrast),
                                           (saturation_factor, RandomSaturation), (hue_factor, RandomHue))):
            if factor is not None:
                sub_seed = None if seed is None else seed + k
                extra = {} if cls is RandomBrightness else {"data_format": data_format}
                steps.append(cls(factor, value_range=value_range, seed=sub_seed, **extra))
        self._steps = steps
        for i, layer in enumerate(steps):
            self.add_module(f"step_{i}", layer)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        for layer in self._steps:
            x = layer.call(x, training=training)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "value_range": self.value_range,
                "brightness_factor": self.brightness_factor, "contrast_factor": self.contrast_factor,
                "saturation_factor": self.saturation_factor, "hue_factor": self.hue_factor, "seed": self.seed}


def _odd_pair(value, name):
    error = f"{name} must be an odd number. Received: {name}={value}"
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"The `{name}` argument should be a number (or a list of two numbers) Received: "
                             f"{name}={value}")
        if value[0] % 2 == 0 or value[1] % 2 == 0:
            raise ValueError(error)
        return tuple(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value % 2 == 0:
            raise ValueError(error)
        return (value, value)
    raise ValueError(error)


def gaussian_blur(x: Tensor, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format="channels_last") -> Tensor:
    """Keras' torch-backend ``gaussian_blur``: a depthwise Gaussian, zero padding of kernel_size[0] // 2."""
    x = _float(as_tensor(x))
    batched = x.unsqueeze(0) if x.ndim == 3 else x
    nchw = batched.permute(0, 3, 1, 2) if data_format == "channels_last" else batched
    c = nchw.shape[1]
    sigma = as_tensor(sigma, "float32").to(x.dtype).to(x.device)

    def taps(size, s):
        t = fastnn.arange(size, dtype=x.dtype).to(x.device) - (size - 1) / 2
        k = fastnn.exp(-0.5 * (t / s) ** 2)
        return k / fastnn.sum(k)

    kh, kw = int(kernel_size[0]), int(kernel_size[1])
    kernel = fastnn.outer(taps(kw, sigma[1]), taps(kh, sigma[0])).reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    y = F.conv2d(nchw, kernel.contiguous(), padding=kh // 2, groups=c)
    y = y.permute(0, 2, 3, 1) if data_format == "channels_last" else y
    return y.squeeze(0) if x.ndim == 3 else y


class RandomGaussianBlur(_RandomImageLayer):
    """Blurs each image with probability drawn from ``factor``; one (sigma_y, sigma_x) pair drawn from
    ``sigma`` per batch, as Keras."""

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _bounded_factor(factor, (0, 1))
        self.kernel_size = _odd_pair(kernel_size, "kernel_size")
        self.sigma = _bounded_factor(sigma, (0, 1))
        self.value_range = value_range

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        p = self._uniform((n,), self.factor[0], self.factor[1], x.device)
        apply = _per_image(self._uniform((n,), 0.0, 1.0, x.device) < p, x)
        sigma = self._uniform((2,), self.sigma[0], self.sigma[1], x.device) + 1e-6
        blurred = gaussian_blur(x, self.kernel_size, sigma, self.data_format)
        return fastnn.clamp(fastnn.where(apply, blurred, x), self.value_range[0], self.value_range[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor,
                "kernel_size": self.kernel_size, "sigma": self.sigma, "value_range": self.value_range,
                "seed": self.seed}


class Equalization(PreprocessingLayer):
    """Histogram equalisation per channel (one histogram of ``bins`` bins over the whole batch, as Keras),
    in training only (identity at inference, as Keras 3.15)."""

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bins = bins
        self.value_range = _value_range(value_range)
        self.data_format = normalize_data_format(data_format)

    def forward(self, inputs, training=None, **kwargs):
        return self.call(inputs, training=True if training is None else bool(training))

    def _equalize(self, channel: Tensor) -> Tensor:
        from ... import ops as kops

        channel = _rescale(channel, self.value_range, (0, 255))
        idx = fastnn.clamp((channel * (self.bins - 1) / 255.0).to(fastnn.int32), 0, self.bins - 1)
        hist = kops.bincount(idx.reshape(-1).to(fastnn.int64), minlength=self.bins)
        if int(fastnn.count_nonzero(hist)) <= 1:
            return _rescale(channel, (0, 255), self.value_range)
        cdf = fastnn.cumsum(hist, dim=0)
        cdf_min = fastnn.amin(fastnn.where(cdf > 0, cdf, fastnn.full_like(cdf, 2 ** 62)))
        denominator = cdf[-1] - cdf_min
        denominator = fastnn.where(denominator == 0, fastnn.ones_like(denominator), denominator)
        table = fastnn.clamp(fastnn.round((cdf - cdf_min) * 255 / denominator), 0, 255).to(channel.dtype)
        lut_idx = fastnn.clamp(channel / 255.0 * (self.bins - 1), 0, self.bins - 1).to(fastnn.int64)
        return _rescale(table[lut_idx], (0, 255), self.value_range)

    def call(self, inputs, training=True):
        x, _ = _images(inputs, self.data_format)
        if not training:
            return x
        axis = -1 if self.data_format == "channels_last" else -3
        channels = [self._equalize(x.select(x.ndim + axis, i)) for i in range(x.shape[axis])]
        return fastnn.stack(channels, dim=x.ndim + axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "bins": self.bins,
                "value_range": self.value_range}


def _box_mask(x, n: int, axes, size, xs, ys):
    """True inside each of the ``n`` images' boxes ``[x0, x1) x [y0, y1)`` (per-image bounds, shape (n,)),
    broadcast over a 4-D batch whose height / width axes are ``axes`` and sizes ``size``; on x's device,
    in x's dtype for the grid."""
    (hx, wx), (h, w), (x0, x1), (y0, y1) = axes, size, xs, ys
    shape = [1, 1, 1, 1]
    shape[hx] = h
    gy = fastnn.arange(h, dtype=x.dtype).to(x.device).reshape(shape)
    shape = [1, 1, 1, 1]
    shape[wx] = w
    gx = fastnn.arange(w, dtype=x.dtype).to(x.device).reshape(shape)

    def per(t):
        return t.reshape(n, 1, 1, 1)

    return (gx >= per(x0)) & (gx < per(x1)) & (gy >= per(y0)) & (gy < per(y1))


class RandomErasing(_RandomImageLayer):
    """Fills a random rectangle (sides sqrt(scale) of the image's, drawn per image) with ``fill_value`` (a
    number, three numbers, or None: Gaussian noise * value_range[1], clipped to ``value_range``), for each
    image with probability drawn from ``factor``."""

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None,
                 data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _bounded_factor(factor, (0, 1))
        self.scale = _bounded_factor(scale, (0, 1))
        if fill_value is not None and not (isinstance(fill_value, (int, float)) or
                                           (isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)):
            raise ValueError("The `fill_value` argument should be a number (or a list of three numbers) ")
        self.fill_value, self.value_range = fill_value, value_range

    def call(self, inputs, training=True):
        x, hw = _images(inputs, self.data_format)
        if not training:
            return x
        batched = x.unsqueeze(0) if x.ndim == 3 else x
        n = batched.shape[0]
        hx, wx = (1, 2) if self.data_format == "channels_last" else (2, 3)
        h, w = batched.shape[hx], batched.shape[wx]
        side = fastnn.sqrt(self._uniform((n, 2), self.scale[0], self.scale[1], x.device))

        def bounds(length, ratio):
            crop = ratio * length
            start = self._uniform((n,), 0.0, 1.0, x.device) * (length - crop)
            return start, start + crop

        x0, x1 = bounds(w, side[:, 0])
        y0, y1 = bounds(h, side[:, 1])
        mask = _box_mask(x, n, (hx, wx), (h, w), (x0, x1), (y0, y1))

        def per(t):
            return t.reshape(n, 1, 1, 1)

        p = self._uniform((n,), self.factor[0], self.factor[1], x.device)
        apply = per(self._uniform((n,), 0.0, 1.0, x.device) < p)
        if self.fill_value is None:
            fill = fastnn.randn(tuple(batched.shape), generator=self._generator).to(x.device) * self.value_range[1]
        elif isinstance(self.fill_value, (tuple, list)):
            cshape = [1, 1, 1, 1]
            cshape[3 if self.data_format == "channels_last" else 1] = 3
            fill = fastnn.tensor([float(v) for v in self.fill_value], dtype=x.dtype).to(x.device).reshape(cshape)
            fill = fill.expand_as(batched)
        else:
            fill = fastnn.full_like(batched, float(self.fill_value))
        fill = fastnn.clamp(fill, self.value_range[0], self.value_range[1])
        y = fastnn.where(apply & mask, fill, batched)
        return y.squeeze(0) if x.ndim == 3 else y

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor, "scale": self.scale,
                "fill_value": self.fill_value, "value_range": self.value_range, "seed": self.seed}
