"""The CUDA backend's nn kernels (backend/cuda/nn.py on csrc/cuda/softmax.cu and layernorm.cu) against the
composite ones on the same device arrays (CI: the emulated device), and the ops that use them on CUDA
against the CPU through the public API."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from cuda_backend_helpers import cuda_backend_with, composite as _composite, spy_on

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]

NN = ("softmax_last", "softmax_last_backward", "cross_entropy_rows", "cross_entropy_rows_backward",
      "layer_norm_rows", "layer_norm_rows_backward")


@pytest.fixture
def be():
    return cuda_backend_with(*NN)


def _close(be, got, want, rtol=1e-5, atol=1e-6):
    got, want = be.to_host(got), be.to_host(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.fixture
def spy(be, monkeypatch):
    return spy_on(be, monkeypatch)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 40), (4, 1100), (1, 1), (0, 3)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_the_composite(be, spy, shape, log):
    rng = np.random.default_rng(sum(shape))
    x = be.asarray((rng.standard_normal(shape) * 3).astype(np.float32))
    y = be.softmax_last(x, log)
    _close(be, y, _composite(be, "softmax_last", x, log))
    g = be.asarray(rng.standard_normal(shape).astype(np.float32))
    _close(be, be.softmax_last_backward(y, g, log), _composite(be, "softmax_last_backward", y, g, log), atol=1e-5)
    if np.prod(shape):
        assert spy.calls == ["softmax_last_f32", "softmax_last_backward_f32"]


def test_softmax_of_a_strided_view(be):
    x = be.asarray(np.random.default_rng(1).standard_normal((6, 8)).astype(np.float32)).T  # not C-contiguous
    _close(be, be.softmax_last(x, True), _composite(be, "softmax_last", x, True))


@pytest.mark.parametrize("n, c, ignore_index, smoothing, with_rows", [
    (6, 5, -100, 0.0, False), (9, 40, 3, 0.1, True), (3, 1100, -100, 0.3, True), (0, 4, -100, 0.0, False)])
def test_cross_entropy_matches_the_composite(be, spy, n, c, ignore_index, smoothing, with_rows):
    rng = np.random.default_rng(n + c)
    logits = be.asarray((rng.standard_normal((n, c)) * 2).astype(np.float32))
    tgt_host = rng.integers(0, c, n).astype(np.int64)
    tgt_host[::4] = ignore_index
    tgt = be.asarray(tgt_host)
    loss, lse = be.cross_entropy_rows(logits, tgt, ignore_index, smoothing)
    want_loss, want_lse = _composite(be, "cross_entropy_rows", logits, tgt, ignore_index, smoothing)
    _close(be, loss, want_loss)
    _close(be, lse, want_lse)
    grad_rows = be.asarray(rng.standard_normal(n)) if with_rows else None  # float64: rounded to float32 first
    dx = be.cross_entropy_rows_backward(logits, tgt, lse, grad_rows, 0.25, ignore_index, smoothing)
    _close(be, dx, _composite(be, "cross_entropy_rows_backward", logits, tgt, want_lse, grad_rows, 0.25,
                              ignore_index, smoothing), atol=1e-7)
    if n:
        assert spy.calls == ["cross_entropy_rows_f32", "cross_entropy_rows_backward_f32"]


def test_a_target_out_of_range_raises_the_composites_error(be):
    logits = be.asarray(np.zeros((4, 3), np.float32))
    tgt = be.asarray(np.array([0, -100, 3, -1], np.int64))
    lse = be.asarray(np.zeros(4, np.float32))
    for name, args in (("cross_entropy_rows", (logits, tgt, -100, 0.0)),
                       ("cross_entropy_rows_backward", (logits, tgt, lse, None, 1.0, -100, 0.0))):
        with pytest.raises(IndexError) as mine:
            getattr(be, name)(*args)
        with pytest.raises(IndexError) as theirs:
            _composite(be, name, *args)
        assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("rows, cols, affine", [(5, 33, True), (7, 8, False), (1, 1, True), (0, 4, True),
                                                (40, 70, True)])
def test_layer_norm_matches_the_composite(be, spy, rows, cols, affine):
    rng = np.random.default_rng(rows + cols)
    x = be.asarray((rng.standard_normal((rows, cols)) * 2 + 3).astype(np.float32))
    w = be.asarray(rng.standard_normal(cols).astype(np.float32)) if affine else None
    b = be.asarray(rng.standard_normal(cols).astype(np.float32)) if affine else None
    y, mean, rstd = be.layer_norm_rows(x, w, b, 1e-5)
    for got, want in zip((y, mean, rstd), _composite(be, "layer_norm_rows", x, w, b, 1e-5)):
        _close(be, got, want, atol=1e-5)
    g = be.asarray(rng.standard_normal((rows, cols)).astype(np.float32))
    for need in ((True, True, True), (False, True, False), (True, False, False)):
        got = be.layer_norm_rows_backward(x, g, mean, rstd, w, *need)
        want = _composite(be, "layer_norm_rows_backward", x, g, mean, rstd, w, *need)
        for a, c in zip(got, want):
            assert (a is None) == (c is None)
            if a is not None:
                _close(be, a, c, rtol=1e-4, atol=1e-4)
    assert spy.calls[0] == "layer_norm_rows_f32" and "layer_norm_rows_backward_f32" in spy.calls


class _NoKernels:
    def __getattr__(self, name):
        raise AssertionError(f"the native kernel {name} was called")


def test_other_dtypes_and_arguments_go_to_the_composite(be, monkeypatch):
    rng = np.random.default_rng(2)
    x64 = be.asarray(rng.standard_normal((3, 4)))
    x32 = be.asarray(rng.standard_normal((3, 4)).astype(np.float32))
    tgt = be.asarray(np.array([0, 1, 2], np.int64))
    want = [_composite(be, "softmax_last", x64, False), _composite(be, "cross_entropy_rows", x64, tgt, -100, 0.0),
            _composite(be, "layer_norm_rows", x64, None, None, 1e-5),
            _composite(be, "layer_norm_rows", be.asarray(np.ones((2, 0), np.float32)), None, None, 1e-5)]
    monkeypatch.setattr(be, "native", _NoKernels())
    _close(be, be.softmax_last(x64, False), want[0])
    for a, c in zip(be.cross_entropy_rows(x64, tgt, -100, 0.0), want[1]):
        _close(be, a, c)
    for a, c in zip(be.layer_norm_rows(x64, None, None, 1e-5), want[2]):
        _close(be, a, c)
    for a, c in zip(be.layer_norm_rows(be.asarray(np.ones((2, 0), np.float32)), None, None, 1e-5), want[3]):
        np.testing.assert_array_equal(be.to_host(a), be.to_host(c))  # rows of no columns: NaN statistics
    bad = [("softmax_last_backward", (x32, be.asarray(np.ones((3, 5), np.float32)), False)),
           ("cross_entropy_rows", (x32, tgt, -100, 1.5)),
           ("cross_entropy_rows", (x32, be.asarray(np.array([0, 1, 2], np.int32)), -100, 0.0)),
           ("layer_norm_rows", (x32, be.asarray(np.ones(5, np.float32)), None, 1e-5)),
           ("layer_norm_rows", (x32, None, None, -1.0))]
    for name, args in bad:
        with pytest.raises((TypeError, ValueError)) as mine:
            getattr(be, name)(*args)
        with pytest.raises((TypeError, ValueError)) as theirs:
            _composite(be, name, *args)
        assert (type(mine.value), str(mine.value)) == (type(theirs.value), str(theirs.value))


@pytest.mark.parametrize("ignore_index, smoothing", [(-100, 0.0), (1, 0.2)])
def test_cross_entropy_and_log_softmax_on_cuda_match_the_cpu(ignore_index, smoothing):
    rng = np.random.default_rng(9)
    host_x = (rng.standard_normal((8, 13)) * 2).astype(np.float32)
    host_t = rng.integers(0, 13, 8).astype(np.int64)
    host_t[2] = ignore_index
    results = []
    for device in ("cpu", "cuda"):
        x = fastnn.tensor(host_x, device=device, requires_grad=True)
        t = fastnn.tensor(host_t, device=device)
        loss = F.cross_entropy(x, t, ignore_index=ignore_index, label_smoothing=smoothing)
        (loss + (F.log_softmax(x, dim=-1) * F.softmax(x, dim=-1)).sum()).backward()
        results.append([loss.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_layer_norm_on_cuda_matches_the_cpu():
    rng = np.random.default_rng(10)
    host = [rng.standard_normal(s).astype(np.float32) for s in ((4, 6, 10), (10,), (10,))]
    results = []
    for device in ("cpu", "cuda"):
        x, w, b = (fastnn.tensor(a, device=device, requires_grad=True) for a in host)
        y = F.layer_norm(x, (10,), w, b, 1e-5)
        (y * y).sum().backward()
        results.append([y.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in (x, w, b)])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
