"""fastnn.save / load through the backend seam: tensors leave their backend with to_host and arrive with
from_host on the map_location's backend; map_location names the CPU or is refused up front."""
import decimal
import io

import numpy as np
import pytest

import fastnn
from fastnn.backend import active_cpu, backend_of


def _saved(obj) -> io.BytesIO:
    buf = io.BytesIO()
    fastnn.save(obj, buf)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("where", [None, "cpu", "cpu:0", fastnn.device("cpu")], ids=repr)
def test_map_location_naming_the_cpu_loads_there(where):
    state = {"w": fastnn.arange(6.0).reshape(2, 3), "n": fastnn.tensor([1, 2]), "a": np.ones(2)}
    back = fastnn.load(_saved(state), map_location=where)
    assert back["w"].tolist() == state["w"].tolist() and back["w"].dtype is fastnn.float32
    assert back["n"].dtype is fastnn.int64
    assert backend_of(back["w"]._data) is active_cpu()
    assert type(back["a"]) is np.ndarray  # a saved NumPy array stays one


class _TorchLikeDevice:
    """What torch.device("cpu") looks like to load: an object whose str names the device."""

    def __str__(self):
        return "cpu"


def test_map_location_accepts_an_object_naming_the_cpu():
    back = fastnn.load(_saved({"x": fastnn.ones(2)}), map_location=_TorchLikeDevice())
    assert back["x"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("where", ["tpu", {"cuda:0": "tpu"}], ids=["tpu", "dict"])
def test_bad_map_locations_raise_before_reading(where, tmp_path):
    with pytest.raises(ValueError, match="device type"):
        fastnn.load(tmp_path / "missing.st", map_location=where)  # refused before the file is opened


def test_save_brings_arrays_to_the_host_and_load_places_them(monkeypatch):
    be_type = type(active_cpu())
    seen = {"to_host": 0, "from_host": 0}
    to_host, from_host = be_type.to_host, be_type.from_host

    def counting_to_host(self, arr):
        seen["to_host"] += 1
        return to_host(self, arr)

    def counting_from_host(self, arr):
        seen["from_host"] += 1
        return from_host(self, arr)

    monkeypatch.setattr(be_type, "to_host", counting_to_host)
    monkeypatch.setattr(be_type, "from_host", counting_from_host)
    buf = _saved({"a": fastnn.ones(2), "b": [fastnn.zeros(3), np.arange(4)]})
    assert seen["to_host"] == 3  # both tensors and the NumPy array
    back = fastnn.load(buf)
    assert seen["from_host"] == 2  # the tensors; the NumPy array stays host data
    assert back["b"][1].tolist() == [0, 1, 2, 3]


def test_array_subclasses_save_and_other_objects_do_not(tmp_path):
    mm = np.memmap(tmp_path / "m.bin", dtype=np.float32, mode="w+", shape=(3,))
    mm[:] = [1, 2, 3]
    back = fastnn.load(_saved({"m": mm}))
    assert type(back["m"]) is np.ndarray and back["m"].tolist() == [1.0, 2.0, 3.0]
    for other in (decimal.Decimal(1), 1 + 2j, {1, 2}):  # outside safetensors: pickled, loaded only on opt-in
        buf = io.BytesIO()
        fastnn.save({"x": other}, buf)
        assert buf.getvalue().startswith(fastnn.serialization.PICKLE_MAGIC)
        buf.seek(0)
        assert fastnn.load(buf, weights_only=False)["x"] == other
