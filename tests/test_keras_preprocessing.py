"""fastnn.keras preprocessing layers on arrays and strings against Keras 3.15 (torch backend): Normalization,
Rescaling, CategoryEncoding and Discretization run in Keras here and are compared directly (outputs, dtypes,
weights, configs, gradients). Hashing, HashedCrossing, StringLookup, IntegerLookup and TextVectorization need
TensorFlow in Keras 3.15 (they raise ImportError without it), so they are checked against the outputs Keras
documents in its docstrings and its own test suite, and the hash functions against reference values of
FarmHash Fingerprint64 (pyfarmhash) and SipHash-2-4."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import config_matches as _config_matches, rand, to_np as _np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402
from fastnn.keras.layers.preprocessing.hashing import fingerprint64, siphash64  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers
HAS_TF = importlib.util.find_spec("tensorflow") is not None


# ---- Normalization ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, (1, 2), None, 1])
def test_normalization_adapt_matches_keras(axis):
    x = rand(6, 3, 4, seed=1) * 3 + 2
    ours, theirs = L.Normalization(axis=axis), KL.Normalization(axis=axis)
    ours.adapt(x)
    theirs.adapt(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [w.dtype for w in ours.get_weights()] == [w.dtype for w in theirs.get_weights()]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert_close(ours(x), _np(theirs(x)), atol=1e-5, rtol=1e-5)
    _config_matches(ours, theirs)


def test_normalization_adapt_on_batches_equals_whole_data():
    # Keras' adapt over a list of batches needs TensorFlow in 3.15 (an isinstance check on tf.data); the
    # merged statistics must equal those of the whole array, which Keras adapts without TF.
    x = rand(10, 5, seed=2) * 2 - 1
    ours, theirs = L.Normalization(), KL.Normalization()
    ours.adapt([x[:3], x[3:7], x[7:]])
    theirs.adapt(x)
    assert_close(ours(x), _np(theirs(x)), atol=1e-5, rtol=1e-5)
    gen = L.Normalization()
    gen.adapt(b for b in (x[:5], x[5:]))
    assert_close(gen(x), _np(theirs(x)), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="empty iterable"):
        L.Normalization().adapt([])


def test_normalization_given_mean_variance_invert_and_grad():
    x = rand(3, 4, seed=3)
    kw = dict(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 16.0])
    for invert in (False, True):
        ours, theirs = L.Normalization(invert=invert, **kw), KL.Normalization(invert=invert, **kw)
        assert_close(ours(x), _np(theirs(x)), atol=1e-6, rtol=1e-6)
        assert ours.get_weights() == [] and theirs.get_weights() == []
        _config_matches(ours, theirs)
    ours, theirs = L.Normalization(mean=2.0, variance=0.0), KL.Normalization(mean=2.0, variance=0.0)
    assert_close(ours(x), _np(theirs(x)), rtol=1e-6, atol=1e-6)  # sqrt(var) floored at epsilon
    xt = torch.tensor(x, requires_grad=True)
    (KL.Normalization(**kw)(xt) ** 2).sum().backward()
    xf = fastnn.tensor(x, requires_grad=True)
    (L.Normalization(**kw)(xf) ** 2).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-5, rtol=1e-5)


def test_normalization_errors_and_weights_copy():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match=r"range \[-ndim, ndim\)"):
        L.Normalization(axis=3).adapt(rand(2, 3))
    theirs = KL.Normalization()
    theirs.adapt(rand(8, 3, seed=4))
    ours = L.Normalization()
    ours.build((None, 3))
    ours.set_weights(theirs.get_weights())
    x = rand(2, 3, seed=5)
    assert_close(ours(x), _np(theirs(x)), atol=1e-6, rtol=1e-6)


# ---- Rescaling, CategoryEncoding, Discretization -------------------------------------------------------------
@pytest.mark.parametrize("scale,offset", [(1 / 255.0, 0.0), (2.0, -1.0), ([0.5, 1.0, 2.0], 0.25)])
def test_rescaling_matches_keras(scale, offset):
    x = (rand(2, 4, 4, 3, seed=6) * 100).astype(np.float32)
    ours, theirs = L.Rescaling(scale, offset), KL.Rescaling(scale, offset)
    assert_close(ours(x), _np(theirs(x)), atol=1e-5, rtol=1e-6)
    assert_close(ours(x.astype(np.uint8)), _np(theirs(x.astype(np.uint8))), atol=1e-5, rtol=1e-6)
    _config_matches(ours, theirs)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count", "binary"])
@pytest.mark.parametrize("data", [[[0, 1, 3], [2, 2, 1]], [[3], [0]], [1, 1, 2], [[4, 1, 7, 2]]])
def test_category_encoding_matches_keras(mode, data):
    x = np.array(data)
    ours, theirs = L.CategoryEncoding(num_tokens=8, output_mode=mode), KL.CategoryEncoding(8, output_mode=mode)
    a, b = ours(x), _np(theirs(x))
    assert a.dtype == fastnn.float32 and a.shape == b.shape
    assert_close(a, b)
    _config_matches(ours, theirs)


def test_category_encoding_count_weights_and_errors():
    x = np.array([[0, 1, 1], [2, 2, 0]])
    w = np.array([[0.5, 1.0, 2.0], [1.0, 1.5, 3.0]], np.float32)
    want = _np(KL.CategoryEncoding(3, "count")(x, count_weights=w))
    assert_close(L.CategoryEncoding(3, "count")(x, count_weights=w), want)
    with pytest.raises(ValueError, match="count_weights"):
        L.CategoryEncoding(3, "multi_hot")(x, count_weights=w)
    with pytest.raises(ValueError, match="num_tokens must be set"):
        L.CategoryEncoding()
    with pytest.raises(ValueError, match="Unknown arg for output_mode"):
        L.CategoryEncoding(3, output_mode="tf_idf")


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_bin_boundaries_matches_keras(mode):
    x = np.array([[-1.5, -1.0, 0.0, 1.5, 2.0], [0.2, 3.0, -7.0, 1.49, 0.0]], np.float32)
    b = [-1.0, 0.0, 1.5]
    ours, theirs = L.Discretization(bin_boundaries=b, output_mode=mode), KL.Discretization(b, output_mode=mode)
    got, want = ours(x), theirs(x)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]  # int32 ids, float32 encodings
    assert_close(got, _np(want))
    _config_matches(ours, theirs, skip=("name",))


@pytest.mark.parametrize("num_bins,epsilon", [(3, 0.01), (7, 0.01), (50, 0.01), (4, 0.1)])
def test_discretization_adapt_matches_keras_summary(num_bins, epsilon):
    # Keras' adapt() needs TensorFlow for its tf.data check; update_state / finalize_state are its algorithm.
    d = rand(3000, seed=7)
    ours, theirs = L.Discretization(num_bins=num_bins, epsilon=epsilon), KL.Discretization(num_bins=num_bins,
                                                                                          epsilon=epsilon)
    ours.adapt([d[:1000], d[1000:]])
    theirs.reset_state()
    theirs.update_state(d[:1000])
    theirs.update_state(d[1000:])
    theirs.finalize_state()
    assert len(ours.bin_boundaries) == len(theirs.bin_boundaries) == num_bins - 1
    assert_close(np.array(ours.bin_boundaries), np.array(theirs.bin_boundaries), atol=1e-6, rtol=1e-6)
    assert_close(ours(d[:50]), _np(theirs(d[:50])))
    one = L.Discretization(num_bins=num_bins, epsilon=epsilon)
    one.adapt(d)
    theirs.reset_state()
    theirs.update_state(d)
    theirs.finalize_state()
    assert_close(np.array(one.bin_boundaries), np.array(theirs.bin_boundaries), atol=1e-6, rtol=1e-6)


def test_discretization_errors():
    with pytest.raises(ValueError, match="either `num_bins` or `bin_boundaries`"):
        L.Discretization()
    with pytest.raises(ValueError, match="should not be set"):
        L.Discretization(bin_boundaries=[0.0], num_bins=3)
    with pytest.raises(ValueError, match="Cannot adapt"):
        L.Discretization(bin_boundaries=[0.0]).adapt(np.zeros(3))
    with pytest.raises(ValueError, match="adapt"):
        L.Discretization(num_bins=3)(np.zeros(3))
    layer = L.Discretization.from_config(L.Discretization(bin_boundaries=[0.0, 1.0]).get_config())
    assert layer.bin_boundaries == [0.0, 1.0]


# ---- hashing ------------------------------------------------------------------------------------------------
# (string, FarmHash Fingerprint64, SipHash-2-4 with key (133, 137)) from pyfarmhash 0.5.1 and the siphash
# package; the lengths cover every code path of both (0-16, 17-32, 33-64, over 64, several 64-byte blocks).
HASHES = [
    ("", 11160318154034397263, 4928313950774450900),
    ("a", 12917804110809363939, 7077939996121841354),
    ("abc", 2640714258260161385, 6899845086433867945),
    ("hello w", 1806291608031355033, 3938406632290115320),
    ("hello world!!", 15904670558433010644, 7979799406580907663),
    ("x" * 17, 11306081951414300581, 8812240840814877026),
    ("y" * 33, 8610735037765521150, 17580769469933770380),
    ("z" * 64, 294799756062990872, 12707748464401560383),
    ("q" * 65, 7692644312256273193, 203371353842262250),
    ("fastnn " * 30, 4546344123012139619, 16573415856239585351),
]


@pytest.mark.parametrize("s,farm,sip", HASHES)
def test_hash_functions_match_references(s, farm, sip):
    assert fingerprint64(s) == farm
    assert siphash64((133, 137), s) == sip


@pytest.mark.skipif(HAS_TF, reason="TensorFlow is installed: Keras' own string layers run")
def test_keras_string_layers_need_tensorflow():
    for name in ("Hashing", "HashedCrossing", "StringLookup", "IntegerLookup", "TextVectorization"):
        with pytest.raises(ImportError, match="requires TensorFlow"):
            getattr(KL, name)(**({"num_bins": 2} if "Hash" in name else {}))


WIRE = np.asarray([["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]])


def test_hashing_matches_keras_test_suite():
    # expected values from keras/src/layers/preprocessing/hashing_test.py
    out = L.Hashing(num_bins=2)(WIRE)
    assert out.dtype == fastnn.int64 and out.tolist() == [[0], [0], [1], [0], [0]]
    assert L.Hashing(num_bins=2)(["omar", "stringer", "marlo", "wire", "skywalker"]).tolist() == [0, 0, 1, 0, 0]
    assert L.Hashing(num_bins=1)(np.asarray([["A"], ["B"]])).tolist() == [[0], [0]]
    assert L.Hashing(num_bins=3, mask_value="")(WIRE).tolist() == [[1], [1], [2], [1], [1]]
    assert L.Hashing(num_bins=3, mask_value="omar")(WIRE).tolist() == [[0], [1], [2], [1], [1]]
    ints = np.asarray([[0], [1], [2], [3], [4]])
    assert L.Hashing(num_bins=3)(ints).tolist() == [[1], [0], [1], [0], [2]]
    assert L.Hashing(num_bins=2, salt=[133, 137])(WIRE).tolist() == [[0], [1], [0], [1], [0]]
    assert L.Hashing(num_bins=2, salt=[211, 137])(WIRE).tolist() == [[1], [0], [1], [0], [1]]
    assert L.Hashing(num_bins=3, salt=[133, 137])(ints).tolist() == [[1], [1], [2], [0], [1]]
    assert L.Hashing(num_bins=3, salt=133).salt == [133, 133]
    # floats are truncated to int64 before hashing, as Keras casts them
    assert L.Hashing(num_bins=3)(np.array([[0.7], [4.2]])).tolist() == [[1], [2]]
    assert L.Hashing(num_bins=3)(fastnn.tensor([[0], [4]])).tolist() == [[1], [2]]


def test_hashing_modes_and_errors():
    ids = L.Hashing(num_bins=5)(WIRE).reshape(-1).tolist()
    one_hot = L.Hashing(num_bins=5, output_mode="one_hot")(WIRE)
    assert one_hot.dtype == fastnn.float32 and one_hot.shape == (5, 5)
    assert np.asarray(one_hot).argmax(-1).tolist() == ids
    multi = L.Hashing(num_bins=5, output_mode="multi_hot")(np.array(["omar", "wire", "omar"]))
    counts = L.Hashing(num_bins=5, output_mode="count")(np.array(["omar", "wire", "omar"]))
    assert multi.shape == (5,) and float(multi.sum()) == len({ids[0], ids[3]})
    assert float(counts[ids[0]]) == 2.0 + (ids[3] == ids[0])
    assert L.Hashing(num_bins=4, output_mode="count").compute_output_shape((None, 3)) == (None, 4)
    cfg = L.Hashing(num_bins=3, salt=[1, 2], mask_value="x").get_config()
    assert {k: cfg[k] for k in ("num_bins", "salt", "mask_value", "output_mode", "sparse")} == \
        {"num_bins": 3, "salt": [1, 2], "mask_value": "x", "output_mode": "int", "sparse": False}
    with pytest.raises(ValueError, match="non-positive"):
        L.Hashing(num_bins=0)
    with pytest.raises(ValueError, match="salt"):
        L.Hashing(num_bins=2, salt="x")
    with pytest.raises(ValueError, match="output_mode"):
        L.Hashing(num_bins=2, output_mode="tf_idf")


def test_hashed_crossing_matches_keras_test_suite():
    # expected values from keras/src/layers/preprocessing/hashed_crossing_test.py
    feat1, feat2 = np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])
    out = L.HashedCrossing(num_bins=5)((feat1, feat2))
    assert out.dtype == fastnn.int64 and out.tolist() == [1, 4, 1, 1, 3]
    col = L.HashedCrossing(num_bins=5)((feat1[:, None], feat2[:, None]))
    assert col.shape == (5, 1) and col.reshape(-1).tolist() == [1, 4, 1, 1, 3]
    one_hot = L.HashedCrossing(num_bins=5, output_mode="one_hot")((feat1, feat2))
    assert one_hot.dtype == fastnn.float32
    assert np.asarray(one_hot).tolist() == np.eye(5)[[1, 4, 1, 1, 3]].tolist()
    assert L.HashedCrossing(num_bins=2, dtype="int32")((np.array([1]), np.array([1]))).dtype == fastnn.int32
    with pytest.raises(ValueError, match="should be called on a list"):
        L.HashedCrossing(num_bins=10)(np.array(1))
    with pytest.raises(ValueError, match="at least two inputs"):
        L.HashedCrossing(num_bins=10)([np.array(1)])
    with pytest.raises(ValueError, match="inputs should have shape"):
        L.HashedCrossing(num_bins=10)((np.array([[[1.0]]]), np.array([[[1.0]]])))
    with pytest.raises(ValueError, match="integer or string dtype"):
        L.HashedCrossing(num_bins=10)((np.array([1.0]), np.array([1.0])))


# ---- StringLookup / IntegerLookup ---------------------------------------------------------------------------
VOCAB = ["a", "b", "c", "d"]
DOCS = [["a", "c", "d"], ["d", "z", "b"]]
DOCS4 = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]


def test_string_lookup_docstring_examples():
    # every output below is the one keras.layers.StringLookup's docstring shows
    out = L.StringLookup(vocabulary=VOCAB)(DOCS)
    assert out.dtype == fastnn.int64 and out.tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = L.StringLookup()
    layer.adapt(DOCS)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    assert layer(DOCS).tolist() == [[5, 3, 1], [1, 2, 4]]
    assert L.StringLookup(vocabulary=VOCAB, num_oov_indices=2)([["a", "c", "d"], ["m", "z", "b"]]).tolist() == \
        [[2, 4, 5], [0, 1, 3]]
    assert L.StringLookup(vocabulary=VOCAB, output_mode="one_hot")(["a", "b", "c", "d", "z"]).tolist() == \
        np.eye(5, dtype=int)[[1, 2, 3, 4, 0]].tolist()
    assert L.StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(DOCS4).tolist() == [[0, 1, 0, 1, 1],
                                                                                         [1, 0, 1, 0, 1]]
    assert L.StringLookup(vocabulary=VOCAB, output_mode="count")(DOCS4).tolist() == [[0, 1, 0, 1, 2],
                                                                                     [2, 0, 1, 0, 1]]
    tfidf = L.StringLookup(output_mode="tf_idf")
    tfidf.set_vocabulary(VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    assert_close(tfidf(DOCS4), np.array([[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], np.float32))
    tfidf.set_vocabulary(["[UNK]"] + VOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    assert_close(tfidf(DOCS4), np.array([[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], np.float32))
    inverse = L.StringLookup(vocabulary=VOCAB, invert=True)
    assert inverse([[1, 3, 4], [4, 0, 2]]) == [["a", "c", "d"], ["d", "[UNK]", "b"]]
    assert inverse(L.StringLookup(vocabulary=VOCAB)(DOCS)) == [["a", "c", "d"], ["d", "[UNK]", "b"]]


def test_string_lookup_mask_oov_vocab_and_config():
    layer = L.StringLookup(vocabulary=VOCAB, mask_token="")
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"] and layer.vocabulary_size() == 6
    assert layer.get_vocabulary(include_special_tokens=False) == VOCAB
    assert layer(np.array([["a", ""], ["zz", "d"]])).tolist() == [[2, 0], [1, 5]]
    assert L.StringLookup(vocabulary=VOCAB, mask_token="", invert=True)([[0, 2], [1, 5]]) == [["", "a"], ["[UNK]",
                                                                                                       "d"]]
    # the special tokens may lead the given vocabulary
    assert L.StringLookup(vocabulary=["[UNK]"] + VOCAB)(["b"]).tolist() == [2]
    assert L.StringLookup(vocabulary=VOCAB, num_oov_indices=0)(["d"]).tolist() == [3]
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        L.StringLookup(vocabulary=VOCAB, num_oov_indices=0)(["q"])
    with pytest.raises(ValueError, match="repeated term"):
        L.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="reserved mask token"):
        L.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="larger than the maximum vocab size"):
        L.StringLookup(vocabulary=VOCAB, max_tokens=3)
    with pytest.raises(ValueError, match="must be `'int'` when `invert`"):
        L.StringLookup(invert=True, output_mode="count")
    with pytest.raises(RuntimeError, match="set the layer's vocabulary"):
        L.StringLookup(output_mode="multi_hot")(["a"])
    with pytest.raises(ValueError, match="Cannot adapt"):
        L.StringLookup(vocabulary=VOCAB).adapt(["a"])
    cfg = L.StringLookup(vocabulary=VOCAB, max_tokens=10).get_config()
    keys = {"invert", "max_tokens", "num_oov_indices", "oov_token", "mask_token", "output_mode", "sparse",
            "pad_to_max_tokens", "idf_weights", "vocabulary", "vocabulary_size", "oov_method", "salt", "encoding"}
    assert keys <= set(cfg) and "vocabulary_dtype" not in cfg
    assert cfg["vocabulary"] == VOCAB and cfg["vocabulary_size"] == 5 and cfg["oov_token"] == "[UNK]"
    again = L.StringLookup.from_config(cfg)
    assert again(DOCS).tolist() == [[1, 3, 4], [4, 0, 2]]


def test_string_lookup_adapt_tf_idf_max_tokens_and_file(tmp_path):
    layer = L.StringLookup(output_mode="tf_idf", max_tokens=4, pad_to_max_tokens=True)
    layer.adapt(np.array([["a", "b", "a"], ["b", "c", "c"], ["a", "d", "d"]]))
    assert layer.get_vocabulary() == ["[UNK]", "a", "d", "c"]  # counts a3 d2 c2 b2: ties by decreasing token
    idf = [np.log(1 + 3 / (1 + n)) for n in (2, 1, 1)]  # document frequencies of a, d, c
    want = np.array([[np.mean(idf), 2 * idf[0], 0, 0]], np.float32)  # 'b' is OOV now
    assert_close(layer(np.array([["a", "b", "a"]])), want, atol=1e-6, rtol=1e-6)
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\nc\nd\n")
    assert L.StringLookup(vocabulary=str(path))(DOCS).tolist() == [[1, 3, 4], [4, 0, 2]]
    with pytest.raises(ValueError, match="does not exist"):
        L.StringLookup(vocabulary=str(tmp_path / "missing.txt"))


def test_integer_lookup_docstring_examples():
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    out = L.IntegerLookup(vocabulary=vocab)(data)
    assert out.dtype == fastnn.int64 and out.tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = L.IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    assert layer(data).tolist() == [[5, 2, 1], [1, 3, 4]]
    assert L.IntegerLookup(vocabulary=vocab, num_oov_indices=2)(np.array([[12, 1138, 42],
                                                                          [37, 1000, 36]])).tolist() == \
        [[2, 4, 5], [1, 0, 3]]
    oov = np.array([100, 300, 700, 1100, 1700, 2000])
    assert L.IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="floormod")(oov).tolist() == \
        [0] * 6
    assert L.IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")(oov).tolist() == \
        [3, 3, 2, 2, 0, 1]
    assert L.IntegerLookup(vocabulary=vocab, output_mode="multi_hot")(
        np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])).tolist() == [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]
    inverse = L.IntegerLookup(vocabulary=vocab, invert=True)
    assert inverse(np.array([[1, 3, 4], [4, 0, 2]])).tolist() == [[12, 1138, 42], [42, -1, 36]]
    assert inverse(L.IntegerLookup(vocabulary=vocab)(data)).tolist() == [[12, 1138, 42], [42, -1, 36]]
    masked = L.IntegerLookup(vocabulary=vocab, mask_token=0)
    assert masked(np.array([[0, 12]])).tolist() == [[0, 2]]
    cfg = L.IntegerLookup(vocabulary=vocab).get_config()
    assert cfg["vocabulary_dtype"] == "int64" and cfg["vocabulary"] == vocab and cfg["oov_token"] == -1
    with pytest.raises(ValueError, match="vocabulary_dtype='int64'"):
        L.IntegerLookup(vocabulary_dtype="int32")
    with pytest.raises(ValueError, match="greater than 1"):
        L.IntegerLookup(max_tokens=1)


# ---- TextVectorization ----------------------------------------------------------------------------------------
def test_text_vectorization_docstring_examples():
    layer = L.TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    out = layer([["foo qux bar"], ["qux baz"]])
    assert out.dtype == fastnn.int64 and out.tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    given = L.TextVectorization(output_mode="int", output_sequence_length=4,
                                vocabulary=["earth", "wind", "and", "fire"])
    assert given.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    assert given.vocabulary_size() == 6


def test_text_vectorization_standardize_split_ngrams():
    layer = L.TextVectorization(ngrams=2)
    layer.adapt(np.array(["The Cat sat.", "the DOG, sat!"]))
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "sat", "the dog", "the cat", "dog sat", "dog", "cat sat",
                                      "cat"]
    assert layer(np.array(["the cat sat", "a dog"])).tolist() == [[2, 9, 3, 5, 8], [1, 7, 1, 0, 0]]
    # only ASCII letters are lower-cased (tf.strings.lower), only Keras' punctuation class is stripped
    lower = L.TextVectorization(standardize="lower", split=None)
    lower.adapt(["ÄB-c"])
    assert lower.get_vocabulary() == ["", "[UNK]", "Äb-c"]
    chars = L.TextVectorization(split="character", standardize=None)
    chars.adapt(["abca"])
    assert chars.get_vocabulary() == ["", "[UNK]", "a", "c", "b"]
    assert chars(["cab"]).tolist() == [[3, 2, 4]]
    custom = L.TextVectorization(standardize=lambda s: s.replace("x", ""), split=lambda s: s.split(","))
    custom.adapt(["axb,c", "ab"])
    assert custom.get_vocabulary() == ["", "[UNK]", "ab", "c"]
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        layer(np.array([["a", "b"]]))


def test_text_vectorization_modes():
    docs = ["a b c a", "b c d", "e a"]
    for mode in ("multi_hot", "count", "tf_idf"):
        layer = L.TextVectorization(output_mode=mode, max_tokens=6, pad_to_max_tokens=True)
        layer.adapt(docs)
        assert layer.get_vocabulary() == ["[UNK]", "a", "c", "b", "e", "d"]
        out = np.asarray(layer(["a a z", "b"]))
        if mode == "multi_hot":
            assert out.tolist() == [[1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]
        elif mode == "count":
            assert out.tolist() == [[1, 2, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]]
        else:
            idf = {t: np.log(1 + 3 / (1 + n)) for t, n in (("a", 2), ("c", 2), ("b", 2), ("e", 1), ("d", 1))}
            oov = np.mean([idf[t] for t in ("a", "c", "b", "e", "d")])
            assert_close(out, np.array([[oov, 2 * idf["a"], 0, 0, 0, 0], [0, 0, 0, idf["b"], 0, 0]], np.float32),
                         atol=1e-6, rtol=1e-6)
    short = L.TextVectorization(output_sequence_length=2)
    short.adapt(docs)
    assert short(["a b c", "d"]).shape == (2, 2)
    cfg = short.get_config()
    assert cfg["output_sequence_length"] == 2 and cfg["vocabulary_size"] == 7
    again = L.TextVectorization.from_config({**cfg, "vocabulary": short.get_vocabulary()[2:]})
    assert again(["a b c", "d"]).tolist() == short(["a b c", "d"]).tolist()
    with pytest.raises(ValueError, match="must not be set"):
        L.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="`ngrams`"):
        L.TextVectorization(ngrams="2")


# ---- model.save keeps adapted state ---------------------------------------------------------------------------
def test_adapted_layers_survive_model_save_and_load(tmp_path):
    from fastnn import keras as fk

    texts = np.array(["the cat sat", "a dog ran", "the dog sat"])
    for kw in ({"output_sequence_length": 4}, {"output_mode": "tf_idf"}):
        tv = L.TextVectorization(**kw)
        tv.adapt(texts)
        inp = fk.Input(shape=(1,), dtype="string")
        h = tv(inp)
        if "output_sequence_length" in kw:
            h = L.Flatten()(L.Embedding(20, 2)(h))
        model = fk.Model(inp, L.Dense(1)(h))
        path = str(tmp_path / "text.fastnn")
        model.save(path)
        again = fk.models.load_model(path)
        assert_close(again.predict(texts[:, None], verbose=0), model.predict(texts[:, None], verbose=0))
        restored = [layer for layer in again.layers if isinstance(layer, L.TextVectorization)][0]
        assert restored.get_vocabulary() == tv.get_vocabulary()
    x = rand(20, 3, seed=9) * 2 + 3
    norm, disc = L.Normalization(), L.Discretization(num_bins=4)
    norm.adapt(x)
    disc.adapt(x)
    for layer in (norm, disc):
        model = fk.Sequential([fk.Input((3,)), layer, L.Dense(2)])
        path = str(tmp_path / "num.fastnn")
        model.save(path)
        assert_close(fk.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
    lookup = L.StringLookup()
    lookup.adapt(np.array(["a", "b", "b"]))
    model = fk.Sequential([lookup, L.Embedding(4, 2), L.Flatten()])
    model.predict(np.array([["a"]]), verbose=0)
    model.save(str(tmp_path / "lookup.fastnn"))
    again = fk.models.load_model(str(tmp_path / "lookup.fastnn"))
    assert again.layers[0].get_vocabulary() == ["[UNK]", "b", "a"]
    again.layers[0].adapt(np.array(["c", "c"]))  # still adaptable after loading
    assert again.layers[0].get_vocabulary() == ["[UNK]", "c"]
