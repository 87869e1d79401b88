"""Keras' current device: ``keras.device("cuda")`` / ``keras.device("cpu")`` scopes, and the default a Keras
program gets without one.

As on Keras 3's torch backend (``keras/src/backend/torch/core.py``: ``DEFAULT_DEVICE``, ``device_scope``,
``get_device``), the default is the GPU when a real one is present and the CPU otherwise, and Keras programs
never name devices: weights (``add_weight``), optimizer and metric variables, seed generators and the
``keras.ops`` / ``keras.random`` creation functions make their tensors on the current device, and
``fit`` / ``evaluate`` / ``predict`` move each batch to the model's device. The emulated CUDA device
(``FASTNN_CUDA=emulate``, CI's) is a CUDA device for fastnn but not a default for Keras: there the default
stays the CPU and tests opt in with ``with keras.device("cuda"):``.

Names follow Keras': "cpu", "cuda", "cuda:1", and "gpu" / "gpu:1" spelled as on TensorFlow (read as cuda).
"""
from __future__ import annotations

import contextlib

from .._device import device as _fastnn_device
from .._tensor import Tensor

_scoped: list = []  # the devices of the enclosing keras.device scopes, innermost last
_default = (None, None)  # (the CUDA mode it was decided in, the default device): decided once per mode


def _parse(name) -> _fastnn_device:
    if isinstance(name, _fastnn_device):
        return name
    if not isinstance(name, str):
        raise ValueError(f"Invalid value for argument `device_name`. Expected a string like 'gpu:0' or 'cpu'. "
                         f"Received: device_name='{name}'")
    text = name.strip().lower().replace("gpu", "cuda")
    if text.startswith("/"):  # TensorFlow's "/device:GPU:0" and "/gpu:0"
        text = text.rsplit("/", 1)[-1].replace("device:", "")
    d = _fastnn_device(text)
    if d.type == "cpu":
        return _fastnn_device("cpu")
    return d


def default_device() -> _fastnn_device:
    """The device Keras uses without a scope: CUDA when a real GPU is present, else the CPU (also on the
    emulated device, which exists for CI and is never chosen by default)."""
    global _default
    from ..backend.cuda import runtime

    mode = runtime.mode()  # FASTNN_CUDA, read at the first CUDA query; tests may change it (runtime.configure)
    if _default[0] != mode:
        from .. import cuda

        real_gpu = cuda.is_available() and not runtime.emulated()
        _default = (mode, _fastnn_device("cuda") if real_gpu else _fastnn_device("cpu"))
    return _default[1]


def get_device() -> _fastnn_device:
    """The current Keras device: the innermost ``keras.device`` scope's, else the default."""
    return _scoped[-1] if _scoped else default_device()


@contextlib.contextmanager
def device(device_name):
    """``with keras.device("cuda"):`` makes new weights, variables and created tensors on that device.
    An unavailable device fails at once (PyTorch's error for a missing CUDA device)."""
    d = _parse(device_name)
    if d.type == "cuda":
        from ..backend import get_backend

        get_backend(d)  # raises when that CUDA device does not exist
    _scoped.append(d)
    try:
        yield d
    finally:
        _scoped.pop()


def device_of_layer(layer) -> _fastnn_device:
    """The device of a layer's (or model's) weights: that of its first weight (trainable weights are its
    parameters, the others its buffers), else the current device. Stops at the first weight found."""
    for w in layer.parameters():
        return w.device
    for w in layer.buffers():
        return w.device
    return get_device()


def to_device(data, dev):
    """Tensors in a batch (nested in tuples, lists, dicts) moved to ``dev`` where they are elsewhere; other
    values (host strings, None, numbers) as they are."""
    if isinstance(data, Tensor):
        return data if data.device == dev else data.to(dev)
    if isinstance(data, dict):
        return {k: to_device(v, dev) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(to_device(v, dev) for v in data)
    return data
