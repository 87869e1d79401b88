"""Outputs that were written before fastnn had int32, and other torch details they share a fix with:
slogdet's sign and lstsq's residuals require grad, sort-family tie indices, and empty-input edge cases."""
import numpy as np
import torch

import fastnn
import fastnn.linalg as LA


def test_slogdet_sign_requires_grad_without_a_gradient():
    a = np.array([[2.0, 1.0], [1.0, -3.0]])
    fa, ta = fastnn.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    fs, ts = LA.slogdet(fa), torch.linalg.slogdet(ta)
    assert fs.sign.requires_grad and ts.sign.requires_grad
    (fs.sign.sum() + fs.logabsdet).backward()
    (ts.sign.sum() + ts.logabsdet).backward()
    np.testing.assert_allclose(np.asarray(fa.grad), ta.grad.numpy(), rtol=1e-12)
    fb = fastnn.tensor(a, requires_grad=True)
    LA.slogdet(fb).sign.sum().backward()
    assert fb.grad is None  # torch: the sign's gradient is undefined for real input


def test_lstsq_residuals_require_grad_and_match_torch_gradients():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    for driver in (None, "gels", "gelsd"):
        fa, fb = fastnn.tensor(a, requires_grad=True), fastnn.tensor(b, requires_grad=True)
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        fr, tr = LA.lstsq(fa, fb, driver=driver), torch.linalg.lstsq(ta, tb, driver=driver)
        assert fr.residuals.requires_grad and tr.residuals.requires_grad
        assert tuple(fr.residuals.shape) == tuple(tr.residuals.shape)
        (fr.residuals.sum() + fr.solution.sum()).backward()
        (tr.residuals.sum() + tr.solution.sum()).backward()
        np.testing.assert_allclose(np.asarray(fa.grad), ta.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(np.asarray(fb.grad), tb.grad.numpy(), atol=1e-12)


def test_gather_empty_index_of_any_rank():
    x = np.arange(12.0).reshape(3, 4)
    for shape in [(0,), (2, 0), (2, 0, 5)]:
        fx = fastnn.tensor(x, requires_grad=True)
        got = fastnn.gather(fx, 1, fastnn.zeros(shape, dtype=fastnn.int64))
        want = torch.gather(torch.tensor(x), 1, torch.zeros(shape, dtype=torch.long))
        assert tuple(got.shape) == tuple(want.shape) and got.dtype is fastnn.float64
        got.sum().backward()
        assert np.asarray(fx.grad).tolist() == np.zeros((3, 4)).tolist()
    try:
        fastnn.gather(fastnn.tensor(x), -3, fastnn.zeros((2, 0), dtype=fastnn.int64))
    except IndexError as e:  # torch: IndexError, "Dimension out of range"
        assert "out of range" in str(e)
    else:
        raise AssertionError("gather(dim=-3) of a 2-D input must raise")


def test_batch_norm_empty_1d_input():
    for training in (False, True):
        got = fastnn.nn.functional.batch_norm(fastnn.zeros(0), fastnn.zeros(0), fastnn.ones(0), training=training)
        want = torch.nn.functional.batch_norm(torch.zeros(0), torch.zeros(0), torch.ones(0), training=training)
        assert tuple(got.shape) == tuple(want.shape) == (0,)


def test_multi_margin_loss_0dim_input():
    for kw in ({}, {"reduction": "none"}, {"reduction": "sum"}, {"p": 2}, {"margin": 2.0}):
        fx = fastnn.tensor(0.7, requires_grad=True)
        tx = torch.tensor(0.7, requires_grad=True)
        got = fastnn.nn.functional.multi_margin_loss(fx, fastnn.tensor(0), **kw)
        want = torch.nn.functional.multi_margin_loss(tx, torch.tensor(0), **kw)
        assert tuple(got.shape) == tuple(want.shape) and float(got) == float(want)
        got.backward()
        want.backward()
        assert float(fx.grad) == float(tx.grad)
