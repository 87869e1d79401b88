"""Fused multi-tensor Adam/AdamW/SGD: the native kernels against a float64 NumPy reference (every ISA
level, 1 and 2 threads, bitwise determinism), fastnn.optim against torch.optim over 200 steps, and
bad-input errors."""
import itertools

import numpy as np
import pytest

import fastnn
from fastnn import _C
from fastnn.optim import _functional as F

ISAS = list(_C.isa_levels())
SIZES = [0, 1, 7, 17, 63, 129, 100003]
ADAM_OPTS = [dict(), dict(amsgrad=True), dict(maximize=True), dict(weight_decay=0.1),
             dict(weight_decay=0.1, decoupled=True), dict(beta1=0.3), dict(beta1=0.0, amsgrad=True, maximize=True),
             dict(weight_decay=0.05, decoupled=True, amsgrad=True, maximize=True)]
SGD_OPTS = [dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.5), dict(momentum=0.9, nesterov=True),
            dict(momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True), dict(weight_decay=0.1),
            dict(momentum=0.5, dampening=0.1, weight_decay=0.01, maximize=True)]


def adam_hyper(**kw):
    h = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
             decoupled=False)
    h.update(kw)
    return h


def sgd_hyper(**kw):
    h = dict(lr=1e-2, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False)
    h.update(kw)
    return h


# ---- NumPy references (float64) ---------------------------------------------------------------------
def adam_reference(p, g, m, v, vmax, step, h):
    """torch's _single_tensor_adam in float64; returns new (p, m, v, vmax) and the error scale of p."""
    p, g, m, v = (x.astype(np.float64) for x in (p, g, m, v))
    g = -g if h["maximize"] else g
    if h["weight_decay"] != 0:
        if h["decoupled"]:
            p = p * (1 - h["lr"] * h["weight_decay"])
        else:
            g = g + h["weight_decay"] * p
    m_new = m + (1 - h["beta1"]) * (g - m)
    v_new = v * h["beta2"] + (1 - h["beta2"]) * g * g
    vmax_new = np.maximum(vmax.astype(np.float64), v_new) if h["amsgrad"] else None
    step_size = h["lr"] / (1 - h["beta1"] ** step)
    denom = np.sqrt(vmax_new if h["amsgrad"] else v_new) / np.sqrt(1 - h["beta2"] ** step) + h["eps"]
    update = -step_size * m_new / denom
    # rounding scale: the parameter, the update, and the update an ulp-sized error in m or v would cause
    scale = np.abs(p) + np.abs(update) + step_size * (np.abs(m) + np.abs(g)) / denom
    return p + update, m_new, v_new, vmax_new, scale


def sgd_reference(p, g, buf, h):
    """torch's _single_tensor_sgd in float64; returns new (p, buf) and the error scales of both."""
    p, g = p.astype(np.float64), g.astype(np.float64)
    g = -g if h["maximize"] else g
    gscale = np.abs(g) + h["weight_decay"] * np.abs(p)
    if h["weight_decay"] != 0:
        g = g + h["weight_decay"] * p
    bscale = gscale
    if h["momentum"] != 0:
        if buf is None:
            buf = g
        else:
            bscale = gscale + h["momentum"] * np.abs(buf)
            buf = buf.astype(np.float64) * h["momentum"] + (1 - h["dampening"]) * g
        g = g + h["momentum"] * buf if h["nesterov"] else buf
    return p - h["lr"] * g, buf, np.abs(p) + h["lr"] * (gscale + bscale), bscale


def assert_close(actual, expected, scale, dtype, what, ulps=8):
    tol = ulps * np.finfo(dtype).eps * (scale + np.finfo(dtype).tiny)
    err = np.abs(actual.astype(np.float64) - expected)
    bad = err > tol
    assert not bad.any(), (f"{what}: {int(bad.sum())} of {bad.size} mismatched; max abs err {err.max():.3g}, "
                           f"max rel err {(err / np.maximum(np.abs(expected), 1e-30)).max():.3g}")


def adam_state(rng, size, dtype):
    p = rng.standard_normal(size).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    m = (0.1 * rng.standard_normal(size)).astype(dtype)
    v = (0.01 * rng.random(size) + 1e-4).astype(dtype)
    vmax = (v * rng.uniform(0.5, 1.5, size)).astype(dtype)
    return p, g, m, v, vmax


def counters(steps, dtype=np.float32):
    """Step counters as the native call takes them: the steps taken so far, incremented by the call."""
    return [np.array(s - 1, dtype) for s in steps]


def run_adam(arrays, steps, h, isa=None):
    ps, gs, ms, vs, vmaxs = zip(*arrays) if arrays else ([], [], [], [], [])
    cs = counters(steps, ps[0].dtype if ps else np.float32)
    _C.adam_update(list(ps), list(gs), list(ms), list(vs), list(vmaxs) if h["amsgrad"] else None, cs, isa=isa, **h)
    assert [float(c) for c in cs] == [float(s) for s in steps]


# ---- kernels against the reference ------------------------------------------------------------------
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("opts", [ADAM_OPTS[0], ADAM_OPTS[-1]], ids=["plain", "all_options"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_matches_reference(isa, threads, nthreads, opts, dtype):
    """Every edge size, each as its own tensor, in one multi-tensor call, at steps 1..7."""
    threads(nthreads)
    h = adam_hyper(**opts)
    rng = np.random.default_rng(1)
    arrays = [adam_state(rng, n, dtype) for n in SIZES]
    steps = [1 + i for i in range(len(SIZES))]
    expected = [adam_reference(*a, s, h) for a, s in zip(arrays, steps)]
    run_adam(arrays, steps, h, isa)
    for n, (p, _, m, v, vmax), (ep, em, ev, evmax, scale) in zip(SIZES, arrays, expected):
        assert_close(p, ep, scale, dtype, f"param (n={n})")
        assert_close(m, em, np.abs(em) + 0.1, dtype, f"exp_avg (n={n})", ulps=4)
        assert_close(v, ev, np.abs(ev), dtype, f"exp_avg_sq (n={n})", ulps=4)
        if h["amsgrad"]:
            assert_close(vmax, evmax, np.abs(evmax), dtype, f"max_exp_avg_sq (n={n})", ulps=4)


@pytest.mark.parametrize("opts", ADAM_OPTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_adam_options_match_reference(opts):
    h = adam_hyper(**opts)
    rng = np.random.default_rng(2)
    arrays = [adam_state(rng, n, np.float32) for n in (129, 1000)]
    expected = [adam_reference(*a, 3, h) for a in arrays]
    for isa in ISAS:
        got = [tuple(x.copy() for x in a) for a in arrays]
        run_adam(got, [3, 3], h, isa)
        for (p, _, m, v, _), (ep, em, ev, _, scale) in zip(got, expected):
            assert_close(p, ep, scale, np.float32, f"param at {isa}")
            assert_close(m, em, np.abs(em) + 0.1, np.float32, f"exp_avg at {isa}", ulps=4)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("opts", SGD_OPTS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "plain")
def test_sgd_matches_reference(isa, threads, nthreads, opts):
    threads(nthreads)
    h = sgd_hyper(**opts)
    rng = np.random.default_rng(3)
    # float64 for the options that use every term, float32 otherwise
    dtype = np.float64 if opts is SGD_OPTS[4] else np.float32
    ps = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    gs = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    # every other tensor starts without a buffer (torch's first step: buf = grad)
    bufs = [None if i % 2 else rng.standard_normal(n).astype(dtype) for i, n in enumerate(SIZES)]
    expected = [sgd_reference(p, g, b, h) for p, g, b in zip(ps, gs, bufs)]
    out = _C.sgd_update(ps, gs, bufs, isa=isa, **h)
    assert (out is None) == (h["momentum"] == 0)
    for i, (n, p, (ep, eb, scale, bscale)) in enumerate(zip(SIZES, ps, expected)):
        assert_close(p, ep, scale, dtype, f"param (n={n})")
        if out is not None:
            assert out[i].shape == (n,) and out[i].dtype == dtype and (bufs[i] is None or out[i] is bufs[i])
            assert_close(out[i], eb, bscale, dtype, f"buffer (n={n})", ulps=4)


# ---- determinism ------------------------------------------------------------------------------------
def _adam_trial(isa, nthreads, threads, sizes):
    threads(nthreads)
    rng = np.random.default_rng(4)
    h = adam_hyper(amsgrad=True, weight_decay=0.01, decoupled=True)
    arrays = [adam_state(rng, n, np.float32) for n in sizes]
    for step in range(1, 4):
        run_adam(arrays, [step] * len(arrays), h, isa)
    return arrays


@pytest.mark.parametrize("isa", ISAS)
def test_bitwise_deterministic_across_threads_and_runs(isa, threads):
    # one long tensor crossing many chunks, and 100 small ones (team of threads over a flat work list)
    for sizes in ([300007], [1000 + 37 * i for i in range(100)]):
        a = _adam_trial(isa, 1, threads, sizes)
        b = _adam_trial(isa, 2, threads, sizes)
        c = _adam_trial(isa, 2, threads, sizes)
        for x, y, z in zip(itertools.chain(*a), itertools.chain(*b), itertools.chain(*c)):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(y, z)


def test_split_does_not_change_bits(threads):
    """One tensor updated whole, or as 3 separate tensors, gives the same bits."""
    threads(2)
    rng = np.random.default_rng(5)
    whole = adam_state(rng, 70001, np.float32)
    parts = [tuple(x[s].copy() for x in whole) for s in (slice(0, 5), slice(5, 40000), slice(40000, None))]
    h = adam_hyper(amsgrad=True)
    run_adam([whole], [2], h)
    run_adam(parts, [2, 2, 2], h)
    for k in range(5):
        np.testing.assert_array_equal(whole[k], np.concatenate([p[k] for p in parts]))


def test_fma_levels_agree_bitwise():
    """avx2 and avx512 run the same operations with FMA: identical bits (generic rounds twice)."""
    fma = [isa for isa in ISAS if isa != "generic"]
    if len(fma) < 2:
        pytest.skip("needs two FMA-capable ISA levels")
    rng = np.random.default_rng(6)
    base = adam_state(rng, 10007, np.float32)
    results = []
    for isa in fma:
        arrays = [tuple(x.copy() for x in base)]
        run_adam(arrays, [5], adam_hyper(amsgrad=True, weight_decay=0.1), isa)
        results.append(arrays[0])
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)


# ---- against torch.optim ----------------------------------------------------------------------------
SHAPES = [(7,), (17, 3), (129,), (64, 33), (1,)]


def _trajectory(make_fastnn, make_torch, steps=200, seed=7):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [fastnn.tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(x.copy())) for x in init]
    opt, topt = make_fastnn(ours), make_torch(theirs)
    worst = 0.0
    for _ in range(steps):
        # a noisy quadratic: the gradient pulls towards zero, the same arrays go to both libraries
        grads = [(0.5 * x + rng.standard_normal(x.shape)).astype(np.float32) for x in init]
        for p, tp, g in zip(ours, theirs, grads):
            p.grad = fastnn.tensor(g)
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            a, b = p.detach().numpy(), tp.detach().numpy()
            worst = max(worst, float(np.abs(a.astype(np.float64) - b).max() / max(1.0, np.abs(b).max())))
    return ours, theirs, opt, topt, worst


def _torch_fma():
    torch = pytest.importorskip("torch")
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") and _C.isa_active() != "generic"


@pytest.mark.torch
@pytest.mark.parametrize("amsgrad,maximize,weight_decay,decoupled",
                         list(itertools.product([False, True], [False, True], [0.0, 0.1], [False, True])))
def test_adam_trajectory_matches_torch(amsgrad, maximize, weight_decay, decoupled):
    torch = pytest.importorskip("torch")
    kw = dict(lr=1e-2, betas=(0.9, 0.99), weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    ours_cls, torch_cls = (fastnn.optim.AdamW, torch.optim.AdamW) if decoupled else (fastnn.optim.Adam,
                                                                                     torch.optim.Adam)
    ours, theirs, opt, topt, worst = _trajectory(lambda ps: ours_cls(ps, **kw),
                                                 lambda ps: torch_cls(ps, foreach=False, **kw))
    # Float32 roundings are torch's own, except sqrt: torch's vectorised sqrt (MKL VML) differs from the
    # correctly rounded one by an ulp on ~0.6% of inputs (test_adam_bitwise_equals_torch_ops_with_exact_sqrt
    # pins everything else), so the trajectories drift by a few ulps (2.4e-7 seen) at most.
    assert worst < 2e-6, f"max deviation from torch over 200 steps (relative to max(1, |param|)): {worst:.3g}"
    for p, tp in zip(ours, theirs):
        ts, s = topt.state[tp], opt.state[p]
        assert float(s["step"].item()) == float(ts["step"].item()) == 200.0
        for key in ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ()):
            np.testing.assert_allclose(s[key].numpy(), ts[key].numpy(), rtol=1e-6, atol=1e-7, err_msg=key)


@pytest.mark.torch
@pytest.mark.parametrize("betas", [(0.3, 0.9), (0.0, 0.5)], ids=["beta1_0.3", "beta1_0"])
def test_adam_small_beta1_matches_torch(betas):
    """beta1 < 0.5 takes torch's other lerp formula (weight >= 0.5)."""
    torch = pytest.importorskip("torch")
    *_, worst = _trajectory(lambda ps: fastnn.optim.Adam(ps, lr=1e-2, betas=betas),
                            lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=betas, foreach=False), steps=50)
    assert worst < 2e-6, f"max deviation from torch (relative to max(1, |param|)): {worst:.3g}"


@pytest.mark.torch
@pytest.mark.parametrize("kw", [dict(amsgrad=True, weight_decay=0.1), dict(maximize=True, weight_decay=0.1,
                                decoupled=True), dict(beta1=0.3, amsgrad=True, maximize=True)],
                         ids=["amsgrad-l2", "maximize-adamw", "beta1_0.3"])
def test_adam_bitwise_equals_torch_ops_with_exact_sqrt(kw):
    """torch's _single_tensor_adam written out in torch ops, with the one sqrt swapped for a correctly
    rounded one (float64 sqrt rounded to float32 is exact): every other rounding is torch's, bit for bit."""
    torch = pytest.importorskip("torch")
    if not _torch_fma():
        pytest.skip("torch's vectorised kernels round through FMA only at its AVX2/AVX512 capability")
    h = adam_hyper(beta2=0.99, **kw)
    rng = np.random.default_rng(8)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [fastnn.tensor(x.copy()) for x in init]
    m, v, vmax = ([fastnn.zeros(s) for s in SHAPES] for _ in range(3))
    steps = [fastnn.tensor(np.zeros((), np.float32)) for _ in SHAPES]
    tp, tm, tv, tvmax = ([torch.from_numpy(x.copy()) for x in init] for _ in range(4))
    for t in tm + tv + tvmax:
        t.zero_()
    for step in range(1, 51):
        grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        F.adam(ours, [fastnn.tensor(g) for g in grads], m, v, vmax, steps, **h)
        for i, g in enumerate(grads):
            g = torch.from_numpy(g)
            g = -g if h["maximize"] else g
            if h["weight_decay"] != 0:
                if h["decoupled"]:
                    tp[i].mul_(1 - h["lr"] * h["weight_decay"])
                else:
                    g = g.add(tp[i], alpha=h["weight_decay"])
            tm[i].lerp_(g, 1 - h["beta1"])
            tv[i].mul_(h["beta2"]).addcmul_(g, g, value=1 - h["beta2"])
            second = tv[i]
            if h["amsgrad"]:
                torch.maximum(tvmax[i], tv[i], out=tvmax[i])
                second = tvmax[i]
            denom = (torch.sqrt(second.double()).float() / (1 - h["beta2"] ** step) ** 0.5).add_(h["eps"])
            tp[i].addcdiv_(tm[i], denom, value=-(h["lr"] / (1 - h["beta1"] ** step)))
    for a, b in zip(ours + m + v, tp + tm + tv):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


SGD_COMBOS = ([dict(momentum=0.0, weight_decay=wd, maximize=mx) for wd in (0.0, 0.1) for mx in (False, True)] +
              [dict(momentum=0.9, dampening=d, nesterov=n, weight_decay=wd, maximize=mx)
               for d, n in ((0.0, False), (0.5, False), (0.0, True)) for wd in (0.0, 0.1) for mx in (False, True)])


@pytest.mark.torch
@pytest.mark.parametrize("kw", SGD_COMBOS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_trajectory_matches_torch(kw):
    torch = pytest.importorskip("torch")
    ours, theirs, opt, topt, worst = _trajectory(lambda ps: fastnn.optim.SGD(ps, lr=1e-2, **kw),
                                                 lambda ps: torch.optim.SGD(ps, lr=1e-2, foreach=False, **kw))
    if _torch_fma():
        # SGD has no sqrt: every rounding is torch's, so the 200 steps agree to the bit.
        assert worst == 0.0, f"max deviation from torch (relative to max(1, |param|)): {worst:.3g}"
    else:
        assert worst < 1e-5, f"max deviation from torch (relative to max(1, |param|)): {worst:.3g}"
    if kw["momentum"]:
        for p, tp in zip(ours, theirs):
            a, b = opt.state[p]["momentum_buffer"].numpy(), topt.state[tp]["momentum_buffer"].numpy()
            if _torch_fma():
                np.testing.assert_array_equal(a, b)
            else:  # the generic level rounds a * b + c twice where torch's FMA rounds once
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    else:
        assert len(opt.state) == len(topt.state) == 0


# ---- bad input --------------------------------------------------------------------------------------
def _good(n=5, dtype=np.float32, k=2):
    return [[np.ones(n, dtype) for _ in range(k)] for _ in range(5)]


def _call_adam(p, g, m, v, vmax=None, steps=None, **kw):
    h = adam_hyper(**kw)
    _C.adam_update(p, g, m, v, vmax, counters([1] * len(p)) if steps is None else steps, **h)


@pytest.mark.parametrize("case,exc,match", [
    ("int_param", TypeError, "float32 or float64"),
    ("half_param", TypeError, "float32 or float64"),
    ("mixed_dtype", TypeError, r"grads\[1\] has dtype float64, expected float32"),
    ("shape", ValueError, r"exp_avgs\[1\] has shape \(4,\) but params\[1\] has shape \(5,\)"),
    ("shape_2d", ValueError, r"exp_avg_sqs\[0\] has shape \(5, 1\)"),
    ("noncontig", ValueError, r"grads\[0\] \(shape \(5,\)\) is not C-contiguous"),
    ("readonly_param", ValueError, r"params\[1\] is read-only"),
    ("readonly_state", ValueError, r"exp_avg_sqs\[0\] is read-only"),
    ("lengths", ValueError, "got 2 params but 1 exp_avgs"),
    ("not_list", TypeError, "expected grads to be a list of arrays"),
    ("not_array", TypeError, r"expected exp_avgs\[0\] to be a NumPy array"),
    ("alias_state", ValueError, r"exp_avgs\[0\] overlaps params\[0\]|params\[0\] overlaps exp_avgs\[0\]"),
    ("alias_grad", ValueError, "overlaps"),
    ("overlap_views", ValueError, "overlaps"),
    ("shared_params", ValueError, r"params\[1\] overlaps params\[0\]|params\[0\] overlaps params\[1\]"),
    ("amsgrad_missing", ValueError, "amsgrad=True needs max_exp_avg_sqs"),
    ("step_negative", ValueError, r"steps\[1\] must hold a finite count >= 0"),
    ("step_nan", ValueError, r"steps\[0\] must hold a finite count >= 0"),
    ("step_number", TypeError, r"steps\[0\] must be a NumPy array holding the step count"),
    ("step_int", TypeError, r"steps\[0\] must be float32 or float64"),
    ("step_size", ValueError, r"steps\[1\] must hold one element"),
    ("step_readonly", ValueError, r"steps\[0\] is read-only"),
    ("step_alias", ValueError, "overlaps"),
    ("steps_length", ValueError, "got 2 params but 3 steps"),
])
def test_adam_bad_input(case, exc, match):
    p, g, m, v, vmax = _good()
    kw, steps = {}, None
    if case == "int_param":
        p = [np.ones(5, np.int32), np.ones(5, np.int32)]
    elif case == "half_param":
        p[0] = np.ones(5, np.float16)
    elif case == "mixed_dtype":
        g[1] = np.ones(5, np.float64)
    elif case == "shape":
        m[1] = np.ones(4, np.float32)
    elif case == "shape_2d":
        v[0] = np.ones((5, 1), np.float32)
    elif case == "noncontig":
        g[0] = np.ones(10, np.float32)[::2]
    elif case == "readonly_param":
        p[1].flags.writeable = False
    elif case == "readonly_state":
        v[0].flags.writeable = False
    elif case == "lengths":
        m = m[:1]
    elif case == "not_list":
        g = g[0]
    elif case == "not_array":
        m[0] = [1.0] * 5
    elif case == "alias_state":
        m[0] = p[0]
    elif case == "alias_grad":
        g[1] = v[1]
    elif case == "overlap_views":
        buf = np.zeros(8, np.float32)
        m[0], v[0] = buf[:5], buf[3:]
    elif case == "shared_params":
        p[1] = p[0]
    elif case == "amsgrad_missing":
        kw["amsgrad"] = True
        vmax = None
    elif case == "step_negative":
        steps = counters([1, 0])
    elif case == "step_nan":
        steps = [np.array(np.nan, np.float32), np.zeros((), np.float32)]
    elif case == "step_number":
        steps = [0.0, 0.0]
    elif case == "step_int":
        steps = [np.zeros((), np.int64), np.zeros((), np.float32)]
    elif case == "step_size":
        steps = [np.zeros((), np.float32), np.zeros(2, np.float32)]
    elif case == "step_readonly":
        steps = counters([1, 1])
        steps[0].flags.writeable = False
    elif case == "step_alias":
        steps = [p[0][:1], np.zeros(1, np.float32)]
    elif case == "steps_length":
        steps = counters([1, 1, 1])
    written = [x for x in p + m + v + (steps or []) if isinstance(x, np.ndarray)]
    before = [x.copy() for x in written]
    with pytest.raises(exc, match=match):
        _call_adam(p, g, m, v, vmax, steps, **kw)
    # every check runs before any element (or step counter) is written
    for x, y in zip(written, before):
        np.testing.assert_array_equal(x, y)


def test_grad_may_be_read_only_and_shared():
    """Gradients are only read: read-only gradients and one gradient for two tensors are fine."""
    p, g, m, v, _ = _good()
    g[0].flags.writeable = False
    g[1] = g[0]
    _call_adam(p, g, m, v)
    assert np.all(p[0] < 1) and np.array_equal(p[0], p[1])


@pytest.mark.parametrize("case,exc,match", [
    ("dtype", TypeError, r"grads\[0\] has dtype float64"),
    ("buffer_shape", ValueError, r"momentum_buffers\[1\] has shape \(3,\)"),
    ("buffer_alias", ValueError, "overlaps"),
    ("buffer_readonly", ValueError, r"momentum_buffers\[0\] is read-only"),
    ("lengths", ValueError, "got 2 params but 1 grads"),
    ("buffers_length", ValueError, "got 2 params but 3 momentum_buffers"),
])
def test_sgd_bad_input(case, exc, match):
    p, g, bufs, *_ = _good()
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
    elif case == "buffers_length":
        bufs = bufs + [np.ones(5, np.float32)]
    with pytest.raises(exc, match=match):
        _C.sgd_update(p, g, bufs, **sgd_hyper(momentum=0.9))


def test_empty_lists_and_bad_isa():
    _C.adam_update([], [], [], [], None, [], **adam_hyper())
    assert _C.sgd_update([], [], None, **sgd_hyper(momentum=0.9)) == []
    p, g, m, v, _ = _good()
    with pytest.raises(ValueError):
        _C.adam_update(p, g, m, v, None, counters([1, 1]), isa="sse9", **adam_hyper())


def test_functional_bumps_versions_and_steps():
    p = fastnn.tensor(np.ones(4, np.float32), requires_grad=True)
    g = fastnn.tensor(np.full(4, 0.5, np.float32))
    m, v = fastnn.zeros(4), fastnn.zeros(4)
    step = fastnn.tensor(np.zeros((), np.float32))
    F.adam([p], [g], [m], [v], [], [step], lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
           amsgrad=False, maximize=False)
    assert step.item() == 1.0 and p._version == 1 and m._version == 1 and v._version == 1
    np.testing.assert_allclose(p.detach().numpy(), 0.9, rtol=1e-6)  # first Adam step moves by lr
    bufs = [None]
    F.sgd([p], [g], bufs, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False)
    assert isinstance(bufs[0], fastnn.Tensor) and np.array_equal(bufs[0].numpy(), g.numpy())
    assert p._version == 2



def test_equal_but_distinct_dtype_objects_are_accepted():
    """NumPy may hand out a float32 dtype object equal to, but not the same object as, the canonical one
    (newbyteorder('=') does; a loaded checkpoint had one): bindings compare dtypes by value."""
    odd = np.dtype("<f4").newbyteorder("=")
    assert odd == np.float32 and odd is not np.dtype(np.float32)
    p, g = np.ones(5, odd), np.full(5, 0.5, odd)
    m, v = np.zeros(5, odd), np.zeros(5, odd)
    _C.adam_update([p], [g], [m], [v], None, counters([1]), **adam_hyper())
    assert np.all(p < 1)
    x = np.arange(12, dtype=odd).reshape(3, 4)
    np.testing.assert_allclose(fastnn.tensor(x).softmax(-1).numpy().sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(fastnn.matmul(fastnn.tensor(x), fastnn.tensor(x.T)).numpy(), x @ x.T, rtol=1e-6)
