"""fastnn.save / fastnn.load: tensors and nested containers in the safetensors format, written atomically.

Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
JSON header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`` (padded
with spaces so the data starts 8-byte aligned), then the raw little-endian bytes of every tensor, back to
back, covering the data section exactly. The Python structure around the tensors (dicts with int keys,
lists, tuples, numbers, strings, None, NumPy arrays) is kept as JSON in ``__metadata__["fastnn.structure"]``,
so a plain safetensors reader sees the tensors of a flat state_dict under their own keys.

Nothing in that format uses pickle, and loading it only ever builds arrays, numbers, strings and containers:
an untrusted file can fail to load (a ValueError saying why) but never runs code. A save writes a temp file
in the target's directory, fsyncs it, and renames it over the target, so the old file survives a crash.

Objects the format cannot hold (a whole Module, an optimizer, a custom class: ``torch.save(model)``) are
written as a pickle container instead (``serialization.PICKLE_MAGIC`` + a pickle stream), and ``load``
follows PyTorch 2.6+ for them: ``weights_only=True`` (the default) rebuilds only tensors, containers and
allowlisted globals (``serialization.add_safe_globals``), ``weights_only=False`` unpickles fully.
"""
from __future__ import annotations

import json
import math
import mmap as _mmap
import numbers
import os
import re
from typing import Any, BinaryIO, Union

import numpy as np

from ._tensor import Tensor
from . import _atomic_file, _integrity, _location, dtypes, serialization
from .backend import backend_of
from .backend import bf16 as _bf16

PathLike = Union[str, "os.PathLike[str]", BinaryIO]

# safetensors dtype names <-> NumPy (little-endian); BF16 is NumPy's opaque 2-byte type holding the bits
_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
           "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_NAMES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}  # native-order dtype -> name
_NAMES[_bf16.STORAGE] = "BF16"
_TENSOR_DTYPES = {"F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"}  # what a Tensor holds
_STRUCTURE_KEY = "fastnn.structure"
_CHECKSUM_KEY = "fastnn.checksums"  # the integrity record (see _integrity)
_FORMAT_CRC = "fastnn/crc32"  # __metadata__["format"] of a file with the record ("fastnn" without)
_MAX_HEADER = 100_000_000  # safetensors' own limit: a header claiming more is corrupt, not large
_MAX_DEPTH = 200


# ---- save ------------------------------------------------------------------------------------------------
class _NotSafetensors(TypeError):
    """The object holds something the safetensors structure cannot: save pickles it instead."""


class _Encoder:
    """Turns ``obj`` into a JSON-able structure plus a list of (name, array) to store as tensors."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, path: tuple) -> str:
        base = ".".join(str(p) for p in path) or "tensor"
        name, n = base, 1
        while name in self.arrays or name == "__metadata__":
            name, n = f"{base}#{n}", n + 1
        return name

    def _store(self, arr: np.ndarray, path: tuple) -> str:
        if arr.dtype.newbyteorder("=") not in _NAMES:
            raise _NotSafetensors(f"fastnn.save: cannot store an array of dtype {arr.dtype} (at {_where(path)})")
        name = self._name(path)
        self.arrays[name] = arr
        return name

    def encode(self, obj: Any, path: tuple = ()) -> Any:
        if len(path) > _MAX_DEPTH:
            raise ValueError(f"fastnn.save: object nested deeper than {_MAX_DEPTH} levels")
        if obj is None or isinstance(obj, (bool, str, int)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$float": repr(obj)}  # strict JSON has no inf/nan
        if isinstance(obj, Tensor):
            arr = obj._data
            be = backend_of(arr)
            node = {"$tensor": self._store(be.to_host(arr), path), "requires_grad": obj.requires_grad}
            where = _location.saved_device(be)
            if where is not None:  # a device tensor: stored from the host, its device recorded (as torch)
                node["device"] = where
            return node
        if _is_torch_tensor(obj):  # a torch state_dict saved as is: its tensors load as fastnn tensors
            if str(obj.dtype) == "torch.bfloat16":  # torch's numpy() refuses it: the bits come through DLPack
                from .creation import from_dlpack

                arr = from_dlpack(obj.detach().cpu())._data.copy()
            else:
                arr = obj.detach().cpu().numpy()
            if arr.dtype.newbyteorder("=") not in dtypes._BY_NP:
                return {"$ndarray": self._store(arr, path)}
            return {"$tensor": self._store(arr, path), "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.generic):
            return {"$npscalar": self._store(np.asarray(obj), path)}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise _NotSafetensors(f"fastnn.save: dict keys must be str, int, float, bool or None, got "
                                    f"{type(k).__name__} (at {_where(path)})")
                items.append([self.encode(k, path), self.encode(v, path + (k,))])
            return {"$dict": items}
        if isinstance(obj, (list, tuple)):
            out = [self.encode(v, path + (i,)) for i, v in enumerate(obj)]
            return out if isinstance(obj, list) else {"$tuple": out}
        be = _array_backend(obj)
        if be is not None:  # an array (NumPy, np.memmap, ...): stored from the host, loaded as a NumPy array
            return {"$ndarray": self._store(be.to_host(obj), path)}
        raise _NotSafetensors(f"fastnn.save: cannot save an object of type {type(obj).__name__} (at "
                              f"{_where(path)}) in the safetensors format")


def _where(path: tuple) -> str:
    return "obj" + "".join(f"[{p!r}]" for p in path)


def _array_backend(obj):
    """The backend holding ``obj`` when it is an array, None for any other object."""
    if isinstance(obj, numbers.Number):  # (backend_of skips scalars instead of refusing them)
        return None
    try:
        return backend_of(obj)
    except TypeError:  # no backend holds this type: not an array
        return None


def _is_torch_tensor(obj) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "detach") and hasattr(obj, "numpy")


def _serialize(obj: Any, checksum: bool = True) -> tuple[bytes, list[np.ndarray]]:
    """The header bytes (length prefix included) and the arrays to write after it, in order; with
    ``checksum`` the header carries the integrity record (_integrity)."""
    enc = _Encoder()
    structure = enc.encode(obj)
    header: dict[str, Any] = {}
    offset = 0
    # widest items first, so that every tensor starts aligned to its itemsize (data begins 8-aligned)
    order = sorted(enc.arrays, key=lambda n: -enc.arrays[n].dtype.itemsize)
    arrays = []
    crcs = {}
    for name in order:
        arr = enc.arrays[name]
        arr = arr if arr.flags.c_contiguous else arr.copy(order="C")  # (np.ascontiguousarray makes 0-d 1-d)
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        header[name] = {"dtype": _NAMES[arr.dtype.newbyteorder("=")], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        arrays.append(arr)
        if checksum:
            crcs[name] = _integrity.crc(_bytes_of(arr))
    # the format names the record too: a flipped bit in the record's key must not turn verification off
    meta = {"format": _FORMAT_CRC if checksum else "fastnn", _STRUCTURE_KEY: json.dumps(structure, allow_nan=False)}
    if checksum:
        meta[_CHECKSUM_KEY] = _integrity.make_record(header, meta, crcs)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    return len(text).to_bytes(8, "little") + text, arrays


def _bytes_of(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(-1).view(np.uint8)  # the array's own bytes: no copy of large tensors


def _write(f, head: bytes, arrays: list[np.ndarray]) -> None:
    f.write(head)
    for arr in arrays:
        if arr.nbytes:
            f.write(_bytes_of(arr))


def save(obj: Any, f: PathLike, pickle_module=None, pickle_protocol: int = serialization.DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False, *,
         checksum: bool = True) -> None:
    """Saves ``obj`` (a tensor, or dicts/lists/tuples of tensors, NumPy arrays, str, int, float, bool, None:
    a state_dict, an optimizer state_dict, a whole checkpoint) to ``f`` in the safetensors format; any other
    object (``torch.save(model)``) in a pickle container (protocol ``pickle_protocol``, at least 4: see
    ``serialization.dumps``), which loads only with ``load(f, weights_only=False)`` unless its globals are
    allowlisted.

    ``f`` is a path (str or os.PathLike), written atomically (``_atomic_file``): a temp file
    ``.<name>.fastnn-tmp-<pid>-<random>`` in the same directory, flushed, fsynced, renamed over ``f``, then the
    directory fsynced; on any error (KeyboardInterrupt too) the previous file is untouched and the temp file
    removed, and the temp files a killed save left for ``f`` are removed by the next save to ``f``. ``f`` may
    also be a binary file object opened for writing (written in place, not atomically).

    ``checksum`` (default True; a fastnn extension): store an integrity record, a CRC-32 of each tensor's bytes
    and of the header, which ``load`` verifies, so a flipped bit is an error naming the tensor instead of
    silently changed values. It costs one pass over the data (~0.8 s/GiB). The file stays plain safetensors
    (the record is a metadata string) and a pickle container records a CRC-32 of its stream too.
    """
    if pickle_module is not None and pickle_module.__name__ != "pickle":
        raise NotImplementedError(f"fastnn.save: pickle_module={pickle_module.__name__}; only pickle is supported")
    if not isinstance(checksum, bool):
        raise TypeError(f"fastnn.save: checksum must be a bool, got {type(checksum).__name__}")
    try:
        # every error is raised here (or by pickle below), before a file is touched
        head, arrays = _serialize(obj, checksum)
    except _NotSafetensors:
        head, arrays = serialization.dumps(obj, pickle_protocol, checksum=checksum), []
    if hasattr(f, "write") and not isinstance(f, (str, bytes, os.PathLike)):
        _write(f, head, arrays)
        return
    with _atomic_file.atomic_write(f) as out:
        _write(out, head, arrays)


# ---- load ------------------------------------------------------------------------------------------------
class _CorruptFile(ValueError):
    """A file that is not what it claims, inside the loader; ``load`` raises it as a plain ValueError (torch's
    type for a bad file) with the file's name added to the message."""


_PREFIX = "fastnn.load: not a valid fastnn/safetensors file"


def _corrupt(what: str) -> ValueError:
    return _CorruptFile(f"{_PREFIX}: {what}")


def _naming(e: ValueError, path: str | None) -> ValueError:
    """The same error with the file's name: "...file ('ck.st'): what"."""
    msg = str(e)
    if path is not None and msg.startswith(_PREFIX + ": "):
        msg = f"{_PREFIX} ({path!r}): {msg[len(_PREFIX) + 2:]}"
    return ValueError(msg)


def _strict_json(raw: bytes | str, what: str):
    """JSON as the spec has it: UTF-8, no NaN/Infinity, no duplicate keys (a second entry for one tensor
    name would otherwise silently win)."""
    def reject(token):
        raise _corrupt(f"{what} has the non-JSON constant {token}")

    def no_duplicates(pairs):
        out = dict(pairs)
        if len(out) != len(pairs):
            raise _corrupt(f"{what} has a duplicate key")
        return out
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=reject, object_pairs_hook=no_duplicates)
    except RecursionError:
        raise _corrupt(f"{what} is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _corrupt(f"{what} is not well-formed JSON ({e})") from None


def _parse(buf: bytes, checksum: bool = True) -> tuple[dict[str, dict], dict[str, str], int, dict | None]:
    """Validates the header against the file (and against its integrity record, when it has one and
    ``checksum``); returns the tensor entries, the metadata, the data start and the record (or None)."""
    if len(buf) < 8:
        raise _corrupt(f"{len(buf)} bytes is too short for the 8-byte header length (truncated or empty file)")
    n = int.from_bytes(buf[:8], "little")
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise _corrupt(f"the header claims {n} bytes but the file has {len(buf) - 8} after the length "
                       "(truncated or not a safetensors file)")
    header = _strict_json(bytes(buf[8:8 + n]), "the header")
    if not isinstance(header, dict):
        raise _corrupt("the header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _corrupt("__metadata__ is not a map of strings to strings")
    start, data_len = 8 + n, len(buf) - 8 - n
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _corrupt(f"tensor {name!r} needs exactly dtype, shape and data_offsets")
        dtype, shape, offs = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or (dtype not in _DTYPES and dtype != "BF16"):
            raise _corrupt(f"tensor {name!r} has an unknown dtype {str(dtype)[:40]!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise _corrupt(f"tensor {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(type(o) is int for o in offs)
                or not 0 <= offs[0] <= offs[1] <= data_len):
            raise _corrupt(f"tensor {name!r} has data_offsets {offs!r} outside the {data_len}-byte data section")
        itemsize = 2 if dtype == "BF16" else np.dtype(_DTYPES[dtype]).itemsize
        if math.prod(shape) * itemsize != offs[1] - offs[0]:
            raise _corrupt(f"tensor {name!r}: shape {shape} of {dtype} needs {math.prod(shape) * itemsize} bytes, "
                           f"data_offsets give {offs[1] - offs[0]}")
        spans.append((offs[0], offs[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise _corrupt(f"tensor {name!r} starts at byte {begin}, expected {end} (overlapping tensors or a gap)")
        end = stop
    if end != data_len:
        raise _corrupt(f"the tensors cover {end} bytes of a {data_len}-byte data section (truncated or padded)")
    record = None
    if checksum and meta.get("format") == _FORMAT_CRC and _CHECKSUM_KEY not in meta:
        raise _corrupt(f"its format {_FORMAT_CRC!r} has an integrity record, which is missing (a corrupted header)")
    if checksum and _CHECKSUM_KEY in meta:  # checked before any tensor is read or allocated
        record = _integrity.parse_record(meta[_CHECKSUM_KEY], _corrupt)
        _integrity.check_header(record, header, meta, _corrupt)
    return header, meta, start, record


def _array(buf, entry: dict, start: int, name: str = "", record: dict | None = None) -> np.ndarray:
    begin, stop = entry["data_offsets"]
    raw = np.frombuffer(buf, np.uint8, stop - begin, start + begin)
    try:  # (the view into the file's buffer must not outlive this function: the buffer may be an mmap)
        if record is not None:  # before the copy: a corrupted tensor is never allocated
            _integrity.check_tensor(record, name, raw, _corrupt)
        if entry["dtype"] == "BF16":  # the bits, copied (little-endian, as bfloat16 arrays hold them)
            arr = raw.view(_bf16.BITS).copy().view(_bf16.STORAGE).view(_bf16.Bf16Array)
        else:
            dt = np.dtype(_DTYPES[entry["dtype"]])
            # a private, aligned, writable copy in the canonical native dtype object (the native bindings
            # compare dtypes by identity, and dt.newbyteorder("=") is an equal but distinct object)
            arr = raw.view(dt).astype(np.dtype(dt.type))
        bad_bool = entry["dtype"] == "BOOL" and bool((raw > 1).any())
    finally:
        del raw
    if bad_bool:
        raise _corrupt("a BOOL tensor holds bytes other than 0 and 1")
    return arr.reshape(entry["shape"])


class _Decoder:
    def __init__(self, buf: bytes, header: dict, start: int, place, record: dict | None = None) -> None:
        # place(host_array, saved_device): the map_location's placement (_location.resolver)
        self.buf, self.header, self.start, self.place, self.record = buf, header, start, place, record
        self.used: set[str] = set()

    def _array(self, name) -> np.ndarray:
        if not isinstance(name, str) or name not in self.header:
            raise _corrupt(f"the structure refers to a missing tensor {str(name)[:80]!r}")
        if name in self.used:  # save stores every tensor once: a second reference would load a second copy
            raise _corrupt(f"the structure refers to tensor {name[:80]!r} more than once (each reference would "
                           "load another copy: a small file could fill memory)")
        self.used.add(name)
        return _array(self.buf, self.header[name], self.start, name, self.record)

    def _tensor(self, name, requires_grad=False, device=None) -> Tensor:
        arr = self._array(name)
        if self.header[name]["dtype"] not in _TENSOR_DTYPES:
            raise _corrupt(f"tensor {name!r} has a dtype a fastnn Tensor cannot hold")
        if not isinstance(requires_grad, bool) or (requires_grad and arr.dtype.kind not in "fV"):
            raise _corrupt(f"tensor {name!r} has an invalid requires_grad {requires_grad!r}")
        if device is not None and not (isinstance(device, str) and re.fullmatch(r"cuda:[0-9]{1,4}", device)):
            raise _corrupt(f"tensor {name!r} has an invalid device {device!r}")
        return Tensor._wrap(self.place(arr, device), requires_grad=requires_grad)

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise _corrupt("the structure is nested too deeply")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if isinstance(node, dict) and "$tensor" in node and set(node) in _TENSOR_NODE_KEYS:
            return self._tensor(node["$tensor"], node["requires_grad"], node.get("device"))
        if not isinstance(node, dict) or len(node) != 1:
            raise _corrupt(f"unknown node in the structure: {str(node)[:80]}")
        (kind, value), = node.items()
        if kind == "$ndarray":
            return self._array(value)
        if kind == "$npscalar":
            arr = self._array(value)
            if arr.ndim != 0:
                raise _corrupt(f"scalar {value!r} is not 0-dimensional")
            return arr[()]
        if kind == "$float" and value in ("inf", "-inf", "nan"):
            return float(value)
        if kind == "$tuple" and isinstance(value, list):
            return tuple(self.decode(v, depth + 1) for v in value)
        if kind == "$dict" and isinstance(value, list):
            out = {}
            for item in value:
                if not isinstance(item, list) or len(item) != 2:
                    raise _corrupt("a dict entry is not a [key, value] pair")
                key = self.decode(item[0], depth + 1)
                if not (key is None or isinstance(key, (str, int, float, bool))):
                    raise _corrupt(f"a dict key of type {type(key).__name__}")
                out[key] = self.decode(item[1], depth + 1)
            return out
        raise _corrupt(f"unknown node in the structure: {str(node)[:80]}")


_TENSOR_NODE_KEYS = ({"$tensor", "requires_grad"}, {"$tensor", "requires_grad", "device"})


def load(f: PathLike, map_location=None, pickle_module=None, *, weights_only: bool | None = None, mmap=None,
         checksum: bool = True, **pickle_load_args) -> Any:
    """Loads what ``save`` wrote: the same structure, with fastnn Tensors (same dtype, shape, values and
    requires_grad) where tensors were saved and NumPy arrays where arrays were. A safetensors file from
    elsewhere loads as ``{name: tensor}`` (dtypes a Tensor cannot hold come back as NumPy arrays, BF16 as
    float32). Raises ValueError for a truncated, corrupted or foreign file; never executes code from it.

    ``map_location``: where the tensors load, as in torch.load (``_location``): None puts each back on the
    device it was saved from; a device (str, ``fastnn.device``, ``torch.device``) puts all there; a dict maps
    saved locations to targets; a callable ``f(storage, location)`` returns the tensor to use (or None).

    ``weights_only`` (default True, as in PyTorch 2.6+) matters only for a pickle container (what ``save``
    writes for objects that are not tensors and containers): True rebuilds only tensors, containers and
    allowlisted globals and raises ``pickle.UnpicklingError`` for anything else; False unpickles fully,
    which can execute code from the file: use it only for files you trust. ``mmap`` is accepted for any value:
    a file is always mapped and each tensor copied out of it (torch's mmap=True would keep them file-backed).

    ``checksum`` (default True; a fastnn extension): verify the file's integrity record where it has one
    (``save(..., checksum=True)`` writes it): a header changed after saving is rejected before anything is
    allocated, a tensor whose bytes changed is rejected naming it. False reads a damaged file anyway.
    Every header is validated regardless (offsets in range, ordered and non-overlapping, byte counts equal to
    shape times itemsize, known dtypes, no duplicate names, each tensor referenced once).
    """
    if weights_only is None:
        weights_only = True
    if pickle_module is not None and pickle_module.__name__ != "pickle":
        raise NotImplementedError(f"fastnn.load: pickle_module={pickle_module.__name__}; only pickle is supported")
    if pickle_load_args:
        raise TypeError(f"fastnn.load: unexpected keyword argument {next(iter(pickle_load_args))!r}")
    if not isinstance(checksum, bool):
        raise TypeError(f"fastnn.load: checksum must be a bool, got {type(checksum).__name__}")
    be = _location.resolver(map_location)  # (a bad device string raises here, before the file is read)
    if hasattr(f, "read") and not isinstance(f, (str, bytes, os.PathLike)):
        buf = f.read()
        if not isinstance(buf, (bytes, bytearray)):
            raise TypeError("fastnn.load: the file object must be opened in binary mode")
        try:
            return _load_buffer(buf, be, weights_only, checksum)
        except _CorruptFile as e:
            raise _naming(e, None) from None
    path = os.fspath(f)
    try:
        return _load_path(path, be, weights_only, checksum)
    except _CorruptFile as e:
        raise _naming(e, os.fsdecode(path)) from None


def _load_path(path, be, weights_only: bool, checksum: bool):
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return _load_buffer(b"", be, weights_only, checksum)
        # mapped, not read: each tensor is copied straight from the page cache, so the peak memory of a
        # large checkpoint is its tensors once, not twice
        buf = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
        try:
            return _load_buffer(buf, be, weights_only, checksum)
        finally:
            try:
                buf.close()
            except BufferError:  # a view still alive in a traceback: the collector unmaps it later
                pass


def _load_buffer(buf, place, weights_only: bool = True, checksum: bool = True) -> Any:
    container = serialization.container_payload(buf, checksum)  # (raises for a damaged container)
    if container is not None:
        with _location.loading(place):  # the tensors' rebuild functions place them as map_location says
            return serialization.loads(container, weights_only)
    try:
        header, meta, start, record = _parse(buf, checksum)
    except ValueError:
        if bytes(buf[:4]) == b"PK\x03\x04":  # (checked only once the bytes are no safetensors file)
            raise _corrupt("this is a PyTorch checkpoint (torch.save's zip format), which fastnn does not read; "
                           "load it with torch and pass its state_dict to fastnn.save (torch tensors are "
                           "converted)") from None
        raise
    dec = _Decoder(buf, header, start, place, record)
    if _STRUCTURE_KEY not in meta:
        return {name: dec._tensor(name) if entry["dtype"] in _TENSOR_DTYPES else dec._array(name)
                for name, entry in header.items()}
    return dec.decode(_strict_json(meta[_STRUCTURE_KEY], "the fastnn structure"))

__all__ = ["load", "save"]
