"""Keras fit throughput (samples/s) of examples 1 and 2 (MLP and CNN on the 1437 training digits, batch 32,
Adam): fastnn.keras' model.fit against the same model trained by a plain torch loop with the same batches.

Each epoch is timed whole (shuffling, batching, forward, backward, optimizer, metrics), as a user sees it.
NumPy has no training loop: its worker reports no rows."""
from __future__ import annotations

import numpy as np

from common import median_time


def _digits():
    import fastnn

    x, y = fastnn.datasets.load_digits("train")
    return x.astype(np.float32), y


def _fastnn_models(x):
    from fastnn.keras import layers, models, optimizers

    mlp = models.Sequential([layers.Dense(256, activation="relu", input_shape=(64,)), layers.Dropout(0.2),
                             layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                             layers.Dense(10, activation="softmax")])
    cnn = models.Sequential([layers.Conv2D(32, (3, 3), padding="same", input_shape=(8, 8, 1)),
                             layers.BatchNormalization(), layers.Activation("relu"), layers.MaxPooling2D((2, 2)),
                             layers.Conv2D(64, (3, 3), padding="same"), layers.BatchNormalization(),
                             layers.Activation("relu"), layers.MaxPooling2D((2, 2)), layers.Flatten(),
                             layers.Dense(128, activation="relu"),
                             layers.Dropout(0.3), layers.Dense(10, activation="softmax")])
    for m in (mlp, cnn):
        m.compile(optimizer=optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return {"mlp": (mlp, x.reshape(-1, 64)), "cnn": (cnn, x[..., None])}


def _torch_models(x):
    import torch
    from torch import nn

    mlp = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.ReLU(),
                        nn.Dropout(0.2), nn.Linear(128, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    return {"mlp": (mlp, torch.tensor(x.reshape(-1, 64))), "cnn": (cnn, torch.tensor(x[:, None]))}


def _torch_epoch(model, x, y, opt, rng):
    import torch

    model.train()
    loss_fn = torch.nn.functional.cross_entropy
    order = torch.from_numpy(rng.permutation(len(y)))
    correct = 0
    for start in range(0, len(y), 32):
        idx = order[start:start + 32]
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        correct += int((out.argmax(1) == yb).sum())  # what Keras' accuracy metric costs
    return correct


def run(lib: str, quick: bool) -> list[dict]:
    if lib == "numpy":
        return []
    x, y = _digits()
    reps = 3 if quick else 5
    rows = []
    names = {"mlp": "MLP digits, 1 epoch", "cnn": "CNN digits, 1 epoch"}
    if lib == "fastnn":
        for key, (model, data) in _fastnn_models(x).items():
            def epoch(model=model, data=data):
                model.fit(data, y, epochs=1, batch_size=32, verbose=0)

            rows.append({"kernel": "fit", "case": names[key], "seconds": median_time(epoch, repeats=reps, warmup=1),
                         "samples": len(y)})
    else:
        import torch

        torch.manual_seed(0)
        yt = torch.tensor(y)
        rng = np.random.default_rng(0)
        for key, (model, data) in _torch_models(x).items():
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)

            def epoch(model=model, data=data, opt=opt):
                _torch_epoch(model, data, yt, opt, rng)

            rows.append({"kernel": "fit", "case": names[key], "seconds": median_time(epoch, repeats=reps, warmup=1),
                         "samples": len(y)})
    return rows
