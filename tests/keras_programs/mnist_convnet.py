"""keras.io "Simple MNIST convnet", on synthetic 28x28 digits (a fixed template per class plus noise)."""
import numpy as np
import keras
from keras import layers


def data(n, rng):
    templates = np.random.default_rng(0).random((10, 28, 28)) > 0.7
    y = rng.integers(0, 10, n)
    x = templates[y] * 0.8 + rng.random((n, 28, 28)) * 0.4
    return x.astype("float32")[..., None], y


def main():
    rng = np.random.default_rng(1)
    (x_train, y_train), (x_test, y_test) = data(1000, rng), data(200, rng)
    num_classes = 10
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=6, validation_split=0.1, verbose=0)
    score = model.evaluate(x_test, y_test, verbose=0)
    return {"accuracy": float(score[1]), "params": model.count_params()}
