"""Keras programs run unchanged but for their imports (issue 12's promise), side by side with Keras 3 on
its torch backend: every file in tests/keras_programs/ is written for keras; it runs as it is under Keras
and with its import lines rewritten to fastnn, and both runs must learn (each program's own metric, with
the same bar for both libraries)."""
import os
import re
import sys
import types
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

PROGRAMS = Path(__file__).parent / "keras_programs"
_IMPORT = re.compile(r"^(\s*)(import|from)\s+(keras|torch)(\.[\w.]+)?(\s|$)", re.M)


def to_fastnn(source: str) -> str:
    """Rewrites only the import lines: `import keras` -> `import fastnn.keras as keras`, `from keras import
    x` -> `from fastnn.keras import x`, `import torch` -> `import fastnn as torch`."""
    def swap(m):
        indent, kind, lib, sub, tail = m.group(1), m.group(2), m.group(3), m.group(4) or "", m.group(5)
        target = "fastnn.keras" if lib == "keras" else "fastnn"
        if kind == "import" and not sub:
            return f"{indent}import {target} as {lib}{tail}"
        return f"{indent}{kind} {target}{sub}{tail}"

    out = _IMPORT.sub(swap, source)
    assert not re.search(r"^\s*(import|from)\s+(keras|torch)\b", out, re.M), "an import was not rewritten"
    return out


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # Keras-on-torch's pool would fight fastnn's for the same cores
    yield
    torch.set_num_threads(before)


def run(name: str, lib: str) -> dict:
    source = (PROGRAMS / f"{name}.py").read_text()
    if lib == "fastnn":
        source = to_fastnn(source)
    mod = types.ModuleType(f"keras_program_{name}_{lib}")
    mod.__file__ = str(PROGRAMS / f"{name}.py")
    sys.modules[mod.__name__] = mod
    try:
        exec(compile(source, mod.__file__, "exec"), mod.__dict__)
        import numpy as np

        np.random.seed(0)
        keras.utils.set_random_seed(0)
        if lib == "fastnn":
            import fastnn.keras

            fastnn.keras.utils.set_random_seed(0)
        return mod.main()
    finally:
        sys.modules.pop(mod.__name__, None)


def _learned(r):
    return r["last_loss"] < 0.9 * r["first_loss"]


# program -> check on its metrics (the same for Keras and fastnn)
CHECKS = {
    "mnist_convnet": lambda r: r["accuracy"] > 0.8,
    "text_transformer": lambda r: r["val_accuracy"] > 0.8,
    "bidirectional_lstm": lambda r: r["accuracy"] > 0.8,
    "conv_autoencoder": _learned,
    "timeseries_classification": lambda r: r["accuracy"] > 0.75,
    "lstm_seq2seq": lambda r: r["exact"] > 0.5,
    "functional_multi_io": lambda r: _learned(r) and {"priority_loss", "department_loss"} <= set(r["keys"]),
    "custom_layer_saving": lambda r: r["total"] == [4.0, 4.0] and r["same"] and _learned(r)
    and r["registered"] == "MyLayers>Linear",
    "vae_train_step": lambda r: _learned(r) and r["keys"] == ["kl_loss", "loss", "reconstruction_loss"],
}


def test_every_program_has_a_check():
    assert sorted(CHECKS) == sorted(p.stem for p in PROGRAMS.glob("*.py"))


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("lib", ["keras", "fastnn"])
def test_program_learns(name, lib):
    result = run(name, lib)
    assert CHECKS[name](result), result
