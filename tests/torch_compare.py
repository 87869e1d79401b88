"""Runs one expression on fastnn and on torch (the same code, the module passed in) and compares values,
dtypes and, for float inputs, the gradients of a random upstream gradient. Inputs are NumPy arrays;
``noncontig=True`` hands fastnn transposed (non-contiguous) views of the same values."""
from __future__ import annotations

import numpy as np
import torch

import fastnn
from op_helpers import assert_close, noncontiguous


def _leaf_fastnn(a: np.ndarray, grad: bool, noncontig: bool):
    if noncontig and a.ndim >= 2:
        t = noncontiguous(a)
        if t.is_contiguous():  # a size-1 dim makes the transpose contiguous again: step-slice instead
            t = noncontiguous(a, "step")
        assert not t.is_contiguous() or a.size == 0
    else:
        t = fastnn.tensor(a)
    if grad and a.dtype.kind == "f":
        t.requires_grad_()
    return t


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def compare(fn, *arrays, grad: bool = True, noncontig: bool = False, seed: int = 0, atol=None, rtol=None):
    """fn(module, *tensors) on both libraries; returns the fastnn result."""
    ft = [_leaf_fastnn(a, grad, noncontig) if isinstance(a, np.ndarray) else a for a in arrays]
    tt = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
          for a in arrays]
    fo, to = _flat(fn(fastnn, *ft)), _flat(fn(torch, *tt))
    assert len(fo) == len(to)
    for f, t in zip(fo, to):
        assert tuple(f.shape) == tuple(t.shape), (f.shape, t.shape)
        assert f.dtype.name == str(t.dtype).replace("torch.", ""), (f.dtype, t.dtype)
        assert_close(f, t.detach().numpy(), atol=atol, rtol=rtol)
    if not grad:
        return fo
    rng = np.random.default_rng(seed)
    pairs = [(f, t) for f, t in zip(fo, to) if t.requires_grad]
    if not pairs:
        return fo
    f_loss, t_loss = 0, 0
    for f, t in pairs:
        g = rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype)
        f_loss = f_loss + (f * fastnn.tensor(g)).sum()
        t_loss = t_loss + (t * torch.tensor(g)).sum()
    f_loss.backward()
    t_loss.backward()
    for a, f, t in zip(arrays, ft, tt):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            if t.grad is None:
                assert f.grad is None or not np.asarray(f.grad).any()
            else:
                assert f.grad is not None, "fastnn gave no gradient where torch did"
                assert_close(f.grad, t.grad.numpy(), atol=atol, rtol=rtol)
    return fo


def raises_like(fn, *arrays, message: bool = True):
    """fn raises the same exception type and message on fastnn as on torch (fastnn may put the op's name
    in front: "flip(): Dimension out of range ..."); ``message=False`` compares the type only."""
    ft = [fastnn.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    tt = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays]
    try:
        fn(torch, *tt)
    except Exception as e:  # noqa: BLE001  (any error is the reference)
        expected = e
    else:
        raise AssertionError("torch did not raise")
    try:
        fn(fastnn, *ft)
    except Exception as e:  # noqa: BLE001
        assert type(e) is type(expected), (type(e), type(expected), str(e), str(expected))
        if message:
            got, want = str(e).splitlines()[0], str(expected).splitlines()[0]
            assert got == want or got.endswith("): " + want), (got, want)
    else:
        raise AssertionError(f"fastnn did not raise; torch raised {type(expected).__name__}: {expected}")
