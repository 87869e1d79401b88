"""The CUDA fused optimizer kernels (csrc/cuda/optim.cu) against the CPU kernels: bit for bit.

Both round operation by operation as torch does (explicit FMAs where torch fuses, nothing contracted),
so float32 results are identical to backend/composite/optim.py's NumPy formulas (an exact single-rounding
FMA) and to fastnn._C's kernels at an FMA ISA level (avx2/avx512). On a real GPU the bias corrections come
from CUDA's double pow (<= 2 ulp of a double), which could flip a float rounding only on an exact tie;
the emulator uses the same libm pow as the CPU. Many tensors of odd sizes (0, 1, non-multiples of 4,
misaligned views that take the scalar path) go in one call, with small chunks so tensors span blocks.
"""
import numpy as np
import pytest

from fastnn import _C
from fastnn.backend.composite.optim import OptimKernels

SIZES = (0, 1, 3, 4, 5, 16, 37, 70)


class _NumpyOptim(OptimKernels):
    xp = np


REF = _NumpyOptim()
CPU_FMA = _C.isa_active() != "generic"


def _misaligned(target, a):
    """A device copy of ``a`` starting 4 bytes into its allocation: not 16-byte aligned (the scalar path)."""
    padded = np.concatenate([np.zeros(1, a.dtype), a.ravel()])
    d = target.to_device(padded)
    if target.name == "emu":
        from cuda_kernel_helpers import HostDeviceArray
        return HostDeviceArray(d.a[1:].reshape(a.shape))
    return d[1:].reshape(a.shape)


def _state(rng, sizes, amsgrad):
    params = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    grads = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    m = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in sizes]
    v = [np.abs(rng.standard_normal(n)).astype(np.float32) * 0.01 for n in sizes]
    vmax = [x * 1.5 for x in v] if amsgrad else None
    steps = [np.array([i % 3], np.float32 if i % 2 else np.float64) for i in range(len(sizes))]
    return params, grads, m, v, vmax, steps


def _dev_list(target, arrays, misalign_every=3):
    if arrays is None:
        return None
    return [_misaligned(target, a) if i % misalign_every == 2 else target.to_device(a) for i, a in enumerate(arrays)]


def _host(target, arrays):
    return [target.to_host(a) for a in arrays]


ADAM_FLAGS = [  # (beta1, weight_decay, decoupled, amsgrad, maximize): every flag on and off, both lerp forms
    (0.9, 0.0, False, False, False),
    (0.9, 0.1, False, True, False),
    (0.9, 0.1, True, False, True),
    (0.3, 0.05, True, True, False),   # 1 - beta1 = 0.7: torch's large-weight lerp formula
    (0.3, 0.0, False, False, True),
]


@pytest.mark.parametrize("beta1, wd, decoupled, amsgrad, maximize", ADAM_FLAGS)
def test_adam_matches_the_cpu_kernels_bitwise(target, beta1, wd, decoupled, amsgrad, maximize):
    rng = np.random.default_rng(7)
    params, grads, m, v, vmax, steps = _state(rng, SIZES, amsgrad)
    hyper = dict(lr=1e-2, beta1=beta1, beta2=0.99, eps=1e-8, weight_decay=wd, amsgrad=amsgrad, maximize=maximize,
                 decoupled=decoupled)
    d = [_dev_list(target, x) for x in (params, grads, m, v, vmax)]
    d_steps = [target.to_device(s) for s in steps]
    ticket = target.to_device(np.zeros(1, np.int32))
    ref = [[a.copy() for a in x] if x is not None else None for x in (params, grads, m, v, vmax, steps)]
    cpu = [[a.copy() for a in x] if x is not None else None for x in (params, grads, m, v, vmax, steps)]
    for _ in range(3):
        target.native.adam_update_f32(*d, d_steps, ticket, **hyper, chunk=16, device=0, stream=target.stream)
        REF.adam_update(*ref, **hyper)
        _C.adam_update(*cpu, **hyper)
    target.synchronize()
    got = [_host(target, x) if x is not None else None for x in d] + [_host(target, d_steps)]
    for name, g, r, c in zip(("params", "grads", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs", "steps"), got, ref,
                             cpu):
        if g is None:
            continue
        for i, (gi, ri, ci) in enumerate(zip(g, r, c)):
            assert gi.dtype == ri.dtype
            np.testing.assert_array_equal(gi, ri, err_msg=f"{name}[{i}] vs the NumPy formulas")
            if CPU_FMA:
                np.testing.assert_array_equal(gi, ci, err_msg=f"{name}[{i}] vs fastnn._C")
    assert [float(s[0]) for s in got[-1]] == [i % 3 + 3 for i in range(len(SIZES))]
    assert target.to_host(ticket)[0] == 0  # cleared for the next call


def test_adam_splits_full_tables_into_launches(target):
    # 40 tensors (> 32 per table) and one of 1400 elements in chunks of 4 (350 blocks > 320): three launches,
    # one tensor spanning two; every counter still goes up exactly once.
    sizes = [1400] + [3] * 39
    assert target.native.adam_launch_count(sizes, chunk=4) == 3
    assert target.native.adam_launch_count([5] * 32, chunk=4) == 1
    assert target.native.adam_launch_count([0, 0], chunk=4) == 1  # empty tensors still count a step
    rng = np.random.default_rng(3)
    params, grads, m, v, _, steps = _state(rng, sizes, False)
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled=False)
    d = [[target.to_device(a) for a in x] for x in (params, grads, m, v)]
    d_steps = [target.to_device(s) for s in steps]
    ticket = target.to_device(np.zeros(1, np.int32))
    target.native.adam_update_f32(*d, None, d_steps, ticket, **hyper, chunk=4, device=0, stream=target.stream)
    REF.adam_update(params, grads, m, v, None, steps, **hyper)
    for g, r in zip(_host(target, d[0]) + _host(target, d[2]), params + m):
        np.testing.assert_array_equal(g, r)
    np.testing.assert_array_equal(np.concatenate(_host(target, d_steps)), np.concatenate(steps))
    assert target.to_host(ticket)[0] == 0


def test_adam_with_the_default_chunk(target):
    # 65536-element chunks: a tensor of two chunks (vector path) and a misaligned one (scalar path).
    rng = np.random.default_rng(12)
    params, grads, m, v, vmax, steps = _state(rng, (70001, 65540), True)
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=True, maximize=False,
                 decoupled=True)
    d = [[_misaligned(target, x[0]), target.to_device(x[1])] for x in (params, grads, m, v, vmax)]
    d_steps = [target.to_device(s) for s in steps]
    target.native.adam_update_f32(*d, d_steps, target.to_device(np.zeros(1, np.int32)), **hyper,
                                  stream=target.stream)
    REF.adam_update(params, grads, m, v, vmax, steps, **hyper)
    for got, want in zip(d, (params, grads, m, v, vmax)):
        for g, w in zip(_host(target, got), want):
            np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(np.concatenate(_host(target, d_steps)), np.concatenate(steps))


def test_adam_only_empty_tensors_still_counts_steps(target):
    params = [target.to_device(np.zeros(0, np.float32)) for _ in range(2)]
    steps = [target.to_device(np.array([4.0], np.float32)), target.to_device(np.array([0.0]))]
    ticket = target.to_device(np.zeros(1, np.int32))
    target.native.adam_update_f32(params, params, [target.empty(0, np.float32)] * 2, [target.empty(0, np.float32)] * 2,
                                  None, steps, ticket, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                                  amsgrad=False, maximize=False, decoupled=False, stream=target.stream)
    assert [float(target.to_host(s)[0]) for s in steps] == [5.0, 1.0]
    target.native.adam_update_f32([], [], [], [], None, [], ticket, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                  weight_decay=0.0, amsgrad=False, maximize=False, decoupled=False)


SGD_FLAGS = [  # (momentum, dampening, nesterov, weight_decay, maximize)
    (0.0, 0.0, False, 0.0, False),
    (0.0, 0.0, False, 0.01, True),
    (0.9, 0.0, False, 0.0, False),
    (0.9, 0.1, True, 0.01, False),
    (0.5, 0.3, False, 0.02, True),
]


@pytest.mark.parametrize("momentum, dampening, nesterov, wd, maximize", SGD_FLAGS)
def test_sgd_matches_the_cpu_kernels_bitwise(target, momentum, dampening, nesterov, wd, maximize):
    rng = np.random.default_rng(11)
    params, grads, bufs, _, _, _ = _state(rng, SIZES, False)
    hyper = dict(lr=0.05, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd,
                 maximize=maximize)
    dp, dg = _dev_list(target, params), _dev_list(target, grads)
    with_momentum = momentum != 0.0
    fresh = [i % 2 == 0 for i in range(len(SIZES))]  # half the buffers start on this step
    ref_bufs = [None if f else b.copy() for f, b in zip(fresh, bufs)] if with_momentum else None
    start = [np.full_like(b, np.nan) if f else b for f, b in zip(fresh, bufs)]  # a fresh buffer is only written
    db = _dev_list(target, start) if with_momentum else None
    ref_p, cpu_p = [p.copy() for p in params], [p.copy() for p in params]
    cpu_bufs = [None if b is None else b.copy() for b in ref_bufs] if with_momentum else None
    for step in range(2):
        target.native.sgd_update_f32(dp, dg, db, (fresh if step == 0 else None) if with_momentum else None,
                                     **hyper, chunk=16, stream=target.stream)
        ref_bufs = REF.sgd_update(ref_p, grads, ref_bufs, **hyper)
        cpu_bufs = _C.sgd_update(cpu_p, grads, cpu_bufs, **hyper)
    for i, (g, r, c) in enumerate(zip(_host(target, dp), ref_p, cpu_p)):
        np.testing.assert_array_equal(g, r, err_msg=f"params[{i}]")
        if CPU_FMA:
            np.testing.assert_array_equal(g, c, err_msg=f"params[{i}] vs fastnn._C")
    if with_momentum:
        for i, (g, r) in enumerate(zip(_host(target, db), ref_bufs)):
            np.testing.assert_array_equal(g, r, err_msg=f"momentum_buffers[{i}]")


def test_sgd_launch_count():
    from fastnn import _emu
    assert _emu.sgd_launch_count([3] * 49, chunk=4) == 2
    assert _emu.sgd_launch_count([0, 0]) == 0
    assert _emu.sgd_launch_count([4 * 321], chunk=4) == 2


def test_optim_bindings_check_their_arguments(target):
    dev, f32 = target.to_device, np.float32
    p = [dev(np.ones(3, f32)), dev(np.ones(2, f32))]
    g = [dev(np.ones(3, f32)), dev(np.ones(2, f32))]
    m = [target.empty(3, f32), target.empty(2, f32)]
    v = [target.empty(3, f32), target.empty(2, f32)]
    steps = [dev(np.zeros(1, f32)), dev(np.zeros(1))]
    ticket = dev(np.zeros(1, np.int32))
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled=False)
    adam = target.native.adam_update_f32

    def raises(exc, match, *args, **kw):
        with pytest.raises(exc, match=match):
            adam(*args, **{**hyper, **kw})

    raises(TypeError, "adam_update_f32: expected params to be a list of arrays, got dict", {}, g, m, v, None, steps,
           ticket)
    raises(ValueError, "adam_update_f32: got 2 params but 1 grads", p, g[:1], m, v, None, steps, ticket)
    raises(TypeError, r"adam_update_f32: grads\[1\] must be a CUDA device array", p, [g[0], np.ones(2, f32)], m, v,
           None, steps, ticket)
    raises(TypeError, r"adam_update_f32: exp_avgs\[0\] must be float32, got float64", p, g,
           [dev(np.ones(3)), m[1]], v, None, steps, ticket)
    raises(ValueError, r"adam_update_f32: exp_avg_sqs\[1\] has shape \(3,\) but params\[1\] has shape \(2,\)", p, g, m,
           [v[0], target.empty(3, f32)], None, steps, ticket)
    raises(ValueError, "amsgrad=True needs max_exp_avg_sqs", p, g, m, v, None, steps, ticket, amsgrad=True)
    raises(ValueError, r"steps\[0\] must hold one element, has shape \(2,\)", p, g, m, v, None,
           [dev(np.zeros(2, f32)), steps[1]], ticket)
    raises(TypeError, r"steps\[1\] must be float32 or float64, got int64", p, g, m, v, None,
           [steps[0], dev(np.zeros(1, np.int64))], ticket)
    raises(ValueError, r"adam_update_f32: exp_avgs\[1\] overlaps params\[1\] in memory", p, g, [m[0], p[1]], v, None,
           steps, ticket)
    raises(ValueError, r"ticket must have shape \(1,\)", p, g, m, v, None, steps, dev(np.zeros(2, np.int32)))
    raises(ValueError, "chunk must be a positive multiple of 4", p, g, m, v, None, steps, ticket, chunk=6)
    if target.name == "emu":
        from cuda_kernel_helpers import HostDeviceArray
        ro = np.ones(3, f32)
        ro.flags.writeable = False
        raises(ValueError, r"params\[0\] is read-only", [HostDeviceArray(ro), p[1]], g, m, v, None, steps, ticket)
        two = np.ones((2, 4), f32)
        raises(ValueError, r"grads\[0\] must be C-contiguous", [dev(np.ones(2, f32)), p[1]],
               [HostDeviceArray(two[:, 1]), g[1]], m, v, None, steps, ticket)
    # A grad may be shared and read-only: only written arrays must be alone.
    adam(p, [g[0], g[1]], m, v, None, steps, ticket, **hyper)
    sgd = target.native.sgd_update_f32
    sgd_hyper = dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False)
    with pytest.raises(ValueError, match="momentum != 0 needs momentum_buffers"):
        sgd(p, g, None, None, **{**sgd_hyper, "momentum": 0.9})
    with pytest.raises(ValueError, match="must be None when momentum is 0"):
        sgd(p, g, m, None, **sgd_hyper)
    with pytest.raises(ValueError, match=r"sgd_update_f32: got 2 params but 1 fresh"):
        sgd(p, g, m, [True], **{**sgd_hyper, "momentum": 0.9})
    with pytest.raises(ValueError, match=r"sgd_update_f32: momentum_buffers\[0\] overlaps grads\[0\]"):
        sgd(p, g, [g[0], m[1]], None, **{**sgd_hyper, "momentum": 0.9})


def test_a_missing_barrier_after_the_step_coefficients_is_caught():
    import fastnn._emu as emu
    from cuda_kernel_helpers import HostDeviceArray, planted_barrier
    rng = np.random.default_rng(9)
    params, grads, m, v, _, steps = _state(rng, (300, 7), False)
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
                 decoupled=False)
    want = [p.copy() for p in params]
    REF.adam_update(want, grads, [a.copy() for a in m], [a.copy() for a in v], None, [s.copy() for s in steps],
                    **hyper)
    caught = set()
    with planted_barrier("optim.cu", "barrier: step coefficients"):
        for sched in emu.schedules():
            emu.set_schedule(sched, 3)
            d = [[HostDeviceArray(a.copy()) for a in x] for x in (params, grads, m, v)]
            emu.adam_update_f32(*d, None, [HostDeviceArray(s.copy()) for s in steps],
                                HostDeviceArray(np.zeros(1, np.int32)), **hyper)
            if not all(np.array_equal(g.a, w) for g, w in zip(d[0], want)):
                caught.add(sched)
        assert emu.planted_barrier_hits() > 0
    emu.set_schedule("forward", 0)
    assert {"reverse", "random"} <= caught, caught
