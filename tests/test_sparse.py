"""Sparse COO tensors as graph-network programs use them (``import fastnn as torch``): an adjacency built from
an edge list, ``torch.sparse.mm(adj, features)`` / ``torch.spmm``, ``to_sparse`` / ``to_dense`` /
``coalesce``, with gradients to the features and to the values, against torch 2.13 and gradcheck."""
import numpy as np
import pytest

import fastnn as torch
from fastnn.autograd import gradcheck


pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks")


def real():
    return pytest.importorskip("torch")


def _edges(rng, m, k, nnz, dup=True):
    rows = rng.integers(0, m, nnz)
    cols = rng.integers(0, k, nnz)
    if dup and nnz > 2:
        rows[1], cols[1] = rows[0], cols[0]  # a repeated entry: summed, as torch sums duplicates
    return np.stack([rows, cols])


@pytest.mark.torch
@pytest.mark.parametrize("m,k,n,nnz", [(5, 4, 3, 9), (1, 1, 1, 1), (7, 3, 1, 0), (3, 6, 0, 4), (6, 6, 5, 36)])
def test_sparse_mm_values_and_grads_match_torch(m, k, n, nnz):
    t = real()
    rng = np.random.default_rng(m * 100 + nnz)
    idx = _edges(rng, m, k, nnz)
    vals = rng.standard_normal(nnz).astype(np.float32)
    dense = rng.standard_normal((k, n)).astype(np.float32)
    v_o = torch.tensor(vals, requires_grad=True)
    d_o = torch.tensor(dense, requires_grad=True)
    v_t = t.tensor(vals, requires_grad=True)
    d_t = t.tensor(dense, requires_grad=True)
    a_o = torch.sparse_coo_tensor(torch.tensor(idx), v_o, (m, k))
    a_t = t.sparse_coo_tensor(t.tensor(idx), v_t, (m, k))
    out_o, out_t = torch.sparse.mm(a_o, d_o), t.sparse.mm(a_t, d_t)
    np.testing.assert_allclose(out_o.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal((m, n)).astype(np.float32)
    out_o.backward(torch.tensor(g))
    out_t.backward(t.tensor(g))
    np.testing.assert_allclose(d_o.grad.numpy(), d_t.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v_o.grad.numpy(), v_t.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert out_o.grad_fn.name == type(out_t.grad_fn).__name__ == "SparseAddmmBackward0"
    np.testing.assert_allclose(torch.spmm(a_o, d_o).detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose((a_o @ d_o).detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_gradcheck_float64():
    rng = np.random.default_rng(0)
    idx = torch.tensor(_edges(rng, 4, 5, 7))
    v = torch.tensor(rng.standard_normal(7), requires_grad=True)
    d = torch.tensor(rng.standard_normal((5, 3)), requires_grad=True)

    def f(v, d):
        return torch.sparse.mm(torch.sparse_coo_tensor(idx, v, (4, 5)), d)

    assert gradcheck(f, (v, d))
    assert gradcheck(lambda v: torch.sparse_coo_tensor(idx, v, (4, 5)).to_dense(), (v,))
    assert gradcheck(lambda v: torch.sparse_coo_tensor(idx, v, (4, 5)).coalesce().values(), (v,))
    # (every entry nonzero: a perturbed zero would change the sparsity pattern the gradient lives on)
    x = torch.tensor(rng.uniform(0.5, 1.5, (3, 5)), requires_grad=True)
    assert gradcheck(lambda x: torch.sparse.mm(x.to_sparse(), d), (x,))


def test_non_contiguous_dense_operand():
    rng = np.random.default_rng(1)
    idx = torch.tensor(_edges(rng, 3, 4, 5))
    a = torch.sparse_coo_tensor(idx, torch.ones(5), (3, 4))
    d = torch.tensor(rng.standard_normal((2, 4)).astype(np.float32)).t()
    np.testing.assert_allclose(torch.sparse.mm(a, d).numpy(), a.to_dense().numpy() @ d.numpy(), rtol=1e-5)


@pytest.mark.torch
def test_construction_coalesce_and_to_sparse_match_torch():
    t = real()
    idx = [[1, 0, 1, 2], [2, 1, 2, 0]]
    vals = [1.0, 2.0, 3.0, 4.0]
    a, b = torch.sparse_coo_tensor(idx, vals), t.sparse_coo_tensor(idx, vals)
    assert tuple(a.shape) == tuple(b.shape) and a.is_sparse and a._nnz() == b._nnz() == 4
    assert a.is_coalesced() == b.is_coalesced() is False
    np.testing.assert_array_equal(a.to_dense().numpy(), b.to_dense().numpy())
    with pytest.raises(RuntimeError, match="uncoalesced"):
        a.values()
    ac, bc = a.coalesce(), b.coalesce()
    assert ac.is_coalesced() and ac._nnz() == bc._nnz() == 3
    np.testing.assert_array_equal(ac.indices().numpy(), bc.indices().numpy())
    np.testing.assert_array_equal(ac.values().numpy(), bc.values().numpy())
    assert ac.indices().dtype is torch.int64 and ac.dim() == 2 and ac.sparse_dim() == 2 and ac.dense_dim() == 0
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]], np.float32)
    s, st = torch.tensor(x).to_sparse(), t.tensor(x).to_sparse()
    np.testing.assert_array_equal(s.indices().numpy(), st.indices().numpy())
    np.testing.assert_array_equal(s.values().numpy(), st.values().numpy())
    assert s.is_coalesced() and not torch.tensor(x).is_sparse
    np.testing.assert_array_equal(s.to_dense().numpy(), x)
    # hybrid: one sparse dim, dense rows as values
    h, ht = torch.tensor(x).to_sparse(1), t.tensor(x).to_sparse(1)
    assert tuple(h.values().shape) == tuple(ht.values().shape) == (2, 3)
    np.testing.assert_array_equal(h.to_dense().numpy(), x)
    assert tuple(torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.int64), torch.zeros(0), (3, 3))
                 .to_dense().shape) == (3, 3)


def test_sparse_leaf_grad_is_sparse():
    idx = torch.tensor([[0, 1, 1], [2, 0, 2]])
    a = torch.sparse_coo_tensor(idx, torch.tensor([3.0, 4.0, 5.0]), (2, 3), requires_grad=True)
    d = torch.ones(3, 2)
    torch.sparse.mm(a, d).sum().backward()
    assert a.requires_grad and a.grad.is_sparse and a.grad._values().tolist() == [2.0, 2.0, 2.0]
    assert "layout=fastnn.sparse_coo" in repr(a) and "nnz=3" in repr(a)


def test_bad_input_raises_clear_errors():
    idx = torch.tensor([[0, 1], [1, 0]])
    a = torch.sparse_coo_tensor(idx, torch.ones(2), (2, 2))
    with pytest.raises(RuntimeError, match="Expected dim 0 size 2, got 3"):
        torch.sparse.mm(a, torch.ones(3, 2))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        torch.sparse.mm(a, torch.ones(2, 2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="size is inconsistent with indices"):
        torch.sparse_coo_tensor(idx, torch.ones(2), (1, 2))
    with pytest.raises(RuntimeError, match="number of indices"):
        torch.sparse_coo_tensor(idx, torch.ones(3), (2, 2))
    with pytest.raises(RuntimeError, match="negative"):
        torch.sparse_coo_tensor(torch.tensor([[0, -1]]), torch.ones(2), (2,))


def test_gcn_layer_trains():
    """The graph-network pattern: normalised adjacency @ (features @ W), trained a few steps."""
    rng = np.random.default_rng(2)
    n = 12
    edges = np.array([(i, (i + 1) % n) for i in range(n)] + [((i + 1) % n, i) for i in range(n)]).T
    deg = np.bincount(edges[0], minlength=n).astype(np.float32)
    vals = 1.0 / np.sqrt(deg[edges[0]] * deg[edges[1]])
    adj = torch.sparse_coo_tensor(torch.tensor(edges), torch.tensor(vals), (n, n)).coalesce()
    x = torch.tensor(rng.standard_normal((n, 4)).astype(np.float32))
    y = torch.tensor(np.arange(n) % 2)
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(lin.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(torch.sparse.mm(adj, lin(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
