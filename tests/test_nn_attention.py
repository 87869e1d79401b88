"""nn.MultiheadAttention against torch 2.13 with the same weights: outputs, attention weights, input and
parameter gradients, masks, layouts, errors; and the packed attention op against finite differences.

torch is run with parameters that require grad and grad mode on, so it never takes its inference fast
path (torch._native_multi_head_attention); test_torch_fast_path_agrees checks that path separately."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn.autograd import gradcheck
from fastnn.ops.multihead import packed_multi_head_attention
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
FAST_DTYPE = {np.float32: fastnn.float32, np.float64: fastnn.float64}
TOL = {np.float32: (1e-5, 1e-5), np.float64: (1e-12, 1e-10)}


def make_pair(E, H, dtype=np.float64, seed=0, **kw):
    torch.manual_seed(seed)
    tm = torch.nn.MultiheadAttention(E, H, dtype=TORCH_DTYPE[dtype], **kw)
    fm = nn.MultiheadAttention(E, H, dtype=FAST_DTYPE[dtype], **kw)
    with torch.no_grad():  # non-zero biases, so that their gradients and layout are tested too
        for name, p in tm.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
    fm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, fm


def as_mask(m, lib):
    if m is None:
        return None
    return torch.tensor(m) if lib is torch else fastnn.tensor(m)


def check(tm, fm, q, k=None, v=None, dtype=np.float64, grad_weights=True, **fwd):
    """Runs both modules on the same arrays (k/v None: the query tensor itself, i.e. self-attention; k given
    and v None: key is value), backpropagates the same random cotangents through output and weights, and
    compares everything."""
    rng = np.random.default_rng(1)
    atol, rtol = TOL[dtype]
    results = {}
    for lib, mod in ((torch, tm), (fastnn, fm)):
        mk = (lambda a: torch.tensor(a, requires_grad=True)) if lib is torch else \
             (lambda a: fastnn.tensor(a, requires_grad=True))
        tq = mk(q)
        tk = tq if k is None else mk(k)
        tv = tk if v is None else mk(v)
        kw = {n: (as_mask(m, lib) if "mask" in n else m) for n, m in fwd.items()}
        out, w = mod(tq, tk, tv, **kw)
        results[lib] = (out, w, (tq, tk, tv), mod)
    t_out, t_w, t_in, _ = results[torch]
    f_out, f_w, f_in, _ = results[fastnn]
    assert tuple(f_out.shape) == tuple(t_out.shape)
    assert_close(f_out, t_out.detach().numpy(), atol, rtol, msg="attn_output")
    assert (f_w is None) == (t_w is None)
    g_out = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    t_loss = (t_out * torch.tensor(g_out)).sum()
    f_loss = (f_out * fastnn.tensor(g_out)).sum()
    if t_w is not None:
        assert tuple(f_w.shape) == tuple(t_w.shape)
        assert_close(f_w, t_w.detach().numpy(), atol, rtol, msg="attn_weights")
        if grad_weights:
            g_w = rng.standard_normal(tuple(t_w.shape)).astype(dtype)
            t_loss = t_loss + (t_w.nan_to_num() * torch.tensor(g_w)).sum()
            f_loss = f_loss + (f_w * fastnn.tensor(g_w)).sum()
    t_loss.backward()
    f_loss.backward()
    for name, a, b in zip("qkv", f_in, t_in):
        assert_close(a.grad, b.grad.numpy(), atol, rtol, msg=f"grad {name}")
    f_params = dict(fm.named_parameters())
    assert sorted(f_params) == sorted(n for n, _ in tm.named_parameters())
    for name, p in tm.named_parameters():
        assert_close(f_params[name].grad, p.grad.numpy(), atol, rtol, msg=f"grad {name}")
    return f_out, f_w


def seq(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_self_attention(batch_first, need_weights, average):
    tm, fm = make_pair(12, 3, batch_first=batch_first)
    x = seq((2, 5, 12) if batch_first else (5, 2, 12))
    check(tm, fm, x, need_weights=need_weights, average_attn_weights=average)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("need_weights", [True, False])
def test_dtypes(dtype, need_weights):
    tm, fm = make_pair(16, 4, dtype=dtype, batch_first=True)
    check(tm, fm, seq((3, 7, 16), dtype=dtype), dtype=dtype, need_weights=need_weights)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kv_same", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_cross_attention(batch_first, kv_same, need_weights):
    """Lq != Lk; key is value (one kv projection) or three separate inputs."""
    tm, fm = make_pair(8, 2, batch_first=batch_first)
    shape = (lambda n: (2, n, 8)) if batch_first else (lambda n: (n, 2, 8))
    q, k, v = seq(shape(3), 0), seq(shape(6), 1), None if kv_same else seq(shape(6), 2)
    check(tm, fm, q, k, v, need_weights=need_weights)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_kdim_vdim(batch_first, need_weights):
    tm, fm = make_pair(8, 2, kdim=5, vdim=3, batch_first=batch_first)
    assert list(fm.state_dict()) == list(tm.state_dict()) == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert fm.in_proj_weight is None and fm.k_proj_weight.shape == (8, 5)
    shape = (lambda n, c: (2, n, c)) if batch_first else (lambda n, c: (n, 2, c))
    check(tm, fm, seq(shape(4, 8), 0), seq(shape(6, 5), 1), seq(shape(6, 3), 2), need_weights=need_weights)


def _masks(L, S, N, H, kind, rng):
    drop = rng.random((L, S)) < 0.3
    drop[:, 0] = False  # every query keeps at least one key (no NaN rows)
    if kind == "bool2d":
        return drop
    if kind == "float2d":
        return np.where(drop, -np.inf, rng.standard_normal((L, S)))
    drop3 = rng.random((N * H, L, S)) < 0.3
    drop3[..., 0] = False
    if kind == "bool3d":
        return drop3
    return np.where(drop3, -np.inf, rng.standard_normal((N * H, L, S)))


# Every (attn_mask, key_padding_mask) pair of one mask dtype (mixed dtypes: test_mismatched_mask_types).
MASK_KINDS = [(a, k) for a in (None, "bool2d", "float2d", "bool3d", "float3d") for k in (None, "bool", "float")
              if (a or k) and not (a and k and a.startswith("bool") != (k == "bool"))]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("attn_kind,kpm_kind", MASK_KINDS)
@pytest.mark.parametrize("need_weights", [True, False])
def test_masks(batch_first, attn_kind, kpm_kind, need_weights):
    rng = np.random.default_rng(3)
    N, H, L, E = 2, 2, 5, 8
    tm, fm = make_pair(E, H, batch_first=batch_first)
    attn_mask = None if attn_kind is None else _masks(L, L, N, H, attn_kind, rng)
    kpm = None
    if kpm_kind:
        kpm = np.zeros((N, L), bool)
        kpm[0, -2:] = True
        kpm[1, 1] = True
        if kpm_kind == "float":
            kpm = np.where(kpm, -np.inf, rng.standard_normal((N, L)))
    x = seq((N, L, E) if batch_first else (L, N, E))
    check(tm, fm, x, attn_mask=attn_mask, key_padding_mask=kpm, need_weights=need_weights)


def test_mask_dtypes():
    """A float32 mask serves a float64 query (torch's SDPA route takes it); a float64 mask with a float32
    query is an error, as in torch."""
    tm, fm = make_pair(8, 2)
    kpm = np.zeros((2, 4), np.float32)
    kpm[0, -1] = -np.inf
    check(tm, fm, seq((4, 2, 8)), key_padding_mask=kpm, attn_mask=np.ones((4, 4), np.float32), need_weights=False)
    tm, fm = make_pair(8, 2, dtype=np.float32)
    x = seq((4, 2, 8), dtype=np.float32)
    for lib, m in ((torch, tm), (fastnn, fm)):
        with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float or to match query"):
            m(*(lib.tensor(x),) * 3, attn_mask=lib.tensor(np.zeros((4, 4))), need_weights=False)


def test_mismatched_mask_types_warn_like_torch():
    tm, fm = make_pair(8, 2)
    kpm = np.zeros((2, 4), bool)
    kpm[0, -1] = True
    am = np.triu(np.full((4, 4), -1.5), 1)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        check(tm, fm, seq((4, 2, 8)), key_padding_mask=kpm, attn_mask=am)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("with_kpm", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_is_causal(need_weights, with_kpm, batch_first):
    """is_causal with the causal mask: need_weights=False without padding runs the kernel's causal mode."""
    N, L, E = 2, 6, 8
    tm, fm = make_pair(E, 2, batch_first=batch_first)
    causal = np.triu(np.ones((L, L), bool), 1)
    kpm = None
    if with_kpm:
        kpm = np.zeros((N, L), bool)
        kpm[1, -2:] = True
    check(tm, fm, seq((N, L, E) if batch_first else (L, N, E)), attn_mask=causal, is_causal=True,
          key_padding_mask=kpm, need_weights=need_weights)


def test_is_causal_hint_drops_mask_as_torch():
    """torch trusts the hint: with need_weights=False and no padding the mask's values are not read."""
    tm, fm = make_pair(8, 2)
    not_causal = np.zeros((5, 5), bool)
    check(tm, fm, seq((5, 2, 8)), attn_mask=not_causal, is_causal=True, need_weights=False)


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("masks", [False, True])
def test_unbatched(need_weights, average, masks):
    L, S, E, H = 4, 6, 8, 2
    tm, fm = make_pair(E, H, batch_first=True)  # batch_first has no effect on 2-D input, as in torch
    kw = {}
    if masks:
        kpm = np.zeros(S, bool)
        kpm[-1] = True
        am = np.random.default_rng(0).standard_normal((H, L, S))
        kw = {"key_padding_mask": np.where(kpm, -np.inf, 0.0), "attn_mask": am}
    check(tm, fm, seq((L, E)), seq((S, E), 1), need_weights=need_weights, average_attn_weights=average, **kw)


@pytest.mark.parametrize("need_weights", [True, False])
def test_no_bias(need_weights):
    tm, fm = make_pair(8, 4, bias=False)
    assert list(fm.state_dict()) == list(tm.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    check(tm, fm, seq((3, 2, 8)), need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [True, False])
def test_eval_mode_turns_dropout_off(need_weights):
    tm, fm = make_pair(8, 2, dropout=0.5, batch_first=True)
    tm.eval()
    fm.eval()
    check(tm, fm, seq((2, 4, 8)), need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [True, False])
def test_train_mode_dropout_zero(need_weights):
    tm, fm = make_pair(8, 2, dropout=0.0, batch_first=True)
    assert fm.training
    check(tm, fm, seq((2, 4, 8)), need_weights=need_weights)


def test_add_zero_attn():
    tm, fm = make_pair(8, 2, add_zero_attn=True)
    kpm = np.zeros((2, 4), bool)
    kpm[0, -1] = True
    check(tm, fm, seq((3, 2, 8)), seq((4, 2, 8), 1), key_padding_mask=kpm, attn_mask=np.zeros((3, 4), bool))
    check(tm, fm, seq((3, 2, 8)), need_weights=False)


def test_mask_that_requires_grad():
    tm, fm = make_pair(8, 2)
    am = seq((4, 4), 5)
    t_am, f_am = torch.tensor(am, requires_grad=True), fastnn.tensor(am, requires_grad=True)
    x = seq((4, 2, 8))
    t_out = tm(*(torch.tensor(x),) * 3, attn_mask=t_am, need_weights=False)[0]
    f_out = fm(*(fastnn.tensor(x),) * 3, attn_mask=f_am, need_weights=False)[0]
    t_out.sum().backward()
    f_out.sum().backward()
    assert_close(f_out, t_out.detach().numpy(), 1e-12, 1e-10)
    assert_close(f_am.grad, t_am.grad.numpy(), 1e-12, 1e-10, msg="grad attn_mask")


def test_dropout_in_training():
    """Attention-weight dropout (no torch parity possible): surviving weights are scaled by 1/(1-p), the
    same seed gives the same result, and the need_weights=False route applies it too."""
    _, fm = make_pair(8, 2, dropout=0.5, batch_first=True)
    x = fastnn.tensor(seq((2, 16, 8)), requires_grad=True)
    fm.eval()
    ref_out, ref_w = fm(x, x, x, average_attn_weights=False)
    fm.train()
    fastnn.manual_seed(7)
    out, w = fm(x, x, x, average_attn_weights=False)
    fastnn.manual_seed(7)
    out2, _ = fm(x, x, x, need_weights=False)
    assert_close(out2, out.detach(), 1e-12, 1e-12)
    wd, rd = w.detach().numpy(), ref_w.detach().numpy()
    kept = wd != 0
    assert 0.3 < kept.mean() < 0.7
    assert_close(wd[kept], 2 * rd[kept], 1e-12, 1e-10)
    assert not np.allclose(out.detach().numpy(), ref_out.detach().numpy())
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.abs(x.grad.numpy()).sum() > 0


def test_torch_fast_path_agrees():
    """torch in eval mode without grad (batch_first, even heads, self-attention) runs its fused
    _native_multi_head_attention; fastnn's result agrees with it too (float32)."""
    tm, fm = make_pair(16, 4, dtype=np.float32, batch_first=True)
    tm.eval()
    fm.eval()
    x = seq((3, 6, 16), dtype=np.float32)
    kpm = np.zeros((3, 6), bool)
    kpm[0, -2:] = True
    for need_weights in (True, False):
        with torch.no_grad(), fastnn.no_grad():
            t_out, t_w = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)
            f_out, f_w = fm(*(fastnn.tensor(x),) * 3, key_padding_mask=fastnn.tensor(kpm), need_weights=need_weights)
        assert_close(f_out, t_out.numpy(), 1e-5, 1e-5)
        if need_weights:
            assert_close(f_w, t_w.numpy(), 1e-6, 1e-5)


def test_fully_masked_rows_match_torch():
    """A query with no key left: NaN weights and output with need_weights (softmax of -inf), 0 from the
    fused route (torch's SDPA gives 0 too)."""
    tm, fm = make_pair(8, 2, batch_first=True)
    x = seq((2, 3, 8))
    kpm = np.zeros((2, 3), bool)
    kpm[1] = True
    for need_weights in (True, False):
        t_out, _ = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)
        f_out, _ = fm(*(fastnn.tensor(x),) * 3, key_padding_mask=fastnn.tensor(kpm), need_weights=need_weights)
        assert_close(f_out, t_out.detach().numpy(), 1e-12, 1e-10)


def test_functional_form():
    tm, fm = make_pair(8, 2)
    x, y = seq((3, 2, 8)), seq((5, 2, 8), 1)
    kpm = np.zeros((2, 5), bool)
    kpm[0, -1] = True
    args = lambda m, lib: (m.embed_dim, m.num_heads, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,
                           m.out_proj.weight, m.out_proj.bias)
    t_out, t_w = torch.nn.functional.multi_head_attention_forward(
        torch.tensor(x), torch.tensor(y), torch.tensor(y), *args(tm, torch), key_padding_mask=torch.tensor(kpm))
    f_out, f_w = nn.functional.multi_head_attention_forward(
        fastnn.tensor(x), fastnn.tensor(y), fastnn.tensor(y), *args(fm, fastnn), key_padding_mask=fastnn.tensor(kpm))
    assert_close(f_out, t_out.detach().numpy(), 1e-12, 1e-10)
    assert_close(f_w, t_w.detach().numpy(), 1e-12, 1e-10)


def test_state_dict_repr_and_init():
    tm, fm = make_pair(12, 4, batch_first=True)
    assert list(fm.state_dict()) == list(tm.state_dict())
    assert repr(fm) == repr(tm)
    assert isinstance(fm.out_proj, nn.Linear) and type(fm.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert fm.bias_k is None and fm.bias_v is None and fm.head_dim == 3 and fm._qkv_same_embed_dim
    fastnn.manual_seed(0)
    m = nn.MultiheadAttention(64, 4)
    w = m.in_proj_weight.detach().numpy()
    bound = np.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform_ over the packed (3E, E) weight, as torch
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not m.in_proj_bias.detach().numpy().any() and not m.out_proj.bias.detach().numpy().any()
    fm2 = nn.MultiheadAttention(12, 4, batch_first=True)
    fm2.load_state_dict(tm.state_dict())  # torch tensors load directly
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fm.state_dict().items()})


def _both_raise(make, call=None):
    """Runs make (and call) against torch and fastnn; both must raise the same exception type."""
    caught = []
    for lib, mod in ((torch, torch.nn), (fastnn, nn)):
        with pytest.raises(Exception) as info:
            obj = make(lib, mod)
            if call is not None:
                call(lib, obj)
        caught.append(info)
    assert caught[1].type is caught[0].type, (caught[0].value, caught[1].value)
    return caught[1]


def test_bad_construction():
    err = _both_raise(lambda lib, mod: mod.MultiheadAttention(10, 3))
    assert err.type is AssertionError and "divisible" in str(err.value)
    err = _both_raise(lambda lib, mod: mod.MultiheadAttention(0, 2))
    assert err.type is ValueError and "greater than 0" in str(err.value)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(8, 2, add_bias_kv=True)


def _mha(lib, mod):
    (torch.manual_seed if lib is torch else fastnn.manual_seed)(0)
    return mod.MultiheadAttention(8, 2, dtype=torch.float64 if lib is torch else fastnn.float64)


def _t(lib, shape, dtype=np.float64):
    arr = np.zeros(shape, dtype)
    return torch.tensor(arr) if lib is torch else fastnn.tensor(arr)


@pytest.mark.parametrize("case,expected", [
    (lambda lib, m: m(*(_t(lib, (2, 3, 4, 8)),) * 3), AssertionError),
    (lambda lib, m: m(_t(lib, (3, 2, 8)), _t(lib, (3, 8)), _t(lib, (3, 8))), AssertionError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 6)),) * 3), AssertionError),
    (lambda lib, m: m(_t(lib, (3, 2, 8)), _t(lib, (4, 2, 8)), _t(lib, (5, 2, 8))), AssertionError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 8)),) * 3, attn_mask=_t(lib, (3, 4), bool)), RuntimeError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 8)),) * 3, attn_mask=_t(lib, (5, 3, 3), bool)), RuntimeError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 8)),) * 3, key_padding_mask=_t(lib, (3, 3), bool)), AssertionError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 8)),) * 3, key_padding_mask=_t(lib, (2, 3), np.int64)), AssertionError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 8)),) * 3, is_causal=True), RuntimeError),
    (lambda lib, m: m(*(_t(lib, (3, 2, 8)),) * 3, attn_mask=_t(lib, (1, 3, 3, 3), bool)), AssertionError),
], ids=["4d-query", "kv-rank", "embed-dim", "kv-shapes", "attn-mask-2d", "attn-mask-3d", "kpm-shape",
        "int-mask", "causal-without-mask", "4d-mask"])
def test_bad_input_raises_like_torch(case, expected):
    err = _both_raise(_mha, case)
    assert err.type is expected


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="query must be a Tensor"):
        nn.MultiheadAttention(8, 2)(np.zeros((3, 2, 8)), None, None)


# ---- the packed op on its own: float64 gradcheck -------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("layout", ["packed", "kv", "separate", "shared-slot"])
def test_packed_op_gradcheck(batch_first, layout):
    rng = np.random.default_rng(0)
    N, L, S, H, E = 2, 3, 4, 2, 4

    def src(length, width):
        shape = (N, length, width) if batch_first else (length, N, width)
        return fastnn.tensor(rng.standard_normal(shape), requires_grad=True)

    if layout == "packed":
        sources, slots, mask, causal = (src(L, 3 * E),), ((0, 0), (0, E), (0, 2 * E)), None, True
    elif layout == "kv":
        sources, slots, causal = (src(L, E), src(S, 2 * E)), ((0, 0), (1, 0), (1, E)), False
        mask = np.where(rng.random((N, 1, 1, S)) < 0.3, -np.inf, 0.0)
        mask[..., 0] = 0.0
    elif layout == "separate":
        sources, slots, causal = (src(L, E), src(S, E), src(S, E)), ((0, 0), (1, 0), (2, 0)), False
        mask = rng.random((1, H, L, S)) < 0.8
        mask[..., 0] = True
    else:  # q and k read the same columns: their gradients add up
        sources, slots, mask, causal = (src(L, 2 * E + 1),), ((0, 1), (0, 1), (0, E + 1)), None, False

    def fn(*xs):
        return packed_multi_head_attention(xs, slots, H, E, mask=mask, is_causal=causal, batch_first=batch_first)

    assert gradcheck(fn, sources, eps=1e-6, atol=1e-7, rtol=1e-5)
