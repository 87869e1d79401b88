"""Hostile checkpoint files for test_checkpoint_hostile and bench/checkpoint_probe.py: valid base files of
every kind fastnn reads (a flat state_dict, a nested training checkpoint, a Keras model, a pickle container,
a file written by the real ``safetensors`` package) and the mutations a hostile or unlucky file carries
(truncation, bit flips in the length, header and data, header field mutations, duplicate names, names aliasing
one tensor's bytes, huge shapes, a Keras config that asks for far more weights than the file holds, hostile
pickles). Each mutation is a plain function of the base bytes and a few integers, so hypothesis (the test)
and a seeded loop (the probe) draw the same kinds of file.

``classify(summary, kind, original_digest, size)`` turns what fuzz_cases_checkpoint.load_file returned into
one of: "rejected" (a clear error naming the loader), "intact" (loaded, the same content: a harmless change),
"changed" (loaded silently with different content), "unclear" (an error type a user cannot act on), "bloat"
(allocated out of proportion to the file, whatever the result), "ran-code".
"""
from __future__ import annotations

import io
import json
import pickle
import struct

import numpy as np

import fastnn

CLEAR = ("TypeError", "ValueError", "RuntimeError", "IndexError", "MemoryError", "NotImplementedError")
# a weights_only refusal is torch's own exception type and wording for a hostile pickle
CLEAR_PICKLE = CLEAR + ("UnpicklingError",)
LOADERS = ("fastnn.load", "load_model", "load_weights", "Weights only load failed")
BLOAT_FACTOR, BLOAT_SLACK = 16, 32 << 20  # a load may allocate 16x the file plus 32 MiB (Python, NumPy temps)


# ---- base files ----------------------------------------------------------------------------------------------
def _state_dict():
    rng = np.random.default_rng(0)
    return {"fc.weight": fastnn.tensor(rng.standard_normal((16, 8)).astype(np.float32)),
            "fc.bias": fastnn.tensor(rng.standard_normal(16).astype(np.float32)),
            "bn.num_batches_tracked": fastnn.tensor(np.array(7)),
            "emb": fastnn.tensor(rng.standard_normal((4, 4)).astype(np.float16)),
            "mask": fastnn.tensor(rng.random(8) > 0.5)}


def _checkpoint():
    return {"model": _state_dict(), "optim": {"state": {0: {"step": fastnn.tensor(np.float32(3)),
                                                             "exp_avg": fastnn.ones(16)}},
                                              "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}]},
            "epoch": 4, "rng": np.arange(6, dtype=np.uint32), "note": "hostile"}


def _keras_model_bytes(path) -> bytes:
    keras = fastnn.keras
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4)
    model.fit(x, x[:, :2], epochs=1, batch_size=4, verbose=0, shuffle=False)
    model.save(str(path))
    return path.read_bytes()


def _pickle_container_bytes(path) -> bytes:
    fastnn.save({"a set": {1, 2, 3}, "t": fastnn.ones(3)}, path)  # a set: outside safetensors, so pickled
    return path.read_bytes()


def _foreign_safetensors_bytes(path) -> bytes:
    from safetensors.numpy import save_file

    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4), "i": np.arange(5)}, str(path))
    return path.read_bytes()


def base_files(tmp_path) -> dict[str, tuple[str, bytes]]:
    """name -> (kind, bytes); kind "keras" loads with load_model, the others with fastnn.load."""
    out = {}
    p = tmp_path / "state.safetensors"
    fastnn.save(_state_dict(), p)
    out["state_dict"] = ("tensors", p.read_bytes())
    p = tmp_path / "ckpt.safetensors"
    fastnn.save(_checkpoint(), p)
    out["checkpoint"] = ("tensors", p.read_bytes())
    out["keras"] = ("keras", _keras_model_bytes(tmp_path / "model.keras"))
    out["pickle"] = ("pickle", _pickle_container_bytes(tmp_path / "obj.pt"))
    try:
        out["foreign"] = ("tensors", _foreign_safetensors_bytes(tmp_path / "foreign.safetensors"))
    except ImportError:
        pass
    return out


# ---- the safetensors layout ------------------------------------------------------------------------------
def split(raw: bytes):
    """(header dict, data bytes) of a safetensors file (the base files are valid)."""
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def join(header: dict | bytes, data: bytes) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    return len(text).to_bytes(8, "little") + text + data


def header_len(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "little")


def tensor_names(header: dict) -> list[str]:
    return [k for k in header if k != "__metadata__"]


# ---- mutations: (raw, *ints) -> bytes --------------------------------------------------------------------
def truncate(raw, a, b=0):
    return raw[: a % max(1, len(raw))]


def _flip(raw, pos, bit):
    buf = bytearray(raw)
    buf[pos] ^= 1 << (bit % 8)
    return bytes(buf)


def flip_length(raw, a, bit):
    return _flip(raw, a % 8, bit)


def flip_header(raw, a, bit):
    return _flip(raw, 8 + a % header_len(raw), bit)


def flip_data(raw, a, bit):
    start = 8 + header_len(raw)
    if start >= len(raw):
        return _flip(raw, 8 + a % header_len(raw), bit)
    return _flip(raw, start + a % (len(raw) - start), bit)


def overwrite(raw, a, value):
    buf = bytearray(raw)
    buf[a % len(buf)] = value % 256
    return bytes(buf)


HOSTILE_VALUES = [-1, 0, 1, 2**31, 2**40, 2**63, -(2**63), 10**30, 1.5, "8", None, True, [], {}, [0], [0, 0],
                  [2**62, 2**62], [-8, 0], "F32", "F64", "I8", "BF16", "C64", "F8_E4M3", "BOOL", [2**20] * 3]


def mutate_field(raw, a, b):
    """One field (dtype, shape, a shape dim, data_offsets, an offset) of one tensor set to a hostile value."""
    header, data = split(raw)
    names = tensor_names(header)
    if not names:
        return raw
    entry = header[names[a % len(names)]]
    value = HOSTILE_VALUES[b % len(HOSTILE_VALUES)]
    field = ("dtype", "shape", "data_offsets", "shape[0]", "offsets[0]", "offsets[1]", "drop", "extra")[a // 7 % 8]
    if field == "shape[0]" and entry["shape"]:
        entry["shape"][0] = value
    elif field == "offsets[0]":
        entry["data_offsets"][0] = value
    elif field == "offsets[1]":
        entry["data_offsets"][1] = value
    elif field == "drop":
        entry.pop(("dtype", "shape", "data_offsets")[b % 3])
    elif field == "extra":
        entry["extra"] = value
    elif field in entry:
        entry[field] = value
    return join(header, data)


def shift_offsets(raw, a, delta):
    """One tensor's byte range moved by ``delta`` (onto its neighbour, past the end, before the start)."""
    header, data = split(raw)
    names = tensor_names(header)
    if not names:
        return raw
    e = header[names[a % len(names)]]
    e["data_offsets"] = [e["data_offsets"][0] + delta, e["data_offsets"][1] + delta]
    return join(header, data)


def alias_names(raw, a, count):
    """``count`` extra names pointing at one tensor's bytes (the 1,000-names-onto-1-MiB amplification)."""
    header, data = split(raw)
    names = tensor_names(header)
    if not names:
        return raw
    src = header[names[a % len(names)]]
    for i in range(1 + count % 1000):
        header[f"alias.{i}"] = dict(src)
    return join(header, data)


def alias_structure(raw, a, count):
    """The fastnn structure referring to one stored tensor ``count`` times (each reference a copy)."""
    header, data = split(raw)
    names = tensor_names(header)
    meta = header.get("__metadata__", {})
    if not names or "fastnn.structure" not in meta:
        return alias_names(raw, a, count)
    name = names[a % len(names)]
    node = {"$tensor": name, "requires_grad": False} if header[name]["dtype"] in ("F32", "F64", "I64", "BOOL") \
        else {"$ndarray": name}
    meta["fastnn.structure"] = json.dumps([node] * (2 + count % 1000))
    return join(header, data)


def duplicate_name(raw, a, b):
    """The same tensor name twice in the header's JSON text (the second entry would silently win)."""
    header, data = split(raw)
    names = tensor_names(header)
    if not names:
        return raw
    name = names[a % len(names)]
    other = header[names[b % len(names)]]
    text = json.dumps(header, separators=(",", ":"))
    text = text[:-1] + "," + json.dumps(name) + ":" + json.dumps(other) + "}"
    return join(text.encode(), data)


def huge_shape(raw, a, b):
    """A shape whose element count is astronomically large (or overflows int64), offsets left alone."""
    header, data = split(raw)
    names = tensor_names(header)
    if not names:
        return raw
    dims = [[2**31, 2**31, 2**31], [2**62, 4], [10**12], [2**63 - 1], [0, 2**64], [3, -1, -1]][b % 6]
    header[names[a % len(names)]]["shape"] = dims
    return join(header, data)


def header_length(raw, a, b):
    """The 8-byte header length set to a hostile value."""
    n = header_len(raw)
    value = [0, 1, n - 1, n + 1, n + 8, len(raw), len(raw) - 7, 2**31, 2**63, 2**64 - 1, 100_000_001][b % 11]
    return value.to_bytes(8, "little") + raw[8:]


# ---- Keras: its config is JSON inside the fastnn structure -----------------------------------------------
def _keras_parts(raw):
    header, data = split(raw)
    meta = header["__metadata__"]
    return header, data, json.loads(meta["fastnn.structure"])


def _keras_join(header, data, structure):
    """The edited structure, written as a hostile author would: without the integrity record (which would
    catch the edit), so that the config itself must be validated."""
    meta = header["__metadata__"]
    meta["fastnn.structure"] = json.dumps(structure)
    meta.pop("fastnn.checksums", None)
    meta["format"] = "fastnn"
    return join(header, data)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    yield path


def _set_path(node, path, value):
    if not path:
        return value
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return None


def keras_config_leaf(raw, a, b):
    """One node of the Keras structure (config, compile settings, format) replaced by a hostile value."""
    header, data, structure = _keras_parts(raw)
    paths = [p for p in _leaves(structure) if "$tensor" not in p and "requires_grad" not in p]
    path = paths[a % len(paths)]
    root = _set_path(structure, path, HOSTILE_VALUES[b % len(HOSTILE_VALUES)])
    return _keras_join(header, data, structure if root is None else root)


def keras_weight_bomb(raw, a, b):
    """A ~1 KiB change that makes the config ask for a huge weight: units (or the input width) set to a
    large number, so building the model would allocate gigabytes before the weights are compared."""
    header, data, structure = _keras_parts(raw)
    text = json.dumps(structure)
    big = [2**26, 2**28, 10**9, 2**40][b % 4]
    if a % 2:
        text = text.replace('"args", [8]]', f'"args", [{big}]]')  # Dense(8) -> Dense(big)
    else:
        text = text.replace('"shape": [4]', f'"shape": [{big}]').replace('"shape", [4]', f'"shape", [{big}]')
    return _keras_join(header, data, json.loads(text))


# ---- hostile pickles -------------------------------------------------------------------------------------
def _container(payload: bytes) -> bytes:
    from fastnn.serialization import PICKLE_MAGIC

    return PICKLE_MAGIC + payload


def hostile_pickle(raw, a, b):
    """A pickle container that tries to run code or to allocate gigabytes from a few bytes."""
    marker = f"/tmp/fastnn-hostile-ran-code-{a % 97}"
    variants = [
        b"\x80\x04cos\nsystem\n(X" + struct.pack("<I", len(marker) + 6) + f"touch {marker}".encode() + b"tR.",
        b"\x80\x04cbuiltins\nexec\n(X\x0b\x00\x00\x00import os;1tR.",
        b"\x80\x04cbuiltins\nbytearray\n(\x8a\x05\x00\x00\x00\x00\x02tR.",  # bytearray(2**33)
        b"\x80\x04cbuiltins\nbytes\n(\x8a\x05\x00\x00\x00\x00\x02tR.",
        b"\x80\x04cbuiltins\nlist\n(cbuiltins\nrange\n(\x8a\x05\x00\x00\x00\x00\x01tRtR.",  # list(range(2**32))
        b"\x80\x04cbuiltins\nset\n(cbuiltins\nrange\n(\x8a\x05\x00\x00\x00\x00\x01tRtR.",
        pickle.dumps(fastnn.ones(2), protocol=4)[: 10 + b % 30],  # truncated
        b"\x80\x04\x94\x94.",
    ]
    return _container(variants[b % len(variants)])


def flip_pickle(raw, a, bit):
    from fastnn.serialization import PICKLE_MAGIC

    start = len(PICKLE_MAGIC)
    return _flip(raw, start + a % (len(raw) - start), bit)


MUTATIONS = {
    "truncate": truncate, "flip_length": flip_length, "flip_header": flip_header, "flip_data": flip_data,
    "overwrite": overwrite, "field": mutate_field, "shift_offsets": shift_offsets, "alias_names": alias_names,
    "alias_structure": alias_structure, "duplicate_name": duplicate_name, "huge_shape": huge_shape,
    "header_length": header_length,
}
KERAS_MUTATIONS = {**MUTATIONS, "keras_config": keras_config_leaf, "keras_bomb": keras_weight_bomb}
PICKLE_MUTATIONS = {"truncate": truncate, "hostile": hostile_pickle, "flip": flip_pickle, "overwrite": overwrite}


def mutations_for(kind: str) -> dict:
    return {"keras": KERAS_MUTATIONS, "pickle": PICKLE_MUTATIONS}.get(kind, MUTATIONS)


def classify(summary: dict, kind: str, original_digest: str, size: int) -> str:
    if summary.get("ran_code"):
        return "ran-code"
    if summary["peak"] > BLOAT_FACTOR * size + BLOAT_SLACK:
        return "bloat"
    if summary["status"] == "loaded":
        return "intact" if summary["digest"] == original_digest else "changed"
    clear = CLEAR_PICKLE if kind == "pickle" else CLEAR
    if summary["exc_type"] in clear and any(w in summary["message"] for w in LOADERS):
        return "rejected"
    return "unclear"


def as_file_bytes(obj) -> bytes:
    buf = io.BytesIO()
    fastnn.save(obj, buf)
    return buf.getvalue()
