"""keras.initializers: Keras 3's initializer classes (names, arguments, defaults, fan rules, configs) on fastnn
tensors. ``init(shape, dtype=None)`` returns a new tensor, as Keras'; ``initialize(weight, init)`` fills a
layer's Parameter in place (``add_weight``), for an initializer object, a name, a serialized dict, an array
or any Keras-style ``fn(shape, dtype=None)``.

Random initializers draw through ``keras.random`` with their ``seed``: an integer (or None, which picks one
from fastnn's global generator at construction, as Keras picks one from Python's) gives the same values on
every call; a ``keras.random.SeedGenerator`` gives new values each call."""
from __future__ import annotations

import functools
import inspect
import math

from .. import creation
from ..autograd.grad_mode import no_grad
from ..backend import backend_of
from .._tensor import Tensor
from . import random as krandom
from .device_scope import get_device
from .layers.base import snake_case


def _dt(dtype):
    return krandom._dtype(dtype)


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` returning a tensor. Called with a
    tensor instead of a shape (this library's earlier in-place form), an initializer fills that tensor."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is None:
            return

        @functools.wraps(call)
        def __call__(self, shape, dtype=None):  # noqa: N807
            if isinstance(shape, Tensor):
                return initialize(shape, self)
            return call(self, shape, dtype)

        cls.__call__ = __call__

    def __call__(self, shape, dtype=None):
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())


# ---- constants ---------------------------------------------------------------------------------------------
class Constant(Initializer):
    def __init__(self, value=0.0) -> None:
        self.value = value

    def __call__(self, shape, dtype=None):
        value = self.value
        if isinstance(value, Tensor):
            value = value.to(get_device(), _dt(dtype))
        elif not isinstance(value, (int, float)):  # an array or nested list, broadcast to the shape
            value = creation.tensor(value, dtype=_dt(dtype), device=get_device())
        return creation.ones(tuple(shape), dtype=_dt(dtype), device=get_device()) * value

    def get_config(self) -> dict:
        return {"value": self.value}

    @classmethod
    def from_config(cls, config):
        return cls(config["value"])


class Zeros(Initializer):
    _is_zeros = True

    def __call__(self, shape, dtype=None):
        return creation.zeros(tuple(shape), dtype=_dt(dtype), device=get_device())


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return creation.ones(tuple(shape), dtype=_dt(dtype), device=get_device())


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0) -> None:
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. Received: "
                             f"shape={shape} of rank {len(shape)}.")
        return creation.eye(*shape, dtype=_dt(dtype), device=get_device()) * self.gain
    # Keras' Identity keeps the base (empty) config: ``gain`` is not serialized there either


class STFT(Initializer):
    """The real (``side="real"``: cos) or imaginary (sin) DFT kernel of shape (frame_length, input_channels,
    fft_length), windowed (a SciPy window name or an array) and scaled by the window's energy
    (``"density"``) or sum (``"spectrum"``)."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False) -> None:
        if side not in ("real", "imag"):
            raise ValueError(f"side should be 'real' or 'imag', not {side}")
        if isinstance(window, str):
            import scipy.signal

            scipy.signal.get_window(window, 1)  # raises for an unknown window
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"Scaling is invalid, it must be `None`, 'density' or 'spectrum'. Received "
                             f"scaling={scaling}")
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape, dtype=None):
        dt, dev = _dt(dtype), get_device()
        frame_length, _, fft_length = shape
        win, scaling = None, 1.0
        if self.window is not None:
            win = self.window
            if isinstance(win, str):
                import scipy.signal

                win = scipy.signal.get_window(win, frame_length, self.periodic)
            win = win.to(dev, dt) if isinstance(win, Tensor) else creation.tensor(win, dtype=dt, device=dev)
            if win.ndim != 1 or win.shape[-1] != frame_length:
                raise ValueError(f"The shape of `window` must be equal to [frame_length].Received: window "
                                 f"shape={tuple(win.shape)}")
            win = win.reshape(frame_length, 1, 1)
            if self.scaling == "density":
                scaling = (win * win).sum().sqrt()
            elif self.scaling == "spectrum":
                scaling = win.abs().sum()
        freq = creation.arange(fft_length, dtype=dt, device=dev).reshape(1, 1, fft_length) / float((fft_length - 1) * 2)
        time = creation.arange(frame_length, dtype=dt, device=dev).reshape(frame_length, 1, 1)
        pi = creation.tensor(-1.0, dtype=dt, device=dev).arccos()
        args = (time * -2.0) * freq * pi
        kernel = args.cos() if self.side == "real" else args.sin()
        if win is not None:
            kernel = kernel * win / scaling
        return kernel

    def get_config(self) -> dict:
        return {"side": self.side, "window": self.window, "periodic": self.periodic, "scaling": self.scaling}


# ---- random ------------------------------------------------------------------------------------------------
class RandomInitializer(Initializer):
    def __init__(self, seed=None) -> None:
        self._init_seed = seed
        if seed is None:
            seed = krandom.make_default_seed()
        elif isinstance(seed, dict):
            seed = krandom.SeedGenerator.from_config(seed.get("config", seed))
        elif not isinstance(seed, (int, krandom.SeedGenerator)) or isinstance(seed, bool):
            raise ValueError("`seed` argument should be an instance of `keras.random.SeedGenerator()` or an integer. "
                             f"Received: seed={seed}")
        self.seed = seed

    def _seed_config(self):
        s = self._init_seed
        if isinstance(s, krandom.SeedGenerator):
            return {"module": "keras.random", "class_name": "SeedGenerator", "config": s.get_config(),
                    "registered_name": None}
        return s

    def get_config(self) -> dict:
        return {"seed": self._seed_config()}


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return krandom.normal(shape, mean=self.mean, stddev=self.stddev, seed=self.seed, dtype=dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal values, redrawn beyond two standard deviations from the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return krandom.truncated_normal(shape, mean=self.mean, stddev=self.stddev, seed=self.seed, dtype=dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None) -> None:
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return krandom.uniform(shape, minval=self.minval, maxval=self.maxval, seed=self.seed, dtype=dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """Keras' fans: a kernel is (..., in, out) with the receptive field first; explicit axes override."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(math.prod(shape[a] for a in input_axes)), int(math.prod(shape[a] for a in output_axes))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive = math.prod(shape[:-2])
    return int(shape[-2] * receptive), int(shape[-1] * receptive)


# The std of a unit normal truncated at ±2: dividing by it keeps the wanted std after truncation.
_TRUNC_STD = 0.87962566103423978


class VarianceScaling(RandomInitializer):
    """Values of variance ``scale / n`` (n: fan_in, fan_out or their mean), truncated normal, normal or
    uniform (limit ``sqrt(3 scale / n)``)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None) -> None:
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        allowed_modes = {"fan_in", "fan_out", "fan_avg"}
        if mode not in allowed_modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {allowed_modes}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        allowed = {"uniform", "truncated_normal", "untruncated_normal"}
        if distribution not in allowed:
            raise ValueError(f"Invalid `distribution` argument: {distribution}.Please use one of {allowed}")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            return krandom.truncated_normal(shape, 0.0, math.sqrt(scale) / _TRUNC_STD, dtype=dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return krandom.normal(shape, 0.0, math.sqrt(scale), dtype=dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return krandom.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    _args: tuple = ()

    def __init__(self, seed=None, input_axes=None, output_axes=None) -> None:
        scale, mode, distribution = self._args
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed, input_axes=input_axes,
                         output_axes=output_axes)

    def get_config(self) -> dict:
        return {"seed": self._seed_config(), "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in ±sqrt(6 / (fan_in + fan_out))."""
    _args = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal of std sqrt(2 / (fan_in + fan_out))."""
    _args = (1.0, "fan_avg", "truncated_normal")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal of std sqrt(1 / fan_in)."""
    _args = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform in ±sqrt(3 / fan_in)."""
    _args = (1.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal of std sqrt(2 / fan_in)."""
    _args = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform in ±sqrt(6 / fan_in)."""
    _args = (2.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix (QR of a normal draw, signs fixed by R's diagonal) over the shape
    flattened to (prod(shape[:-1]), shape[-1]), times ``gain``."""

    def __init__(self, gain=1.0, seed=None) -> None:
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"The tensor to initialize must be at least two-dimensional. Received: shape={shape} of "
                             f"rank {len(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = krandom.normal((max(rows, cols), min(rows, cols)), seed=self.seed, dtype=dtype)
        xp = backend_of(a._data).xp
        q, r = xp.linalg.qr(a._data)
        q = q * xp.sign(xp.diagonal(r))
        if rows < cols:
            q = q.T
        return Tensor._wrap(xp.ascontiguousarray(q.reshape(tuple(shape)) * a._data.dtype.type(self.gain)))

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}


# Keras' aliases: the lowercase names are the classes themselves.
IdentityInitializer = identity = Identity
OrthogonalInitializer = orthogonal = Orthogonal
STFTInitializer = stft = STFT
constant, zeros, ones = Constant, Zeros, Ones
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
he_normal, he_uniform = HeNormal, HeUniform
lecun_normal, lecun_uniform = LecunNormal, LecunUniform
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling

_ALL = (Initializer, Constant, Identity, Ones, STFT, Zeros, GlorotNormal, GlorotUniform, HeNormal, HeUniform,
        LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling)
_BY_NAME = {cls.__name__: cls for cls in _ALL}
_BY_NAME.update({snake_case(cls.__name__): cls for cls in _ALL})
_BY_NAME.update({"IdentityInitializer": Identity, "normal": RandomNormal, "one": Ones, "STFTInitializer": STFT,
                 "OrthogonalInitializer": Orthogonal, "uniform": RandomUniform, "zero": Zeros})


def serialize(initializer):
    """Keras' ``{"module", "class_name", "config", "registered_name"}`` form of an initializer object."""
    if initializer is None:
        return None
    if not isinstance(initializer, Initializer):
        name = getattr(initializer, "__name__", None)
        if name is None:
            raise ValueError(f"Cannot serialize {initializer!r}: it is not an Initializer")
        return name
    cls = type(initializer)
    builtin = _BY_NAME.get(cls.__name__) is cls
    return {"module": "keras.initializers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": initializer.get_config(), "registered_name": None if builtin else cls.__name__}


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret initializer identifier: {config}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name) or _BY_NAME.get(name.lower())
    if cls is None:
        raise ValueError(f"Could not interpret initializer identifier: {name}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """An initializer from an object, a class, a name (``"glorot_uniform"``), a serialized dict, or an array
    / tensor (a function returning it for its shape); None stays None."""
    if identifier is None:
        return None
    if isinstance(identifier, (dict, str)):
        obj = deserialize(identifier)
    elif not callable(identifier) and hasattr(identifier, "shape") and hasattr(identifier, "dtype"):
        value = identifier

        def initialize_fn(shape, dtype=None):
            if tuple(shape) != tuple(value.shape):
                raise ValueError(f"Expected `shape` to be {tuple(value.shape)} for direct tensor as initializer. "
                                 f"Received shape={shape}")
            t = value if isinstance(value, Tensor) else creation.tensor(value, device=get_device())
            return t.to(_dt(dtype))

        obj = initialize_fn
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")


def initialize(weight: Tensor, identifier) -> Tensor:
    """Fills ``weight`` in place with ``identifier``'s values for its shape and dtype (``add_weight``)."""
    init = get(identifier)
    value = init(tuple(weight.shape), dtype=weight.dtype)
    if not isinstance(value, Tensor):
        value = creation.tensor(value, device=weight.device)
    elif value.device != weight.device:  # an initializer returning a tensor made elsewhere (a fixed value)
        value = value.to(weight.device)
    with no_grad():
        weight._write(..., value._data.astype(weight._data.dtype, copy=False))
    return weight
