"""The composite optim kernels (backend/composite/optim.py) against the CPU backend's native ones:
adam_update over every flag combination and sgd_update over its options, float32 and float64, several
tensors of odd sizes (1, 0 and 0-d included) over several steps, the same checks raising the same exception
types, and fastnn.optim on a group of two dtypes (one kernel call per dtype)."""
import itertools

import numpy as np
import pytest

import fastnn
from fastnn._device import device
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend

COMPOSITE, CPU = CompositeBackend(device("cpu")), CpuBackend(device("cpu"))
SIZES = [1, 7, 0, (), 33, 1029]  # () a 0-d parameter
STEPS = 4
TOL = {np.float32: 1e-6, np.float64: 1e-12}


def _arrays(rng, dtype, scale=1.0):
    return [np.array(scale * rng.standard_normal(n), dtype) for n in SIZES]


def _assert_close(ours, theirs, dtype, what):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == b.dtype and a.shape == b.shape, what
        np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype], err_msg=f"{what}[{i}]")


def _run_adam(be, dtype, h, seed=0):
    rng = np.random.default_rng(seed)
    p = _arrays(rng, dtype)
    m, v, vmax = ([np.zeros_like(x) for x in p] for _ in range(3))
    steps = [np.zeros((), np.float32) for _ in p]
    for _ in range(STEPS):  # several steps, so that the bias corrections differ from step to step
        be.adam_update(p, _arrays(rng, dtype), m, v, vmax if h["amsgrad"] else None, steps, **h)
    return p, m, v, vmax, steps


ADAM_FLAGS = list(itertools.product([False, True], [False, True], [0.0, 0.1], [False, True], [0.9, 0.3]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("amsgrad,maximize,weight_decay,decoupled,beta1", ADAM_FLAGS,
                         ids=lambda v: str(v))
def test_adam_update_matches_cpu(dtype, amsgrad, maximize, weight_decay, decoupled, beta1):
    # beta1 = 0.3 takes torch's other lerp formula (weight 1 - beta1 >= 0.5)
    h = dict(lr=1e-2, beta1=beta1, beta2=0.99, eps=1e-8, weight_decay=weight_decay, amsgrad=amsgrad,
             maximize=maximize, decoupled=decoupled)
    ours, theirs = _run_adam(COMPOSITE, dtype, h), _run_adam(CPU, dtype, h)
    for what, a, b in zip(("params", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"), ours, theirs):
        _assert_close(a, b, dtype, what)
    assert [float(s) for s in ours[4]] == [float(s) for s in theirs[4]] == [float(STEPS)] * len(SIZES)


def test_adam_float64_counters_and_late_steps():
    """float64 step counters, and counts where 1 - beta2**t is far from 1 and from 0."""
    h = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
             decoupled=False)
    results = []
    for be in (COMPOSITE, CPU):
        rng = np.random.default_rng(3)
        p, g = _arrays(rng, np.float32), _arrays(rng, np.float32)
        m, v = [np.array(x * 0.1, np.float32) for x in g], [np.array(x * x) for x in g]
        steps = [np.full((), 1000.0 * i, np.float64) for i in range(len(p))]
        be.adam_update(p, g, m, v, None, steps, **h)
        results.append((p, m, v, steps))
    for (a, b) in zip(*results):
        _assert_close(a, b, np.float32, "adam")
    assert [s.dtype for s in results[0][3]] == [np.float64] * len(SIZES)


def _run_sgd(be, dtype, h, seed=0):
    rng = np.random.default_rng(seed)
    p = _arrays(rng, dtype)
    # a mix of given buffers and None (made by the kernel, holding the first gradient)
    bufs = [None if i % 2 == 0 else x.copy() for i, x in enumerate(_arrays(rng, dtype))]
    for _ in range(STEPS):
        out = be.sgd_update(p, _arrays(rng, dtype), bufs, **h)
        if h["momentum"] == 0:
            assert out is None
        else:
            assert len(out) == len(p) and all(o is b for o, b in zip(out, bufs) if b is not None)
            bufs = out
    return p, bufs if h["momentum"] else []


SGD_OPTS = [dict(momentum=m, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
            for m, d, n in ((0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.5, False), (0.9, 0.0, True))
            for wd in (0.0, 0.1) for mx in (False, True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("opts", SGD_OPTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_update_matches_cpu(dtype, opts):
    h = dict(lr=1e-2, **opts)
    ours, theirs = _run_sgd(COMPOSITE, dtype, h), _run_sgd(CPU, dtype, h)
    _assert_close(ours[0], theirs[0], dtype, "params")
    _assert_close(ours[1], theirs[1], dtype, "momentum_buffers")


def test_sgd_all_buffers_none_and_empty_lists():
    h = dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=False, weight_decay=0.0, maximize=False)
    for be in (COMPOSITE, CPU):
        p, g = [np.ones(3, np.float32)], [np.full(3, 0.5, np.float32)]
        (buf,) = be.sgd_update(p, g, None, **h)
        np.testing.assert_array_equal(buf, g[0])  # torch's first step: buf = grad, no dampening
        np.testing.assert_allclose(p[0], 0.95, rtol=1e-7)
        assert be.sgd_update([], [], None, **h) == []
        assert be.sgd_update([], [], None, **dict(h, momentum=0.0)) is None
        be.adam_update([], [], [], [], None, [], lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                       amsgrad=False, maximize=False, decoupled=False)


def _bad_adam_cases():
    ok = lambda: [np.ones(5, np.float32), np.ones(5, np.float32)]
    base = dict(p=ok(), g=ok(), m=ok(), v=ok(), vmax=None, steps=[np.zeros((), np.float32) for _ in range(2)])
    shared = np.ones(5, np.float32)
    cases = {
        "int_param": dict(p=[np.ones(5, np.int32), np.ones(5, np.int32)]),
        "mixed_dtype": dict(g=[np.ones(5, np.float32), np.ones(5, np.float64)]),
        "shape": dict(m=[np.ones(5, np.float32), np.ones(4, np.float32)]),
        "noncontig": dict(g=[np.ones(10, np.float32)[::2], np.ones(5, np.float32)]),
        "lengths": dict(m=[np.ones(5, np.float32)]),
        "not_list": dict(g=np.ones(5, np.float32)),
        "not_array": dict(m=[[1.0] * 5, np.ones(5, np.float32)]),
        "shared_params": dict(p=[shared, shared]),
        "alias_state": dict(m=[base["p"][0], np.ones(5, np.float32)]),
        "amsgrad_missing": dict(amsgrad=True),
        "step_negative": dict(steps=[np.zeros((), np.float32), np.full((), -1.0, np.float32)]),
        "step_nan": dict(steps=[np.full((), np.nan, np.float32), np.zeros((), np.float32)]),
        "step_number": dict(steps=[0.0, 0.0]),
        "step_int": dict(steps=[np.zeros((), np.int64), np.zeros((), np.float32)]),
        "step_size": dict(steps=[np.zeros((), np.float32), np.zeros(2, np.float32)]),
    }
    return base, cases


@pytest.mark.parametrize("case", list(_bad_adam_cases()[1]))
def test_adam_bad_input_raises_as_the_binding(case):
    errors = []
    for be in (COMPOSITE, CPU):
        base, cases = _bad_adam_cases()
        kw = {**base, **cases[case]}
        amsgrad = kw.pop("amsgrad", False)
        p = kw["p"]
        before = [x.copy() for x in p if isinstance(x, np.ndarray)]
        with pytest.raises((TypeError, ValueError)) as info:
            be.adam_update(kw["p"], kw["g"], kw["m"], kw["v"], kw["vmax"], kw["steps"], lr=1e-3, beta1=0.9,
                           beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=amsgrad, maximize=False,
                           decoupled=False)
        errors.append(info.type)
        for x, y in zip([x for x in p if isinstance(x, np.ndarray)], before):
            np.testing.assert_array_equal(x, y)  # nothing written before the checks
    assert errors[0] is errors[1], f"composite raised {errors[0].__name__}, the binding {errors[1].__name__}"


@pytest.mark.parametrize("case", ["dtype", "buffer_shape", "buffer_alias", "buffer_readonly", "lengths"])
def test_sgd_bad_input_raises_as_the_binding(case):
    errors = []
    for be in (COMPOSITE, CPU):
        p, g, bufs = ([np.ones(5, np.float32) for _ in range(2)] for _ in range(3))
        if case == "dtype":
            g[0] = g[0].astype(np.float64)
        elif case == "buffer_shape":
            bufs[1] = np.ones(3, np.float32)
        elif case == "buffer_alias":
            bufs[0] = p[0]
        elif case == "buffer_readonly":
            bufs[0].flags.writeable = False
        elif case == "lengths":
            g = g[:1]
        with pytest.raises((TypeError, ValueError)) as info:
            be.sgd_update(p, g, bufs, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0,
                          maximize=False)
        errors.append(info.type)
        np.testing.assert_array_equal(p[0], 1.0)
    assert errors[0] is errors[1]


def test_optimizer_group_of_two_dtypes():
    """A group holding float32 and float64 parameters: one call per dtype, each in its own precision."""
    rng = np.random.default_rng(5)
    init = [rng.standard_normal(6).astype(np.float32), rng.standard_normal(4), rng.standard_normal(3)]
    for make in (lambda ps: fastnn.optim.Adam(ps, lr=0.1), lambda ps: fastnn.optim.SGD(ps, lr=0.1, momentum=0.9)):
        params = [fastnn.tensor(x.copy(), requires_grad=True) for x in init]
        alone = [fastnn.tensor(x.copy(), requires_grad=True) for x in init]
        opt, opts_alone = make(params), [make([p]) for p in alone]
        for _ in range(3):
            for p, q, x in zip(params, alone, init):
                p.grad = fastnn.tensor(np.cos(x) * p.detach().numpy())
                q.grad = fastnn.tensor(np.cos(x) * q.detach().numpy())
            opt.step()
            for o in opts_alone:
                o.step()
        for p, q in zip(params, alone):
            assert p.dtype == q.dtype and p._version == q._version == 3
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
