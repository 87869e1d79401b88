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
