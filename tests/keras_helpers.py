"""Shared helpers for the Keras-parity tests: Keras 3 on its torch backend is the oracle. A layer is built
in both, Keras' weights are copied into ours with ``set_weights(get_weights())``, and outputs, shapes and
weight shapes are compared."""
from __future__ import annotations

import os

import numpy as np

import fastnn
from op_helpers import assert_close

os.environ.setdefault("KERAS_BACKEND", "torch")


def to_np(x):
    import keras

    if isinstance(x, (list, tuple)):
        return [to_np(v) for v in x]
    if isinstance(x, fastnn.Tensor):
        return np.asarray(x.detach())
    return np.asarray(keras.ops.convert_to_numpy(x))


def build_pair(ours, theirs, x, **call_kwargs):
    """Calls both layers on ``x`` (building them), copies Keras' weights into ours; returns both outputs
    (ours recomputed after the copy)."""
    theirs_out = theirs(x, **call_kwargs)
    ours(x, **call_kwargs)
    w = theirs.get_weights()
    assert [a.shape for a in ours.get_weights()] == [a.shape for a in w], "weight shapes differ from Keras'"
    ours.set_weights(w)
    return ours(x, **call_kwargs), theirs_out


def check_layer(ours, theirs, x, rtol: float = 1e-5, atol: float = 1e-5, **call_kwargs):
    """Outputs (one or a list) agree in shape and value after the weight copy."""
    a, b = build_pair(ours, theirs, x, **call_kwargs)
    a, b = to_np(a), to_np(b)
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b)
        for i, (u, v) in enumerate(zip(a, b)):
            assert_close(u, v, atol=atol, rtol=rtol, msg=f"output {i}")
    else:
        assert_close(a, b, atol=atol, rtol=rtol)
    return a, b


def config_matches(ours, theirs, skip=("name", "dtype")):
    """The two get_config()s have the same keys with equal values, ``skip`` aside."""
    a, b = ours.get_config(), theirs.get_config()
    for k in set(a) | set(b):
        if k in skip:
            continue
        assert k in a and k in b, f"config key {k!r}: ours {sorted(a)}, Keras {sorted(b)}"
        assert a[k] == b[k], f"config[{k!r}]: ours {a[k]!r}, Keras {b[k]!r}"


def rand(*shape, seed: int = 0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
