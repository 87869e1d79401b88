"""fastnn.keras TimeDistributed / Wrapper, Dot (and ``dot``), Softmax / PReLU / ELU, GroupNormalization,
UnitNormalization, RMSNormalization and SpectralNormalization against Keras 3 (torch backend): outputs,
gradients w.r.t. inputs and weights, configs and errors; and AdditiveAttention, GroupQueryAttention."""
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


# ---- wrappers -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda m: m.Dense(3, activation="tanh"), (2, 4, 5)),
    (lambda m: m.Conv2D(2, 3, padding="same"), (2, 3, 5, 5, 2)),
    (lambda m: m.Flatten(), (2, 3, 2, 2)),
    (lambda m: m.EinsumDense("ab,bc->ac", 4, bias_axes="c"), (3, 1, 2)),
])
def test_time_distributed(make, shape):
    ours, theirs = L.TimeDistributed(make(L)), KL.TimeDistributed(make(KL))
    y = check(ours, theirs, rand(*shape), atol=1e-5, rtol=1e-4)
    assert y.shape[:2] == shape[:2]
    cfg = same_config(ours, theirs, skip=("layer",))
    assert cfg["layer"]["class_name"] == type(ours.layer).__name__
    back = L.TimeDistributed.from_config(cfg)
    assert type(back.layer) is type(ours.layer) and back.layer is not ours.layer


def test_time_distributed_training_mask_and_errors():
    x = rand(4, 3, 6)
    drop = L.TimeDistributed(L.Dropout(0.5))
    assert_close(to_np(drop(x)), x, atol=0, rtol=0)
    assert (to_np(drop(x, training=True)) == 0).mean() > 0.2  # training reaches the wrapped layer
    seen = {}

    class Probe(L.Layer):
        def call(self, inputs, mask=None):
            seen["mask"] = None if mask is None else tuple(mask.shape)
            return inputs

    mask = fastnn.tensor(np.ones((4, 3), bool))
    L.TimeDistributed(Probe())(fastnn.tensor(x), mask=mask)
    assert seen["mask"] == (12,)  # time folded into the batch, with the mask
    with pytest.raises(ValueError, match="incompatible"):
        L.TimeDistributed(Probe())(fastnn.tensor(x), mask=fastnn.tensor(np.ones((4, 2), bool)))
    for bad in ((lambda: KL.TimeDistributed(KL.Dense(2))(rand(3, 4))),
                (lambda: L.TimeDistributed(L.Dense(2))(rand(3, 4)))):
        with pytest.raises(ValueError, match="at least 3 dimensions"):
            bad()
    with pytest.raises(ValueError):
        L.TimeDistributed("dense")
    with pytest.raises(ValueError):
        L.Wrapper(3)
    # in a functional model, and its weights are the wrapped layer's
    inp = L.Input((3, 6))
    td = L.TimeDistributed(L.Dense(2))
    assert td(inp).shape == (None, 3, 2)
    assert [tuple(w.shape) for w in td.weights] == [(6, 2), (2,)]


# ---- Dot --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axes,normalize,s1,s2", [
    (1, False, (3, 4), (3, 4)), (-1, True, (3, 4), (3, 4)), (1, False, (3, 4), (3, 4, 5)),
    ((2, 1), False, (2, 3, 4), (2, 4, 5)), ((1, 1), True, (2, 3, 4), (2, 3, 5)), (2, False, (2, 3, 4), (2, 5, 4)),
    ((1, 2), False, (2, 4, 3), (2, 6, 4)), ((3, 1), True, (2, 2, 3, 4), (2, 4, 3, 2)),
    ((1, 1), False, (2, 3, 2), (2, 3)),
])
def test_dot(axes, normalize, s1, s2):
    x = [rand(*s1, seed=1), rand(*s2, seed=2)]
    ours, theirs = L.Dot(axes, normalize=normalize), KL.Dot(axes, normalize=normalize)
    y = check(ours, theirs, x, atol=1e-5, rtol=1e-4)
    assert tuple(ours.compute_output_shape([s1, s2])) == tuple(theirs.compute_output_shape([s1, s2])) == y.shape
    same_config(ours, theirs)
    assert_close(to_np(L.dot(x, axes=axes, normalize=normalize)), y, atol=1e-6, rtol=1e-6)


def test_dot_errors():
    for bad, exc in ((dict(axes="1"), TypeError), (dict(axes=(1, 2, 3)), ValueError),
                     (dict(axes=(1.0, 2)), ValueError)):
        with pytest.raises(exc):
            KL.Dot(**bad)
        with pytest.raises(exc):
            L.Dot(**bad)
    for cls in (KL.Dot, L.Dot):
        with pytest.raises(ValueError):
            cls(1)([rand(2, 3), rand(2, 4)])
        with pytest.raises(ValueError):
            cls(1)([rand(2, 3)])
    with pytest.raises(ValueError, match="axis 0"):
        L.Dot(0)([rand(2, 3), rand(2, 3)])
    inp1, inp2 = L.Input((3, 4)), L.Input((4, 5))
    assert L.Dot((2, 1))([inp1, inp2]).shape == (None, 3, 5)


# ---- activation layers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 1, [1, 2], (-1,)])
def test_softmax(axis):
    x = rand(2, 3, 4) * 3
    ours, theirs = L.Softmax(axis=axis), KL.Softmax(axis=axis)
    check(ours, theirs, x, atol=1e-6, rtol=1e-5)
    same_config(ours, theirs)


@pytest.mark.parametrize("mask_shape,as_float", [((2, 3, 4), False), ((2, 1, 4), False), ((4,), True),
                                                 ((2, 3, 4), True)])
def test_softmax_mask(mask_shape, as_float):
    x = rand(2, 3, 4) * 3
    m = np.random.default_rng(5).random(mask_shape) > 0.4
    if len(mask_shape) == 3:
        m[0, 0] = False  # a fully masked row: all zeros out
    mask = m.astype(np.float32) if as_float else m
    ours, theirs = L.Softmax(), KL.Softmax()
    yt = theirs(torch.tensor(x), mask=torch.tensor(mask))
    y = ours(fastnn.tensor(x), mask=fastnn.tensor(mask))
    assert_close(to_np(y), to_np(yt), atol=1e-6, rtol=1e-5)
    xf, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    r = rand(2, 3, 4, seed=3)
    (ours(xf, mask=fastnn.tensor(mask)) * fastnn.tensor(r)).sum().backward()
    (theirs(xt, mask=torch.tensor(mask)) * torch.tensor(r)).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="broadcastable"):
        ours(fastnn.tensor(x), mask=fastnn.tensor(np.ones((2, 3, 4, 1), bool)))
    with pytest.raises(ValueError, match="broadcastable"):
        ours(fastnn.tensor(x), mask=fastnn.tensor(np.ones((3,), bool)))


@pytest.mark.parametrize("kw,shape", [(dict(), (3, 5)), (dict(shared_axes=[1, 2]), (2, 3, 4, 5)),
                                      (dict(shared_axes=1), (2, 3, 4)), (dict(alpha_initializer="ones"), (2, 3, 4))])
def test_prelu(kw, shape):
    ours, theirs = L.PReLU(**kw), KL.PReLU(**kw)
    x = rand(*shape)
    theirs(x)
    theirs.set_weights([rand(*theirs.get_weights()[0].shape, seed=9)])  # a non-trivial slope
    check(ours, theirs, x, atol=1e-6, rtol=1e-5)
    same_config(ours, theirs, skip=("alpha_initializer",))


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5])
def test_elu(alpha):
    ours, theirs = L.ELU(alpha), KL.ELU(alpha)
    check(ours, theirs, rand(3, 4, 5) * 2, atol=1e-6, rtol=1e-5)
    assert L.ELU.from_config(ours.get_config()).alpha == alpha


# ---- normalization ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,shape", [
    (dict(groups=2), (3, 4)), (dict(groups=2), (2, 5, 6)), (dict(groups=3, axis=1), (2, 6, 5)),
    (dict(groups=-1), (2, 3, 3, 4)), (dict(groups=1, center=False), (2, 4, 3)),
    (dict(groups=2, scale=False, epsilon=0.1), (2, 3, 2, 4)), (dict(groups=4, axis=-1), (2, 3, 2, 2, 8)),
])
def test_group_normalization(kw, shape):
    ours, theirs = L.GroupNormalization(**kw), KL.GroupNormalization(**kw)
    x = rand(*shape) * 2 + 1
    theirs(x)
    theirs.set_weights([rand(*w.shape, seed=i + 4) for i, w in enumerate(theirs.get_weights())])
    check(ours, theirs, x, atol=1e-5, rtol=1e-4)
    same_config(ours, theirs, skip=("beta_initializer", "gamma_initializer"))


def test_group_normalization_errors():
    for kw, shape in ((dict(groups=0), None), (dict(groups=1.5), None), (dict(groups=5), (2, 4)),
                      (dict(groups=3), (2, 4))):
        for cls in (KL.GroupNormalization, L.GroupNormalization):
            with pytest.raises(ValueError):
                layer = cls(**kw)
                layer(rand(*shape))


@pytest.mark.parametrize("axis,shape", [(-1, (3, 5)), (1, (2, 3, 4)), ([1, 2], (2, 3, 4)), ((-2, -1), (2, 2, 3, 4))])
def test_unit_normalization(axis, shape):
    ours, theirs = L.UnitNormalization(axis), KL.UnitNormalization(axis)
    x = rand(*shape)
    check(ours, theirs, x, atol=1e-6, rtol=1e-5)
    same_config(ours, theirs)
    y = to_np(ours(x))
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    norms = np.sqrt((y * y).sum(axis=axes))
    assert_close(norms, np.ones_like(norms), atol=1e-5, rtol=1e-5)
    with pytest.raises(TypeError):
        L.UnitNormalization("a")
    with pytest.raises(ValueError):
        L.UnitNormalization(3)(rand(2, 3))


@pytest.mark.parametrize("kw,shape", [(dict(), (3, 5)), (dict(epsilon=0.5), (2, 3, 4)),
                                      (dict(axis=[-2, -1]), (2, 3, 4)), (dict(axis=1), (4, 6))])
def test_rms_normalization(kw, shape):
    ours, theirs = L.RMSNormalization(**kw), KL.RMSNormalization(**kw)
    x = rand(*shape)
    theirs(x)
    theirs.set_weights([rand(*theirs.get_weights()[0].shape, seed=3)])
    check(ours, theirs, x, atol=1e-5, rtol=1e-4)
    same_config(ours, theirs)


def test_rms_normalization_inner_axis():
    # a non-trailing axis: x * rsqrt(mean(x^2 over axis 1) + eps) * scale broadcast along axis 1
    layer = L.RMSNormalization(axis=1, epsilon=1e-3)
    x = rand(2, 3, 4)
    layer(x)
    scale = rand(3, seed=8)
    layer.set_weights([scale])
    want = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + 1e-3) * scale[None, :, None]
    assert_close(to_np(layer(x)), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make,shape", [(lambda m: m.Dense(4), (3, 5)),
                                        (lambda m: m.Conv2D(3, 2), (2, 4, 4, 2)),
                                        (lambda m: m.Embedding(6, 3), None)])
@pytest.mark.parametrize("iterations", [1, 3])
def test_spectral_normalization(make, shape, iterations):
    x = (np.array([[0, 3, 5], [1, 1, 2]]) if shape is None else rand(*shape))
    ours = L.SpectralNormalization(make(L), power_iterations=iterations)
    theirs = KL.SpectralNormalization(make(KL), power_iterations=iterations)
    if shape is None:  # Keras casts the output to the input's dtype: its wrapped Embedding gives int zeros
        theirs(x)
        ours(x)
        ours.set_weights(theirs.get_weights())
        assert_close(to_np(ours(x)), to_np(theirs.layer(x)), atol=0, rtol=0)
    else:
        check(ours, theirs, x, atol=1e-5, rtol=1e-4)  # inference: the layer as it is
    # Keras' order: kernel, vector_u, then the layer's others (the shapes tell them apart)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    for step in range(2):  # training: the kernel normalized by power iteration, u updated, then the layer
        if shape is None:
            theirs(x, training=True)
            yt = theirs.layer(x)
            y = ours(fastnn.tensor(x), training=True)
        else:
            xt = torch.tensor(x, requires_grad=True)
            xf = fastnn.tensor(x, requires_grad=True)
            yt, y = theirs(xt, training=True), ours(xf, training=True)
            r = rand(*yt.shape, seed=step)
            (yt * torch.tensor(r)).sum().backward()
            (y * fastnn.tensor(r)).sum().backward()
            assert_close(xf.grad, xt.grad.numpy(), atol=1e-5, rtol=1e-4, msg="input grad")
            assert_close(ours.kernel.grad, theirs.layer.kernel.value.grad.numpy(), atol=1e-5, rtol=1e-4)
            ours.kernel.grad = None
            theirs.layer.kernel.value.grad = None
        assert_close(to_np(y), to_np(yt), atol=1e-5, rtol=1e-4, msg=f"training step {step}")
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            assert_close(a, b, atol=1e-5, rtol=1e-4, msg="weights after the step")
    w = ours.get_weights()[0].reshape(-1, ours.get_weights()[0].shape[-1])
    # the estimate v W u^T never exceeds the largest singular value, so the normalized kernel's is >= 1
    assert 1 - 1e-4 <= np.linalg.svd(w, compute_uv=False)[0] < np.inf
    same_config(ours, theirs, skip=("layer",))


def test_spectral_normalization_errors_and_zero_kernel():
    with pytest.raises(ValueError, match="power_iterations"):
        L.SpectralNormalization(L.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="kernel"):
        L.SpectralNormalization(L.ReLU())(rand(2, 3))
    sn = L.SpectralNormalization(L.Dense(2, kernel_initializer="zeros"))
    sn(rand(2, 3))
    u = sn.get_weights()[1]
    sn(rand(2, 3), training=True)
    assert_close(sn.get_weights()[1], u, atol=0, rtol=0)
    assert not np.isnan(sn.get_weights()[0]).any() and (sn.get_weights()[0] == 0).all()


def test_new_layers_save_and_load(tmp_path):
    import fastnn.keras as fk

    x = rand(2, 6, 4)
    m = fk.Sequential([L.Input((6, 4)), L.ZeroPadding1D((1, 2)), L.Cropping1D((2, 0)), L.UpSampling1D(2),
                       L.TimeDistributed(L.Dense(3)), L.PReLU(shared_axes=[1]), L.GroupNormalization(3),
                       L.SpectralNormalization(L.Dense(5), power_iterations=2), L.RMSNormalization(),
                       L.Permute((2, 1)), L.UnitNormalization(axis=1), L.ELU(0.5), L.Softmax(axis=(1, 2)),
                       L.EinsumDense("abc,cd->abd", (5, 2), bias_axes="d"), L.GaussianNoise(0.1),
                       L.SpatialDropout1D(0.2), L.Masking(0.5), L.Identity()])
    m.save(tmp_path / "m.keras")
    loaded = fk.models.load_model(tmp_path / "m.keras")
    assert_close(loaded.predict(x, verbose=0), m.predict(x, verbose=0), atol=0, rtol=0)
    assert isinstance(loaded.layers[3].layer, L.Dense) and loaded.layers[6].power_iterations == 2


@pytest.mark.parametrize("cls,kw,shape", [
    ("EinsumDense", dict(equation="ab,bc->ac", output_shape=3, bias_axes="c", kernel_regularizer="l2",
                         bias_regularizer=keras.regularizers.L1(0.3)), (2, 4)),
    ("PReLU", dict(alpha_regularizer=keras.regularizers.L1L2(0.1, 0.2)), (2, 4)),
    ("GroupNormalization", dict(groups=2, gamma_regularizer="l1", beta_regularizer="l2"), (2, 4)),
])
def test_weight_regularizers_match_keras(cls, kw, shape):
    from fastnn.keras import regularizers

    ours_kw = {k: (regularizers.deserialize(keras.regularizers.serialize(v)) if hasattr(v, "get_config") else v)
               for k, v in kw.items()}
    ours, theirs = getattr(L, cls)(**ours_kw), getattr(KL, cls)(**kw)
    x = rand(*shape)
    theirs(x)
    theirs.set_weights([rand(*w.shape, seed=i) for i, w in enumerate(theirs.get_weights())])
    check(ours, theirs, x)
    lo, lt = ours.losses, theirs.losses
    assert len(lo) == len(lt) == (1 if cls == "PReLU" else 2)
    for a, b in zip(lo, lt):
        assert_close(to_np(a), to_np(b), atol=1e-6, rtol=1e-5)
    co = same_config(ours, theirs, skip=("kernel_initializer", "bias_initializer", "alpha_initializer",
                                         "beta_initializer", "gamma_initializer"))
    assert L.deserialize(L.serialize(ours)).get_config() == co


def test_weight_constraints():
    from fastnn.keras import constraints

    layer = L.EinsumDense("ab,bc->ac", 3, kernel_constraint=constraints.NonNeg())
    layer(rand(2, 4))
    assert layer.get_config()["kernel_constraint"]["class_name"] == "NonNeg"
    assert layer.get_config() == L.deserialize(L.serialize(layer)).get_config()


# ---- AdditiveAttention ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,n", [(dict(), 2), (dict(use_scale=False), 2), (dict(), 3)])
def test_additive_attention(kw, n):
    x = [rand(2, 3, 4, seed=1), rand(2, 5, 4, seed=2), rand(2, 5, 4, seed=3)][:n]
    ours, theirs = L.AdditiveAttention(**kw), KL.AdditiveAttention(**kw)
    check(ours, theirs, x, atol=1e-5, rtol=1e-4)
    same_config(ours, theirs, skip=("seed",))
    # masks, the causal mask and the returned scores
    qm, vm = np.array([[1, 1, 0], [1, 0, 1]], bool), np.array([[1, 1, 1, 0, 1], [0, 1, 1, 1, 1]], bool)
    kwargs = dict(return_attention_scores=True, use_causal_mask=True)
    yo, so = ours([fastnn.tensor(v) for v in x], mask=[fastnn.tensor(qm), fastnn.tensor(vm)], **kwargs)
    yt, st = theirs([torch.tensor(v) for v in x], mask=[torch.tensor(qm), torch.tensor(vm)], **kwargs)
    assert_close(to_np(yo), to_np(yt), atol=1e-5, rtol=1e-4)
    assert_close(to_np(so), to_np(st), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError):
        L.AdditiveAttention()(rand(2, 3, 4))


# ---- masks through the new layers -----------------------------------------------------------------------------
def test_masking_masks_flow_into_pooling_as_keras():
    x = rand(3, 5, 4)
    x[0, 3:] = 0.0
    x[2, 1] = 0.0
    x[1, 0] = 0.0

    def make(m):
        return [m.Masking(0.0), m.TimeDistributed(m.Dense(4)), m.GaussianNoise(0.1), m.UnitNormalization(),
                m.GlobalAveragePooling1D()]

    ours, theirs = make(L), make(KL)
    yt = xt = torch.tensor(x)
    yo = xo = fastnn.tensor(x)
    for a, b in zip(ours, theirs):
        yt, yo = b(yt), a(yo)
    for a, b in zip(ours, theirs):
        a.set_weights(b.get_weights())
    yt, yo = xt, xo
    for a, b in zip(ours, theirs):
        yt, yo = b(yt), a(yo)
    assert_close(to_np(yo), to_np(yt), atol=1e-5, rtol=1e-4)
    # the mask itself, as Keras computes it
    from fastnn.keras import masking

    m = ours[0](xo)
    assert_close(to_np(masking.get_mask(m)), to_np(theirs[0].compute_mask(x)), atol=0, rtol=0)
    assert_close(to_np(masking.get_mask(ours[1](m))), to_np(theirs[0].compute_mask(x)), atol=0, rtol=0)
    # a (batch, steps) mask does not broadcast against (batch, steps, features) logits: both refuse
    with pytest.raises(ValueError, match="broadcastable"):
        KL.Softmax()(theirs[0](xt))
    with pytest.raises(ValueError, match="broadcastable"):
        L.Softmax()(m)


# ---- GroupQueryAttention ----------------------------------------------------------------------------------------
def _gqa_pair(**kw):
    ours, theirs = L.GroupQueryAttention(**kw), KL.GroupQueryAttention(**kw)
    return ours, theirs


@pytest.mark.parametrize("kw,with_key", [(dict(head_dim=4, num_query_heads=4, num_key_value_heads=2), False),
                                         (dict(head_dim=3, num_query_heads=6, num_key_value_heads=3, use_gate=True,
                                               use_bias=False), True),
                                         (dict(head_dim=2, num_query_heads=2, num_key_value_heads=1,
                                               sliding_window=2), False)])
@pytest.mark.parametrize("causal", [False, True])
def test_group_query_attention(kw, with_key, causal):
    q, v, k = rand(2, 4, 5, seed=1), rand(2, 4, 5, seed=2), rand(2, 4, 5, seed=3)
    ours, theirs = _gqa_pair(**kw)
    args = (q, v, k) if with_key else (q, v)
    theirs(*args)
    ours(*args)
    theirs.set_weights([rand(*w.shape, seed=i) for i, w in enumerate(theirs.get_weights())])
    ours.set_weights(theirs.get_weights())
    qm = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    vm = np.array([[1, 0, 1, 1], [1, 1, 1, 1]], bool)
    xt = [torch.tensor(a, requires_grad=True) for a in args]
    xf = [fastnn.tensor(a, requires_grad=True) for a in args]
    yt, st = theirs(*xt, query_mask=torch.tensor(qm), value_mask=torch.tensor(vm), use_causal_mask=causal,
                    return_attention_scores=True)
    yo, so = ours(*xf, query_mask=fastnn.tensor(qm), value_mask=fastnn.tensor(vm), use_causal_mask=causal,
                  return_attention_scores=True)
    assert_close(to_np(yo), to_np(yt), atol=1e-5, rtol=1e-4)
    assert_close(to_np(so), to_np(st), atol=1e-5, rtol=1e-4)
    r = rand(*yt.shape, seed=5)
    (yt * torch.tensor(r)).sum().backward()
    (yo * fastnn.tensor(r)).sum().backward()
    for a, b in zip(xf, xt):
        assert_close(a.grad, b.grad.numpy(), atol=1e-5, rtol=1e-4)
    for wo, wt in zip(ours.weights, theirs.weights):
        assert_close(wo.grad, wt.value.grad.numpy(), atol=1e-5, rtol=1e-4, msg=wt.path)
    # no masks, no scores (Keras' fused dot_product_attention path): the same numbers
    assert_close(to_np(ours(*args, use_causal_mask=causal)), to_np(theirs(*args, use_causal_mask=causal)),
                 atol=1e-5, rtol=1e-4)
    same_config(ours, theirs, skip=("kernel_initializer", "bias_initializer"))


def test_group_query_attention_functional_errors_and_dropout():
    with pytest.raises(ValueError, match="divisible"):
        L.GroupQueryAttention(2, 3, 2)
    with pytest.raises(ValueError, match="sliding_window"):
        L.GroupQueryAttention(2, 2, 1, sliding_window=0)
    q_in, v_in = L.Input((3, 5)), L.Input((4, 5))
    layer = L.GroupQueryAttention(2, 4, 2)
    out = layer(q_in, v_in)
    assert out.shape == (None, 3, 5)
    import fastnn.keras as fk

    model = fk.Model([q_in, v_in], out)
    q, v = rand(2, 3, 5), rand(2, 4, 5)
    assert_close(model.predict([q, v], verbose=0), to_np(layer(q, v)), atol=1e-6, rtol=1e-6)
    drop = L.GroupQueryAttention(2, 2, 1, dropout=0.5, seed=1)
    _, scores = drop(q, v, return_attention_scores=True, training=True)
    assert_close(to_np(scores).sum(-1), np.ones((2, 2, 3)), atol=1e-5, rtol=1e-5)  # scores before dropout
    y1, y2 = to_np(drop(q, v, training=True)), to_np(drop(q, v, training=True))
    assert not np.allclose(y1, y2) and np.allclose(to_np(drop(q, v)), to_np(drop(q, v)))


def test_group_query_attention_regularizers_as_keras():
    q, v = rand(2, 3, 5, seed=1), rand(2, 4, 5, seed=2)
    kw = dict(activity_regularizer="l2", kernel_regularizer="l1")
    ours, theirs = L.GroupQueryAttention(2, 4, 2, **kw), KL.GroupQueryAttention(2, 4, 2, **kw)
    theirs(q, v)
    ours(q, v)
    ours.set_weights(theirs.get_weights())
    theirs(q, v)
    ours(q, v)
    # the output's and each projection's activity penalty, and each kernel's weight penalty
    lo, lt = sorted(float(to_np(x)) for x in ours.losses), sorted(float(to_np(x)) for x in theirs.losses)
    assert len(lo) == len(lt) == 9
    assert_close(np.array(lo), np.array(lt), atol=1e-6, rtol=1e-5)
