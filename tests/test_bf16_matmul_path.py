"""bfloat16 tensors' matmul and linear run the bf16 GEMM (bf16 products, float32 sums, one rounding), as
torch's bfloat16 matmul: each result is the correctly rounded bfloat16 of the exact product of the bfloat16
inputs but for the float32 summation error, so nearly all agree bit for bit and none by more than one step."""
from __future__ import annotations

import numpy as np
import pytest

import fastnn

torch = pytest.importorskip("torch")


def _bf16(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to bfloat16 (via torch's cast) and back."""
    return torch.from_numpy(np.ascontiguousarray(x, np.float32)).bfloat16().float().numpy()


def _check(ours, exact64):
    assert ours.dtype is fastnn.bfloat16
    got = ours.float().numpy()
    want = _bf16(exact64.astype(np.float32))
    assert got.shape == want.shape
    if got.size == 0:
        return
    steps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64)) >> 16
    assert steps.max() <= 1, steps.max()  # float32 sums can cross a bfloat16 rounding boundary, never two
    assert (steps == 0).mean() > 0.95


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (64, 96, 48), (33, 0, 9), (0, 4, 3), (130, 784, 70)])
def test_matmul_and_linear(m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = _bf16(rng.standard_normal((m, k)).astype(np.float32))
    w = _bf16(rng.standard_normal((n, k)).astype(np.float32))
    bias = _bf16(rng.standard_normal(n).astype(np.float32))
    fa, fw, fb = (fastnn.tensor(v).bfloat16() for v in (a, w, bias))
    exact = a.astype(np.float64) @ w.astype(np.float64).T
    _check(fa @ fw.t(), exact)
    _check(fastnn.nn.functional.linear(fa, fw), exact)
    _check(fastnn.nn.functional.linear(fa, fw, fb), exact + bias)


def test_batched_vector_and_strided_operands():
    rng = np.random.default_rng(7)
    a = _bf16(rng.standard_normal((3, 5, 24)).astype(np.float32))
    b = _bf16(rng.standard_normal((3, 24, 6)).astype(np.float32))
    w = _bf16(rng.standard_normal((10, 24)).astype(np.float32))
    fa, fb, fw = (fastnn.tensor(v).bfloat16() for v in (a, b, w))
    _check(fa @ fb, a.astype(np.float64) @ b.astype(np.float64))
    _check(fastnn.nn.functional.linear(fa, fw), a.astype(np.float64) @ w.astype(np.float64).T)
    _check(fa[:, ::2, :] @ fb[0], a[:, ::2, :].astype(np.float64) @ b[0].astype(np.float64))
    _check(fa[0] @ fb[0, :, 1], a[0].astype(np.float64) @ b[0, :, 1].astype(np.float64))  # matrix @ vector


def test_matches_torch_bf16_matmul_and_trains_through_it():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 40)).astype(np.float32)
    w = rng.standard_normal((12, 40)).astype(np.float32)
    fx, fw = fastnn.tensor(x).bfloat16(), fastnn.tensor(w).bfloat16().requires_grad_()
    tx, tw = torch.from_numpy(x).bfloat16(), torch.from_numpy(w).bfloat16().requires_grad_()
    ours, theirs = fastnn.nn.functional.linear(fx, fw), torch.nn.functional.linear(tx, tw)
    np.testing.assert_allclose(ours.detach().float().numpy(), theirs.detach().float().numpy(), rtol=2 ** -7,
                               atol=1e-2)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    assert fw.grad.dtype is fastnn.bfloat16
    np.testing.assert_allclose(fw.grad.float().numpy(), tw.grad.float().numpy(), rtol=2 ** -6, atol=5e-2)
