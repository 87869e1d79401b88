"""fastnn.optim's SGD, Adam and AdamW classes: param groups, state, zero_grad, state_dict, validation,
and a small model trained beside torch.optim."""
import numpy as np
import pytest

import fastnn
from fastnn.optim import SGD, Adam, AdamW


def params(*shapes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [fastnn.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def set_grads(ps, seed):
    rng = np.random.default_rng(seed)
    for p in ps:
        p.grad = fastnn.tensor(rng.standard_normal(p.shape).astype(p._data.dtype))


def values(ps):
    return [p.detach().numpy().copy() for p in ps]


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1),
                                  lambda ps: AdamW(ps, lr=0.1, amsgrad=True)], ids=["sgd", "adam", "adamw"])
def test_state_dict_round_trip_continues_identically(make):
    a = params((3, 4), (5,))
    b = params((3, 4), (5,))
    opt_a = make(a)
    for step in range(5):
        set_grads(a, step)
        opt_a.step()
    sd = opt_a.state_dict()
    assert sorted(sd["state"]) == [0, 1] and sd["param_groups"][0]["params"] == [0, 1]
    for x, y in zip(b, a):
        x.detach()._data[...] = y._data
    opt_b = make(b)
    opt_b.load_state_dict(sd)
    # the loaded state is a copy: stepping one optimizer leaves the other's state alone
    assert opt_b.state[b[0]] is not opt_a.state[a[0]]
    for step in range(5, 10):
        set_grads(a, step)
        set_grads(b, step)
        opt_a.step()
        opt_b.step()
    for x, y in zip(values(a), values(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.torch
def test_load_torch_state_dict():
    torch = pytest.importorskip("torch")
    ours = params((4, 3), (3,))
    theirs = [torch.nn.Parameter(torch.from_numpy(p.detach().numpy().copy())) for p in ours]
    topt = torch.optim.Adam(theirs, lr=0.05, amsgrad=True, foreach=False)
    for step in range(3):
        for tp, g in zip(theirs, [np.random.default_rng(step + i).standard_normal(tp.shape) for i, tp in
                                  enumerate(theirs)]):
            tp.grad = torch.from_numpy(g.astype(np.float32))
        topt.step()
    for p, tp in zip(ours, theirs):
        p.detach()._data[...] = tp.detach().numpy()
    opt = Adam(ours, lr=0.05, amsgrad=True)
    opt.load_state_dict(topt.state_dict())
    assert opt.state[ours[0]]["step"].item() == 3.0
    for step in range(3, 6):
        grads = [np.random.default_rng(step + i).standard_normal(tp.shape).astype(np.float32)
                 for i, tp in enumerate(theirs)]
        for p, tp, g in zip(ours, theirs, grads):
            p.grad = fastnn.tensor(g)
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_param_groups_and_missing_grads():
    a, b, c = params((3,), (4,), (2,))
    opt = SGD([{"params": [a]}, {"params": [b, c], "lr": 1.0, "momentum": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 1.0 and opt.param_groups[1]["momentum"] == 0.5
    before = values([a, b, c])
    a.grad = fastnn.ones(3)
    b.grad = fastnn.ones(4)
    opt.step()  # c has no gradient: untouched and stateless
    np.testing.assert_allclose(a.detach().numpy(), before[0] - 0.1, rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), before[1] - 1.0, rtol=1e-6)
    np.testing.assert_array_equal(c.detach().numpy(), before[2])
    assert a not in opt.state and c not in opt.state and "momentum_buffer" in opt.state[b]
    opt.add_param_group({"params": fastnn.zeros(2, requires_grad=True), "lr": 3.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["momentum"] == 0


def test_zero_grad():
    (p,) = params((3,))
    opt = Adam([p])
    p.grad = fastnn.ones(3)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and np.all(g.numpy() == 0)
    opt.zero_grad()
    assert p.grad is None


def test_closure_and_mixed_dtypes_and_strided_param():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((4, 3)).astype(np.float32)
    strided = fastnn.from_numpy(base.T).requires_grad_()  # a transposed view, updated in place
    f64 = fastnn.tensor(rng.standard_normal(5), requires_grad=True)
    opt = Adam([strided, f64], lr=0.1)
    calls = []

    def closure():
        calls.append(fastnn.is_grad_enabled())
        strided.grad = fastnn.ones(3, 4)
        f64.grad = fastnn.tensor(np.ones(5))
        return 1.5

    before = base.copy()
    f64_before = f64.detach().numpy().copy()
    with fastnn.no_grad():
        assert opt.step(closure) == 1.5
    assert calls == [True]
    np.testing.assert_allclose(base, before - 0.1, rtol=1e-6)  # through the view into the base array
    np.testing.assert_allclose(f64.detach().numpy(), f64_before - 0.1, rtol=0, atol=2e-9)  # lr * g / (|g| + eps)
    assert opt.state[f64]["exp_avg"].dtype == fastnn.float64


@pytest.mark.parametrize("make,match", [
    (lambda p: SGD(p, lr=-1), "Invalid learning rate"),
    (lambda p: SGD(p, momentum=-0.1), "Invalid momentum"),
    (lambda p: SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: Adam(p, eps=-1), "Invalid epsilon"),
    (lambda p: AdamW(p, weight_decay=-1), "Invalid weight_decay"),
    (lambda p: Adam([]), "empty parameter list"),
    (lambda p: Adam(p + p), "duplicate parameters"),
    (lambda p: Adam([{"params": p}, {"params": p}]), "more than one parameter group"),
    (lambda p: Adam([p[0] * 2]), "non-leaf"),
])
def test_constructor_errors(make, match):
    ps = params((2,))
    with pytest.raises(ValueError, match=match):
        make(ps)


def test_constructor_type_errors():
    (p,) = params((2,))
    with pytest.raises(TypeError, match="iterable of Tensors"):
        Adam(p)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        Adam([np.ones(2)])
    with pytest.raises(TypeError, match="ordered collections"):
        Adam({p})


def test_adamw_defaults_and_repr():
    (p,) = params((2,))
    opt = AdamW([p])
    g = opt.param_groups[0]
    assert g["weight_decay"] == 1e-2 and g["decoupled_weight_decay"] and g["betas"] == (0.9, 0.999)
    assert "AdamW (" in repr(opt) and "lr: 0.001" in repr(opt)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_train_small_model_beside_torch(name):
    """A two-layer model trained by autograd + optimizer, step for step beside torch (closed loop: the
    gradients come from each library's own parameters, so only rounding separates them)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    init = [0.3 * rng.standard_normal(s).astype(np.float32) for s in ((6, 8), (8,), (8, 2), (2,))]
    ours = [fastnn.tensor(w.copy(), requires_grad=True) for w in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in init]
    kw = dict(lr=0.05, momentum=0.9, nesterov=True) if name == "SGD" else dict(lr=0.01)
    opt = getattr(fastnn.optim, name)(ours, **kw)
    topt = getattr(torch.optim, name)(theirs, foreach=False, **kw)

    def loss_of(lib, ws, xs, ys):
        h = lib.tanh(xs @ ws[0] + ws[1])
        return ((h @ ws[2] + ws[3] - ys) ** 2).mean()

    first = None
    for _ in range(100):
        opt.zero_grad()
        topt.zero_grad()
        loss = loss_of(fastnn, ours, fastnn.tensor(x), fastnn.tensor(y))
        tloss = loss_of(torch, theirs, torch.from_numpy(x), torch.from_numpy(y))
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.8 * first
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-3, atol=1e-4)
