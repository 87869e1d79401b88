"""nn.Module core against torch.nn: registration, traversal, state_dict round trips, modes, dtype moves,
hooks, containers, repr; Linear / LayerNorm / Dropout / activation modules with torch's weights."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn.nn import functional as F
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(5, 7), lib.nn.ReLU(), lib.nn.Dropout(0.2), lib.nn.LayerNorm(7),
                             lib.nn.Linear(7, 3))


def _torch_state(m):
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def test_state_dict_keys_repr_and_parameter_order_match_torch():
    ours, theirs = _mlp(fastnn), _mlp(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mlp_forward_and_grads_match_torch_with_loaded_weights(dtype):
    theirs = _mlp(torch).eval().to(getattr(torch, dtype))
    ours = _mlp(fastnn).eval().to(dtype)
    result = ours.load_state_dict(_torch_state(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert_close(yo.detach().numpy(), yt.detach().numpy(), atol=rtol, rtol=rtol)
    (yo * yo).sum().backward()
    (yt * yt).sum().backward()
    assert_close(xo.grad.detach().numpy(), xt.grad.detach().numpy(), atol=rtol, rtol=rtol)
    for (name, po), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(po.grad.detach().numpy(), pt.grad.detach().numpy(), atol=rtol, rtol=rtol, msg=name)


def test_state_dict_round_trip_fastnn_torch_fastnn():
    a = _mlp(fastnn)
    t = _mlp(torch)
    t.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in a.state_dict().items()})
    b = _mlp(fastnn)
    b.load_state_dict(t.state_dict())  # torch tensors directly
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(va.detach().numpy(), vb.detach().numpy(), err_msg=k)


def test_load_state_dict_strictness_and_errors():
    m = nn.Linear(3, 2)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias"'):
        m.load_state_dict({"weight": sd["weight"]})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"'):
        m.load_state_dict({**sd, "extra": np.zeros(1)})
    res = m.load_state_dict({"weight": sd["weight"], "extra": np.zeros(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match=r"size mismatch for weight"):
        m.load_state_dict({**sd, "weight": np.zeros((2, 4))})
    with pytest.raises(TypeError):
        m.load_state_dict([1, 2])


def test_load_state_dict_copies_in_place_so_optimizers_keep_their_parameters():
    m = nn.Linear(3, 2)
    w = m.weight
    opt = fastnn.optim.SGD(m.parameters(), lr=0.1)
    m.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    assert m.weight is w and opt.param_groups[0]["params"][0] is w
    np.testing.assert_array_equal(w.detach().numpy(), np.ones((2, 3), np.float32))
    assert w.dtype is fastnn.float32


def test_registration_rules():
    m = nn.Module()
    m.p = nn.Parameter(fastnn.zeros(2))
    m.register_buffer("buf", fastnn.ones(3))
    m.register_buffer("tmp", fastnn.ones(1), persistent=False)
    m.child = nn.Linear(1, 1)
    m.plain = 5
    assert list(m.state_dict()) == ["p", "buf", "child.weight", "child.bias"]
    assert [n for n, _ in m.named_buffers()] == ["buf", "tmp"]
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'p'"):
        m.p = 3
    with pytest.raises(KeyError):
        m.register_buffer("a.b", fastnn.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("plain", None)
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("q", _non_leaf_parameter())
    del m.child
    assert "child" not in dict(m.named_children())
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        m.nothing
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        m(1)


def _non_leaf_parameter():
    p = nn.Parameter(fastnn.ones(2))
    p.grad_fn = object()  # what a Parameter made from a graph result would look like
    return p


def test_shared_parameters_counted_once_and_modes_propagate():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    seq.eval()
    assert all(not m.training for m in seq.modules())
    seq.train()
    assert all(m.training for m in seq.modules())
    with pytest.raises(ValueError):
        seq.train("no")


def test_zero_grad_apply_requires_grad_and_to_dtype():
    m = _mlp(fastnn)
    m(fastnn.randn(2, 5)).sum().backward()
    weights = [p for p in m.parameters()]
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Sequential" and seen.count("Linear") == 2
    m.double()
    assert all(p.dtype is fastnn.float64 for p in m.parameters())
    assert [p for p in m.parameters()] == weights  # same Parameter objects, converted in place
    assert m(fastnn.randn(2, 5, dtype=fastnn.float64)).dtype is fastnn.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(fastnn.int64)
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_forward_hooks_and_removal():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    out = m(fastnn.ones(1, 2))
    assert calls == ["pre"] and float(out.abs().sum()) == 0
    h1.remove()
    h2.remove()
    assert float(m(fastnn.ones(1, 2)).abs().sum()) > 0 and calls == ["pre"]


def test_containers_behave_like_torch():
    seq = nn.Sequential(OrderedDict([("a", nn.Linear(1, 2)), ("b", nn.ReLU())]))
    assert isinstance(seq.a, nn.Linear) and seq[-1] is seq.b and len(seq) == 2
    assert isinstance(seq[0:1], nn.Sequential) and len(seq[0:1]) == 1
    seq.append(nn.Tanh())
    assert list(seq.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(IndexError):
        seq[5]
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.Linear(1, 1))
    del ml[0]
    assert len(ml) == 3 and list(ml.state_dict())[0] == "0.weight"
    md = nn.ModuleDict({"x": nn.Linear(1, 1)})
    md["y"] = nn.ReLU()
    assert list(md.keys()) == ["x", "y"] and "x" in md
    pl = nn.ParameterList([nn.Parameter(fastnn.ones(2)), fastnn.zeros(3)])
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"] and pl[1].requires_grad
    tm = torch.nn.ModuleList([torch.nn.Linear(1, 1)])
    assert repr(nn.ModuleList([nn.Linear(1, 1)])) == repr(tm)


def test_deepcopy_gives_independent_parameters():
    m = nn.Linear(3, 3)
    c = copy.deepcopy(m)
    assert isinstance(c.weight, nn.Parameter) and c.weight is not m.weight
    np.testing.assert_array_equal(c.weight.detach().numpy(), m.weight.detach().numpy())
    with fastnn.no_grad():
        c.weight.fill_(0.0)
    assert float(m.weight.abs().sum()) > 0


def test_linear_default_init_bounds_and_no_bias():
    fastnn.manual_seed(0)
    m = nn.Linear(400, 300)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    nb = nn.Linear(3, 2, bias=False)
    assert nb.bias is None and list(nb.state_dict()) == ["weight"]
    assert repr(nb) == repr(torch.nn.Linear(3, 2, bias=False))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        m(fastnn.ones(2, 3))


def test_init_functions_follow_torch_formulas():
    w = fastnn.empty(256, 128)
    nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("relu"))
    bound = np.sqrt(2) * np.sqrt(6 / (256 + 128))
    assert np.abs(w.detach().numpy()).max() <= bound + 1e-7
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.detach().numpy().std() - np.sqrt(2 / 256)) < 0.05 * np.sqrt(2 / 256)
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.detach().numpy()).max() <= 0.5
    nn.init.orthogonal_(w)
    q = w.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(128), atol=1e-5)
    for name in ("linear", "sigmoid", "tanh", "relu", "selu"):
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="Fan in and fan out"):
        nn.init.xavier_uniform_(fastnn.empty(3))
    p = nn.Parameter(fastnn.empty(3, 3))
    nn.init.zeros_(p)  # initialisers work on parameters that require grad (as under torch.no_grad)
    assert p.requires_grad and float(p.abs().sum()) == 0


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("Sigmoid", ()), ("Tanh", ()), ("GELU", ()),
                                       ("GELU", ("tanh",)), ("LeakyReLU", (0.2,)), ("Softmax", (1,)),
                                       ("LogSoftmax", (-1,)), ("ELU", ()), ("SiLU", ()), ("Softplus", ()),
                                       ("ReLU6", ()), ("Identity", ()), ("Flatten", ())])
def test_activation_and_shape_modules_match_torch(name, args):
    x = np.random.default_rng(1).standard_normal((3, 4, 5)) * 4
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert tuple(yo.shape) == tuple(yt.shape)
    assert_close(yo.detach().numpy(), yt.detach().numpy(), atol=1e-12, rtol=1e-12)
    g = np.random.default_rng(2).standard_normal(tuple(yt.shape))
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xo.grad.detach().numpy(), xt.grad.detach().numpy(), atol=1e-12, rtol=1e-10)


def test_dropout_train_statistics_eval_identity_and_gradient():
    fastnn.manual_seed(3)
    x = fastnn.ones(200, 500, requires_grad=True)
    d = nn.Dropout(0.3)
    y = d(x)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy() != 0, kept)
    assert d.eval()(x) is x
    fastnn.manual_seed(4)
    a = F.dropout(x, 0.5).detach().numpy()
    fastnn.manual_seed(4)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).detach().numpy())
    assert float(F.dropout(x, 1.0).abs().sum()) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))
    z = F.dropout2d(fastnn.ones(4, 8, 3, 3), 0.5).detach().numpy()
    assert set(np.unique(z.reshape(4, 8, -1).std(axis=-1))) == {0.0}  # whole channels kept or dropped


def test_layernorm_module_matches_torch():
    theirs = torch.nn.LayerNorm((4, 5), eps=1e-3)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = nn.LayerNorm((4, 5), eps=1e-3)
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(5).standard_normal((3, 4, 5)).astype(np.float32)
    assert_close(ours(fastnn.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                 atol=1e-5, rtol=1e-5)
    assert list(nn.LayerNorm(3, elementwise_affine=False).state_dict()) == []


def test_module_list_repr_collapses_repeats_like_torch():
    def build(lib):
        return lib.nn.ModuleList([lib.nn.Linear(2, 2), lib.nn.Linear(2, 2), lib.nn.ReLU(),
                                  lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Tanh())])

    assert repr(build(fastnn)) == repr(build(torch))
    layer = lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)  # noqa: E731
    assert repr(nn.TransformerEncoder(layer(fastnn), 3)) == repr(torch.nn.TransformerEncoder(
        layer(torch), 3, enable_nested_tensor=False))


@pytest.mark.parametrize("fn,shape", [(F.dropout, (4, 7)), (F.dropout2d, (2, 3, 4, 4))])
def test_dropout_gradcheck_with_a_fixed_mask(fn, shape):
    def seeded(x):  # gradcheck calls fn many times: reseeding draws the same mask every time
        fastnn.manual_seed(11)
        return fn(x, 0.4)

    x = fastnn.tensor(np.random.default_rng(0).standard_normal(shape), dtype=fastnn.float64, requires_grad=True)
    assert fastnn.autograd.gradcheck(seeded, (x,), raise_exception=True)
