"""The functional API as Keras 3 has it: operators and keras.ops on symbolic tensors, models cut from a
trained one through ``layer.output`` / ``model.input``, and Keras' ``model.layers`` (InputLayers first, no
op nodes). Each program runs under keras (torch backend) and fastnn.keras with the same weights."""
from __future__ import annotations

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import numpy as np
import pytest

import fastnn.keras as fk
from op_helpers import assert_close

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((10, 6)).astype(np.float32)
Y = RNG.standard_normal((10, 1)).astype(np.float32)


def _residual_with_ops(K):
    inputs = K.Input(shape=(6,))
    x = K.layers.Dense(6, activation="tanh")(inputs)
    x = x + inputs  # an operator on KerasTensors
    x = 0.5 * x - 1.0
    head = x[:, :3]  # slicing
    tail = K.ops.concatenate([K.ops.square(x[:, 3:]), K.ops.abs(head)], axis=-1)
    pooled = K.ops.mean(tail, axis=-1, keepdims=True)
    out = K.layers.Dense(1)(K.ops.concatenate([tail, pooled], axis=-1)) / (1.0 + K.ops.exp(-pooled))
    return K.Model(inputs, out)


def _twins(make):
    theirs, ours = make(keras), make(fk)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def test_operators_and_ops_on_symbolic_tensors_match_keras():
    ours, theirs = _twins(_residual_with_ops)
    assert_close(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    for m in (ours, theirs):
        m.compile(optimizer="sgd", loss="mse")
    h_ours = ours.fit(X, Y, epochs=2, batch_size=5, shuffle=False, verbose=0).history["loss"]
    h_theirs = theirs.fit(X, Y, epochs=2, batch_size=5, shuffle=False, verbose=0).history["loss"]
    assert h_ours == pytest.approx(h_theirs, rel=1e-4)


def test_symbolic_shapes_and_dtypes():
    inputs = fk.Input(shape=(4, 5))
    x = fk.ops.transpose(inputs, (0, 2, 1))
    assert x.shape == (None, 5, 4) and fk.ops.shape(x) == (None, 5, 4) and fk.ops.ndim(x) == 3
    assert (x > 0).dtype == "bool" and fk.ops.dtype(x) == "float32"
    with pytest.raises(TypeError, match="no truth value"):
        bool(x)
    with pytest.raises(TypeError, match="cannot be converted to a NumPy array"):
        np.asarray(x)


def _trained_cnn(K):
    model = K.Sequential([K.Input(shape=(8, 8, 1)), K.layers.Conv2D(3, 3, activation="relu", name="conv"),
                          K.layers.Flatten(name="flat"), K.layers.Dense(4, name="hidden"),
                          K.layers.Dense(2, name="logits")])
    return model


def test_models_cut_from_a_model_through_layer_output_match_keras():
    ours, theirs = _twins(_trained_cnn)
    x = RNG.standard_normal((3, 8, 8, 1)).astype(np.float32)
    for make in (lambda K, m: K.Model(inputs=m.inputs, outputs=m.get_layer("hidden").output),
                 lambda K, m: K.Model(inputs=m.inputs, outputs=[layer.output for layer in m.layers])):
        a = make(fk, ours).predict(x, verbose=0)
        b = make(keras, theirs).predict(x, verbose=0)
        for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
            assert_close(u, v, rtol=1e-5, atol=1e-6)
    # Keras 3's Sequential answers only .inputs / .outputs; fastnn also gives Keras 2's .input / .output
    assert ours.input is ours.inputs[0] and ours.output is ours.outputs[0]
    assert ours.get_layer("conv").output.shape == tuple(theirs.get_layer("conv").output.shape)
    assert ours.get_layer("conv").input.shape == tuple(theirs.get_layer("conv").input.shape)


def test_functional_model_output_and_reuse_of_a_trained_model():
    inputs = fk.Input(shape=(6,))
    base = fk.Model(inputs, fk.layers.Dense(3, name="feat")(inputs))
    assert base.input is inputs and base.output.shape == (None, 3)
    base.trainable = False
    new_in = fk.Input(shape=(6,))
    head = fk.layers.Dense(1)(base(new_in, training=False))  # a model called like a layer
    model = fk.Model(new_in, head)
    assert len(model.trainable_weights) == 2  # only the head trains
    out = model.predict(X, verbose=0)
    w, b = model.layers[-1].get_weights()
    fw, fb = base.get_layer("feat").get_weights()
    assert_close(out, (X @ fw + fb) @ w + b, rtol=1e-5, atol=1e-6)


def test_a_layer_never_called_has_no_output():
    with pytest.raises(AttributeError, match="has never been called"):
        fk.layers.Dense(2).output
