"""The "Making new layers and models via subclassing" and "Save, serialize, and export models" guides: a
custom layer with add_weight, a non-trainable state updated with assign_add, add_loss, get_config and
register_keras_serializable, saved with model.save and reloaded with keras.models.load_model."""
import os
import tempfile

import numpy as np
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="MyLayers")
class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


@keras.saving.register_keras_serializable(package="MyLayers")
class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def main():
    my_sum = ComputeSum(2)
    x = ops.ones((2, 2))
    my_sum(x)
    total = keras.ops.convert_to_numpy(my_sum(x)).tolist()
    rng = np.random.default_rng(8)
    xs = rng.standard_normal((128, 8)).astype("float32")
    ys = (xs[:, :1] * 2.0 - xs[:, 1:2]).astype("float32")
    inputs = keras.Input(shape=(8,))
    h = Linear(16)(inputs)
    h = ActivityRegularizationLayer(1e-3)(keras.layers.Activation("relu")(h))
    outputs = Linear(1)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(xs, ys, epochs=8, batch_size=16, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "custom.keras")
        model.save(path)
        reloaded = keras.models.load_model(path)
        same = bool(np.allclose(model.predict(xs, verbose=0), reloaded.predict(xs, verbose=0), atol=1e-6))
    return {"total": total, "first_loss": history.history["loss"][0], "last_loss": history.history["loss"][-1],
            "same": same, "registered": keras.saving.get_registered_name(Linear)}
