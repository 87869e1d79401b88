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
from .image_color import _bounded_factor


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
        shape = [1, 1, 1, 1]
        shape[hx] = h
        gy = fastnn.arange(h, dtype=x.dtype).to(x.device).reshape(shape)
        shape = [1, 1, 1, 1]
        shape[wx] = w
        gx = fastnn.arange(w, dtype=x.dtype).to(x.device).reshape(shape)

        def per(t):
            return t.reshape(n, 1, 1, 1)

        mask = (gx >= per(x0)) & (gx < per(x1)) & (gy >= per(y0)) & (gy < per(y1))
        order = fastnn.randperm(n, generator=self._generator).to(x.device)
        weight = 1.0 - (x1 - x0) * (y1 - y0) / (w * h)
        return fastnn.where(mask, x[order], x), _mix_labels(y, order, weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "factor": self.factor, "seed": self.seed}
