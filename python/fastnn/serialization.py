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
import zlib
from pickle import UnpicklingError

DEFAULT_PROTOCOL = 2  # torch.save's default pickle protocol
PICKLE_MAGIC = b"\x80FASTNN-PICKLE1\n"  # 16 bytes; a safetensors file starts with a small header length
# A container with an integrity record: PICKLE_MAGIC, this tag, the CRC-32 of the pickle stream (4 bytes,
# little-endian), the stream. No pickle stream starts with a NUL (not an opcode), so files without it still load.
_CRC_TAG = b"\x00crc32"

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

    def __init__(self, file, limit: int) -> None:
        super().__init__(file)
        self._limit = limit

    def find_class(self, module: str, name: str):
        full = f"{module}.{name}"
        if full in _safe:
            return _safe[full]
        if (module, name) in _DEFAULT_SAFE:
            found = super().find_class(module, name)
            return _bounded(found, self._limit) if found in (bytes, bytearray, range) else found
        raise _refusal(f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
                       f"`fastnn.serialization.add_safe_globals([{full}])` or the "
                       f"`fastnn.serialization.safe_globals([{full}])` context manager to allowlist this global "
                       "if you trust this class/function.")

    def persistent_load(self, pid):
        raise _refusal("persistent ids are not used by fastnn files")


def dumps(obj, protocol: int | None = None, checksum: bool = True) -> bytes:
    """The container's bytes. Tensors' bytes travel inside the pickle stream (torch keeps them beside it, in
    a zip), so the protocol is at least 4: protocols 2 and 3 would spell large bytes objects as Latin-1 text
    through ``_codecs.encode``. The file is only read by ``fastnn.load``, so a higher protocol costs nothing.
    With ``checksum`` the container records the stream's CRC-32, which ``container_payload`` verifies."""
    stream = pickle.dumps(obj, protocol=max(4, DEFAULT_PROTOCOL if protocol is None else protocol))
    if not checksum:
        return PICKLE_MAGIC + stream
    return PICKLE_MAGIC + _CRC_TAG + (zlib.crc32(stream) & 0xFFFFFFFF).to_bytes(4, "little") + stream


def container_payload(buf, checksum: bool = True) -> bytes | None:
    """The pickle stream of a pickle container (verified against its CRC-32 when it has one and
    ``checksum``), or None when ``buf`` is no pickle container."""
    if bytes(buf[:len(PICKLE_MAGIC)]) != PICKLE_MAGIC:
        return None
    if bytes(buf[len(PICKLE_MAGIC):len(PICKLE_MAGIC) + 1]) != _CRC_TAG[:1]:
        return bytes(buf[len(PICKLE_MAGIC):])  # a container without the record
    start = len(PICKLE_MAGIC) + len(_CRC_TAG) + 4
    if bytes(buf[len(PICKLE_MAGIC):len(PICKLE_MAGIC) + len(_CRC_TAG)]) != _CRC_TAG:
        raise ValueError("fastnn.load: not a valid fastnn pickle container: its integrity record is damaged")
    if len(buf) < start:
        raise ValueError("fastnn.load: not a valid fastnn pickle container: truncated before its checksum")
    stream = bytes(buf[start:])
    if checksum:
        stored, got = int.from_bytes(bytes(buf[start - 4:start]), "little"), zlib.crc32(stream) & 0xFFFFFFFF
        if stored != got:
            raise ValueError(f"fastnn.load: not a valid fastnn pickle container: checksum mismatch (stored crc32 "
                             f"{stored:08x}, computed {got:08x}): its bytes changed after saving (truncated, a "
                             "flipped bit, a bad disk or copy); pass checksum=False to read it anyway")
    return stream


# Pickle's own arguments that decide an allocation before anything is built: a memo index (the C unpickler
# grows its memo table to twice the index, zero-filled: LONG_BINPUT 2**30 from a 10-byte file is 16 GiB) and
# the length of a bytes/str argument (checked against the stream by genops itself).
_MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


def _prescan(payload: bytes) -> None:
    """Walks the opcodes without running them: a weights_only load refuses a stream that is malformed or
    names memo slots far beyond what it could fill (the memo bomb)."""
    import io as _io
    import pickletools

    limit = 2 * len(payload) + 16
    try:
        for op, arg, _pos in pickletools.genops(_io.BytesIO(payload)):
            if op.name in _MEMO_OPS and isinstance(arg, int) and not 0 <= arg <= limit:
                raise _refusal(f"memo index {arg} out of proportion to a {len(payload)}-byte pickle stream")
    except UnpicklingError:
        raise
    except Exception as e:  # noqa: BLE001  (genops' own complaint: truncated, unknown opcode ...)
        raise _refusal(f"malformed pickle stream ({type(e).__name__}: {e})") from None


def _bounded(real, limit: int):
    """``real`` (bytes, bytearray, range) refusing to build something larger than ``limit`` items from a
    size argument: ``bytearray(2**33)`` or ``list(range(2**32))`` is a few bytes of pickle and gigabytes of
    memory, while a real tensor's bytes are in the stream itself."""
    def build(*args):
        if real is range:
            r = range(*args)
            if len(r) > limit:
                raise _refusal(f"range of {len(r)} items out of proportion to the pickle stream")
            return r
        if args and isinstance(args[0], int) and args[0] > limit:
            raise _refusal(f"{real.__name__}({args[0]}) out of proportion to the pickle stream")
        return real(*args)
    build.__qualname__ = build.__name__ = real.__name__
    return build


def loads(payload: bytes, weights_only: bool):
    """Unpickles a pickle container's payload (the bytes after ``PICKLE_MAGIC``)."""
    import io as _io

    if not weights_only:
        return pickle.loads(payload)
    _prescan(payload)
    try:
        return _WeightsUnpickler(_io.BytesIO(payload), limit=16 * len(payload) + (1 << 16)).load()
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
