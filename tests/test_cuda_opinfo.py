"""PyTorch's OpInfo samples on the CUDA device: the oracle (tests/opinfo_oracle.py) run twice on a few samples
per op, once with the inputs on the CPU and once with them moved to CUDA (results and gradients brought back
to the host for the comparison with torch). Every sample that passes on the CPU must pass on CUDA: an op that
calls NumPy on a device array, round-trips through the host or mixes devices fails here.

A third run, on the emulator with two devices, puts the inputs on cuda:1 and makes cuda:0 CuPy's current
device before each op and each backward: the emulator then enforces CuPy's rule (operations on the current
device's arrays only), so an op that never makes its tensors' device current fails there.

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


def _host(f):
    if isinstance(f, fastnn.Tensor):
        return f.detach().cpu() if f.is_cuda else f
    if isinstance(f, list):
        return [_host(v) for v in f]
    if isinstance(f, tuple):
        return tuple(_host(v) for v in f)
    return f


# Ops whose code does not make their tensors' device CuPy's current one yet (several devices only).
NOT_SWITCHING: set = set()


def _on_cuda(mp, device="cuda", other_current=False):
    """Patches the oracle so fastnn's inputs (and backward cotangents) live on ``device`` and its outputs and
    gradients come back to the host before torch's are compared with them; ``other_current``: cuda:0 is made
    the emulator's current device before each op and each backward."""
    from fastnn.backend.cuda import emulated

    be = fastnn.backend.get_backend(device)
    convert = oracle.Converter.__call__

    def away():
        if other_current:
            emulated._CURRENT[0] = 0

    def call(self, x):
        if isinstance(x, self.torch.Tensor) and id(x) not in self.pairs:
            ft = convert(self, x)
            moved = fastnn.Tensor._wrap(be.from_host(ft._data))
            if ft.requires_grad:
                moved.requires_grad_(True)
            self.pairs[id(x)] = (x, moved)
            return moved
        return convert(self, x)

    compare, ties, grad, resolve = oracle._compare, oracle._same_up_to_ties, fastnn.autograd.grad, oracle.resolve

    def grad_on_cuda(outputs, inputs, grad_outputs=None, **kw):
        if grad_outputs is not None:
            grad_outputs = [fastnn.Tensor._wrap(be.from_host(g._data)) if isinstance(g, fastnn.Tensor)
                            and not g.is_cuda else g for g in grad_outputs]
        away()
        return _host(tuple(grad(outputs, inputs, grad_outputs, **kw)))

    def resolve_away(op):
        fn, how = resolve(op)
        if fn is None or not other_current:
            return fn, how

        def call(*args, **kwargs):
            away()
            return fn(*args, **kwargs)

        return call, how

    mp.setattr(oracle.Converter, "__call__", call)
    mp.setattr(oracle, "_compare", lambda t, f, tol, torch, fn, where="output": compare(t, _host(f), tol, torch, fn,
                                                                                         where))
    mp.setattr(oracle, "_same_up_to_ties", lambda key, s, t_out, f_out, torch: ties(key, s, t_out, _host(f_out),
                                                                                     torch))
    mp.setattr(fastnn.autograd, "grad", grad_on_cuda)
    mp.setattr(oracle, "resolve", resolve_away)


def _no_error_inputs(mp):
    mp.setattr(oracle, "run_error_inputs", lambda *a: {"counts": dict.fromkeys(oracle.ERROR_CLASSES, 0),
                                                       "reasons": {}})


def _ops():
    return OPS + [oracle.op_key(op) for op in oracle.load_op_db() if op.name.startswith("nn.functional.")]


@pytest.fixture(scope="module")
def reports():
    with pytest.MonkeyPatch.context() as mp:
        _no_error_inputs(mp)
        cpu = oracle.run(_ops(), max_samples=SAMPLES)
        _on_cuda(mp)
        cuda = oracle.run(_ops(), max_samples=SAMPLES)
    return cpu, cuda


def test_every_sample_passing_on_the_cpu_passes_on_cuda(reports):
    cpu, cuda = reports
    lost = []
    for key, r in cpu["ops"].items():
        got = cuda["ops"][key]["counts"]["pass"]
        if got < r["counts"]["pass"]:
            lost.append(f"{key}: {got} < {r['counts']['pass']} on the CPU; {cuda['ops'][key]['reasons']}")
    assert not lost, "ops that fail on CUDA:\n" + "\n".join(lost)
    assert cuda["totals"]["pass"] >= 500, cuda["totals"]


@pytest.mark.skipif(not fastnn.backend.cuda.runtime.emulated(), reason="the emulator's current-device rule")
def test_ops_on_the_second_device_make_it_current(cuda_mode):
    cuda_mode("emulate:2")
    with pytest.MonkeyPatch.context() as mp:
        _no_error_inputs(mp)
        cpu = oracle.run(_ops(), max_samples=1)  # one sample per op and dtype: the device switch is per op
        _on_cuda(mp, "cuda:1", other_current=True)
        second = oracle.run(_ops(), max_samples=1)
    lost = []
    for key, r in cpu["ops"].items():
        got = second["ops"][key]["counts"]["pass"]
        if got < r["counts"]["pass"] and key.partition(".")[0] not in NOT_SWITCHING and key not in NOT_SWITCHING:
            lost.append(f"{key}: {got} < {r['counts']['pass']}; {second['ops'][key]['reasons']}")
    assert not lost, "ops that do not make their tensors' device current:\n" + "\n".join(lost)
