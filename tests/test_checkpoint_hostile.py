"""Hostile checkpoint and Keras model files (tests/checkpoint_corpus.py): hypothesis draws a base file and a
mutation (truncation, bit flips in the length, header and data, header field mutations, shifted and
overlapping offsets, duplicate names, names aliasing one tensor, huge shapes, a Keras config asking for huge
weights, hostile pickles), and fuzz_harness' worker loads it, so a crash or a hang is a failure. Every file
must be rejected with a clear error naming the loader, or load its exact original content; none may load
changed content (our files carry the integrity record), allocate out of proportion to its size, or run code.
Files written by the real safetensors package have no record: their data flips load changed (counted).

FASTNN_FUZZ_EXAMPLES raises the example counts for a long run; the counts are printed with ``-s``."""
import collections
import io
import json
import os
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import checkpoint_corpus as corpus
import fastnn
from fuzz_cases_checkpoint import digest, model_digest
from fuzz_harness import FuzzRunner, fuzz_settings

COUNTS = collections.Counter()
# Only a file without an integrity record may load changed content: the real safetensors' own files
CHANGED_OK = {"foreign"}


@pytest.fixture(scope="module")
def runner():
    with FuzzRunner(timeout_s=60) as run:
        yield run
    print("\nhostile checkpoint files:", dict(sorted(COUNTS.items())))


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    d = tmp_path_factory.mktemp("bases")
    out = {}
    for name, (kind, raw) in corpus.base_files(d).items():
        p = d / f"ref-{name}"
        p.write_bytes(raw)
        ref = model_digest(fastnn.keras.models.load_model(str(p))) if kind == "keras" else digest(fastnn.load(p))
        out[name] = (kind, raw, ref)
    return out


def check(runner, bases, base, mutation, a, b):
    kind, raw, ref = bases[base]
    try:
        data = corpus.mutations_for(kind)[mutation](raw, a, b)
    except (KeyError, IndexError, ValueError, TypeError):
        return  # the mutation does not apply to this base
    out = runner("fuzz_cases_checkpoint:load_file", data, kind)
    assert out.kind == "ok", out.describe()
    verdict = corpus.classify(out.value, kind, ref, len(data))
    COUNTS[verdict] += 1
    if verdict == "changed" and base in CHANGED_OK:
        return
    assert verdict in ("rejected", "intact"), f"{base}/{mutation}({a}, {b}): {verdict}: {out.value}"


ints = st.integers(0, 2**31 - 1)


@fuzz_settings(60)
@given(base=st.sampled_from(["state_dict", "checkpoint", "foreign"]),
       mutation=st.sampled_from(sorted(corpus.MUTATIONS)), a=ints, b=ints)
def test_hostile_safetensors_files(runner, bases, base, mutation, a, b):
    if base not in bases:
        pytest.skip("safetensors is not installed")
    check(runner, bases, base, mutation, a, b)


@fuzz_settings(40)
@given(mutation=st.sampled_from(sorted(corpus.KERAS_MUTATIONS)), a=ints, b=ints)
def test_hostile_keras_files(runner, bases, mutation, a, b):
    check(runner, bases, "keras", mutation, a, b)


@fuzz_settings(25)
@given(mutation=st.sampled_from(sorted(corpus.PICKLE_MUTATIONS)), a=ints, b=ints)
def test_hostile_pickle_containers(runner, bases, mutation, a, b):
    check(runner, bases, "pickle", mutation, a, b)


# ---- targeted cases ----------------------------------------------------------------------------------------
def test_every_bit_flip_is_detected_with_the_integrity_record(bases):
    """Each of the file's bits flipped in turn (the length, the header, the data): every one is rejected."""
    for base in ("state_dict", "pickle"):
        _kind, raw, _ref = bases[base]
        undetected = []
        for pos in range(len(raw)):
            for bit in range(8):
                buf = bytearray(raw)
                buf[pos] ^= 1 << bit
                try:
                    fastnn.load(io.BytesIO(bytes(buf)))
                    undetected.append((pos, bit))
                except (ValueError, pickle.UnpicklingError):
                    pass
        COUNTS[f"bitflips-{base}"] = 8 * len(raw)
        assert undetected == [], f"{base}: {len(undetected)} of {8 * len(raw)} flips loaded: {undetected[:5]}"


def test_without_the_record_a_data_flip_loads_silently(tmp_path):
    """Why the record exists: safetensors has no redundancy, so without it a flipped bit is a changed value."""
    fastnn.save({"w": fastnn.ones(4)}, tmp_path / "plain.st", checksum=False)
    raw = bytearray((tmp_path / "plain.st").read_bytes())
    assert b"fastnn.checksums" not in raw
    raw[-1] ^= 0x01
    assert fastnn.load(io.BytesIO(bytes(raw)))["w"].tolist() != [1.0] * 4
    fastnn.save({"w": fastnn.ones(4)}, tmp_path / "ck.st")
    raw = bytearray((tmp_path / "ck.st").read_bytes())
    raw[-1] ^= 0x01
    (tmp_path / "ck.st").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"ck\.st.*checksum mismatch in tensor 'w'"):
        fastnn.load(tmp_path / "ck.st")
    assert fastnn.load(tmp_path / "ck.st", checksum=False)["w"].tolist() != [1.0] * 4  # read anyway, on request


def test_a_changed_header_is_rejected_before_any_tensor_is_read(tmp_path, monkeypatch):
    import fastnn.io as fio

    fastnn.save({"fc.weight": fastnn.ones(2, 3)}, tmp_path / "a.st")
    header, data = corpus.split((tmp_path / "a.st").read_bytes())
    header["fc.weighu"] = header.pop("fc.weight")  # a flipped bit that keeps the JSON valid
    header["__metadata__"]["fastnn.structure"] = header["__metadata__"]["fastnn.structure"].replace("weight", "weighu")
    (tmp_path / "a.st").write_bytes(corpus.join(header, data))
    monkeypatch.setattr(fio, "_array", lambda *a, **k: pytest.fail("a tensor was read"))
    with pytest.raises(ValueError, match="header's checksum does not match"):
        fastnn.load(tmp_path / "a.st")


def test_many_names_onto_one_tensor_are_rejected_without_allocating(runner, tmp_path):
    fastnn.save({"w": fastnn.zeros(1 << 18)}, tmp_path / "one.st", checksum=False)  # 1 MiB
    raw = (tmp_path / "one.st").read_bytes()
    for mutate in (corpus.alias_names, corpus.alias_structure):
        out = runner("fuzz_cases_checkpoint:load_file", mutate(raw, 0, 999), "tensors")
        assert out.kind == "ok" and out.value["status"] == "error", out.describe()
        assert out.value["exc_type"] == "ValueError" and out.value["peak"] < 4 << 20, out.value
        assert "overlapping" in out.value["message"] or "more than once" in out.value["message"]


def test_keras_weight_bomb_is_rejected_before_allocating(runner, bases):
    _kind, raw, _ref = bases["keras"]
    for a in (0, 1):
        data = corpus.keras_weight_bomb(raw, a, 3)  # 2**40 units / inputs from a ~2 KiB file
        out = runner("fuzz_cases_checkpoint:load_file", data, "keras")
        assert out.kind == "ok" and out.value["exc_type"] == "ValueError", out.describe()
        assert "load_model" in out.value["message"] and "model.keras" in out.value["message"]
        assert out.value["peak"] < 8 << 20, out.value


@pytest.mark.parametrize("payload", [
    b"\x80\x04N r\x00\x00\x00\x40.",  # LONG_BINPUT 2**30: the C unpickler would zero-fill a 16 GiB memo
    b"\x80\x04cbuiltins\nbytearray\n(\x8a\x05\x00\x00\x00\x00\x02tR.",  # bytearray(2**33)
    b"\x80\x04cbuiltins\nlist\n(cbuiltins\nrange\n(\x8a\x05\x00\x00\x00\x00\x01tRtR.",  # list(range(2**32))
    b"\x80\x04cbuiltins\neval\n(X\x01\x00\x00\x001tR.",
])
def test_hostile_pickles_are_refused_cheaply(runner, payload):
    from fastnn.serialization import PICKLE_MAGIC

    out = runner("fuzz_cases_checkpoint:load_file", PICKLE_MAGIC + payload, "pickle")
    assert out.kind == "ok" and out.value["exc_type"] == "UnpicklingError", out.describe()
    assert "Weights only load failed" in out.value["message"] and out.value["peak"] < 8 << 20, out.value


def test_errors_name_the_file_and_the_tensor(tmp_path):
    fastnn.save({"w": fastnn.ones(2)}, tmp_path / "ok.st")
    header, data = corpus.split((tmp_path / "ok.st").read_bytes())
    header["w"]["shape"] = [3]
    (tmp_path / "bad.st").write_bytes(corpus.join(header, data))
    with pytest.raises(ValueError, match=r"bad\.st'\): tensor 'w': shape \[3\]"):
        fastnn.load(tmp_path / "bad.st")


def test_keras_config_errors_are_value_errors_naming_the_file(tmp_path):
    keras = fastnn.keras
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.save(str(tmp_path / "m.keras"))
    header, data = corpus.split((tmp_path / "m.keras").read_bytes())
    structure = json.loads(header["__metadata__"]["fastnn.structure"])
    text = json.dumps(structure).replace('"args", [2]]', '"args", ["two"]]')
    assert "two" in text
    (tmp_path / "bad.keras").write_bytes(corpus._keras_join(header, data, json.loads(text)))  # without the record
    with pytest.raises(ValueError, match=r"load_model: .*bad\.keras has an invalid model config"):
        keras.models.load_model(str(tmp_path / "bad.keras"))


def test_checksummed_files_stay_readable_by_safetensors_and_torch(tmp_path):
    st_np = pytest.importorskip("safetensors.numpy")
    sd = {"a": fastnn.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), "b": fastnn.tensor(np.arange(3))}
    fastnn.save(sd, tmp_path / "m.safetensors")
    meta = corpus.split((tmp_path / "m.safetensors").read_bytes())[0]["__metadata__"]
    assert json.loads(meta["fastnn.checksums"])["algorithm"] == "crc32"
    back = st_np.load_file(str(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(back["a"], sd["a"].numpy())
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    assert torch.equal(st_torch.load_file(str(tmp_path / "m.safetensors"))["b"], torch.arange(3))
    st_torch.save_file({"t": torch.ones(2, 2)}, str(tmp_path / "t.safetensors"))
    assert fastnn.load(tmp_path / "t.safetensors")["t"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_checksum_argument_is_checked(tmp_path):
    with pytest.raises(TypeError, match="checksum must be a bool"):
        fastnn.save({"a": 1}, tmp_path / "x.st", checksum="yes")
    fastnn.save({"a": 1}, tmp_path / "x.st")
    with pytest.raises(TypeError, match="checksum must be a bool"):
        fastnn.load(tmp_path / "x.st", checksum=1)
    assert os.listdir(tmp_path) == ["x.st"]


@pytest.mark.torch
def test_a_real_keras_archive_is_named_as_such(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    theirs = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    theirs.save(str(tmp_path / "theirs.keras"))
    with pytest.raises(ValueError, match=r"load_model: .*theirs\.keras is a Keras 3 \.keras archive"):
        fastnn.keras.models.load_model(str(tmp_path / "theirs.keras"))
