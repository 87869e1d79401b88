"""fastnn.keras ReLU, LeakyReLU, RepeatVector, GlobalAveragePooling1D / GlobalMaxPooling1D, UpSampling2D,
Conv1D, Conv2DTranspose and Bidirectional against Keras 3 (torch backend): outputs, weights, gradients."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import check_layer, rand  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers


def _grads_match(ours, theirs, x, atol=1e-5, rtol=1e-4):
    """d(sum(out * r))/d(x) and /d(weights), ours vs Keras' autograd (weights already copied)."""
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    r = rand(*yt.shape, seed=11)
    (yt * torch.tensor(r)).sum().backward()
    xf = fastnn.tensor(x, requires_grad=True)
    (ours(xf) * fastnn.tensor(r)).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=atol, rtol=rtol, msg="input grad")
    assert len(ours.weights) == len(theirs.weights)
    for wo, wt in zip(ours.weights, theirs.weights):
        assert_close(wo.grad, wt.value.grad.numpy(), atol=atol, rtol=rtol, msg=wt.path)


@pytest.mark.parametrize("kw", [dict(), dict(max_value=0.7), dict(max_value=6.0), dict(negative_slope=0.2),
                                dict(threshold=0.3), dict(max_value=1.0, negative_slope=0.1, threshold=0.2),
                                dict(negative_slope=0.3, threshold=0.5), dict(max_value=0.0)])
def test_relu(kw):
    x = rand(3, 5, 7) * 2
    check_layer(L.ReLU(**kw), KL.ReLU(**kw), x, atol=1e-6, rtol=1e-6)
    xf = fastnn.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    L.ReLU(**kw)(xf).sum().backward()
    KL.ReLU(**kw)(xt).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-6, rtol=1e-6)


def test_relu_leaky_relu_errors_and_defaults():
    for bad in (dict(max_value=-1), dict(negative_slope=-0.1), dict(threshold=-0.5)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            L.ReLU(**bad)
    with pytest.raises(ValueError, match="negative_slope"):
        L.LeakyReLU(-1)
    x = rand(4, 3, 2)
    check_layer(L.LeakyReLU(), KL.LeakyReLU(), x, atol=1e-6, rtol=1e-6)  # Keras 3's default slope 0.3
    check_layer(L.LeakyReLU(0.05), KL.LeakyReLU(0.05), x[0], atol=1e-6, rtol=1e-6)
    assert L.LeakyReLU().get_config()["negative_slope"] == 0.3


def test_repeat_vector():
    x = rand(3, 5)
    check_layer(L.RepeatVector(4), KL.RepeatVector(4), x, atol=0, rtol=0)
    check_layer(L.RepeatVector(1), KL.RepeatVector(1), rand(1, 1), atol=0, rtol=0)
    with pytest.raises(TypeError):
        L.RepeatVector(2.0)
    with pytest.raises(ValueError, match="ndim=2"):
        L.RepeatVector(2)(rand(2, 3, 4))
    xf = fastnn.tensor(x, requires_grad=True)
    L.RepeatVector(4)(xf).sum().backward()
    assert_close(xf.grad, np.full_like(x, 4.0), atol=0, rtol=0)


@pytest.mark.parametrize("cls", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
@pytest.mark.parametrize("kw", [dict(), dict(keepdims=True), dict(data_format="channels_first"),
                                dict(data_format="channels_first", keepdims=True)])
def test_global_pooling_1d(cls, kw):
    for shape in ((3, 7, 5), (1, 1, 2)):
        check_layer(getattr(L, cls)(**kw), getattr(KL, cls)(**kw), rand(*shape), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kw", [dict(), dict(size=3), dict(size=(1, 3)), dict(size=(2, 3), interpolation="bilinear"),
                                dict(size=2, interpolation="bilinear", data_format="channels_first"),
                                dict(size=(3, 1), data_format="channels_first")])
def test_upsampling2d(kw):
    x = rand(2, 3, 5, 4)
    ours, theirs = L.UpSampling2D(**kw), KL.UpSampling2D(**kw)
    check_layer(ours, theirs, x, atol=1e-5, rtol=1e-5)
    assert ours.compute_output_shape((None,) + x.shape[1:]) == theirs.compute_output_shape((None,) + x.shape[1:])
    xf = fastnn.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    r = rand(*theirs(x).shape, seed=4)
    (ours(xf) * fastnn.tensor(r)).sum().backward()
    (theirs(xt) * torch.tensor(r)).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-5, rtol=1e-5)
    with pytest.raises(NotImplementedError, match="interpolation"):
        L.UpSampling2D(interpolation="lanczos3")


@pytest.mark.parametrize("kw", [dict(filters=4, kernel_size=3), dict(filters=3, kernel_size=2, padding="same"),
                                dict(filters=5, kernel_size=4, strides=3, padding="same", activation="relu"),
                                dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2),
                                dict(filters=4, kernel_size=2, padding="causal", use_bias=False),
                                dict(filters=6, kernel_size=3, groups=2, strides=2),
                                dict(filters=2, kernel_size=3, padding="same", data_format="channels_first")])
def test_conv1d(kw):
    x = rand(2, 4, 9) if kw.get("data_format") == "channels_first" else rand(2, 9, 4)
    ours, theirs = L.Conv1D(**kw), KL.Conv1D(**kw)
    theirs(x)
    if kw.get("use_bias", True):
        theirs.set_weights([w if w.ndim > 1 else rand(*w.shape, seed=2) for w in theirs.get_weights()])
    check_layer(ours, theirs, x)
    _grads_match(ours, theirs, x)


def test_conv1d_errors():
    with pytest.raises(ValueError, match="padding"):
        L.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="ndim=3"):
        L.Conv1D(2, 3)(rand(2, 5))


@pytest.mark.parametrize("kw", [dict(filters=3, kernel_size=3), dict(filters=3, kernel_size=3, strides=2),
                                dict(filters=4, kernel_size=3, strides=2, padding="same"),
                                dict(filters=2, kernel_size=(2, 3), strides=(2, 1), padding="same"),
                                dict(filters=2, kernel_size=4, strides=2, padding="same", activation="relu"),
                                dict(filters=2, kernel_size=1, strides=3),
                                dict(filters=3, kernel_size=3, dilation_rate=2, use_bias=False),
                                dict(filters=2, kernel_size=3, strides=2, output_padding=1),
                                dict(filters=2, kernel_size=3, padding="same", data_format="channels_first")])
def test_conv2d_transpose(kw):
    x = rand(2, 3, 5, 4) if kw.get("data_format") == "channels_first" else rand(2, 5, 4, 3)
    ours, theirs = L.Conv2DTranspose(**kw), KL.Conv2DTranspose(**kw)
    theirs(x)
    if kw.get("use_bias", True):
        theirs.set_weights([w if w.ndim > 1 else rand(*w.shape, seed=2) for w in theirs.get_weights()])
    check_layer(ours, theirs, x)
    assert ours.kernel.shape == tuple(theirs.kernel.shape)
    _grads_match(ours, theirs, x)


def _perturb_biases(layer, seed=5):
    rng = np.random.default_rng(seed)
    layer.set_weights([w if "bias" not in v.path else rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                       for w, v in zip(layer.get_weights(), layer.weights)])


@pytest.mark.parametrize("cls,kw,merge", [("LSTM", dict(), "concat"), ("GRU", dict(return_sequences=True), "concat"),
                                          ("SimpleRNN", dict(return_sequences=True), "sum"),
                                          ("LSTM", dict(return_sequences=True), "mul"), ("GRU", dict(), "ave"),
                                          ("LSTM", dict(return_sequences=True), None),
                                          ("LSTM", dict(return_state=True), "concat"),
                                          ("GRU", dict(return_state=True, return_sequences=True), None)])
def test_bidirectional(cls, kw, merge):
    x = rand(3, 6, 5)
    ours = L.Bidirectional(getattr(L, cls)(4, **kw), merge_mode=merge)
    theirs = KL.Bidirectional(getattr(KL, cls)(4, **kw), merge_mode=merge)
    theirs(x)
    _perturb_biases(theirs)
    check_layer(ours, theirs, x)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    assert ours.forward_layer.name.startswith("forward_") and ours.backward_layer.go_backwards
    if not kw.get("return_state") and merge is not None:
        _grads_match(ours, theirs, x)


def test_bidirectional_backward_layer_initial_state_and_errors():
    x = rand(2, 5, 3)
    ours = L.Bidirectional(L.LSTM(4, return_sequences=True), backward_layer=L.GRU(4, return_sequences=True,
                                                                                 go_backwards=True))
    theirs = KL.Bidirectional(KL.LSTM(4, return_sequences=True), backward_layer=KL.GRU(4, return_sequences=True,
                                                                                      go_backwards=True))
    theirs(x)
    _perturb_biases(theirs)
    check_layer(ours, theirs, x)
    states = [rand(2, 4, seed=s) for s in range(4)]
    check_layer(L.Bidirectional(L.LSTM(4)), KL.Bidirectional(KL.LSTM(4)), x, initial_state=states)
    with pytest.raises(ValueError, match="merge mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2, go_backwards=True, return_sequences=True))


def test_bidirectional_in_sequential():
    from fastnn.keras.models import Sequential

    x = rand(4, 7, 5)
    ours = Sequential([L.Input((7, 5)), L.Bidirectional(L.LSTM(6, return_sequences=True)),
                       L.Bidirectional(L.GRU(3)), L.Dense(2)])
    theirs = keras.Sequential([keras.Input((7, 5)), KL.Bidirectional(KL.LSTM(6, return_sequences=True)),
                               KL.Bidirectional(KL.GRU(3)), KL.Dense(2)])
    ours.set_weights(theirs.get_weights())
    assert_close(np.asarray(ours.predict(x, verbose=0)), np.asarray(theirs.predict(x, verbose=0)), atol=1e-5,
                 rtol=1e-5)
    assert ours.layers[0].output_shape == (None, 7, 12)


def test_new_layers_save_and_load(tmp_path):
    import fastnn.keras as fk

    x = rand(2, 6, 3)
    m = fk.Sequential([L.Input((6, 3)), L.Conv1D(4, 3, padding="causal"),
                       L.Bidirectional(L.LSTM(3, return_sequences=True),
                                       backward_layer=L.GRU(3, return_sequences=True, go_backwards=True)),
                       L.GlobalMaxPooling1D(), L.RepeatVector(2), L.Bidirectional(L.GRU(2), merge_mode="sum"),
                       L.ReLU(max_value=1.0, negative_slope=0.1), L.LeakyReLU()])
    m.save(tmp_path / "m.keras")
    loaded = fk.models.load_model(tmp_path / "m.keras")
    assert_close(loaded.predict(x, verbose=0), m.predict(x, verbose=0), atol=0, rtol=0)
    assert isinstance(loaded.layers[1].backward_layer, L.GRU)
    m = fk.Sequential([L.Input((5, 4, 2)), L.Conv2DTranspose(3, 3, strides=2, padding="same"),
                       L.UpSampling2D(interpolation="bilinear")])
    m.save(tmp_path / "t.keras")
    xi = rand(2, 5, 4, 2)
    assert_close(fk.models.load_model(tmp_path / "t.keras").predict(xi, verbose=0), m.predict(xi, verbose=0),
                 atol=0, rtol=0)


@pytest.mark.parametrize("cls,kw,shape", [
    ("Conv1D", dict(filters=2, kernel_size=3, padding="same", strides=2), (1, 1, 3)),
    ("Conv1D", dict(filters=2, kernel_size=4, padding="causal", dilation_rate=3), (2, 2, 1)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=3, padding="same"), (1, 1, 1, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=2, strides=3), (2, 2, 3, 1)),
    ("Conv2DTranspose", dict(filters=1, kernel_size=(3, 2), strides=(2, 3), padding="same", output_padding=(1, 2)),
     (2, 3, 2, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (2, 4, 3, 2)),
    ("UpSampling2D", dict(size=(3, 2), interpolation="bilinear"), (1, 1, 1, 2)),
])
def test_odd_shapes(cls, kw, shape):
    """Size-1 and shorter-than-kernel inputs, strides above the kernel, explicit output_padding."""
    check_layer(getattr(L, cls)(**kw), getattr(KL, cls)(**kw), rand(*shape))


def test_functional_bidirectional_with_states():
    import fastnn.keras as fk

    def build(k):
        inp = k.Input((5, 3))
        out, *states = k.layers.Bidirectional(k.layers.LSTM(4, return_state=True))(inp)
        return k.Model(inp, [out] + states)

    theirs, ours = build(keras), build(fk)
    ours.set_weights(theirs.get_weights())
    x = rand(2, 5, 3)
    a, b = ours.predict(x, verbose=0), theirs.predict(x, verbose=0)
    assert len(a) == len(b) == 5
    for u, v in zip(a, b):
        assert_close(u, np.asarray(v), atol=1e-5, rtol=1e-5)
