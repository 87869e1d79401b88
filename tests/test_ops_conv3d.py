"""conv3d / conv_transpose3d (composed from the 2-D convolutions) and the 3-D pools of ops/pool3d.py against
torch: values and input / weight / bias gradients over strides, paddings, dilations and groups; float64
gradcheck; torch's errors."""
import numpy as np
import pytest

import fastnn
from fastnn.nn import functional as F
from fastnn.ops import pool3d
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional


def _compare(fo, ft, arrays, **kw):
    ours = [None if a is None else fastnn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    yo, yt = fo(*ours, **kw), ft(*theirs, **kw)
    assert tuple(yo.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = np.random.default_rng(5).standard_normal(tuple(yt.shape))
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a is not None:
            np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), rtol=1e-10, atol=1e-10,
                                       err_msg=f"gradient of operand {i}")


@pytest.mark.parametrize("kw", [dict(), dict(stride=2), dict(padding=1), dict(padding=(1, 0, 2), stride=(1, 2, 1)),
                                dict(dilation=(2, 1, 2)), dict(padding="same", dilation=2), dict(groups=2),
                                dict(padding="valid", stride=(2, 1, 3))])
def test_conv3d_matches_torch(kw):
    rng = np.random.default_rng(0)
    g = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 4, 6, 7, 5)), rng.standard_normal((6, 4 // g, 3, 2, 3)), rng.standard_normal(6)
    _compare(F.conv3d, TF.conv3d, (x, w, b), **kw)
    _compare(F.conv3d, TF.conv3d, (x, w, None), **kw)


def test_conv3d_unbatched_and_size_one():
    rng = np.random.default_rng(1)
    _compare(F.conv3d, TF.conv3d, (rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((1, 2, 1, 1, 1)), None))
    _compare(F.conv3d, TF.conv3d, (rng.standard_normal((1, 1, 1, 4, 4)), rng.standard_normal((2, 1, 1, 3, 3)), None))


@pytest.mark.parametrize("kw", [dict(), dict(stride=2), dict(padding=1, stride=2, output_padding=1),
                                dict(stride=(3, 1, 2), dilation=(1, 2, 1), output_padding=(2, 1, 1)),
                                dict(groups=2, stride=2), dict(dilation=2, output_padding=1)])
def test_conv_transpose3d_matches_torch(kw):
    rng = np.random.default_rng(2)
    g = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 4, 3, 4, 5)), rng.standard_normal((4, 6 // g, 3, 2, 3)), rng.standard_normal(6)
    _compare(F.conv_transpose3d, TF.conv_transpose3d, (x, w, b), **kw)


def test_gradcheck_float64():
    gradcheck_op(lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=1, dilation=(1, 1, 2), groups=2),
                 (1, 2, 4, 3, 5), (2, 1, 2, 2, 2), (2,))
    gradcheck_op(lambda x, w, b: F.conv_transpose3d(x, w, b, stride=2, padding=1, output_padding=1),
                 (1, 2, 2, 3, 2), (2, 1, 3, 2, 2), (1,))


def test_errors_match_torch():
    x = fastnn.zeros(1, 4, 3, 3, 3)
    with pytest.raises(RuntimeError, match="expected input.*to have 6 channels"):
        F.conv3d(x, fastnn.zeros(2, 3, 1, 1, 1), groups=2)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        F.conv3d(x, fastnn.zeros(2, 4, 4, 1, 1))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv3d(x, fastnn.zeros(2, 4, 1, 1, 1), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose3d(x, fastnn.zeros(4, 2, 2, 2, 2), stride=1, output_padding=1)
    with pytest.raises(RuntimeError, match="Expected 4D .unbatched. or 5D"):
        F.conv3d(fastnn.zeros(4, 3, 3), fastnn.zeros(2, 4, 1, 1, 1))


@pytest.mark.parametrize("name,kw", [
    ("max_pool3d", dict(kernel_size=2)),
    ("max_pool3d", dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
    ("avg_pool3d", dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0), count_include_pad=False)),
    ("avg_pool3d", dict(kernel_size=2, stride=1, padding=1)),
    ("adaptive_avg_pool3d", dict(output_size=(2, 3, 4))),
    ("adaptive_max_pool3d", dict(output_size=(4, 3, 2))),
])
def test_pool3d_matches_torch(name, kw):
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 6, 5))
    _compare(getattr(pool3d, name), getattr(TF, name), (x,), **kw)
