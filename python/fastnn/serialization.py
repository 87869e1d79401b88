"""torch.serialization: ``save``/``load`` and the allowlist of globals a ``weights_only`` load may rebuild.

fastnn.save writes the safetensors format for tensors and plain containers (a state_dict, a checkpoint
dict): loading it never unpickles. Anything else (a whole Module, an optimizer, an arbitrary Python object)
is saved in a pickle container (``PICKLE_MAGIC`` + a pickle stream). Loading one follows PyTorch 2.6+:
``weights_only=True`` (the default) unpickles with an Unpickler that rebuilds only tensors, plain containers
and the globals allowlisted with ``add_safe_globals`` / ``safe_globals``, and refuses anything else with
torch's UnpicklingError advice; ``weights_only=False`` unpickles fully, which can run arbitrary code: only
for files from a trusted source.
"""
from __future__ import annotations

import collections
import pickle
from pickle import UnpicklingError

DEFAULT_PROTOCOL = 2  # torch.save's default pickle protocol
PICKLE_MAGIC = b"\x80FASTNN-PICKLE1\n"  # 16 bytes; a safetensors file starts with a small header length

_safe: dict[str, object] = {}  # "module.qualname" -> the object, allowlisted by the user

# What a weights_only load may rebuild without being told: fastnn's tensor rebuild and dtypes, and the
# containers and values torch's weights-only unpickler accepts.
_DEFAULT_SAFE = {
    ("fastnn._tensor", "_rebuild_tensor"), ("fastnn._tensor", "Size"), ("fastnn.dtypes", "_by_name"),
    ("fastnn.nn.parameter", "_rebuild_parameter"), ("fastnn.nn.parameter", "_rebuild_buffer"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"), ("collections", "Counter"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
    ("builtins", "range"), ("builtins", "bytearray"), ("builtins", "list"), ("builtins", "dict"),
    ("builtins", "tuple"), ("builtins", "int"), ("builtins", "float"), ("builtins", "bool"), ("builtins", "str"),
    ("builtins", "bytes"), ("copyreg", "_reconstructor"), ("builtins", "object"),
}
_DEFAULT_OBJECTS = {collections.OrderedDict, collections.defaultdict, collections.Counter, set, frozenset, complex,
                    slice, range, bytearray, list, dict, tuple, int, float, bool, str, bytes, object}


def _name(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals) -> None:
    """Allowlists classes/functions for ``load(weights_only=True)``: objects, or (object, "module.name") pairs."""
    for g in safe_globals:
        if isinstance(g, tuple):
            obj, name = g
            _safe[name] = obj
        else:
            _safe[_name(g)] = g


def get_safe_globals() -> list:
    return list(_safe.values())


def clear_safe_globals() -> None:
    _safe.clear()


class safe_globals:
    """Context manager: ``add_safe_globals`` for the duration of the block only."""

    def __init__(self, safe_globals) -> None:
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self._before = dict(_safe)
        add_safe_globals(self.safe_globals)
        return self

    def __exit__(self, *exc):
        _safe.clear()
        _safe.update(self._before)
        return False


def _refusal(what: str) -> UnpicklingError:
    return UnpicklingError(
        "Weights only load failed. This file can still be loaded, to do so you have two options, do those steps "
        "only if you trust the source of the checkpoint. \n\t(1) As in PyTorch 2.6+, the default value of the "
        "`weights_only` argument in `fastnn.load` is `True`. Re-running `fastnn.load` with `weights_only` set to "
        "`False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the "
        "file from a trusted source.\n\t(2) Alternatively, to load with `weights_only=True` please check the "
        f"recommended steps in the following error message.\n\tWeightsUnpickler error: {what}")


class _WeightsUnpickler(pickle.Unpickler):
    """Rebuilds only allowlisted globals; never calls ``__reduce__`` results of anything else."""

    def find_class(self, module: str, name: str):
        full = f"{module}.{name}"
        if full in _safe:
            return _safe[full]
        if (module, name) in _DEFAULT_SAFE:
            return super().find_class(module, name)
        raise _refusal(f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
                       f"`fastnn.serialization.add_safe_globals([{full}])` or the "
                       f"`fastnn.serialization.safe_globals([{full}])` context manager to allowlist this global "
                       "if you trust this class/function.")

    def persistent_load(self, pid):
        raise _refusal("persistent ids are not used by fastnn files")


def dumps(obj, protocol: int | None = None) -> bytes:
    """The container's bytes. Tensors' bytes travel inside the pickle stream (torch keeps them beside it, in
    a zip), so the protocol is at least 4: protocols 2 and 3 would spell large bytes objects as Latin-1 text
    through ``_codecs.encode``. The file is only read by ``fastnn.load``, so a higher protocol costs nothing."""
    return PICKLE_MAGIC + pickle.dumps(obj, protocol=max(4, DEFAULT_PROTOCOL if protocol is None else protocol))


def loads(payload: bytes, weights_only: bool):
    """Unpickles a pickle container's payload (the bytes after ``PICKLE_MAGIC``)."""
    import io as _io

    if not weights_only:
        return pickle.loads(payload)
    try:
        return _WeightsUnpickler(_io.BytesIO(payload)).load()
    except UnpicklingError as e:
        if str(e).startswith("Weights only load failed"):
            raise
        raise _refusal(f"{type(e).__name__}: {e}") from None
    except Exception as e:  # a malformed stream: say so in torch's terms
        raise _refusal(f"{type(e).__name__}: {e}") from None


def save(obj, f, *args, **kwargs) -> None:
    """torch.serialization.save: ``fastnn.save``."""
    from .io import save as _save

    _save(obj, f, *args, **kwargs)


def load(f, *args, **kwargs):
    """torch.serialization.load: ``fastnn.load``."""
    from .io import load as _load

    return _load(f, *args, **kwargs)


__all__ = ["DEFAULT_PROTOCOL", "UnpicklingError", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "load", "safe_globals", "save"]
