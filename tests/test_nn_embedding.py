"""Embedding and F.embedding against torch 2.13: lookup, weight gradient with repeated indices, padding_idx,
scale_grad_by_freq, max_norm renormalisation, from_pretrained, state_dict, repr, init, errors; gradcheck."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches, load_from_torch
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

CONFIGS = [dict(), dict(padding_idx=0), dict(padding_idx=-2), dict(scale_grad_by_freq=True, padding_idx=3),
           dict(max_norm=1.5), dict(max_norm=2.0, norm_type=1.0)]


def _run(lib, module, idx, g):
    out = module(lib.tensor(idx))
    out.backward(lib.tensor(g))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_embedding_matches_torch(cfg, dtype):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(10, 4, **cfg)
    ours = nn.Embedding(10, 4, **cfg)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    load_from_torch(ours, theirs)
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(1)
    for shape in [(3, 5), (7,), ()]:
        idx = rng.integers(0, 10, size=shape)
        if shape:
            idx.reshape(-1)[:3] = [8, 8, 1]  # repeats, and the padding row when it is 8
        g = rng.standard_normal(shape + (4,)).astype(dtype)
        yo, yt = _run(fastnn, ours, idx, g), _run(torch, theirs, idx, g)
        assert yo.shape == tuple(yt.shape)
        assert_matches(yo, yt, f"forward {shape}")
        assert_matches(ours.weight.grad, theirs.weight.grad, f"weight grad {shape}")
        assert_matches(ours.weight, theirs.weight, f"weight after {shape} (max_norm renormalises in place)")


def test_padding_row_is_zero_and_gets_no_gradient():
    m = nn.Embedding(6, 3, padding_idx=-1)
    assert m.padding_idx == 5
    assert not m.weight.detach().numpy()[5].any()
    m(fastnn.tensor([[5, 5, 2]])).sum().backward()
    g = m.weight.grad.numpy()
    assert not g[5].any() and (g[2] == 1).all()


def test_state_dict_repr_and_init():
    m, t = nn.Embedding(1000, 64), torch.nn.Embedding(1000, 64)
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight"]
    assert m.weight.shape == (1000, 64) and m.weight.requires_grad
    w = m.weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1.0) < 0.02  # N(0, 1), as torch
    for cfg in (dict(), dict(padding_idx=3, max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True)):
        assert repr(nn.Embedding(10, 3, **cfg)) == repr(torch.nn.Embedding(10, 3, **cfg))


def test_from_pretrained_shares_storage_and_freezes():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    src = fastnn.tensor(w)
    m = nn.Embedding.from_pretrained(src, padding_idx=1)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w), padding_idx=1)
    assert not m.weight.requires_grad and repr(m) == repr(t)
    np.testing.assert_array_equal(m(fastnn.tensor([1, 3])).numpy(), t(torch.tensor([1, 3])).numpy())
    src._data[0, 0] = -1.0
    assert m.weight.numpy()[0, 0] == -1.0  # the same storage, as in torch
    trainable = nn.Embedding.from_pretrained(fastnn.tensor(w), freeze=False)
    trainable(fastnn.tensor([0, 0])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.numpy()[0], [2, 2, 2])
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.Embedding.from_pretrained(fastnn.ones(3))


def test_gradcheck_with_repeats():
    # (padding_idx is left out: its zero gradient is torch's rule, not the derivative.)
    idx = fastnn.tensor([[0, 2, 2], [4, 0, 1]])
    gradcheck_op(lambda w: F.embedding(idx, w), (5, 3))
    gradcheck_op(lambda w: F.embedding(idx, w, scale_grad_by_freq=False) ** 2, (5, 3))


def test_bad_inputs_raise_like_torch():
    m = nn.Embedding(10, 3)
    for bad in ([10], [-1], [[0, 11]]):
        with pytest.raises(IndexError, match="index out of range in self"):
            m(fastnn.tensor(bad))
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types: Long, Int"):
        m(fastnn.tensor([1.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(fastnn.tensor([1]), fastnn.ones(4, 2), padding_idx=-5)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding(10, 3, sparse=True)
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        nn.Embedding(10, 3, _weight=fastnn.ones(3, 10))
