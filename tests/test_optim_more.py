"""Adadelta, Adamax, NAdam, RAdam, ASGD and LBFGS against torch.optim: trajectories over many steps in
float32 and float64, their state layout, argument checks, and LBFGS's closure-driven iterations (fixed
step and strong-Wolfe line search) on a least-squares and a Rosenbrock problem."""
import numpy as np
import pytest

import fastnn
from fastnn import optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def make_pair(dtype, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    return ([fastnn.tensor(a, requires_grad=True) for a in init],
            [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init])


def grads_at(step, dtype):
    rng = np.random.default_rng(1000 + step)
    return [(rng.standard_normal(s) * (1 + 0.5 * np.sin(step))).astype(dtype) for s in SHAPES]


def run(opt, params, steps, dtype, lib):
    for step in steps:
        for p, g in zip(params, grads_at(step, dtype)):
            p.grad = fastnn.tensor(g) if lib == "fastnn" else torch.from_numpy(g)
        opt.step()


CASES = {
    "Adadelta": [dict(), dict(lr=0.5, rho=0.8, eps=1e-5), dict(weight_decay=0.1), dict(maximize=True)],
    "Adamax": [dict(), dict(lr=1e-2, betas=(0.8, 0.99)), dict(weight_decay=0.1, eps=1e-6), dict(maximize=True)],
    "NAdam": [dict(), dict(lr=1e-2, momentum_decay=1e-2), dict(weight_decay=0.1),
              dict(weight_decay=0.1, decoupled_weight_decay=True), dict(maximize=True, betas=(0.8, 0.9))],
    "RAdam": [dict(), dict(lr=1e-2, betas=(0.8, 0.9)), dict(weight_decay=0.1),
              dict(weight_decay=0.1, decoupled_weight_decay=True), dict(maximize=True)],
    "ASGD": [dict(), dict(lr=0.05, lambd=1e-3, alpha=0.5), dict(t0=20, weight_decay=0.1), dict(maximize=True, t0=5)],
}
PARAMS = [(name, kw) for name, kws in CASES.items() for kw in kws]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kw", PARAMS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(PARAMS)])
def test_trajectory_matches_torch(name, kw, dtype):
    ours, theirs = make_pair(dtype)
    opt = getattr(optim, name)(ours, **kw)
    topt = getattr(torch.optim, name)(theirs, **kw, foreach=False)
    for chunk in range(3):  # compared along the way: RAdam switches rule at step 6, ASGD averages after t0
        steps = range(40 * chunk, 40 * (chunk + 1))
        run(opt, ours, steps, dtype, "fastnn")
        run(topt, theirs, steps, dtype, "torch")
        tol = 3e-5 if dtype == np.float32 else 1e-12
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=tol, atol=tol)
    # the state has torch's keys, shapes and values (ASGD's running average included)
    for p, tp in zip(ours, theirs):
        s, ts = opt.state[p], topt.state[tp]
        assert sorted(s) == sorted(ts)
        for key in ts:
            np.testing.assert_allclose(s[key].numpy(), ts[key].numpy(), rtol=1e-4 if dtype == np.float32 else 1e-10,
                                       atol=1e-6 if dtype == np.float32 else 1e-12, err_msg=key)
            assert s[key].dtype.itemsize == ts[key].dtype.itemsize, key


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_resumes_identically(name):
    a, _ = make_pair(np.float32)
    b, _ = make_pair(np.float32)
    opt_a = getattr(optim, name)(a)
    run(opt_a, a, range(7), np.float32, "fastnn")
    opt_b = getattr(optim, name)(b)
    for p, q in zip(a, b):
        q.data = p.detach().clone()
    opt_b.load_state_dict(opt_a.state_dict())
    run(opt_a, a, range(7, 15), np.float32, "fastnn")
    run(opt_b, b, range(7, 15), np.float32, "fastnn")
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_parameters_without_grad_are_left_alone():
    p, q = fastnn.ones(3, requires_grad=True), fastnn.ones(2, requires_grad=True)
    opt = optim.NAdam([p, q], lr=0.1)
    p.grad = fastnn.ones(3)
    opt.step()
    assert q.tolist() == [1.0, 1.0] and q not in opt.state
    assert all(v < 1.0 for v in p.tolist())


@pytest.mark.parametrize("name,kw,message", [
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adamax", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    ("NAdam", dict(momentum_decay=-1.0), "Invalid momentum_decay value: -1.0"),
    ("RAdam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("ASGD", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
])
def test_bad_hyper_parameters_raise_torch_errors(name, kw, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([fastnn.ones(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError, match=message):
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)


def test_unsupported_flags_are_refused_not_ignored():
    with pytest.raises(NotImplementedError, match="capturable"):
        optim.RAdam([fastnn.ones(2, requires_grad=True)], capturable=True)


# ---- LBFGS -------------------------------------------------------------------------------------------------
def least_squares(lib, dtype):
    rng = np.random.default_rng(3)
    A, b = rng.standard_normal((20, 5)).astype(dtype), rng.standard_normal(20).astype(dtype)
    mod = fastnn if lib == "fastnn" else torch
    A_t, b_t = mod.tensor(A), mod.tensor(b)
    x = mod.zeros(5, dtype=mod.float64 if dtype == np.float64 else mod.float32, requires_grad=True)
    return x, lambda: ((A_t @ x - b_t) ** 2).sum()


def rosenbrock(lib, dtype):
    mod = fastnn if lib == "fastnn" else torch
    x = mod.tensor(np.array([-1.5, 2.0], dtype=dtype), requires_grad=True)
    return x, lambda: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("problem", [least_squares, rosenbrock])
@pytest.mark.parametrize("kw", [dict(), dict(line_search_fn="strong_wolfe"), dict(history_size=3, max_iter=7, lr=0.5),
                                dict(line_search_fn="strong_wolfe", history_size=2, tolerance_change=1e-12)])
def test_lbfgs_matches_torch(problem, kw):
    results = {}
    for lib in ("fastnn", "torch"):
        x, f = problem(lib, np.float64)
        opt = (optim.LBFGS if lib == "fastnn" else torch.optim.LBFGS)([x], **kw)

        def closure(x=x, f=f, opt=opt):
            opt.zero_grad()
            loss = f()
            loss.backward()
            return loss

        losses = [float(opt.step(closure).detach()) for _ in range(4)]
        st = opt.state[x]
        results[lib] = (x.detach().numpy().copy(), losses, st["func_evals"], st["n_iter"])
    ours, theirs = results["fastnn"], results["torch"]
    # Rosenbrock's valley amplifies the last-bit differences of a dot product's summation order over
    # dozens of iterations; the convex least-squares problem does not
    tol = 1e-7 if problem is least_squares else 1e-3
    np.testing.assert_allclose(ours[0], theirs[0], rtol=tol, atol=tol * 1e-2)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=tol, atol=1e-12)
    assert ours[2:] == theirs[2:]  # the same number of closure calls and iterations


def test_lbfgs_solves_least_squares_and_checks_its_arguments():
    x, f = least_squares("fastnn", np.float64)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=50)

    def closure():
        opt.zero_grad()
        loss = f()
        loss.backward()
        return loss

    opt.step(closure)
    rng = np.random.default_rng(3)
    A, b = rng.standard_normal((20, 5)), rng.standard_normal(20)
    np.testing.assert_allclose(x.detach().numpy(), np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        one = [{"params": [fastnn.ones(1, requires_grad=True)]}]
        optim.LBFGS(one + [{"params": [fastnn.ones(1, requires_grad=True)]}])
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS([x], line_search_fn="armijo").step(closure)
