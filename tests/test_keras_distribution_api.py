"""fastnn.keras.distribution in one process: Keras 3.15's signatures, the mesh / layout checks, scope(), and a
DataParallel fit of a 1-process world (no collectives) equal to a plain fit. The 2-rank runs are in
tests/test_keras_data_parallel.py."""
import inspect

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import numpy as np
import pytest

import fastnn.distributed as dist
import fastnn.keras as fk
from fastnn.keras import distribution as kd

WORLD = dist.get_world_size() if dist.is_initialized() else 1  # another test may have made a singleton world


@pytest.mark.parametrize("name", ["DataParallel", "DeviceMesh", "TensorLayout", "list_devices", "get_device_count",
                                  "initialize", "distribution", "set_distribution"])
def test_signatures_are_keras(name):
    keras = pytest.importorskip("keras")
    theirs, ours = getattr(keras.distribution, name), getattr(kd, name)

    def params(f):
        return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]

    assert params(ours) == params(theirs)


def test_devices_of_the_world():
    assert kd.list_devices() == [f"cpu:{r}" for r in range(WORLD)] == kd.list_devices("CPU")
    assert kd.list_devices("gpu") == [f"gpu:{r}" for r in range(WORLD)]
    assert kd.get_device_count() == WORLD
    with pytest.raises(ValueError, match="device_type"):
        kd.list_devices("tpu")


def test_mesh_and_layout_checks():
    with pytest.raises(ValueError, match="Shape and axis_names cannot be empty"):
        kd.DeviceMesh((), [])
    with pytest.raises(ValueError, match="Shape and axis_names should have same size"):
        kd.DeviceMesh((1,), ["a", "b"])
    with pytest.raises(ValueError, match="Shape does not match the number of devices"):
        kd.DeviceMesh((WORLD + 1,), ["batch"])
    mesh = kd.DeviceMesh((WORLD,), ["data"])
    assert mesh.devices == kd.list_devices() and mesh.axis_names == ["data"]
    with pytest.raises(ValueError, match="Invalid axis names for Layout"):
        kd.TensorLayout(("model", None), mesh)
    layout = kd.TensorLayout(("data", None))
    layout.device_mesh = mesh
    with pytest.raises(ValueError, match="Cannot override device mesh value"):
        layout.device_mesh = mesh


def test_data_parallel_layouts_and_scope():
    dp = kd.DataParallel()
    assert dp.batch_dim_name == "batch" and dp.num_model_replicas == WORLD == dp.num_processes
    assert dp.get_data_layout((4, 3)).axes == ("batch", None)
    assert dp.get_variable_layout(np.zeros((3, 2))).axes == (None, None)
    assert dp.get_tensor_layout("x") is None
    assert dp.distribute_dataset([1, 2]) == [1, 2]  # one process: nothing to shard
    named = kd.DataParallel(device_mesh=kd.DeviceMesh((WORLD,), ["data"]))
    assert named.batch_dim_name == "data" and named.get_data_layout((2,)).axes == ("data",)
    with pytest.raises(ValueError, match="Expect `mesh` to be an instance of `DeviceMesh`"):
        kd.DataParallel(device_mesh="mesh")
    with pytest.raises(ValueError, match="one device per MPI rank"):
        kd.DataParallel(devices=[f"cpu:{r}" for r in range(WORLD + 1)])
    assert kd.distribution() is None
    with dp.scope():
        assert kd.distribution() is dp
        with named.scope():
            assert kd.distribution() is named
        assert kd.distribution() is dp
    assert kd.distribution() is None


def _cnn_fit(distribution):
    fk.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5, 5, 2)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    model = fk.Sequential([fk.layers.Input((5, 5, 2)), fk.layers.Conv2D(3, 3, use_bias=False),
                           fk.layers.BatchNormalization(), fk.layers.ReLU(), fk.layers.Flatten(),
                           fk.layers.Dense(3)])
    model.compile(optimizer=fk.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if distribution is None:
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model.get_weights(), history.history, model.predict(x, verbose=0)
    with distribution.scope():
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model.get_weights(), history.history, model.predict(x, verbose=0)


@pytest.mark.skipif(WORLD != 1, reason="a 1-process world")
def test_a_one_process_data_parallel_fit_is_a_plain_fit():
    """The data-parallel path (batch slicing, the gradient and log hooks, rank 0's shuffle) with one rank gives
    the plain fit's results (batch norm keeps its fused kernel: one rank's statistics are the global ones)."""
    w_dp, h_dp, p_dp = _cnn_fit(kd.DataParallel())
    w, h, p = _cnn_fit(None)
    for a, b in zip(w_dp, w):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in h:
        np.testing.assert_allclose(h_dp[k], h[k], rtol=1e-5)
    np.testing.assert_allclose(p_dp, p, rtol=1e-5, atol=1e-6)
