"""fastnn.keras reshaping layers (Cropping*, ZeroPadding*, UpSampling1D/3D, Permute), core layers (Identity,
Lambda, Masking, EinsumDense, ReversibleEmbedding), the regularization layers and keras.layers.serialize /
deserialize against Keras 3 (torch backend): outputs, gradients w.r.t. inputs and weights, configs."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import rand, to_np  # noqa: E402
from keras_layer_checks import check, same_config  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]
KL = keras.layers


# ---- reshaping ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kw,shape", [
    ("Cropping1D", dict(), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(0, 2)), (2, 5, 3)),
    ("Cropping1D", dict(cropping=3), (1, 7, 2)),
    ("Cropping2D", dict(), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=1), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 4, 5, 3)),
    ("Cropping2D", dict(cropping=(1, 2), data_format="channels_first"), (2, 3, 4, 6)),
    ("Cropping3D", dict(), (2, 4, 5, 3, 2)),
    ("Cropping3D", dict(cropping=((0, 1), (1, 0), (0, 0))), (1, 3, 3, 3, 2)),
    ("Cropping3D", dict(cropping=(1, 0, 1), data_format="channels_first"), (2, 2, 4, 3, 5)),
    ("ZeroPadding1D", dict(), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=(0, 3)), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=2, data_format="channels_first"), (2, 3, 4)),
    ("ZeroPadding2D", dict(), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 3))), (2, 3, 4, 2)),
    ("ZeroPadding2D", dict(padding=(2, 1), data_format="channels_first"), (1, 2, 3, 4)),
    ("ZeroPadding3D", dict(), (1, 2, 3, 2, 2)),
    ("ZeroPadding3D", dict(padding=((0, 1), (2, 0), (1, 1)), data_format="channels_first"), (1, 2, 2, 3, 2)),
    ("UpSampling1D", dict(), (2, 3, 4)),
    ("UpSampling1D", dict(size=3), (1, 1, 2)),
    ("UpSampling3D", dict(), (1, 2, 3, 2, 2)),
    ("UpSampling3D", dict(size=(1, 3, 2), data_format="channels_first"), (2, 2, 2, 3, 2)),
    ("Permute", dict(dims=(2, 1)), (2, 3, 4)),
    ("Permute", dict(dims=(3, 1, 2)), (2, 3, 4, 5)),
])
def test_reshaping_layers(cls, kw, shape):
    ours, theirs = getattr(L, cls)(**kw), getattr(KL, cls)(**kw)
    out = check(ours, theirs, rand(*shape), atol=0, rtol=0)
    assert tuple(ours.compute_output_shape((None,) + shape[1:]))[1:] == out.shape[1:]
    same_config(ours, theirs)


@pytest.mark.parametrize("cls,kw,shape", [
    ("Cropping1D", dict(cropping=(2, 3)), (2, 5, 3)),
    ("Cropping2D", dict(cropping=((2, 2), (0, 0))), (2, 4, 5, 3)),
    ("Cropping3D", dict(), (1, 2, 4, 4, 1)),
    ("Cropping1D", dict(), (2, 5)),
    ("ZeroPadding2D", dict(), (2, 5, 3)),
    ("UpSampling1D", dict(), (2, 5, 3, 1)),
    ("Permute", dict(dims=(2, 1)), (2, 3, 4, 5)),
])
def test_reshaping_errors_on_call(cls, kw, shape):
    with pytest.raises(ValueError):
        getattr(KL, cls)(**kw)(rand(*shape))
    with pytest.raises(ValueError):
        getattr(L, cls)(**kw)(rand(*shape))


@pytest.mark.parametrize("cls,kw,exc", [
    ("Cropping1D", dict(cropping=(-1, 1)), ValueError),
    ("Cropping1D", dict(cropping=(1, 2, 3)), ValueError),
    ("Cropping2D", dict(cropping=-1), ValueError),
    ("Cropping2D", dict(cropping=(1, 2, 3)), ValueError),
    ("Cropping2D", dict(cropping="a"), ValueError),
    ("Cropping3D", dict(cropping=(1, 2)), ValueError),
    ("ZeroPadding2D", dict(padding=((1, 2, 3), 1)), ValueError),
    ("ZeroPadding3D", dict(padding=(1, 1)), ValueError),
    ("ZeroPadding1D", dict(padding=-1), ValueError),
    ("UpSampling1D", dict(size=2.0), TypeError),
    ("UpSampling1D", dict(size=0), ValueError),
    ("UpSampling3D", dict(size=(1, 0, 1)), ValueError),
    ("Permute", dict(dims=(0, 1)), ValueError),
    ("Permute", dict(dims=(1, 3)), ValueError),
    ("Cropping2D", dict(data_format="nhwc"), ValueError),
])
def test_reshaping_constructor_errors(cls, kw, exc):
    with pytest.raises(exc):
        getattr(KL, cls)(**kw)
    with pytest.raises(exc):
        getattr(L, cls)(**kw)


# ---- regularization -------------------------------------------------------------------------------------------
_RANDOM = [("SpatialDropout1D", dict(rate=0.4), (3, 5, 4)), ("SpatialDropout2D", dict(rate=0.4), (2, 3, 4, 5)),
           ("SpatialDropout3D", dict(rate=0.4, data_format="channels_first"), (2, 3, 2, 2, 2)),
           ("GaussianNoise", dict(stddev=0.3), (4, 6)), ("GaussianDropout", dict(rate=0.3), (4, 6)),
           ("AlphaDropout", dict(rate=0.2), (4, 6)), ("AlphaDropout", dict(rate=0.2, noise_shape=(None, 1)), (4, 6)),
           ("ActivityRegularization", dict(l1=0.0, l2=0.0), (4, 6))]


@pytest.mark.parametrize("cls,kw,shape", _RANDOM)
def test_random_layers_identity_at_inference(cls, kw, shape):
    ours, theirs = getattr(L, cls)(**kw), getattr(KL, cls)(**kw)
    x = rand(*shape)
    check(ours, theirs, x, atol=0, rtol=0)
    check(ours, theirs, x, atol=0, rtol=0, training=False)
    same_config(ours, theirs)


@pytest.mark.parametrize("cls,kw,shape,channel", [
    ("SpatialDropout1D", dict(), (40, 7, 30), 2),
    ("SpatialDropout2D", dict(), (40, 3, 4, 30), 3),
    ("SpatialDropout2D", dict(data_format="channels_first"), (40, 30, 3, 4), 1),
    ("SpatialDropout3D", dict(), (40, 2, 3, 2, 30), 4),
    ("SpatialDropout3D", dict(data_format="channels_first"), (40, 30, 2, 3, 2), 1)])
def test_spatial_dropout_training_drops_whole_channels(cls, kw, shape, channel):
    rate = 0.3
    x = np.ones(shape, np.float32)
    for layer in (getattr(L, cls)(rate, seed=3, **kw), getattr(KL, cls)(rate, seed=3, **kw)):
        y = to_np(layer(x, training=True))
        assert np.all(np.isclose(y, 0) | np.isclose(y, 1 / (1 - rate)))
        other = tuple(a for a in range(1, len(shape)) if a != channel)
        # one draw per (sample, channel): constant over the other axes
        assert np.all(y.max(axis=other) == y.min(axis=other))
        assert abs((y == 0).mean() - rate) < 0.06
    xf = fastnn.tensor(rand(*shape), requires_grad=True)
    ours = getattr(L, cls)(rate, **kw)
    y = ours(xf, training=True)
    y.sum().backward()
    assert_close(xf.grad, (np.asarray(y.detach()) != 0) / (1 - rate), atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="ndim"):
        ours(rand(*shape[:-1]), training=True)


def test_gaussian_noise_and_dropout_statistics():
    x = np.zeros((200, 500), np.float32)
    for layer in (L.GaussianNoise(0.5, seed=1), KL.GaussianNoise(0.5, seed=1)):
        y = to_np(layer(x, training=True))
        assert abs(y.mean()) < 0.01 and abs(y.std() - 0.5) < 0.01
    ones = np.ones((200, 500), np.float32)
    for layer in (L.GaussianDropout(0.2, seed=1), KL.GaussianDropout(0.2, seed=1)):
        y = to_np(layer(ones, training=True))
        assert abs(y.mean() - 1) < 0.01 and abs(y.std() - 0.5) < 0.01  # sqrt(0.2 / 0.8)
    # the same seed gives the same stream; successive calls differ; gradients: 1 and the noise
    a, b = L.GaussianNoise(0.5, seed=7), L.GaussianNoise(0.5, seed=7)
    ya, yb = to_np(a(x[:4], training=True)), to_np(b(x[:4], training=True))
    assert_close(ya, yb, atol=0, rtol=0)
    assert not np.allclose(ya, to_np(a(x[:4], training=True)))
    xf = fastnn.tensor(rand(4, 6), requires_grad=True)
    g = L.GaussianDropout(0.4)
    y = g(xf, training=True)
    y.sum().backward()
    assert_close(xf.grad, np.asarray(y.detach()) / np.asarray(xf.detach()), atol=1e-4, rtol=1e-4)
    for cls in ("GaussianNoise", "GaussianDropout", "AlphaDropout"):
        for bad in (-0.1, 1.5):
            with pytest.raises(ValueError):
                getattr(KL, cls)(bad)
            with pytest.raises(ValueError):
                getattr(L, cls)(bad)


def test_alpha_dropout_statistics_and_noise_shape():
    rate = 0.25
    x = rand(400, 300, seed=2)
    for layer in (L.AlphaDropout(rate, seed=4), KL.AlphaDropout(rate, seed=4)):
        y = to_np(layer(x, training=True))
        assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02  # SELU's fixed point kept
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    layer = L.AlphaDropout(rate, noise_shape=(None, 1))
    xf = fastnn.tensor(x[:50], requires_grad=True)
    y = layer(xf, training=True)
    yn = np.asarray(y.detach())
    dropped = np.isclose(yn, a * alpha_p + b, atol=1e-5)
    rows = dropped.all(axis=1)
    assert np.all(dropped.any(axis=1) == rows)  # noise_shape (None, 1): whole rows together
    assert 0 < rows.sum() < 50
    assert_close(yn[~rows], a * x[:50][~rows] + b, atol=1e-5, rtol=1e-5)
    y.sum().backward()
    assert_close(xf.grad, np.where(rows[:, None], 0.0, a) * np.ones_like(x[:50]), atol=1e-6, rtol=1e-6)


def test_activity_regularization_is_identity_with_keras_config():
    x = rand(3, 4)
    ours, theirs = L.ActivityRegularization(l1=0.1, l2=0.01), KL.ActivityRegularization(l1=0.1, l2=0.01)
    co = same_config(ours, theirs)
    assert "activity_regularizer" not in co
    y = ours(x)
    yt = theirs(x)
    assert_close(to_np(y), x, atol=0, rtol=0)
    assert len(ours.losses) == 1 and len(theirs.losses) == 1
    assert_close(to_np(ours.losses[0]), to_np(theirs.losses[0]), atol=1e-6, rtol=1e-6)
    assert_close(to_np(yt), x, atol=0, rtol=0)
    ours(x[:1])  # each outermost call replaces the previous call's loss
    assert len(ours.losses) == 1
    assert_close(to_np(ours.losses[0]), 0.1 * np.abs(x[:1]).sum() + 0.01 * (x[:1] ** 2).sum(), atol=1e-6, rtol=1e-6)
    xf = fastnn.tensor(x, requires_grad=True)
    ours(xf)
    ours.losses[0].backward()
    assert_close(xf.grad, (0.1 * np.sign(x) + 0.02 * x) / 3, atol=1e-6, rtol=1e-6)


def test_activity_regularization_in_evaluate_loss():
    """The model's loss includes the layer's penalty: the same model with and without it differ by it."""
    import fastnn.keras as fk

    x, y = rand(8, 3), rand(8, 3, seed=1)
    plain = fk.Sequential([L.Input((3,)), L.Identity()])
    reg = fk.Sequential([L.Input((3,)), L.ActivityRegularization(l2=0.5)])
    for m in (plain, reg):
        m.compile(optimizer="sgd", loss="mse")
    lp = plain.evaluate(x, y, batch_size=8, verbose=0)
    lr = reg.evaluate(x, y, batch_size=8, verbose=0)
    lp, lr = (v[0] if isinstance(v, list) else v for v in (lp, lr))
    assert abs(lr - lp - 0.5 * (x ** 2).sum() / 8) < 1e-4


# ---- core -----------------------------------------------------------------------------------------------------
def test_identity():
    x = rand(3, 4)
    check(L.Identity(), KL.Identity(), x, atol=0, rtol=0)
    ident = L.Identity()
    assert ident.compute_mask(x, "m") == "m"
    assert ident.compute_output_shape((None, 4)) == (None, 4)


def _times(x, factor=2.0):
    return x * factor


def test_lambda_function_arguments_output_shape_and_mask():
    x = rand(3, 4)
    ours, theirs = L.Lambda(_times, arguments={"factor": 3.0}), KL.Lambda(_times, arguments={"factor": 3.0})
    check(ours, theirs, x, atol=1e-6, rtol=1e-6)
    co = same_config(ours, theirs, skip=("function",))
    assert co["function"]["config"] == "_times" and co["function"]["class_name"] == "function"
    again = L.Lambda.from_config(co)
    assert again.function is _times and again.arguments == {"factor": 3.0}
    # a function given in custom_objects, output_shape as a tuple or a function, a fixed or computed mask
    assert L.Lambda.from_config({**co, "function": "f"}, custom_objects={"f": np.tanh}).function is np.tanh
    lam = L.Lambda(lambda v: fastnn.cat([v, v], -1), output_shape=(8,))
    assert lam.compute_output_shape((None, 4)) == (None, 8)
    assert L.Lambda(_times, output_shape=lambda s: s).compute_output_shape((2, 4)) == (2, 4)
    assert L.Lambda(_times, mask=lambda inp, m: "computed").compute_mask(x, None) == "computed"
    assert L.Lambda(_times).compute_mask(x) is None
    # the function gets mask / training only when its signature names them
    seen = {}

    def fn(v, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return v

    L.Lambda(fn)(fastnn.tensor(x), mask="m", training=True)
    assert seen == {"mask": "m", "training": True}
    with pytest.raises(ValueError, match="lambda"):
        L.Lambda(lambda v: v).get_config()
    with pytest.raises(ValueError, match="lambda"):
        L.Lambda.from_config({"function": {"class_name": "__lambda__", "config": {"code": "..."}}})
    # inside a functional model, with the output shape traced
    inp = L.Input((4,))
    out = L.Lambda(_times)(inp)
    assert out.shape == (None, 4)


@pytest.mark.parametrize("value", [0.0, 0.5])
def test_masking(value):
    x = rand(3, 5, 4)
    x[0, 1] = value
    x[2, [0, 4]] = value
    x[1, 3, 0] = value  # one feature equal: not masked
    ours, theirs = L.Masking(value), KL.Masking(value)
    check(ours, theirs, x, atol=0, rtol=0)
    assert_close(to_np(ours.compute_mask(fastnn.tensor(x))), to_np(theirs.compute_mask(x)), atol=0, rtol=0)
    assert to_np(ours.compute_mask(fastnn.tensor(x))).dtype == np.bool_
    same_config(ours, theirs)


_EINSUM = [("ab,b->a", None, (2, 6), ()), ("ab,bc->ac", None, (2, 6), 5), ("ab,bc->ac", "c", (2, 6), (5,)),
           ("abc,cde->abde", None, (2, 1, 2), (1, 3, 4)), ("abc,cde->abde", "e", (2, 1, 2), (1, 3, 4)),
           ("abc,cde->abde", "d", (2, 1, 2), (1, 3, 4)), ("abc,cde->abde", "be", (2, 7, 2), (7, 3, 4)),
           ("BFNH,NHD->BFD", None, (2, 1, 2, 3), (1, 4)), ("abc,cd->abd", "d", (2, 3, 2), (None, 4)),
           ("ibd,nd->ibn", None, (2, 2, 1), (2, 2)), ("...b,bc->...c", "c", (2, 3, 6), (4,)),
           ("...bc,bc->...b", None, (2, 3, 4), (3,)), ("...c,cde->...de", "d", (2, 1, 2), (3, 4)),
           ("ab...,bc->ac...", "c", (2, 3, 4), (5,))]


@pytest.mark.parametrize("equation,bias_axes,shape,out", _EINSUM)
def test_einsum_dense(equation, bias_axes, shape, out):
    kw = dict(equation=equation, output_shape=out, bias_axes=bias_axes, activation="relu")
    ours, theirs = L.EinsumDense(**kw), KL.EinsumDense(**kw)
    y = check(ours, theirs, rand(*shape), atol=1e-5, rtol=1e-4)
    assert tuple(ours.compute_output_shape(shape)) == tuple(theirs.compute_output_shape(shape))
    if None not in np.atleast_1d(np.asarray(out, dtype=object)):
        assert tuple(ours.compute_output_shape(shape)) == y.shape
    same_config(ours, theirs, skip=("kernel_initializer", "bias_initializer"))


def test_einsum_dense_init_fans_and_errors():
    layer = L.EinsumDense("abc,cde->abde", output_shape=(None, 30, 40))
    layer(rand(2, 3, 20))
    limit = np.sqrt(6.0 / (20 + 30 * 40))  # fans from the kernel's input (c) and output (d, e) axes
    k = layer.get_weights()[0]
    assert k.shape == (20, 30, 40) and np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
    for eq, out, shape in (("ab,bc", 3, (2, 4)), ("ab,cd->ad", 3, (2, 4)), ("ab,b->ac", (3,), (2, 4))):
        with pytest.raises(ValueError):
            KL.EinsumDense(eq, out)(rand(*shape))
        with pytest.raises(ValueError):
            L.EinsumDense(eq, out)(rand(*shape))
    with pytest.raises(ValueError, match="Bias dimension"):
        L.EinsumDense("ab,bc->ac", 3, bias_axes="x")(rand(2, 4))
    with pytest.raises(ValueError, match="shared dimension"):
        L.EinsumDense("abc,cd->abd", (5, 3))(rand(2, 4, 2))
    with pytest.raises(NotImplementedError, match="lora_rank"):
        L.EinsumDense("ab,bc->ac", 3, lora_rank=2)


# ---- serialization ---------------------------------------------------------------------------------------------
_NEW = [lambda: L.Cropping1D(), lambda: L.Cropping2D(1), lambda: L.Cropping3D(), lambda: L.ZeroPadding1D(),
        lambda: L.ZeroPadding2D(), lambda: L.ZeroPadding3D(), lambda: L.UpSampling1D(), lambda: L.UpSampling3D(),
        lambda: L.Permute((2, 1)), lambda: L.SpatialDropout1D(0.1), lambda: L.SpatialDropout2D(0.1),
        lambda: L.SpatialDropout3D(0.1, data_format="channels_first"), lambda: L.GaussianNoise(0.1),
        lambda: L.GaussianDropout(0.1), lambda: L.AlphaDropout(0.1, noise_shape=(None, 1)),
        lambda: L.ActivityRegularization(0.1, 0.2), lambda: L.Identity(), lambda: L.Lambda(_times, output_shape=(3,)),
        lambda: L.Masking(1.0), lambda: L.EinsumDense("ab,bc->ac", 3, bias_axes="c", kernel_regularizer="l2"),
        lambda: L.TimeDistributed(L.Dense(2)), lambda: L.Dot(1, normalize=True), lambda: L.Softmax(axis=[1, 2]),
        lambda: L.PReLU(shared_axes=[1]), lambda: L.ELU(0.3), lambda: L.GroupNormalization(2),
        lambda: L.UnitNormalization([1]), lambda: L.RMSNormalization(),
        lambda: L.SpectralNormalization(L.Dense(2), power_iterations=2), lambda: L.AdditiveAttention(use_scale=False),
        lambda: L.ReversibleEmbedding(5, 3, tie_weights=False),
        lambda: L.GroupQueryAttention(2, 4, 2, use_gate=True, sliding_window=3)]


@pytest.mark.parametrize("make", _NEW)
def test_new_layers_config_round_trip(make):
    layer = make()
    back = L.deserialize(L.serialize(layer))
    assert type(back) is type(layer) and back.get_config() == layer.get_config()
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_serialize_deserialize_round_trip_and_keras_format():
    layers = [L.Cropping2D(((1, 0), (2, 1)), data_format="channels_first"), L.ZeroPadding1D(2), L.Permute((2, 1)),
              L.Dense(3, activation="relu"), L.Masking(0.5), L.EinsumDense("ab,bc->ac", 4, bias_axes="c"),
              L.Lambda(_times), L.SpatialDropout2D(0.3, seed=2), L.Identity(name="same")]
    for layer in layers:
        s = L.serialize(layer)
        assert set(s) == {"module", "class_name", "config", "registered_name"}
        assert s["module"] == "keras.layers" and s["class_name"] == type(layer).__name__
        back = L.deserialize(s)
        assert type(back) is type(layer) and back.get_config() == layer.get_config()
    # Keras' own dicts (DTypePolicy, initializer objects, build_config) load into our layers
    kd = KL.EinsumDense("ab,bc->ac", 3, bias_axes="c", activation="tanh")
    kd(rand(2, 5))
    ours = L.deserialize(keras.layers.serialize(kd))
    assert isinstance(ours, L.EinsumDense) and ours.built and ours.kernel.shape == (5, 3)
    ours.set_weights(kd.get_weights())
    assert_close(to_np(ours(rand(2, 5))), to_np(kd(rand(2, 5))), atol=1e-6, rtol=1e-6)
    kc = L.deserialize(keras.layers.serialize(KL.Cropping3D(((1, 0), (0, 1), (2, 2)))))
    assert kc.cropping == ((1, 0), (0, 1), (2, 2))
    td = L.deserialize(keras.layers.serialize(KL.TimeDistributed(KL.Cropping1D((1, 2)))))
    assert isinstance(td, L.TimeDistributed) and isinstance(td.layer, L.Cropping1D) and td.layer.cropping == (1, 2)
    assert L.deserialize(L.serialize(td)).layer.cropping == (1, 2)
    for rnn in (L.LSTM(2, recurrent_regularizer="l2"), L.GRU(3), L.SimpleRNN(2)):  # Keras' recurrent_* keys
        assert L.deserialize(L.serialize(rnn)).get_config() == rnn.get_config()
    assert L.LSTM(2, recurrent_regularizer="l2").get_config()["recurrent_regularizer"]["class_name"] == "L2"
    bi = L.deserialize({"class_name": "Bidirectional", "config": {"layer": {"class_name": "GRU", "config": {
        "units": 2, "return_sequences": True}}, "merge_mode": "sum"}})
    assert isinstance(bi.forward_layer, L.GRU) and bi.merge_mode == "sum" and bi.return_sequences
    # a user's class: by custom_objects
    class Custom(L.Layer):
        def call(self, inputs):
            return inputs

    s = L.serialize(Custom(name="c"))
    assert s["class_name"] == "Custom" and s["module"] != "keras.layers"
    with pytest.raises(TypeError, match="Could not locate class"):
        L.deserialize(s)
    assert isinstance(L.deserialize(s, custom_objects={"Custom": Custom}), Custom)
    with pytest.raises(ValueError):
        L.deserialize("Dense")


def test_lambda_save_and_load(tmp_path):
    import fastnn.keras as fk

    m = fk.Sequential([L.Input((3,)), L.Lambda(_times, arguments={"factor": 4.0}), L.Dense(2)])
    x = rand(2, 3)
    m.save(tmp_path / "m.keras")
    loaded = fk.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].function is _times
    assert_close(loaded.predict(x, verbose=0), m.predict(x, verbose=0), atol=0, rtol=0)


@pytest.mark.parametrize("kw", [dict(), dict(tie_weights=False), dict(logit_soft_cap=2.0),
                                dict(tie_weights=False, logit_soft_cap=0.5, reverse_dtype="float64")])
def test_reversible_embedding(kw):
    ids = np.array([[0, 3, 5], [1, 1, 2]])
    ours, theirs = L.ReversibleEmbedding(6, 4, **kw), KL.ReversibleEmbedding(6, 4, **kw)
    theirs(ids)
    ours(ids)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    theirs.set_weights([rand(*w.shape, seed=i) for i, w in enumerate(theirs.get_weights())])
    ours.set_weights(theirs.get_weights())
    assert_close(to_np(ours(ids)), to_np(theirs(ids)), atol=0, rtol=0)
    h = rand(2, 3, 4)
    hf, ht = fastnn.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    yo, yt = ours(hf, reverse=True), theirs(ht, reverse=True)
    assert yo.shape == (2, 3, 6)
    # computed in reverse_dtype (Keras' torch matmul hands float64 results back as float32)
    assert to_np(yo).dtype == np.dtype(kw.get("reverse_dtype", "float32"))
    assert_close(to_np(yo), to_np(yt), atol=1e-5, rtol=1e-5)
    r = rand(2, 3, 6, seed=7)
    (yo * fastnn.tensor(r).to(yo.dtype)).sum().backward()
    (yt * torch.tensor(r).to(yt.dtype)).sum().backward()
    assert_close(hf.grad, ht.grad.numpy(), atol=1e-5, rtol=1e-5)
    for wo, wt in zip(ours.weights, theirs.weights):  # untied: the forward embeddings get no gradient
        if wt.value.grad is None:
            assert wo.grad is None
        else:
            assert_close(wo.grad, wt.value.grad.numpy(), atol=1e-5, rtol=1e-5)
    assert list(ours.compute_output_shape((2, 3, 4), reverse=True)) == [2, 3, 6]
    same_config(ours, theirs, skip=("embeddings_initializer", "quantization_config"))  # the latter: Embedding's


# ---- InputSpec ---------------------------------------------------------------------------------------------------
def _spec_layer(module, spec):
    class Checked(module.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.input_spec = spec

        def call(self, inputs):
            return inputs

    return Checked()


@pytest.mark.parametrize("kw,shape,ok", [
    (dict(ndim=3), (2, 3, 4), True), (dict(ndim=3), (2, 3), False), (dict(min_ndim=3), (2, 3, 4, 5), True),
    (dict(min_ndim=3), (2, 3), False), (dict(max_ndim=2), (2, 3, 4), False), (dict(axes={-1: 4}), (2, 3, 4), True),
    (dict(axes={-1: 5}), (2, 3, 4), False), (dict(shape=(None, 3, 4)), (7, 3, 4), True),
    (dict(shape=(None, 3, 5)), (7, 3, 4), False), (dict(dtype="float32"), (2, 3), True),
    (dict(dtype="int32"), (2, 3), False),
])
def test_input_spec(kw, shape, ok):
    x = rand(*shape)
    for module in (L, KL):
        layer = _spec_layer(module, module.InputSpec(**kw))
        if ok:
            layer(x)
        else:
            with pytest.raises(ValueError, match="incompatible with the layer"):
                layer(x)
    spec = L.InputSpec(**kw)
    assert spec.get_config() == KL.InputSpec(**kw).get_config()
    assert L.InputSpec.from_config(spec.get_config()).get_config() == spec.get_config()


def test_input_spec_lists_symbolic_and_errors():
    layer = _spec_layer(L, [L.InputSpec(ndim=2), L.InputSpec(ndim=3)])
    layer([rand(2, 3), rand(2, 3, 4)])
    with pytest.raises(ValueError, match="expects 2 input"):
        layer([rand(2, 3)])
    # a symbolic input: unknown dims are not held against the spec
    sym = _spec_layer(L, L.InputSpec(shape=(None, 3, 4), axes={1: 3}))
    assert sym(L.Input((3, 4))).shape == (None, 3, 4)
    with pytest.raises(ValueError, match="expected shape"):
        sym(L.Input((3, 5)))
    with pytest.raises(TypeError, match="integer keys"):
        L.InputSpec(axes={"a": 1})
    with pytest.raises(ValueError, match="greater than the maximum"):
        L.InputSpec(ndim=2, axes={3: 1})
    assert repr(L.InputSpec(ndim=2)) == repr(KL.InputSpec(ndim=2))
