"""Every example runs in its smoke mode (a couple of epochs on a slice of the data) and learns."""
import importlib
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytest.importorskip("sklearn")  # the digits ship in scikit-learn's wheel


@pytest.fixture(scope="module", autouse=True)
def _examples_on_path():
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


def _run(name):
    return importlib.import_module(name).main(["--smoke"])


@pytest.mark.parametrize("name", ["mlp_digits", "mlp_digits_keras", "cnn_digits_keras"])
def test_classifier_examples_learn(name):
    r = _run(name)
    assert r["last_loss"] < r["first_loss"]
    assert r["test_accuracy"] > 0.5  # two epochs on 256 digits already beat chance (0.1) by far


def test_rnn_example_learns_with_lstm_and_gru():
    r = _run("rnn_digits")
    for cell in ("lstm", "gru"):
        assert r[cell]["last_loss"] < r[cell]["first_loss"]  # 2 epochs on 256 digits: the loss must fall


def test_keras_snippets_run_with_only_their_imports_changed():
    r = _run("keras_snippets")
    assert set(r) == {"binary_classifier", "mnist_cnn", "stacked_lstm", "lstm_attention"}
    assert r["mnist_cnn"]["params"] == 225_034  # what Keras reports for this stack
    text = (EXAMPLES / "keras_snippets.py").read_text()
    assert "tensorflow" not in text.replace("tensorflow.keras.X", "")
