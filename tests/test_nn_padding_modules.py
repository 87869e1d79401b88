"""The padding modules (ConstantPad, ZeroPad, ReflectionPad, ReplicationPad, CircularPad; 1-D to 3-D) against torch
2.13: repr, stored padding, values and input gradients. They run on F.pad (fastnn.ops.padding, from the linalg
branch): until both branches are merged the module import below skips this file."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from nn_parity import assert_matches

torch = pytest.importorskip("torch")
pytest.importorskip("fastnn.ops.padding")
pytestmark = pytest.mark.torch

CASES = [("ConstantPad1d", (2, 1.5), (2, 3, 4)), ("ConstantPad2d", ((1, 2, 0, 3), -1.0), (3, 4, 5)),
         ("ConstantPad3d", (1, 2.0), (1, 2, 2, 3, 2)), ("ZeroPad1d", ((0, 2),), (3, 4)),
         ("ZeroPad2d", (2,), (1, 2, 3, 3)), ("ZeroPad3d", ((1, 0, 0, 1, 2, 0),), (2, 2, 3, 2)),
         ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 0, 2),), (1, 2, 4, 3)),
         ("ReflectionPad3d", (1,), (1, 1, 2, 3, 2)), ("ReplicationPad1d", ((3, 1),), (3, 4)),
         ("ReplicationPad2d", (2,), (1, 2, 3, 3)), ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),), (1, 2, 2, 3, 2)),
         ("CircularPad1d", (2,), (2, 3, 4)), ("CircularPad2d", ((1, 2, 0, 1),), (1, 2, 3, 3)),
         ("CircularPad3d", (1,), (1, 1, 2, 3, 2))]


@pytest.mark.parametrize("name,args,shape", CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_padding_modules_match_torch(name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding
    x = np.random.default_rng(0).standard_normal(shape)
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_matches(yo, yt, "forward")
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_matches(xo.grad, xt.grad, "input grad")


def test_circular_pad_rank_error():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.CircularPad1d(1)(fastnn.randn(1, 2, 3, 4))
