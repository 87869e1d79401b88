"""RMSprop and Adagrad against torch.optim over 200 steps, their state_dicts, and the Optimizer base's
torch-shaped state_dict / param_names / zero_grad behaviour."""
import numpy as np
import pytest

import fastnn
from fastnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def make_pair(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [fastnn.tensor(a, requires_grad=True) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    return ours, theirs


def grads_at(step, dtype):
    # a gradient that depends on the step, with a sign flip now and then (exercises maximize and momentum)
    rng = np.random.default_rng(1000 + step)
    return [(rng.standard_normal(s) * (1 + 0.5 * np.sin(step))).astype(dtype) for s in SHAPES]


def run(opt, params, steps, dtype, lib):
    for step in steps:
        for p, g in zip(params, grads_at(step, dtype)):
            p.grad = fastnn.tensor(g) if lib == "fastnn" else torch.from_numpy(g)
        opt.step()


def assert_close(ours, theirs, rtol, atol):
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=rtol, atol=atol)


RMSPROP = [dict(lr=1e-2), dict(lr=1e-2, alpha=0.9, eps=1e-6), dict(lr=1e-2, weight_decay=0.1),
           dict(lr=5e-3, momentum=0.9), dict(lr=1e-2, centered=True), dict(lr=5e-3, centered=True, momentum=0.5,
                                                                             weight_decay=0.01, maximize=True)]
ADAGRAD = [dict(lr=0.1), dict(lr=0.1, lr_decay=0.01), dict(lr=0.1, weight_decay=0.1),
           dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6), dict(lr=0.05, maximize=True, lr_decay=1e-3)]
CASES = [(RMSprop, torch.optim.RMSprop, kw) for kw in RMSPROP] + [(Adagrad, torch.optim.Adagrad, kw)
                                                                   for kw in ADAGRAD]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("ours_cls,theirs_cls,kw", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_trajectory_matches_torch(ours_cls, theirs_cls, kw, dtype):
    ours, theirs = make_pair(dtype)
    opt, topt = ours_cls(ours, **kw), theirs_cls(theirs, **kw, foreach=False)
    for chunk in range(4):  # compare along the way, not only at the end
        steps = range(50 * chunk, 50 * (chunk + 1))
        run(opt, ours, steps, dtype, "fastnn")
        run(topt, theirs, steps, dtype, "torch")
        tol = 2e-5 if dtype == np.float32 else 1e-12
        assert_close(ours, theirs, rtol=tol, atol=tol)
    # same state, same keys
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"][0].keys() == tsd["param_groups"][0].keys()
    for i in tsd["state"]:
        assert sd["state"][i].keys() == tsd["state"][i].keys()
        assert sd["state"][i]["step"].item() == tsd["state"][i]["step"].item() == 200
        assert sd["state"][i]["step"].dtype == fastnn.float32


@pytest.mark.parametrize("make", [lambda ps: RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
                                  lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01)], ids=["rmsprop", "adagrad"])
def test_state_dict_round_trip_mid_training(make):
    a, _ = make_pair()
    b, _ = make_pair()
    opt_a = make(a)
    run(opt_a, a, range(100), np.float32, "fastnn")
    for x, y in zip(b, a):
        x.detach()._data[...] = y._data
    opt_b = make(b)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.state[b[0]] is not opt_a.state[a[0]]
    run(opt_a, a, range(100, 200), np.float32, "fastnn")
    run(opt_b, b, range(100, 200), np.float32, "fastnn")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())


@pytest.mark.parametrize("ours_cls,theirs_cls,kw", [(RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)),
                                                    (Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01))],
                         ids=["rmsprop", "adagrad"])
def test_torch_state_dict_loads_and_continues(ours_cls, theirs_cls, kw):
    ours, theirs = make_pair()
    topt = theirs_cls(theirs, **kw, foreach=False)
    run(topt, theirs, range(20), np.float32, "torch")
    for p, tp in zip(ours, theirs):
        p.detach()._data[...] = tp.detach().numpy()
    opt = ours_cls(ours, **kw)
    opt.load_state_dict(topt.state_dict())
    run(opt, ours, range(20, 60), np.float32, "fastnn")
    run(topt, theirs, range(20, 60), np.float32, "torch")
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    # and back: torch loads ours
    topt2 = theirs_cls(theirs, **kw, foreach=False)
    topt2.load_state_dict({"state": {i: {k: torch.from_numpy(v.numpy().copy()) for k, v in s.items()}
                                     for i, s in opt.state_dict()["state"].items()},
                           "param_groups": opt.state_dict()["param_groups"]})
    assert topt2.state_dict()["state"][0]["step"].item() == 60


def test_adagrad_state_exists_before_the_first_step():
    ours, theirs = make_pair()
    sd = Adagrad(ours, initial_accumulator_value=0.25).state_dict()
    tsd = torch.optim.Adagrad(theirs, initial_accumulator_value=0.25).state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1, 2]
    np.testing.assert_array_equal(sd["state"][0]["sum"].numpy(), tsd["state"][0]["sum"].numpy())


def test_param_skipped_without_grad_and_groups():
    ours, theirs = make_pair()
    opt = RMSprop([{"params": ours[:2]}, {"params": ours[2:], "lr": 0.1, "centered": True}], lr=0.01)
    topt = torch.optim.RMSprop([{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.1, "centered": True}],
                               lr=0.01, foreach=False)
    for step in range(10):
        gs = grads_at(step, np.float32)
        for i, (p, tp, g) in enumerate(zip(ours, theirs, gs)):
            grad = None if (i == 1 and step % 2) else g
            p.grad = None if grad is None else fastnn.tensor(grad)
            tp.grad = None if grad is None else torch.from_numpy(grad)
        opt.step()
        topt.step()
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert opt.state_dict()["state"][1]["step"].item() == 5


@pytest.mark.parametrize("cls,kw,match", [
    (RMSprop, dict(lr=-1), "Invalid learning rate"), (RMSprop, dict(alpha=-0.1), "Invalid alpha value"),
    (RMSprop, dict(momentum=-1), "Invalid momentum value"), (RMSprop, dict(eps=-1), "Invalid epsilon value"),
    (Adagrad, dict(lr_decay=-1), "Invalid lr_decay value"),
    (Adagrad, dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value"),
    (Adagrad, dict(weight_decay=-1), "Invalid weight_decay value")])
def test_constructor_errors_match_torch(cls, kw, match):
    ours, theirs = make_pair()
    with pytest.raises(ValueError, match=match):
        cls(ours, **kw)
    with pytest.raises(ValueError, match=match):
        getattr(torch.optim, cls.__name__)(theirs, **kw)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1)),
                                     ("Adam", dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
                                     ("AdamW", dict(lr=0.1, amsgrad=True)), ("RMSprop", dict(momentum=0.5)),
                                     ("Adagrad", {})])
def test_state_dict_structure_matches_torch(name, kw):
    ours, theirs = make_pair()
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}]  # noqa: E731
    opt = getattr(fastnn.optim, name)(groups(ours), **kw)
    topt = getattr(torch.optim, name)(groups(theirs), **kw)
    run(opt, ours, range(3), np.float32, "fastnn")
    run(topt, theirs, range(3), np.float32, "torch")
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd) == list(tsd) == ["state", "param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g["params"] == tg["params"]
        assert set(g) == set(tg), set(g) ^ set(tg)
        assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in tg.items() if k != "params"}
    for i, s in tsd["state"].items():
        assert list(sd["state"][i]) == list(s)
        for k, v in s.items():
            np.testing.assert_allclose(sd["state"][i][k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_named_parameters_give_param_names_like_torch():
    ours, theirs = make_pair()
    names = ["a.weight", "a.bias", "b.weight"]
    opt = SGD(list(zip(names, ours)), lr=0.1)
    topt = torch.optim.SGD(list(zip(names, theirs)), lr=0.1)
    assert opt.state_dict()["param_groups"][0]["param_names"] == names
    assert topt.state_dict()["param_groups"][0]["param_names"] == names
    assert opt.param_groups[0]["params"][0] is ours[0]
    with pytest.raises(ValueError, match="Some param names are missing"):
        SGD([("a", ours[0]), ours[1]], lr=0.1)
    with pytest.raises(ValueError, match="cannot add param group without names"):
        opt.add_param_group({"params": [fastnn.zeros(2, requires_grad=True)]})
    # loading a state dict without names keeps the optimizer's names
    plain = SGD(ours, lr=0.1)
    opt.load_state_dict(plain.state_dict())
    assert opt.param_groups[0]["param_names"] == names


def test_load_state_dict_copies_groups_and_keeps_foreign_state():
    ours, _ = make_pair()
    opt = Adam(ours, lr=0.1)
    run(opt, ours, range(2), np.float32, "fastnn")
    sd = opt.state_dict()
    sd["state"]["extra"] = {"note": 1}
    opt2 = Adam(ours, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1 and opt2.param_groups[0] is not sd["param_groups"][0]
    assert opt2.state["extra"] == {"note": 1}
    opt2.param_groups[0]["lr"] = 0.2
    assert sd["param_groups"][0]["lr"] == 0.1


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop, Adagrad])
def test_zero_grad(cls):
    ours, _ = make_pair()
    opt = cls(ours, lr=0.1)
    for p in ours:
        p.grad = fastnn.ones(*p.shape)
    grad0 = ours[0].grad
    opt.zero_grad(set_to_none=False)
    assert ours[0].grad is grad0 and not grad0.numpy().any()
    opt.zero_grad()
    assert all(p.grad is None for p in ours)
