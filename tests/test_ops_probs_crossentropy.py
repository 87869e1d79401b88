"""The fused Keras cross-entropy of probabilities at labels equals the composed formula
-log(clip(p[label] / sum(p), eps, 1 - eps)) in value and gradient (float64 gradcheck), clipped rows included."""
import numpy as np
import pytest

import fastnn
from fastnn.autograd import gradcheck
from fastnn.ops.probs_crossentropy import sparse_probs_crossentropy
from op_helpers import assert_close


def _composed(p, labels, eps):
    picked = fastnn.take_along_dim(p, fastnn.tensor(labels[..., None]), dim=-1).squeeze(-1)
    return -(picked / p.sum(-1)).clamp(eps, 1 - eps).log()


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 6), (1, 1), (0, 3)])
def test_value_and_gradient_equal_the_composed_formula(shape):
    rng = np.random.default_rng(len(shape))
    p = rng.random(shape) + 0.05
    labels = rng.integers(0, shape[-1], shape[:-1])
    if p.size:
        p.reshape(-1, shape[-1])[0] = 0.0  # a row whose label probability clips at eps
        p.reshape(-1, shape[-1])[0, labels.reshape(-1)[0]] = 1e-12
    a = fastnn.tensor(p, requires_grad=True)
    b = fastnn.tensor(p, requires_grad=True)
    out, ref = sparse_probs_crossentropy(a, labels, 1e-7), _composed(b, labels, 1e-7)
    assert_close(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = fastnn.tensor(rng.standard_normal(shape[:-1]))
    (out * w).sum().backward()
    (ref * w).sum().backward()
    assert_close(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradcheck():
    rng = np.random.default_rng(0)
    p = fastnn.tensor(rng.random((4, 5)) + 0.1, requires_grad=True)
    labels = rng.integers(0, 5, 4)
    assert gradcheck(lambda t: sparse_probs_crossentropy(t, labels, 1e-7), (p,))


def test_float32_stays_float32():
    p = fastnn.tensor(np.full((2, 3), 1 / 3, np.float32), requires_grad=True)
    out = sparse_probs_crossentropy(p, np.array([0, 2]), 1e-7)
    out.sum().backward()
    assert out.dtype == fastnn.float32 and p.grad.dtype == fastnn.float32
