"""fastnn.keras Conv3D, Conv1D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D and the 1-D / 3-D /
global / adaptive pooling layers against Keras 3 (torch backend) with identical weights: outputs, and the
gradients of a random projection of the output w.r.t. the input and every weight (torch autograd on the
Keras side); get_config keys and values; Keras' errors."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import build_pair, rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers


def check_grads(ours, theirs, x, rtol=1e-4, atol=1e-4, **call_kwargs):
    """Outputs, d(sum(y * g))/dx and d/dweights agree after copying Keras' weights into ours."""
    build_pair(ours, theirs, x, **call_kwargs)
    xf = fastnn.tensor(x, requires_grad=True)
    yf = ours(xf, **call_kwargs)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt, **call_kwargs)
    assert tuple(yf.shape) == tuple(yt.shape)
    assert_close(to_np(yf), yt.detach().numpy(), rtol=rtol, atol=atol, msg="output")
    g = np.random.default_rng(7).standard_normal(tuple(yt.shape)).astype(np.float32)
    (yf * fastnn.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    assert_close(np.asarray(xf.grad), xt.grad.numpy(), rtol=rtol, atol=atol, msg="input gradient")
    assert len(ours.weights) == len(theirs.weights)
    for w_ours, w_theirs in zip(ours.weights, theirs.weights):
        assert_close(np.asarray(w_ours.grad), w_theirs.value.grad.numpy(), rtol=rtol, atol=atol,
                     msg=f"gradient of {w_theirs.path}")
    return yf, yt


def check_config(ours, theirs):
    """Our config has Keras' keys and equal plain values; from_config rebuilds it."""
    a, b = ours.get_config(), theirs.get_config()
    assert set(a) == set(b), set(a) ^ set(b)
    for key, value in b.items():
        if key in ("dtype", "name") or isinstance(value, dict):
            continue
        assert a[key] == value, key
    clone = type(ours).from_config(a)
    assert clone.get_config() == {**a, "name": clone.name}


# ---- convolutions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    dict(filters=3, kernel_size=2),
    dict(filters=4, kernel_size=(3, 2, 2), padding="same", activation="relu"),
    dict(filters=4, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=(2, 3, 2), strides=(2, 1, 2)),
    dict(filters=4, kernel_size=2, dilation_rate=(2, 1, 2), padding="same", use_bias=False),
    dict(filters=4, kernel_size=2, groups=2, activation="tanh"),
])
def test_conv3d(kw):
    x = rand(2, 5, 6, 5, 4)
    check_grads(L.Conv3D(**kw), KL.Conv3D(**kw), x)


def test_conv3d_channels_first_config_and_alias():
    x = rand(2, 3, 4, 5, 4)
    kw = dict(filters=2, kernel_size=3, padding="same", data_format="channels_first")
    check_grads(L.Conv3D(**kw), KL.Conv3D(**kw), x)
    check_config(L.Convolution3D(**kw), KL.Convolution3D(**kw))
    assert L.Convolution3D is L.Conv3D


@pytest.mark.parametrize("kw", [
    dict(filters=3, kernel_size=3),
    dict(filters=3, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=4, strides=3, padding="same", activation="relu"),
    dict(filters=2, kernel_size=3, strides=2, output_padding=1),
    dict(filters=2, kernel_size=2, dilation_rate=2, use_bias=False),
    dict(filters=2, kernel_size=3, padding="same", data_format="channels_first"),
])
def test_conv1d_transpose(kw):
    check_grads(L.Conv1DTranspose(**kw), KL.Conv1DTranspose(**kw), rand(2, 6, 3))


@pytest.mark.parametrize("kw", [
    dict(filters=2, kernel_size=2),
    dict(filters=2, kernel_size=3, strides=2, padding="same"),
    dict(filters=3, kernel_size=(3, 2, 3), strides=(2, 1, 2), output_padding=(1, 0, 1)),
    dict(filters=2, kernel_size=2, dilation_rate=(1, 2, 1), padding="same", activation="sigmoid"),
    dict(filters=2, kernel_size=3, strides=2, padding="same", data_format="channels_first"),
])
def test_conv3d_transpose(kw):
    check_grads(L.Conv3DTranspose(**kw), KL.Conv3DTranspose(**kw), rand(2, 3, 3, 4, 3))


def test_conv_transpose_configs_and_errors():
    check_config(L.Conv1DTranspose(3, 2, strides=2, output_padding=1), KL.Conv1DTranspose(3, 2, strides=2,
                                                                                         output_padding=1))
    check_config(L.Conv3DTranspose(3, 2, padding="same"), KL.Conv3DTranspose(3, 2, padding="same"))
    assert L.Convolution1DTranspose is L.Conv1DTranspose and L.Convolution3DTranspose is L.Conv3DTranspose
    for cls in (L.Conv1DTranspose, KL.Conv1DTranspose):
        with pytest.raises(ValueError, match="output_padding"):
            cls(2, 3, strides=2, output_padding=2)
        with pytest.raises(ValueError, match="filters"):
            cls(0, 3)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3),
    dict(kernel_size=3, depth_multiplier=2, padding="same", activation="relu"),
    dict(kernel_size=2, strides=2, padding="same"),
    dict(kernel_size=3, dilation_rate=2, use_bias=False),
    dict(kernel_size=3, data_format="channels_first", depth_multiplier=3),
])
def test_depthwise_conv1d(kw):
    check_grads(L.DepthwiseConv1D(**kw), KL.DepthwiseConv1D(**kw), rand(2, 9, 4))


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2), depth_multiplier=2, padding="same", activation="tanh"),
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=2, strides=(2, 1), dilation_rate=1, depth_multiplier=2),
    dict(kernel_size=3, dilation_rate=(2, 1), padding="same", use_bias=False),
    dict(kernel_size=3, data_format="channels_first"),
])
def test_depthwise_conv2d(kw):
    check_grads(L.DepthwiseConv2D(**kw), KL.DepthwiseConv2D(**kw), rand(2, 7, 6, 3))


@pytest.mark.parametrize("kw", [
    dict(filters=4, kernel_size=3),
    dict(filters=3, kernel_size=3, depth_multiplier=2, padding="same", activation="relu"),
    dict(filters=2, kernel_size=2, strides=2, padding="same", use_bias=False),
    dict(filters=5, kernel_size=2, dilation_rate=2, data_format="channels_first"),
])
def test_separable_conv1d(kw):
    check_grads(L.SeparableConv1D(**kw), KL.SeparableConv1D(**kw), rand(2, 9, 4))


@pytest.mark.parametrize("kw", [
    dict(filters=4, kernel_size=3),
    dict(filters=3, kernel_size=(3, 2), depth_multiplier=2, padding="same", activation="relu"),
    dict(filters=2, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=2, dilation_rate=2, use_bias=False, data_format="channels_first"),
])
def test_separable_conv2d(kw):
    check_grads(L.SeparableConv2D(**kw), KL.SeparableConv2D(**kw), rand(2, 7, 6, 3))


def test_depthwise_separable_configs_and_errors():
    check_config(L.DepthwiseConv1D(3, depth_multiplier=2), KL.DepthwiseConv1D(3, depth_multiplier=2))
    check_config(L.DepthwiseConv2D((3, 2), padding="same"), KL.DepthwiseConv2D((3, 2), padding="same"))
    check_config(L.SeparableConv1D(4, 3, strides=2), KL.SeparableConv1D(4, 3, strides=2))
    check_config(L.SeparableConv2D(4, 3, depth_multiplier=3), KL.SeparableConv2D(4, 3, depth_multiplier=3))
    assert L.SeparableConvolution1D is L.SeparableConv1D and L.SeparableConvolution2D is L.SeparableConv2D
    for mod in (L, KL):
        with pytest.raises(ValueError, match="depth_multiplier"):
            mod.DepthwiseConv2D(3, depth_multiplier=0)
        with pytest.raises(ValueError, match="filters"):
            mod.SeparableConv2D(-1, 3)
        with pytest.raises(ValueError):
            mod.DepthwiseConv1D(3, padding="causal")
    layer = L.DepthwiseConv2D(3)
    with pytest.raises(ValueError, match="ndim=4"):
        layer(rand(2, 5, 3))


# ---- pooling ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=3, strides=2), dict(pool_size=3, padding="same"),
                                dict(pool_size=2, padding="same"), dict(pool_size=4, strides=3, padding="same"),
                                dict(pool_size=3, strides=1, data_format="channels_first")])
def test_pooling1d(cls, kw):
    check_grads(getattr(L, cls)(**kw), getattr(KL, cls)(**kw), rand(2, 9, 4))


@pytest.mark.parametrize("cls", ["MaxPooling3D", "AveragePooling3D"])
@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=(3, 2, 2), strides=(2, 1, 2)),
                                dict(pool_size=3, strides=2, padding="same"), dict(pool_size=2, padding="same"),
                                dict(pool_size=(3, 1, 3), strides=1, padding="same"),
                                dict(pool_size=2, strides=1, data_format="channels_first")])
def test_pooling3d(cls, kw):
    check_grads(getattr(L, cls)(**kw), getattr(KL, cls)(**kw), rand(2, 5, 6, 4, 3))


def test_pooling_defaults_configs_aliases():
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D
    assert L.MaxPool3D is L.MaxPooling3D and L.AvgPool3D is L.AveragePooling3D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D and L.GlobalMaxPool3D is L.GlobalMaxPooling3D
    check_config(L.MaxPooling1D(), KL.MaxPooling1D())
    check_config(L.MaxPooling3D(), KL.MaxPooling3D())
    check_config(L.AveragePooling1D(3, padding="same"), KL.AveragePooling1D(3, padding="same"))
    check_config(L.AveragePooling3D((2, 1, 2), strides=1), KL.AveragePooling3D((2, 1, 2), strides=1))
    check_config(L.GlobalMaxPooling3D(keepdims=True), KL.GlobalMaxPooling3D(keepdims=True))
    for mod in (L, KL):
        with pytest.raises(TypeError):
            mod.AveragePooling3D()  # no default pool_size in Keras 3
        with pytest.raises(ValueError, match="ndim=3"):
            mod.MaxPooling1D()(rand(2, 4, 4, 3))


@pytest.mark.parametrize("cls", ["GlobalAveragePooling3D", "GlobalMaxPooling3D"])
@pytest.mark.parametrize("kw", [dict(), dict(keepdims=True), dict(data_format="channels_first"),
                                dict(data_format="channels_first", keepdims=True)])
def test_global_pooling3d(cls, kw):
    check_grads(getattr(L, cls)(**kw), getattr(KL, cls)(**kw), rand(2, 3, 4, 5, 3))


@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank,shape,size", [
    (1, (2, 9, 3), 4), (1, (2, 8, 3), (8,)), (1, (2, 5, 3), 7),
    (2, (2, 7, 6, 3), 3), (2, (2, 7, 6, 3), (2, 4)), (2, (2, 5, 5, 2), (5, 1)),
    (3, (2, 5, 6, 4, 2), 2), (3, (2, 5, 6, 4, 2), (3, 4, 1)),
])
def test_adaptive_pooling(kind, rank, shape, size):
    name = f"Adaptive{kind}Pooling{rank}D"
    check_grads(getattr(L, name)(size), getattr(KL, name)(size), rand(*shape))
    cf_shape = (shape[0], shape[-1]) + shape[1:-1]
    check_grads(getattr(L, name)(size, data_format="channels_first"),
                getattr(KL, name)(size, data_format="channels_first"), rand(*cf_shape))


def test_adaptive_pooling_configs_and_errors():
    for name, size in (("AdaptiveAveragePooling1D", 3), ("AdaptiveMaxPooling2D", (2, 3)),
                       ("AdaptiveAveragePooling3D", 2), ("AdaptiveMaxPooling3D", [1, 2, 3])):
        check_config(getattr(L, name)(size), getattr(KL, name)(size))
    for mod in (L, KL):
        with pytest.raises(ValueError, match="length 1"):
            mod.AdaptiveMaxPooling1D((2, 3))
        with pytest.raises(TypeError, match="output_size"):
            mod.AdaptiveAveragePooling2D((2, 3, 4))
        with pytest.raises(TypeError, match="output_size"):
            mod.AdaptiveMaxPooling3D("2")
        with pytest.raises(ValueError, match="data_format"):
            mod.AdaptiveAveragePooling2D(2, data_format="nhwc")


def test_regularizers_and_constraints_reach_the_weights():
    x = rand(2, 6, 5, 3)
    for make in (lambda m: m.DepthwiseConv2D(3, depthwise_regularizer="l2", bias_regularizer="l1",
                                             activity_regularizer="l2", use_bias=True, bias_initializer="ones"),
                 lambda m: m.SeparableConv2D(4, 3, depthwise_regularizer="l1", pointwise_regularizer="l2",
                                             pointwise_constraint="non_neg"),
                 lambda m: m.Conv3D(2, 2, kernel_regularizer="l1", kernel_constraint="max_norm")):
        ours, theirs = make(L), make(KL)
        xi = rand(2, 4, 4, 3, 3) if isinstance(ours, L.Conv3D) else x
        build_pair(ours, theirs, xi)
        yt = theirs(xi)  # Keras' losses are those of its latest call
        del yt
        ours(xi)
        want = sum(float(to_np(v)) for v in theirs.losses)
        got = sum(float(to_np(v)) for v in ours.losses)
        assert len(ours.losses) == len(theirs.losses) and abs(got - want) <= 1e-4 * max(1.0, abs(want))
        a, b = ours.get_config(), theirs.get_config()
        for key in a:
            if key.endswith(("_regularizer", "_constraint")):
                assert (a[key] is None) == (b[key] is None), key
                if a[key] is not None:
                    assert a[key]["class_name"] == b[key]["class_name"], key
        type(ours).from_config(a)
    from fastnn.keras import constraints
    assert constraints.constraint_of(ours.kernel) is not None  # the Conv3D's max_norm, applied by optimizers


def test_functional_model_save_and_load(tmp_path):
    from fastnn import keras as fk
    inp = fk.Input((4, 6, 6, 2))
    y = L.Conv3D(3, 2, padding="same", activation="relu")(inp)
    y = L.MaxPooling3D(2)(y)
    y = L.Conv3DTranspose(2, 2, strides=2, kernel_regularizer="l2")(y)
    y = L.AdaptiveMaxPooling3D((1, 2, 2))(y)
    y = L.GlobalAveragePooling3D()(y)
    model = fk.Model(inp, y)
    x = rand(2, 4, 6, 6, 2)
    assert tuple(model(x).shape) == (2, 2)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = fk.models.load_model(path)
    assert_close(to_np(loaded(x)), to_np(model(x)), rtol=1e-6, atol=1e-6)
