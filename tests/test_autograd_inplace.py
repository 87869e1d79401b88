"""In-place ops under autograd, case by case against torch: values, leaf gradients, retained gradients, and the
same errors where torch raises (a leaf written in place, a saved output overwritten, a view made in no_grad)."""
import numpy as np
import pytest
import torch

import fastnn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
W = RNG.standard_normal((3, 4))
OUT_W = RNG.standard_normal((3, 4))  # weights of the final sum, so every element's gradient differs
MASK = X > 0


def _mask(lib):
    return lib.tensor(MASK)


# Each case: (lib, x, w) -> a (3, 4) tensor to backpropagate from; x and w are float64 leaves of shape (3, 4).
CASES = {
    "iadd_scalar": lambda lib, x, w: _chain(x * 2, lambda y: y.__iadd__(1)),
    "add_tensor_alpha": lambda lib, x, w: (x * 2).add_(w, alpha=0.5),
    "isub": lambda lib, x, w: _chain(x * 2, lambda y: y.__isub__(w)),
    "sub_": lambda lib, x, w: (x * 2).sub_(w, alpha=2),
    "mul_tensor": lambda lib, x, w: (x * 2).mul_(w),
    "imul_scalar": lambda lib, x, w: _chain(x + 1, lambda y: y.__imul__(3.0)),
    "div_tensor": lambda lib, x, w: (x * 2).div_(w * w + 1),
    "div_scalar": lambda lib, x, w: (x * 2).div_(4.0),
    "zero_": lambda lib, x, w: (x * 2).zero_() + w,
    "fill_scalar": lambda lib, x, w: (x * 2).fill_(1.5) * w,
    "fill_tensor": lambda lib, x, w: (x * 2).fill_(w.sum()) * x,
    "copy_": lambda lib, x, w: (x * 2).copy_(w) * x,
    "copy_broadcast": lambda lib, x, w: (x * 2).copy_(w[0]) * x,
    "clamp_": lambda lib, x, w: (x * 2).clamp_(-1.0, 1.0) * w,
    "clamp_min": lambda lib, x, w: (x * 2).clamp_(min=0.0),
    "masked_fill_": lambda lib, x, w: (x * 2).masked_fill_(_mask(lib), 0.5) * w,
    "relu_": lambda lib, x, w: (x * 2 - 0.5).relu_() * w,
    "relu_functional": lambda lib, x, w: lib.relu_(x * w),
    "relu_module": lambda lib, x, w: lib.nn.ReLU(inplace=True)(x * w),
    "add_self": lambda lib, x, w: _chain(x * w, lambda y: y.add_(y)),
    "chain": lambda lib, x, w: (x * 2).add_(w).mul_(w).sub_(1.0),
    "nograd_write_safe_node": lambda lib, x, w: _nograd(lib, x * 2, lambda y: y.add_(1.0)),
    "setitem_row_tensor": lambda lib, x, w: _set(x * 2, 0, w[1]),
    "setitem_col_zero": lambda lib, x, w: _set(x * 2, (slice(None), 0), 0.0),
    "setitem_mask": lambda lib, x, w: _set(x * w, _mask(lib), 0.0),
    "setitem_mask_tensor": lambda lib, x, w: _set(x * 2, _mask(lib), w[_mask(lib)] * 3),
    "setitem_index_list": lambda lib, x, w: _set(x * 2, [0, 2], w[1:3] * 2),
    "setitem_broadcast_value": lambda lib, x, w: _set(x * 2, slice(0, 2), w[2]),
    "setitem_scalar_tensor": lambda lib, x, w: _set(x * 2, (1, 2), w[0, 0] * 5),
    "setitem_through_view": lambda lib, x, w: _via(x * 2, lambda y: _set(y[0], slice(1, None), w[0, :3])),
    "view_select_add": lambda lib, x, w: _via(x * 2, lambda y: y[0].add_(1.0)),
    "view_select_mul_tensor": lambda lib, x, w: _via(x * 2, lambda y: y[1].mul_(w[1])),
    "view_flat_slice_zero": lambda lib, x, w: _via(x * w, lambda y: y.view(-1)[:3].zero_()),
    "view_reshape_add": lambda lib, x, w: _via(x * w, lambda y: y.reshape(2, 6)[1].add_(w.reshape(2, 6)[0])),
    "view_t_mul": lambda lib, x, w: _via(x * w, lambda y: y.t().mul_(2.0)),
    "view_transpose_setitem": lambda lib, x, w: _via(x * w, lambda y: _set(y.transpose(0, 1), 1, w[:, 0])),
    "view_permute_chain": lambda lib, x, w: _via(x * w, lambda y: y.permute(1, 0)[2:].unsqueeze(0).squeeze(0)
                                                   .mul_(w.t()[2:])),
    "view_narrow": lambda lib, x, w: _via(x * 2, lambda y: y.narrow(1, 1, 2).add_(w[:, :2])),
    "view_flatten": lambda lib, x, w: _via((x * w).reshape(3, 2, 2), lambda y: y.flatten(1)[0].add_(1.0))
    .reshape(3, 4),
    "view_twice": lambda lib, x, w: _via(x * 2, lambda y: (y[0].add_(w[0]), y[0].mul_(w[1]))),
    "view_then_base": lambda lib, x, w: _via(x * 2, lambda y: (y[1].add_(w[0]), y.mul_(w))),
    "view_then_out_of_place": lambda lib, x, w: _via(x * 2, lambda y: y[0].add_(1.0)).exp(),
    "view_made_before_base_write": lambda lib, x, w: _stale_view(x, w),
    "setitem_iadd_basic": lambda lib, x, w: _iadd_item(x * 2, (0, 1), w[0, 0]),
    "setitem_iadd_row_of_row": lambda lib, x, w: _via(x * 2, lambda y: y[1].__setitem__(2, y[1][2] + w[1, 1])),
    "setitem_iadd_mask": lambda lib, x, w: _iadd_item(x * w, _mask(lib), 1.0),
    "setitem_iadd_slice_tensor": lambda lib, x, w: _iadd_item(x * 2, (slice(None), 0), w[:, 1]),
    "setitem_from_itself": lambda lib, x, w: _via(x * 2, lambda y: y.__setitem__(0, y[1])),
    "input_written_after_add": lambda lib, x, w: _after(x * 2, lambda y: y + w, lambda y: y.mul_(3.0)),
    "input_written_after_index": lambda lib, x, w: _after(x * w, lambda y: y[1:] + w[1:], lambda y: y.zero_()),
    "input_written_after_view": lambda lib, x, w: _after(x * 2, lambda y: y.t().t(), lambda y: y.mul_(w)),
    "detached_gets_own_graph": lambda lib, x, w: _via(x * 2, lambda y: y.detach().add_(w).mul_(w)) * 1.0,
    "detached_then_base_used": lambda lib, x, w: _detached_own(x, w),
    "input_written_after_mul_scalar": lambda lib, x, w: _after(x * 2, lambda y: y * 3.0, lambda y: y.add_(w)),
    "input_written_after_mul_const": lambda lib, x, w: _after(x * 2, lambda y: lib.tensor(W) * y,
                                                              lambda y: y.mul_(w)),
    "input_written_after_const_mul_chain": lambda lib, x, w: _after(x * 2, lambda y: lib.tensor(W) * y * w,
                                                                   lambda y: y.add_(1.0)),
    "input_written_after_div_scalar": lambda lib, x, w: _after(x * 2, lambda y: y / 4.0, lambda y: y.zero_()),
    "view_of_view_written": lambda lib, x, w: _via(x * 2, lambda y: y[1:][0].zero_()),
    "zeros_setitem_then_add": lambda lib, x, w: _nonleaf_zeros(lib, w),
    "zeros_view_add": lambda lib, x, w: _via(lib.zeros(3, 4, dtype=lib.float64), lambda z: z[1].add_(w[1])) * x,
    "zeros_mul_by_grad": lambda lib, x, w: _chain(lib.ones(3, 4, dtype=lib.float64), lambda z: z.mul_(w)) * x,
    "resnet_block": lambda lib, x, w: _resnet(lib, x, w),
    "linear_then_mask": lambda lib, x, w: _set(lib.nn.functional.linear(x, w.t() @ w), (slice(None), 0), 0.0),
    "bn_relu_inplace": lambda lib, x, w: lib.relu_(lib.nn.functional.batch_norm(x * w, None, None, training=True)),
    "tanh_view_base_read_by_mul": lambda lib, x, w: _via(x * 2, lambda y: y[0].add_(1.0)) * w,
}


def _chain(y, f):
    f(y)
    return y


def _via(y, f):
    f(y)
    return y


def _set(y, idx, value):
    y[idx] = value
    return y


def _stale_view(x, w):
    y = x * 2
    v = y[1:]  # made before the write: its gradient must reach y's newest state
    y.mul_(w)
    return v.sum(0, keepdim=True).expand(3, 4) + y


def _detached_own(x, w):
    y = x * 2
    d = y.detach()
    d.add_(w)  # y's values change, its graph does not; d's graph starts here
    return d * y.detach() + y


def _iadd_item(y, idx, value):
    y[idx] += value  # Python: tmp = y[idx]; tmp += value; y[idx] = tmp
    return y


def _after(y, use, write):
    """A result made from ``y`` by an op that saves no values, then ``y`` written in place: both are used."""
    z = use(y)
    write(y)
    return z * 2 + y.reshape(z.shape) if z.shape == y.shape else z.sum() + y


def _nograd(lib, y, f):
    with lib.no_grad():
        f(y)
    return y


def _nonleaf_zeros(lib, w):
    z = lib.zeros(3, 4, dtype=lib.float64)
    z[0] = w[1]
    z.add_(w)
    return z


def _resnet(lib, x, w):
    F = lib.nn.functional
    x4 = x.reshape(1, 3, 2, 2)
    k = w[:, :1].reshape(3, 1, 1, 1).expand(3, 3, 1, 1)
    identity = x4
    out = F.batch_norm(F.conv2d(x4, k * 1.0), None, None, training=True)
    out += identity
    out = F.relu(out)
    return out.reshape(3, 4)


def _torch_np(t):
    return None if t is None else t.detach().numpy()


def _fastnn_np(t):
    return None if t is None else t.detach().numpy()


def _run(lib, case):
    x = lib.tensor(X.copy(), requires_grad=True)
    w = lib.tensor(W.copy(), requires_grad=True)
    out = case(lib, x, w)
    (out * lib.tensor(OUT_W)).sum().backward()
    return out, x.grad, w.grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_case_matches_torch(name):
    case = CASES[name]
    t_out, t_gx, t_gw = _run(torch, case)
    f_out, f_gx, f_gw = _run(fastnn, case)
    np.testing.assert_allclose(_fastnn_np(f_out), _torch_np(t_out), rtol=1e-10, atol=1e-12)
    for f_g, t_g, who in ((f_gx, t_gx, "x"), (f_gw, t_gw, "w")):
        assert (f_g is None) == (t_g is None), f"{name}: {who}.grad is {f_g} in fastnn, {t_g} in torch"
        if t_g is not None:
            np.testing.assert_allclose(_fastnn_np(f_g), _torch_np(t_g), rtol=1e-10, atol=1e-12, err_msg=who)


# Cases torch refuses: (lib, x, w) -> runs to the error (a backward included); the phrase both messages share.
SAVED_OUTPUT = "modified by an inplace operation"
ERRORS = {
    "leaf_add_": (lambda lib, x, w: x.add_(1.0), "a leaf Variable that requires grad is being used in an in-place"),
    "leaf_iadd": (lambda lib, x, w: x.__iadd__(w), "a leaf Variable that requires grad is being used in an in-place"),
    "leaf_view": (lambda lib, x, w: x.view(-1).add_(1.0), "a view of a leaf Variable that requires grad"),
    "leaf_setitem": (lambda lib, x, w: _set(x, 0, 1.0), "a view of a leaf Variable that requires grad"),
    "leaf_zero_": (lambda lib, x, w: x.zero_(), "a leaf Variable that requires grad is being used in an in-place"),
    "exp_then_iadd": (lambda lib, x, w: _back(_chain(x.exp(), lambda y: y.__iadd__(1.0))), SAVED_OUTPUT),
    "sigmoid_then_mul_": (lambda lib, x, w: _back(x.sigmoid().mul_(2.0)), SAVED_OUTPUT),
    "tanh_then_setitem": (lambda lib, x, w: _back(_set(x.tanh(), 0, 0.0)), SAVED_OUTPUT),
    "relu_then_add_": (lambda lib, x, w: _back(x.relu().add_(w)), SAVED_OUTPUT),
    "softmax_then_zero_": (lambda lib, x, w: _back(x.softmax(1).zero_()), SAVED_OUTPUT),
    "sqrt_then_clamp_": (lambda lib, x, w: _back((x * x + 1).sqrt().clamp_(max=1.2)), SAVED_OUTPUT),
    "exp_view_written": (lambda lib, x, w: _back(_via(x.exp(), lambda y: y[0].add_(1.0))), SAVED_OUTPUT),
    "tanh_flat_view_zero": (lambda lib, x, w: _back(_via(x.tanh(), lambda y: y.view(-1)[:3].zero_())),
                            SAVED_OUTPUT),
    "relu_inplace_twice": (lambda lib, x, w: _back((x * 2).relu_().add_(1.0)), SAVED_OUTPUT),
    "exp_written_under_no_grad": (lambda lib, x, w: _back(_nograd(lib, x.exp(), lambda y: y.zero_())), SAVED_OUTPUT),
    "saved_input_written": (lambda lib, x, w: _saved_input(x, w), SAVED_OUTPUT),
    "mul_self": (lambda lib, x, w: _back(_chain(x * 2, lambda y: y.mul_(y))), SAVED_OUTPUT),
    "view_in_no_grad": (lambda lib, x, w: _nograd_view(lib, x, w), "A view was created in no_grad mode"),
    "int_result": (lambda lib, x, w: lib.arange(4).add_(w[0]), "can't be cast to the desired output type Long"),
    "div_denominator_written": (lambda lib, x, w: _written_after(lib, lambda y: w / (y * y + 1)), SAVED_OUTPUT),
    "div_numerator_written": (lambda lib, x, w: _written_after(lib, lambda y: y / (w * w + 1)), SAVED_OUTPUT),
    "split_output": (lambda lib, x, w: (x * 2).split([1, 3], dim=1)[1].relu_(), "is the output of a function that"),
    "chunk_output": (lambda lib, x, w: (x * 2).chunk(2, dim=1)[1].mul_(3.0), "is the output of a function that"),
    "unbind_output": (lambda lib, x, w: (x * 2).unbind(0)[2].add_(w[0]), "is the output of a function that"),
    "saved_written_through_detach": (lambda lib, x, w: _through_detach(x, w), SAVED_OUTPUT),
    "expanded": (lambda lib, x, w: (x * 2)[:, :1].expand(3, 4).add_(1.0), "more than one element of the written-to"),
}


def _back(y):
    y.sum().backward()


def _saved_input(x, w):
    y = x * 2
    z = y * w  # MulBackward0 saves y for w's gradient
    y.add_(1.0)
    z.sum().backward()


def _through_detach(x, w):
    y = x * 2
    z = y * w
    y.detach().zero_()  # shares y's version counter
    z.sum().backward()


def _written_after(lib, use):
    x = lib.tensor(X.copy(), requires_grad=True)
    y = x * 2
    z = use(y)
    y.add_(1.0)
    z.sum().backward()


def _nograd_view(lib, x, w):
    y = x * 2
    with lib.no_grad():
        v = y[0:2]
    v.add_(w[:2])


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_inplace_error_matches_torch(name):
    case, phrase = ERRORS[name]
    results = []
    for lib in (torch, fastnn):
        x = lib.tensor(X.copy(), requires_grad=True)
        w = lib.tensor(W.copy(), requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            case(lib, x, w)
        results.append(str(info.value))
    assert phrase in results[0], results[0]
    assert phrase in results[1], results[1]


def test_saved_output_message_is_torchs():
    msgs = []
    for lib in (torch, fastnn):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = x.exp()
        y += 1
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_leaf_in_place_allowed_under_no_grad():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    with fastnn.no_grad():
        x.add_(1.0)
        x[0] = 5.0
        x.mul_(fastnn.tensor([2.0, 2.0]))
    assert x.tolist() == [10.0, 6.0] and x.is_leaf and x.requires_grad and x._version == 3


def test_identity_storage_and_aliases():
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    arr, alias = y._data, y[1:]
    out = y.add_(1.0)
    assert out is y and y._data is arr
    assert alias.tolist() == [5.0, 7.0]  # the alias sees the write
    assert _name(y.grad_fn) == "AddBackward0"


@pytest.mark.parametrize("lib", [torch, fastnn], ids=["torch", "fastnn"])
def test_version_counter_is_shared_with_views(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y[0:2]
    assert (y._version, v._version) == (0, 0)
    v.add_(1.0)
    assert (y._version, v._version) == (1, 1)
    y.mul_(2.0)
    assert (y._version, v._version) == (2, 2)
    y[0] = 0.0
    assert (y._version, v._version) == (3, 3)
    assert (y * 1)._version == 0


@pytest.mark.parametrize("through_view", [False, True])
def test_retain_grad_follows_the_newest_version(through_view):
    grads = []
    for lib in (torch, fastnn):
        x = lib.tensor(X.copy(), requires_grad=True)
        y = x * 2
        y.retain_grad()
        if through_view:
            y[0:2].mul_(2.0)
        else:
            y.add_(1.0)
        (y * y).sum().backward()
        grads.append((y.grad.numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0])
    np.testing.assert_allclose(grads[1][1], grads[0][1])


def _name(node):
    return node.name() if callable(node.name) else node.name  # fastnn's Node.name is the string itself


def test_grad_fn_names_match_torch():
    def names(lib):
        x = lib.tensor(X.copy(), requires_grad=True)
        out = []
        y = x * 2
        out.append(_name(y.add_(1.0).grad_fn))
        out.append(_name((x * 2).zero_().grad_fn))
        out.append(_name((x * 2).fill_(1.0).grad_fn))
        out.append(_name((x * 2).copy_(x).grad_fn))
        out.append(_name((x * 2).relu_().grad_fn))
        out.append(_name((x * 2).clamp_(0, 1).grad_fn))
        y = x * 2
        y[0] = 1.0
        out.append(_name(y.grad_fn))
        y = x * 2
        y[_mask(lib)] = 1.0
        out.append(_name(y.grad_fn))
        y = x * 2
        v = y[0]
        v.add_(1.0)
        out += [_name(y.grad_fn), _name(v.grad_fn)]
        return out

    assert names(fastnn) == names(torch)


def test_relu_inplace_really_writes_in_place():
    x = fastnn.tensor([-1.0, 2.0], requires_grad=True)
    y = x * 1
    assert fastnn.nn.functional.relu(y, inplace=True) is y
    assert fastnn.nn.ReLU(inplace=True)(y) is y
    assert y.tolist() == [0.0, 2.0] and y._version == 2
    z = fastnn.tensor([-1.0, 2.0])
    assert fastnn.relu_(z) is z and z.tolist() == [0.0, 2.0]


def test_optimizer_step_still_updates_leaves_in_place():
    p = fastnn.nn.Parameter(fastnn.tensor([1.0, 2.0]))
    opt = fastnn.optim.SGD([p], lr=0.5)
    (p * p).sum().backward()
    arr = p._data
    opt.step()
    assert p._data is arr and p.tolist() == [0.0, 0.0] and p._version == 1


def test_resnet_basic_block_with_inplace_relu_matches_torch():
    """conv -> bn -> ReLU(inplace) -> conv -> bn; out += identity; ReLU(inplace), with nn modules in training
    mode (running statistics updated), against torch: output, input and parameter gradients."""
    def block(nn):
        return nn.ModuleDict({"c1": nn.Conv2d(3, 3, 3, padding=1, bias=False), "b1": nn.BatchNorm2d(3),
                              "c2": nn.Conv2d(3, 3, 3, padding=1, bias=False), "b2": nn.BatchNorm2d(3),
                              "relu": nn.ReLU(inplace=True)})

    def forward(m, x):
        out = m["relu"](m["b1"](m["c1"](x)))
        out = m["b2"](m["c2"](out))
        out += x
        return m["relu"](out)

    tb, fb = block(torch.nn), block(fastnn.nn)
    fb.load_state_dict({k: v.detach().numpy().copy() for k, v in tb.state_dict().items()})
    xs = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    results = []
    for lib, m in ((torch, tb), (fastnn, fb)):
        x = lib.tensor(xs.copy(), requires_grad=True)
        h = x * 1.0  # a non-leaf input, so the block's `out += x` adds a graph tensor
        out = forward(m, h)
        (out * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(out.shape))).sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), m["c1"].weight.grad.numpy(),
                        m["b2"].weight.grad.numpy(), m["b1"].running_mean.detach().numpy()))
    for f, t in zip(results[1], results[0]):
        np.testing.assert_allclose(f, t, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["mul_tensor", "div_tensor", "clamp_", "copy_broadcast", "setitem_mask_tensor",
                                  "setitem_index_list", "setitem_through_view", "view_select_mul_tensor",
                                  "view_transpose_setitem", "view_permute_chain", "setitem_iadd_basic",
                                  "view_made_before_base_write", "fill_tensor", "zeros_view_add"])
def test_inplace_case_gradcheck(name):
    from fastnn.autograd import gradcheck

    x = fastnn.tensor(X + 0.05, requires_grad=True)  # off the clamp's kinks
    w = fastnn.tensor(W, requires_grad=True)
    assert gradcheck(lambda a, b: CASES[name](fastnn, a, b), (x, w))


@pytest.mark.parametrize("kind", ["dropout", "dropout2d", "leaky_relu"])
def test_other_inplace_flags_write_in_place(kind):
    x = fastnn.tensor(RNG.standard_normal((2, 3, 4, 4)), requires_grad=True)
    y = x * 1.0
    arr = y._data
    before = arr.copy()
    if kind == "leaky_relu":
        out = fastnn.nn.LeakyReLU(0.2, inplace=True)(y)
        expected = np.where(before > 0, before, 0.2 * before)
    else:
        fastnn.manual_seed(3)
        out = getattr(fastnn.nn.functional, kind)(y, 0.5, True, inplace=True)
        kept = arr != 0
        expected = np.where(kept, before * 2.0, 0.0)
    assert out is y and y._data is arr and y._version == 1
    np.testing.assert_allclose(arr, expected)
    out.sum().backward()
    slope = np.where(before > 0, 1.0, 0.2) if kind == "leaky_relu" else np.where(kept, 2.0, 0.0)
    np.testing.assert_allclose(x.grad.numpy(), slope)


@pytest.mark.parametrize("lib", [torch, fastnn], ids=["torch", "fastnn"])
def test_view_of_a_parameter_kept_across_an_optimizer_step(lib):
    p = lib.nn.Parameter(lib.tensor(X.copy()))
    v = p.t()  # made before the step's in-place update
    opt = lib.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    opt.zero_grad()
    (v * lib.tensor(W.T.copy())).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), W)
    np.testing.assert_allclose(v.detach().numpy(), (X - 0.2 * X).T)


@pytest.mark.parametrize("kind", ["constant", "non_leaf"])
def test_saved_input_message_is_torchs(kind):
    msgs = []
    for lib in (torch, fastnn):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        if kind == "constant":
            c = lib.tensor([3.0, 4.0])
            y = x * c
            c.add_(1.0)
        else:
            h = x * 2
            y = h * x
            h.add_(1.0)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_writes_into_a_detached_tensor_stay_outside_the_graph():
    x = fastnn.tensor(X.copy(), requires_grad=True)
    y = x * 2
    for write in (lambda d: d.zero_(), lambda d: d.__setitem__(0, 1.0), lambda d: d.add_(1.0), lambda d: d.fill_(2.0)):
        d = y.detach()
        write(d)
        assert not d.requires_grad and d.grad_fn is None
    assert y._version == 4 and y.grad_fn.name == "MulBackward0"


def test_fast_paths_keep_torchs_errors():
    z = fastnn.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        z.add_(fastnn.ones(2, 3))
    with pytest.raises(RuntimeError, match="more than one element"):
        fastnn.ones(1).expand(3).mul_(2.0)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        fastnn.arange(3).add_(0.5)
    i = fastnn.arange(3)
    i += 2
    assert i.tolist() == [2, 3, 4] and i._version == 1
    f = fastnn.ones(3, dtype=fastnn.float32)
    f.mul_(fastnn.tensor([1.0, 2.0, 3.0], dtype=fastnn.float64)).sub_(fastnn.arange(3), alpha=2)
    assert f.tolist() == [1.0, 0.0, -1.0] and f.dtype is fastnn.float32 and f._version == 2
