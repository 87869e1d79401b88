"""Shared by the loss tests: run a loss in fastnn and torch on the same arrays and compare value and grads."""
import numpy as np
import pytest

import fastnn
from op_helpers import assert_close

torch = pytest.importorskip("torch")

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def compare(ours, theirs, arrays, diff, *, seed=0, atol=None, rtol=None):
    """Runs ours(*fastnn tensors) and theirs(*torch tensors) on the same arrays; compares the value and,
    after a backward with one random upstream gradient, the gradients of the inputs listed in ``diff``."""
    fa = [fastnn.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    ta = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    out, tout = ours(*fa), theirs(*ta)
    assert out.dtype.name == str(tout.dtype).replace("torch.", ""), (out.dtype, tout.dtype)
    assert_close(out, tout.detach().numpy(), atol, rtol, msg="value")
    if not diff:
        return out
    g = np.random.default_rng(seed + 1).standard_normal(tuple(tout.shape)).astype(arrays[diff[0]].dtype)
    out.backward(fastnn.tensor(g))
    tout.backward(torch.tensor(g))
    for i in diff:
        assert_close(fa[i].grad, ta[i].grad.numpy(), atol, rtol, msg=f"grad of argument {i}")
    return out


def rand(rng, shape, dtype, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(dtype)


def probs(rng, shape, dtype, axis=1):
    e = np.exp(rng.standard_normal(shape))
    return (e / e.sum(axis=axis, keepdims=True)).astype(dtype)


def labels(rng, shape, n_classes, ignore=None, frac=0.3):
    t = rng.integers(0, n_classes, shape).astype(np.int64)
    if ignore is not None:
        t[rng.random(shape) < frac] = ignore
    return t
