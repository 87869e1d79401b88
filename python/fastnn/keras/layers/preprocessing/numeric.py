"""Numeric preprocessing layers on fastnn ops (they run inside models, on any device): Normalization,
Rescaling, Discretization, CategoryEncoding. ``adapt`` statistics are computed with fastnn ops too."""
from __future__ import annotations

import math

import fastnn

from ....autograd.grad_mode import no_grad
from ._common import PreprocessingLayer, Tensor, as_tensor, encode_categorical, validate_string_arg

_EPSILON = 1e-7  # keras.backend.epsilon()


def _is_batch_iterable(data) -> bool:
    """A list / generator of batches (not one array or tensor)."""
    return not (isinstance(data, Tensor) or hasattr(data, "shape")) and hasattr(data, "__iter__")


def _assign(weight: Tensor, value: Tensor) -> None:
    with no_grad():
        weight.copy_(value.to(weight.dtype).reshape(tuple(weight.shape)))


class Normalization(PreprocessingLayer):
    """(x - mean) / max(sqrt(variance), 1e-7) per index of the kept ``axis``; ``invert=True`` undoes it.
    Weights (when not given ``mean``/``variance``): mean, variance, count, as Keras'."""

    _passes_masks = True  # Keras: supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs) -> None:
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = invert
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. Received: "
                             f"mean={mean} and variance={variance}")
        if mean is not None:
            ms, vs = _shape(mean), _shape(variance)
            if ms != vs:
                raise ValueError("When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {ms} and variance shape {vs}")
            if len(ms) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {ms} for axis {self.axis}")

    def build(self, input_shape) -> None:
        if input_shape is None:
            return
        ndim = len(input_shape)
        self._build_input_shape = tuple(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis="
                                 f"{self.axis}, inputs.shape={tuple(input_shape)}, with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            # registered as the attributes mean / variance / count (Keras' weight names)
            self.add_weight(name="mean", shape=self._mean_and_var_shape, initializer="zeros", trainable=False)
            self.add_weight(name="variance", shape=self._mean_and_var_shape, initializer="ones", trainable=False)
            self.add_weight(name="count", shape=(), dtype="int32", initializer="zeros", trainable=False)
        else:
            self._given = (self._expand(self.input_mean, ndim), self._expand(self.input_variance, ndim))
        self.built = True

    def _expand(self, value, ndim) -> Tensor:
        v = as_tensor(value, "float32")
        if v.ndim:
            shape = [1] * ndim
            for i in range(1, v.ndim + 1):
                shape[self._keep_axis[-i]] = v.shape[-i]
            v = v.reshape(tuple(shape))
        return fastnn.broadcast_to(v, self._broadcast_shape).contiguous()

    def adapt(self, data) -> None:
        """The mean and variance of ``data`` (an array, a tensor, or an iterable of batches) over the
        non-kept axes; batches are merged with Keras' running weighted update."""
        batches = None
        if _is_batch_iterable(data):
            batches = iter(data)
            first = next(batches, None)
            if first is None:
                raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch. "
                                 "Pass a non-empty iterable of arrays or tensors, e.g. layer.adapt([x]) or "
                                 "layer.adapt(list_of_batches).")
            first = _batch_x(first)
            if not hasattr(first, "shape"):
                raise TypeError("adapt() expects an iterable that yields arrays or tensors with a `.shape` "
                                f"attribute (e.g. numpy arrays or backend tensors). Got an element of type "
                                f"{type(first).__name__}.")
            input_shape = tuple(first.shape)
        elif hasattr(data, "shape"):
            input_shape = tuple(data.shape)
        else:
            raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, backend tensors, "
                            "and iterables of batches (e.g. list, generator).")
        if not self.built:
            self.build(input_shape)
            self.built = True
        else:
            for d in self._keep_axis:
                if input_shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() "
                                     f"is being called with data with an incompatible shape, data.shape={input_shape}")
        if batches is None:
            x = as_tensor(data).to(fastnn.float64)
            mean, var = self._moments(x)
        else:
            mean = var = None
            total = 0
            for batch in [first, *batches]:
                x = as_tensor(_batch_x(batch)).to(fastnn.float64)
                for d in self._keep_axis:
                    if x.shape[d] != self._build_input_shape[d]:
                        raise ValueError(f"adapt() yielded a batch with incompatible shape. Expected "
                                         f"{self._build_input_shape}, got {tuple(x.shape)}.")
                bm, bv = self._moments(x)
                count = math.prod(x.shape[d] for d in self._reduce_axis) if self._reduce_axis else 1
                total += count
                w_new = count / total
                if mean is None:
                    mean, var = bm, bv
                    continue
                new_mean = mean * (1.0 - w_new) + bm * w_new
                var = (var + (mean - new_mean) ** 2) * (1.0 - w_new) + (bv + (bm - new_mean) ** 2) * w_new
                mean = new_mean
        _assign(self.mean, mean)
        _assign(self.variance, var)

    def _moments(self, x):
        if not self._reduce_axis:
            return x, fastnn.zeros_like(x)
        mean = fastnn.mean(x, dim=self._reduce_axis)
        var = fastnn.mean((x - fastnn.mean(x, dim=self._reduce_axis, keepdim=True)) ** 2, dim=self._reduce_axis)
        return mean, var

    def _stats(self, device):
        if self.input_mean is not None:
            mean, variance = self._given
        else:
            mean = self.mean.reshape(self._broadcast_shape)
            variance = self.variance.reshape(self._broadcast_shape)
        return mean.to(device), variance.to(device)

    def call(self, inputs):
        x = as_tensor(inputs).float()
        mean, variance = self._stats(x.device)
        scale = fastnn.clamp(fastnn.sqrt(variance), min=_EPSILON)
        return mean + x * scale if self.invert else (x - mean) / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": _listify(self.input_mean), "variance": _listify(self.input_variance)}


def _shape(v) -> tuple:
    if hasattr(v, "shape"):
        return tuple(v.shape)
    if isinstance(v, (list, tuple)):
        return (len(v),) + (_shape(v[0]) if v else ())
    return ()


def _listify(v):
    if v is None:
        return None
    return v.tolist() if hasattr(v, "tolist") else v


def _batch_x(batch):
    """An (x, y[, w]) batch's inputs (Keras' ``_extract_batch``)."""
    return batch[0] if isinstance(batch, tuple) else batch


class Rescaling(PreprocessingLayer):
    """inputs * scale + offset, in float32."""

    _passes_masks = True  # Keras: supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        x = as_tensor(inputs).float()
        scale = as_tensor(self.scale, "float32").to(x.device)
        offset = as_tensor(self.offset, "float32").to(x.device)
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": _listify(self.scale), "offset": _listify(self.offset)}


class CategoryEncoding(PreprocessingLayer):
    """Integer category ids -> one_hot / multi_hot / count vectors of length ``num_tokens`` (float32)."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs) -> None:
        dtype = kwargs.pop("dtype", None)
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise NotImplementedError("CategoryEncoding: sparse=True is not supported by fastnn.keras (no sparse "
                                      "tensors on this backend)")
        self.num_tokens, self.output_mode, self.sparse = num_tokens, output_mode, sparse
        self.dtype = dtype or "float32"

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError("`count_weights` is not used when `output_mode` is not `'count'`. Received "
                                 f"`count_weights={count_weights}`.")
            count_weights = as_tensor(count_weights, self.dtype)
        return encode_categorical(as_tensor(inputs), self.output_mode, self.num_tokens, self.dtype, count_weights)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return input_shape + (self.num_tokens,)
        return input_shape[:-1] + (self.num_tokens,)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}


class Discretization(PreprocessingLayer):
    """Bucket ids of ``bin_boundaries`` (NumPy's digitize), or bins learned by ``adapt`` with Keras'
    approximate-quantile summary (``num_bins``, ``epsilon``); int32 ids or one_hot / multi_hot / count."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 dtype=None, name=None) -> None:
        super().__init__(name=name)
        if sparse and output_mode == "int":
            raise ValueError("`sparse=True` may only be used if `output_mode` is `'one_hot'`, `'multi_hot'`, or "
                             f"`'count'`. Received: sparse={sparse} and output_mode={output_mode}")
        if sparse:
            raise ValueError("`sparse=True` cannot be used with backend fastnn")
        validate_string_arg(output_mode, ("int", "one_hot", "multi_hot", "count"), "Discretization", "output_mode")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"`num_bins` must be greater than or equal to 0. Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError("Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries, self.num_bins, self.epsilon = bin_boundaries, num_bins, epsilon
        self.output_mode, self.sparse = output_mode, sparse
        self.dtype = dtype or "float32"
        self.summary = None if bin_boundaries else _empty_summary()

    @property
    def output_dtype(self) -> str:
        return "int32" if self.output_mode == "int" else self.dtype

    def adapt(self, data, steps=None) -> None:
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized with "
                             "`bin_boundaries`, use `num_bins` instead.")
        self.reset_state()
        if _is_batch_iterable(data) and not isinstance(data, (list, tuple)) or _is_list_of_batches(data):
            self._adapt_batches(data, steps)
        else:
            self.update_state(data)
        self.finalize_state()

    def update_state(self, data) -> None:
        values = as_tensor(data).to(fastnn.float32).reshape(-1)
        self.summary = _merge(_summarize(values, self.epsilon), self.summary, self.epsilon)

    def finalize_state(self) -> None:
        if self.num_bins is None:
            return
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()
        self._remember(bin_boundaries=self.bin_boundaries, num_bins=None)

    def reset_state(self) -> None:
        if self.num_bins is not None:
            self.summary = _empty_summary()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at construction time or call "
                             "`adapt(dataset)` before you can start using the `Discretization` layer.")
        x = as_tensor(inputs)
        bins = fastnn.tensor([float(b) for b in self.bin_boundaries], dtype=fastnn.float64).to(x.device)
        indices = fastnn.bucketize(x.to(fastnn.float64), bins, right=True)
        return encode_categorical(indices, self.output_mode, len(self.bin_boundaries) + 1, self.output_dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        input_shape = tuple(input_shape)
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        if len(input_shape) >= 2:
            return (input_shape[0],) + input_shape[2:] + (depth,)
        return (depth,)

    def get_config(self) -> dict:
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            layer = super().from_config(config, custom_objects)
            layer.bin_boundaries = boundaries
            return layer
        return super().from_config(config, custom_objects)


def _is_list_of_batches(data) -> bool:
    return isinstance(data, (list, tuple)) and len(data) > 0 and hasattr(data[0], "shape")


# Keras' approximate quantiles: a summary is a (2, k) float32 tensor of (boundaries, weights).
def _empty_summary() -> Tensor:
    return fastnn.zeros((2, 0), dtype=fastnn.float32)


def _summarize(values: Tensor, epsilon: float) -> Tensor:
    values = fastnn.sort(values).values
    n = values.numel()
    step = max(n / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return fastnn.stack([boundaries, fastnn.ones_like(boundaries) * step])


def _merge(prev: Tensor, nxt: Tensor, epsilon: float) -> Tensor:
    merged = fastnn.cat([prev, nxt.to(prev.device)], dim=1)
    order = fastnn.argsort(merged[0], stable=True)
    return _compress(merged[:, order], epsilon)


def _compress(summary: Tensor, epsilon: float) -> Tensor:
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + fastnn.arange(0.0, 1.0, epsilon, dtype=fastnn.float64)
    cum = fastnn.cumsum(summary[1], dim=0)  # float32, as NumPy's cumsum of the float32 weights
    cum_pct = (cum / cum[-1]).to(fastnn.float64)
    bins = _interp(percents, cum_pct, summary[0].to(fastnn.float64))
    cum_w = _interp(percents, cum_pct, cum.to(fastnn.float64))
    weights = cum_w - fastnn.cat([fastnn.zeros(1, dtype=fastnn.float64), cum_w[:-1]])
    return fastnn.stack([bins, weights]).to(fastnn.float32)


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """NumPy's interp (xp increasing, clamped at both ends) with fastnn ops."""
    n = xp.numel()
    j = fastnn.clamp(fastnn.searchsorted(xp, x, right=True) - 1, 0, max(n - 2, 0))
    if n == 1:
        return fastnn.full_like(x, float(fp[0]))
    x0, x1, y0, y1 = xp[j], xp[j + 1], fp[j], fp[j + 1]
    slope = (y1 - y0) / (x1 - x0)
    y = slope * (x - x0) + y0
    y = fastnn.where(x >= xp[-1], fp[-1].expand_as(y), y)
    return fastnn.where(x < xp[0], fp[0].expand_as(y), y)

