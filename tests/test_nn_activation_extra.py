"""The rest of torch.nn's activations (functional and module forms) against torch 2.13: values and
gradients over odd, size-1, zero-size and non-contiguous inputs in float32 and float64, values at and
around the kinks (where the derivative takes torch's side), float64 gradchecks, and torch's errors."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from op_helpers import assert_close, away_from, gradcheck_op, noncontiguous

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional

# name -> (kwargs, kinks the gradcheck keeps away from)
UNARY = {
    "hardtanh": ({}, (-1, 1)), "hardtanh_wide": ({"min_val": -2.0, "max_val": 0.5}, (-2, 0.5)),
    "hardsigmoid": ({}, (-3, 3)), "hardswish": ({}, (-3, 3)), "relu6": ({}, (0, 6)),
    "selu": ({}, (0,)), "celu": ({"alpha": 0.7}, (0,)), "mish": ({}, ()), "softsign": ({}, ()),
    "tanhshrink": ({}, ()), "softshrink": ({"lambd": 0.3}, (-0.3, 0.3)), "hardshrink": ({"lambd": 0.4}, (-0.4, 0.4)),
    "logsigmoid": ({}, ()), "threshold": ({"threshold": 0.2, "value": -3.0}, (0.2,)),
}


def _fn(lib_f, name):
    return getattr(lib_f, "hardtanh" if name == "hardtanh_wide" else name)


def _call(lib_f, name, x):
    kw = UNARY[name][0]
    if name == "threshold":
        return lib_f.threshold(x, kw["threshold"], kw["value"])
    return _fn(lib_f, name)(x, **kw)


SHAPES = [(7, 5), (1,), (0, 3), (2, 3, 4), ()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_matches_torch(name, dtype):
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        if x.size:  # the kinks themselves and large magnitudes
            special = [-3.0, 3.0, 0.0, 25.0][: min(x.size, 4)]
            x.reshape(-1)[: len(special)] = np.array(special, dtype)
        xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = _call(F, name, xo), _call(TF, name, xt)
        assert_close(yo, yt.detach().numpy(), check_dtype=True, msg=f"{name} {shape}")
        g = rng.standard_normal(shape).astype(dtype)
        yo.backward(fastnn.tensor(g))
        yt.backward(torch.tensor(g))
        assert_close(xo.grad, xt.grad.numpy(), msg=f"{name} grad {shape}")


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_gradcheck_and_noncontiguous(name):
    rng = np.random.default_rng(1)
    vals = away_from(rng.uniform(-5, 5, (4, 3)), UNARY[name][1], margin=0.05)
    gradcheck_op(lambda t: _call(F, name, t), vals)
    nc = noncontiguous(vals.astype(np.float32))
    assert not nc.is_contiguous()
    assert_close(_call(F, name, nc), _call(TF, name, torch.tensor(vals.astype(np.float32))).numpy())


def test_glu_prelu_softmin_rrelu_eval():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 6))
    for dim in (-1, 1):
        assert_close(F.glu(fastnn.tensor(x), dim), TF.glu(torch.tensor(x), dim).numpy())
    gradcheck_op(lambda t: F.glu(t, 1), x)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(fastnn.tensor(x[..., :5]), 2)
    for w in (np.array([0.3]), rng.uniform(0, 1, 4)):
        assert_close(F.prelu(fastnn.tensor(x), fastnn.tensor(w)), TF.prelu(torch.tensor(x), torch.tensor(w)).numpy())
        gradcheck_op(lambda t, u: F.prelu(t, u), away_from(x, (0,)), w)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(fastnn.tensor(x), fastnn.ones(3, dtype=fastnn.float64))
    for dim in (0, 1, 2):
        assert_close(F.softmin(fastnn.tensor(x), dim), TF.softmin(torch.tensor(x), dim).numpy())
    assert_close(F.rrelu(fastnn.tensor(x)), TF.rrelu(torch.tensor(x)).numpy())


def test_rrelu_training_draws_slopes_in_range_and_backpropagates_them():
    fastnn.manual_seed(0)
    x = fastnn.tensor(-np.ones((200, 50)), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)


def test_gumbel_softmax_is_a_distribution_and_hard_is_one_hot_with_soft_gradient():
    fastnn.manual_seed(0)
    logits = fastnn.tensor(np.log(np.array([[0.7, 0.2, 0.1]] * 4000)), requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.detach().numpy().sum(-1), 1, rtol=1e-12)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    h = hard.detach().numpy()
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(-1) == 1).all()
    freq = h.mean(0)  # argmax of logits + Gumbel noise samples the categorical exactly
    np.testing.assert_allclose(freq, [0.7, 0.2, 0.1], atol=0.03)
    (hard * fastnn.tensor([1.0, 2.0, 3.0], dtype=fastnn.float64)).sum().backward()
    assert logits.grad is not None and np.abs(logits.grad.numpy()).sum() > 0


MODULES = [("Hardtanh", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("Hardsigmoid", {}), ("Hardswish", {}),
           ("SELU", {}), ("CELU", {"alpha": 2.0}), ("Mish", {}), ("Softsign", {}), ("Tanhshrink", {}),
           ("LogSigmoid", {}), ("Softshrink", {"lambd": 0.2}), ("Hardshrink", {}), ("Threshold", {"threshold": 0.1,
           "value": 2.0}), ("GLU", {"dim": 1}), ("PReLU", {}), ("PReLU", {"num_parameters": 4, "init": 0.1}),
           ("RReLU", {}), ("Softmin", {"dim": 1}), ("Softmax2d", {})]


@pytest.mark.parametrize("cls,kw", MODULES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(MODULES)])
def test_modules_match_torch_in_eval(cls, kw):
    ours, theirs = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
    ours.eval(), theirs.eval()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(3).standard_normal((2, 4, 3, 2)).astype(np.float32)
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt.detach().numpy())
    yo.sum().backward()
    yt.sum().backward()
    assert_close(xo.grad, xt.grad.numpy())
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, tp.grad.numpy(), msg=name)


def test_errors_match_torch():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(NotImplementedError, match="hardsigmoid"):
        F.hardsigmoid(fastnn.tensor([1, 2]))
    with pytest.raises(RuntimeError, match=r"lambda must be in range \[0, 3.40282e\+38\] for input dtype Float"):
        F.softshrink(fastnn.ones(2), -1.0)


INPLACE = [("hardtanh", {}), ("relu6", {}), ("hardsigmoid", {}), ("hardswish", {}), ("elu", {"alpha": 0.5}),
           ("selu", {}), ("celu", {"alpha": 1.5}), ("mish", {}), ("threshold", {"threshold": 0.1, "value": 3.0}),
           ("rrelu", {})]


@pytest.mark.parametrize("name,kw", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_flag_writes_into_a_graph_tensor_as_torch(name, kw):
    """inplace=True really writes the input (a non-leaf here) and the gradient goes through the rewrite."""
    x = np.random.default_rng(4).standard_normal((3, 4)) * 3
    results = []
    for lib, f in ((fastnn, F), (torch, TF)):
        leaf = lib.tensor(x, requires_grad=True)
        y = leaf * 1.5
        out = getattr(f, name)(y, **kw, inplace=True)
        assert out is y
        (out * out).sum().backward()
        results.append((y.detach().numpy().copy(), leaf.grad.numpy().copy()))
    (yo, go), (yt, gt) = results
    assert_close(yo, yt, atol=1e-12, rtol=1e-10)
    assert_close(go, gt, atol=1e-12, rtol=1e-10)


def test_inplace_module_flags_and_underscore_spellings():
    x = fastnn.tensor([-2.0, -0.5, 0.5, 2.0])
    for mod in (nn.ELU(inplace=True), nn.Hardtanh(inplace=True), nn.SELU(inplace=True), nn.ReLU6(inplace=True)):
        y = x.clone()
        assert mod(y) is y and not np.array_equal(y.numpy(), x.numpy())
        assert "inplace=True" in repr(mod)
    for fn, ref in ((F.elu_, TF.elu_), (F.selu_, TF.selu_), (F.celu_, TF.celu_), (F.hardtanh_, TF.hardtanh_)):
        y, t = x.clone(), torch.tensor(x.numpy())
        fn(y)
        ref(t)
        assert_close(y, t.numpy())
