"""Run by tests/test_keras_data_parallel.py: ``mpiexec -n 2 python keras_data_parallel_ranks.py <model>``
trains under a DataParallel distribution; ``python keras_data_parallel_ranks.py <model> single`` is the
single-process reference on the same data, seed and global batch. Each process writes $DP_TMP/result<rank>.json:
its final weights, the History, evaluate's and predict's results, and what it printed."""
import contextlib
import io
import json
import os
import sys

import numpy as np

import fastnn
import fastnn.keras as keras
from fastnn.keras import distribution as kd

MODEL, MODE = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "dp")
SEED = 7


def data(n, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = (x.reshape(n, -1)[:, :3].argmax(1)).astype(np.int64)
    return x, y


class GuideModel(keras.Model):
    """Keras' "Customizing what happens in fit() with PyTorch" train_step: its own backward and
    optimizer.apply, metrics updated by hand (the loss unweighted, so each rank's slice must be even)."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with fastnn.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def model_and_data():
    if MODEL == "custom":
        x, y = data(60, (6,), 2)
        inputs = keras.Input((6,))
        model = GuideModel(inputs, keras.layers.Dense(3)(keras.layers.Dense(8, activation="tanh")(inputs)))
        opt = keras.optimizers.SGD(0.1, momentum=0.9)
        batch, val = 20, 0.0
    elif MODEL in ("mlp", "loader"):
        x, y = data(60, (6,), 0)
        model = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(3)])
        opt = keras.optimizers.Adam(0.01)
        batch, val = 15, 0.0  # 60 samples: 4 global batches of 15, split 8 / 7 between the ranks
    else:
        x, y = data(40, (6, 6, 2), 1)
        model = keras.Sequential([keras.layers.Input((6, 6, 2)), keras.layers.Conv2D(4, 3, use_bias=False),
                                  keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU(),
                                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
        opt = keras.optimizers.Adam(0.02)
        batch, val = 8, 0.2  # 32 training samples in 4 batches of 8, 8 held out for validation
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, x, y, batch, val


if MODEL == "tail":  # 31 samples in global batches of 15: the last one (1 sample) cannot feed 2 ranks
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # a distribution made before initialize() warns
        warnings.simplefilter("always")
        early = kd.DataParallel()
    sys.stdout.write(f"EARLY {early.num_processes} {len(caught)} {caught[0].message if caught else ''}\n")
    kd.initialize()
    kd.set_distribution(kd.DataParallel())
    MODEL = "mlp"
    model, x, y, batch, _ = model_and_data()
    try:
        model.fit(x[:31], y[:31], batch_size=batch, epochs=1, verbose=0)
    except ValueError as e:
        sys.stdout.write(f"ERROR {fastnn.distributed.get_rank()} {e}\n")  # one write: the ranks share stdout
    sys.exit(0)


if MODE == "dp":
    kd.initialize()
    rank = fastnn.distributed.get_rank()
    kd.set_distribution(kd.DataParallel())
    keras.utils.set_random_seed(SEED + rank)  # other initial weights on rank 1: fit must take rank 0's
else:
    rank = 0
    keras.utils.set_random_seed(SEED)

model, x, y, batch, val = model_and_data()
printed = io.StringIO()
# each rank names its own checkpoint folder, so that whether a rank wrote one can be seen
folder = os.path.join(os.environ["DP_TMP"], f"rank{rank}")
checkpoint = keras.callbacks.ModelCheckpoint(os.path.join(folder, "w.weights.h5"), save_weights_only=True)
with contextlib.redirect_stdout(printed):
    if MODEL == "loader":  # a fastnn Dataset: fit's DataLoader shuffles with the (followed) generator
        history = model.fit(fastnn.data.TensorDataset(fastnn.tensor(x), fastnn.tensor(y)), batch_size=batch,
                            epochs=2, shuffle=True, verbose=1, callbacks=[checkpoint])
    else:
        history = model.fit(x, y, batch_size=batch, epochs=2, shuffle=True, validation_split=val, verbose=1,
                            callbacks=[checkpoint])
    evaluated = model.evaluate(x, y, batch_size=batch, return_dict=True, verbose=1)
    predicted = model.predict(x, batch_size=batch, verbose=1)
result = json.dumps({
    "weights": [w.tolist() for w in model.get_weights()],
    "history": history.history,
    "evaluate": evaluated,
    "predict": predicted.tolist(),
    "printed": printed.getvalue(),
    "devices": kd.list_devices(),
    "checkpoint_written": os.path.exists(folder),
})
with open(os.path.join(os.environ["DP_TMP"], f"result{rank}.json"), "w") as f:  # not stdout: ranks interleave
    f.write(result)
