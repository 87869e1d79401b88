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


def test_masked_fill_refuses_a_value_tensor_with_dims():
    x, mask, value = np.zeros((2, 2)), np.array(False), np.array([3.0])
    for lib, t in ((torch, torch.tensor), (fastnn, fastnn.tensor)):
        with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor"):
            t(x).masked_fill(t(mask), t(value))


def test_sign_of_bool():
    tx, fx = _pair(np.array([True, False, True]))
    _same(fastnn.sign(fx), torch.sign(tx))
    _same(fx.sign(), tx.sign())


def test_cosine_similarity_broadcasts_before_the_norms():
    rng = np.random.default_rng(6)
    x1, x2 = rng.standard_normal((1, 2, 3)), rng.standard_normal((2, 1, 3))
    t1, f1 = _pair(x1, requires_grad=True)
    t2, f2 = _pair(x2, requires_grad=True)
    t_out = torch.nn.functional.cosine_similarity(t1, t2, dim=-2)
    f_out = fastnn.nn.functional.cosine_similarity(f1, f2, dim=-2)
    _same(f_out, t_out)
    t_out.sum().backward()
    f_out.sum().backward()
    _same(f1.grad, t1.grad)
    _same(f2.grad, t2.grad)


@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_nll_loss_full_differentiates_the_target(log_input):
    rng = np.random.default_rng(7)
    x = rng.uniform(0.1, 2.0, (3, 4))
    y = rng.uniform(0.0, 4.0, (3, 4))
    y[0, :2] = (0.5, 1.0)  # at and below 1 the Stirling term is not counted
    tx, fx = _pair(x, requires_grad=True)
    ty, fy = _pair(y, requires_grad=True)
    t_out = torch.nn.functional.poisson_nll_loss(tx, ty, log_input=log_input, full=True)
    f_out = fastnn.nn.functional.poisson_nll_loss(fx, fy, log_input=log_input, full=True)
    _same(f_out, t_out)
    t_out.backward()
    f_out.backward()
    _same(fx.grad, tx.grad)
    _same(fy.grad, ty.grad)


@pytest.mark.parametrize("name,args", [("hardtanh", ()), ("hardtanh", (-2.5, 3.7)), ("relu6", ()),
                                       ("softsign", ()), ("tanhshrink", ())])
def test_activations_of_int_tensors_as_torch(name, args):
    tx, fx = _pair(np.array([-7, -3, -1, 0, 2, 5, 9]))
    _same(getattr(fastnn.nn.functional, name)(fx, *args), getattr(torch.nn.functional, name)(tx, *args))


@pytest.mark.parametrize("args", [(0.0, -8.000001, -4.0), (1.0, 5.000001, 2.0), (-0.9, 2.1, 2.0), (2.1, -2.9, -1.0),
                                  (3.1,), (-2.5, 2.5, 1.5), (0, 7, 2)])
def test_integer_arange_truncates_its_bounds_first(args):
    _same(fastnn.arange(*args, dtype=fastnn.int64), torch.arange(*args, dtype=torch.int64))


def test_integer_arange_step_truncated_to_zero():
    with pytest.raises(ValueError, match="step must be nonzero"):
        torch.arange(0, 5, 0.5, dtype=torch.int64)
    with pytest.raises(ValueError, match="step must be nonzero"):
        fastnn.arange(0, 5, 0.5, dtype=fastnn.int64)


def test_integer_pow_with_negative_tensor_exponents():
    a = np.array([0, 1, -1, 2, -2, 5, 0, -1, 3])
    b = np.array([-1, -3, -3, -1, -2, -8, 0, -2, 2])
    (ta, fa), (tb, fb) = _pair(a), _pair(b)
    _same(fastnn.pow(fa, fb), torch.pow(ta, tb))
    _same(fa ** fb, ta ** tb)
    _same(5 ** fb, 5 ** tb)  # __rpow__
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        fastnn.pow(fa, -1)  # a Python exponent stays torch's error


@pytest.mark.parametrize("start,end", [(4.3, -3), (4.3, 0), (4.3, 1), (4.3, 50), (-7, 7), (0, 10), (-0.5, 30.2)])
@pytest.mark.parametrize("steps", [0, 1, 2, 5, 50, 51])
def test_integer_linspace_as_torch(start, end, steps):
    # torch's scalar int64 kernel; its vectorised tail truncates the step to an integer and can differ by 1
    # from it in places (linspace(-2, 5, 50)[21]), which these ranges do not hit.
    _same(fastnn.linspace(start, end, steps, dtype=fastnn.int64), torch.linspace(start, end, steps, dtype=torch.int64))


@pytest.mark.parametrize("args", [(-1,), (2, -1), (-2, -3)])
def test_eye_negative_sizes_raise_torchs_error(args):
    with pytest.raises(RuntimeError) as t_err:
        torch.eye(*args)
    with pytest.raises(RuntimeError) as f_err:
        fastnn.eye(*args)
    assert str(f_err.value) == str(t_err.value)


def test_losses_torch_computes_from_int_inputs_in_float32():
    a, b = np.array([[1, 2, 3], [4, 5, 6]]), np.array([[2, 2, 1], [0, 5, 7]])
    (ta, fa), (tb, fb) = _pair(a), _pair(b)
    ty, fy = _pair(np.array([1, -1]))
    tF, fF = torch.nn.functional, fastnn.nn.functional
    _same(fF.poisson_nll_loss(fa, fb), tF.poisson_nll_loss(ta, tb))
    _same(fF.poisson_nll_loss(fa, fb, log_input=False), tF.poisson_nll_loss(ta, tb, log_input=False))
    _same(fF.cosine_embedding_loss(fa, fb, fy), tF.cosine_embedding_loss(ta, tb, ty))
    _same(fF.cosine_embedding_loss(fa > 2, fb > 2, fy), tF.cosine_embedding_loss(ta > 2, tb > 2, ty))
    _same(fF.triplet_margin_loss(fa, fb, fa + 1), tF.triplet_margin_loss(ta, tb, ta + 1))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), dilation=2, return_indices=True)])
def test_max_pool2d_of_int_tensors_keeps_the_dtype(kw):
    x = np.random.default_rng(8).integers(-2 ** 40, 2 ** 40, (2, 3, 7, 9))
    x[0, 0, :2, :2] = 5  # ties: the first maximum's index, as torch
    tx, fx = _pair(x)
    t_out = torch.nn.functional.max_pool2d(tx, **kw)
    f_out = fastnn.nn.functional.max_pool2d(fx, **kw)
    for t, f in zip(t_out if kw.get("return_indices") else (t_out,), f_out if kw.get("return_indices") else (f_out,)):
        _same(f, t)


def test_max_pool2d_refuses_ints_float64_cannot_hold():
    with pytest.raises(NotImplementedError, match="2\\*\\*53"):
        fastnn.nn.functional.max_pool2d(fastnn.tensor(np.full((1, 2, 2), 2 ** 60)), 2)


def _same_error(t_call, f_call):
    """Both raise, with one exception type and one message."""
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(Exception) as f_err:
        f_call()
    assert (type(f_err.value), str(f_err.value)) == (type(t_err.value), str(t_err.value))


@pytest.mark.parametrize("kw", [dict(stride=(-1,)), dict(stride=0), dict(padding=-1), dict(padding=(1, -1)),
                                dict(dilation=(0,)), dict(dilation=(1, 0))])
def test_conv2d_bad_geometry_raises_torchs_errors(kw):
    """torch's type and text, after the op's name (torch's text names none; its checks differ by path, e.g.
    for an empty kernel, so the name is what a user reading either can rely on)."""
    x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(Exception) as t_err:
        torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw)
    with pytest.raises(type(t_err.value)) as f_err:
        fastnn.nn.functional.conv2d(fastnn.tensor(x), fastnn.tensor(w), **kw)
    assert str(f_err.value) == "conv2d(): " + str(t_err.value)


def test_conv2d_takes_one_tuples_as_torch():
    x = np.random.default_rng(9).standard_normal((1, 2, 7, 6)).astype(np.float32)
    w = np.random.default_rng(10).standard_normal((3, 2, 3, 2)).astype(np.float32)
    kw = dict(stride=(2,), padding=(1,), dilation=(2,))
    _same(fastnn.nn.functional.conv2d(fastnn.tensor(x), fastnn.tensor(w), **kw),
          torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), **kw))


@pytest.mark.parametrize("args", [(0, -3, 2), (0, 3, -2), (0, float("inf"), 2), (float("-inf"), 1, 2),
                                  (0, float("nan"))])
def test_arange_bad_ranges_raise_torchs_errors(args):
    _same_error(lambda: torch.arange(*args), lambda: fastnn.arange(*args))


def test_cat_stack_narrow_rrelu_errors_as_torch():
    _same_error(lambda: torch.cat([], dim=1), lambda: fastnn.cat([], dim=1))
    _same_error(lambda: torch.stack([]), lambda: fastnn.stack([]))
    _same_error(lambda: torch.narrow(torch.tensor(1.0), 0, 0, 1), lambda: fastnn.narrow(fastnn.tensor(1.0), 0, 0, 1))
    _same_error(lambda: torch.nn.functional.rrelu(torch.ones(2), 0.3, 0.1),
                lambda: fastnn.nn.functional.rrelu(fastnn.ones(2), 0.3, 0.1))


def test_adaptive_avg_pool2d_and_multi_margin_loss_argument_errors_as_torch():
    for size in ((2, 2), 2, [3, None]):  # a sequence output_size is checked in Python (ValueError), an int not
        _same_error(lambda: torch.nn.functional.adaptive_avg_pool2d(torch.ones(2, 2), size),
                    lambda: fastnn.nn.functional.adaptive_avg_pool2d(fastnn.ones(2, 2), size))
    for w in (np.array(1.0), np.ones((1, 3))):
        _same_error(lambda: torch.nn.functional.multi_margin_loss(torch.ones(2, 3), torch.tensor([0, 1]),
                                                                  weight=torch.tensor(w)),
                    lambda: fastnn.nn.functional.multi_margin_loss(fastnn.ones(2, 3), fastnn.tensor([0, 1]),
                                                                   weight=fastnn.tensor(w)))


def test_linspace_argument_errors_as_torch():
    for steps in (1.0, True):
        with pytest.raises(TypeError):
            torch.linspace(0, 3, steps)
        with pytest.raises(TypeError, match="steps must be an int"):
            fastnn.linspace(0, 3, steps)
    for lo, hi in (([1, 1], [3, 3]), (1, [3, 3])):
        _same_error(lambda: torch.linspace(torch.tensor(lo), torch.tensor(hi), 1),
                    lambda: fastnn.linspace(fastnn.tensor(lo), fastnn.tensor(hi), 1))
    _same(fastnn.linspace(fastnn.tensor(1.0), fastnn.tensor(3.0), 5), torch.linspace(torch.tensor(1.0),
                                                                                     torch.tensor(3.0), 5))
