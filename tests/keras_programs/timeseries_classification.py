"""keras.io "Timeseries classification from scratch": a Conv1D / BatchNormalization / ReLU stack with
GlobalAveragePooling1D and the example's callbacks, on synthetic series (a slow sine or a fast square wave)."""
import os
import tempfile

import numpy as np
import keras


def make_model(input_shape, num_classes):
    input_layer = keras.layers.Input(input_shape)
    conv1 = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)
    conv2 = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)
    gap = keras.layers.GlobalAveragePooling1D()(conv2)
    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
    return keras.models.Model(inputs=input_layer, outputs=output_layer)


def main():
    rng = np.random.default_rng(5)
    t = np.linspace(0, 4 * np.pi, 64)
    y = rng.integers(0, 2, 600)
    phase = rng.random((600, 1)) * 2 * np.pi
    x = np.where(y[:, None] == 1, np.sign(np.sin(3 * t + phase)), np.sin(t + phase))
    x = x + 0.1 * rng.standard_normal((600, 64))
    x = x.reshape((x.shape[0], x.shape[1], 1)).astype("float32")
    model = make_model(input_shape=x.shape[1:], num_classes=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "best_model.keras")
        callbacks = [
            keras.callbacks.ModelCheckpoint(path, save_best_only=True, monitor="val_loss"),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=0),
        ]
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["sparse_categorical_accuracy"])
        model.fit(x[:480], y[:480], batch_size=16, epochs=12, callbacks=callbacks, validation_split=0.2, verbose=0)
        best = keras.models.load_model(path)
        test_loss, test_acc = best.evaluate(x[480:], y[480:], verbose=0)
    return {"accuracy": float(test_acc)}
