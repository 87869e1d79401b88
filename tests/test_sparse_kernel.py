"""The sparse @ dense kernels (csrc/cpu/spmm.cpp: ``_C.spmm`` / ``_C.sddmm``) against a float64 NumPy
reference at every ISA level, bitwise equal at 1, 2 and 3 threads, refusing bad input with errors naming
the kernel; the CPU backend against the composite one; and ``sparse.mm`` with its gradients against
torch on odd shapes, empty rows and duplicate (uncoalesced) entries, with torch's errors."""
import numpy as np
import pytest

import fastnn
import op_helpers
from fastnn import _C
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend

pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks")

ISAS = list(_C.isa_levels())
TOL = {np.float32: (1e-5, 1e-5), np.float64: (1e-12, 1e-12)}


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def coo(rng, m, k, nnz, empty_rows=()):
    """Random entries in random order, a few duplicated, none in ``empty_rows``."""
    keep = np.setdiff1d(np.arange(m), np.array(empty_rows, dtype=np.int64))
    rows = rng.choice(keep, nnz) if nnz and keep.size else np.zeros(0, np.int64)
    cols = rng.integers(0, k, rows.size) if k else np.zeros(0, np.int64)
    if rows.size > 3:
        rows[-2:], cols[-2:] = rows[:2], cols[:2]  # duplicates, which add
    return rows.astype(np.int64), cols.astype(np.int64)


def dense_of(rows, cols, vals, m, k):
    a = np.zeros((m, k))
    np.add.at(a, (rows, cols), vals.astype(np.float64))
    return a


SHAPES = [(1, 1, 1, 1), (7, 5, 3, 12), (9, 9, 17, 40), (33, 20, 16, 100), (5, 6, 33, 0), (4, 3, 0, 5), (0, 4, 2, 0),
          (6, 0, 3, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n,nnz", SHAPES)
def test_spmm_and_sddmm_match_reference(isa, dtype, m, k, n, nnz):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    rows, cols = coo(rng, m, k, nnz, empty_rows=(0, m - 1) if m > 2 else ())
    vals = rng.standard_normal(rows.size).astype(dtype)
    d = rng.standard_normal((k, n)).astype(dtype)
    a = dense_of(rows, cols, vals, m, k)
    out = _C.spmm(rows, cols, vals, d, m, isa=isa)
    assert out.dtype == dtype and out.shape == (m, n)
    atol, rtol = TOL[dtype]
    op_helpers.assert_close(out, a @ d.astype(np.float64), atol, rtol)
    g = rng.standard_normal((m, n)).astype(dtype)
    op_helpers.assert_close(_C.spmm(cols, rows, vals, g, k, isa=isa), a.T @ g.astype(np.float64), atol, rtol)
    gv = _C.sddmm(rows, cols, g, d, isa=isa)
    ref = (g.astype(np.float64)[rows] * d.astype(np.float64)[cols]).sum(axis=1)
    assert gv.dtype == dtype and gv.shape == (rows.size,)
    op_helpers.assert_close(gv, ref, atol * max(1, n), rtol)


def test_rows_with_a_stride(isa):
    """Dense operands whose rows are spaced wider than their length are read in place."""
    rng = np.random.default_rng(3)
    rows, cols = coo(rng, 6, 8, 30)
    vals = rng.standard_normal(30).astype(np.float32)
    wide = rng.standard_normal((8, 40)).astype(np.float32)
    d = wide[:, 3:22]
    np.testing.assert_array_equal(_C.spmm(rows, cols, vals, d, 6, isa=isa),
                                  _C.spmm(rows, cols, vals, np.ascontiguousarray(d), 6, isa=isa))
    g = rng.standard_normal((6, 40)).astype(np.float32)[:, :19]
    np.testing.assert_array_equal(_C.sddmm(rows, cols, g, d, isa=isa),
                                  _C.sddmm(rows, cols, np.ascontiguousarray(g), np.ascontiguousarray(d), isa=isa))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_equal_across_thread_counts(threads, dtype):
    rng = np.random.default_rng(4)
    m, k, n = 3000, 2500, 48
    rows, cols = coo(rng, m, k, 120_000)
    vals = rng.standard_normal(rows.size).astype(dtype)
    d = rng.standard_normal((k, n)).astype(dtype)
    g = rng.standard_normal((m, n)).astype(dtype)
    results = []
    for nt in (1, 2, 3):
        threads(nt)
        results.append((_C.spmm(rows, cols, vals, d, m), _C.spmm(cols, rows, vals, g, k), _C.sddmm(rows, cols, g, d)))
    for other in results[1:]:
        for x, y in zip(results[0], other):
            np.testing.assert_array_equal(x, y)


def test_bad_input_raises_naming_the_kernel():
    rows, cols = np.array([0, 1]), np.array([1, 0])
    vals, d = np.ones(2, np.float32), np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"spmm: entry 1 at \(1, 0\) is outside the 1 x 2 matrix"):
        _C.spmm(rows, cols, vals, d, 1)
    with pytest.raises(ValueError, match="spmm: entry 0 .* outside"):
        _C.spmm(np.array([-1, 0]), cols, vals, d, 2)
    with pytest.raises(ValueError, match="spmm: entry 0 .* outside"):
        _C.spmm(rows, np.array([2, 0]), vals, d, 2)
    with pytest.raises(TypeError, match="spmm: expected rows to be int64, got int32"):
        _C.spmm(rows.astype(np.int32), cols, vals, d, 2)
    with pytest.raises(TypeError, match="spmm: expected vals to have dtype float32, got float64"):
        _C.spmm(rows, cols, vals.astype(np.float64), d, 2)
    with pytest.raises(TypeError, match="spmm: expected dense to be float32 or float64, got int64"):
        _C.spmm(rows, cols, vals, d.astype(np.int64), 2)
    with pytest.raises(ValueError, match=r"spmm: expected cols of shape \(2,\)"):
        _C.spmm(rows, cols[:1], vals, d, 2)
    with pytest.raises(ValueError, match="spmm: expected m >= 0"):
        _C.spmm(rows, cols, vals, d, -1)
    with pytest.raises(ValueError, match="spmm: expected dense to be 2-D"):
        _C.spmm(rows, cols, vals, np.ones(2, np.float32), 2)
    with pytest.raises(ValueError, match="spmm: dense .* must have contiguous rows"):
        _C.spmm(rows, cols, vals, np.ones((3, 2), np.float32).T, 2)
    with pytest.raises(ValueError, match=r"sddmm: entry 1 at \(1, 0\) is outside the 1 x 2 matrix"):
        _C.sddmm(rows, cols, np.ones((1, 3), np.float32), d)
    with pytest.raises(ValueError, match="sddmm: a .* and b .* differ in their row length"):
        _C.sddmm(rows, cols, d, np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="sddmm: expected b to have dtype float32"):
        _C.sddmm(rows, cols, d, d.astype(np.float64))


def test_cpu_backend_matches_composite():
    cpu, comp = CpuBackend(fastnn.device("cpu")), CompositeBackend(fastnn.device("cpu"))
    rng = np.random.default_rng(5)
    rows, cols = coo(rng, 40, 30, 300, empty_rows=(3, 7))
    vals = rng.standard_normal(rows.size)
    d = rng.standard_normal((30, 9))
    g = rng.standard_normal((40, 9))
    np.testing.assert_allclose(cpu.spmm(rows, cols, vals, d, 40), comp.spmm(rows, cols, vals, d, 40), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(cpu.spmm(cols, rows, vals, g, 30), comp.spmm(cols, rows, vals, g, 30), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(cpu.sddmm(rows, cols, g, d), comp.sddmm(rows, cols, g, d), rtol=1e-12, atol=1e-12)
    # a (2, nnz) index array's rows, a transposed dense operand: the CPU twin makes them fit the kernel
    idx = np.stack([rows, cols])[:, ::-1]
    np.testing.assert_allclose(cpu.spmm(idx[0], idx[1], vals[::-1], np.asfortranarray(d), 40),
                               comp.spmm(idx[0], idx[1], vals[::-1], d, 40), rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n,nnz", [(7, 5, 3, 12), (13, 11, 17, 60), (5, 6, 1, 0), (9, 4, 33, 30)])
def test_sparse_mm_matches_torch(dtype, m, k, n, nnz):
    """Uncoalesced input with duplicates and empty rows; values and both gradients."""
    t = pytest.importorskip("torch")
    rng = np.random.default_rng(m + n + nnz)
    rows, cols = coo(rng, m, k, nnz, empty_rows=(1, m - 2))
    idx = np.stack([rows, cols])
    vals = rng.standard_normal(rows.size).astype(dtype)
    d = rng.standard_normal((k, n)).astype(dtype)
    g = rng.standard_normal((m, n)).astype(dtype)
    results = []
    for lib in (fastnn, t):
        v = lib.tensor(vals, requires_grad=True)
        x = lib.tensor(d, requires_grad=True)
        a = lib.sparse_coo_tensor(lib.tensor(idx), v, (m, k))
        out = lib.sparse.mm(a, x)
        out.backward(lib.tensor(g))
        results.append([out.detach().numpy(), v.grad.numpy(), x.grad.numpy()])
    tol = 1e-5 if dtype == "float32" else 1e-12
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.torch
def test_sparse_mm_errors_match_torch():
    t = pytest.importorskip("torch")
    for lib in (fastnn, t):
        a = lib.sparse_coo_tensor(lib.tensor([[0, 1], [1, 0]]), lib.tensor([1.0, 2.0]), (2, 3))
        with pytest.raises(RuntimeError, match="Expected dim 0 size 3, got 2"):
            lib.sparse.mm(a, lib.ones(2, 4))
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
            lib.sparse.mm(a, lib.ones(3, 4, dtype=lib.float64))
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Long"):
            lib.sparse.mm(a, lib.ones(3, 4, dtype=lib.int64))
