"""keras.initializers and keras.random against Keras 3 (torch backend): signatures, configs and
serialization; exact values for the deterministic initializers (Constant, Identity, STFT, Orthogonal's
orthogonality); distribution statistics with Keras' fan rules for the random ones; seeds."""
from __future__ import annotations

import inspect
import math

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND=torch before keras is imported)
import numpy as np
import pytest

import fastnn
import fastnn.keras as fk

keras = pytest.importorskip("keras")

INIT_CLASSES = ["Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity", "LecunNormal",
                "LecunUniform", "Ones", "Zeros", "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal",
                "VarianceScaling", "STFT"]
ALIASES = {"IdentityInitializer": "Identity", "OrthogonalInitializer": "Orthogonal", "STFTInitializer": "STFT",
           "constant": "Constant", "glorot_normal": "GlorotNormal", "glorot_uniform": "GlorotUniform",
           "he_normal": "HeNormal", "he_uniform": "HeUniform", "identity": "Identity", "lecun_normal": "LecunNormal",
           "lecun_uniform": "LecunUniform", "ones": "Ones", "zeros": "Zeros", "orthogonal": "Orthogonal",
           "random_normal": "RandomNormal", "random_uniform": "RandomUniform", "truncated_normal": "TruncatedNormal",
           "variance_scaling": "VarianceScaling", "stft": "STFT"}


def np_of(t):
    if isinstance(t, fastnn.Tensor):
        return np.asarray(t.detach())
    return keras.ops.convert_to_numpy(t)


@pytest.mark.parametrize("name", INIT_CLASSES)
def test_initializer_signature_and_config_match_keras(name):
    ours_cls, theirs_cls = getattr(fk.initializers, name), getattr(keras.initializers, name)
    assert issubclass(ours_cls, fk.initializers.Initializer)
    ours_sig = inspect.signature(ours_cls.__init__).parameters
    theirs_sig = inspect.signature(theirs_cls.__init__).parameters
    assert {k: p.default for k, p in ours_sig.items()} == {k: p.default for k, p in theirs_sig.items()}
    kwargs = {"seed": 3} if "seed" in theirs_sig else {}
    ours, theirs = ours_cls(**kwargs), theirs_cls(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert fk.initializers.serialize(ours) == keras.initializers.serialize(theirs)
    again = fk.initializers.deserialize(fk.initializers.serialize(ours))
    assert type(again) is ours_cls and again.get_config() == ours.get_config()
    assert ours.clone().get_config() == ours.get_config()


def test_aliases_are_the_classes():
    for mod_name in ("initializers", "random"):
        theirs = {n for n in dir(getattr(keras, mod_name)) if not n.startswith("_")}
        assert theirs <= set(dir(getattr(fk, mod_name))), sorted(theirs - set(dir(getattr(fk, mod_name))))
    for alias, name in ALIASES.items():
        assert getattr(fk.initializers, alias) is getattr(fk.initializers, name), alias
        assert getattr(keras.initializers, alias) is getattr(keras.initializers, name), alias


def test_get_and_deserialize():
    gi = fk.initializers.get
    assert isinstance(gi("glorot_uniform"), fk.initializers.GlorotUniform)
    for name in ("normal", "uniform", "one", "zero", "IdentityInitializer", "HeNormal", "he_normal"):
        assert type(gi(name)).__name__ == type(keras.initializers.get(name)).__name__
    assert gi(None) is None
    assert isinstance(gi(fk.initializers.Ones), fk.initializers.Ones)  # a class is instantiated
    assert isinstance(gi({"class_name": "RandomNormal", "config": {"stddev": 2.0}}), fk.initializers.RandomNormal)

    def fn(shape, dtype=None):
        return fastnn.ones(*shape)

    assert gi(fn) is fn
    with pytest.raises(ValueError):
        gi("no_such_initializer")
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np_of(gi(arr)((2, 3))), arr)
    with pytest.raises(ValueError, match="Expected `shape`"):
        gi(arr)((3, 2))


def test_constant_ones_zeros_identity_exact():
    for ours, theirs, shape in [(fk.initializers.Constant(2.5), keras.initializers.Constant(2.5), (2, 3)),
                                (fk.initializers.Ones(), keras.initializers.Ones(), (4,)),
                                (fk.initializers.Zeros(), keras.initializers.Zeros(), (2, 2, 2)),
                                (fk.initializers.Identity(gain=3.0), keras.initializers.Identity(gain=3.0), (3, 5))]:
        a, b = ours(shape), theirs(shape)
        assert str(a.dtype) == "fastnn.float32"
        np.testing.assert_array_equal(np_of(a), np_of(b))
    np.testing.assert_array_equal(np_of(fk.initializers.Constant([1.0, 2.0, 3.0])((2, 3))),
                                  np_of(keras.initializers.Constant([1.0, 2.0, 3.0])((2, 3))))
    assert str(fk.initializers.Zeros()((2,), dtype="int32").dtype) == "fastnn.int32"
    assert str(fk.initializers.Ones()((2,), dtype="float64").dtype) == "fastnn.float64"
    for mod in (fk, keras):
        with pytest.raises(ValueError, match="2D"):
            mod.initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("kwargs", [dict(), dict(side="imag"), dict(window="hamming", scaling="spectrum"),
                                    dict(window=None, scaling=None), dict(periodic=True)])
def test_stft_matches_keras(kwargs):
    shape = (16, 1, 9)
    a = fk.initializers.STFT(**kwargs)(shape)
    b = keras.initializers.STFT(**kwargs)(shape)
    np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-5, atol=1e-6)
    window = np.linspace(0.1, 1.0, 16).astype(np.float32)
    a = fk.initializers.STFT(window=window)(shape)
    b = keras.initializers.STFT(window=window)(shape)
    np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-5, atol=1e-6)
    for mod in (fk, keras):
        with pytest.raises(ValueError):
            mod.initializers.STFT(side="both")
        with pytest.raises(ValueError):
            mod.initializers.STFT(scaling="bogus")


@pytest.mark.parametrize("shape", [(40, 40), (30, 60), (60, 20), (3, 3, 4, 8)])
def test_orthogonal_is_orthogonal(shape):
    gain = 1.5
    q = np_of(fk.initializers.Orthogonal(gain=gain, seed=1)(shape)).astype(np.float64)
    flat = q.reshape(-1, shape[-1])
    small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(small, gain ** 2 * np.eye(small.shape[0]), atol=1e-4)
    np.testing.assert_array_equal(np_of(fk.initializers.Orthogonal(seed=4)(shape)),
                                  np_of(fk.initializers.Orthogonal(seed=4)(shape)))
    for mod in (fk, keras):
        with pytest.raises(ValueError, match="two-dimensional"):
            mod.initializers.Orthogonal()((5,))


def _expected(kind, shape):
    """(distribution, std or limit) by Keras' fan rules."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in = shape[-2] * receptive if len(shape) > 1 else shape[0]
    fan_out = shape[-1] * receptive if len(shape) > 1 else shape[0]
    scale, mode, dist = {"GlorotUniform": (1.0, "avg", "u"), "GlorotNormal": (1.0, "avg", "n"),
                         "HeUniform": (2.0, "in", "u"), "HeNormal": (2.0, "in", "n"),
                         "LecunUniform": (1.0, "in", "u"), "LecunNormal": (1.0, "in", "n")}[kind]
    n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[mode]
    if dist == "u":
        return "u", math.sqrt(3 * scale / n)
    return "n", math.sqrt(scale / n)


@pytest.mark.parametrize("kind", ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                                  "LecunNormal"])
@pytest.mark.parametrize("shape", [(200, 300), (5, 5, 32, 64), (3, 40, 50)])
def test_variance_scaling_statistics(kind, shape):
    ours = np_of(getattr(fk.initializers, kind)(seed=7)(shape)).astype(np.float64)
    theirs = np_of(getattr(keras.initializers, kind)(seed=7)(shape)).astype(np.float64)
    dist, value = _expected(kind, shape)
    assert ours.shape == shape
    if dist == "u":
        assert np.abs(ours).max() <= value and np.abs(ours).max() > 0.99 * value
        std = value / math.sqrt(3)
    else:
        std = value  # the truncated draw is rescaled to keep this std
        assert np.abs(ours).max() <= 2 * value / 0.87962566103423978 + 1e-6
    assert abs(ours.mean()) < 0.1 * std
    assert ours.std() == pytest.approx(std, rel=0.03)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.04)


def test_variance_scaling_modes_axes_and_errors():
    shape = (100, 400)
    for mode, n in (("fan_in", 100), ("fan_out", 400), ("fan_avg", 250)):
        v = np_of(fk.initializers.VarianceScaling(2.0, mode, "untruncated_normal", seed=1)(shape))
        assert v.std() == pytest.approx(math.sqrt(2.0 / n), rel=0.03)
    v = np_of(fk.initializers.VarianceScaling(1.0, "fan_in", "uniform", seed=1, input_axes=[1],
                                              output_axes=[0])(shape))
    assert np.abs(v).max() <= math.sqrt(3.0 / 400)
    assert fk.initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    for mod in (fk, keras):
        with pytest.raises(ValueError, match="scale"):
            mod.initializers.VarianceScaling(scale=0.0)
        with pytest.raises(ValueError, match="mode"):
            mod.initializers.VarianceScaling(mode="fan")
        with pytest.raises(ValueError, match="distribution"):
            mod.initializers.VarianceScaling(distribution="cauchy")
        with pytest.raises(ValueError, match="seed"):
            mod.initializers.RandomNormal(seed="x")


def test_random_initializer_statistics_and_seeds():
    shape = (300, 200)
    n = np_of(fk.initializers.RandomNormal(mean=1.0, stddev=0.5, seed=2)(shape))
    assert n.mean() == pytest.approx(1.0, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.02)
    u = np_of(fk.initializers.RandomUniform(-2.0, 3.0, seed=2)(shape))
    assert u.min() >= -2.0 and u.max() < 3.0 and u.mean() == pytest.approx(0.5, abs=0.03)
    t = np_of(fk.initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=2)(shape))
    assert t.min() >= 0.3 - 1e-6 and t.max() <= 0.7 + 1e-6
    assert t.std() == pytest.approx(0.1 * 0.8796, rel=0.03)
    # an int seed (or None) gives the same values on every call; a SeedGenerator new ones
    init = fk.initializers.GlorotUniform(seed=5)
    np.testing.assert_array_equal(np_of(init((4, 4))), np_of(init((4, 4))))
    unseeded = fk.initializers.HeNormal()
    np.testing.assert_array_equal(np_of(unseeded((4, 4))), np_of(unseeded((4, 4))))
    gen = fk.initializers.RandomNormal(seed=fk.random.SeedGenerator(1))
    assert not np.array_equal(np_of(gen((4, 4))), np_of(gen((4, 4))))
    conf = gen.get_config()
    assert conf["seed"]["class_name"] == "SeedGenerator"
    assert isinstance(fk.initializers.RandomNormal.from_config(conf).seed, fk.random.SeedGenerator)
    fastnn.manual_seed(11)
    a = np_of(fk.initializers.GlorotUniform()((3, 3)))
    fastnn.manual_seed(11)
    b = np_of(fk.initializers.GlorotUniform()((3, 3)))
    np.testing.assert_array_equal(a, b)  # unseeded initializers follow fastnn's global seed


def test_layers_take_initializer_objects_functions_and_arrays():
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3)
    d = fk.layers.Dense(3, kernel_initializer=kernel, bias_initializer=fk.initializers.Constant(0.5))
    d(fastnn.ones(1, 4))
    np.testing.assert_array_equal(d.get_weights()[0], kernel)
    np.testing.assert_array_equal(d.get_weights()[1], 0.5)

    def my_init(shape, dtype=None):
        return fastnn.full(tuple(shape), 7.0)

    d2 = fk.layers.Dense(2, kernel_initializer=my_init, bias_initializer="ones")
    d2(fastnn.ones(1, 3))
    np.testing.assert_array_equal(d2.get_weights()[0], 7.0)
    np.testing.assert_array_equal(d2.get_weights()[1], 1.0)
    d3 = fk.layers.Dense(2, kernel_initializer=fk.initializers.Orthogonal(seed=0))
    d3(fastnn.ones(1, 2))
    w = d3.get_weights()[0]
    np.testing.assert_allclose(w.T @ w, np.eye(2), atol=1e-5)


# ---- keras.random --------------------------------------------------------------------------------------------
RANDOM_FUNCS = ["normal", "categorical", "uniform", "randint", "truncated_normal", "dropout", "shuffle", "gamma",
                "binomial", "beta"]


@pytest.mark.parametrize("name", RANDOM_FUNCS + ["SeedGenerator"])
def test_random_signatures_match_keras(name):
    ours, theirs = getattr(fk.random, name), getattr(keras.random, name)
    if name == "SeedGenerator":
        ours, theirs = ours.__init__, theirs.__init__
    assert {k: p.default for k, p in inspect.signature(ours).parameters.items()} == \
        {k: p.default for k, p in inspect.signature(theirs).parameters.items()}


def _draws(seed):
    r = fk.random
    logits = fastnn.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, -1.0]])
    return [r.normal((3, 4), seed=seed), r.uniform((5,), seed=seed), r.randint((6,), 0, 9, seed=seed),
            r.truncated_normal((4,), seed=seed), r.dropout(fastnn.ones(8), 0.5, seed=seed),
            r.shuffle(fastnn.arange(10), seed=seed), r.categorical(logits, 5, seed=seed),
            r.gamma((4,), 2.0, seed=seed), r.binomial((4,), 10, 0.3, seed=seed), r.beta((4,), 2.0, 3.0, seed=seed)]


def test_random_shapes_dtypes_and_seeds():
    a, b = _draws(42), _draws(42)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np_of(x), np_of(y))  # an int seed: the same values every call
    import torch

    logits = torch.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, -1.0]])
    kr = keras.random
    theirs = [kr.normal((3, 4), seed=1), kr.uniform((5,), seed=1), kr.randint((6,), 0, 9, seed=1),
              kr.truncated_normal((4,), seed=1), kr.dropout(torch.ones(8), 0.5, seed=1),
              kr.shuffle(torch.arange(10), seed=1), kr.categorical(logits, 5, seed=1),
              kr.gamma((4,), 2.0, seed=1), kr.binomial((4,), 10, 0.3, seed=1), kr.beta((4,), 2.0, 3.0, seed=1)]
    for x, y in zip(a, theirs):
        assert tuple(x.shape) == tuple(y.shape)
        assert str(x.dtype).replace("fastnn.", "") == str(y.dtype).replace("torch.", "")
    gen = fk.random.SeedGenerator(3)
    first, second = fk.random.normal((4,), seed=gen), fk.random.normal((4,), seed=gen)
    assert not np.array_equal(np_of(first), np_of(second))
    gen2 = fk.random.SeedGenerator(3)
    np.testing.assert_array_equal(np_of(fk.random.normal((4,), seed=gen2)), np_of(first))
    assert gen.state.tolist() == [3, 2] and gen.get_config() == {"seed": 3, "name": gen.name}
    assert str(fk.random.uniform((2,), dtype="float64").dtype) == "fastnn.float64"
    with pytest.raises(ValueError, match="seed"):
        fk.random.normal((2,), seed="abc")
    with pytest.raises(ValueError, match="seed"):
        fk.random.SeedGenerator(seed=1.5)
    with pytest.raises(ValueError):
        fk.random.uniform((2,), dtype="int32")


def test_random_distribution_statistics():
    r = fk.random
    n = np_of(r.normal((20000,), mean=2.0, stddev=3.0, seed=1))
    assert n.mean() == pytest.approx(2.0, abs=0.1) and n.std() == pytest.approx(3.0, rel=0.03)
    u = np_of(r.uniform((20000,), minval=-1.0, maxval=3.0, seed=1))
    assert u.min() >= -1.0 and u.max() < 3.0 and u.mean() == pytest.approx(1.0, abs=0.05)
    t = np_of(r.truncated_normal((20000,), mean=1.0, stddev=2.0, seed=1))
    assert t.min() >= -3.0 and t.max() <= 5.0 and t.std() == pytest.approx(2.0 * 0.8796, rel=0.03)
    i = np_of(r.randint((20000,), 3, 7, seed=1))
    assert set(np.unique(i)) == {3, 4, 5, 6}
    g = np_of(r.gamma((20000,), 3.0, seed=1))
    assert g.mean() == pytest.approx(3.0, rel=0.03) and g.var() == pytest.approx(3.0, rel=0.08)
    b = np_of(r.beta((20000,), 2.0, 6.0, seed=1))
    assert b.mean() == pytest.approx(0.25, rel=0.03) and 0 <= b.min() and b.max() <= 1
    k = np_of(r.binomial((20000,), 10, 0.3, seed=1))
    assert k.mean() == pytest.approx(3.0, rel=0.03) and k.max() <= 10
    logits = fastnn.tensor([[0.0, 1.0, 2.0]])
    c = np_of(r.categorical(logits, 20000, seed=1))[0]
    freq = np.bincount(c, minlength=3) / c.size
    np.testing.assert_allclose(freq, np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum(), atol=0.015)


def test_dropout_and_shuffle():
    x = fastnn.ones(200, 100, requires_grad=True)
    y = fk.random.dropout(x, 0.3, seed=2)
    arr = np_of(y)
    assert set(np.unique(arr)).issubset({0.0, np.float32(1 / 0.7)})
    assert (arr == 0).mean() == pytest.approx(0.3, abs=0.02)
    y.sum().backward()
    np.testing.assert_array_equal(np_of(x.grad), arr)  # d(x * mask / keep)/dx
    z = np_of(fk.random.dropout(fastnn.ones(6, 50), 0.5, noise_shape=(1, 50), seed=3))
    assert (z == z[0]).all()  # the mask is shared along the noise shape's size-1 axis
    assert fk.random.dropout(x, 0.0) is x
    np.testing.assert_array_equal(np_of(fk.random.dropout(x, 1.0)), 0.0)
    m = fastnn.arange(24).reshape(4, 6)
    s = np_of(fk.random.shuffle(m, axis=1, seed=5))
    assert sorted(s[0].tolist()) == list(range(6)) and s[0].tolist() != list(range(6))
    np.testing.assert_array_equal(s[1] - s[0], np.full(6, 6))  # the same column order in every row


def test_an_initializer_called_on_a_tensor_fills_it():
    t = fastnn.zeros(3, 2)
    out = fk.initializers.get("ones")(t)
    assert out is t
    np.testing.assert_array_equal(np_of(t), 1.0)
    fk.initializers.Identity(gain=2.0)(t[:2])
    np.testing.assert_array_equal(np_of(t)[:2], 2 * np.eye(2))
    assert list(inspect.signature(fk.initializers.Ones.__call__).parameters) == ["self", "shape", "dtype"]


def test_models_with_initializer_objects_save_and_load(tmp_path):
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(2, kernel_initializer=fk.initializers.HeNormal(seed=1),
                                                          bias_initializer=fk.initializers.Constant(0.5))])
    model.compile(optimizer=fk.optimizers.LossScaleOptimizer(fk.optimizers.Adam(0.1)), loss="mse")
    model.save(tmp_path / "m.keras")
    again = fk.models.load_model(tmp_path / "m.keras")
    layer = again.layers[-1]
    assert isinstance(layer.kernel_initializer, fk.initializers.HeNormal)
    assert layer.kernel_initializer.get_config()["seed"] == 1
    assert isinstance(again.optimizer, fk.optimizers.LossScaleOptimizer)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
