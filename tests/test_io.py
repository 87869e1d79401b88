"""fastnn.save / fastnn.load: round trips of every kind of object, the safetensors layout, a checkpoint that
resumes training identically, corrupted and truncated files, atomic writes, and no pickle anywhere."""
import io
import json
import math
import os
import pickle
import stat

import numpy as np
import pytest

import fastnn
from fastnn.optim import Adam
from fastnn.optim.lr_scheduler import OneCycleLR


def assert_same(a, b):
    """Deep equality that also checks types, dtypes and shapes (and NaN == NaN)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, fastnn.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype.newbyteorder("=") == b.dtype.newbyteorder("=") and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        assert all(type(x) is type(y) for x, y in zip(a, b))
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


def round_trip(obj, tmp_path):
    path = tmp_path / "obj.safetensors"
    fastnn.save(obj, path)
    return fastnn.load(path)


RNG = np.random.default_rng(0)
SHARED = fastnn.ones(2)
OBJECTS = {
    "f32": fastnn.tensor(RNG.standard_normal((3, 4)).astype(np.float32)),
    "f64-requires-grad": fastnn.tensor(RNG.standard_normal(5), requires_grad=True),
    "i64": fastnn.tensor(np.arange(-3, 9).reshape(2, 6)),
    "bool": fastnn.tensor(RNG.random((2, 3)) > 0.5),
    "scalar-0d": fastnn.tensor(3.5),
    "empty": fastnn.zeros(0, 3),
    "transposed-view": fastnn.tensor(np.arange(12.0).reshape(3, 4)).transpose(0, 1),
    "python": {"int": 3, "big": 2**100, "neg": -7, "float": 0.1, "negzero": -0.0, "inf": float("inf"),
               "ninf": -math.inf, "nan": math.nan, "true": True, "false": False, "none": None,
               "str": "héllo \"quoted\" \n ✓", "empty": "", "list": [1, [2, [3, []]]], "tuple": (1, (2.5, "x")),
               "empty-tuple": (), "empty-dict": {}},
    "keys": {0: "int", 1.5: "float", True: "bool", None: "none", "0": "str zero", -3: "negative"},
    "numpy": {"f16": np.arange(6, dtype=np.float16).reshape(2, 3), "i8": np.array([-128, 0, 127], np.int8),
              "u8": np.array([0, 255], np.uint8), "i16": np.array([-5], np.int16), "u16": np.array([9], np.uint16),
              "i32": np.arange(4, dtype=np.int32), "u32": np.array([2**32 - 1], np.uint32),
              "u64": np.array([2**64 - 1], np.uint64), "b": np.array([True, False]),
              "big-endian": np.arange(3, dtype=">f4"), "f64-0d": np.array(2.0),
              "scalars": [np.float32(1.5), np.int64(-4), np.bool_(True), np.float16(0.25)]},
    "colliding-names": {"a.b": fastnn.ones(1), "a": {"b": fastnn.zeros(1)}, "__metadata__": fastnn.ones(2)},
    "same-tensor-twice": [SHARED, SHARED],  # written twice, loaded as two tensors
}


@pytest.mark.parametrize("name", list(OBJECTS))
def test_round_trip(name, tmp_path):
    obj = OBJECTS[name]
    back = round_trip(obj, tmp_path)
    assert_same(obj, back)
    if isinstance(back, fastnn.Tensor):
        assert back.is_contiguous() and back._data.flags.writeable and back._data.flags.aligned


def test_round_trip_through_file_objects_and_paths(tmp_path):
    obj = {"w": fastnn.randn(2, 2), "n": 1}
    buf = io.BytesIO()
    fastnn.save(obj, buf)
    buf.seek(0)
    assert_same(obj, fastnn.load(buf))
    fastnn.save(obj, str(tmp_path / "s.st"))
    assert_same(obj, fastnn.load(str(tmp_path / "s.st")))
    with open(tmp_path / "s.st", "rb") as f:
        assert_same(obj, fastnn.load(f))


def test_map_location_and_symlinks(tmp_path):
    fastnn.save({"a": fastnn.ones(2)}, tmp_path / "real.st")
    assert fastnn.load(tmp_path / "real.st", map_location="cpu", weights_only=True)["a"].tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="map_location"):  # no CUDA device 1 here (torch's error)
        fastnn.load(tmp_path / "real.st", map_location="cuda:1")
    os.symlink(tmp_path / "real.st", tmp_path / "latest.st")
    fastnn.save({"a": fastnn.zeros(2)}, tmp_path / "latest.st")  # writes the file the link names
    assert os.path.islink(tmp_path / "latest.st")
    assert fastnn.load(tmp_path / "real.st")["a"].tolist() == [0.0, 0.0]


def test_loaded_tensors_are_independent(tmp_path):
    back = round_trip({"a": fastnn.ones(3), "b": fastnn.ones(3)}, tmp_path)
    back["a"][0] = 5.0
    assert back["b"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("obj", [{1, 2}, 1 + 2j, b"bytes", {(1, 2): 3}, np.array(["a", "b"]), np.array([1 + 1j])])
def test_objects_outside_safetensors_are_pickled_and_need_the_opt_in(obj, tmp_path):
    # torch.save pickles anything; fastnn writes such objects in its pickle container, which a default
    # (weights_only=True) load refuses unless every global is allowlisted (tests/test_serialization_objects.py)
    fastnn.save(obj, tmp_path / "x.st")
    back = fastnn.load(tmp_path / "x.st", weights_only=False)
    assert type(back) is type(obj) and (np.array_equal(back, obj) if isinstance(obj, np.ndarray) else back == obj)


def test_unpicklable_objects_fail_before_a_file_is_written(tmp_path):
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        fastnn.save([lambda: 0], tmp_path / "x.st")
    assert os.listdir(tmp_path) == []


# ---- the safetensors layout --------------------------------------------------------------------------------
def flat_state_dict():
    rng = np.random.default_rng(1)
    return {"fc1.weight": fastnn.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
            "fc1.bias": fastnn.tensor(rng.standard_normal(4).astype(np.float32)),
            "bn.num_batches_tracked": fastnn.tensor(np.array(7)),
            "bn.running_var": fastnn.tensor(rng.random(4)), "mask": fastnn.tensor(np.array([True, False]))}


def test_layout_by_hand(tmp_path):
    sd = flat_state_dict()
    fastnn.save(sd, tmp_path / "m.st")
    raw = (tmp_path / "m.st").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert (8 + n) % 8 == 0  # the data starts aligned
    header = json.loads(raw[8:8 + n])
    assert set(header) == set(sd) | {"__metadata__"}
    assert header["fc1.weight"]["dtype"] == "F32" and header["fc1.weight"]["shape"] == [4, 3]
    assert header["bn.num_batches_tracked"] == {"dtype": "I64", "shape": [], "data_offsets":
                                                header["bn.num_batches_tracked"]["data_offsets"]}
    assert header["mask"]["dtype"] == "BOOL" and header["bn.running_var"]["dtype"] == "F64"
    for name, t in sd.items():
        b, e = header[name]["data_offsets"]
        assert raw[8 + n + b: 8 + n + e] == np.asarray(t).astype(np.asarray(t).dtype.newbyteorder("<")).tobytes()
    assert all(isinstance(v, str) for v in header["__metadata__"].values())


def test_readable_by_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    sd = flat_state_dict()
    fastnn.save(sd, tmp_path / "m.safetensors")
    theirs = st.load_file(str(tmp_path / "m.safetensors"))
    assert set(theirs) == set(sd)
    for k, v in sd.items():
        assert theirs[k].dtype == np.asarray(v).dtype
        np.testing.assert_array_equal(theirs[k], np.asarray(v))
    # and a file written by safetensors loads as {name: tensor} (NumPy arrays for dtypes a Tensor can't hold)
    st.save_file({"w": np.ones((2, 2), np.float32), "i": np.arange(3), "h": np.ones(2, np.float16)},
                 str(tmp_path / "theirs.safetensors"), metadata={"format": "np"})
    back = fastnn.load(tmp_path / "theirs.safetensors")
    assert isinstance(back["w"], fastnn.Tensor) and back["w"].dtype == fastnn.float32
    assert isinstance(back["i"], fastnn.Tensor) and back["i"].tolist() == [0, 1, 2]
    assert isinstance(back["h"], fastnn.Tensor) and back["h"].dtype == fastnn.float16  # a storage dtype now


@pytest.mark.torch
def test_torch_state_dict_saved_directly(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    sd = model.state_dict()
    back = round_trip(sd, tmp_path)
    assert list(back) == list(sd)
    for k, v in sd.items():
        assert isinstance(back[k], fastnn.Tensor)
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    # the other way: torch reads what we wrote through safetensors' torch loader
    st_torch = pytest.importorskip("safetensors.torch")
    fastnn.save({k: fastnn.tensor(v.numpy()) for k, v in sd.items()}, tmp_path / "f.st")
    model.load_state_dict(st_torch.load_file(str(tmp_path / "f.st")))


# ---- checkpoints -----------------------------------------------------------------------------------------
class MLP:
    """A tiny model from fastnn ops (nn.Module is not needed to exercise checkpoints)."""

    def __init__(self):
        self.w1 = (fastnn.randn(4, 8) * 0.5).requires_grad_()
        self.b1 = fastnn.zeros(8, requires_grad=True)
        self.w2 = (fastnn.randn(8, 1) * 0.5).requires_grad_()

    def params(self):
        return [self.w1, self.b1, self.w2]

    def state_dict(self):
        return {"w1": self.w1.detach(), "b1": self.b1.detach(), "w2": self.w2.detach()}

    def load_state_dict(self, sd):
        for k, v in sd.items():
            getattr(self, k).detach()._data[...] = v.numpy()

    def loss(self, x, y):
        h = fastnn.relu(x @ self.w1 + self.b1)
        h = h * (fastnn.rand(*h.shape) > 0.2)  # dropout from the global generator: the RNG state matters
        return ((h @ self.w2 - y) ** 2).mean()


def train(model, opt, sched, steps):
    x = fastnn.tensor(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4))
    y = fastnn.tensor(np.sin(np.arange(8, dtype=np.float32)).reshape(8, 1))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(x, y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def fresh():
    model = MLP()
    opt = Adam(model.params(), lr=1e-2, weight_decay=1e-3, amsgrad=True)
    return model, opt, OneCycleLR(opt, max_lr=0.05, total_steps=40)


def test_checkpoint_resumes_training_identically(tmp_path):
    fastnn.manual_seed(0)
    model, opt, sched = fresh()
    train(model, opt, sched, 15)
    fastnn.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(),
                 "epoch": 3, "rng": fastnn.get_rng_state()}, tmp_path / "ck.safetensors")
    expected = train(model, opt, sched, 20)
    final = [p.detach().numpy().copy() for p in model.params()]

    fastnn.manual_seed(123)  # a different init and generator state, all overwritten by the checkpoint
    model2, opt2, sched2 = fresh()
    ck = fastnn.load(tmp_path / "ck.safetensors")
    model2.load_state_dict(ck["model"])
    sched2.load_state_dict(ck["sched"])
    opt2.load_state_dict(ck["optim"])
    fastnn.set_rng_state(ck["rng"])
    assert ck["epoch"] == 3
    assert train(model2, opt2, sched2, 20) == expected
    for a, b in zip(final, model2.params()):
        np.testing.assert_array_equal(a, b.detach().numpy())


# ---- corrupted files ---------------------------------------------------------------------------------------
def valid_bytes(tmp_path, obj=None):
    fastnn.save(flat_state_dict() if obj is None else obj, tmp_path / "ok.st")
    return (tmp_path / "ok.st").read_bytes()


def with_header(header: dict, data: bytes = b"", raw_header: bytes | None = None) -> bytes:
    text = json.dumps(header).encode() if raw_header is None else raw_header
    return len(text).to_bytes(8, "little") + text + data


def meta(structure) -> dict:
    return {"__metadata__": {"fastnn.structure": json.dumps(structure)}}


T = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
CORRUPT = {
    "empty": b"",
    "short": b"\x01\x02\x03",
    "length-past-end": (1000).to_bytes(8, "little") + b"{}",
    "huge-length": (2**63).to_bytes(8, "little") + b"{}",
    "not-json": with_header({}, raw_header=b"{not json"),
    "bad-utf8": with_header({}, raw_header=b'{"\xff": 1}'),
    "json-array": with_header({}, raw_header=b"[1, 2]"),
    "nan-in-header": with_header({}, raw_header=b'{"a": NaN}'),
    "duplicate-key": with_header({}, b"\0" * 8, raw_header=b'{"a": %s, "a": %s}' % (json.dumps(T).encode(),
                                                                                 json.dumps(T).encode())),
    "unknown-dtype": with_header({"a": {**T, "dtype": "F7"}}, b"\0" * 8),
    "shape-mismatch": with_header({"a": {**T, "shape": [3]}}, b"\0" * 8),
    "negative-shape": with_header({"a": {**T, "shape": [-2]}}, b"\0" * 8),
    "float-shape": with_header({"a": {**T, "shape": [2.0]}}, b"\0" * 8),
    "offsets-past-end": with_header({"a": {**T, "data_offsets": [4, 12]}}, b"\0" * 8),
    "offsets-reversed": with_header({"a": {**T, "data_offsets": [8, 0]}}, b"\0" * 8),
    "overlap": with_header({"a": T, "b": {**T, "data_offsets": [4, 12]}}, b"\0" * 12),
    "gap": with_header({"a": {**T, "data_offsets": [4, 12]}}, b"\0" * 12),
    "trailing-bytes": with_header({"a": T}, b"\0" * 9),
    "missing-field": with_header({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
    "metadata-not-strings": with_header({"__metadata__": {"a": 1}}),
    "structure-not-json": with_header({"__metadata__": {"fastnn.structure": "{oops"}}),
    "structure-missing-tensor": with_header(meta({"$tensor": "nope", "requires_grad": False})),
    "structure-unknown-node": with_header(meta({"$pickle": "os.system"})),
    "structure-bad-dict": with_header(meta({"$dict": [[1]]})),
    "structure-unhashable-key": with_header(meta({"$dict": [[[1], 2]]})),
    "structure-bad-float": with_header(meta({"$float": "1e999x"})),
    "structure-deep": with_header({"__metadata__": {"fastnn.structure": "[" * 100000 + "]" * 100000}}),
    "structure-u16-as-tensor": with_header({"a": {"dtype": "U16", "shape": [4], "data_offsets": [0, 8]},
                                            **meta({"$tensor": "a", "requires_grad": False})}, b"\0" * 8),
    "structure-int-requires-grad": with_header({"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
                                                **meta({"$tensor": "a", "requires_grad": True})}, b"\0" * 8),
    "bool-byte-2": with_header({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}, b"\x02"),
    "garbage": np.random.default_rng(5).integers(0, 256, 300, dtype=np.uint8).tobytes(),
}


@pytest.mark.parametrize("name", list(CORRUPT))
def test_corrupted_file_raises_value_error(name, tmp_path):
    (tmp_path / "bad.st").write_bytes(CORRUPT[name])
    with pytest.raises(ValueError, match="fastnn.load: not a valid"):
        fastnn.load(tmp_path / "bad.st")


def test_every_truncation_raises_value_error(tmp_path):
    raw = valid_bytes(tmp_path, {"a": fastnn.ones(3), "b": [1, "x"]})
    for n in range(len(raw)):
        with pytest.raises(ValueError):
            fastnn.load(io.BytesIO(raw[:n]))


def test_random_byte_flips_load_or_raise_value_error(tmp_path):
    raw = valid_bytes(tmp_path, {"a": fastnn.ones(3), "b": (1, None, {"c": np.arange(2)})})
    rng = np.random.default_rng(7)
    outcomes = {"loaded": 0, "ValueError": 0}
    for _ in range(300):
        buf = bytearray(raw)
        for pos in rng.integers(0, len(buf), rng.integers(1, 4)):
            buf[pos] = rng.integers(0, 256)
        try:
            fastnn.load(io.BytesIO(bytes(buf)))
            outcomes["loaded"] += 1
        except ValueError:
            outcomes["ValueError"] += 1
    assert outcomes["ValueError"] > 0


# ---- atomic writes -----------------------------------------------------------------------------------------
def test_crash_in_replace_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.st"
    fastnn.save({"v": 1}, path)
    old = path.read_bytes()

    def boom(*args):
        raise OSError("disk on fire")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        fastnn.save({"v": 2, "w": fastnn.ones(1000)}, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ck.st"]
    monkeypatch.undo()
    assert fastnn.load(path) == {"v": 1}


@pytest.mark.parametrize("exc", [OSError("no space left"), KeyboardInterrupt()])
def test_crash_mid_write_keeps_old_file(exc, tmp_path, monkeypatch):
    path = tmp_path / "ck.st"
    fastnn.save({"v": 1}, path)
    old = path.read_bytes()
    import fastnn.io as fio
    real_write = fio._write

    def half_then_fail(f, head, arrays):
        f.write(head[: len(head) // 2])
        raise exc
    monkeypatch.setattr(fio, "_write", half_then_fail)
    with pytest.raises(type(exc)):
        fastnn.save({"v": 2}, path)
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["ck.st"]
    monkeypatch.setattr(fio, "_write", real_write)
    fastnn.save({"v": 3}, path)
    assert fastnn.load(path) == {"v": 3} and os.listdir(tmp_path) == ["ck.st"]


def test_save_is_flushed_and_fsynced_before_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    fastnn.save({"a": fastnn.ones(2)}, tmp_path / "x.st")
    assert calls[:2] == ["fsync", "replace"]  # the file's data is on disk before it takes the name
    assert calls[2:] in ([], ["fsync"])  # then the directory entry, where the platform allows


def test_replacing_keeps_permissions(tmp_path):
    path = tmp_path / "private.st"
    fastnn.save({"a": 1}, path)
    os.chmod(path, 0o600)
    fastnn.save({"a": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    fastnn.save({"a": 3}, tmp_path / "new.st")
    assert stat.S_IMODE(os.stat(tmp_path / "new.st").st_mode) & 0o600 == 0o600


# ---- no pickle -----------------------------------------------------------------------------------------------
def test_no_pickle_used(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used")
    for name in ("dump", "dumps", "load", "loads", "Pickler", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    obj = {"model": flat_state_dict(), "optim": {"state": {0: {"step": fastnn.tensor(np.float32(2))}},
                                                  "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99),
                                                                    "params": [0]}]},
           "rng": fastnn.get_rng_state(), "arr": np.arange(3)}
    assert_same(obj, round_trip(obj, tmp_path))
