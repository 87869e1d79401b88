"""The CUDA backend's optimizer kernels (backend/cuda/optim.py on csrc/cuda/optim.cu) against the composite
ones on the same device arrays (CI: the emulated device), bit for bit, and torch-style optimizers on CUDA
against the CPU through the public API."""
import numpy as np
import pytest

import fastnn
from fastnn import _C
from fastnn.backend.composite import CompositeBackend
from cuda_backend_helpers import cuda_backend_with, spy_on

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]

SIZES = (0, 1, 5, 8, 33)


@pytest.fixture
def be():
    return cuda_backend_with("adam_update")


def _arrays(be, rng, scale=1.0, dtype=np.float32, positive=False):
    out = []
    for n in SIZES:
        a = rng.standard_normal(n) * scale
        out.append(be.asarray((np.abs(a) if positive else a).astype(dtype)))
    return out


def _copies(be, arrays):
    return None if arrays is None else [be.xp.array(a, copy=True) for a in arrays]


def _host(be, arrays):
    return [be.to_host(a) for a in arrays]


@pytest.mark.parametrize("amsgrad, maximize, decoupled, wd", [(False, False, False, 0.0), (True, False, False, 0.1),
                                                              (False, True, True, 0.1), (True, True, True, 0.02)])
def test_adam_update_matches_the_composite_bitwise(be, amsgrad, maximize, decoupled, wd):
    rng = np.random.default_rng(1)
    p, g, m = _arrays(be, rng), _arrays(be, rng), _arrays(be, rng, 0.1)
    v = _arrays(be, rng, 0.01, positive=True)
    vmax = _arrays(be, rng, 0.02, positive=True) if amsgrad else None
    steps = [be.asarray(np.array(float(i), np.float32)) for i in range(len(SIZES))]  # 0-d, as Adam keeps them
    mine = [p, g, m, v, vmax, steps]
    theirs = [_copies(be, x) for x in mine]
    hyper = dict(lr=3e-3, beta1=0.9, beta2=0.995, eps=1e-8, weight_decay=wd, amsgrad=amsgrad, maximize=maximize,
                 decoupled=decoupled)
    for _ in range(3):
        assert be.adam_update(*mine, **hyper) is None
        CompositeBackend.adam_update(be, *theirs, **hyper)
    for a, b in zip(mine, theirs):
        if a is not None:
            for x, y in zip(_host(be, a), _host(be, b)):
                np.testing.assert_array_equal(x, y)
    assert [float(be.to_host(s)) for s in steps] == [i + 3.0 for i in range(len(SIZES))]


@pytest.mark.parametrize("momentum, dampening, nesterov, wd, maximize", [(0.0, 0.0, False, 0.0, False),
                                                                         (0.9, 0.0, True, 0.01, False),
                                                                         (0.5, 0.2, False, 0.0, True)])
def test_sgd_update_matches_the_composite_bitwise(be, momentum, dampening, nesterov, wd, maximize):
    rng = np.random.default_rng(2)
    p, g = _arrays(be, rng), _arrays(be, rng)
    p2 = _copies(be, p)
    hyper = dict(lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd,
                 maximize=maximize)
    bufs = bufs2 = None
    for _ in range(3):
        bufs = be.sgd_update(p, g, bufs, **hyper)
        bufs2 = CompositeBackend.sgd_update(be, p2, g, bufs2, **hyper)
    for x, y in zip(_host(be, p), _host(be, p2)):
        np.testing.assert_array_equal(x, y)
    if momentum:
        for x, y in zip(_host(be, bufs), _host(be, bufs2)):
            np.testing.assert_array_equal(x, y)
    else:
        assert bufs is None
    # A list with some buffers missing: those start now (torch's first momentum step), the others go on.
    if momentum:
        part = [None if i % 2 else b for i, b in enumerate(bufs)]
        part2 = [None if i % 2 else b for i, b in enumerate(_copies(be, bufs))]
        out = be.sgd_update(p, g, part, **hyper)
        out2 = CompositeBackend.sgd_update(be, p2, g, part2, **hyper)
        for x, y in zip(_host(be, out) + _host(be, p), _host(be, out2) + _host(be, p2)):
            np.testing.assert_array_equal(x, y)


def test_float32_groups_take_one_native_call(be, monkeypatch):
    spy = spy_on(be, monkeypatch)
    rng = np.random.default_rng(4)
    p, g, m, v = _arrays(be, rng), _arrays(be, rng), _arrays(be, rng), _arrays(be, rng, positive=True)
    steps = [be.asarray(np.zeros((), np.float32)) for _ in SIZES]
    be.adam_update(p, g, m, v, None, steps, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                   amsgrad=False, maximize=False, decoupled=False)
    be.sgd_update(p, g, None, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False)
    assert spy.calls == ["adam_update_f32", "sgd_update_f32"]


class _NoKernels:
    def __getattr__(self, name):
        raise AssertionError(f"the native kernel {name} was called")


def test_float64_groups_go_to_the_composite(be, monkeypatch):
    rng = np.random.default_rng(3)
    p, g = _arrays(be, rng, dtype=np.float64), _arrays(be, rng, dtype=np.float64)
    m, v = _arrays(be, rng, 0.1, np.float64), _arrays(be, rng, 0.1, np.float64, positive=True)
    steps = [be.asarray(np.zeros((), np.float32)) for _ in SIZES]
    want = [_copies(be, x) for x in (p, g, m, v, None, steps)]
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled=False)
    CompositeBackend.adam_update(be, *want, **hyper)
    monkeypatch.setattr(be, "native", _NoKernels())
    be.adam_update(p, g, m, v, None, steps, **hyper)
    for x, y in zip(_host(be, p), _host(be, want[0])):
        np.testing.assert_array_equal(x, y)
    be.sgd_update(p, g, None, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0,
                  maximize=False)


def test_argument_errors_have_the_composites_types(be):
    f32 = np.float32
    p = [be.asarray(np.ones(3, f32))]
    g = [be.asarray(np.ones(3, f32))]
    s = [be.asarray(np.zeros((), f32))]
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled=False)
    bad = [(p, g, [be.asarray(np.ones(4, f32))], [be.asarray(np.ones(3, f32))], None, s),  # a shape mismatch
           (p, g, [p[0]], [be.asarray(np.ones(3, f32))], None, s),                          # state aliasing a param
           (p, g, [be.asarray(np.ones(3))], [be.asarray(np.ones(3, f32))], None, s),       # a dtype mismatch
           (p, [], [], [], None, []),                                                       # list lengths
           (p, g, [be.asarray(np.ones(3, f32))], [be.asarray(np.ones(3, f32))], None,
            [be.asarray(np.zeros(2, f32))])]                                               # a counter of two
    for args in bad:
        with pytest.raises((TypeError, ValueError)) as mine:
            be.adam_update(*_copies_args(be, args), **hyper)
        with pytest.raises((TypeError, ValueError)) as theirs:
            CompositeBackend.adam_update(be, *_copies_args(be, args), **hyper)
        assert type(mine.value) is type(theirs.value), (mine.value, theirs.value)
    with pytest.raises(ValueError, match="amsgrad=True needs max_exp_avg_sqs"):
        be.adam_update(p, g, [be.asarray(np.ones(3, f32))], [be.asarray(np.ones(3, f32))], None, s,
                       **{**hyper, "amsgrad": True})
    with pytest.raises(TypeError, match="expected momentum_buffers to be a list of arrays"):
        be.sgd_update(p, g, "buf", lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0,
                      maximize=False)


def _copies_args(be, args):
    """The lists as they are (aliasing kept), so both sides see the same arrays and the same mistakes."""
    return [None if a is None else list(a) for a in args]


def _train(device, make_opt, steps=3):
    rng = np.random.default_rng(5)
    w1 = fastnn.tensor(rng.standard_normal((7, 5)).astype(np.float32), device=device, requires_grad=True)
    b1 = fastnn.tensor(rng.standard_normal(5).astype(np.float32), device=device, requires_grad=True)
    w2 = fastnn.tensor(rng.standard_normal((5, 1)).astype(np.float32), device=device, requires_grad=True)
    x = fastnn.tensor(rng.standard_normal((9, 7)).astype(np.float32), device=device)
    opt = make_opt([w1, b1, w2])
    for _ in range(steps):
        opt.zero_grad()
        loss = (((x @ w1 + b1).tanh() @ w2) ** 2).mean()
        loss.backward()
        opt.step()
    return [t.detach().cpu().numpy() for t in (w1, b1, w2)]


@pytest.mark.parametrize("make_opt", [
    lambda ps: fastnn.optim.Adam(ps, lr=1e-2),
    lambda ps: fastnn.optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True),
    lambda ps: fastnn.optim.AdamW(ps, lr=1e-2, weight_decay=0.05),
    lambda ps: fastnn.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: fastnn.optim.SGD(ps, lr=0.1),
], ids=["adam", "adam-amsgrad-wd-maximize", "adamw", "sgd-nesterov", "sgd"])
def test_optimizers_on_cuda_match_the_cpu(be, make_opt):
    cpu, cuda = _train("cpu", make_opt), _train("cuda", make_opt)
    for a, b in zip(cpu, cuda):
        # The update kernels agree bit for bit; the forward/backward in between (matmul, tanh) only closely.
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_one_adam_step_on_cuda_is_the_cpus_bit_for_bit(be):
    if _C.isa_active() == "generic":
        pytest.skip("the CPU's generic kernels round a * b + c twice")
    rng = np.random.default_rng(8)
    results = []
    for device in ("cpu", "cuda"):
        ps = [fastnn.tensor(rng.standard_normal(n).astype(np.float32), device=device, requires_grad=True)
              for n in (1, 6, 37)]
        for p in ps:
            p.grad = fastnn.tensor(np.linspace(-1, 1, p.numel(), dtype=np.float32), device=device)
        opt = fastnn.optim.AdamW(ps, lr=1e-2, weight_decay=0.1, amsgrad=True)
        for _ in range(4):
            opt.step()
        results.append([p.detach().cpu().numpy() for p in ps] + [float(opt.state[ps[0]]["step"].item())])
        rng = np.random.default_rng(8)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
