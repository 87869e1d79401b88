"""The argument checks of issue 14 (item 1), each against torch 2.13 on the same call: the exception type, and
torch's words or the op's name (tests/test_fuzz_ops.py fuzzes the same ground; these are its named defects)."""

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn.functional as F
import torch.nn.functional as TF


def _both(call):
    """(torch's exception, fastnn's exception) from ``call(lib, functional)``; each must raise."""
    raised = []
    for lib, fn in ((torch, TF), (fastnn, F)):
        with pytest.raises(Exception) as info:
            call(lib, fn)
        raised.append(info.value)
    return raised


CASES = {
    "index_select negative index": lambda t, f: t.index_select(t.ones(3, 4), 1, t.tensor([-2])),
    "index_select int index": lambda t, f: t.index_select(t.ones(3, 4), 1, -2),
    "index_select None index": lambda t, f: t.index_select(t.ones(3, 4), 1, None),
    "index_select float index": lambda t, f: t.index_select(t.ones(3, 4), 1, t.tensor([1.0])),
    "cross_entropy float ignore_index": lambda t, f: f.cross_entropy(t.ones(3, 4), t.tensor([0, 1, 2]),
                                                                     ignore_index=1.5),
    "nll_loss bool ignore_index": lambda t, f: f.nll_loss(t.ones(3, 4), t.tensor([0, 1, 2]), ignore_index=True),
    "one_hot float num_classes": lambda t, f: f.one_hot(t.tensor([0, 1]), 1.5),
    "max_pool2d 2**62 kernel": lambda t, f: f.max_pool2d(t.ones(1, 3, 8, 8), 2 ** 62),
    "max_pool2d float kernel": lambda t, f: f.max_pool2d(t.ones(1, 3, 8, 8), 2.5),
    "conv2d float groups": lambda t, f: f.conv2d(t.ones(1, 4, 5, 5), t.ones(4, 4, 3, 3), groups=1.5),
    "conv2d float stride": lambda t, f: f.conv2d(t.ones(1, 4, 5, 5), t.ones(4, 4, 3, 3), stride=1.5),
    "group_norm float groups": lambda t, f: f.group_norm(t.ones(2, 4, 3), 1.5),
    "dropout str training": lambda t, f: f.dropout(t.ones(3), training="yes"),
    "sum int keepdim": lambda t, f: t.sum(t.ones(2, 3), 1, keepdim=2),
    "mean 0-d dim 1": lambda t, f: t.mean(t.ones(()), 1),
    "zeros no size": lambda t, f: t.zeros(),
    "zeros negative size": lambda t, f: t.zeros(-2, 1),
    "ones overflowing size": lambda t, f: t.ones(2 ** 62),
    "full beyond float32": lambda t, f: t.full((2,), 1e308),
    "clamp beyond float32": lambda t, f: t.clamp(t.ones(2), max=1e308),
    "reshape -2": lambda t, f: t.ones(4).reshape(-2, 2),
    "matmul batch": lambda t, f: t.matmul(t.ones(5, 2, 3), t.ones(5, 4, 2)),
    "matmul dot dtypes": lambda t, f: t.matmul(t.ones(3), t.ones(3, dtype=t.float64)),
    "relu bool": lambda t, f: t.relu(t.ones(2, dtype=t.bool)),
    "take int32 index": lambda t, f: t.take(t.ones(3), t.tensor([0], dtype=t.int32)),
    "masked_fill int mask": lambda t, f: t.ones(2).masked_fill(t.ones(2, dtype=t.int64), 1.0),
    "add float alpha on ints": lambda t, f: t.add(t.ones(2, dtype=t.int64), 1, alpha=2.5),
    "pad negative result": lambda t, f: f.pad(t.ones(1, 4), (-3, -3)),
    "interpolate infinite scale": lambda t, f: f.interpolate(t.ones(1, 2, 4, 4), scale_factor=float("inf"),
                                                             mode="bilinear"),
    "adam negative lr": lambda t, f: t.optim.Adam([t.nn.Parameter(t.ones(2))], lr=-1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_like_torch(name):
    theirs, ours = _both(CASES[name])
    assert type(ours).__name__ == type(theirs).__name__, (name, repr(theirs), repr(ours))
    op = name.split()[0]
    words = str(theirs).splitlines()[0][:40]
    assert op in str(ours) or words in str(ours), (name, repr(theirs), repr(ours))


@pytest.mark.parametrize("call", [
    lambda: fastnn.relu(np.ones(3)), lambda: fastnn.sum([1.0, 2.0]),
    lambda: F.linear(np.ones((2, 3)), fastnn.ones(4, 3)), lambda: F.gelu(np.ones(3)),
    lambda: fastnn.cumsum(np.ones(3), 0), lambda: fastnn.exp(np.ones(2)),
    lambda: fastnn.tril(np.ones((2, 2))), lambda: F.softmax(np.ones(3), 0),
], ids=["relu", "sum", "linear", "gelu", "cumsum", "exp", "tril", "softmax"])
def test_non_tensor_input_is_torchs_type_error(call):
    """A NumPy array or list where the Tensor goes: torch's "argument 'input' (position 1) must be Tensor"
    (it used to be AttributeError: 'numpy.ndarray' object has no attribute '_data', naming no op)."""
    must = r"\(\): argument 'input' \(position 1\) must be Tensor, not (numpy\.ndarray|list)"
    with pytest.raises(TypeError, match=must):
        call()


@pytest.mark.parametrize("name, kw", [("SGD", {"lr": 1e308}), ("Adagrad", {"lr": 1e308}),
                                      ("RMSprop", {"weight_decay": 1e308}), ("SGD", {"lr": 0.1, "weight_decay": True}),
                                      ("Adam", {"lr": 1e308})])
def test_optimizer_scalars_beyond_float32_as_torch(name, kw):
    """Where torch's float32 step raises on an out-of-range scalar, fastnn does; where torch computes (Adam's
    lr enters a tensor product), fastnn computes the same values."""
    results = []
    for lib in (torch, fastnn):
        p = lib.nn.Parameter(lib.ones(3))
        opt = getattr(lib.optim, name)([p], **kw)
        p.grad = lib.ones(3)
        try:
            opt.step()
            results.append(np.asarray(p.detach().numpy()))
        except RuntimeError as e:
            results.append(str(e))
    if isinstance(results[0], str):
        assert results[1] == results[0]
    else:
        np.testing.assert_array_equal(results[1], results[0])


def test_device_mismatch_is_torchs_runtime_error():
    if not fastnn.cuda.is_available():
        pytest.skip("no CUDA device (FASTNN_CUDA=off)")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        fastnn.index_select(fastnn.ones(3, device="cuda"), 0, fastnn.tensor([0]))
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        F.linear(fastnn.ones(2, 2, device="cuda"), fastnn.ones(2, 2))
