"""Regression tests for the gaps the OpInfo oracle (tests/opinfo_oracle.py) found in existing ops, each checked
against torch: the keyword or overload PyTorch accepts, the dtype it returns, the gradient it gives."""
import numpy as np
import pytest

import fastnn
from fastnn.autograd import gradcheck
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _pair(a, requires_grad=False):
    """The same values as a torch tensor and a fastnn tensor."""
    a = np.asarray(a)
    return (torch.tensor(a, requires_grad=requires_grad),
            fastnn.tensor(a, requires_grad=requires_grad))


def _same(f_out, t_out):
    assert str(f_out.dtype).rpartition(".")[2] == str(t_out.dtype).rpartition(".")[2], (f_out.dtype, t_out.dtype)
    assert_close(f_out, t_out.detach().numpy(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("unbiased", [True, False])
def test_var_std_unbiased_overload(name, unbiased):
    # torch.var(input, unbiased): the bool stands where dim would
    x = np.random.default_rng(3).standard_normal((4, 5))
    tx, fx = _pair(x)
    _same(getattr(fastnn, name)(fx, unbiased), getattr(torch, name)(tx, unbiased))
    _same(getattr(fx, name)(unbiased), getattr(tx, name)(unbiased))


def _clamp_case(lo_shape, hi_shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    lo = None if lo_shape is None else rng.standard_normal(lo_shape) - 0.5
    hi = None if hi_shape is None else rng.standard_normal(hi_shape) + 0.5
    return x, lo, hi


@pytest.mark.parametrize("lo_shape,hi_shape", [((3, 4), (4,)), ((4,), None), (None, (3, 1)), ((), ())])
def test_clamp_tensor_bounds_get_gradients(lo_shape, hi_shape):
    x, lo, hi = _clamp_case(lo_shape, hi_shape)
    if lo is not None and hi is not None:
        lo.flat[0] = hi.flat[0] + 1  # one place where min > max: the result is max, and max gets the gradient
    tx, fx = _pair(x, requires_grad=True)
    tl, fl = _pair(lo, requires_grad=True) if lo is not None else (None, None)
    th, fh = _pair(hi, requires_grad=True) if hi is not None else (None, None)
    t_out, f_out = torch.clamp(tx, tl, th), fastnn.clamp(fx, fl, fh)
    _same(f_out, t_out)
    assert f_out.grad_fn.name == t_out.grad_fn.name() == "ClampBackward0"
    ct = np.random.default_rng(5).standard_normal((3, 4))
    t_out.backward(torch.tensor(ct))
    f_out.backward(fastnn.tensor(ct))
    for t, f in ((tx, fx), (tl, fl), (th, fh)):
        if t is not None:
            _same(f.grad, t.grad)


def test_clamp_tensor_bounds_gradcheck():
    x, lo, hi = _clamp_case((3, 4), (4,))
    args = [fastnn.tensor(v, requires_grad=True) for v in (x, lo, hi)]
    assert gradcheck(lambda a, b, c: fastnn.clamp(a, b, c), args)


def test_masked_fill_keeps_the_input_dtype():
    for values, fill in ((np.array([True, False, True]), 1), (np.array([1, 2, 3]), 2.5), (np.array([1, 2, 3]), True)):
        tx, fx = _pair(values)
        mask = np.array([True, False, True])
        _same(fx.masked_fill(fastnn.tensor(mask), fill), tx.masked_fill(torch.tensor(mask), fill))


def test_sign_of_bool():
    tx, fx = _pair(np.array([True, False, True]))
    _same(fastnn.sign(fx), torch.sign(tx))
    _same(fx.sign(), tx.sign())
