"""CPU autocast to bfloat16 against torch.autocast("cpu", torch.bfloat16): output dtypes per op, values
(bf16 tolerance: 2**-7 relative to the output's magnitude), float32 gradients of the master weights, the
thread-local state (nesting, enabled=False, decorator), the cast cache, and the float32 ops outside it."""
import threading

import numpy as np
import pytest

import fastnn as fn
import fastnn.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = 2.0 ** -7


def _close(a, b, tol=TOL):
    a = a.float().detach().numpy() if isinstance(a, fn.Tensor) else a
    b = b.float().detach().numpy() if isinstance(b, torch.Tensor) else b
    scale = max(float(np.abs(b).max()), 1e-6)
    assert np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max() <= tol * scale * 2


def _pair(*shape, grad=False, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return fn.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _dt(t):
    return str(t.dtype).split(".")[-1]


OPS = {
    "linear": (lambda m, x, w, b: m.linear(x, w, b), [(4, 8), (6, 8), (6,)]),
    "matmul": (lambda m, x, w, b: x @ w.T, [(3, 4, 8), (6, 8), (6,)]),
    "bmm": (lambda m, x, w, b: (fn if m is F else torch).bmm(x, w), [(2, 4, 8), (2, 8, 5), (5,)]),
    "addmm": (lambda m, x, w, b: (fn if m is F else torch).addmm(b, x, w.T), [(4, 8), (6, 8), (6,)]),
    "conv2d": (lambda m, x, w, b: m.conv2d(x, w, b, padding=1), [(2, 3, 6, 6), (4, 3, 3, 3), (4,)]),
    "sdpa": (lambda m, x, w, b: m.scaled_dot_product_attention(x, w, w), [(1, 2, 5, 8), (1, 2, 5, 8), (1,)]),
    "softmax_after": (lambda m, x, w, b: m.softmax(m.linear(x, w, b), -1), [(4, 8), (6, 8), (6,)]),
    "layer_norm_after": (lambda m, x, w, b: m.layer_norm(m.linear(x, w, b), (6,)), [(4, 8), (6, 8), (6,)]),
    "layer_norm_affine_after": (lambda m, x, w, b: m.layer_norm(m.linear(x, w, b), (6,), b, b), [(4, 8), (6, 8), (6,)]),
    "sum_after": (lambda m, x, w, b: m.linear(x, w, b).sum(), [(4, 8), (6, 8), (6,)]),
    "mse_after": (lambda m, x, w, b: m.mse_loss(m.linear(x, w, b), x[:, :6]), [(4, 8), (6, 8), (6,)]),
    "add_fp32_after": (lambda m, x, w, b: m.linear(x, w, b) + x[:, :6], [(4, 8), (6, 8), (6,)]),
    "relu_after": (lambda m, x, w, b: m.relu(m.linear(x, w, b)), [(4, 8), (6, 8), (6,)]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_dtype_values_and_grads_match_torch(name):
    f, shapes = OPS[name]
    (x, tx), (w, tw), (b, tb) = (_pair(*s, grad=True, seed=i) for i, s in enumerate(shapes))
    with fn.autocast("cpu", dtype=fn.bfloat16):
        y = f(F, x, w, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ty = f(TF, tx, tw, tb)
    assert _dt(y) == _dt(ty)
    _close(y, ty)
    r = np.random.default_rng(9).standard_normal(tuple(ty.shape)).astype(np.float32)  # a non-trivial upstream
    (y.float() * fn.tensor(r)).sum().backward()
    (ty.float() * torch.tensor(r)).sum().backward()
    for a, ta in ((x, tx), (w, tw), (b, tb)):
        assert (a.grad is None) == (ta.grad is None)
        if a.grad is not None:
            assert a.grad.dtype is fn.float32
            _close(a.grad, ta.grad, tol=4 * TOL)


def test_mlp_forward_backward_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))
    m = fn.nn.Sequential(fn.nn.Linear(20, 32), fn.nn.ReLU(), fn.nn.Linear(32, 5))
    for p, tp in zip(m.parameters(), tm.parameters()):
        p.data = fn.tensor(tp.detach().numpy().copy())
    x, tx = _pair(16, 20, seed=3)
    t = np.arange(16) % 5
    with fn.autocast("cpu"):
        out = m(x)
        loss = F.cross_entropy(out, fn.tensor(t))
    with torch.autocast("cpu"):
        tout = tm(tx)
        tloss = TF.cross_entropy(tout, torch.tensor(t))
    assert out.dtype is fn.bfloat16 and loss.dtype is fn.float32 and tloss.dtype is torch.float32
    _close(out, tout)
    _close(loss, tloss)
    loss.backward()
    tloss.backward()
    for p, tp in zip(m.parameters(), tm.parameters()):
        assert p.grad.dtype is fn.float32
        _close(p.grad, tp.grad, tol=4 * TOL)


def test_state_nesting_disable_and_decorator():
    assert not fn.is_autocast_enabled("cpu") and fn.amp.get_autocast_dtype("cpu") is fn.bfloat16
    x, w = fn.randn(3, 4), fn.randn(5, 4)
    with fn.autocast("cpu"):
        assert fn.is_autocast_enabled("cpu") and not fn.is_autocast_enabled()  # no argument: CUDA, as torch
        with fn.autocast("cpu", enabled=False):
            assert not fn.is_autocast_enabled("cpu")
            assert F.linear(x, w).dtype is fn.float32
            with fn.autocast("cpu"):
                assert F.linear(x, w).dtype is fn.bfloat16
            assert F.linear(x, w).dtype is fn.float32
        assert F.linear(x, w).dtype is fn.bfloat16
    assert not fn.is_autocast_enabled("cpu") and F.linear(x, w).dtype is fn.float32

    class Net(fn.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = fn.nn.Linear(4, 5)

        @fn.autocast("cpu")
        def forward(self, x):
            return self.fc(x)

    assert Net()(x).dtype is fn.bfloat16
    assert not fn.is_autocast_enabled("cpu")
    with pytest.raises(ValueError):
        with fn.autocast("cpu"):
            raise ValueError("body")
    assert not fn.is_autocast_enabled("cpu")  # an exception leaves the state restored
    with pytest.warns(UserWarning, match="Disabling autocast"):
        ac = fn.autocast("cpu", dtype=fn.float32)
    with ac:
        assert not fn.is_autocast_enabled("cpu")


def test_state_is_thread_local():
    seen = []
    with fn.autocast("cpu"):
        t = threading.Thread(target=lambda: seen.append((fn.is_autocast_enabled("cpu"),
                                                         F.linear(fn.randn(2, 3), fn.randn(4, 3)).dtype)))
        t.start()
        t.join()
    assert seen == [(False, fn.float32)]


def test_weight_cast_cache_reuses_the_rounding_and_sees_writes():
    fn.manual_seed(0)
    lin = fn.nn.Linear(4, 3)
    x = fn.randn(2, 4)
    with fn.autocast("cpu"):
        a, b = lin(x), lin(x)
        assert a.dtype is fn.bfloat16
        (a.float().sum() + b.float().sum()).backward()  # each use has its own cast node
        g = lin.weight.grad.numpy().copy()
        with fn.no_grad():
            lin.weight.mul_(2.0)
        c = lin(x)  # the write invalidated the cached bf16 copy
    want = 2 * x.to(fn.bfloat16).float().numpy().sum(0)[None].repeat(3, 0)
    np.testing.assert_allclose(g, want, rtol=0, atol=2 * TOL * np.abs(want).max())
    bias = lin.bias.detach().to(fn.bfloat16).float().numpy()
    a_, c_ = a.float().detach().numpy(), c.float().detach().numpy()
    scale = np.abs(a_).max() + np.abs(c_).max()  # the outputs were rounded with the bias in them
    assert np.abs((c_ - bias) - 2 * (a_ - bias)).max() <= 2 * TOL * scale
    assert fn.amp_state.STATE.cache == {}  # cleared when the outermost region ends
    with fn.autocast("cpu", cache_enabled=False):
        lin(x)
        assert fn.amp_state.STATE.cache == {}


def test_float64_and_integer_operands_are_left_alone():
    with fn.autocast("cpu"):
        assert (fn.randn(2, 3, dtype=fn.float64) @ fn.randn(3, 2, dtype=fn.float64)).dtype is fn.float64
        assert (fn.ones(2, 2, dtype=fn.long) @ fn.ones(2, 2, dtype=fn.long)).dtype is fn.int64


def test_torch_state_functions_and_cpu_amp_names():
    assert fn.get_autocast_dtype("cpu") is fn.bfloat16 and fn.is_autocast_cache_enabled()
    with pytest.warns(FutureWarning, match=r"torch.cpu.amp.autocast\(args...\)` is deprecated"):
        ac = fn.cpu.amp.autocast()
    assert (ac.device, ac.fast_dtype) == ("cpu", fn.bfloat16)
    with ac:
        assert fn.is_autocast_enabled("cpu")
    fn.set_autocast_enabled("cpu", True)
    try:
        assert F.linear(fn.randn(2, 3), fn.randn(4, 3)).dtype is fn.bfloat16
    finally:
        fn.set_autocast_enabled("cpu", False)
    assert F.linear(fn.randn(2, 3), fn.randn(4, 3)).dtype is fn.float32
    import fastnn.cpu.amp as cpu_amp  # the module path, as torch.cpu.amp

    assert cpu_amp.autocast is fn.cpu.amp.autocast


def _copy_params(m, tm):
    for p, tp in zip(m.parameters(), tm.parameters()):
        p.data = fn.tensor(tp.detach().numpy().copy())


def test_small_cnn_with_batch_norm_matches_torch():
    def build(L):
        return L.nn.Sequential(L.nn.Conv2d(1, 4, 3), L.nn.ReLU(), L.nn.MaxPool2d(2), L.nn.BatchNorm2d(4),
                               L.nn.Flatten(), L.nn.Linear(36, 5))

    torch.manual_seed(0)
    tm, m = build(torch), build(fn)
    _copy_params(m, tm)
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    t = np.arange(4)
    with fn.autocast("cpu"):
        out = m(fn.tensor(x))
        loss = F.cross_entropy(out, fn.tensor(t))
    with torch.autocast("cpu"):
        tout = tm(torch.tensor(x))
        tloss = TF.cross_entropy(tout, torch.tensor(t))
    assert (_dt(out), _dt(loss)) == (_dt(tout), _dt(tloss)) == ("bfloat16", "float32")
    _close(out, tout)
    loss.backward()
    tloss.backward()
    for p, tp in zip(m.parameters(), tm.parameters()):
        assert p.grad.dtype is fn.float32
        _close(p.grad, tp.grad, tol=4 * TOL)
    assert m[3].running_mean.dtype is fn.float32
    _close(m[3].running_mean, tm[3].running_mean)


def test_attention_modules_output_dtypes_match_torch():
    got = {}
    for L in (fn, torch):
        L.manual_seed(0)
        enc = L.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        mha = L.nn.MultiheadAttention(16, 2, batch_first=True)
        x = L.randn(2, 5, 16)
        with L.autocast("cpu"):
            y = enc(x)
            o, w = mha(x, x, x)
        y.float().sum().backward()
        got[L.__name__] = (_dt(y), _dt(o), _dt(w), _dt(next(enc.parameters()).grad))
    assert got["fastnn"] == got["torch"]
