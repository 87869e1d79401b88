"""fastnn.keras.ops against Keras 3's keras.ops on its torch backend: values and dtypes op by op on small
arrays, gradients through a custom layer written with ops, and the coverage of keras.ops' public names."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from keras_helpers import rand  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import ops  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
K = keras.ops

A = rand(3, 4)
B = rand(3, 4, seed=1)
V = rand(4, seed=2)
M = rand(4, 5, seed=3)
P = np.abs(rand(3, 4, seed=4)) + 0.1
I = np.array([[1, 0, 3], [2, 2, 0]], dtype=np.int32)
IDX = np.array([2, 0, 1], dtype=np.int64)
BOOL = A > 0
PROBS = (P / P.sum(-1, keepdims=True)).astype(np.float32)
ONEHOT = np.eye(4, dtype=np.float32)[[0, 3, 1]]

# (name, args, kwargs): the same call on both sides
CASES = [
    ("convert_to_tensor", ([1, 2, 3],), {}), ("convert_to_tensor", ([1.0, 2.0],), {}),
    ("convert_to_tensor", (A,), {"dtype": "float64"}), ("cast", (A, "int32"), {}), ("cast", (I, "float32"), {}),
    ("arange", (5,), {}), ("arange", (1, 7, 2), {}), ("arange", (0.0, 2.0, 0.5), {}),
    ("arange", (4,), {"dtype": "float32"}),
    ("zeros", ((2, 3),), {}), ("ones", (3,), {"dtype": "int32"}), ("full", ((2, 2), 7.0), {}),
    ("eye", (3,), {}), ("eye", (3, 4), {"k": 1}), ("zeros_like", (I,), {}), ("ones_like", (A,), {}),
    ("concatenate", ([A, B],), {"axis": 1}), ("stack", ([A, B],), {"axis": 1}),
    ("reshape", (A, (2, -1)), {}), ("transpose", (A,), {}), ("transpose", (rand(2, 3, 4), (1, 0, 2)), {}),
    ("expand_dims", (A, 1), {}), ("expand_dims", (A, -1), {}), ("squeeze", (rand(3, 1, 2),), {}),
    ("squeeze", (rand(1, 3, 1),), {"axis": 0}),
    ("matmul", (A, M), {}), ("dot", (A, M), {}), ("dot", (V, V), {}), ("einsum", ("ij,jk->ik", A, M), {}),
    ("sum", (A,), {}), ("sum", (A,), {"axis": 1, "keepdims": True}), ("sum", (I,), {"axis": 0}),
    ("sum", (BOOL,), {}),
    ("mean", (A,), {"axis": (0, 1)}), ("mean", (I,), {}), ("max", (A,), {"axis": 0}), ("min", (A,), {}),
    ("prod", (A,), {"axis": 1}), ("prod", (I,), {}), ("std", (A,), {"axis": 1}), ("var", (A,), {}),
    ("argmax", (A,), {"axis": 1}), ("argmax", (A,), {}), ("argmin", (A,), {"axis": 0, "keepdims": True}),
    ("abs", (A,), {}), ("sqrt", (P,), {}), ("sqrt", (I,), {}), ("square", (A,), {}), ("exp", (A,), {}),
    ("log", (P,), {}), ("power", (P, 2.5), {}), ("power", (I, 2), {}), ("add", (A, B), {}),
    ("add", (I, 1), {}), ("subtract", (A, 1.5), {}), ("multiply", (A, B), {}), ("divide", (A, P), {}),
    ("divide", (I, 2), {}), ("maximum", (A, B), {}), ("minimum", (A, 0.0), {}), ("clip", (A, -0.5, 0.5), {}),
    ("where", (BOOL, A, B), {}), ("where", (BOOL, A, 0.0), {}), ("equal", (I, 2), {}), ("not_equal", (A, B), {}),
    ("greater", (A, B), {}), ("less", (A, 0.0), {}), ("logical_and", (BOOL, B > 0), {}),
    ("logical_or", (BOOL, B > 0), {}), ("logical_not", (BOOL,), {}), ("cumsum", (A,), {"axis": 1}),
    ("cumsum", (I,), {}), ("tile", (A, (2, 1)), {}), ("repeat", (A, 2), {"axis": 0}), ("repeat", (I, 2), {}),
    ("take", (A, IDX), {"axis": 1}), ("take", (A, np.array([[0, -1]])), {"axis": 1}),
    ("take", (A, np.array([[0, 5]])), {}),
    ("take_along_axis", (A, np.argsort(A, axis=1)), {"axis": 1}), ("split", (A, 2), {"axis": 1}),
    ("split", (A, [1, 3]), {"axis": 1}), ("flip", (A,), {"axis": 1}), ("flip", (A,), {}),
    ("sort", (A,), {}), ("sort", (A,), {"axis": 0}), ("argsort", (A,), {}), ("top_k", (A, 2), {}),
    ("tril", (A,), {}), ("triu", (A, 1), {}), ("norm", (A,), {}), ("norm", (A,), {"axis": 1}),
    ("norm", (A,), {"ord": 1, "axis": 1, "keepdims": True}), ("sign", (A,), {}), ("floor", (A,), {}),
    ("ceil", (A,), {}), ("round", (A * 3,), {}), ("round", (A,), {"decimals": 1}), ("tanh", (A,), {}),
    ("sin", (A,), {}), ("cos", (A,), {}), ("erf", (A,), {}), ("softmax", (A,), {}),
    ("softmax", (A,), {"axis": 0}), ("log_softmax", (A,), {}), ("relu", (A,), {}), ("relu6", (A * 8,), {}),
    ("sigmoid", (A,), {}), ("gelu", (A,), {}), ("gelu", (A,), {"approximate": False}), ("silu", (A,), {}),
    ("swish", (A,), {}), ("elu", (A,), {}), ("elu", (A, 0.5), {}), ("selu", (A,), {}),
    ("leaky_relu", (A,), {}), ("softplus", (A,), {}), ("one_hot", (I, 4), {}),
    ("one_hot", (np.array([0, 2, -1]), 4), {"axis": 0}), ("logsumexp", (A,), {"axis": 1}),
    ("logsumexp", (A,), {}), ("slice", (A, (1, 1), (2, 2)), {}),
    ("any", (BOOL,), {}), ("any", (BOOL,), {"axis": 1}), ("all", (BOOL,), {"axis": 0, "keepdims": True}),
    ("isnan", (np.array([1.0, np.nan], np.float32),), {}),
    ("isfinite", (np.array([1.0, np.inf, np.nan], np.float32),), {}), ("moveaxis", (rand(2, 3, 4), 0, -1), {}),
    ("swapaxes", (rand(2, 3, 4), 0, 2), {}), ("pad", (A, ((1, 0), (0, 2))), {}),
    ("pad", (A, ((1, 1), (1, 1))), {"constant_values": 3.0}),
    ("pad", (A, ((1, 1), (1, 0))), {"mode": "symmetric"}), ("pad", (A, ((1, 1), (2, 2))), {"mode": "reflect"}),
    ("outer", (V, V), {}), ("linspace", (0.0, 1.0, 5), {}), ("linspace", (0, 1, 4), {"endpoint": False}),
    ("meshgrid", (V, V[:3]), {}), ("meshgrid", (V, V[:3]), {"indexing": "ij"}),
    ("broadcast_to", (V, (3, 4)), {}), ("nonzero", (I,), {}), ("count_nonzero", (I,), {}),
    ("count_nonzero", (I,), {"axis": 1}), ("average", (A,), {"axis": 1}),
    ("average", (A,), {"axis": 1, "weights": V}),
    ("sparse_categorical_crossentropy", (IDX, PROBS), {}),
    ("sparse_categorical_crossentropy", (IDX, A), {"from_logits": True}),
    ("categorical_crossentropy", (ONEHOT, PROBS), {}),
    ("categorical_crossentropy", (ONEHOT, A), {"from_logits": True}),
    ("binary_crossentropy", (BOOL.astype(np.float32), PROBS), {}),
    ("binary_crossentropy", (BOOL.astype(np.float32), A), {"from_logits": True}),
    ("moments", (A, [0]), {}), ("moments", (A, [0, 1]), {"keepdims": True}), ("normalize", (A,), {}),
    ("normalize", (A,), {"axis": 0, "order": 1}),
    ("shape", (A,), {}), ("log1p", (P,), {}), ("expm1", (A,), {}), ("floor_divide", (I, 2), {}),
    ("mod", (I, 2), {}), ("greater_equal", (A, B), {}), ("less_equal", (A, B), {}), ("negative", (A,), {}),
    ("reciprocal", (P,), {}), ("arctan2", (A, B), {}), ("tensordot", (A, M), {"axes": 1}), ("ravel", (A,), {}),
    ("diagonal", (A,), {}), ("trace", (A,), {}), ("cumprod", (A,), {"axis": 0}), ("isinf", (A,), {}),
]

SPD = (M @ M.T + 4 * np.eye(4)).astype(np.float32)
Q = rand(3, 4, 5, seed=5)
CASES += [
    ("trunc", (A * 3,), {}), ("fabs", (I,), {}), ("deg2rad", (A,), {}), ("rad2deg", (A,), {}), ("exp2", (A,), {}),
    ("erfc", (A,), {}), ("erfinv", (np.tanh(A),), {}), ("signbit", (A,), {}), ("isposinf", (A,), {}),
    ("sinc", (A,), {}), ("i0", (A,), {}), ("hypot", (A, B), {}), ("fmod", (A, 0.3), {}), ("fmax", (A, B), {}),
    ("fmin", (A, B), {}), ("gcd", (I, 4), {}), ("lcm", (I + 1, 4), {}), ("kron", (A[:2, :2], B[:2, :3]), {}),
    ("heaviside", (A, 0.5), {}), ("logaddexp", (A, B), {}), ("logaddexp2", (A, B), {}), ("cbrt", (A,), {}),
    ("ldexp", (A, I[:1, :1].repeat(4, 1)[:, :4].reshape(1, 4)), {}), ("divide_no_nan", (A, np.where(BOOL, B, 0)), {}),
    ("isclose", (A, A + 1e-6), {}), ("allclose", (A, B), {}),
    ("nan_to_num", (np.array([1.0, np.nan, np.inf, -np.inf], np.float32),), {"posinf": 9.0}),
    ("roll", (A, 1), {}), ("roll", (A, -1), {"axis": 1}), ("diag", (V,), {}), ("diag", (A, 1), {}),
    ("diagflat", (V[:3],), {}), ("fliplr", (A,), {}), ("flipud", (A,), {}), ("rot90", (A,), {}),
    ("dstack", ([A, B],), {}), ("hsplit", (A, 2), {}), ("vsplit", (A, 3), {}),
    ("dsplit", (Q, [2]), {}), ("median", (A,), {"axis": 1}), ("median", (A,), {}),
    ("quantile", (A, 0.3), {"axis": 0}), ("quantile", (Q, [0.2, 0.9]), {"axis": (0, 2)}),
    ("ptp", (A,), {"axis": 1}), ("nansum", (A,), {}), ("nanmean", (np.array([1.0, np.nan, 3.0], np.float32),), {}),
    ("searchsorted", (np.sort(V), B[0]), {}), ("searchsorted", (np.sort(V), B[0]), {"side": "right"}),
    ("cdist", (A, B), {}), ("det", (SPD,), {}), ("inv", (SPD,), {}), ("solve", (SPD, M), {}),
    ("cholesky", (SPD,), {}), ("logdet", (SPD,), {}), ("slogdet", (SPD,), {}),
    ("svd", (A,), {"compute_uv": False}), ("solve_triangular", (np.tril(SPD), M), {"lower": True}),
    ("pinv", (A,), {}), ("hard_sigmoid", (A * 4,), {}), ("hard_silu", (A * 4,), {}), ("hard_tanh", (A * 2,), {}),
    ("celu", (A,), {}), ("glu", (A,), {}), ("soft_shrink", (A,), {}), ("hard_shrink", (A,), {}),
    ("tanh_shrink", (A,), {}), ("threshold", (A, 0.1, -1.0), {}), ("sparse_plus", (A * 2,), {}),
    ("squareplus", (A,), {}), ("is_tensor", (A,), {}), ("empty_like", (A,), {}),
]

NANS = np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, -1.0]], np.float32)
CASES += [
    ("bitwise_and", (I, 3), {}), ("bitwise_or", (I, 4), {}), ("bitwise_xor", (I, 1), {}), ("bitwise_not", (I,), {}),
    ("left_shift", (I, 2), {}), ("right_shift", (I, 1), {}), ("real", (A,), {}),
    ("conj", (A,), {}), ("isreal", (A,), {}), ("nanmax", (NANS,), {"axis": 1}), ("nanmin", (NANS,), {}),
    ("nanprod", (NANS,), {"axis": 0}), ("nancumsum", (NANS,), {"axis": 1}), ("nancumprod", (NANS,), {}),
    ("nanvar", (NANS,), {"axis": 1}), ("nanstd", (NANS,), {}), ("nanquantile", (NANS, 0.25), {"axis": 1}),
    ("nanmedian", (NANS,), {}), ("percentile", (A, 30.0), {"axis": 1}), ("diff", (A,), {}),
    ("diff", (A,), {"n": 2, "axis": 0}), ("isin", (I, np.array([0, 3], np.int32)), {}),
    ("logspace", (0.0, 2.0, 5), {}), ("geomspace", (1.0, 100.0, 4), {}), ("vander", (V,), {}),
    ("vander", (V, 3), {"increasing": True}), ("trapezoid", (A,), {}), ("trapezoid", (A,), {"dx": 0.5, "axis": 0}),
    ("unravel_index", (np.array([0, 5, 11]), (3, 4)), {}),
    ("select", ([A > 0.5, A < -0.5], [A, -A]), {"default": 7.0}),
    ("saturate_cast", (A * 300, "uint8"), {}), ("saturate_cast", (I * 1000, "int8"), {}),
    ("sparse_sigmoid", (A * 2,), {}), ("layer_normalization", (A,), {}),
    ("layer_normalization", (A, V, V), {"epsilon": 1e-5}), ("rms_normalization", (A,), {}),
    ("rms_normalization", (A, V), {"epsilon": 1e-5}),
    ("batch_normalization", (A, V, P[0], 1), {"offset": V, "scale": V}),
    ("in_top_k", (np.array([0, 3, 1]), A, 2), {}), ("psnr", (P, P + 0.1, 1.0), {}),
]

IMG = rand(2, 7, 6, 3, seed=6)
SEQ = rand(2, 9, 3, seed=7)
QKV = rand(2, 5, 2, 4, seed=8)
CASES += [
    ("conv", (IMG, rand(3, 3, 3, 4, seed=9)), {}),
    ("conv", (IMG, rand(3, 2, 3, 4, seed=9)), {"strides": 2, "padding": "same"}),
    ("conv", (SEQ, rand(3, 3, 5, seed=9)), {"padding": "same", "dilation_rate": 2}),
    ("conv", (IMG, rand(3, 3, 1, 6, seed=9)), {"padding": "same"}),
    ("max_pool", (IMG, 2), {}), ("max_pool", (IMG, 3), {"strides": 2, "padding": "same"}),
    ("average_pool", (SEQ, 2), {}), ("average_pool", (IMG, (3, 2)), {"strides": 2, "padding": "same"}),
    ("dot_product_attention", (QKV, QKV * 0.5, QKV), {}),
    ("dot_product_attention", (QKV, QKV, QKV), {"is_causal": True, "scale": 0.3}),
    ("get_item", (A, 1), {}), ("array", ([1, 2],), {}),
    ("slice_update", (A, (1, 2), np.ones((2, 2), np.float32)), {}),
    ("scatter_update", (A, np.array([[0, 1], [2, 3]]), np.array([5.0, 6.0], np.float32)), {}),
    ("scatter", (np.array([[0, 1], [2, 3], [0, 1]]), np.array([1.0, 2.0, 3.0], np.float32), (3, 4)), {}),
    ("segment_sum", (A, np.array([0, 0, 2])), {}), ("segment_max", (A, np.array([1, 0, 1])), {"num_segments": 3}),
]

CASES += [
    ("adaptive_average_pool", (IMG, 3), {}), ("adaptive_max_pool", (IMG, (2, 3)), {}),
    ("depth_to_space", (rand(2, 3, 2, 8), 2), {}), ("space_to_depth", (rand(2, 4, 6, 3), 2), {}),
    ("segment_min", (A, np.array([0, 2, 0])), {}), ("bincount", (np.array([0, 3, 3, 1]),), {}),
    ("bincount", (np.array([0, 3, 3, 1]),), {"weights": V, "minlength": 6}),
    ("corrcoef", (A,), {}), ("angle", (A,), {}), ("cholesky_inverse", (np.linalg.cholesky(SPD),), {}),
    ("matrix_rank", (A,), {}), ("lstsq", (M.T, V[:5] if False else rand(5, 2, seed=9)), {}),
    ("hamming", (6,), {}), ("hanning", (5,), {}), ("bartlett", (6,), {}), ("blackman", (6,), {}),
    ("kaiser", (6, 3.0), {}), ("digitize", (A, np.array([-1.0, 0.0, 0.5], np.float32)), {}),
    ("nextafter", (A, B), {}), ("nanpercentile", (NANS, 40.0), {"axis": 1}),
    ("nanargmax", (NANS,), {"axis": 1}), ("nanargmin", (NANS,), {}),
]


def _dt(x):
    return keras.backend.standardize_dtype(x.dtype)


def _compare(ours, theirs, what):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), what
        for u, v in zip(ours, theirs):
            _compare(u, v, what)
        return
    if not hasattr(theirs, "dtype"):  # shape(): a tuple of ints, compared above; a Python number
        assert ours == theirs, what
        return
    assert isinstance(ours, fastnn.Tensor), f"{what}: result is {type(ours).__name__}, not a fastnn Tensor"
    assert _dt(ours) == _dt(theirs), f"{what}: dtype {_dt(ours)} != Keras' {_dt(theirs)}"
    b = np.asarray(K.convert_to_numpy(theirs))
    a = ops.convert_to_numpy(ours)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != Keras' {b.shape}"
    assert_close(a.astype(np.float64), b.astype(np.float64), atol=1e-5, rtol=1e-5, msg=what)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op_matches_keras(case):
    name, args, kwargs = case
    theirs = getattr(K, name)(*args, **kwargs)
    if name.startswith("empty"):  # values are undefined: compare shape and dtype only
        theirs, ours = K.zeros_like(theirs), ops.zeros_like(getattr(ops, name)(*args, **kwargs))
        return _compare(ours, theirs, name)
    ours = getattr(ops, name)(*args, **kwargs)
    _compare(ours, theirs, f"ops.{name}{tuple(type(a).__name__ for a in args)} {kwargs}")


def test_pad_modes_keras_torch_lacks():
    # Keras' torch backend refuses "edge" and "wrap": NumPy's np.pad is their definition
    x = rand(2, 3, 4)
    for mode, pw in (("edge", ((0, 0), (1, 0), (0, 2))), ("wrap", ((1, 1), (0, 0), (2, 1))),
                     ("reflect", ((0, 0), (2, 1), (1, 3)))):
        assert_close(ops.convert_to_numpy(ops.pad(x, pw, mode=mode)), np.pad(x, pw, mode=mode), msg=mode)
    with pytest.raises(NotImplementedError, match="symmetric"):
        ops.pad(x, ((0, 0), (2, 2), (0, 0)), mode="symmetric")


def test_unstack_and_eigh():
    import torch
    ours, theirs = ops.unstack(A, axis=1), K.unstack(torch.tensor(A), axis=1)
    _compare(ours, theirs, "unstack")
    w, v = ops.eigh(SPD)  # eigenvectors are defined up to sign: compare values and the reconstruction
    wk, _ = K.eigh(SPD)
    _compare(w, wk, "eigh values")
    rebuilt = ops.matmul(ops.multiply(v, w), ops.transpose(v))
    assert_close(ops.convert_to_numpy(rebuilt), SPD, atol=1e-4, rtol=1e-4)


def test_control_flow_and_argpartition():
    assert float(ops.cond(ops.greater(1.0, 0.0), lambda: ops.ones(()), lambda: ops.zeros(()))) == 1.0
    assert ops.switch(5, [lambda x: x - 1, lambda x: x + 1], 10) == 11  # index clamped, as in Keras
    assert int(ops.fori_loop(0, 4, lambda i, v: v + i, ops.convert_to_tensor(0))) == 6
    assert ops.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * 2), (0, 1)) == (3, 8)
    _compare(ops.map(lambda r: ops.sum(r), A), K.map(lambda r: K.sum(r), A), "map")
    carry, ys = ops.scan(lambda c, x: (c + x, c * x), ops.zeros((4,)), A)
    kc, kys = K.scan(lambda c, x: (c + x, c * x), K.zeros((4,)), A)
    _compare([carry, ys], [kc, kys], "scan")
    idx = ops.convert_to_numpy(ops.argpartition(A, 1, axis=1))
    part = np.take_along_axis(A, idx, axis=1)
    assert (part[:, :1] <= part[:, 1:2]).all() and (part[:, 2:] >= part[:, 1:2]).all()


def test_sparsemax():
    # Keras 3.15's torch backend gives [0, 0.05, 0, 0] here (not a distribution): the definition is the oracle
    x = np.array([[0.1, 1.2, -0.5, 0.9], [3.0, 0.0, 0.0, 0.0]], np.float32)
    assert_close(ops.convert_to_numpy(ops.sparsemax(x)), np.array([[0, 0.65, 0, 0.35], [1, 0, 0, 0]]), atol=1e-6)
    assert_close(ops.convert_to_numpy(ops.sparsemax(x.T, axis=0)).T, ops.convert_to_numpy(ops.sparsemax(x)))


def test_ops_nn_namespace():
    from fastnn.keras.ops import nn
    for name in ("relu", "gelu", "softmax", "one_hot", "moments", "normalize", "binary_crossentropy"):
        assert getattr(nn, name) is getattr(ops, name)
    a = rand(3, 4)
    assert_close(ops.convert_to_numpy(nn.leaky_relu(a)), np.asarray(K.nn.leaky_relu(a)), atol=1e-6)


def test_tensor_inputs_keep_autograd():
    x = fastnn.tensor(rand(3, 4), requires_grad=True)
    y = ops.sum(ops.square(ops.relu(x)) * 2.0) + ops.mean(ops.logsumexp(x, axis=1))
    y.backward()
    assert ops.stop_gradient(x).requires_grad is False
    assert x.grad is not None and tuple(x.grad.shape) == (3, 4)
    xt = __import__("torch").tensor(rand(3, 4), requires_grad=True)
    yt = K.sum(K.square(K.relu(xt)) * 2.0) + K.mean(K.logsumexp(xt, axis=1))
    yt.backward()
    assert_close(np.asarray(x.grad), xt.grad.numpy(), atol=1e-5, rtol=1e-5)


def test_custom_layer_with_ops_trains():
    from fastnn.keras import layers

    class ScaledDense(layers.Layer):  # written as a Keras 3 user would, with ops only
        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

        def call(self, inputs, training=None):
            h = ops.matmul(inputs, self.w) + self.b
            return ops.concatenate([ops.gelu(h), ops.tanh(h)], axis=-1) * ops.sqrt(ops.cast(2, "float32"))

    import fastnn.keras as fk
    x = rand(32, 5)
    y = (x[:, :1] > 0).astype(np.float32)
    model = fk.Sequential([fk.Input((5,)), ScaledDense(8), fk.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fk.optimizers.Adam(0.05), loss="binary_crossentropy")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    before = before[0] if isinstance(before, list) else before
    after = after[0] if isinstance(after, list) else after
    assert after < 0.7 * before, (before, after)


def test_coverage_of_keras_ops_names():
    theirs = sorted(n for n in dir(K) if not n.startswith("_") and callable(getattr(K, n))
                    and not isinstance(getattr(K, n), type(os)))
    have = [n for n in theirs if callable(getattr(ops, n, None))]
    missing = [n for n in theirs if n not in have]
    print(f"\nkeras.ops coverage: {len(have)} / {len(theirs)} names; missing: {' '.join(missing)}")
    tested = {c[0] for c in CASES}
    assert tested <= set(have), sorted(tested - set(have))
    nn_theirs = sorted(n for n in dir(K.nn) if not n.startswith("_") and callable(getattr(K.nn, n)))
    from fastnn.keras.ops import nn
    nn_have = [n for n in nn_theirs if callable(getattr(nn, n, None))]
    print(f"keras.ops.nn coverage: {len(nn_have)} / {len(nn_theirs)} names")
    assert len(have) >= 300
    from fastnn.keras.ops import linalg
    lin = [n for n in dir(K.linalg) if not n.startswith("_")]
    print(f"keras.ops.linalg coverage: {sum(hasattr(linalg, n) for n in lin)} / {len(lin)} names")
    assert ops.linalg.det is ops.det and ops.numpy.matmul is ops.matmul
