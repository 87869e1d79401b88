"""fastnn.keras.losses against Keras 3.15 (torch backend): every public name, each Loss class's signature
and config, values for every reduction with and without sample weights, gradients w.r.t. y_pred (torch
autograd on the Keras side), the lowercase functions, serialize / deserialize / get, a custom Loss in
compile / fit, and fastnn.nn.functional.ctc_loss against torch."""
import inspect

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND=torch before keras is imported)
import numpy as np
import pytest

import fastnn
from fastnn import keras as fk

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "none", None, "mean_with_sample_weight"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _data(kind, seed=0):
    """(y_true, y_pred, sample_weight) for a kind of loss."""
    r = _rng(seed)
    n = 6
    sw = r.random(n).astype(np.float32) + 0.2
    f = np.float32
    if kind == "reg":
        return r.standard_normal((n, 4)).astype(f), r.standard_normal((n, 4)).astype(f), sw
    if kind == "pos":
        return (r.random((n, 4)) + 0.1).astype(f), (r.random((n, 4)) + 0.1).astype(f), sw
    if kind == "prob":  # probabilities against probabilities (KL)
        y, p = r.random((n, 4)) + 0.05, r.random((n, 4)) + 0.05
        return (y / y.sum(-1, keepdims=True)).astype(f), (p / p.sum(-1, keepdims=True)).astype(f), sw
    if kind == "bin":
        return r.integers(0, 2, (n, 4)).astype(f), r.uniform(0.02, 0.98, (n, 4)).astype(f), sw
    if kind == "bin_logits":
        return r.integers(0, 2, (n, 4)).astype(f), (2 * r.standard_normal((n, 4))).astype(f), sw
    if kind == "pm1":
        return (2 * r.integers(0, 2, (n, 4)) - 1).astype(f), r.standard_normal((n, 4)).astype(f), sw
    if kind == "cat":
        return np.eye(5, dtype=f)[r.integers(0, 5, n)], (r.random((n, 5)) + 0.05).astype(f), sw
    if kind == "cat_logits":
        return np.eye(5, dtype=f)[r.integers(0, 5, n)], (2 * r.standard_normal((n, 5))).astype(f), sw
    if kind == "sparse":
        return r.integers(0, 5, n), (r.random((n, 5)) + 0.05).astype(f), sw
    if kind == "sparse_logits":
        return r.integers(0, 5, n), (2 * r.standard_normal((n, 5))).astype(f), sw
    if kind == "softmax_sparse":
        p = r.random((n, 5)) + 0.05
        return r.integers(0, 5, n), (p / p.sum(-1, keepdims=True)).astype(f), sw
    if kind == "seg":
        return r.integers(0, 2, (n, 5, 5)).astype(f), r.random((n, 5, 5)).astype(f), sw
    if kind == "embed":
        e = r.standard_normal((8, 6))
        return np.array([0, 1, 2, 0, 1, 2, 0, 1]), (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(f), \
            r.random(8).astype(f) + 0.2
    if kind == "ctc":
        y = r.integers(1, 5, (4, 5))
        y[0, 3:] = 0
        y[1, 1:] = 0
        y[2, 2] = y[2, 1]  # a repeat needs a blank between
        y[2, 4:] = 0
        return y, (2 * r.standard_normal((4, 12, 5))).astype(f), r.random(4).astype(f) + 0.2
    raise AssertionError(kind)


def _keras_value_and_grad(loss, y, p, sw):
    pt = torch.tensor(p, requires_grad=True)
    v = loss(y, pt, sample_weight=sw)
    v.sum().backward()
    return v.detach().numpy(), pt.grad.numpy()


def _our_value_and_grad(loss, y, p, sw):
    pf = fastnn.tensor(p, requires_grad=True)
    v = loss(y, pf, sample_weight=sw)
    v.sum().backward()
    return v.detach().numpy(), pf.grad.numpy()


# class name, constructor kwargs, data kind
CASES = [
    ("MeanSquaredError", {}, "reg"),
    ("MeanAbsoluteError", {}, "reg"),
    ("MeanAbsolutePercentageError", {}, "reg"),
    ("MeanSquaredLogarithmicError", {}, "pos"),
    ("CosineSimilarity", {}, "reg"),
    ("CosineSimilarity", {"axis": 0}, "reg"),
    ("Huber", {}, "reg"),
    ("Huber", {"delta": 0.4}, "reg"),
    ("LogCosh", {}, "reg"),
    ("Hinge", {}, "bin"),
    ("Hinge", {}, "pm1"),
    ("SquaredHinge", {}, "bin"),
    ("SquaredHinge", {}, "pm1"),
    ("CategoricalHinge", {}, "cat_logits"),
    ("KLDivergence", {}, "prob"),
    ("Poisson", {}, "pos"),
    ("BinaryCrossentropy", {}, "bin"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "bin_logits"),
    ("BinaryCrossentropy", {"axis": 0}, "bin"),
    ("BinaryFocalCrossentropy", {}, "bin"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5, "from_logits": True,
                                 "label_smoothing": 0.1}, "bin_logits"),
    ("CategoricalCrossentropy", {}, "cat"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "cat_logits"),
    ("CategoricalCrossentropy", {"axis": 0}, "cat"),
    ("CategoricalFocalCrossentropy", {}, "cat"),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 3.0, "from_logits": True, "label_smoothing": 0.1},
     "cat_logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 2}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"),
    ("CategoricalGeneralizedCrossEntropy", {}, "softmax_sparse"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.8}, "softmax_sparse"),
    ("Dice", {}, "seg"),
    ("Dice", {"axis": (1, 2)}, "seg"),
    ("Tversky", {}, "seg"),
    ("Tversky", {"alpha": 0.7, "beta": 0.3, "axis": (1, 2)}, "seg"),
    ("Circle", {}, "embed"),
    ("Circle", {"gamma": 20.0, "margin": 0.25, "remove_diagonal": False}, "embed"),
    ("CTC", {}, "ctc"),
]


def _case_id(case):
    return case[0] + ("-" + "-".join(f"{k}={v}" for k, v in case[1].items()) if case[1] else "")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_loss_values_and_gradients_match_keras(case):
    cls, kwargs, kind = case
    y, p, sw = _data(kind)
    atol = 2e-4 if cls == "CTC" else 1e-5
    for reduction in REDUCTIONS:
        for weights in (None, sw):
            ours = getattr(fk.losses, cls)(reduction=reduction, **kwargs)
            theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
            where = f"{cls}{kwargs} reduction={reduction} weighted={weights is not None}"
            try:
                kv, kg = _keras_value_and_grad(theirs, y, p, weights)
            except (RuntimeError, ValueError):  # weights that do not fit the losses (axis=0): ours refuse too
                with pytest.raises((RuntimeError, ValueError)):
                    _our_value_and_grad(ours, y, p, weights)
                continue
            ov, og = _our_value_and_grad(ours, y, p, weights)
            assert ov.shape == kv.shape, where
            np.testing.assert_allclose(ov, kv, rtol=1e-4, atol=atol, err_msg=where)
            np.testing.assert_allclose(og, kg, rtol=1e-3, atol=atol, err_msg=where + " (gradient)")


FUNCTIONS = [
    ("mean_squared_error", {}, "reg"), ("mean_absolute_error", {}, "reg"),
    ("mean_absolute_percentage_error", {}, "reg"), ("mean_squared_logarithmic_error", {}, "pos"),
    ("cosine_similarity", {"axis": -1}, "reg"), ("huber", {"delta": 0.7}, "reg"), ("log_cosh", {}, "reg"),
    ("hinge", {}, "bin"), ("squared_hinge", {}, "pm1"), ("categorical_hinge", {}, "cat_logits"),
    ("kl_divergence", {}, "prob"), ("poisson", {}, "pos"),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.1}, "bin_logits"),
    ("binary_focal_crossentropy", {"apply_class_balancing": True}, "bin"),
    ("categorical_crossentropy", {"label_smoothing": 0.2}, "cat"),
    ("categorical_focal_crossentropy", {"from_logits": True}, "cat_logits"),
    ("sparse_categorical_crossentropy", {"from_logits": True, "ignore_class": 0}, "sparse_logits"),
    ("categorical_generalized_cross_entropy", {"q": 0.3}, "softmax_sparse"),
    ("dice", {"axis": (1, 2)}, "seg"), ("tversky", {"alpha": 0.2, "beta": 0.8}, "seg"),
    ("circle", {"gamma": 10, "margin": 0.3}, "embed"), ("ctc", {}, "ctc"),
]


@pytest.mark.parametrize("name,kwargs,kind", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_loss_functions_match_keras(name, kwargs, kind):
    y, p, _ = _data(kind, seed=1)
    pt = torch.tensor(p, requires_grad=True)
    kv = getattr(keras.losses, name)(torch.tensor(y), pt, **kwargs)
    kv.sum().backward()
    pf = fastnn.tensor(p, requires_grad=True)
    ov = getattr(fk.losses, name)(y, pf, **kwargs)
    ov.sum().backward()
    assert tuple(ov.shape) == tuple(kv.shape)
    atol = 2e-4 if name == "ctc" else 1e-5
    np.testing.assert_allclose(ov.detach().numpy(), kv.detach().numpy(), rtol=1e-4, atol=atol)
    np.testing.assert_allclose(pf.grad.numpy(), pt.grad.numpy(), rtol=1e-3, atol=atol)


def _public(module):
    return sorted(n for n in dir(module) if not n.startswith("_"))


def test_every_keras_loss_name_exists():
    missing = [n for n in _public(keras.losses) if not hasattr(fk.losses, n)]
    assert not missing, f"fastnn.keras.losses lacks {missing}"


def _loss_classes():
    return [n for n in _public(keras.losses) if inspect.isclass(getattr(keras.losses, n)) and n != "Loss"]


@pytest.mark.parametrize("name", _loss_classes())
def test_signature_config_and_round_trip_match_keras(name):
    ours, theirs = getattr(fk.losses, name), getattr(keras.losses, name)
    ps, ks = inspect.signature(ours.__init__).parameters, inspect.signature(theirs.__init__).parameters
    assert list(ps) == list(ks)
    assert {k: v.default for k, v in ps.items()} == {k: v.default for k, v in ks.items()}
    assert ours().get_config() == theirs().get_config()
    assert ours().name == theirs().name
    assert ours(reduction="sum", name="x").get_config() == theirs(reduction="sum", name="x").get_config()
    again = ours.from_config(ours(reduction=None).get_config())
    assert type(again) is ours and again.get_config() == theirs(reduction=None).get_config()
    assert ours().dtype == theirs().dtype == "float32"


def test_non_default_configs_match_keras():
    for cls, kwargs, _ in CASES:
        if kwargs:
            o, t = getattr(fk.losses, cls)(**kwargs).get_config(), getattr(keras.losses, cls)(**kwargs).get_config()
            assert o == t, cls


def test_bad_arguments_raise_as_keras():
    for mod in (fk.losses, keras.losses):
        with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
            mod.MeanSquaredError(reduction="avg")
        with pytest.raises(ValueError, match="q must be in the interval"):
            mod.CategoricalGeneralizedCrossEntropy(q=1.5)
        with pytest.raises(ValueError, match="must be of type `int`"):
            mod.categorical_crossentropy(np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32), axis=True)
        with pytest.raises(ValueError, match="Could not interpret loss identifier"):
            mod.get("nope")
        with pytest.raises(ValueError, match="same shape"):
            mod.binary_crossentropy(np.zeros((3, 2), np.float32), np.full((3, 3), 0.5, np.float32))
        with pytest.raises(ValueError, match="Targets `y_true` are expected"):
            mod.ctc(np.zeros((2, 3, 1)), np.zeros((2, 4, 3), np.float32))
        with pytest.raises(ValueError, match="Logits `y_pred` are expected"):
            mod.ctc(np.zeros((2, 3)), np.zeros((2, 4), np.float32))
        with pytest.raises(IndexError, match="Target 7 is out of bounds"):
            mod.SparseCategoricalCrossentropy(from_logits=True)(np.array([0, 7]), np.zeros((2, 4), np.float32))
        with pytest.raises(ValueError, match="same shape up until the last dimension"):
            mod.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.zeros((2, 4), np.float32))


def test_serialize_deserialize_get_follow_keras():
    for obj in (keras.losses.MeanSquaredError(), keras.losses.BinaryCrossentropy(from_logits=True),
                keras.losses.Tversky(alpha=0.1, beta=0.9), keras.losses.mean_squared_error, keras.losses.huber):
        theirs = keras.losses.serialize(obj)
        ours_obj = getattr(fk.losses, type(obj).__name__ if not inspect.isfunction(obj) else obj.__name__)
        ours_obj = ours_obj if inspect.isfunction(obj) else ours_obj(**{k: v for k, v in obj.get_config().items()})
        assert fk.losses.serialize(ours_obj) == theirs
        back = fk.losses.deserialize(theirs)
        if inspect.isfunction(obj):
            assert back is ours_obj
        else:
            assert type(back) is type(ours_obj) and back.get_config() == obj.get_config()
    assert fk.losses.get(None) is None
    assert fk.losses.get("mse") is fk.losses.mean_squared_error
    assert fk.losses.get("MSLE") is fk.losses.mean_squared_logarithmic_error
    assert fk.losses.get("bce") is fk.losses.binary_crossentropy
    assert isinstance(fk.losses.get("CategoricalCrossentropy"), fk.losses.CategoricalCrossentropy)
    assert isinstance(fk.losses.get(fk.losses.Huber), fk.losses.Huber)
    cfg = {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    assert fk.losses.get(cfg).get_config() == keras.losses.get(cfg).get_config()
    h = fk.losses.Huber(delta=3.0)
    assert fk.losses.get(h) is h
    assert isinstance(fk.losses.deserialize("MeanSquaredError"), fk.losses.MeanSquaredError)
    custom = fk.losses.deserialize("my_loss", custom_objects={"my_loss": fk.losses.poisson})
    assert custom is fk.losses.poisson
    with pytest.raises(ValueError):
        fk.losses.deserialize("no_such_loss")


def test_custom_loss_subclass_and_auto_names_follow_keras():
    class MyLoss(fk.losses.Loss):
        def call(self, y_true, y_pred):
            return fastnn.mean(fastnn.square(y_pred - y_true), dim=-1) * 2.0

    class KMyLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1) * 2.0

    y, p, sw = _data("reg")
    for reduction in REDUCTIONS:
        kv, kg = _keras_value_and_grad(KMyLoss(reduction=reduction), y, p, sw)
        ov, og = _our_value_and_grad(MyLoss(reduction=reduction), y, p, sw)
        np.testing.assert_allclose(ov, kv, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(og, kg, rtol=1e-5, atol=1e-6)
    first, second = MyLoss(), MyLoss()
    assert first.name.startswith("my_loss") and second.name == first.name + "_1" or \
        second.name.rsplit("_", 1)[0] == first.name.rsplit("_", 1)[0]
    assert MyLoss(name="m").get_config() == {"name": "m", "reduction": "sum_over_batch_size"}
    with pytest.raises(NotImplementedError):
        fk.losses.Loss()(y, fastnn.tensor(p))


def test_dtype_argument_casts_inputs_like_keras():
    y, p, _ = _data("reg")
    ours = fk.losses.MeanSquaredError(dtype="float64")
    theirs = keras.losses.MeanSquaredError(dtype="float64")
    assert ours.dtype == theirs.dtype == "float64"
    v = ours(y, fastnn.tensor(p))
    assert v.dtype == fastnn.float64
    np.testing.assert_allclose(v.numpy(), theirs(y, p).detach().numpy(), rtol=1e-6)
    assert fk.losses.MeanSquaredError()(y, fastnn.tensor(p.astype(np.float64))).dtype == fastnn.float32


def test_sample_weight_shapes_follow_keras():
    y, p, sw = _data("reg")
    for weights in (sw[:, None], 2.0):
        for reduction in ("none", "sum_over_batch_size"):
            ov = fk.losses.MeanSquaredError(reduction=reduction)(y, fastnn.tensor(p), sample_weight=weights)
            kv = keras.losses.MeanSquaredError(reduction=reduction)(y, p, sample_weight=weights)
            assert tuple(ov.shape) == tuple(kv.shape)
            np.testing.assert_allclose(ov.numpy(), kv.detach().numpy(), rtol=1e-5)
    # rank fix: (N,) targets against (N, 1) predictions, and a 1-D pair reduced to one value
    yn, pn = y[:, 0], p[:, :1]
    ov = fk.losses.MeanSquaredError(reduction="none")(yn, fastnn.tensor(pn))
    kv = keras.losses.MeanSquaredError(reduction="none")(yn, pn)
    assert tuple(ov.shape) == tuple(kv.shape) == (6,)
    np.testing.assert_allclose(ov.numpy(), kv.detach().numpy(), rtol=1e-5)
    assert fk.losses.mean_squared_error(y[:, 0], fastnn.tensor(p[:, 0])).shape == ()


def _twins(loss_ours, loss_theirs, out=3, act=None):
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(out, activation=act)])
    ours = fk.Sequential([fk.layers.Dense(out, activation=act, input_shape=(5,))])
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss_theirs)
    ours.compile(optimizer=fk.optimizers.SGD(0.1), loss=loss_ours)
    return ours, theirs


def test_custom_loss_subclass_and_new_losses_train_like_keras():
    class Scaled(fk.losses.Loss):
        def call(self, y_true, y_pred):
            return fk.ops.mean(fk.ops.abs(y_pred - y_true), axis=-1) * 3.0

    class KScaled(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.abs(y_pred - y_true), axis=-1) * 3.0

    r = _rng(3)
    x = r.standard_normal((16, 5)).astype(np.float32)
    y = r.standard_normal((16, 3)).astype(np.float32)
    yl = r.integers(0, 3, 16)
    pairs = [(Scaled(), KScaled(), y, None), (fk.losses.Huber(0.5), keras.losses.Huber(0.5), y, None),
             ("log_cosh", "log_cosh", y, None), ("categorical_hinge", "categorical_hinge", np.eye(3)[yl], None),
             (fk.losses.CategoricalFocalCrossentropy(from_logits=True),
              keras.losses.CategoricalFocalCrossentropy(from_logits=True), np.eye(3)[yl], None),
             ("poisson", "poisson", np.abs(y), "softplus")]
    for lo, lt, target, act in pairs:
        ours, theirs = _twins(lo, lt, act=act)
        for _ in range(3):
            a = ours.train_on_batch(x, target)
            b = float(np.ravel(theirs.train_on_batch(x, target))[0])
            assert a == pytest.approx(b, rel=1e-4), lo
        for wa, wb in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)
    ours, _ = _twins(Scaled(), KScaled())
    hist = ours.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert len(hist.history["loss"]) == 2


def test_compile_crossentropy_shorthand_picks_the_variant():
    r = _rng(4)
    x = r.standard_normal((8, 5)).astype(np.float32)
    for out, y in ((1, r.integers(0, 2, (8, 1)).astype(np.float32)), (3, r.integers(0, 3, 8)),
                   (3, np.eye(3, dtype=np.float32)[r.integers(0, 3, 8)])):
        act = "sigmoid" if out == 1 else "softmax"
        ours, theirs = _twins("crossentropy", "crossentropy", out=out, act=act)
        assert ours.train_on_batch(x, y) == pytest.approx(float(np.ravel(theirs.train_on_batch(x, y))[0]), rel=1e-4)


# ---- fastnn.nn.functional.ctc_loss / nn.CTCLoss against torch ----------------------------------------------
def _ctc_case(seed=0, dtype=np.float64):
    r = _rng(seed)
    steps, batch, classes = 10, 4, 5
    logits = r.standard_normal((steps, batch, classes)).astype(dtype)
    targets = r.integers(1, classes, (batch, 4))
    targets[0, 1] = targets[0, 0]  # a repeated label
    return logits, targets, np.array([10, 8, 6, 10]), np.array([4, 2, 0, 3])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("flat", [False, True])
def test_ctc_loss_matches_torch(reduction, flat):
    import torch.nn.functional as TF

    logits, targets, il, tl = _ctc_case()
    tg = np.concatenate([targets[i, :tl[i]] for i in range(len(tl))]) if flat else targets
    xt = torch.tensor(logits, requires_grad=True)
    lt = TF.ctc_loss(xt.log_softmax(2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction=reduction)
    lt.sum().backward()
    xf = fastnn.tensor(logits, requires_grad=True)
    lf = fastnn.nn.functional.ctc_loss(xf.log_softmax(2), fastnn.tensor(tg), fastnn.tensor(il), tl.tolist(),
                                       reduction=reduction)
    lf.sum().backward()
    np.testing.assert_allclose(lf.detach().numpy(), lt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_gradient_on_free_log_probs_is_torchs(reduction, flat, zero_infinity):
    # log_probs not from a log_softmax: torch returns exp(log_probs) - posterior, not the true gradient
    import torch.nn.functional as TF

    logits, targets, il, tl = _ctc_case(3)
    il = np.array([10, 8, 6, 2])  # the last sample cannot fit its 3 labels in 2 steps: an infinite loss
    tl = np.array([4, 2, 0, 3])  # without zero_infinity torch gives that sample NaN gradients, as fastnn does
    tg = np.concatenate([targets[i, :tl[i]] for i in range(len(tl))]) if flat else targets
    w = _rng(4).standard_normal(4) if reduction == "none" else None
    lt_in = torch.tensor(logits, requires_grad=True)
    lt = TF.ctc_loss(lt_in, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction=reduction,
                     zero_infinity=zero_infinity)
    (lt * torch.tensor(w) if w is not None else lt).sum().backward()
    lf_in = fastnn.tensor(logits, requires_grad=True)
    lf = fastnn.nn.functional.ctc_loss(lf_in, fastnn.tensor(tg), fastnn.tensor(il), tl.tolist(),
                                       reduction=reduction, zero_infinity=zero_infinity)
    (lf * fastnn.tensor(w) if w is not None else lf).sum().backward()
    np.testing.assert_allclose(lf.detach().numpy(), lt.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert np.nanmax(np.abs(lt_in.grad.numpy())) > 0.1
    np.testing.assert_allclose(lf_in.grad.numpy(), lt_in.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_ctc_loss_gradcheck_and_module():
    for ours, theirs in ((fastnn.nn.functional.ctc_loss, torch.nn.functional.ctc_loss),
                         (fastnn.nn.CTCLoss.__init__, torch.nn.CTCLoss.__init__),
                         (fastnn.nn.CTCLoss.forward, torch.nn.CTCLoss.forward)):
        assert [(p.name, p.default) for p in inspect.signature(ours).parameters.values()] == \
            [(p.name, p.default) for p in inspect.signature(theirs).parameters.values()]
    logits, targets, il, tl = _ctc_case(1)
    # end to end through a log_softmax, the gradient (torch's formula) is the true one w.r.t. the logits
    x = fastnn.tensor(logits[:, :3] * 0.5, requires_grad=True)
    tg, ilt, tlt = fastnn.tensor(targets[:3]), il[:3].tolist(), tl[:3].tolist()
    assert fastnn.autograd.gradcheck(
        lambda a: fastnn.nn.functional.ctc_loss(a.log_softmax(2), tg, ilt, tlt, reduction="none"), (x,))
    mod = fastnn.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=False)
    tmod = torch.nn.CTCLoss(blank=0, reduction="mean", zero_infinity=False)
    ref = tmod(torch.tensor(logits).log_softmax(2), torch.tensor(targets), torch.tensor(il), torch.tensor(tl))
    assert mod(fastnn.tensor(logits).log_softmax(2), fastnn.tensor(targets), fastnn.tensor(il),
               fastnn.tensor(tl)).item() == pytest.approx(ref.item(), rel=1e-10)


def test_ctc_loss_blank_unbatched_infinity_and_errors():
    import torch.nn.functional as TF

    logits, targets, il, tl = _ctc_case(2)
    lp = torch.tensor(logits).log_softmax(2)
    ours_lp = fastnn.tensor(logits).log_softmax(2)
    # another blank index
    tg = np.where(targets == 2, 0, targets)
    ref = TF.ctc_loss(lp, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), blank=2, reduction="none")
    got = fastnn.nn.functional.ctc_loss(ours_lp, fastnn.tensor(tg), fastnn.tensor(il), fastnn.tensor(tl), blank=2,
                                        reduction="none")
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-10)
    # unbatched
    ref = TF.ctc_loss(lp[:, 0], torch.tensor(targets[0]), torch.tensor(10), torch.tensor(4), reduction="none")
    got = fastnn.nn.functional.ctc_loss(ours_lp[:, 0], fastnn.tensor(targets[0]), fastnn.tensor(10),
                                        fastnn.tensor(4), reduction="none")
    assert got.shape == () and got.item() == pytest.approx(ref.item(), rel=1e-10)
    # an impossible alignment: inf, or 0 with a zero gradient under zero_infinity
    short = [2, 8, 6, 10]
    ref = TF.ctc_loss(lp, torch.tensor(targets), torch.tensor(short), torch.tensor(tl), reduction="none")
    got = fastnn.nn.functional.ctc_loss(ours_lp, fastnn.tensor(targets), short, tl.tolist(), reduction="none")
    assert np.isinf(ref[0].item()) and np.isinf(got[0].item())
    np.testing.assert_allclose(got.numpy()[1:], ref.numpy()[1:], rtol=1e-10)
    xt = torch.tensor(logits, requires_grad=True)
    TF.ctc_loss(xt.log_softmax(2), torch.tensor(targets), torch.tensor(short), torch.tensor(tl),
                reduction="sum", zero_infinity=True).backward()
    xf = fastnn.tensor(logits, requires_grad=True)
    out = fastnn.nn.functional.ctc_loss(xf.log_softmax(2), fastnn.tensor(targets), short, tl.tolist(),
                                        reduction="sum", zero_infinity=True)
    out.backward()
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    with pytest.raises(RuntimeError, match="at most 10"):
        fastnn.nn.functional.ctc_loss(ours_lp, fastnn.tensor(targets), [11, 8, 6, 10], tl.tolist())
    with pytest.raises(RuntimeError, match="size at least 5"):
        fastnn.nn.functional.ctc_loss(ours_lp, fastnn.tensor(targets), il.tolist(), [5, 1, 1, 1])
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        fastnn.nn.functional.ctc_loss(ours_lp, fastnn.tensor(targets), [10, 10], tl.tolist())
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        fastnn.nn.functional.ctc_loss(ours_lp, fastnn.tensor(targets), il.tolist(), tl.tolist(), reduction="avg")


def test_keras_ops_ctc_loss_matches_keras():
    r = _rng(5)
    logits = (2 * r.standard_normal((3, 9, 6))).astype(np.float32)
    target = r.integers(0, 5, (3, 4))  # mask_index 5 is the blank here
    tlen, olen = np.array([4, 2, 3]), np.array([9, 7, 8])
    pt = torch.tensor(logits, requires_grad=True)
    kv = keras.ops.ctc_loss(torch.tensor(target), pt, torch.tensor(tlen), torch.tensor(olen), mask_index=5)
    kv.sum().backward()
    pf = fastnn.tensor(logits, requires_grad=True)
    ov = fk.ops.ctc_loss(target, pf, tlen, olen, mask_index=5)
    ov.sum().backward()
    np.testing.assert_allclose(ov.detach().numpy(), kv.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pf.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert fk.ops.nn.ctc_loss is fk.ops.ctc_loss


def test_masks_on_predictions_and_losses_combine_as_keras():
    from keras.src import backend as kb

    from fastnn.keras.loss_base import set_loss_mask

    y, p, sw = _data("sparse_logits")
    mask = np.array([True, False, True, True, False, True])
    for reduction in REDUCTIONS:
        for weights in (None, sw):
            pt = torch.tensor(p, requires_grad=True)
            kb.set_keras_mask(pt, torch.tensor(mask))
            theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2,
                                                                reduction=reduction)
            kv = theirs(y, pt, sample_weight=weights)
            kv.sum().backward()
            pf = fastnn.tensor(p, requires_grad=True)
            set_loss_mask(pf, fastnn.tensor(mask))
            ours = fk.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2, reduction=reduction)
            ov = ours(y, pf, sample_weight=weights)
            ov.sum().backward()
            np.testing.assert_allclose(ov.detach().numpy(), kv.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pf.grad.numpy(), pt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["mse", "huber", "Huber", "dice"])
def test_saved_models_keep_their_loss(tmp_path, loss):
    # (Keras' Huber config leaves `delta` out, as CosineSimilarity's leaves `axis`: a default one round-trips)
    spec = {"mse": "mse", "huber": fk.losses.huber, "Huber": fk.losses.Huber(reduction="sum"),
            "dice": fk.losses.Dice(axis=(1,))}[loss]
    r = _rng(6)
    x, y = r.standard_normal((8, 3)).astype(np.float32), r.random((8, 2)).astype(np.float32)
    m = fk.Sequential([fk.layers.Dense(2, input_shape=(3,))])
    m.compile(optimizer="sgd", loss=spec)
    before = m.evaluate(x, y, verbose=0)
    m.save(tmp_path / "m.keras")
    back = fk.models.load_model(tmp_path / "m.keras")
    assert back.evaluate(x, y, verbose=0) == pytest.approx(before, rel=1e-6)
    if isinstance(spec, fk.losses.Loss):
        assert back.loss.get_config() == spec.get_config()
