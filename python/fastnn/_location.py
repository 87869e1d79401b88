"""Where loaded tensors go: ``fastnn.load``'s ``map_location``, as torch.load reads it.

Files hold host bytes and each tensor's device ("cpu", "cuda:0"). Loading puts a tensor back on the device
it was saved from unless ``map_location`` says otherwise:

- None: the saved device (a CUDA tensor with no CUDA device: torch's RuntimeError naming map_location);
- a str / ``fastnn.device`` / anything whose ``str`` names a device (``torch.device``): every tensor there;
- a dict: ``{saved_location: target_location}``; locations it does not name stay where they were saved;
- a callable ``f(storage, location)``: called with the tensor on the CPU and its saved location; its result
  (a tensor, on any device) is used, or None for the default.

Unpickling (a pickle container, or ``pickle.loads`` of a tensor) rebuilds tensors through ``place``, which
reads the location of the ``fastnn.load`` in progress (a context variable; none: the saved device).
"""
from __future__ import annotations

import contextlib
import contextvars

from ._device import device as _device

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("fastnn_map_location", default=None)

_NO_CUDA = ("Attempting to deserialize object on a CUDA device but fastnn.cuda.is_available() is False. If you "
            "are running on a CPU-only machine, please use fastnn.load with map_location=fastnn.device('cpu') "
            "to map your storages to the CPU.")


def _check(location) -> str:
    """``location`` as a device string, raising the device parser's ValueError for a bad one."""
    return str(location if isinstance(location, _device) else _device(str(location)))


def resolver(map_location):
    """A function ``(host_array, saved_device_str_or_None) -> array on its device`` for ``map_location``,
    its arguments checked now (before any file is read)."""
    if map_location is None:
        return _to_saved
    if isinstance(map_location, dict):
        table = {_check(k): _check(v) for k, v in map_location.items()}

        def by_table(host, saved):
            s = _check(saved) if saved is not None else "cpu"
            return _on(host, table.get(s, s))

        return by_table
    if callable(map_location) and not isinstance(map_location, _device) and not hasattr(map_location, "type"):
        def by_function(host, saved):
            from ._tensor import Tensor

            result = map_location(Tensor._wrap(host), saved or "cpu")
            if result is None:
                return _to_saved(host, saved)
            return result._data if isinstance(result, Tensor) else _on(result, "cpu")

        return by_function
    target = _check(map_location)
    return lambda host, saved: _on(host, target)


def _to_saved(host, saved):
    return _on(host, saved or "cpu")


def _on(host, where: str):
    from .backend import get_backend
    from . import cuda

    d = _device(where)
    if d.type == "cuda":
        if not cuda.is_available():
            raise RuntimeError(_NO_CUDA)
        if d.index is not None and d.index >= cuda.device_count():
            raise RuntimeError(f"Attempting to deserialize object on CUDA device {d.index} but "
                               f"fastnn.cuda.device_count() is {cuda.device_count()}. Please use fastnn.load with "
                               "map_location to map your storages to an existing device.")
    return get_backend(d).from_host(host)


def place(host, saved):
    """``host`` (a NumPy array read from a file) on the device the current load chooses for a tensor saved
    from ``saved`` (None: a file that records no device, i.e. the CPU)."""
    fn = _ACTIVE.get()
    return (fn or _to_saved)(host, saved)


@contextlib.contextmanager
def loading(fn):
    """Makes ``fn`` (from ``resolver``) the placement of tensors rebuilt in the block."""
    token = _ACTIVE.set(fn)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def saved_device(arr_backend) -> str | None:
    """What a file records of a tensor's device: None for the CPU (files written before devices existed
    read the same), else 'cuda:N'."""
    d = arr_backend.device
    return None if d.type == "cpu" else str(d)
