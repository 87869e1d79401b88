"""The engine: accumulation, retain_graph, no_grad, autograd.grad, gradcheck itself, in-place safety."""
import numpy as np
import pytest

import fastnn
from fastnn.autograd import GradcheckError, gradcheck


def leaf(*shape, dtype=fastnn.float64):
    fastnn.manual_seed(sum(shape) + 1)
    return fastnn.randn(*shape, dtype=dtype, requires_grad=True)


def test_grad_accumulates_across_backward_calls():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert np.allclose(x.grad.numpy(), 5.0)


def test_shared_subexpression_sums_both_paths():
    x = leaf(4)
    y = x * x
    (y + y).sum().backward()
    assert np.allclose(x.grad.numpy(), 4 * x.detach().numpy())


def test_grads_of_two_leaves_do_not_alias():
    a, b = leaf(3), leaf(3)
    (a + b).sum().backward()
    a.grad.mul_(10)
    assert np.allclose(b.grad.numpy(), 1.0)


def test_second_backward_without_retain_graph_is_a_clear_error():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    assert np.allclose(x.grad.numpy(), 2 * first)


def test_non_scalar_backward_needs_gradient():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(fastnn.ones(3, dtype=fastnn.float64))
    assert np.allclose(x.grad.numpy(), 2.0)


def test_gradient_shape_mismatch_is_an_error():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(fastnn.ones(4, dtype=fastnn.float64))


def test_no_grad_and_enable_grad():
    x = leaf(2)
    with fastnn.no_grad():
        y = x * 2
        assert not y.requires_grad and y.grad_fn is None
        with fastnn.enable_grad():
            z = x * 2
        assert z.requires_grad
    assert fastnn.is_grad_enabled()

    @fastnn.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_set_grad_enabled_as_function_and_context():
    x = leaf(2)
    with fastnn.set_grad_enabled(False):
        assert not (x * 1).requires_grad
    assert fastnn.is_grad_enabled()
    fastnn.set_grad_enabled(False)
    try:
        assert not (x * 1).requires_grad
    finally:
        fastnn.set_grad_enabled(True)


def test_autograd_grad_returns_without_touching_dot_grad():
    x, w = leaf(2, 3), leaf(3, 4)
    y = (x @ w).tanh().sum()
    gx, gw = fastnn.autograd.grad(y, (x, w))
    assert x.grad is None and w.grad is None
    y2 = (x @ w).tanh().sum()
    y2.backward()
    assert np.allclose(gx.numpy(), x.grad.numpy()) and np.allclose(gw.numpy(), w.grad.numpy())


def test_autograd_grad_of_intermediate():
    x = leaf(3)
    h = x * 3
    y = (h * h).sum()
    (gh,) = fastnn.autograd.grad(y, h)
    assert np.allclose(gh.numpy(), 2 * h.detach().numpy())


def test_autograd_grad_unused_input():
    x, z = leaf(3), leaf(2)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not have been used"):
        fastnn.autograd.grad(y, (x, z), retain_graph=True)
    gx, gz = fastnn.autograd.grad(y, (x, z), allow_unused=True)
    assert gz is None and np.allclose(gx.numpy(), 2)


def test_create_graph_is_refused_honestly():
    x = leaf(3)
    with pytest.raises(NotImplementedError, match="create_graph"):
        fastnn.autograd.grad((x * x).sum(), x, create_graph=True)


def test_retain_grad_on_intermediate():
    x = leaf(3)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    assert np.allclose(h.grad.numpy(), 2 * h.detach().numpy())
    assert (x * 1).grad is None


def test_deep_graph_needs_no_recursion():
    x = leaf(1)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    assert np.isclose(x.grad.item(), 1.0001 ** 5000)


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        fastnn.tensor([1, 2], requires_grad=True)
    x = leaf(2)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    assert y.detach().requires_grad is False and y.detach().grad_fn is None
    assert x.is_leaf and not y.is_leaf and y.grad_fn.name == "MulBackward0"


def test_inplace_on_leaf_requiring_grad_is_refused_outside_no_grad():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="in-place"):
        x.add_(1)
    with fastnn.no_grad():
        x.add_(1)
        x.mul_(2)
        x[0] = 5.0


def test_modified_saved_input_is_detected():
    x = leaf(3)
    y = (x * x).sum()
    with fastnn.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_backward_inputs_argument_restricts_accumulation():
    a, b = leaf(2), leaf(2)
    (a * b).sum().backward(inputs=[a])
    assert a.grad is not None and b.grad is None


def test_int_tensors_never_join_the_graph():
    x = leaf(3)
    idx = x.argmax()
    assert not idx.requires_grad and (x > 0).requires_grad is False


def test_gradcheck_passes_on_correct_gradient():
    x = leaf(3, 2)
    assert gradcheck(lambda t: (t * t).sum(dim=1), (x,))


def test_gradcheck_catches_a_wrong_gradient():
    from fastnn.autograd.graph import record
    from fastnn import Tensor

    def wrong_square(t):
        out = Tensor._wrap(t._data ** 2)
        return record(out, "WrongBackward", (t,), lambda g: (g * t._data,))  # should be 2 * t

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(wrong_square, (leaf(4),))
    assert gradcheck(wrong_square, (leaf(4),), raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, (fastnn.randn(3, requires_grad=True),))


def test_leaf_grad_never_aliases_a_user_gradient():
    g = np.ones(3, np.float32)
    x = fastnn.ones(3, requires_grad=True)
    x.backward(fastnn.from_numpy(g))
    x.grad.mul_(5)
    assert g.tolist() == [1, 1, 1]


def test_leaf_grads_from_shared_views_do_not_alias():
    x = fastnn.ones(2, 3, requires_grad=True)
    y = fastnn.ones(2, 3, requires_grad=True)
    (x.reshape(6) + y.reshape(6)).sum().backward()  # both grads are reshapes of one array
    x.grad.mul_(7)
    assert y.grad.tolist() == [[1, 1, 1], [1, 1, 1]]
