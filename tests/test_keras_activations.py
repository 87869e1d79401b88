"""fastnn.keras.activations against Keras 3.15 (torch backend): every public name, signatures and
defaults, values and gradients (torch autograd on the Keras side), relu's options, and
serialize / deserialize / get."""
import inspect

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND=torch before keras is imported)
import numpy as np
import pytest

import fastnn
from fastnn import keras as fk

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

NON_FUNCTIONS = {"serialize", "deserialize", "get"}


def _names():
    return sorted(n for n in dir(keras.activations) if not n.startswith("_") and n not in NON_FUNCTIONS)


def _x(shape=(4, 6), seed=0):
    x = np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32)
    # keep away from the kinks (0, +-0.5, +-1, +-3, the thresholds below) where a subgradient is a choice
    for k in (0.0, 0.5, 1.0, 3.0, 0.7, 2.5):
        for s in (k, -k):
            x = np.where(np.abs(x - s) < 0.02, x + 0.05, x)
    return x


def _compare(fn_ours, fn_theirs, x, **kwargs):
    xt = torch.tensor(x, requires_grad=True)
    kt = fn_theirs(xt, **kwargs)
    w = np.random.default_rng(1).standard_normal(tuple(kt.shape)).astype(np.float32)
    (kt * torch.tensor(w)).sum().backward()
    xf = fastnn.tensor(x, requires_grad=True)
    out = fn_ours(xf, **kwargs)
    (out * fastnn.tensor(w)).sum().backward()
    assert tuple(out.shape) == tuple(kt.shape)
    np.testing.assert_allclose(out.detach().numpy(), kt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_every_keras_activation_name_exists():
    missing = [n for n in dir(keras.activations) if not n.startswith("_") and not hasattr(fk.activations, n)]
    assert not missing, f"fastnn.keras.activations lacks {missing}"


@pytest.mark.parametrize("name", _names())
def test_signature_matches_keras(name):
    ps = inspect.signature(getattr(fk.activations, name)).parameters
    ks = inspect.signature(getattr(keras.activations, name)).parameters
    assert list(ps) == list(ks)
    assert {k: v.default for k, v in ps.items()} == {k: v.default for k, v in ks.items()}


EXTRA = {"threshold": [{"threshold": 0.7, "default_value": -2.0}], "glu": [{}, {"axis": 0}],
         "softmax": [{}, {"axis": 0}], "log_softmax": [{}, {"axis": 0}], "sparsemax": [{}, {"axis": 0}],
         "elu": [{}, {"alpha": 0.5}], "celu": [{}, {"alpha": 2.0}], "leaky_relu": [{}, {"negative_slope": 0.05}],
         "gelu": [{}, {"approximate": True}], "squareplus": [{}, {"b": 1.5}], "soft_shrink": [{}, {"threshold": 1.0}],
         "hard_shrink": [{}, {"threshold": 1.0}]}


def _torch_sparsemax(x, axis=-1):
    """Martins & Astudillo's sparsemax, tau = (cumsum_k - 1) / k over the support of size k. Keras 3.15's
    own sparsemax sums every cumulative sum of the support instead (keras-team/keras#23425, fixed by
    #23469): it agrees only when the support has one element."""
    z = x.movedim(axis, -1)
    zs = torch.sort(z, dim=-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    cs = zs.cumsum(-1)
    ksup = ((1 + k * zs) > cs).sum(-1, keepdim=True)
    tau = (cs.gather(-1, ksup - 1) - 1) / ksup.to(z.dtype)
    return torch.clamp(z - tau, min=0.0).movedim(-1, axis)


@pytest.mark.parametrize("name", _names())
def test_values_and_gradients_match_keras(name):
    theirs = _torch_sparsemax if name == "sparsemax" else getattr(keras.activations, name)
    for kwargs in EXTRA.get(name, [{}]):
        _compare(getattr(fk.activations, name), theirs, _x(), **kwargs)


def test_sparsemax_sums_to_one_and_agrees_with_keras_on_one_element_supports():
    out = fk.activations.sparsemax(_x((5, 7), seed=3)).numpy()
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(fk.activations.sparsemax(np.array([[0.0, 0.5, 1.0]], np.float32)).numpy(),
                               [[0.0, 0.25, 0.75]], atol=1e-6)
    spread = np.array([[0.0, 2.0, 5.0], [9.0, 1.0, -3.0]], np.float32)  # one element in each support
    np.testing.assert_allclose(fk.activations.sparsemax(spread).numpy(),
                               keras.activations.sparsemax(torch.tensor(spread)).numpy(), atol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"negative_slope": 0.1}, {"max_value": 6.0}, {"max_value": 2.5},
                                    {"threshold": 0.7}, {"negative_slope": 0.2, "threshold": 0.5},
                                    {"negative_slope": 0.3, "max_value": 2.5},
                                    {"negative_slope": 0.1, "max_value": 2.5, "threshold": 1.0}])
def test_relu_options_match_keras(kwargs):
    _compare(fk.activations.relu, keras.activations.relu, _x((5, 7), seed=2), **kwargs)


def test_host_arrays_are_accepted():
    x = _x()
    np.testing.assert_allclose(fk.activations.mish(x).numpy(),
                               keras.activations.mish(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fk.activations.relu(x, max_value=1.0).numpy(), np.clip(x, 0, 1))


def test_get_serialize_deserialize_follow_keras():
    for name in _names() + ["swish", "hard_swish"]:
        ours, theirs = fk.activations.get(name), keras.activations.get(name)
        assert ours is getattr(fk.activations, theirs.__name__)
        assert fk.activations.serialize(ours) == keras.activations.serialize(theirs)
        assert fk.activations.deserialize(keras.activations.serialize(theirs)) is ours
    assert fk.activations.get(None) is fk.activations.linear
    assert fk.activations.swish is fk.activations.silu and fk.activations.hard_swish is fk.activations.hard_silu

    def custom(x):
        return x * 2

    assert fk.activations.get(custom) is custom
    assert fk.activations.serialize(custom) == keras.activations.serialize(custom)
    cfg = {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "relu"}
    assert fk.activations.get(cfg) is fk.activations.relu
    assert fk.activations.deserialize("custom", custom_objects={"custom": custom}) is custom
    for mod in (fk.activations, keras.activations):
        with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
            mod.get("swoosh")
        with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
            mod.get(3)
    with pytest.raises(ValueError):
        fk.activations.deserialize("swoosh")


def test_layers_take_any_activation_name_and_store_keras_name():
    x = _x((3, 4))
    for name in ("mish", "hard_swish", "selu", "sparse_plus", "swish"):
        ours = fk.layers.Dense(5, activation=name)
        theirs = keras.layers.Dense(5, activation=name)
        out, ref = keras_helpers.build_pair(ours, theirs, x)
        np.testing.assert_allclose(keras_helpers.to_np(out), keras_helpers.to_np(ref), rtol=1e-5, atol=1e-6)
        assert ours.get_config()["activation"] == theirs.get_config()["activation"]
