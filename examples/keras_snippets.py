"""The Keras snippets fastnn promises to run unchanged but for their imports (tensorflow.keras.X → fastnn.keras.X).
Each trains briefly on random data of the snippet's shapes and prints Keras' usual output.

    python examples/keras_snippets.py        # about a minute
"""
from __future__ import annotations

import sys

import numpy as np

from _util import parse_args


def binary_classifier(epochs: int, n: int):
    # --- snippet 1: a Dense/Activation binary classifier on random data ---
    from fastnn.keras.layers import Activation, Dense, Dropout
    from fastnn.keras.models import Sequential
    from fastnn.keras.optimizers import Adam

    x_train = np.random.random((n, 20))
    y_train = np.random.randint(2, size=(n, 1))
    model = Sequential()
    model.add(Dense(64, input_dim=20))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    model.compile(optimizer=Adam(learning_rate=0.001), loss="binary_crossentropy", metrics=["accuracy"])
    return model, model.fit(x_train, y_train, epochs=epochs, batch_size=128)


def mnist_cnn(epochs: int, n: int):
    # --- snippet 2: the classic Conv2D/MaxPooling2D stack on 28x28x1 images ---
    from fastnn.keras import layers, models

    model = models.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    x = np.random.random((n, 28, 28, 1)).astype("float32")
    y = np.random.randint(10, size=(n,))
    return model, model.fit(x, y, epochs=epochs, batch_size=32)


def stacked_lstm(epochs: int, n: int):
    # --- snippet 3: stacked LSTMs over sequences of 100 steps of 64 features ---
    from fastnn.keras.layers import LSTM, Dense
    from fastnn.keras.models import Sequential

    model = Sequential()
    model.add(LSTM(64, return_sequences=True, input_shape=(100, 64)))
    model.add(LSTM(64))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    x = np.random.random((n, 100, 64))
    y = np.eye(10)[np.random.randint(10, size=n)]
    return model, model.fit(x, y, epochs=epochs, batch_size=32)


def lstm_attention(epochs: int, n: int):
    # --- snippet 4: Embedding -> LSTM -> self-Attention -> LSTM -> Dense text classifier ---
    from fastnn.keras.layers import LSTM, Attention, Dense, Embedding
    from fastnn.keras.models import Sequential

    model = Sequential()
    model.add(Embedding(10000, 64))
    model.add(LSTM(64, return_sequences=True))
    model.add(Attention())
    model.add(LSTM(64))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.randint(10000, size=(n, 50))
    y = np.random.randint(10, size=(n,))
    return model, model.fit(x, y, epochs=epochs, batch_size=32)


SNIPPETS = {"binary_classifier": (binary_classifier, 1000), "mnist_cnn": (mnist_cnn, 512),
            "stacked_lstm": (stacked_lstm, 256), "lstm_attention": (lstm_attention, 256)}


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], epochs=2, argv=argv)
    results = {}
    for name, (fn, n) in SNIPPETS.items():
        print(f"\n=== {name} ===")
        model, history = fn(args.epochs, 64 if args.smoke else n)
        results[name] = {"loss": history.history["loss"], "params": model.count_params()}
    print("\nall snippets ran: " + ", ".join(f"{k} ({v['params']:,} params)" for k, v in results.items()))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
