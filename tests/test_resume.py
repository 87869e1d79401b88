"""Resuming from a checkpoint is bitwise identical to never having stopped.

PyTorch style: the model's and optimizer's state_dicts, the LR scheduler's, the global RNG state (dropout) and
the DataLoader's position (the shuffling generator's state at the start of the epoch and the batches already
taken) saved mid-epoch with fastnn.save, loaded into freshly built objects in a fresh seed state. Keras style:
``model.save`` -> ``load_model`` -> ``fit`` equals an uninterrupted ``fit`` (the optimizer's iterations and
slots travel in the file, as in Keras 3)."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.data import DataLoader, TensorDataset
from fastnn.optim import AdamW
from fastnn.optim.lr_scheduler import CosineAnnealingLR

EPOCHS, STOP_EPOCH, STOP_BATCH = 3, 1, 2  # stop in the middle of the second epoch


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 3)).astype(np.float32)).argmax(1)
    return TensorDataset(fastnn.tensor(x), fastnn.tensor(y))


def _build(seed):
    fastnn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    sched = CosineAnnealingLR(opt, T_max=20)
    gen = fastnn.Generator().manual_seed(seed + 1)
    loader = DataLoader(_data(), batch_size=8, shuffle=True, generator=gen)
    return model, opt, sched, gen, loader


def _step(model, opt, xb, yb):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss.item()


def _train(model, opt, sched, gen, loader, start_epoch=0, skip=0, stop=None, path=None):
    """Trains to the end (or until ``stop`` = (epoch, batch), where it saves to ``path``); returns the losses.
    ``skip`` batches of ``start_epoch`` were already trained before the checkpoint."""
    losses = []
    for epoch in range(start_epoch, EPOCHS):
        epoch_gen_state = gen.get_state()  # the loader's order for this epoch comes from here
        for i, (xb, yb) in enumerate(loader):
            if epoch == start_epoch and i < skip:
                continue
            if stop == (epoch, i):
                fastnn.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(),
                             "rng": fastnn.get_rng_state(), "loader": {"generator": epoch_gen_state, "epoch": epoch,
                                                                       "batch": i}}, path)
                return losses
            losses.append(_step(model, opt, xb, yb))
        sched.step()
        skip = 0
    return losses


def test_pytorch_style_resume_is_bitwise_identical(tmp_path):
    model, opt, sched, gen, loader = _build(0)
    expected = _train(model, opt, sched, gen, loader)
    final = [p.detach().numpy().copy() for p in model.parameters()]

    model, opt, sched, gen, loader = _build(0)
    head = _train(model, opt, sched, gen, loader, stop=(STOP_EPOCH, STOP_BATCH), path=tmp_path / "ck.st")

    model2, opt2, sched2, gen2, loader2 = _build(99)  # another init and other generator states, all overwritten
    ck = fastnn.load(tmp_path / "ck.st")
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optim"])
    sched2.load_state_dict(ck["sched"])
    fastnn.set_rng_state(ck["rng"])
    gen2.set_state(ck["loader"]["generator"])
    tail = _train(model2, opt2, sched2, gen2, loader2, start_epoch=ck["loader"]["epoch"], skip=ck["loader"]["batch"])
    assert head + tail == expected
    for a, b in zip(final, model2.parameters()):
        np.testing.assert_array_equal(a, b.detach().numpy())


def _keras_model():
    keras = fastnn.keras
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2, amsgrad=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


@pytest.mark.parametrize("shuffle", [False, True])
def test_keras_save_load_model_fit_is_bitwise_identical(shuffle, tmp_path):
    keras = fastnn.keras
    ds = _data()
    x, y = ds.tensors[0].numpy(), ds.tensors[1].numpy()

    model = _keras_model()
    model.fit(x, y, epochs=4, batch_size=8, verbose=0, shuffle=shuffle)
    model.save(str(tmp_path / "m.keras"))
    iterations = int(model.optimizer.iterations.item())
    keras.utils.set_random_seed(11)
    expected = model.fit(x, y, epochs=4, batch_size=8, verbose=0, shuffle=shuffle).history

    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert int(loaded.optimizer.iterations.item()) == iterations == 20
    keras.utils.set_random_seed(11)
    got = loaded.fit(x, y, epochs=4, batch_size=8, verbose=0, shuffle=shuffle).history
    assert got == expected
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.optimizer.get_weights(), loaded.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_model_saved_before_training_loads_with_a_fresh_optimizer(tmp_path):
    keras = fastnn.keras
    model = _keras_model()
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert loaded.compiled and not loaded.optimizer.built
    x = np.ones((4, 6), np.float32)
    loaded.fit(x, np.zeros(4, np.int64), epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations.item()) == 1


OPTIMIZERS = {
    "sgd-nesterov": lambda O: O.SGD(0.01, momentum=0.9, nesterov=True),
    "rmsprop-centered": lambda O: O.RMSprop(1e-3, momentum=0.5, centered=True),
    "adamw-schedule": lambda O: O.AdamW(O.schedules.ExponentialDecay(0.01, 5, 0.9)),
    "adam-ema": lambda O: O.Adam(use_ema=True, ema_overwrite_frequency=3),
    "adam-accumulation": lambda O: O.Adam(gradient_accumulation_steps=3),
    "loss-scale": lambda O: O.LossScaleOptimizer(O.Adam(), dynamic_growth_steps=4),
    "adafactor": lambda O: O.Adafactor(),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_keras_resume_keeps_every_optimizers_state(name, tmp_path):
    """Counters, slots, EMA averages, gradient accumulators and a loss scale's state all travel."""
    keras = fastnn.keras
    x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=OPTIMIZERS[name](keras.optimizers), loss="mse")
    model.fit(x, 2 * x[:, :2], epochs=2, batch_size=6, verbose=0, shuffle=False)  # ends mid-accumulation
    model.save(str(tmp_path / "m.keras"))
    expected = model.fit(x, 2 * x[:, :2], epochs=2, batch_size=6, verbose=0, shuffle=False).history
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert loaded.fit(x, 2 * x[:, :2], epochs=2, batch_size=6, verbose=0, shuffle=False).history == expected
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
