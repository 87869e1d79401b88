"""CNN classifier on the handwritten digits, Keras style: Conv2D → BatchNormalization → MaxPooling2D, twice,
then Flatten → Dense, on 8×8×1 channels-last images.

    python examples/cnn_digits_keras.py      # well under a minute; test accuracy ≈ 0.983

Batch normalisation is what lifts it past 98%: the same stack without it gave 0.972 / 0.969 (seeds 0 / 1),
with it 0.983 / 0.983.
"""
from __future__ import annotations

import math
import sys

from fastnn.keras import callbacks, layers, optimizers
from fastnn.keras.models import Sequential

from _util import digits, parse_args


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], epochs=30, argv=argv)
    x_train, y_train, x_test, y_test = digits(flatten=False, smoke=args.smoke)
    x_train, x_test = x_train[..., None], x_test[..., None]  # (N, 8, 8, 1): channels last, as Keras
    model = Sequential([
        layers.Conv2D(32, (3, 3), padding="same", input_shape=(8, 8, 1)),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), padding="same"),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=optimizers.Adam(learning_rate=2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    decay = callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3 * (1 + math.cos(math.pi * epoch / args.epochs)))
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.1,
                        callbacks=[decay], verbose=0 if args.smoke else 2)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f}; test accuracy: {acc:.4f}")
    return {"first_loss": history.history["loss"][0], "last_loss": history.history["loss"][-1],
            "test_accuracy": acc}


if __name__ == "__main__":
    main(sys.argv[1:])
