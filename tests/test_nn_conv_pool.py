"""Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d against torch 2.13: forward, input and weight gradients with
the weights loaded through load_state_dict, state_dict keys, repr, default-init bounds, errors; max_pool2d
indices and adaptive_avg_pool2d (float64 gradcheck) as ops."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches, compare_step, load_from_torch
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

CONV_CONFIGS = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2), bias=False),
    dict(in_channels=4, out_channels=6, kernel_size=3, padding=2, dilation=2, groups=2),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),
    dict(in_channels=2, out_channels=2, kernel_size=(3, 5), padding="same", dilation=(2, 1), groups=2),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding="valid", stride=2),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note on its copy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONV_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv2d_matches_torch(cfg, dtype):
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(**cfg)
    ours = nn.Conv2d(**cfg)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    load_from_torch(ours, theirs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(1).standard_normal((2, cfg["in_channels"], 9, 8)).astype(dtype)
    compare_step(torch, ours, theirs, x, what="batched")
    ours.zero_grad()
    theirs.zero_grad()
    compare_step(torch, ours, theirs, x[0], seed=2, what="unbatched")


def test_conv2d_default_init_bounds_and_attributes():
    m = nn.Conv2d(8, 16, (3, 5), groups=2)
    t = torch.nn.Conv2d(8, 16, (3, 5), groups=2)
    assert m.weight.shape == tuple(t.weight.shape) == (16, 4, 3, 5)
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight", "bias"]
    for attr in ("kernel_size", "stride", "padding", "dilation", "groups", "padding_mode", "output_padding",
                 "transposed", "in_channels", "out_channels"):
        assert getattr(m, attr) == getattr(t, attr), attr
    bound = 1 / math.sqrt(4 * 3 * 5)  # kaiming-uniform with a=√5 and the bias rule both give 1/√fan_in
    for p in (m.weight, m.bias):
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound
    big = nn.Conv2d(16, 64, 3).weight.detach().numpy()
    # U(-b, b) has variance b²/3.
    assert abs(big.std() - (1 / math.sqrt(144)) / math.sqrt(3)) < 0.05 * (1 / math.sqrt(144)) / math.sqrt(3)
    assert list(nn.Conv2d(2, 2, 1, bias=False).state_dict()) == ["weight"]


def test_conv2d_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    m = nn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match="expected input\\[1, 2, 5, 5\\] to have 3 channels, but got 2 channels"):
        m(fastnn.randn(1, 2, 5, 5))
    with pytest.raises(RuntimeError, match="3-D .* or 4-D"):
        m(fastnn.randn(5, 5))


POOLS = [
    ("MaxPool2d", dict(kernel_size=2)),
    ("MaxPool2d", dict(kernel_size=(3, 2), stride=(2, 1), padding=1, ceil_mode=True)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ("AvgPool2d", dict(kernel_size=3)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("AvgPool2d", dict(kernel_size=(2, 3), stride=1, padding=1, divisor_override=5)),
    ("AdaptiveAvgPool2d", dict(output_size=1)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, 2))),       # sizes divide: the avg_pool2d kernel path
    ("AdaptiveAvgPool2d", dict(output_size=(4, None))),    # uneven, overlapping windows: the matrix path
    ("AdaptiveAvgPool2d", dict(output_size=5)),
    ("AdaptiveAvgPool2d", dict(output_size=(13, 7))),      # larger than the input
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,cfg", POOLS, ids=lambda v: str(v))
def test_pooling_modules_match_torch(kind, cfg, dtype):
    ours, theirs = getattr(nn, kind)(**cfg), getattr(torch.nn, kind)(**cfg)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 6)).astype(dtype)
    compare_step(torch, ours, theirs, x, seed=1, what="batched")
    compare_step(torch, ours, theirs, x[1], seed=2, what="unbatched")


@pytest.mark.parametrize("cfg", [dict(kernel_size=2), dict(kernel_size=(3, 2), stride=(2, 1), padding=1,
                                                              ceil_mode=True),
                                 dict(kernel_size=3, stride=2, padding=1, dilation=2)], ids=str)
def test_max_pool2d_return_indices_match_torch(cfg):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    x[0, 0, :3, :3] = -np.inf              # a window with only -inf (and padding)
    x[0, 1, 1:3, 1:3] = np.nan             # several NaNs in a window: torch keeps the last
    x[1, 2] = np.round(x[1, 2])            # ties: the first maximum wins
    yo, io = nn.MaxPool2d(return_indices=True, **cfg)(fastnn.tensor(x))
    yt, it = torch.nn.MaxPool2d(return_indices=True, **cfg)(torch.tensor(x))
    np.testing.assert_array_equal(yo.numpy(), yt.numpy())
    assert io.dtype is fastnn.int64
    np.testing.assert_array_equal(io.numpy(), it.numpy())
    yo, io = F.max_pool2d_with_indices(fastnn.tensor(x[0]), **cfg)
    np.testing.assert_array_equal(io.numpy(), torch.nn.functional.max_pool2d_with_indices(torch.tensor(x[0]),
                                                                                          **cfg)[1].numpy())


@pytest.mark.parametrize("out", [(1, 1), (3, 5), (2, 3), (3, 4), (5, 2), (7, 9)], ids=str)
def test_adaptive_avg_pool2d_gradcheck(out):  # (1, 1), (3, 5): the avg_pool2d kernel path; others: matrices
    gradcheck_op(lambda x: F.adaptive_avg_pool2d(x, out), (2, 2, 6, 5))


def test_adaptive_avg_pool2d_edge_cases_and_errors():
    y = F.adaptive_avg_pool2d(fastnn.randn(0, 3, 4, 5), 2)
    assert y.shape == (0, 3, 2, 2)
    x = fastnn.randn(2, 3, 4, 5, requires_grad=True)
    y = F.adaptive_avg_pool2d(x, (0, 3))
    assert y.shape == (2, 3, 0, 3)
    y.sum().backward()
    assert x.grad.shape == x.shape and not x.grad.numpy().any()
    with pytest.raises(RuntimeError, match="non-zero size for non-batch dimensions"):
        F.adaptive_avg_pool2d(fastnn.randn(2, 3, 0, 5), 2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D tensor"):
        nn.AdaptiveAvgPool2d(2)(fastnn.randn(4, 5))
    with pytest.raises(RuntimeError, match="output_size must be 2"):
        F.adaptive_avg_pool2d(fastnn.randn(2, 3, 4, 5), (1, 2, 3))
    with pytest.raises(RuntimeError, match="greater than or equal to 0"):
        F.adaptive_avg_pool2d(fastnn.randn(2, 3, 4, 5), (-1, 2))
    with pytest.raises(NotImplementedError, match="not implemented for 'int64'"):
        F.adaptive_avg_pool2d(fastnn.tensor(np.ones((1, 2, 2), np.int64)), 1)


def test_small_cnn_matches_torch():
    """Conv → BatchNorm → ReLU → MaxPool → Conv → AdaptiveAvgPool → Flatten → Linear, one state_dict."""
    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3, padding=1, bias=False), lib.nn.BatchNorm2d(4), lib.nn.ReLU(),
                                 lib.nn.MaxPool2d(2), lib.nn.Conv2d(4, 6, 3, groups=2), lib.nn.AvgPool2d(2, 1),
                                 lib.nn.AdaptiveAvgPool2d((2, 3)), lib.nn.Flatten(), lib.nn.Linear(36, 5))

    torch.manual_seed(0)
    theirs, ours = build(torch), build(fastnn)
    load_from_torch(ours, theirs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((3, 1, 12, 14)).astype(np.float32)
    compare_step(torch, ours, theirs, x, what="cnn train")
    for name, buf in theirs.named_buffers():
        assert_matches(dict(ours.named_buffers())[name], buf, name)
    ours.eval().zero_grad()
    theirs.eval().zero_grad()
    compare_step(torch, ours, theirs, x, seed=3, what="cnn eval")
