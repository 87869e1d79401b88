"""Tensor hooks (register_hook, register_post_accumulate_grad_hook) and the engine's final callbacks, against
torch on the same graphs: same firing order, same values, same errors."""
import gc

import numpy as np
import pytest
import torch

import fastnn
from fastnn.autograd import hooks as _hooks


def _queue(lib):
    return lib.autograd.Variable._execution_engine.queue_callback if lib is torch else fastnn.autograd.queue_callback


def _mlp_hooks(lib, double_h=True):
    """A two-layer graph with every hook kind; returns the log of (kind, name, value) events and the grads."""
    log = []
    w1 = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=lib.float64, requires_grad=True)
    w2 = lib.tensor(np.linspace(-.5, .7, 8).reshape(4, 2), dtype=lib.float64, requires_grad=True)
    b = lib.tensor([0.1, -0.2], dtype=lib.float64, requires_grad=True)
    x = lib.tensor(np.linspace(0, 1, 6).reshape(2, 3), dtype=lib.float64)
    for name, p in (("w1", w1), ("w2", w2), ("b", b)):
        p.register_hook(lambda g, n=name: log.append(("pre", n, round(float(g.sum()), 9))))

        def post(t, n=name):
            log.append(("post", n, round(float(t.grad.sum()), 9)))
            if n == "w2":
                _queue(lib)(lambda: log.append(("callback", n, None)))
        p.register_post_accumulate_grad_hook(post)
    h = (x @ w1).tanh()
    if double_h:
        h.register_hook(lambda g: g * 2)  # a replacement flows into tanh's backward and on to w1
    h.register_hook(lambda g: log.append(("h", None, round(float(g.sum()), 9))))
    ((h @ w2) + b).pow(2).sum().backward()
    log.append(("end", None, None))
    return log, [p.grad.numpy() if lib is fastnn else p.grad.detach().numpy() for p in (w1, w2, b)]


def test_hook_order_and_values_match_torch():
    ours, our_grads = _mlp_hooks(fastnn)
    theirs, their_grads = _mlp_hooks(torch)
    assert ours == theirs
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_post_hook_sees_final_grad_before_backward_ends():
    """A post-accumulate hook of the last layer fires while the first layer's backward has not run: the point
    DDP's overlap needs."""
    w1 = fastnn.randn(5, 5, requires_grad=True)
    w2 = fastnn.randn(5, 5, requires_grad=True)
    seen = []
    w2.register_post_accumulate_grad_hook(lambda t: seen.append(("w2", w1.grad is None, t.grad.clone())))
    w1.register_post_accumulate_grad_hook(lambda t: seen.append(("w1", w2.grad is not None, None)))
    x = fastnn.randn(3, 5)
    ((x @ w1).relu() @ w2).sum().backward()
    assert [s[:2] for s in seen] == [("w2", True), ("w1", True)]
    np.testing.assert_array_equal(seen[0][2].numpy(), w2.grad.numpy())


def test_leaf_used_twice_fires_once_with_the_sum():
    for lib in (fastnn, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        calls = []
        x.register_hook(lambda g: calls.append(g.tolist()))
        x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
        (x * x + x.sin() * 3).sum().backward()
        if lib is fastnn:
            ours = calls
        else:
            np.testing.assert_allclose(ours, calls, rtol=1e-6)
    assert len(ours) == 2


def test_replacement_grad_and_accumulation_over_two_backwards():
    for lib in (fastnn, torch):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x.register_hook(lambda g: g * 10)
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        h.remove()
        (x * 1).sum().backward()
        if lib is fastnn:
            ours = x.grad.tolist()
        else:
            assert ours == x.grad.tolist() == [51.0, 51.0, 51.0]


def test_handles_remove_and_counter_returns_to_zero():
    before = _hooks.STATE[0]
    x = fastnn.randn(3, requires_grad=True)
    calls = []
    h1 = x.register_hook(lambda g: calls.append(1))
    h2 = x.register_post_accumulate_grad_hook(lambda t: calls.append(2))
    y = x * 2
    with y.register_hook(lambda g: calls.append(3)):
        assert _hooks.STATE[0] == before + 3
    h1.remove()
    h1.remove()  # a second remove is a no-op, as torch's
    y.sum().backward()
    assert calls == [2]
    h2.remove()
    assert _hooks.STATE[0] == before
    z = fastnn.randn(2, requires_grad=True)
    z.register_hook(lambda g: None)
    del z
    gc.collect()
    assert _hooks.STATE[0] == before  # a dead tensor's hooks no longer count


def test_autograd_grad_runs_tensor_hooks_but_not_post_accumulate():
    for lib in (fastnn, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        calls = []
        w.register_hook(lambda g: g * 3)
        w.register_post_accumulate_grad_hook(lambda t: calls.append("post"))
        (g,) = lib.autograd.grad((w * w).sum(), [w])
        assert calls == [] and w.grad is None
        assert g.tolist() == [6.0, 12.0]


def test_backward_inputs_accumulates_and_fires_post_hooks():
    for lib in (fastnn, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        calls = []
        a.register_post_accumulate_grad_hook(lambda t: calls.append(("a", t.grad.tolist())))
        b.register_post_accumulate_grad_hook(lambda t: calls.append(("b", None)))
        (a * b).sum().backward(inputs=[a])
        assert calls == [("a", [3.0, 4.0])] and b.grad is None


def test_retain_grad_stores_the_hooked_gradient():
    for lib in (fastnn, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g + 1)
        (y * 3).sum().backward()
        assert y.grad.tolist() == [4.0, 4.0] and x.grad.tolist() == [8.0, 8.0]


def test_hook_on_root_leaf_and_gradcheck_style_values():
    x = fastnn.tensor([0.3, -0.7], dtype=fastnn.float64, requires_grad=True)
    x.register_hook(lambda g: g * 0.5)
    x.backward(fastnn.tensor([2.0, 4.0], dtype=fastnn.float64))
    assert x.grad.tolist() == [1.0, 2.0]
    # the hook that doubles a gradient on a nonlinear graph: twice gradcheck's analytic gradient
    w = fastnn.tensor(np.array([0.2, -0.4, 0.9]), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda t: (t.sin() * t).sum(), (w,))
    w.register_hook(lambda g: g * 2)
    (w.sin() * w).sum().backward()
    wn = w.detach().numpy()
    np.testing.assert_allclose(w.grad.numpy(), 2 * (np.cos(wn) * wn + np.sin(wn)), rtol=1e-12)


def test_errors_match_torch():
    for lib in (fastnn, torch):
        x = lib.ones(3, requires_grad=True)
        msgs = []
        for ret in ("a", lib.ones(2), lib.ones(3, dtype=lib.float64)):
            h = x.register_hook(lambda g, r=ret: r)
            with pytest.raises((TypeError, RuntimeError)) as e:
                (x * 2).sum().backward()
            msgs.append((e.type, str(e.value)))
            h.remove()
        h = x.register_post_accumulate_grad_hook(lambda t: 1)
        with pytest.raises(TypeError) as e:
            (x * 2).sum().backward()
        msgs.append((e.type, str(e.value)))
        h.remove()
        with pytest.raises(RuntimeError) as e:
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        msgs.append((e.type, str(e.value)))
        with pytest.raises(RuntimeError) as e:
            lib.ones(2).register_hook(lambda g: None)
        msgs.append((e.type, str(e.value)))
        with pytest.raises(RuntimeError) as e:
            _queue(lib)(lambda: None)
        msgs.append((e.type, str(e.value)))
        if lib is fastnn:
            ours = msgs
        else:
            assert [(t, m.replace("torch.", "")) for t, m in ours] == [(t, m.replace("torch.", "")) for t, m in msgs]


def test_callback_queued_by_callback_runs_and_errors_leave_no_frame():
    x = fastnn.ones(2, requires_grad=True)
    calls = []
    q = fastnn.autograd.queue_callback

    def post(t):
        q(lambda: (calls.append(1), q(lambda: calls.append(2))))
    h = x.register_post_accumulate_grad_hook(post)
    (x * 2).sum().backward()
    assert calls == [1, 2]
    h.remove()
    h = x.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        (x * 2).sum().backward()
    h.remove()
    assert not _hooks._frames()
    with pytest.raises(RuntimeError, match="Final callbacks"):
        q(lambda: None)


def test_adopted_grad_is_not_shared_between_hooked_leaves():
    """The early .grad keeps the engine's adopt-or-copy rule: add hands one array to both inputs."""
    a = fastnn.zeros(4, requires_grad=True)
    b = fastnn.zeros(4, requires_grad=True)
    a.register_post_accumulate_grad_hook(lambda t: None)
    b.register_post_accumulate_grad_hook(lambda t: None)
    (a + b).sum().backward()
    a.grad.add_(1.0)
    assert b.grad.tolist() == [1.0] * 4 and a.grad.tolist() == [2.0] * 4


def test_autograd_grad_fires_only_hooks_on_paths_to_its_inputs():
    for lib in (fastnn, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        calls = []
        a = x * 2
        a.register_hook(lambda g: calls.append("a"))
        b = w * 3
        b.register_hook(lambda g: calls.append("b"))
        lib.autograd.grad((a * b).sum(), [x])
        assert calls == ["a"]


def test_hooks_registered_before_an_inplace_write_see_the_old_value_gradient():
    logs = []
    for lib in (fastnn, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        log = []
        y.register_hook(lambda g: log.append(("before", g.tolist())))
        y.mul_(3)
        y.register_hook(lambda g: log.append(("after", g.tolist())))
        (y * y).sum().backward()
        logs.append((log, x.grad.tolist()))
    assert logs[0] == logs[1]


def _conv_bn_grads(hooked):
    from fastnn import nn
    fastnn.manual_seed(5)
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4 * 5 * 5, 3))
    fired = []
    handles = [p.register_post_accumulate_grad_hook(lambda t: fired.append(t.grad.clone())) for p in m.parameters()
               ] if hooked else []
    x = fastnn.randn(3, 2, 5, 5)
    for _ in range(2):  # the second backward accumulates onto the first's .grad
        h = m(x)
        h = h * 2
        h.add_(1.0)  # an in-place write on a non-leaf between the parameters' uses
        (h.sin() * h).sum().backward()
    for handle in handles:
        handle.remove()
    return [p.grad.numpy().copy() for p in m.parameters()], fired


def test_hooked_backward_gives_the_plain_backward_grads():
    plain, _ = _conv_bn_grads(False)
    hooked, fired = _conv_bn_grads(True)
    for a, b in zip(plain, hooked):
        np.testing.assert_array_equal(a, b)
    assert len(fired) == 2 * len(plain)
    last = [g.numpy() for g in fired[len(plain):]]  # each hook saw its parameter's final .grad
    assert all(any(a.shape == b.shape and (a == b).all() for b in plain) for a in last)
    assert {a.shape for a in last[:2]} == {(3, 100), (3,)}  # from the last layer back
