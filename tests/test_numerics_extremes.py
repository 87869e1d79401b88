"""Softmax-family ops, losses, layer norm, pooling and the fused ReLU epilogue at numerical extremes, against
torch 2.13 on the same float32 inputs: logits of +-1e4, +-1e6, +-1e7, float32's max, rows holding +-inf or
NaN, all-equal rows. Values must agree where both are finite, and NaN / +inf / -inf must sit at the same
places, forward and gradient. Run on the CPU backend (the native kernels; ``FASTNN_BACKEND=composite`` runs
the composite ones), the CPU kernels at every ISA level and the composite kernels directly, and the
emulated CUDA device."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn.functional as F
from fastnn import _C
from fastnn.backend import get_backend
from fastnn.backend.composite import CompositeBackend

M = float(np.finfo(np.float32).max)
INF, NAN = float("inf"), float("nan")
ISAS = list(_C.isa_levels())
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not fastnn.cuda.is_available(), reason="no CUDA device")])]


def _rows() -> np.ndarray:
    """One row per extreme case, 5 columns (an odd width: every kernel's vector tail runs too)."""
    rng = np.random.default_rng(14)
    noise = rng.standard_normal(5) * 3
    rows = [noise + c for c in (1e4, -1e4, 1e6, -1e6, 1e7, -1e7)]
    rows += [noise * 1e6 + 3e7, [M] * 5, [-M] * 5, [M, -M, 0, 1, -1], [M, M, -M, 0, 2],
             [INF, 0, 1, 2, 3], [-INF, 0, 1, 2, 3], [-INF] * 5, [INF] * 5, [INF, -INF, 0, 1, 2],
             [NAN, 0, 1, 2, 3], [7.0] * 5, [0.0] * 5, [1e-38, -1e-38, 0, 1e-45, 3]]
    return np.asarray(rows, np.float32)


ROWS = _rows()
# Rows whose logits are all finite (the losses' gradients are compared there: an inf logit makes torch's
# own gradient NaN in ways that depend on its op order, which no implementation can be held to).
FINITE = np.isfinite(ROWS).all(axis=1)


def _check(ours, theirs, what, rtol=2e-5, atol=1e-6):
    """Same NaN / +inf / -inf positions; finite values within rtol (of each value) + atol (of the row's
    largest finite value: a loss of 1e7 - 1e7 + log 5 keeps only float32's absolute precision)."""
    ours = np.asarray(ours, np.float64)
    theirs = np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, what
    for name, test in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = test(ours) != test(theirs)
        assert not bad.any(), f"{what}: {name} at different places, first at {np.argwhere(bad)[0].tolist()}: " \
                              f"ours {ours[bad][:4]}, torch {theirs[bad][:4]}"
    fin = np.isfinite(theirs)
    np.testing.assert_allclose(ours[fin], theirs[fin], rtol=rtol, atol=atol, err_msg=what)


def _pair(data, device, grad=True):
    return (fastnn.tensor(data, device=device, requires_grad=grad),
            torch.tensor(data, requires_grad=grad))


def _host(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().to("cpu").numpy()


def _run(f_ours, f_torch, data, device, what, rows=None, grad_rows=None, **tol):
    """Forward of both on ``data``, then the backward of a fixed random output gradient w (the gradient of
    sum(out * w), without forming out * w, which overflows at these values)."""
    x, xt = _pair(data, device)
    y, yt = f_ours(x), f_torch(xt)
    sel = slice(None) if rows is None else rows
    _check(_host(y)[sel], _host(yt)[sel], f"{what} forward", **tol)
    w = np.random.default_rng(1).uniform(0.5, 1.5, tuple(yt.shape)).astype(np.float32)
    y.backward(fastnn.tensor(w, device=device))
    yt.backward(torch.tensor(w))
    sel = sel if grad_rows is None else grad_rows
    _check(_host(x.grad)[sel], xt.grad.numpy()[sel], f"{what} gradient", **tol)


# ---- softmax family ------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family(device, name):
    if name == "logsumexp":
        f, ft = (lambda x: x.logsumexp(-1)), (lambda x: x.logsumexp(-1))
    else:
        f, ft = (lambda x: getattr(F, name)(x, dim=-1)), (lambda x: getattr(torch.nn.functional, name)(x, dim=-1))
    _run(f, ft, ROWS, device, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy(device, smoothing, weighted):
    n, c = ROWS.shape
    target = np.arange(n) % c
    target[3] = -100  # an ignored row
    weight = np.linspace(0.5, 2.0, c).astype(np.float32) if weighted else None
    kw = dict(reduction="none", label_smoothing=smoothing, ignore_index=-100)

    def ours(x):
        w = None if weight is None else fastnn.tensor(weight, device=device)
        return F.cross_entropy(x, fastnn.tensor(target, device=device), weight=w, **kw)

    def theirs(x):
        w = None if weight is None else torch.tensor(weight)
        return torch.nn.functional.cross_entropy(x, torch.tensor(target), weight=w, **kw)

    # The weighted smoothing sum is a GEMM (m - x) @ w: its rounding is the GEMM's, not torch's sum's.
    tol = dict(rtol=1e-4, atol=1e-5) if weighted and smoothing else {}
    _run(ours, theirs, ROWS, device, f"cross_entropy(ls={smoothing}, weighted={weighted})",
         grad_rows=FINITE, **tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("value", [M, -M, 1e7, -1e7])
def test_cross_entropy_all_equal_rows_is_log_c(device, value):
    """The defect of issue 14: all logits at +-3.4e38 gave 0 instead of log 3."""
    x = fastnn.tensor(np.full((2, 3), value, np.float32), device=device, requires_grad=True)
    loss = F.cross_entropy(x, fastnn.tensor(np.array([0, 2]), device=device))
    np.testing.assert_allclose(float(loss.item()), np.log(3.0), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(_host(x.grad), [[-1 / 3, 1 / 6, 1 / 6], [1 / 6, 1 / 6, -1 / 3]], rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scale", [1e4, 1e6, 1e7])
def test_cross_entropy_gradient_at_large_logits(device, scale):
    """The other defect: the gradient was 5-30% off at logits of 1e6-1e7 (a float32 logsumexp there has an
    ulp of 0.06-1, and exp(x - lse) inherits it)."""
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((8, 5)) * 3 + scale).astype(np.float32)
    target = rng.integers(0, 5, 8)
    x, xt = _pair(data, device)
    F.cross_entropy(x, fastnn.tensor(target, device=device)).backward()
    torch.nn.functional.cross_entropy(xt, torch.tensor(target)).backward()
    np.testing.assert_allclose(_host(x.grad), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---- element-wise --------------------------------------------------------------------------------------

VALUES = np.concatenate([ROWS.reshape(-1), np.asarray([1e4, -1e4, 88.0, -88.0, 89.0, -104.0, 20.0, 20.5, 1e-8,
                                                       -1e-8, 30.0, -30.0, 50.0, -50.0], np.float32)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["sigmoid", "logsigmoid", "softplus", "softplus_beta"])
def test_elementwise(device, name):
    if name == "sigmoid":
        f, ft = fastnn.sigmoid, torch.sigmoid
    elif name == "logsigmoid":
        f, ft = F.logsigmoid, torch.nn.functional.logsigmoid
    elif name == "softplus":
        f, ft = F.softplus, torch.nn.functional.softplus
    else:
        f, ft = (lambda x: F.softplus(x, beta=2.0, threshold=10.0),
                 lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=10.0))
    _run(f, ft, VALUES, device, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits(device, pos_weight):
    finite = VALUES[np.isfinite(VALUES)]
    data = np.concatenate([finite, finite])
    y = np.concatenate([np.zeros_like(finite), np.ones_like(finite)])
    y[::3] = 0.25
    pw = np.full(data.shape, 3.0, np.float32) if pos_weight else None

    def ours(x):
        p = None if pw is None else fastnn.tensor(pw, device=device)
        return F.binary_cross_entropy_with_logits(x, fastnn.tensor(y, device=device), reduction="none",
                                                  pos_weight=p)

    def theirs(x):
        p = None if pw is None else torch.tensor(pw)
        return torch.nn.functional.binary_cross_entropy_with_logits(x, torch.tensor(y), reduction="none",
                                                                    pos_weight=p)

    _run(ours, theirs, data, device, f"bce_with_logits(pos_weight={pos_weight})")


# ---- layer norm ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cols", [1, 4, 17, 64])
@pytest.mark.parametrize("value", [M, -M, 1e38, 1e30])
def test_layer_norm_constant_huge_row_is_zero(device, cols, value):
    """A constant row normalises to 0 (plus bias) at any magnitude. torch 2.13's CPU kernel agrees at 17 and
    100 columns and gives NaN at 4, 64, 1024 (its vectorised moments overflow), so the reference here is the
    exact answer, and torch where it is finite."""
    data = np.full((3, cols), value, np.float32)
    data[1] = np.linspace(-1, 1, cols)  # an ordinary row beside them
    bias = np.full(cols, 0.5, np.float32)
    x = fastnn.tensor(data, device=device, requires_grad=True)
    y = F.layer_norm(x, (cols,), bias=fastnn.tensor(bias, device=device))
    got = _host(y)
    np.testing.assert_array_equal(got[[0, 2]], np.full((2, cols), 0.5, np.float32))
    yt = torch.nn.functional.layer_norm(torch.tensor(data), (cols,), bias=torch.tensor(bias))
    fin = np.isfinite(yt.numpy())
    np.testing.assert_allclose(got[fin], yt.numpy()[fin], rtol=1e-5, atol=1e-5)
    y.sum().backward()
    assert np.isfinite(_host(x.grad)).all()


@pytest.mark.parametrize("device", DEVICES)
def test_layer_norm_rows(device):
    """Every extreme row where torch's result is finite: at least as close as torch's to the exact layer norm
    of the float32 inputs (at |mean| >> std both carry float32's rounding of the mean: 1-7% at 1e7 + N(0, 9));
    rows holding inf or NaN are NaN in both. Gradients beside torch's on the well-conditioned rows."""
    x64 = ROWS.astype(np.float64)
    with np.errstate(all="ignore"):
        m = x64.mean(axis=1, keepdims=True)
        exact = (x64 - m) / np.sqrt(((x64 - m) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    xt = torch.tensor(ROWS, requires_grad=True)
    yt = torch.nn.functional.layer_norm(xt, (5,))
    x = fastnn.tensor(ROWS, device=device, requires_grad=True)
    y = F.layer_norm(x, (5,))
    ours, theirs = _host(y), yt.detach().numpy()
    torch_ok = np.isfinite(theirs).all(axis=1)
    assert np.isnan(ours[~FINITE]).all() and np.isnan(theirs[~FINITE]).all()
    err_ours, err_torch = np.abs(ours - exact)[torch_ok], np.abs(theirs - exact)[torch_ok]
    assert (err_ours <= 2 * err_torch + 1e-5).all(), (err_ours.max(axis=1), err_torch.max(axis=1))
    g = np.random.default_rng(1).uniform(0.5, 1.5, ROWS.shape).astype(np.float32)
    y.backward(fastnn.tensor(g, device=device))
    yt.backward(torch.tensor(g))
    with np.errstate(all="ignore"):
        spread = np.abs(x64 - m).max(axis=1)
        well = torch_ok & (np.abs(m[:, 0]) < 1e3 * np.maximum(spread, 1e-30))
    _check(_host(x.grad)[well], xt.grad.numpy()[well], "layer_norm gradient", rtol=1e-4, atol=1e-5)


# ---- pooling -------------------------------------------------------------------------------------------

def _planes():
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 6)).astype(np.float32)
    x[0, 0, 2, 2] = -INF
    x[0, 1, 1, 4] = INF
    x[0, 2, 3, 3] = NAN
    x[1, 0, 0, 0] = M
    x[1, 0, 0, 1] = M
    x[1, 1, :, :] = -INF
    x[1, 2, 5, 5] = NAN
    x[1, 2, 4, 4] = INF
    return x


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [3, 4, (5, 2), 1, 6])
def test_adaptive_avg_pool2d(device, size):
    _run(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size),
         _planes(), device, f"adaptive_avg_pool2d({size})")


def test_adaptive_avg_pool2d_gradient_of_inf():
    """An inf output gradient spreads over its window only (the GEMM form made NaN everywhere)."""
    x, xt = _pair(np.zeros((1, 1, 5, 5), np.float32), "cpu")
    g = np.ones((1, 1, 3, 3), np.float32)
    g[0, 0, 0, 0] = INF
    F.adaptive_avg_pool2d(x, 3).backward(fastnn.tensor(g))
    torch.nn.functional.adaptive_avg_pool2d(xt, 3).backward(torch.tensor(g))
    _check(_host(x.grad), xt.grad.numpy(), "adaptive_avg_pool2d backward of inf")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("geometry", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                      dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=2, dilation=2)])
def test_max_pool2d_propagates_nan(device, geometry):
    _run(lambda x: F.max_pool2d(x, **geometry), lambda x: torch.nn.functional.max_pool2d(x, **geometry),
         _planes(), device, f"max_pool2d({geometry})")


@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool2d(device):
    _run(lambda x: F.avg_pool2d(x, 2), lambda x: torch.nn.functional.avg_pool2d(x, 2), _planes(), device,
         "avg_pool2d")


# ---- the fused ReLU epilogue ---------------------------------------------------------------------------

def _linear_inputs(rows=37, cols=19, out=53):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    x[3 % rows, 4 % cols] = NAN  # a NaN row
    x[10 % rows, :] = -INF  # -inf times weights of both signs: NaN (a lone inf gives +-inf here, and NaN in
    # torch's BLAS, whose packed tiles multiply it by padding zeros: not a result to match)
    return x, rng.standard_normal((out, cols)).astype(np.float32), rng.standard_normal(out).astype(np.float32)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(37, 19, 53), (64, 32, 48), (1, 3, 2)])
def test_linear_relu_keeps_nan(device, shape):
    """relu(NaN) = NaN in torch; the fused epilogue's `x > 0 ? x : 0` made it 0 (full tiles and edge tiles)."""
    x, w, b = _linear_inputs(*shape)
    xt, yt = fastnn.tensor(x, device=device), torch.relu(torch.nn.functional.linear(*map(torch.tensor, (x, w, b))))
    y = fastnn.ops.linear(xt, fastnn.tensor(w, device=device), fastnn.tensor(b, device=device), activation="relu")
    _check(_host(y), yt.numpy(), "linear relu", rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("epilogue", ["relu", "none", "gelu"])
def test_linear_kernel_epilogues_keep_nan(epilogue):
    """The CPU GEMM at every ISA level and the composite kernel: NaN in, NaN out, for each epilogue."""
    x, w, b = _linear_inputs(64, 32, 48)
    ref = torch.nn.functional.linear(*map(torch.tensor, (x, w, b)))
    ref = {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "none": lambda v: v}[epilogue](ref).numpy()
    for isa in ISAS:
        _check(_C.linear(x, w, b, epilogue, isa=isa), ref, f"_C.linear {epilogue} {isa}", rtol=1e-4, atol=1e-4)
    comp = CompositeBackend(fastnn.device("cpu"))
    _check(comp.linear(x, w, b, epilogue), ref, f"composite linear {epilogue}", rtol=1e-4, atol=1e-4)


def test_keras_dense_relu_keeps_nan():
    from fastnn import keras
    layer = keras.layers.Dense(4, activation="relu")
    x = np.ones((2, 3), np.float32)
    x[1, 0] = NAN
    y = np.asarray(layer(x))
    assert np.isnan(y[1]).all() and not np.isnan(y[0]).any()


# ---- the kernels directly: each CPU ISA level and the composite reference --------------------------------

@pytest.mark.parametrize("isa", ISAS + ["composite"])
def test_kernels_at_extremes(isa):
    comp = CompositeBackend(fastnn.device("cpu"))
    n, c = ROWS.shape
    target = np.arange(n, dtype=np.int64) % c
    xt = torch.tensor(ROWS, requires_grad=True)
    for log in (False, True):
        got = comp.softmax_last(ROWS, log) if isa == "composite" else _C.softmax_forward(ROWS, log, isa=isa)
        ref = (torch.log_softmax if log else torch.softmax)(torch.tensor(ROWS), -1).numpy()
        _check(got, ref, f"softmax(log={log}) {isa}")
    for ls in (0.0, 0.2):
        if isa == "composite":
            loss, lse = comp.cross_entropy_rows(ROWS, target, -100, ls)
            g = comp.cross_entropy_rows_backward(ROWS, target, lse, None, 1.0, -100, ls)
        else:
            loss, lse = _C.cross_entropy_forward(ROWS, target, -100, ls, isa=isa)
            g = _C.cross_entropy_backward(ROWS, target, lse, None, 1.0, -100, ls, isa=isa)
        xt.grad = None
        ref = torch.nn.functional.cross_entropy(xt, torch.tensor(target), reduction="none", label_smoothing=ls)
        ref.sum().backward()
        _check(loss, ref.detach().numpy(), f"cross_entropy(ls={ls}) {isa}")
        _check(g[FINITE], xt.grad.numpy()[FINITE], f"cross_entropy gradient(ls={ls}) {isa}")
    data = np.full((2, 7), M, np.float32)
    y, mean, rstd = (comp.layer_norm_rows(data, None, None, 1e-5) if isa == "composite"
                     else _C.layer_norm_forward(data, None, None, 1e-5, isa=isa))
    np.testing.assert_array_equal(y, 0)
    np.testing.assert_array_equal(mean, M)


def test_cuda_layer_norm_kernel_constant_huge_row():
    """The CUDA kernel itself (not the composite fallback) on a row of 3.4e38."""
    if not fastnn.cuda.is_available():
        pytest.skip("no CUDA device")
    be = get_backend("cuda")
    if "layer_norm_rows" not in be.native_kernels():
        pytest.skip("the CUDA device has no kernel module")
    x = be.from_host(np.full((3, 40), M, np.float32))
    y, mean, _ = be.layer_norm_rows(x, None, None, 1e-5)
    np.testing.assert_array_equal(be.to_host(y), 0)
    np.testing.assert_allclose(be.to_host(mean), M, rtol=2e-7)  # the rescued mean: within an ulp


# ---- attention -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_attention_propagates_nan_as_torch_math(device):
    """A NaN query makes its row NaN, as torch's math backend (the reference semantics) gives; torch's CPU
    flash kernel returns zeros there, which its math backend and CUDA kernels do not."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 2, n, 8)).astype(np.float32) for n in (4, 5, 5))
    q[0, 0, 1, 3] = NAN
    k[0, 1, 2, 0] = -INF  # one key's score -inf (or NaN against a zero): its row follows torch too
    mask = np.ones((4, 5), bool)
    mask[2, :3] = False
    for m in (None, mask):
        got = F.scaled_dot_product_attention(*(fastnn.tensor(a, device=device) for a in (q, k, v)),
                                             attn_mask=None if m is None else fastnn.tensor(m, device=device))
        with sdpa_kernel(SDPBackend.MATH):
            want = torch.nn.functional.scaled_dot_product_attention(
                *map(torch.tensor, (q, k, v)), attn_mask=None if m is None else torch.tensor(m))
        _check(_host(got), want.numpy(), f"attention mask={m is not None}", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 10.0), (0.5, 1.0)])
def test_softplus_gradcheck(beta, threshold):
    """softplus is one op now (ops/softplus.py): its backward against central differences, in float64, on
    both sides of the threshold where it switches to the identity."""
    from fastnn.autograd.gradcheck import gradcheck

    x = fastnn.tensor(np.linspace(-30, 30, 41) / beta + 0.013, dtype=fastnn.float64, requires_grad=True)
    assert gradcheck(lambda t: F.softplus(t, beta=beta, threshold=threshold), (x,))
