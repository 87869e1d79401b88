"""fit on a NaN loss, beside Keras 3.15 (torch backend) running the same tiny model on the same data: with no
callback both train every epoch without a warning (the losses read nan); TerminateOnNaN stops both at the
same batch with the same message, or raises the same RuntimeError with ``raise_error=True``."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND=torch before keras is imported)
from fastnn import keras as fk


def _fit(keras, callbacks, capsys):
    x = np.ones((8, 3), np.float32)
    y = np.ones((8, 1), np.float32)
    x[5, 1] = np.nan  # batch 2 of 4 (batch_size 2, no shuffling)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    batches = []
    seen = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hist = model.fit(x, y, batch_size=2, epochs=3, verbose=0, shuffle=False, callbacks=callbacks + [seen])
            result = ("done", len(hist.history["loss"]), bool(np.isnan(hist.history["loss"]).all()))
        except RuntimeError as e:
            result = ("raised", str(e))
    about_nan = [str(w.message) for w in caught if "nan" in str(w.message).lower()]
    return result, batches, capsys.readouterr().out, about_nan


@pytest.mark.parametrize("callback", [None, "stop", "raise"])
def test_fit_on_nan_loss_as_keras(callback, capsys):
    import keras

    def cbs(k):
        if callback is None:
            return []
        return [k.callbacks.TerminateOnNaN(raise_error=callback == "raise")]

    theirs = _fit(keras, cbs(keras), capsys)
    ours = _fit(fk, cbs(fk), capsys)
    assert ours == theirs
    if callback is None:
        assert ours[0] == ("done", 3, True) and ours[3] == []  # every epoch, no warning
    elif callback == "stop":
        assert ours[0] == ("done", 1, True) and "Batch 2: Invalid loss, terminating training" in ours[2]
    else:
        assert ours[0][1].startswith("NaN or Inf loss encountered at batch 2. Loss value: nan.")
