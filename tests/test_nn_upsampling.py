"""interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area), pixel_shuffle / pixel_unshuffle,
unfold / fold and their modules (Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle, PixelUnshuffle,
Unfold, Fold) against torch 2.13: values, input gradients, grad_fn names, repr, errors; float64 gradcheck;
odd, size-1, zero-batch and non-contiguous inputs."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional


def _check(fo, ft, x, seed=0, name=True):
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = fo(xo), ft(xt)
    assert yo.shape == tuple(yt.shape)
    assert_matches(yo, yt, "forward")
    if name and yt.grad_fn is not None:
        assert yo.grad_fn.name_() == yt.grad_fn.name()
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(x.dtype)
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_matches(xo.grad, xt.grad, "input grad")


SIZES_2D = [dict(scale_factor=2), dict(scale_factor=1.7), dict(size=(5, 3)), dict(scale_factor=(0.6, 2.3)),
            dict(size=(1, 1)), dict(size=(4, 5)), dict(scale_factor=0.5, recompute_scale_factor=True)]


@pytest.mark.parametrize("kw", SIZES_2D, ids=str)
@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                     ("bilinear", True), ("bicubic", False), ("bicubic", True), ("area", None)])
def test_interpolate_2d_matches_torch(mode, ac, kw):
    if mode == "area" and kw.get("size") == (1, 1):
        pytest.skip("torch reduces to a mean there (another grad_fn); the values are checked in the 5-D test")
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    _check(lambda t: F.interpolate(t, mode=mode, align_corners=ac, **kw),
           lambda t: TF.interpolate(t, mode=mode, align_corners=ac, **kw), x)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 7), dict(mode="linear", scale_factor=1.3)),
    ((2, 3, 7), dict(mode="linear", size=11, align_corners=True)),
    ((2, 3, 7), dict(mode="nearest", scale_factor=1 / 3)),
    ((2, 3, 10), dict(mode="nearest", scale_factor=0.3)),
    ((1, 1, 1), dict(mode="linear", size=4)),
    ((2, 3, 10), dict(mode="nearest-exact", scale_factor=0.3)),
    ((2, 3, 10), dict(mode="area", size=4)),
    ((2, 3, 4, 3, 5), dict(mode="trilinear", scale_factor=1.5)),
    ((2, 3, 4, 3, 5), dict(mode="trilinear", size=(2, 5, 3), align_corners=True)),
    ((2, 3, 4, 3, 5), dict(mode="nearest", size=(5, 7, 2))),
    ((2, 3, 4, 3, 5), dict(mode="area", size=(3, 2, 4))),
    ((0, 3, 4, 5), dict(mode="bilinear", scale_factor=2)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_1d_3d_matches_torch(shape, kw, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    # torch's 1-D area mode is adaptive_avg_pool1d, an unsqueeze / 2-D pool / squeeze chain (SqueezeBackward1)
    _check(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), x,
           name=not (kw["mode"] == "area" and len(shape) == 3))


def test_interpolate_float32_and_noncontiguous():
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 3)).astype(np.float32)
    xo, xt = fastnn.tensor(x).permute(0, 3, 1, 2), torch.tensor(x).permute(0, 3, 1, 2)
    assert not xo.is_contiguous()
    for mode in ("bilinear", "bicubic", "nearest"):
        assert_matches(F.interpolate(xo, scale_factor=3.3, mode=mode), TF.interpolate(xt, scale_factor=3.3, mode=mode),
                       mode)


def test_gradcheck_float64():
    gradcheck_op(lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"), (1, 2, 3, 4))
    gradcheck_op(lambda x: F.interpolate(x, size=(5, 2), mode="bicubic", align_corners=True), (1, 1, 3, 4))
    gradcheck_op(lambda x: F.interpolate(x, size=5, mode="nearest"), (2, 2, 3))
    gradcheck_op(lambda x: F.interpolate(x, size=(2, 3, 2), mode="area"), (1, 1, 3, 4, 5))
    gradcheck_op(lambda x: F.pixel_shuffle(x, 2), (2, 8, 2, 3))
    gradcheck_op(lambda x: F.pixel_unshuffle(x, 2), (1, 2, 4, 2))
    gradcheck_op(lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), (2, 2, 4, 5))
    gradcheck_op(lambda x: F.fold(x, (4, 5), 2, stride=1), (2, 8, 12))


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((9, 2, 1), 3), ((2, 3, 4, 2, 3), 2), ((0, 4, 2, 2), 2),
                                     ((1, 1, 1), 1)])
def test_pixel_shuffle_matches_torch(shape, r):
    x = np.random.default_rng(3).standard_normal(shape)
    if shape[0] == 0:  # torch's own pixel_shuffle backward rejects a zero batch; ours gives the input's shape
        t = fastnn.tensor(x, requires_grad=True)
        y = F.pixel_shuffle(t, r)
        assert y.shape == tuple(TF.pixel_shuffle(torch.tensor(x), r).shape)
        y.sum().backward()
        assert t.grad.shape == shape
        return
    _check(lambda t: F.pixel_shuffle(t, r), lambda t: TF.pixel_shuffle(t, r), x)
    y = TF.pixel_shuffle(torch.tensor(x), r).numpy()
    _check(lambda t: F.pixel_unshuffle(t, r), lambda t: TF.pixel_unshuffle(t, r), y)


@pytest.mark.parametrize("shape,kw", [((2, 3, 5, 6), dict(kernel_size=2)),
                                      ((3, 5, 6), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))),
                                      ((0, 2, 4, 4), dict(kernel_size=3, padding=1)),
                                      ((1, 1, 1, 1), dict(kernel_size=1))])
def test_unfold_fold_match_torch(shape, kw):
    x = np.random.default_rng(4).standard_normal(shape)
    _check(lambda t: F.unfold(t, **kw), lambda t: TF.unfold(t, **kw), x)
    cols = TF.unfold(torch.tensor(x), **kw).numpy()
    _check(lambda t: F.fold(t, shape[-2:], **kw), lambda t: TF.fold(t, shape[-2:], **kw), cols)


MODULES = [("Upsample", dict(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
           ("Upsample", dict(size=(3, 4)), (1, 2, 5, 5)),
           ("Upsample", dict(scale_factor=(2, 3), mode="nearest"), (1, 2, 2, 3)),
           ("Upsample", dict(size=7, mode="linear", align_corners=True), (2, 3, 4)),
           ("UpsamplingNearest2d", dict(scale_factor=2), (2, 3, 3, 4)),
           ("UpsamplingBilinear2d", dict(size=3), (1, 2, 5, 4)),
           ("PixelShuffle", dict(upscale_factor=2), (2, 8, 3, 3)),
           ("PixelUnshuffle", dict(downscale_factor=3), (1, 2, 6, 3)),
           ("Unfold", dict(kernel_size=3, padding=1), (2, 2, 4, 5)),
           ("Fold", dict(output_size=(4, 5), kernel_size=2), (2, 8, 12))]


@pytest.mark.parametrize("name,kw,shape", MODULES, ids=lambda v: v if isinstance(v, str) else None)
def test_modules_match_torch(name, kw, shape):
    ours, theirs = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    _check(ours, theirs, x)


def test_errors_match_torch():
    x = fastnn.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="Input and output must have the same number of spatial dimensions"):
        F.interpolate(x, size=(5,))
    with pytest.raises(ValueError, match="Input and scale_factor must have the same number of spatial dimensions"):
        F.interpolate(x, scale_factor=(2,))
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, 3, 2)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D input"):
        F.interpolate(x, 3, mode="linear")
    with pytest.raises(NotImplementedError, match="Got 4D input, but trilinear mode needs 5D input"):
        F.interpolate(x, 3, mode="trilinear")
    with pytest.raises(NotImplementedError, match=r"Only 3D, 4D and 5D input Tensors supported \(got 4D\) "
                                                  r".*\(got foo\)"):
        F.interpolate(x, 3, mode="foo")
    with pytest.raises(NotImplementedError, match=r"Only 3D, 4D and 5D input Tensors supported \(got 2D\)"):
        F.interpolate(fastnn.randn(2, 3), 4)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(x, 3, mode="nearest", align_corners=True)
    with pytest.raises(RuntimeError, match=r"Input and output sizes should be greater than 0, but got input \(H: 3, "
                                           r"W: 4\) output \(H: 0, W: 0\)"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an explicit size"):
        F.interpolate(x, 3, recompute_scale_factor=True)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(x, 3, mode="bilinear", antialias=True)
    with pytest.raises(RuntimeError, match="pixel_shuffle expects input to have at least 3 dimensions"):
        F.pixel_shuffle(fastnn.randn(2, 3), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        F.pixel_shuffle(fastnn.randn(5, 2, 3), 2)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle expects height to be divisible by downscale_factor, but "
                                           r"input.size\(-2\)=5 is not divisible by 2"):
        F.pixel_unshuffle(fastnn.randn(4, 5, 4), 2)
    with pytest.raises(RuntimeError, match="calculated shape of the array of sliding blocks as \\(0, 0\\)"):
        F.unfold(fastnn.randn(1, 2, 3, 3), 4)
    with pytest.raises(RuntimeError, match="kernel size should be greater than zero"):
        F.unfold(x, 0)
    with pytest.raises(RuntimeError, match=r"Expected size of input's dimension 1 to be divisible by the product of "
                                           r"kernel_size, but got input.size\(1\)=7"):
        F.fold(fastnn.randn(1, 7, 4), (3, 3), 2)
    with pytest.raises(RuntimeError, match=r"calculated number of sliding blocks 2 \* 2 = 4, but got "
                                           r"input.size\(2\)=5"):
        F.fold(fastnn.randn(1, 8, 5), (3, 3), 2)
