"""fastnn.nn.utils against torch.nn.utils on the same gradients: clip_grad_norm_ (every norm type,
non-finite norms), clip_grad_value_, parameters_to_vector / vector_to_parameters; the L1/L2 penalties."""
import math

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn.autograd import gradcheck
from fastnn.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm, l1_penalty, l2_penalty,
                             parameters_to_vector, vector_to_parameters)
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

SHAPES = [(4, 3), (5,), (2, 3, 2), ()]


def twin_params(dtype=np.float32, seed=0, grad_scale=1.0, with_none=True):
    """The same parameters and gradients in fastnn and torch; the last parameter has no gradient."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        v = rng.standard_normal(shape).astype(dtype)
        p, tp = nn.Parameter(fastnn.tensor(v)), torch.nn.Parameter(torch.tensor(v))
        if not (with_none and i == len(SHAPES) - 1):
            g = (rng.standard_normal(shape) * grad_scale).astype(dtype)
            p.grad, tp.grad = fastnn.tensor(g), torch.tensor(g)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


def assert_same_grads(ours, theirs):
    for p, tp in zip(ours, theirs):
        if tp.grad is None:
            assert p.grad is None
        else:
            assert_close(p.grad, tp.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, "inf", 3.5, 0.5, -math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = twin_params(dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, fastnn.Tensor) and total.ndim == 0
    assert total.dtype.name == str(ttotal.dtype).replace("torch.", "")
    assert_close(total, ttotal.numpy())
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_accepts_a_tensor_a_generator_and_nothing():
    ours, theirs = twin_params()
    assert_close(clip_grad_norm_(ours[0], 0.1), torch.nn.utils.clip_grad_norm_(theirs[0], 0.1).numpy())
    assert_same_grads(ours, theirs)
    ours, theirs = twin_params(seed=1)
    assert_close(clip_grad_norm_((p for p in ours), 0.3),
                 torch.nn.utils.clip_grad_norm_((p for p in theirs), 0.3).numpy())
    assert_same_grads(ours, theirs)
    assert clip_grad_norm_([], 1.0).item() == 0.0 == torch.nn.utils.clip_grad_norm_([], 1.0).item()
    # a module's parameters, after a real backward
    m = nn.Linear(3, 2)
    m(fastnn.randn(4, 3)).sum().backward()
    before = [p.grad.numpy().copy() for p in m.parameters()]
    total = clip_grad_norm_(m.parameters(), 1e-3)
    expect = math.sqrt(sum(float((b.astype(np.float64) ** 2).sum()) for b in before))
    assert abs(total.item() - expect) < 1e-5 * expect
    new = math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in m.parameters()))
    assert abs(new - 1e-3) < 1e-6


def test_clip_grad_norm_clips_in_place():
    ours, _ = twin_params()
    held = ours[0].grad
    arr = held._data
    clip_grad_norm_(ours, 0.01)
    assert ours[0].grad is held and held._data is arr


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite(bad):
    ours, theirs = twin_params()
    ours[1].grad._data[2] = bad
    theirs[1].grad[2] = bad
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert_same_grads(ours, theirs)  # the error leaves the gradients alone
    total = clip_grad_norm_(ours, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert_close(total, ttotal.numpy())
    assert_same_grads(ours, theirs)  # scaled by the non-finite norm anyway: NaN / zeros as torch
    ours, theirs = twin_params()
    ours[0].grad._data[0, 0] = math.inf
    theirs[0].grad[0, 0] = math.inf
    assert_close(clip_grad_norm_(ours, 1.0, norm_type="inf"),
                 torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type="inf").numpy())
    assert_same_grads(ours, theirs)


def test_get_total_norm_matches_torch():
    ours, theirs = twin_params(np.float64, with_none=False)
    for nt in (2.0, 1.0, 7.0, math.inf):
        assert_close(get_total_norm([p.grad for p in ours], nt),
                     torch.nn.utils.get_total_norm([p.grad for p in theirs], nt).numpy())


@pytest.mark.parametrize("clip_value", [0.3, 2.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = twin_params(grad_scale=2.0)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs)


def test_parameters_to_vector_round_trip_matches_torch():
    ours, theirs = twin_params()
    vec, tvec = parameters_to_vector(ours), torch.nn.utils.parameters_to_vector(theirs)
    assert_close(vec, tvec.detach().numpy())
    assert vec.shape == (sum(p.numel() for p in ours),)
    new = np.arange(vec.numel(), dtype=np.float32)
    vector_to_parameters(fastnn.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs)
    for p, tp in zip(ours, theirs):
        assert_close(p.detach(), tp.detach().numpy())
        assert p.requires_grad and p.grad is not None or tp.grad is None
    assert_close(parameters_to_vector(ours), new)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: ndarray"):
        vector_to_parameters(new, ours)


def test_parameters_to_vector_is_differentiable():
    ours, theirs = twin_params(np.float64)
    w = np.random.default_rng(3).standard_normal(sum(p.numel() for p in ours))
    (parameters_to_vector(ours) * fastnn.tensor(w)).sum().backward()
    (torch.nn.utils.parameters_to_vector(theirs) * torch.tensor(w)).sum().backward()
    assert_same_grads(ours, theirs)  # on top of the gradients twin_params set: accumulation as torch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_penalties_match_torch_composition(dtype):
    ours, theirs = twin_params(dtype)
    for p in ours:
        p.grad = None
    theirs = [torch.nn.Parameter(t.detach()) for t in theirs]
    for ours_fn, theirs_fn in [(l1_penalty, lambda ps: sum(p.abs().sum() for p in ps)),
                               (l2_penalty, lambda ps: sum(p.pow(2).sum() for p in ps))]:
        for p, tp in zip(ours, theirs):
            p.grad, tp.grad = None, None
        out, tout = ours_fn(ours), theirs_fn(theirs)
        assert out.ndim == 0 and out.dtype.name == str(tout.dtype).replace("torch.", "")
        assert_close(out, tout.detach().numpy())
        (out * 0.25).backward()
        (tout * 0.25).backward()
        assert_same_grads(ours, theirs)


def test_penalties_gradcheck_and_weight_decay_equivalence():
    rng = np.random.default_rng(4)
    a = fastnn.tensor(rng.uniform(0.1, 1, (3, 2)) * np.where(rng.random((3, 2)) < 0.5, -1, 1), requires_grad=True)
    b = fastnn.tensor(rng.uniform(-1, 1, (4,)), requires_grad=True)
    assert gradcheck(lambda x, y: l1_penalty([x, y]), (a, b))
    assert gradcheck(lambda x, y: l2_penalty([x, y]), (a, b))
    # 0.5 * wd * l2_penalty adds wd * p to the gradient: SGD's weight_decay
    p = nn.Parameter(fastnn.tensor([1.0, -2.0, 3.0]))
    (0.5 * 0.1 * l2_penalty(p)).backward()
    assert_close(p.grad, np.array([0.1, -0.2, 0.3], np.float32))
    assert l1_penalty([]).item() == 0.0
    with pytest.raises(TypeError, match="floating-point"):
        l2_penalty([fastnn.tensor([1, 2])])
