"""bilinear / nn.Bilinear against torch 2.13 with the same weights (forward, both input gradients, weight and bias
gradients), repr, init bounds, errors; float64 gradcheck; batched, 1-D, zero-size and non-contiguous inputs."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches, load_from_torch
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


@pytest.mark.parametrize("lead", [(4,), (2, 3), (), (0,)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bilinear_module_matches_torch(lead, bias, dtype):
    torch.manual_seed(0)
    theirs = torch.nn.Bilinear(3, 5, 2, bias=bias)
    ours = nn.Bilinear(3, 5, 2, bias=bias)
    assert repr(ours) == repr(theirs)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    load_from_torch(ours, theirs)
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal(lead + (3,)).astype(dtype), rng.standard_normal(lead + (5,)).astype(dtype)
    a, b = fastnn.tensor(x1, requires_grad=True), fastnn.tensor(x2, requires_grad=True)
    at, bt = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    yo, yt = ours(a, b), theirs(at, bt)
    assert_matches(yo, yt, "forward")
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_matches(a.grad, at.grad, "input1 grad")
    assert_matches(b.grad, bt.grad, "input2 grad")
    for name, p in theirs.named_parameters():
        assert_matches(dict(ours.named_parameters())[name].grad, p.grad, name)


def test_gradcheck_noncontiguous_and_init():
    gradcheck_op(lambda x1, x2, w, b: F.bilinear(x1, x2, w, b), (4, 3), (4, 2), (5, 3, 2), (5,))
    rng = np.random.default_rng(2)
    x1, x2, w = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((2, 3, 2))
    ours = F.bilinear(fastnn.tensor(x1).t(), fastnn.tensor(x2).t(), fastnn.tensor(w))
    assert_matches(ours, torch.nn.functional.bilinear(torch.tensor(x1).t(), torch.tensor(x2).t(), torch.tensor(w)),
                   "non-contiguous")
    m = nn.Bilinear(16, 3, 40)
    v = m.weight.detach().numpy()
    assert m.weight.shape == (40, 16, 3) and 0.2 < np.abs(v).max() <= 0.25  # U(-1/√16, 1/√16)


def test_errors_match_torch():
    a, b, w = fastnn.randn(4, 3), fastnn.randn(4, 5), fastnn.randn(2, 3, 5)
    with pytest.raises(RuntimeError, match="input batch dimensions do not match at dim 0: got 4 and 3"):
        F.bilinear(a, fastnn.randn(3, 5), w)
    with pytest.raises(RuntimeError, match="input1 size does not match weight size: got 3 but expected 4"):
        F.bilinear(a, b, fastnn.randn(2, 4, 5))
    with pytest.raises(RuntimeError, match="input2 size does not match weight size: got 5 but expected 4"):
        F.bilinear(a, b, fastnn.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="bias size does not match weight size: got 3 but expected 2"):
        F.bilinear(a, b, w, fastnn.randn(3))
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        nn.Bilinear(0, 3, 2)
