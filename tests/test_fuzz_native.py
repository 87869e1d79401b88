"""Every function of fastnn._C (the CPU kernels' bindings) and every CUDA kernel binding of fastnn._emu (run by the
emulator, tiny shapes) called with hostile arguments in a separate worker: each call must return or raise a clear
error naming its function (or the op it serves) -- never crash, hang, trip a sanitizer or raise an unclear error.
The strategies live in native_fuzz_specs.py; a new native function without one fails test_every_function_is_fuzzed.

FASTNN_FUZZ_EXAMPLES sets the examples per function (default 12; 100000 for a long run). Every example runs (no
shrinking): a failing test lists the cases that failed, each reproducible from its printed arguments."""
from __future__ import annotations

import collections
import importlib
import time

import pytest
from hypothesis import Phase, given
from hypothesis import strategies as st

from fuzz_harness import FuzzRunner, fuzz_settings, is_clear
from native_fuzz_specs import A, C_NOT_FUNCTIONS, C_SPECS, EMU_HOOKS, EMU_SPECS, hostile_call

CASE = "fuzz_cases_native:call"
EXAMPLES = 12
TALLY: collections.Counter = collections.Counter()


@pytest.fixture(scope="module")
def run():
    with FuzzRunner(timeout_s=15.0) as runner:
        yield runner
    print(f"\nnative fuzz: {sum(TALLY.values())} cases, " + ", ".join(f"{k} {v}" for k, v in sorted(TALLY.items())))


def _functions(module: str) -> set:
    mod = importlib.import_module(module)
    return {n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n))}


def test_every_function_is_fuzzed():
    c_funcs = _functions("fastnn._C") - C_NOT_FUNCTIONS
    assert c_funcs == set(C_SPECS), ("fastnn._C functions without a fuzz strategy (add one to native_fuzz_specs): "
                                     f"{sorted(c_funcs - set(C_SPECS))}; strategies for missing functions: "
                                     f"{sorted(set(C_SPECS) - c_funcs)}")
    emu_funcs = _functions("fastnn._emu")
    assert emu_funcs == set(EMU_SPECS) | EMU_HOOKS, (
        f"fastnn._emu kernel bindings without a fuzz strategy: {sorted(emu_funcs - set(EMU_SPECS) - EMU_HOOKS)}; "
        f"strategies or hooks for missing functions: {sorted((set(EMU_SPECS) | EMU_HOOKS) - emu_funcs)}")


def _verdict(outcome, name, wordings) -> str:
    """"clear"/"ok" for an acceptable outcome, else what went wrong."""
    if outcome.kind == "ok":
        return "ok"
    if outcome.kind == "error":
        if outcome.exc_type == "BuildError":
            return "skipped"
        return "clear" if is_clear(outcome, name, *wordings) else "unclear"
    return outcome.kind  # crash, hang, sanitizer


def _fuzz(run, module, name, template, wordings):
    failures = []

    @fuzz_settings(default_examples=EXAMPLES, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(st.data())
    def one(data):
        args, kwargs = data.draw(hostile_call(template))
        outcome = run(CASE, module, name, args, kwargs)
        verdict = _verdict(outcome, name, wordings)
        TALLY[verdict] += 1
        if verdict not in ("ok", "clear", "skipped"):
            failures.append(f"[{verdict}] " + outcome.describe())

    one()
    assert not failures, f"{len(failures)} bad outcomes of {name}:\n" + "\n".join(failures[:8])


@pytest.mark.parametrize("name", sorted(C_SPECS))
def test_fuzz_cpu_binding(run, name):
    template, wordings = C_SPECS[name]
    _fuzz(run, "fastnn._C", name, template, wordings)


@pytest.mark.parametrize("name", sorted(EMU_SPECS))
def test_fuzz_cuda_binding_on_emulator(run, name):
    template, wordings = EMU_SPECS[name]
    _fuzz(run, "fastnn._emu", name, template, wordings)


# ------------------------------------------------------------------------------- the reported cases, pinned

def _call(run, name, *args, module="fastnn._C", **kwargs):
    return run(CASE, module, name, args, kwargs)


def _assert_clear(outcome, *wordings, types=("ValueError", "MemoryError", "RuntimeError", "TypeError")):
    assert outcome.kind == "error" and outcome.exc_type in types, outcome.describe()
    assert any(w in outcome.message for w in wordings), outcome.describe()


@pytest.mark.parametrize("kernel,padding,dilation", [
    ((2, 2), (2**62, 0), (1, 1)), ((2, 2), (0, 2**62), (1, 1)), ((2, 2), (1, 1), (2**62, 1)),
    ((1, 1), (2**63 - 1, 0), (1, 1)),  # 2 * padding wraps to -2: the unchecked build segfaulted
    ((3, 1), (0, 0), (2**62, 1)),  # dilation * (kernel - 1) wraps to -2**63
    ((1, 1), (2**40, 2**40), (1, 1)),  # fits int64, but the output could never be allocated
])
def test_conv2d_sizes_that_overflow_int64_are_a_clear_error(run, kernel, padding, dilation):
    out = _call(run, "conv2d_forward", A((1, 1, 3, 3)), A((1, 1) + kernel), None, (1, 1), padding, dilation, 1)
    _assert_clear(out, "conv2d", types=("ValueError", "MemoryError"))
    grads = _call(run, "conv2d_backward_data", A((1, 1, 2, 2)), A((1, 1) + kernel), (2**62, 3), (1, 1), padding,
                  dilation, 1)
    _assert_clear(grads, "conv2d_backward_data", types=("ValueError", "MemoryError"))
    weights = _call(run, "conv2d_backward_weight", A((1, 1, 2, 2)), A((1, 1, 3, 3)), kernel, (1, 1), padding,
                    dilation, 1)
    _assert_clear(weights, "conv2d_backward_weight", types=("ValueError", "MemoryError"))


def test_conv2d_backward_bias_of_a_huge_broadcast_grad_is_rejected_not_run(run):
    out = _call(run, "conv2d_backward_bias", A((2**29, 2, 2**30, 1), layout="bcast"))
    _assert_clear(out, "conv2d_backward_bias")


def test_pool_kernel_beyond_int64_arithmetic_is_a_value_error(run):
    for k, p in (((2**62, 2), (0, 0)), ((2, 2), (2**62, 0))):
        out = _call(run, "max_pool2d_forward", A((1, 1, 4, 4)), k, (1, 1), p, (2**62, 1), False)
        _assert_clear(out, "max_pool2d", types=("ValueError",))
    out = _call(run, "avg_pool2d_backward", A((1, 1, 2, 2)), (2**62, 2**62, 4, 4), (2, 2), (2, 2), (0, 0))
    _assert_clear(out, "avg_pool2d_backward")


@pytest.mark.parametrize("args", [(2**40, 1, 1), (1 << 16, 10**6, 1), (1 << 16, 1, 10**9), (2**62, 2**31 - 1, 1)])
def test_bandwidth_probe_bounds_its_arguments(run, args):
    _assert_clear(_call(run, "probe_memory_bandwidth", *args), "probe_memory_bandwidth", types=("ValueError",))


@pytest.mark.parametrize("threads,repeats", [(10**6, 1), (2**31 - 1, 1), (1, 10**9)])
def test_peak_probe_bounds_its_arguments(run, threads, repeats):
    _assert_clear(_call(run, "probe_peak_gflops_f32", None, threads, repeats), "probe_peak_gflops_f32",
                  types=("ValueError",))


ZERO_SIZE = [
    ("conv2d_forward", (A((0, 2, 4, 4)), A((3, 2, 3, 3)), None, (1, 1), (0, 0), (1, 1), 1), (0, 3, 2, 2)),
    ("conv2d_forward", (A((2, 0, 4, 4)), A((3, 0, 3, 3)), None, (1, 1), (0, 0), (1, 1), 1), (2, 3, 2, 2)),
    ("conv2d_backward_bias", (A((0, 3, 2**20, 2**20), layout="bcast"),), (3,)),
    ("softmax_forward", (A((0, 2**40), layout="bcast"),), (0, 2**40)),
    ("matmul", (A((0, 2**40), layout="bcast"), A((2**40, 3), layout="bcast")), (0, 3)),
    ("max_pool2d_forward", (A((0, 2**40, 4, 4), layout="bcast"), (2, 2), (2, 2), (0, 0), (1, 1)), (0, 2**40, 2, 2)),
    ("layer_norm_forward", (A((0, 2**40), layout="bcast"),), None),
    ("erf", (A((0, 2**50), layout="bcast"),), (0, 2**50)),
]


@pytest.mark.parametrize("name,args,shape", ZERO_SIZE, ids=[z[0] + str(i) for i, z in enumerate(ZERO_SIZE)])
def test_zero_size_work_returns_at_once_with_its_shape(run, name, args, shape):
    t0 = time.perf_counter()
    out = _call(run, name, *args)
    assert out.kind == "ok", out.describe()
    assert time.perf_counter() - t0 < 5.0
    if shape is not None:
        assert out.value == ("array", shape, "float32"), out.describe()
