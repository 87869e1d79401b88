"""MLP classifier on the handwritten digits, Keras style: Sequential, compile, fit, evaluate.

    python examples/mlp_digits_keras.py      # a few seconds; test accuracy ≈ 0.98
"""
from __future__ import annotations

import math
import sys

from fastnn.keras import callbacks, layers, optimizers
from fastnn.keras.models import Sequential

from _util import digits, parse_args


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], epochs=100, argv=argv)
    x_train, y_train, x_test, y_test = digits(flatten=True, smoke=args.smoke)
    model = Sequential([
        layers.Dense(256, activation="relu", input_shape=(64,)),
        layers.Dropout(0.2),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=optimizers.Adam(learning_rate=2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    # cosine learning-rate decay, as the PyTorch-style example does with CosineAnnealingLR
    decay = callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3 * (1 + math.cos(math.pi * epoch / args.epochs)))
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.1,
                        callbacks=[decay], verbose=2 if not args.smoke else 0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f}; test accuracy: {acc:.4f}")
    return {"first_loss": history.history["loss"][0], "last_loss": history.history["loss"][-1],
            "test_accuracy": acc}


if __name__ == "__main__":
    main(sys.argv[1:])
