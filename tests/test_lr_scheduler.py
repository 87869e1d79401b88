"""fastnn.optim.lr_scheduler against torch.optim.lr_scheduler: every scheduler's lr (and momentum) trajectory
over 200 steps, chained and sequential schedules, training with SGD/Adam under a schedule, state_dict
round trips mid-schedule, and torch's errors and warnings."""
import math
import warnings

import numpy as np
import pytest

import fastnn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

STEPS = 200


class Lib:
    """fastnn or torch behind one face, so each schedule is written once for both."""

    def __init__(self, mod):
        self.mod = mod
        self.optim = mod.optim
        self.L = mod.optim.lr_scheduler

    def params(self, seed=0):
        rng = np.random.default_rng(seed)
        arrs = [rng.standard_normal(s).astype(np.float32) for s in [(3, 2), (4,)]]
        if self.mod is torch:
            return [torch.nn.Parameter(torch.from_numpy(a)) for a in arrs]
        return [fastnn.tensor(a, requires_grad=True) for a in arrs]

    def set_grads(self, ps, step):
        rng = np.random.default_rng(step)
        for p in ps:
            g = rng.standard_normal(tuple(p.shape)).astype(np.float32)
            p.grad = torch.from_numpy(g) if self.mod is torch else fastnn.tensor(g)


FN, TH = Lib(fastnn), Lib(torch)


def two_groups(lib, ps, opt="SGD", **kw):
    groups = [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.05}]
    if opt == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9, **kw)
    return getattr(lib.optim, opt)(groups, lr=0.01, **kw)


def lam(epoch):
    return 0.97 ** epoch


SCHEDULES = {
    "step": lambda L, o: L.StepLR(o, step_size=30, gamma=0.5),
    "multistep": lambda L, o: L.MultiStepLR(o, milestones=[20, 50, 50, 120], gamma=0.3),
    "exponential": lambda L, o: L.ExponentialLR(o, gamma=0.98),
    "cosine": lambda L, o: L.CosineAnnealingLR(o, T_max=60, eta_min=1e-4),  # 200 steps: several half-periods
    "cosine-full": lambda L, o: L.CosineAnnealingLR(o, T_max=STEPS),
    "linear": lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=40),
    "constant": lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=10),
    "lambda": lambda L, o: L.LambdaLR(o, lr_lambda=lam),
    "lambda-per-group": lambda L, o: L.LambdaLR(o, lr_lambda=[lam, lambda e: 1 / (1 + e)]),
    "multiplicative": lambda L, o: L.MultiplicativeLR(o, lr_lambda=lambda e: 0.99),
    "onecycle-cos": lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=STEPS + 1),
    "onecycle-linear": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.5], epochs=4, steps_per_epoch=51,
                                                 anneal_strategy="linear", pct_start=0.25),
    "onecycle-3phase": lambda L, o: L.OneCycleLR(o, max_lr=0.8, total_steps=STEPS, three_phase=True,
                                                 base_momentum=0.8, max_momentum=0.9, div_factor=10.0),
    "onecycle-nomomentum": lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, cycle_momentum=False),
    "sequential": lambda L, o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.01, total_iters=20),
                                                  L.CosineAnnealingLR(o, T_max=STEPS - 20)], milestones=[20]),
    "sequential-3": lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, factor=0.1, total_iters=5),
                                                    L.ExponentialLR(o, gamma=0.99), L.StepLR(o, 25, 0.5)],
                                                milestones=[10, 80]),
    "chained": lambda L, o: L.ChainedScheduler([L.ExponentialLR(o, gamma=0.99), L.StepLR(o, 40, 0.5)]),
}


def hyper(opt):
    """What a schedule may move: lr, and momentum or beta1 (OneCycleLR's cycle_momentum)."""
    return [(g["lr"], g.get("momentum"), g.get("betas", (None,))[0]) for g in opt.param_groups]


def trajectory(lib, name, opt_name, steps=STEPS, train=True):
    ps = lib.params()
    opt = two_groups(lib, ps, opt_name)
    sched = SCHEDULES[name](lib.L, opt)
    out = [(hyper(opt), list(sched.get_last_lr()))]
    for step in range(steps):
        if train:
            lib.set_grads(ps, step)
        opt.step()
        sched.step()
        out.append((hyper(opt), list(sched.get_last_lr())))
    return out, ps, opt, sched


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_trajectory_matches_torch(name, opt_name):
    ours, ps, opt, _ = trajectory(FN, name, opt_name)
    theirs, tps, topt, _ = trajectory(TH, name, opt_name)
    # the same double arithmetic in the same order: equal, not close
    assert ours == theirs
    # and the parameters trained under the schedule follow torch's
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_state_dict_round_trip_mid_schedule(name):
    """Train 80 steps, build a fresh optimizer and scheduler, load both state dicts (optimizer after the
    scheduler, as torch documents), continue: the same trajectory as the uninterrupted run."""
    full, _, _, _ = trajectory(FN, name, "SGD", train=False)
    _, ps, opt, sched = trajectory(FN, name, "SGD", steps=80, train=False)
    sd_opt, sd_sched = opt.state_dict(), sched.state_dict()
    ps2 = FN.params()
    opt2 = two_groups(FN, ps2, "SGD")
    sched2 = SCHEDULES[name](FN.L, opt2)
    sched2.load_state_dict(sd_sched)
    opt2.load_state_dict(sd_opt)
    resumed = [(hyper(opt2), list(sched2.get_last_lr()))]
    for _ in range(80, STEPS):
        opt2.step()
        sched2.step()
        resumed.append((hyper(opt2), list(sched2.get_last_lr())))
    assert resumed == full[80:]


@pytest.mark.parametrize("name", ["step", "multistep", "cosine", "onecycle-cos", "sequential", "chained"])
def test_state_dict_keys_match_torch(name):
    _, _, _, ours = trajectory(FN, name, "SGD", steps=5, train=False)
    _, _, _, theirs = trajectory(TH, name, "SGD", steps=5, train=False)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert set(sd) == set(tsd)
    for k in tsd:
        if k not in ("_schedulers", "_get_lr_called_within_step", "_is_initial"):
            assert sd[k] == tsd[k], k


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", threshold_mode="abs", threshold=0.05),
                                dict(factor=0.5, patience=3, cooldown=4, min_lr=[0.01, 0.02]),
                                dict(mode="min", threshold_mode="abs", patience=0, eps=0.03, min_lr=0.004)])
def test_reduce_on_plateau_matches_torch(kw):
    def metric(step):  # improves, stalls, improves a little, oscillates
        return 10 / (1 + step) if step < 30 else 0.3 + 0.01 * math.sin(step) + (0.1 if step % 17 == 0 else 0)

    runs = []
    for lib in (FN, TH):
        ps = lib.params()
        opt = two_groups(lib, ps, "Adam")
        sched = lib.L.ReduceLROnPlateau(opt, **kw)
        traj = []
        for step in range(STEPS):
            opt.step()
            m = metric(step)
            sched.step(lib.mod.tensor(m) if step % 3 == 0 else m)  # a 0-d tensor works too
            traj.append((list(sched.get_last_lr()), sched.num_bad_epochs, sched.cooldown_counter, sched.best))
            if step == 100:
                sd = sched.state_dict()
                fresh = lib.L.ReduceLROnPlateau(opt, **kw)
                fresh.load_state_dict(sd)
                sched = fresh
        runs.append(traj)
    assert runs[0] == runs[1]
    assert runs[0][-1][0] != runs[0][0][0]  # the lr did move


def test_scheduler_errors_match_torch():
    for lib in (FN, TH):
        ps = lib.params()
        opt = two_groups(lib, ps)
        L = lib.L
        with pytest.raises(TypeError, match="is not an Optimizer"):
            L.StepLR(object(), 3)
        with pytest.raises(KeyError, match="initial_lr"):
            L.StepLR(opt, 3, last_epoch=5)
        with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
            L.LambdaLR(opt, [lam])
        with pytest.raises(ValueError, match="Starting multiplicative factor"):
            L.LinearLR(opt, start_factor=0)
        with pytest.raises(ValueError, match="Factor should be < 1.0"):
            L.ReduceLROnPlateau(opt, factor=1.0)
        with pytest.raises(ValueError, match="mode sideways is unknown"):
            L.ReduceLROnPlateau(opt, mode="sideways")
        with pytest.raises(ValueError, match="You must define either total_steps"):
            L.OneCycleLR(opt, max_lr=1.0)
        with pytest.raises(ValueError, match="max_lr must have the same length"):
            L.OneCycleLR(opt, max_lr=[1.0], total_steps=10)
        with pytest.raises(ValueError, match="number of milestones"):
            L.SequentialLR(opt, [L.StepLR(opt, 2), L.StepLR(opt, 3)], milestones=[])
        with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
            L.SequentialLR(opt, [L.StepLR(opt, 2), L.ReduceLROnPlateau(opt)], milestones=[3])
        no_momentum = lib.optim.Adagrad(ps, lr=0.1)
        with pytest.raises(ValueError, match="optimizer must support momentum"):
            L.OneCycleLR(no_momentum, max_lr=1.0, total_steps=10)
        one = L.OneCycleLR(two_groups(lib, ps), max_lr=1.0, total_steps=3)
        for _ in range(3):
            one.optimizer.step()
            one.step()
        one.optimizer.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            one.step()


def test_warns_like_torch():
    for lib in (FN, TH):
        ps = lib.params()
        opt = two_groups(lib, ps)
        sched = lib.L.StepLR(opt, 3)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            sched.step()
        with pytest.warns(UserWarning, match="use `get_last_lr\\(\\)`"):
            sched.get_lr()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step()
            sched.step()


def test_initial_lr_and_base_lrs():
    ps = FN.params()
    opt = two_groups(FN, ps)
    sched = FN.L.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == sched.base_lrs == [0.1, 0.05]
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.05]
    opt.step()
    sched.step()
    assert sched.last_epoch == 1 and sched.get_last_lr() == [0.05, 0.025]
    # a second scheduler on the same optimizer keeps the first's initial_lr
    FN.L.StepLR(opt, 2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]


def test_step_with_epoch_uses_closed_form():
    for lib in (FN, TH):
        ps = lib.params()
        opt = two_groups(lib, ps)
        sched = lib.L.MultiStepLR(opt, milestones=[3, 6], gamma=0.1)
        opt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            sched.step(7)
        assert sched.get_last_lr() == pytest.approx([0.001, 0.0005])


def test_multistep_state_dict_survives_save_load(tmp_path):
    """A MultiStepLR state dict (its milestones a Counter) through fastnn.save/load resumes identically."""
    full, _, _, _ = trajectory(FN, "multistep", "SGD", train=False)
    _, ps, opt, sched = trajectory(FN, "multistep", "SGD", steps=40, train=False)
    fastnn.save({"sched": sched.state_dict(), "optim": opt.state_dict()}, tmp_path / "ck.safetensors")
    ck = fastnn.load(tmp_path / "ck.safetensors")
    opt2 = two_groups(FN, FN.params())
    sched2 = SCHEDULES["multistep"](FN.L, opt2)
    sched2.load_state_dict(ck["sched"])
    opt2.load_state_dict(ck["optim"])
    resumed = [(hyper(opt2), list(sched2.get_last_lr()))]
    for _ in range(40, STEPS):
        opt2.step()
        sched2.step()
        resumed.append((hyper(opt2), list(sched2.get_last_lr())))
    assert resumed == full[40:]
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched2.step(130)  # the closed form needs the Counter back
    assert sched2.get_last_lr() == pytest.approx([0.1 * 0.3 ** 4, 0.05 * 0.3 ** 4])
