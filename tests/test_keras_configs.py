"""get_config / from_config, to_json / model_from_json, clone_model, and model.save / load_model of
functional, Sequential and subclassed models, as Keras 3 has them (checked against keras where the
format is Keras' own: layer auto-configs, regularizer and constraint objects)."""
from __future__ import annotations

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import numpy as np
import pytest

import fastnn.keras as fk
from op_helpers import assert_close

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(5)
X = RNG.standard_normal((6, 4)).astype(np.float32)


def test_custom_layer_auto_config_matches_keras():
    def make(K):
        class Scale(K.layers.Layer):
            def __init__(self, units=3, factor=2.0, mode="a", **kwargs):
                super().__init__(**kwargs)
                self.units = units

        return Scale(5, mode="b")

    ours, theirs = make(fk).get_config(), make(keras).get_config()
    for key in ("units", "factor", "mode", "trainable", "dtype"):
        assert ours[key] == theirs[key], key


def test_custom_layer_with_unserializable_arguments_must_override_get_config():
    class Holder(fk.layers.Layer):
        def __init__(self, thing, **kwargs):
            super().__init__(**kwargs)

    with pytest.raises(NotImplementedError, match="must override `get_config\\(\\)`"):
        Holder(object()).get_config()


def test_builtin_layer_round_trip_keeps_regularizers_and_constraints():
    layer = fk.layers.Dense(3, activation="relu", kernel_regularizer=fk.regularizers.L2(0.3),
                            bias_constraint=fk.constraints.NonNeg(), name="d")
    config = layer.get_config()
    theirs = keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(0.3),
                                bias_constraint=keras.constraints.NonNeg()).get_config()
    assert config["kernel_regularizer"] == theirs["kernel_regularizer"]
    assert config["bias_constraint"] == theirs["bias_constraint"]
    clone = fk.layers.Dense.from_config(config)
    assert isinstance(clone.get_config()["kernel_regularizer"], dict)
    clone(X)
    assert len(clone.losses) == 1 and clone.name == "d"


def _functional():
    inputs = fk.Input(shape=(4,))
    x = fk.layers.Dense(5, activation="tanh")(inputs)
    x = x * 2.0 + inputs[:, :1]
    return fk.Model(inputs, fk.layers.Dense(2)(x))


def test_functional_get_config_from_config_and_json_round_trip():
    model = _functional()
    for clone in (fk.Model.from_config(model.get_config()), fk.models.model_from_json(model.to_json())):
        clone.set_weights(model.get_weights())
        assert_close(clone.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


def test_clone_model_has_the_architecture_and_fresh_weights():
    model = fk.Sequential([fk.Input(shape=(4,)), fk.layers.Dense(3), fk.layers.Dense(1)])
    clone = fk.models.clone_model(model)
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    assert_close(clone.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


class Residual(fk.Model):
    """A subclassed model, as the Keras guide writes one: layers in __init__, call, get_config."""

    def __init__(self, units=8, out=2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.out = units, out
        self.hidden = fk.layers.Dense(units, activation="relu")
        self.head = fk.layers.Dense(out)

    def call(self, x):
        return self.head(self.hidden(x))

    def get_config(self):
        return {"units": self.units, "out": self.out, "name": self.name}


def test_subclassed_model_saves_and_loads_with_custom_objects(tmp_path):
    model = Residual(units=6, out=3)
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, RNG.standard_normal((6, 3)).astype(np.float32), epochs=2, verbose=0)
    path = str(tmp_path / "residual.keras")
    model.save(path)
    with pytest.raises(TypeError, match="custom_objects"):
        fk.models.load_model(path)
    loaded = fk.models.load_model(path, custom_objects={"Residual": Residual})
    assert isinstance(loaded, Residual) and loaded.units == 6
    assert_close(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6, atol=1e-7)


def test_unbuilt_subclassed_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="has not been built"):
        Residual().save(str(tmp_path / "m.keras"))
