"""fastnn.keras Attention and MultiHeadAttention against Keras 3 (torch backend)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import check_layer, rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers


@pytest.mark.parametrize("kw", [dict(), dict(use_scale=True), dict(score_mode="concat"),
                                dict(score_mode="concat", use_scale=True)])
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_matches_keras(kw, with_key):
    q, v, k = rand(2, 4, 6), rand(2, 5, 6, seed=1), rand(2, 5, 6, seed=2)
    inputs = [q, v, k] if with_key else [q, v]
    ours, theirs = L.Attention(**kw), KL.Attention(**kw)
    theirs(inputs)
    if theirs.weights:
        theirs.set_weights([np.float32(0.7)] * len(theirs.weights))
    check_layer(ours, theirs, inputs)
    check_layer(ours, theirs, inputs, return_attention_scores=True)
    check_layer(ours, theirs, inputs, use_causal_mask=True)


def test_attention_masks_and_self_attention():
    q, v = rand(2, 4, 3), rand(2, 5, 3, seed=1)
    q_mask = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)
    v_mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    check_layer(L.Attention(), KL.Attention(), [q, v], mask=[q_mask, v_mask])
    check_layer(L.Attention(), KL.Attention(), [q, v], mask=[None, v_mask], return_attention_scores=True)
    # one tensor: the sequence attends to itself (Keras needs [x, x] for the same thing)
    x = rand(2, 6, 4, seed=3)
    assert_close(to_np(L.Attention()(x)), to_np(KL.Attention()([x, x])), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="length 2 or 3"):
        L.Attention()([x])


def test_attention_gradient_with_scale():
    q, v = rand(2, 4, 3), rand(2, 5, 3, seed=1)
    ours, theirs = L.Attention(use_scale=True), KL.Attention(use_scale=True)
    theirs([q, v])
    theirs.set_weights([np.float32(0.6)])
    ours([q, v])
    ours.set_weights(theirs.get_weights())
    qt, vt = torch.tensor(q, requires_grad=True), torch.tensor(v, requires_grad=True)
    (theirs([qt, vt]) ** 2).sum().backward()
    qf, vf = fastnn.tensor(q, requires_grad=True), fastnn.tensor(v, requires_grad=True)
    (ours([qf, vf]) ** 2).sum().backward()
    assert_close(qf.grad, qt.grad.numpy(), atol=1e-5, rtol=1e-4)
    assert_close(vf.grad, vt.grad.numpy(), atol=1e-5, rtol=1e-4)
    assert_close(ours.scale.grad, theirs.scale.value.grad.numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kw", [dict(num_heads=2, key_dim=3), dict(num_heads=3, key_dim=2, value_dim=4),
                                dict(num_heads=2, key_dim=4, output_shape=5, use_bias=False)])
def test_multi_head_attention_matches_keras(kw):
    q, v, k = rand(2, 4, 6), rand(2, 5, 7, seed=1), rand(2, 5, 8, seed=2)
    ours, theirs = L.MultiHeadAttention(**kw), KL.MultiHeadAttention(**kw)
    out = theirs(q, v, k)
    ours(q, v, k)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    theirs.set_weights([rand(*w.shape, seed=i) * 0.5 for i, w in enumerate(theirs.get_weights())])
    ours.set_weights(theirs.get_weights())
    assert_close(to_np(ours(q, v, k)), to_np(theirs(q, v, k)), atol=1e-5, rtol=1e-5)
    assert tuple(ours(q, v, k).shape) == tuple(out.shape)
    a, b = ours(q, v, k, return_attention_scores=True), theirs(q, v, k, return_attention_scores=True)
    for u, w in zip(a, b):
        assert_close(to_np(u), to_np(w), atol=1e-5, rtol=1e-5)
    mask = np.random.default_rng(0).random((2, 4, 5)) > 0.3
    mask[:, :, 0] = True
    assert_close(to_np(ours(q, v, k, attention_mask=mask)), to_np(theirs(q, v, k, attention_mask=mask)),
                 atol=1e-5, rtol=1e-5)


def test_multi_head_self_attention_causal_and_gradients():
    x = rand(2, 5, 8)
    ours, theirs = L.MultiHeadAttention(2, 4), KL.MultiHeadAttention(2, 4)
    theirs(x, x)
    theirs.set_weights([rand(*w.shape, seed=i) * 0.5 for i, w in enumerate(theirs.get_weights())])
    ours(x, x)
    ours.set_weights(theirs.get_weights())
    assert_close(to_np(ours(x, x, use_causal_mask=True)), to_np(theirs(x, x, use_causal_mask=True)),
                 atol=1e-5, rtol=1e-5)
    xt = torch.tensor(x, requires_grad=True)
    (theirs(xt, xt) ** 2).sum().backward()
    xf = fastnn.tensor(x, requires_grad=True)
    (ours(xf, xf) ** 2).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-4, rtol=1e-4)
    for wo, wt in zip(ours.weights, theirs.weights):
        assert_close(wo.grad, wt.value.grad.numpy(), atol=1e-4, rtol=1e-4, msg=wt.path)


def test_multi_head_attention_functional():
    from fastnn.keras import Input, Model

    q_in, v_in = Input((4, 6)), Input((5, 7))
    out = L.MultiHeadAttention(2, 3, name="mha")(q_in, v_in)
    model = Model([q_in, v_in], L.Dense(2)(out))
    assert model.get_layer("mha").output_shape == (None, 4, 6)
    q, v = rand(3, 4, 6), rand(3, 5, 7, seed=1)
    assert tuple(model.predict([q, v], verbose=0).shape) == (3, 4, 2)
