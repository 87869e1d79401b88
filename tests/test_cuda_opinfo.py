"""PyTorch's OpInfo samples with several CUDA devices: on the emulator with two devices, the inputs on cuda:1
and cuda:0 made CuPy's current device before each op and each backward. The emulator enforces CuPy's rule
(operations on the current device's arrays only), so an op that never makes its tensors' device current fails
here. (tests/test_opinfo_cuda.py runs the whole oracle on one CUDA device against its ratcheted baseline.)

(On the emulated device in CI; on a GPU with FASTNN_CUDA=auto.)"""
import pytest

import fastnn

pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.cuda,
              pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]

import opinfo_oracle as oracle  # noqa: E402  (after the torch check: the oracle imports torch's op_db)

SAMPLES = 3  # per op and dtype
# The ops a model's training step is made of (every nn.functional entry is added below) and those whose
# index arguments or host-side logic could trip on a device (the whole op_db, through the same patches,
# passes too but takes a minute on two cores).
OPS = ["__getitem__", "add", "mul", "sub", "div.no_rounding_mode", "pow", "matmul", "bmm", "addmm", "einsum",
       "mean", "sum", "var", "std", "amax", "max.reduction_with_dim", "argmax", "logsumexp", "log_softmax",
       "softmax", "cumsum", "cat", "stack", "split", "chunk", "where", "clamp", "exp", "log", "tanh", "sigmoid",
       "sqrt", "rsqrt", "abs", "masked_fill", "masked_select", "masked_scatter", "gather", "scatter",
       "scatter_add", "scatter_reduce.sum", "scatter_reduce.amax", "index_add", "index_copy", "index_fill",
       "index_put", "index_select", "take", "take_along_dim", "put", "nonzero", "sort", "topk", "kthvalue",
       "unique", "repeat_interleave", "tril", "triu", "flip", "roll", "norm", "linalg.vector_norm",
       "linalg.solve", "linalg.inv", "embedding", "bincount", "histc", "searchsorted", "bucketize", "multinomial"]


def _other_device_current(mp):
    """Makes cuda:0 the emulator's current device before each op call and each backward, while the oracle's
    inputs live on cuda:1 (oracle.run(..., device="cuda:1"))."""
    from fastnn.backend.cuda import emulated

    def away():
        emulated._CURRENT[0] = 0

    resolve, grad = oracle.resolve, fastnn.autograd.grad

    def resolve_away(op):
        fn, how = resolve(op)
        if fn is None:
            return fn, how

        def call(*args, **kwargs):
            away()
            return fn(*args, **kwargs)
        return call, how

    def grad_away(*args, **kwargs):
        away()
        return grad(*args, **kwargs)

    mp.setattr(oracle, "resolve", resolve_away)
    mp.setattr(fastnn.autograd, "grad", grad_away)


def _no_error_inputs(mp):
    mp.setattr(oracle, "run_error_inputs", lambda *a: {"counts": dict.fromkeys(oracle.ERROR_CLASSES, 0),
                                                       "reasons": {}})


def _ops():
    return OPS + [oracle.op_key(op) for op in oracle.load_op_db() if op.name.startswith("nn.functional.")]


@pytest.mark.skipif(not fastnn.backend.cuda.runtime.emulated(), reason="the emulator's current-device rule")
def test_ops_on_the_second_device_make_it_current(cuda_mode):
    cuda_mode("emulate:2")
    with pytest.MonkeyPatch.context() as mp:
        _no_error_inputs(mp)
        cpu = oracle.run(_ops(), max_samples=1)  # one sample per op and dtype: the device switch is per op
        _other_device_current(mp)
        second = oracle.run(_ops(), max_samples=1, device="cuda:1")
    lost = []
    for key, r in cpu["ops"].items():
        got = second["ops"][key]["counts"]["pass"]
        if got < r["counts"]["pass"]:
            lost.append(f"{key}: {got} < {r['counts']['pass']}; {second['ops'][key]['reasons']}")
    assert not lost, "ops that do not make their tensors' device current:\n" + "\n".join(lost)
