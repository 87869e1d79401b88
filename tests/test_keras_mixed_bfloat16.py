"""Keras' "mixed_bfloat16" policy against Keras 3 (torch backend) under the same policy: policy objects, per
layer compute/variable dtypes, output dtypes (a dtype="float32" output layer gives float32), values within
bf16 tolerance, and a training step whose variables stay float32."""
import numpy as np
import pytest

import fastnn
from keras_helpers import to_np

keras = pytest.importorskip("keras")
import fastnn.keras as fk  # noqa: E402

TOL = 2.0 ** -7


@pytest.fixture
def mixed():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    fk.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")
    fk.mixed_precision.set_global_policy("float32")


def _dt(x):
    return str(x.dtype).split(".")[-1]


def test_policy_objects_match_keras():
    for name in ("mixed_bfloat16", "mixed_float16", "float32", "bfloat16"):
        a, b = fk.mixed_precision.Policy(name), keras.mixed_precision.Policy(name)
        assert (repr(a), a.name, a.compute_dtype, a.variable_dtype) == (repr(b), b.name, b.compute_dtype,
                                                                        b.variable_dtype)
        assert a.get_config() == b.get_config()
    with pytest.raises(ValueError, match="Cannot convert 'foo' to a mixed precision DTypePolicy"):
        fk.mixed_precision.Policy("foo")
    with pytest.raises(ValueError, match="Invalid `policy` argument"):
        fk.mixed_precision.set_global_policy(None)
    assert fk.dtype_policies.DTypePolicy is fk.mixed_precision.Policy
    assert repr(fk.mixed_precision.global_policy()) == '<DTypePolicy "float32">'
    with pytest.raises(NotImplementedError, match="no float16 compute kernels"):
        fk.layers.Dense(2, dtype="mixed_float16")(np.ones((1, 3), np.float32))


def _models(k):
    return k.Sequential([k.Input((6, 6, 2)), k.layers.Conv2D(3, 3, activation="relu"), k.layers.Flatten(),
                         k.layers.Dense(8, activation="relu"), k.layers.Dense(4, dtype="float32")])


def test_dense_conv_model_under_mixed_bfloat16_matches_keras(mixed):
    ours, theirs = _models(fk), _models(keras)
    x = np.random.default_rng(0).standard_normal((5, 6, 6, 2)).astype(np.float32)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    for a, b in zip(ours.layers, theirs.layers):
        assert (a.compute_dtype, a.variable_dtype) == (b.compute_dtype, b.variable_dtype)
        assert repr(a.dtype_policy) == repr(b.dtype_policy)
    assert all(_dt(w) == "float32" for w in ours.weights)
    h, th = x, x
    for a, b in zip(ours.layers, theirs.layers):
        h, th = a(h), b(th)
        assert _dt(h) == _dt(th), a.name
    ya, yb = to_np(h), to_np(th)
    assert ya.dtype == np.float32
    assert np.abs(ya - yb).max() <= 4 * TOL * np.abs(yb).max()
    np.testing.assert_allclose(to_np(ours(x)), ya, rtol=0, atol=0)  # the model's own call: the same path


def test_fit_step_keeps_float32_variables_and_learns(mixed):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 6, 6, 2)).astype(np.float32)
    y = (x.reshape(64, -1).sum(1) > 0).astype(np.int64) + 2 * (x[:, 0, 0, 0] > 0)
    m = _models(fk)
    m.compile(optimizer="adam", loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = m.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert all(_dt(w) == "float32" for w in m.weights)
    assert not fastnn.is_autocast_enabled("cpu")
