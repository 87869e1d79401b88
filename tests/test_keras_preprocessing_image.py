"""fastnn.keras image preprocessing layers and Pipeline against Keras 3.15 (torch backend): Resizing and
CenterCrop outputs and gradients; the affine sampler against keras.ops.image.affine_transform; the random
layers against Keras where their draw is deterministic (equal factor bounds), and by their properties
otherwise (identity at inference, flips are exact flips, factor 0 is the identity, seeds repeat); and the
preprocessing layers inside Sequential / functional models trained with fit."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import config_matches as _config_matches, rand, to_np as _np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn import keras as fk  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402
from fastnn.keras.layers.preprocessing.image import affine_transform  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers
IMG = (np.random.default_rng(0).uniform(0, 255, (2, 7, 9, 3))).astype(np.float32)


# ---- Resizing / CenterCrop ----------------------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("kw", [{}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True, "fill_value": 3.0}])
@pytest.mark.parametrize("size", [(4, 5), (10, 6), (3, 3)])
def test_resizing_matches_keras(interpolation, kw, size):
    ours, theirs = L.Resizing(*size, interpolation=interpolation, **kw), KL.Resizing(*size, interpolation=interpolation,
                                                                                    **kw)
    assert_close(ours(IMG), _np(theirs(IMG)), atol=3e-4, rtol=1e-5)
    _config_matches(ours, theirs)


def test_resizing_layouts_dtypes_and_grad():
    cf = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))
    assert_close(L.Resizing(4, 5, data_format="channels_first")(cf),
                 _np(KL.Resizing(4, 5, data_format="channels_first")(cf)), atol=1e-4, rtol=1e-5)
    assert_close(L.Resizing(4, 5)(IMG[0]), _np(KL.Resizing(4, 5)(IMG[0])), atol=1e-4, rtol=1e-5)  # unbatched
    u8 = IMG.astype(np.uint8)
    out = L.Resizing(4, 5)(u8)
    assert out.dtype == fastnn.uint8  # Keras rounds back to an integer input's dtype
    assert_close(out.to(fastnn.float32), _np(KL.Resizing(4, 5)(u8)).astype(np.float32), atol=1.0, rtol=0)
    r = rand(2, 4, 5, 3, seed=3)
    xt = torch.tensor(IMG, requires_grad=True)
    (KL.Resizing(4, 5)(xt) * torch.tensor(r)).sum().backward()
    xf = fastnn.tensor(IMG, requires_grad=True)
    (L.Resizing(4, 5)(xf) * fastnn.tensor(r)).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="Only one of"):
        L.Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)(IMG)


@pytest.mark.parametrize("size", [(4, 5), (7, 9), (8, 12), (3, 10)])
def test_center_crop_matches_keras(size):
    ours, theirs = L.CenterCrop(*size), KL.CenterCrop(*size)
    assert_close(ours(IMG), _np(theirs(IMG)), atol=1e-4, rtol=1e-5)
    assert_close(ours(IMG[1]), _np(theirs(IMG[1])), atol=1e-4, rtol=1e-5)
    cf = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))
    assert_close(L.CenterCrop(*size, data_format="channels_first")(cf),
                 _np(KL.CenterCrop(*size, data_format="channels_first")(cf)), atol=1e-4, rtol=1e-5)
    assert ours(IMG.astype(np.uint8)).dtype == fastnn.float32
    _config_matches(ours, theirs)


# ---- affine sampling and the geometric layers -----------------------------------------------------------------
TRANSFORMS = np.array([[0.9, -0.3, 1.5, 0.35, 1.1, -2.2, 0, 0], [1.2, 0.1, -0.7, -0.2, 0.8, 3.1, 0, 0]], np.float32)


@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_matches_keras(fill_mode, interpolation):
    want = keras.ops.image.affine_transform(IMG, TRANSFORMS, interpolation, fill_mode, 7.0)
    assert_close(affine_transform(IMG, TRANSFORMS, interpolation, fill_mode, 7.0), _np(want), atol=1e-4, rtol=1e-5)
    cf = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))
    want_cf = keras.ops.image.affine_transform(cf, TRANSFORMS, interpolation, fill_mode, 7.0, "channels_first")
    assert_close(affine_transform(cf, TRANSFORMS, interpolation, fill_mode, 7.0, "channels_first"), _np(want_cf),
                 atol=1e-4, rtol=1e-5)


def test_affine_transform_gradient_matches_torch():
    r = rand(2, 7, 9, 3, seed=4)
    xt = torch.tensor(IMG, requires_grad=True)
    (keras.ops.image.affine_transform(xt, torch.tensor(TRANSFORMS)) * torch.tensor(r)).sum().backward()
    xf = fastnn.tensor(IMG, requires_grad=True)
    (affine_transform(xf, TRANSFORMS) * fastnn.tensor(r)).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("fill_mode", ["reflect", "constant", "wrap", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_deterministic_geometric_layers_match_keras(fill_mode, interpolation):
    # equal factor bounds make Keras' uniform draw a constant: its exact transformation is known
    kw = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=5.0)
    pairs = [(L.RandomRotation((0.1, 0.1), **kw), KL.RandomRotation((0.1, 0.1), **kw)),
             (L.RandomTranslation((0.2, 0.2), (-0.3, -0.3), **kw), KL.RandomTranslation((0.2, 0.2), (-0.3, -0.3),
                                                                                         **kw)),
             (L.RandomZoom((0.3, 0.3), (-0.2, -0.2), **kw), KL.RandomZoom((0.3, 0.3), (-0.2, -0.2), **kw)),
             (L.RandomZoom((-0.4, -0.4), **kw), KL.RandomZoom((-0.4, -0.4), **kw))]
    for ours, theirs in pairs:
        assert_close(ours(IMG), _np(theirs(IMG)), atol=1e-3, rtol=1e-5, msg=type(ours).__name__)
        assert_close(ours(IMG[0]), _np(theirs(IMG[0])), atol=1e-3, rtol=1e-5, msg=type(ours).__name__)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_perspective_transform_matches_keras(interpolation):
    from keras.src.backend.torch.image import compute_homography_matrix

    from fastnn.keras.layers.preprocessing.image import homography, perspective_transform

    start = np.array([[[0, 0], [8, 0], [0, 6], [8, 6]]] * 2, np.float32)
    end = start + np.array([[[0.5, -0.3], [-1, 0.4], [0.2, 0.7], [-0.6, -0.9]],
                            [[1, 1], [-1, 0], [0, -1], [0.3, 0.3]]], np.float32)
    assert_close(homography(start, end), _np(compute_homography_matrix(start, end)), atol=1e-5, rtol=1e-5)
    want = keras.ops.image.perspective_transform(IMG, start, end, interpolation, 5.0, data_format="channels_last")
    assert_close(perspective_transform(IMG, start, end, interpolation, 5.0), _np(want), atol=2e-3, rtol=1e-5)


def test_random_perspective_properties():
    assert_close(L.RandomPerspective(scale=0.0)(IMG), IMG, atol=1e-3, rtol=1e-6)
    assert np.array_equal(np.asarray(L.RandomPerspective(seed=1)(IMG, training=False)), IMG)
    out = np.asarray(L.RandomPerspective((1.0, 1.0), scale=0.5, fill_value=-1.0, seed=2)(IMG))
    assert out.shape == IMG.shape and not np.array_equal(out, IMG)
    assert np.array_equal(np.asarray(L.RandomPerspective((1.0, 1.0), seed=3)(IMG)),
                          np.asarray(L.RandomPerspective((1.0, 1.0), seed=3)(IMG)))
    _config_matches(L.RandomPerspective(0.5, 0.3), KL.RandomPerspective(0.5, 0.3))
    with pytest.raises(ValueError, match="scale"):
        L.RandomPerspective(scale=2.0)


def test_random_layer_configs_match_keras():
    pairs = [(L.RandomFlip("horizontal", seed=3), KL.RandomFlip("horizontal", seed=3)),
             (L.RandomRotation(0.2, fill_mode="constant", seed=1),
              KL.RandomRotation(0.2, fill_mode="constant", seed=1)),
             (L.RandomRotation((-0.1, 0.3)), KL.RandomRotation((-0.1, 0.3))),
             (L.RandomTranslation(0.1, (-0.2, 0.3)), KL.RandomTranslation(0.1, (-0.2, 0.3))),
             (L.RandomZoom(0.2), KL.RandomZoom(0.2)), (L.RandomZoom(0.2, 0.1), KL.RandomZoom(0.2, 0.1)),
             (L.RandomContrast(0.3), KL.RandomContrast(0.3)),
             (L.RandomContrast((0.1, 0.4)), KL.RandomContrast((0.1, 0.4))),
             (L.RandomBrightness(0.2, value_range=(0, 1)), KL.RandomBrightness(0.2, value_range=(0, 1))),
             (L.RandomCrop(3, 4, seed=2), KL.RandomCrop(3, 4, seed=2))]
    for ours, theirs in pairs:
        _config_matches(ours, theirs)
    with pytest.raises(ValueError, match="factor"):
        L.RandomRotation(1.5)
    with pytest.raises(NotImplementedError, match="fill_mode"):
        L.RandomZoom(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match=r"\(-1.0, 1.0\]"):
        L.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="unknown mode"):
        L.RandomFlip("diagonal")


def test_brightness_and_crop_deterministic_cases_match_keras():
    ours, theirs = L.RandomBrightness((0.1, 0.1)), KL.RandomBrightness((0.1, 0.1))
    assert_close(ours(IMG), _np(theirs(IMG)), atol=1e-4, rtol=1e-6)
    # an image not larger than the crop: Keras crops to the aspect ratio and resizes, with no random draw
    ours, theirs = L.RandomCrop(8, 4), KL.RandomCrop(8, 4)
    assert_close(ours(IMG), _np(theirs(IMG)), atol=1e-4, rtol=1e-5)
    # inference: Keras 3.15 returns the input unchanged (no crop)
    assert_close(L.RandomCrop(3, 4)(IMG, training=False), _np(KL.RandomCrop(3, 4)(IMG, training=False)))


RANDOM_LAYERS = [lambda s: L.RandomFlip(seed=s), lambda s: L.RandomRotation(0.3, seed=s),
                 lambda s: L.RandomTranslation(0.2, 0.2, seed=s), lambda s: L.RandomZoom(0.3, seed=s),
                 lambda s: L.RandomContrast(0.5, seed=s), lambda s: L.RandomBrightness(0.3, seed=s),
                 lambda s: L.RandomCrop(4, 5, seed=s)]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_inference_identity_training_random_and_seeded(make):
    layer = make(7)
    assert np.array_equal(np.asarray(layer(IMG, training=False)), IMG)
    a, b = np.asarray(make(7)(IMG)), np.asarray(make(7)(IMG))  # training=None is training, as in Keras
    assert np.array_equal(a, b), "equal seeds give equal transformations"
    many = np.repeat(IMG[:1], 12, axis=0)
    layer = make(1)
    outs = np.asarray(layer(many))
    if not isinstance(layer, L.RandomCrop):  # Keras' RandomCrop draws one window per batch
        assert len({o.tobytes() for o in outs}) > 1, "images of a batch get their own draws"
    draws = {np.asarray(layer(many)).tobytes() for _ in range(6)}
    assert len(draws) > 1, "successive calls draw anew"


def test_random_flip_gives_exact_flips():
    many = np.repeat(IMG[:1], 16, axis=0)
    cases = {"horizontal": lambda x: x[:, ::-1], "vertical": lambda x: x[::-1],
             "horizontal_and_vertical": lambda x: x[::-1, ::-1]}
    for mode, flipped in cases.items():
        out = np.asarray(L.RandomFlip(mode, seed=0)(many))
        kinds = []
        for o in out:
            if np.array_equal(o, many[0]):
                kinds.append(0)
            else:
                assert np.array_equal(o, flipped(many[0])), mode
                kinds.append(1)
        assert set(kinds) == {0, 1}, f"{mode}: both outcomes appear in 16 draws"
    cf = np.ascontiguousarray(many.transpose(0, 3, 1, 2))
    out = np.asarray(L.RandomFlip("horizontal", seed=0, data_format="channels_first")(cf))
    assert all(np.array_equal(o, cf[0]) or np.array_equal(o, cf[0][:, :, ::-1]) for o in out)


def test_zero_factors_are_the_identity_in_training():
    for layer in (L.RandomRotation(0.0), L.RandomTranslation(0.0, 0.0), L.RandomZoom(0.0), L.RandomBrightness(0.0)):
        assert np.array_equal(np.asarray(layer(IMG, training=True)), IMG), type(layer).__name__
    assert_close(L.RandomContrast(0.0)(IMG, training=True), IMG, atol=1e-4, rtol=1e-6)


def test_random_crop_is_a_window_and_contrast_scales_about_the_mean():
    out = np.asarray(L.RandomCrop(4, 5, seed=3)(IMG, training=True))
    assert out.shape == (2, 4, 5, 3)
    windows = [(i, j) for i in range(4) for j in range(5) if np.array_equal(out, IMG[:, i:i + 4, j:j + 5])]
    assert len(windows) == 1
    y = np.asarray(L.RandomContrast((0.2, 0.5), value_range=(-1e6, 1e6), seed=4)(IMG, training=True))
    mean = IMG.mean(axis=(1, 2), keepdims=True)
    f = (y - mean) / (IMG - mean)
    per_image = f.reshape(2, -1)
    assert np.allclose(per_image, per_image[:, :1], atol=1e-3)
    assert np.all((per_image >= 0.8 - 1e-4) & (per_image <= 1.5 + 1e-4))
    clipped = np.asarray(L.RandomContrast(0.5, seed=4)(IMG, training=True))
    assert clipped.min() >= 0 and clipped.max() <= 255


# ---- Pipeline -------------------------------------------------------------------------------------------------
def test_pipeline_matches_keras_and_round_trips():
    ours = L.Pipeline([L.Resizing(6, 8), L.CenterCrop(4, 4), L.Rescaling(1 / 255.0)])
    theirs = KL.Pipeline([KL.Resizing(6, 8), KL.CenterCrop(4, 4), KL.Rescaling(1 / 255.0)])
    assert_close(ours(IMG), _np(theirs(IMG)), atol=1e-5, rtol=1e-5)
    cfg, kcfg = ours.get_config(), theirs.get_config()
    assert set(cfg) == set(kcfg) and [c["class_name"] for c in cfg["layers"]] == [c["class_name"] for c in
                                                                                    kcfg["layers"]]
    again = L.Pipeline.from_config(cfg)
    assert [type(layer).__name__ for layer in again.layers] == ["Resizing", "CenterCrop", "Rescaling"]
    assert_close(again(IMG), ours(IMG))
    flip = L.Pipeline([L.RandomFlip(seed=1)])
    assert np.array_equal(np.asarray(flip(IMG, training=False)), IMG)
    with pytest.raises(ValueError, match="layers"):
        L.Pipeline.from_config({"name": "p"})


# ---- inside models ----------------------------------------------------------------------------------------------
def test_augmentation_and_normalization_train_in_a_sequential_model():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (16, 8, 8, 3)).astype(np.float32)
    labels = rng.integers(0, 2, 16).astype(np.float32)
    norm = L.Normalization()
    norm.adapt(images)
    model = fk.Sequential([fk.Input((8, 8, 3)), L.Pipeline([L.RandomFlip(seed=1), L.RandomRotation(0.1, seed=2)]),
                           L.RandomZoom(0.1, seed=3), L.RandomTranslation(0.1, 0.1, seed=4), L.Resizing(6, 6),
                           norm, L.Flatten(), L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(images, labels, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(v) for v in history.history["loss"])
    # predict runs the augmentations as the identity: equal to the model without them
    plain = fk.Sequential([fk.Input((8, 8, 3)), L.Resizing(6, 6), norm, L.Flatten(), model.layers[-1]])
    assert_close(model.predict(images[:4], verbose=0), plain.predict(images[:4], verbose=0), atol=1e-5, rtol=1e-5)


def test_text_vectorization_in_a_functional_model_fit_and_predict():
    texts = np.array(["the cat sat", "a dog ran", "the dog sat", "a cat ran"] * 8)
    y = np.array([0, 1, 0, 1] * 8, dtype=np.float32)
    tv = L.TextVectorization(max_tokens=20, output_sequence_length=4)
    tv.adapt(texts)
    inp = fk.Input(shape=(1,), dtype="string")
    h = L.GlobalAveragePooling1D()(L.Embedding(20, 8)(tv(inp)))
    model = fk.Model(inp, L.Dense(1, activation="sigmoid")(h))
    model.compile("adam", "binary_crossentropy")
    history = model.fit(texts[:, None], y, epochs=25, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    pred = model.predict(texts[:4, None], verbose=0).ravel()
    assert pred.shape == (4,) and pred[1] > pred[0] and pred[3] > pred[2]
    lookup = fk.Sequential([L.StringLookup(vocabulary=["a", "b", "c"]), L.Embedding(5, 3), L.Flatten(), L.Dense(1)])
    lookup.compile("sgd", "mse")
    lookup.fit(np.array([["a", "b"], ["c", "z"]]), np.array([1.0, 0.0]), epochs=2, verbose=0)
    assert lookup.predict(np.array([["a", "b"]]), verbose=0).shape == (1, 1)


# ---- colour layers and shear ----------------------------------------------------------------------------------
def test_color_layers_match_keras_where_deterministic():
    x = IMG.copy()
    x[1, ..., 2] = 7.0  # a flat channel: AutoContrast leaves it as it is
    assert_close(L.AutoContrast()(x), _np(KL.AutoContrast()(x)), atol=1e-4, rtol=1e-6)
    assert_close(L.AutoContrast(value_range=(0, 1))(x / 255), _np(KL.AutoContrast(value_range=(0, 1))(x / 255)),
                 atol=1e-6, rtol=1e-6)
    u8 = x.astype(np.uint8)
    assert_close(L.AutoContrast()(u8), _np(KL.AutoContrast()(u8)), atol=1e-4, rtol=1e-6)
    cf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    # Keras 3.15 reduces over axes (1, 2) whatever the data_format (channels and rows for channels_first);
    # fastnn reduces over the image's rows and columns in both layouts
    assert_close(L.AutoContrast(data_format="channels_first")(cf),
                 np.asarray(L.AutoContrast()(x)).transpose(0, 3, 1, 2), atol=1e-4, rtol=1e-6)
    assert_close(L.RandomGrayscale(1.0)(x), _np(KL.RandomGrayscale(1.0)(x)), atol=1e-4, rtol=1e-6)
    assert np.array_equal(np.asarray(L.RandomGrayscale(0.0)(x)), x)
    assert_close(L.RandomInvert((1.0, 1.0))(x), _np(KL.RandomInvert((1.0, 1.0))(x)))
    for vr, data in (((0, 255), x), ((0, 1), x / 255)):
        assert_close(L.Solarization(0.0, 0.0, value_range=vr)(data),
                     _np(KL.Solarization(0.0, 0.0, value_range=vr)(data)), atol=1e-5, rtol=1e-6)
    pairs = [(L.AutoContrast(), KL.AutoContrast()), (L.RandomGrayscale(0.3), KL.RandomGrayscale(0.3)),
             (L.RandomInvert(0.4), KL.RandomInvert(0.4)),
             (L.Solarization(0.2, (0.1, 0.5)), KL.Solarization(0.2, (0.1, 0.5))),
             (L.RandomShear(0.2, (0.1, 0.4)), KL.RandomShear(0.2, (0.1, 0.4)))]
    for ours, theirs in pairs:
        _config_matches(ours, theirs)


def test_posterization_degeneration_sharpness_match_keras_where_deterministic():
    for f in ((4, 4), (1, 1), (8, 8)):
        assert_close(L.RandomPosterization(f)(IMG), _np(KL.RandomPosterization(f)(IMG)))
        assert_close(L.RandomPosterization(f, value_range=(0, 1))(IMG / 255),
                     _np(KL.RandomPosterization(f, value_range=(0, 1))(IMG / 255)), atol=1e-6, rtol=1e-6)
    assert_close(L.RandomColorDegeneration((0.4, 0.4))(IMG), _np(KL.RandomColorDegeneration((0.4, 0.4))(IMG)),
                 atol=1e-4, rtol=1e-6)
    assert_close(L.RandomSharpness((0.3, 0.3))(IMG), _np(KL.RandomSharpness((0.3, 0.3))(IMG)), atol=1e-4, rtol=1e-6)
    assert_close(L.RandomSharpness((0.9, 0.9))(IMG[0]), _np(KL.RandomSharpness((0.9, 0.9))(IMG[0])), atol=1e-4,
                 rtol=1e-6)
    cf = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))
    assert_close(L.RandomSharpness((0.3, 0.3), data_format="channels_first")(cf),
                 _np(KL.RandomSharpness((0.3, 0.3), data_format="channels_first")(cf)), atol=1e-4, rtol=1e-6)
    for ours, theirs in ((L.RandomPosterization(4), KL.RandomPosterization(4)),
                         (L.RandomColorDegeneration(0.3), KL.RandomColorDegeneration(0.3)),
                         (L.RandomSharpness(0.3), KL.RandomSharpness(0.3))):
        _config_matches(ours, theirs)
        assert np.array_equal(np.asarray(ours(IMG, training=False)), IMG)
    bits = np.asarray(L.RandomPosterization((2, 6), seed=1)(np.repeat(IMG[:1], 8, axis=0)))
    assert all(any(np.array_equal(b, np.floor(np.floor(IMG[0]) / 2 ** (8 - k)) * 2 ** (8 - k)) for k in range(2, 6))
               for b in bits)


def test_hsv_hue_and_saturation_match_keras():
    from fastnn.keras.layers.preprocessing.image_color import hsv_to_rgb, rgb_to_hsv

    x = IMG / 255
    x[0, 0, 0], x[0, 0, 1] = 0.04, 0.0  # grey and black pixels: hue and saturation 0
    assert_close(rgb_to_hsv(x), _np(keras.ops.image.rgb_to_hsv(x)), atol=1e-6, rtol=1e-6)
    assert_close(hsv_to_rgb(x), _np(keras.ops.image.hsv_to_rgb(x)), atol=1e-6, rtol=1e-6)
    cf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    assert_close(rgb_to_hsv(cf, "channels_first"), _np(keras.ops.image.rgb_to_hsv(cf, "channels_first")), atol=1e-6,
                 rtol=1e-6)
    for f in ((0.5, 0.5), (0.2, 0.2), (0.9, 0.9)):
        for vr in ((0, 255), (0, 1)):
            assert_close(L.RandomSaturation(f, value_range=vr)(x), _np(KL.RandomSaturation(f, value_range=vr)(x)),
                         atol=1e-5, rtol=1e-5)

    def shifted(sign):  # Keras' RandomHue with its per-image sign fixed
        hsv = _np(keras.ops.image.rgb_to_hsv(IMG / 255))
        h = hsv[..., 0] + sign * 0.2
        hsv[..., 0] = np.where(h > 1, h - 1, np.where(h < 0, h + 1, h))
        return np.clip(_np(keras.ops.image.hsv_to_rgb(hsv)), 0, 1) * 255

    plus, minus = shifted(1), shifted(-1)
    for out in (np.asarray(L.RandomHue((0.4, 0.4), seed=1)(IMG)), _np(KL.RandomHue((0.4, 0.4), seed=1)(IMG))):
        for i, o in enumerate(out):
            assert np.allclose(o, plus[i], atol=1e-3) or np.allclose(o, minus[i], atol=1e-3)
    for ours, theirs in ((L.RandomHue(0.3), KL.RandomHue(0.3)), (L.RandomSaturation(0.3), KL.RandomSaturation(0.3))):
        _config_matches(ours, theirs)
        assert np.array_equal(np.asarray(ours(IMG, training=False)), IMG)


def test_gaussian_blur_and_color_jitter_match_keras_where_deterministic():
    from fastnn.keras.layers.preprocessing.image_color import gaussian_blur

    for k, sigma in ((3, (0.7, 1.3)), (5, (0.7, 0.4))):
        want = keras.ops.image.gaussian_blur(IMG, (k, k), sigma, data_format="channels_last")
        assert_close(gaussian_blur(IMG, (k, k), sigma), _np(want), atol=1e-4, rtol=1e-6)
    assert_close(L.RandomGaussianBlur((1, 1), 3, (0.5, 0.5))(IMG),
                 _np(KL.RandomGaussianBlur((1, 1), 3, (0.5, 0.5))(IMG)), atol=1e-4, rtol=1e-6)
    assert_close(L.RandomGaussianBlur((1, 1), 5, (0.8, 0.8))(IMG[0]),
                 _np(KL.RandomGaussianBlur((1, 1), 5, (0.8, 0.8))(IMG[0])), atol=1e-4, rtol=1e-6)
    assert np.array_equal(np.asarray(L.RandomGaussianBlur((0, 0))(IMG)), IMG)
    kw = dict(brightness_factor=(0.1, 0.1), saturation_factor=(0.3, 0.3))
    assert_close(L.RandomColorJitter(**kw)(IMG), _np(KL.RandomColorJitter(**kw)(IMG)), atol=1e-4, rtol=1e-6)
    for ours, theirs in ((L.RandomGaussianBlur(0.5, (3, 5), 0.3), KL.RandomGaussianBlur(0.5, (3, 5), 0.3)),
                         (L.RandomColorJitter(brightness_factor=0.2, hue_factor=0.1, seed=3),
                          KL.RandomColorJitter(brightness_factor=0.2, hue_factor=0.1, seed=3))):
        _config_matches(ours, theirs)
        assert np.array_equal(np.asarray(ours(IMG, training=False)), IMG)
    with pytest.raises(ValueError, match="odd"):
        L.RandomGaussianBlur(kernel_size=4)


@pytest.mark.filterwarnings("ignore:Tensor.T is deprecated")  # inside Keras' torch backend
def test_equalization_matches_keras():
    x = IMG.copy()
    x[..., 2] = 9.0  # one flat channel: a single bin, left unchanged
    assert_close(L.Equalization()(x), _np(KL.Equalization()(x)))
    assert_close(L.Equalization(bins=16)(x[0]), _np(KL.Equalization(bins=16)(x[0])))
    assert_close(L.Equalization(value_range=(0, 1))(x / 255), _np(KL.Equalization(value_range=(0, 1))(x / 255)),
                 atol=1e-6, rtol=1e-6)
    cf = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    assert_close(L.Equalization(data_format="channels_first")(cf),
                 _np(KL.Equalization(data_format="channels_first")(cf)))
    assert np.array_equal(np.asarray(L.Equalization()(x, training=False)), x)
    _config_matches(L.Equalization(bins=64), KL.Equalization(bins=64))


def test_random_erasing_fills_one_rectangle():
    x = np.random.default_rng(3).uniform(0, 255, (8, 10, 12, 3)).astype(np.float32)
    out = np.asarray(L.RandomErasing((1.0, 1.0), scale=(0.1, 0.3), fill_value=7.0, seed=1)(x))
    for o, a in zip(out, x):
        changed = (o != a).any(-1)
        ys, xs = np.nonzero(changed)
        assert changed.any() and np.all(o[changed] == 7.0)
        assert changed[ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()  # a filled rectangle
        assert changed.sum() <= 0.3 * 120 + 2 * (10 + 12)
    colour = np.asarray(L.RandomErasing((1.0, 1.0), fill_value=(1, 2, 300), seed=2)(x))
    changed = (colour != x).any(-1)
    assert np.array_equal(colour[changed], np.tile([1.0, 2.0, 255.0], (int(changed.sum()), 1)))  # clipped
    noise = np.asarray(L.RandomErasing((1.0, 1.0), seed=3)(x))
    assert noise.min() >= 0 and noise.max() <= 255
    assert np.array_equal(np.asarray(L.RandomErasing(seed=4)(x, training=False)), x)
    _config_matches(L.RandomErasing(0.5, (0.1, 0.2), fill_value=(1, 2, 3)),
                    KL.RandomErasing(0.5, (0.1, 0.2), fill_value=(1, 2, 3)))


def test_mixup_and_cutmix_mix_images_and_labels_alike():
    x = np.random.default_rng(5).uniform(0, 255, (6, 5, 6, 3)).astype(np.float32)
    y = np.eye(6, dtype=np.float32)
    out = L.MixUp(seed=1)({"images": x, "labels": y})
    images, labels = np.asarray(out["images"]), np.asarray(out["labels"])
    assert np.allclose(labels.sum(1), 1.0, atol=1e-5)
    for i in range(6):
        others = [k for k in range(6) if k != i and labels[i, k] > 0]
        j, w = (others[0], labels[i, i]) if others else (i, 1.0)
        assert np.allclose(images[i], w * x[i] + (1 - w) * x[j], atol=1e-2)
    out = L.CutMix(seed=2)({"images": x, "labels": y})
    images, labels = np.asarray(out["images"]), np.asarray(out["labels"])
    assert np.allclose(labels.sum(1), 1.0, atol=1e-5)
    for i in range(6):
        pasted = ~(images[i] == x[i]).all(-1)
        if pasted.any():
            ys, xs = np.nonzero(pasted)
            sources = [k for k in range(6) if np.array_equal(images[i][pasted], x[k][pasted])]
            assert sources and labels[i, sources[0]] > 0
            box = np.zeros_like(pasted)
            box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
            assert np.all(pasted <= box)
    assert np.array_equal(np.asarray(L.MixUp(seed=3)(x)).shape, x.shape)
    assert np.array_equal(np.asarray(L.CutMix()(x, training=False)), x)
    with pytest.raises(NotImplementedError, match="bounding_boxes"):
        L.MixUp()({"images": x, "bounding_boxes": {}})
    for ours, theirs in ((L.MixUp(0.3, seed=1), KL.MixUp(0.3, seed=1)), (L.CutMix(0.5), KL.CutMix(0.5))):
        _config_matches(ours, theirs)


def test_rand_augment_applies_num_ops_of_its_layers():
    x = np.random.default_rng(6).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
    a, b = np.asarray(L.RandAugment(seed=3)(x)), np.asarray(L.RandAugment(seed=3)(x))
    assert a.shape == x.shape and np.array_equal(a, b) and a.min() >= 0 and a.max() <= 255
    assert np.array_equal(np.asarray(L.RandAugment(seed=3)(x, training=False)), x)
    assert np.array_equal(np.asarray(L.RandAugment(num_ops=0)(x)), x)
    # one op drawn: the output is that layer's own output for an equal draw (deterministic ones exactly)
    layer = L.RandAugment(num_ops=1, seed=4)
    deterministic = {"auto_contrast": L.AutoContrast(), "equalization": L.Equalization()}
    seen = set()
    for _ in range(40):
        out = np.asarray(layer(x))
        for name, ref in deterministic.items():
            if np.allclose(out, np.asarray(ref(x, training=True)), atol=1e-4):
                seen.add(name)
    assert seen, "auto_contrast or equalization is picked in 40 draws of 1 op out of 11"
    _config_matches(L.RandAugment(factor=0.3, seed=1), KL.RandAugment(factor=0.3, seed=1))


def test_color_layers_random_behaviour():
    many = np.repeat(IMG[:1], 16, axis=0)
    gray = np.asarray(L.RandomGrayscale(0.5, seed=1)(many))
    full = np.asarray(L.RandomGrayscale(1.0)(many[:1]))[0]
    kinds = [0 if np.array_equal(g, many[0]) else 1 for g in gray]
    assert all(np.array_equal(g, full) for g, k in zip(gray, kinds) if k) and set(kinds) == {0, 1}
    inv = np.asarray(L.RandomInvert(0.5, seed=2)(many))
    assert all(np.array_equal(o, many[0]) or np.allclose(o, 255 - many[0]) for o in inv)
    sol = np.asarray(L.Solarization(0.0, (0.4, 0.6), seed=3)(many))
    for o in sol:  # pixels below the threshold are kept, the others inverted
        kept = np.isclose(o, many[0])
        assert np.all(kept | np.isclose(o, 255 - many[0]))
    for layer in (L.RandomGrayscale(1.0), L.RandomInvert(1.0), L.Solarization(0.5, 0.5), L.RandomShear(0.5)):
        assert np.array_equal(np.asarray(layer(IMG, training=False)), IMG), type(layer).__name__


def test_random_shear_is_keras_shear_with_a_random_sign():
    many = np.repeat(IMG[:1], 8, axis=0)
    out = np.asarray(L.RandomShear((0.3, 0.3), (0.1, 0.1), seed=1)(many))

    def sheared(sign):
        t = np.array([[1, 0.3 * sign, 0, 0.1 * sign, 1, 0, 0, 0]] * 8, np.float32)
        return _np(keras.ops.image.affine_transform(many, t, fill_mode="reflect"))

    plus, minus = sheared(1), sheared(-1)
    signs = [1 if np.allclose(o, p, atol=1e-3) else (-1 if np.allclose(o, m, atol=1e-3) else 0)
             for o, p, m in zip(out, plus, minus)]
    assert 0 not in signs and set(signs) == {1, -1}
    assert np.array_equal(np.asarray(L.RandomShear(0.0, 0.0)(IMG)), IMG)


# ---- which of Keras' preprocessing layers exist -----------------------------------------------------------------
NOT_BUILT = {  # Keras 3.15 preprocessing layers fastnn.keras does not provide yet, and why (none is TF-only)
    "AugMix": "augmentation policy mixing chains of augmentations with Dirichlet weights: not built yet",
    "MaxNumBoundingBoxes": "bounding boxes only; fastnn.keras has no bounding-box inputs",
    "ContrastLimitedAdaptiveHistogramEqualization": "tiled histogram equalisation: not built yet",
    "MelSpectrogram": "audio: needs an STFT (fastnn has no FFT op yet)",
    "STFTSpectrogram": "audio: needs an STFT (fastnn has no FFT op yet)",
    "RandomElasticTransform": "Gaussian-smoothed random displacement fields: not built yet",
}


def test_keras_preprocessing_surface():
    import inspect

    names = {n for n in dir(KL) if inspect.isclass(getattr(KL, n)) and "preprocessing" in getattr(KL, n).__module__}
    have = {n for n in names if hasattr(L, n)}
    assert names - have == set(NOT_BUILT), sorted(names - have ^ set(NOT_BUILT))
    print(f"keras.layers preprocessing: {len(have)} / {len(names)} present")


def test_every_preprocessing_layer_round_trips_its_config():
    layers = [L.Normalization(axis=(1, 2), mean=[1.0], variance=[2.0], invert=True), L.Rescaling([0.5, 2.0], 1.0),
              L.CategoryEncoding(5, "count"), L.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot"),
              L.Hashing(7, mask_value="", salt=[3, 4], output_mode="multi_hot"), L.HashedCrossing(9, "one_hot"),
              L.StringLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2),
              L.IntegerLookup(vocabulary=[4, 5], output_mode="count"),
              L.TextVectorization(max_tokens=9, ngrams=2, output_mode="count", vocabulary=["a", "b"]),
              L.Resizing(3, 4, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=2.0),
              L.CenterCrop(2, 3, data_format="channels_first"), L.RandomCrop(2, 2, seed=1),
              L.RandomFlip("vertical", seed=2), L.RandomRotation((-0.2, 0.1), fill_mode="wrap", seed=3),
              L.RandomTranslation(0.1, (-0.2, 0.2), interpolation="nearest"), L.RandomZoom(0.2, 0.3),
              L.RandomContrast(0.4), L.RandomBrightness((-0.1, 0.2), value_range=(0, 1)),
              L.AutoContrast(value_range=(0, 1)), L.RandomGrayscale(0.2), L.RandomInvert(0.3), L.Solarization(0.1, 0.2),
              L.RandomShear(0.1, 0.2), L.RandomPosterization(3), L.RandomColorDegeneration(0.2),
              L.RandomSharpness(0.3), L.RandomHue(0.2), L.RandomSaturation(0.3), L.RandomGaussianBlur(0.5, 5, 0.4),
              L.RandomColorJitter(brightness_factor=0.1, contrast_factor=0.2, seed=5), L.Equalization(bins=64),
              L.RandomErasing(0.5, (0.1, 0.2), fill_value=(1, 2, 3)), L.MixUp(0.3, seed=1), L.CutMix(0.5),
              L.RandAugment(num_ops=3, factor=0.3, seed=2), L.RandomPerspective(0.5, 0.3, fill_value=1.0)]
    for layer in layers:
        cfg = layer.get_config()
        again = type(layer).from_config({**cfg, "name": cfg["name"] + "_copy"}).get_config()
        assert {k: v for k, v in again.items() if k != "name"} == {k: v for k, v in cfg.items() if k != "name"}, \
            type(layer).__name__
