"""group_norm / GroupNorm, instance_norm / InstanceNorm1d-3d, rms_norm / RMSNorm and BatchNorm3d against torch
2.13 with the same weights (forward, input and parameter gradients, running buffers, repr, state_dict keys),
float64 gradcheck, odd / size-1 / zero-size / non-contiguous inputs and torch's errors."""
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches, compare_step, load_from_torch
from op_helpers import gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional


def _module_pair(name, args, kwargs, dtype):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = getattr(nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    # Non-trivial affine parameters and buffers, so a wrong broadcast cannot hide behind ones and zeros.
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    load_from_torch(ours, theirs)
    return ours, theirs


GN_CASES = [((2, 6, 5), 3, {}), ((3, 4, 3, 5), 2, dict(eps=1e-3)), ((1, 4, 3), 4, dict(affine=False)),
            ((2, 6, 2, 2, 3), 1, dict(bias=False)), ((1, 3, 1), 1, {})]


@pytest.mark.parametrize("shape,groups,kw", GN_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_norm_matches_torch(shape, groups, kw, dtype):
    ours, theirs = _module_pair("GroupNorm", (groups, shape[1]), kw, dtype)
    x = (np.random.default_rng(1).standard_normal(shape) * 3 + 2).astype(dtype)
    compare_step(torch, ours, theirs, x)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (2, 3, 7)), ("InstanceNorm1d", (3, 5)),
                                        ("InstanceNorm2d", (2, 3, 4, 5)), ("InstanceNorm2d", (3, 2, 6)),
                                        ("InstanceNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("kw", [{}, dict(affine=True), dict(affine=True, track_running_stats=True, momentum=0.3),
                                dict(track_running_stats=True, momentum=None)], ids=str)
def test_instance_norm_matches_torch(name, shape, kw):
    dtype = np.float32 if kw.get("affine") else np.float64  # both dtypes, without doubling the file's time
    ours, theirs = _module_pair(name, (3,), kw, dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(2)
    for step in range(2):
        x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
        compare_step(torch, ours, theirs, x, seed=step, what=f"train step {step}")
        for key, ref in theirs.state_dict().items():
            assert_matches(ours.state_dict()[key], ref, key)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(dtype)
    compare_step(torch, ours, theirs, x, what="eval")


@pytest.mark.parametrize("shape,ns,kw", [((2, 3, 5), 5, {}), ((4, 3, 4), (3, 4), dict(eps=1e-3)),
                                         ((7,), [7], dict(elementwise_affine=False)), ((0, 4), 4, {}),
                                         ((1, 1, 4), 4, {})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_matches_torch(shape, ns, kw, dtype):
    ours, theirs = _module_pair("RMSNorm", (ns,), kw, dtype)
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    compare_step(torch, ours, theirs, x)


def test_batch_norm_3d_matches_torch():
    ours, theirs = _module_pair("BatchNorm3d", (3,), {}, np.float64)
    x = np.random.default_rng(4).standard_normal((2, 3, 2, 3, 4))
    compare_step(torch, ours, theirs, x)
    for key, ref in theirs.state_dict().items():
        assert_matches(ours.state_dict()[key], ref, key)
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        ours(fastnn.randn(2, 3, 4, 4, dtype=fastnn.float64))


def test_functional_forms_noncontiguous_and_zero_size():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 6))  # (N, L, C) viewed as (N, C, L)
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    xo, xt = fastnn.tensor(x).transpose(1, 2), torch.tensor(x).transpose(1, 2)
    assert not xo.is_contiguous()
    assert_matches(F.group_norm(xo, 3, fastnn.tensor(w), fastnn.tensor(b)),
                   TF.group_norm(xt, 3, torch.tensor(w), torch.tensor(b)), "group_norm")
    assert_matches(F.instance_norm(xo, weight=fastnn.tensor(w)), TF.instance_norm(xt, weight=torch.tensor(w)),
                   "instance_norm")
    assert_matches(F.rms_norm(xo, (5,)), TF.rms_norm(xt, (5,)), "rms_norm")
    rm, rv = rng.standard_normal(6), rng.uniform(0.5, 2, 6)
    assert_matches(F.instance_norm(xo, fastnn.tensor(rm), fastnn.tensor(rv), use_input_stats=False),
                   TF.instance_norm(xt, torch.tensor(rm), torch.tensor(rv), use_input_stats=False), "eval")
    for shape in [(0, 6, 5), (2, 6, 0)]:
        z = fastnn.zeros(*shape, requires_grad=True)
        y = F.group_norm(z, 3)
        assert y.shape == shape
        y.sum().backward()
        assert z.grad.shape == shape
    assert F.instance_norm(fastnn.zeros(0, 3, 4)).shape == (0, 3, 4)
    assert F.group_norm(fastnn.randn(2, 6, 5, requires_grad=True), 3).grad_fn.name_() == "NativeGroupNormBackward0"


def test_gradcheck_float64():
    gradcheck_op(lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3), (4,), (4,))
    gradcheck_op(lambda x: F.group_norm(x, 3, eps=1e-3), (1, 3, 2, 2))
    gradcheck_op(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (2, 3, 4), (3,), (3,))
    gradcheck_op(lambda x, w: F.rms_norm(x, (2, 3), w), (2, 2, 3), (2, 3))
    gradcheck_op(lambda x: F.rms_norm(x, 4, eps=0.1), (3, 4))


def test_errors_match_torch():
    x = fastnn.randn(2, 6, 5)
    with pytest.raises(RuntimeError, match=r"Expected number of channels in input to be divisible by num_groups, but "
                                           r"got input of shape \[2, 6, 5\] and num_groups=4"):
        F.group_norm(x, 4)
    with pytest.raises(RuntimeError, match="Expected weight to be a vector of size equal to the number of channels"):
        F.group_norm(x, 3, fastnn.randn(5))
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions for input tensor but received 1"):
        F.group_norm(fastnn.randn(6), 3)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"\[1, 3, 1\]"):
        F.group_norm(fastnn.randn(1, 3, 1), 3)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(fastnn.randn(2, 6, 1))
    with pytest.raises(RuntimeError, match="Expected running_mean and running_var to be defined when use_input_stats "
                                           "is false"):
        F.instance_norm(x, use_input_stats=False)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.InstanceNorm1d(6)(fastnn.randn(2, 6, 5, 4))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(4\), but got: 6"):
        nn.InstanceNorm1d(4, affine=True)(fastnn.randn(2, 6, 5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.InstanceNorm1d(4)(fastnn.randn(2, 6, 5))
    assert any("does not match num_features" in str(w.message) for w in caught)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*4\], but got "
                                           r"input of size\[2, 6, 5\]"):
        F.rms_norm(x, (4,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.rms_norm(x, (5,), fastnn.randn(4))


@pytest.mark.parametrize("shape,args", [((2, 5, 4), (3,)), ((2, 6, 3, 4), (2, 1e-2, 0.5, 2.0)), ((1, 3, 2, 2, 2), (4,)),
                                        ((2, 1, 3), (1,))])
def test_local_response_norm_matches_torch(shape, args):
    ours, theirs = nn.LocalResponseNorm(*args), torch.nn.LocalResponseNorm(*args)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(6).standard_normal(shape) * 3
    compare_step(torch, ours, theirs, x)
    compare_step(torch, ours, theirs, x.astype(np.float32))
    gradcheck_op(lambda t: F.local_response_norm(t, *args), shape)
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2 dimensions\)"):
        F.local_response_norm(fastnn.randn(2, 3), 2)
