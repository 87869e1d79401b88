"""MixUp and CutMix: mix each image of a batch with another of the same batch (a random permutation), and
their labels by the same weights. Input: an image batch, or a dict with "images" and optionally "labels"
(Keras' form; bounding boxes and segmentation masks are not supported). The Beta draws come from a
Python ``random.Random`` seeded with ``seed`` (one number per image, on the host); the mixing runs on
fastnn ops. Identity at inference, as Keras."""
from __future__ import annotations

import random

import fastnn

from ._common import Tensor, as_tensor
from .image import _float, _RandomImageLayer
from .image_color import _bounded_factor, _box_mask


class _MixLayer(_RandomImageLayer):
    def __init__(self, seed=None, data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self._py_random = random.Random(seed)

    def forward(self, inputs, training=None, **kwargs):
        return self.call(inputs, training=True if training is None else bool(training))

    def call(self, inputs, training=True):
        is_dict = isinstance(inputs, dict)
        if is_dict:
            unknown = set(inputs) - {"images", "labels"}
            if unknown:
                raise NotImplementedError(f"{type(self).__name__}: inputs with {sorted(unknown)} are not supported "
                                          "by fastnn.keras (only 'images' and 'labels')")
            images, labels = inputs["images"], inputs.get("labels")
        else:
            images, labels = inputs, None
        x = _float(as_tensor(images))
        if x.ndim not in (3, 4):
            raise ValueError(f"Expected the input image to be rank 3 or 4. Received inputs.shape={tuple(x.shape)}")
        y = None if labels is None else _float(as_tensor(labels))
        if training and x.ndim == 4:
            x, y = self._mix(x, y)
        if not is_dict:
            return x
        out = dict(inputs)
        out["images"] = x
        if y is not None:
            out["labels"] = y
        return out

    def _beta(self, n, alpha) -> Tensor:
        return fastnn.tensor([self._py_random.betavariate(alpha, alpha) for _ in range(n)], dtype=fastnn.float32)

    def _mix(self, x, y):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape


def _mix_labels(y, order, weight):
    if y is None:
        return None
    w = weight.reshape(-1, *([1] * (y.ndim - 1))).to(y.dtype)
    return w * y + (1.0 - w) * y[order]


class MixUp(_MixLayer):
    """w x + (1 - w) x[perm], w ~ Beta(alpha, alpha) per image; labels mixed alike."""

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.alpha = alpha

    def _mix(self, x, y):
        n = x.shape[0]
        order = fastnn.randperm(n, generator=self._generator).to(x.device)
        weight = self._beta(n, self.alpha).to(x.device)
        w = weight.reshape(n, 1, 1, 1).to(x.dtype)
        return w * x + (1.0 - w) * x[order], _mix_labels(y, order, weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "alpha": self.alpha, "seed": self.seed}


class CutMix(_MixLayer):
    """Pastes a rectangle of x[perm] into each image (area from a Beta(a, a) draw, a drawn from ``factor``);
    labels mixed by the area kept."""

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs) -> None:
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _bounded_factor(factor, (0, 1))

    def _mix(self, x, y):
        n = x.shape[0]
        hx, wx = (1, 2) if self.data_format == "channels_last" else (2, 3)
        h, w = x.shape[hx], x.shape[wx]
        alpha = self._py_random.uniform(self.factor[0], self.factor[1]) + 1e-6
        ratio = fastnn.sqrt(1.0 - self._beta(n, alpha)).to(x.device)

        def bounds(length):
            crop = ratio * length
            start = self._uniform((n,), 0.0, 1.0, x.device) * (length - crop)
            return start, start + crop

        x0, x1 = bounds(w)
        y0, y1 = bounds(h)
        mask = _box_mask(x, n, (hx, wx), (h, w), (x0, x1), (y0, y1))
        order = fastnn.randperm(n, generator=self._generator).to(x.device)
        weight = 1.0 - (x1 - x0) * (y1 - y0) / (w * h)
        return fastnn.where(mask, x[order], x), _mix_labels(y, order, weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor, "seed": self.seed}


class RandAugment(_RandomImageLayer):
    """Applies ``num_ops`` augmentations chosen at random (one choice per call, for the whole batch, as
    Keras) from shear, translation, rotation, brightness, colour degeneration, contrast, sharpness,
    posterization, solarization, auto-contrast and equalization, each with strength ``factor``."""

    _AUGMENT_LAYERS = ["random_shear", "random_translation", "random_rotation", "random_brightness",
                       "random_color_degeneration", "random_contrast", "random_sharpness", "random_posterization",
                       "solarization", "auto_contrast", "equalization"]

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs) -> None:
        from . import image, image_color

        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range, self.num_ops, self.interpolation = value_range, num_ops, interpolation
        self.factor = _bounded_factor(factor, (0, 1))
        f, df, vr = self.factor, data_format, value_range
        self._ops = [
            image.RandomShear(x_factor=f, y_factor=f, interpolation=interpolation, seed=seed, data_format=df),
            image.RandomTranslation(height_factor=f, width_factor=f, interpolation=interpolation, seed=seed,
                                    data_format=df),
            image.RandomRotation(factor=f, interpolation=interpolation, seed=seed, data_format=df),
            image.RandomBrightness(factor=f, value_range=vr, seed=seed, data_format=df),
            image_color.RandomColorDegeneration(factor=f, value_range=vr, seed=seed, data_format=df),
            image.RandomContrast(factor=f, value_range=vr, seed=seed, data_format=df),
            image_color.RandomSharpness(factor=f, value_range=vr, seed=seed, data_format=df),
            image_color.RandomPosterization(factor=max(1, int(8 * f[1])), value_range=vr, seed=seed, data_format=df),
            image_color.Solarization(addition_factor=f, threshold_factor=f, value_range=vr, seed=seed,
                                     data_format=df),
            image_color.AutoContrast(value_range=vr, data_format=df),
            image_color.Equalization(value_range=vr, data_format=df),
        ]
        for name, layer in zip(self._AUGMENT_LAYERS, self._ops):
            self.add_module(name, layer)

    def call(self, inputs, training=True):
        x = _float(as_tensor(inputs))
        if not training:
            return x
        picks = fastnn.randint(0, len(self._ops), (self.num_ops,), generator=self._generator).tolist()
        for k in picks:
            layer = self._ops[k]
            x = layer.call(x, training=True) if "training" in _params(layer) else layer.call(x)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "value_range": self.value_range,
                "num_ops": self.num_ops, "factor": self.factor, "interpolation": self.interpolation,
                "seed": self.seed}


def _params(layer):
    import inspect

    return inspect.signature(layer.call).parameters
