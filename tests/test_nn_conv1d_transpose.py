"""conv1d, conv_transpose1d / conv_transpose2d and their modules (Conv1d, ConvTranspose1d/2d), and Conv2d's
padding_mode, against torch 2.13 with the same weights: forward, input / weight / bias gradients, repr,
output_size, errors; float64 gradcheck of the ops; odd, size-1, zero-size and non-contiguous inputs."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches, compare_step, load_from_torch
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional


def _pair_step(fo, ft, x, w, b, seed=0, **kw):
    """Values and all three gradients of fo against ft on float64 copies of x, w, b (b may be None)."""
    xo, wo = fastnn.tensor(x, requires_grad=True), fastnn.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bo = None if b is None else fastnn.tensor(b, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yo, yt = fo(xo, wo, bo, **kw), ft(xt, wt, bt, **kw)
    assert yo.shape == tuple(yt.shape)
    assert_matches(yo, yt, "forward")
    assert yo.grad_fn.name_() == "ConvolutionBackward0"
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(x.dtype)
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_matches(xo.grad, xt.grad, "input grad")
    assert_matches(wo.grad, wt.grad, "weight grad")
    if b is not None:
        assert_matches(bo.grad, bt.grad, "bias grad")


CONV1D_CASES = [
    ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((4, 9), (6, 4, 4), dict(padding="same")),
    ((2, 3, 7), (5, 3, 2), dict(padding="same", dilation=3)),
    ((1, 1, 1), (1, 1, 1), dict()),
    ((3, 2, 5), (4, 2, 5), dict(padding="valid")),
    ((0, 2, 5), (4, 2, 3), dict(padding=1)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("xs,ws,kw", CONV1D_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    _pair_step(F.conv1d, TF.conv1d, x, w, rng.standard_normal(ws[0]).astype(dtype), **kw)
    _pair_step(F.conv1d, TF.conv1d, x, w, None, **kw)


CT_CASES = [
    (2, (2, 4, 5, 6), (4, 3, 3, 2), dict(stride=(2, 3), padding=1, output_padding=(1, 2), groups=2, dilation=(1, 2))),
    (2, (4, 5, 6), (4, 3, 3, 3), dict(padding=2, output_padding=(1, 1), dilation=(2, 3))),  # op >= stride
    (2, (2, 4, 5, 6), (4, 3, 3, 3), dict(output_padding=1, dilation=2)),
    (2, (1, 1, 1, 1), (1, 1, 1, 1), dict()),
    (2, (0, 2, 3, 3), (2, 2, 2, 2), dict(stride=2)),
    (1, (2, 4, 7), (4, 3, 3), dict(stride=3, padding=1, output_padding=2)),
    (1, (4, 7), (4, 3, 3), dict(output_padding=2, dilation=3)),
    (1, (2, 6, 5), (6, 1, 4), dict(stride=2, groups=3)),
]


@pytest.mark.parametrize("nd,xs,ws,kw", CT_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose_matches_torch(nd, xs, ws, kw, dtype):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    fo, ft = (F.conv_transpose1d, TF.conv_transpose1d) if nd == 1 else (F.conv_transpose2d, TF.conv_transpose2d)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(dtype)
    _pair_step(fo, ft, x, w, b, **kw)
    _pair_step(fo, ft, x, w, None, **kw)


def test_gradcheck_float64():
    gradcheck_op(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), (2, 3, 8), (2, 3, 3), (2,))
    gradcheck_op(lambda x, w: F.conv1d(x, w, padding="same"), (2, 7), (3, 2, 4))
    gradcheck_op(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2),
                 (1, 4, 3, 3), (4, 1, 3, 2), (2,))
    gradcheck_op(lambda x, w, b: F.conv_transpose2d(x, w, b, padding=1, output_padding=1, dilation=2),
                 (1, 2, 3, 3), (2, 2, 2, 2), (2,))
    gradcheck_op(lambda x, w: F.conv_transpose1d(x, w, stride=2, output_padding=1), (2, 2, 4), (2, 3, 3))


def test_noncontiguous_inputs():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 9, 3))  # (N, L, C): transposed to (N, C, L) without a copy
    w = rng.standard_normal((4, 3, 3))
    xo = fastnn.tensor(x).transpose(1, 2)
    assert not xo.is_contiguous()
    assert_matches(F.conv1d(xo, fastnn.tensor(w), stride=2), TF.conv1d(torch.tensor(x).transpose(1, 2),
                                                                        torch.tensor(w), stride=2), "conv1d")
    wt = rng.standard_normal((3, 2, 2, 3))
    x4 = rng.standard_normal((2, 4, 5, 3))
    assert_matches(F.conv_transpose2d(fastnn.tensor(x4).permute(0, 3, 1, 2), fastnn.tensor(wt), stride=2),
                   TF.conv_transpose2d(torch.tensor(x4).permute(0, 3, 1, 2), torch.tensor(wt), stride=2), "ct2d")


MODULES = [
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, groups=2), (2, 4, 11)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=4, padding="same", bias=False), (2, 3, 7)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=3, padding=2, padding_mode="reflect"), (2, 3, 5)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=3, padding=2, padding_mode="circular"), (2, 3, 5)),
    ("Conv1d", dict(in_channels=3, out_channels=2, kernel_size=4, padding="same", padding_mode="replicate",
                    dilation=2), (2, 3, 6)),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, padding=(1, 2), padding_mode="reflect"),
     (2, 2, 5, 6)),
    ("Conv2d", dict(in_channels=2, out_channels=4, kernel_size=(2, 3), padding="same", padding_mode="replicate",
                    groups=2), (2, 2, 5, 6)),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=3, padding_mode="circular"),
     (1, 2, 4, 5)),
    ("ConvTranspose1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1,
                             groups=2), (2, 4, 5)),
    ("ConvTranspose2d", dict(in_channels=3, out_channels=2, kernel_size=(3, 2), stride=2, dilation=(1, 2),
                             bias=False), (2, 3, 4, 5)),
    ("ConvTranspose2d", dict(in_channels=2, out_channels=4, kernel_size=3, stride=(2, 1), padding=1,
                             output_padding=(1, 0)), (1, 2, 3, 4)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("name,cfg,shape", MODULES, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_modules_match_torch(name, cfg, shape, dtype):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(**cfg)
    ours = getattr(nn, name)(**cfg)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    for attr in ("kernel_size", "stride", "padding", "dilation", "groups", "padding_mode", "output_padding",
                 "transposed"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    load_from_torch(ours, theirs)
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    compare_step(torch, ours, theirs, x, what="batched")
    ours.zero_grad()
    theirs.zero_grad()
    compare_step(torch, ours, theirs, x[0], seed=1, what="unbatched")


def test_default_init_bounds():
    m = nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert m.weight.shape == (4, 3, 3, 3)
    bound = 1 / np.sqrt(3 * 9)  # torch's fan_in of a transposed weight: its dim 1 times the kernel
    v = m.weight.detach().numpy()
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.7 * bound
    assert list(nn.Conv1d(2, 3, 3).state_dict()) == ["weight", "bias"]


def test_conv_transpose_output_size():
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1)
    ours = nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1)
    load_from_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in [(10, 10), (12, 11), [1, 3, 11, 12]]:
        yo, yt = ours(fastnn.tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        assert yo.shape == tuple(yt.shape)
        assert_matches(yo, yt, f"output_size={size}")
    with pytest.raises(ValueError, match=r"requested an output size of \[13, 13\], but valid sizes range from "
                                         r"\[10, 10\] to \[12, 12\]"):
        ours(fastnn.tensor(x), output_size=(13, 13))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        ours(fastnn.tensor(x), output_size=(13,))
    m1 = nn.ConvTranspose1d(2, 3, 3, stride=2)
    assert m1(fastnn.randn(2, 5), output_size=[12]).shape == (3, 12)


def test_errors_match_torch():
    x3 = fastnn.randn(1, 3, 5)
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d, but got "
                                           r"input of size: \[3\]"):
        F.conv1d(fastnn.randn(3), fastnn.randn(2, 3, 1))
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[2, 2, 1\], expected input\[1, 3, 5\] "
                                           "to have 2 channels, but got 3 channels instead"):
        F.conv1d(x3, fastnn.randn(2, 2, 1))
    with pytest.raises(RuntimeError, match="weight should have at least three dimensions"):
        F.conv1d(x3, fastnn.randn(2, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv1d(fastnn.randn(1, 3, 2), fastnn.randn(2, 3, 3))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv1d(x3, fastnn.randn(2, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[2, 3, 3, 3\], expected "
                                           r"input\[1, 3, 5, 5\] to have 2 channels"):
        F.conv_transpose2d(fastnn.randn(1, 3, 5, 5), fastnn.randn(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(fastnn.randn(1, 3, 5, 5), fastnn.randn(3, 3, 3, 3), stride=2, output_padding=2)
    with pytest.raises(TypeError, match="argument 'padding' must be tuple of ints, not str"):
        F.conv_transpose1d(x3, fastnn.randn(3, 3, 3), padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 3, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        nn.Conv1d(3, 3, 3, padding=2, padding_mode="reflect")(fastnn.randn(1, 3, 2))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(3, 4, 3, padding_mode="mirror")
