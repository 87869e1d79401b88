"""nn.functional's pad, normalize, one_hot, cosine_similarity, pairwise_distance, pdist, embedding_bag (+
nn.EmbeddingBag), attention dropout and the dropout variants, against torch (values, gradients, errors),
with float64 gradchecks; random ops are checked statistically and for reproducibility under manual_seed."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import fastnn
import fastnn.nn.functional as F
from op_helpers import assert_close, gradcheck_op, noncontiguous

RNG = np.random.default_rng(3)


def _check(ff, tf, arrays, dtype=np.float64, atol=1e-10, rtol=1e-8, grad=True):
    Fs = [fastnn.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    Ts = [torch.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    of, ot = ff(*Fs), tf(*Ts)
    assert tuple(of.shape) == tuple(ot.shape)
    assert_close(of, ot.detach().numpy(), atol=atol, rtol=rtol)
    if grad and ot.numel():
        w = RNG.standard_normal(tuple(ot.shape)).astype(dtype)
        (of * fastnn.tensor(w)).sum().backward()
        (ot * torch.tensor(w)).sum().backward()
        for f, t in zip(Fs, Ts):
            assert_close(f.grad, t.grad.numpy(), atol=atol, rtol=rtol)


PADS = [
    ("constant", (2, 3), (1, 2)), ("constant", (2, 3, 4), (1, 0, 2, 1, 0, 3)), ("constant", (2, 3), (-1, 1)),
    ("constant", (1, 2, 3, 4), (1, 1)), ("constant", (0, 3), (1, 1, 1, 1)), ("constant", (2, 3, 4, 2, 2), (1,) * 10),
    ("reflect", (2, 5), (2, 3)), ("reflect", (2, 3, 5), (2, 3)), ("reflect", (2, 4, 5), (1, 2, 3, 1)),
    ("reflect", (1, 2, 3, 4, 5), (1, 1, 2, 2, 1, 0)), ("reflect", (1, 2, 3), (-1, 2)),
    ("replicate", (2, 3), (3, 4)), ("replicate", (2, 3, 4), (1, 2, 3, 4)), ("replicate", (1, 2, 2, 3, 4), (1,) * 6),
    ("replicate", (1, 2, 3), (-1, 2)),
    ("circular", (2, 4), (2, 3)), ("circular", (1, 2, 3, 4), (1, 2, 3, 1)), ("circular", (1, 2, 3, 4, 5), (1,) * 6),
    ("circular", (1, 2, 3), (-1, 2)),
    ("circular", (1, 2, 120), (70, 70)), ("replicate", (1, 2, 5), (70, 3)),  # > 64 re-read positions: the GEMM
]


@pytest.mark.parametrize("mode,shape,pads", PADS, ids=[f"{m}{s}{p}" for m, s, p in PADS])
def test_pad_matches_torch(mode, shape, pads):
    x = RNG.standard_normal(shape)
    _check(lambda t: F.pad(t, pads, mode=mode), lambda t: TF.pad(t, pads, mode=mode), [x])


def test_pad_value_float32_noncontiguous_gradcheck_errors():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    assert_close(F.pad(noncontiguous(x), (1, 2), value=7.5), TF.pad(torch.tensor(x), (1, 2), value=7.5).numpy())
    assert F.pad(fastnn.ones(2, 2, dtype=fastnn.int64), (1, 1)).dtype is fastnn.int64
    for mode in ("constant", "reflect", "replicate", "circular"):
        gradcheck_op(lambda t: F.pad(t, (2, 1, 1, 2), mode=mode), (1, 3, 4))
    x = fastnn.ones(1, 2, 3)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal to two times"):
        F.pad(x, (1,) * 8)
    with pytest.raises(RuntimeError, match=r"Padding size should be less than the corresponding input dimension, "
                                           r"but got: padding \(3, 3\) at dimension 2 of input \[1, 2, 3\]"):
        F.pad(x, (3, 3), mode="reflect")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(x, (4, 2), mode="circular")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input tensor"):
        F.pad(fastnn.ones(3), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(RuntimeError, match="doesn't take in value argument"):
        F.pad(x, (1, 1), mode="reflect", value=1.0)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1), (float("inf"), 1)])
def test_normalize(p, dim):
    x = RNG.standard_normal((3, 4, 2))
    _check(lambda t: F.normalize(t, p=p, dim=dim), lambda t: TF.normalize(t, p=p, dim=dim), [x])


def test_normalize_zero_rows_and_gradcheck():
    x = np.zeros((2, 3))
    x[1] = [1.0, 2.0, 3.0]
    _check(lambda t: F.normalize(t), lambda t: TF.normalize(t), [x])
    _check(lambda t: F.normalize(t, eps=10.0), lambda t: TF.normalize(t, eps=10.0), [x])
    _check(lambda t: F.normalize(t, p=1.2, dim=0), lambda t: TF.normalize(t, p=1.2, dim=0), [np.array(-0.7)])
    _check(lambda a, b: F.cosine_similarity(a, b, dim=0), lambda a, b: TF.cosine_similarity(a, b, dim=0),
           [np.array(0.5), np.array(-2.0)])
    gradcheck_op(lambda t: F.normalize(t, dim=0), (3, 4))
    gradcheck_op(lambda t: F.normalize(t, p=3.0), (3, 4))


@pytest.mark.parametrize("sa,sb,dim", [((3, 4), (3, 4), 1), ((3, 4), (4,), -1), ((2, 3, 4), (1, 3, 4), 0),
                                       ((5,), (5,), 0)])
def test_cosine_similarity_pairwise_distance(sa, sb, dim):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    _check(lambda x, y: F.cosine_similarity(x, y, dim=dim), lambda x, y: TF.cosine_similarity(x, y, dim=dim), [a, b])
    for p in (2.0, 1.0, 3.0):
        _check(lambda x, y: F.pairwise_distance(x, y, p=p), lambda x, y: TF.pairwise_distance(x, y, p=p), [a, b])
    _check(lambda x, y: F.pairwise_distance(x, y, keepdim=True),
           lambda x, y: TF.pairwise_distance(x, y, keepdim=True), [a, b])


def test_similarity_zero_vectors_and_gradcheck():
    a = np.zeros((2, 3))
    b = RNG.standard_normal((2, 3))
    _check(F.cosine_similarity, TF.cosine_similarity, [a, b])
    gradcheck_op(F.cosine_similarity, (3, 4), (3, 4))
    gradcheck_op(F.pairwise_distance, (3, 4), (3, 4))
    gradcheck_op(F.pdist, (4, 3))


@pytest.mark.parametrize("shape", [(5, 3), (1, 4), (2, 3), (6, 1)])
@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, float("inf")])
def test_pdist(shape, p):
    _check(lambda x: F.pdist(x, p), lambda x: TF.pdist(x, p), [RNG.standard_normal(shape)])


def test_pdist_errors():
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(fastnn.ones(3, 4, 2))


def test_one_hot():
    for vals, n in [([0, 2, 1], -1), ([[1, 0], [3, 2]], 5), ([], 3), (4, -1)]:
        ref = TF.one_hot(torch.tensor(vals, dtype=torch.int64), n)
        out = F.one_hot(fastnn.tensor(vals, dtype=fastnn.int64), n)
        assert out.dtype is fastnn.int64
        assert_close(out, ref.numpy())
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(fastnn.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(fastnn.tensor([1, 2]), 2)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor of type LongTensor."):
        F.one_hot(fastnn.tensor([1.0, 2.0]))


BAGS = [
    dict(input=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 4]),
    dict(input=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 0, 3, 8]),  # empty bags at the ends
    dict(input=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 3, 8], include_last_offset=True),
    dict(input=[[1, 2, 4], [4, 3, 9]]),
    dict(input=[1, 0, 4, 0, 4, 3], offsets=[0, 2, 3], padding_idx=0),
    dict(input=[0, 0, 2, 5], offsets=[0, 2], padding_idx=0),  # a bag of padding only
    dict(input=[3, 3, 3, 1], offsets=[0, 1]),
]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", range(len(BAGS)))
def test_embedding_bag_matches_torch(case, mode):
    kw = dict(BAGS[case])
    inp = kw.pop("input")
    offs = kw.pop("offsets", None)
    w = RNG.standard_normal((10, 3))
    _check(lambda t: F.embedding_bag(fastnn.tensor(inp), t, None if offs is None else fastnn.tensor(offs), mode=mode,
                                     **kw),
           lambda t: TF.embedding_bag(torch.tensor(inp), t, None if offs is None else torch.tensor(offs), mode=mode,
                                      **kw), [w])


def test_embedding_bag_per_sample_weights_freq_and_gradcheck():
    inp, offs = [1, 2, 4, 4, 3, 2], [0, 2, 2]
    w, psw = RNG.standard_normal((6, 3)), RNG.standard_normal(6)
    _check(lambda t, s: F.embedding_bag(fastnn.tensor(inp), t, fastnn.tensor(offs), mode="sum", per_sample_weights=s),
           lambda t, s: TF.embedding_bag(torch.tensor(inp), t, torch.tensor(offs), mode="sum", per_sample_weights=s),
           [w, psw])
    # scale_grad_by_freq divides each row's gradient by its count in the batch (as F.embedding does; torch
    # 2.13's embedding_bag CPU kernel applies the counts to the wrong rows, so it is not the reference here).
    t = fastnn.tensor(w, requires_grad=True)
    F.embedding_bag(fastnn.tensor(inp), t, fastnn.tensor(offs), mode="sum", scale_grad_by_freq=True).sum().backward()
    assert_close(t.grad, np.array([0, 1, 1, 1, 1, 0.0])[:, None] * np.ones((1, 3)))
    idx, off = fastnn.tensor(inp), fastnn.tensor(offs)
    for mode in ("sum", "mean", "max"):
        gradcheck_op(lambda t: F.embedding_bag(idx, t, off, mode=mode), (6, 3))
    gradcheck_op(lambda t, s: F.embedding_bag(idx, t, off, mode="sum", per_sample_weights=s), (6, 3), (6,))
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(idx, fastnn.ones(6, 3), off, mode="max", per_sample_weights=fastnn.ones(6))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(idx, fastnn.ones(6, 3), fastnn.tensor([1, 2]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(idx, fastnn.ones(6, 3))
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding_bag(fastnn.tensor([[7]]), fastnn.ones(6, 3))


def test_embedding_bag_module():
    fastnn.manual_seed(0)
    bag = fastnn.nn.EmbeddingBag(10, 4, mode="sum", padding_idx=2)
    assert np.all(np.asarray(bag.weight.detach())[2] == 0)
    tbag = torch.nn.EmbeddingBag(10, 4, mode="sum", padding_idx=2)
    with torch.no_grad():
        tbag.weight.copy_(torch.tensor(np.asarray(bag.weight.detach())))
    inp, offs = [1, 2, 4, 5, 4], [0, 2]
    out = bag(fastnn.tensor(inp), fastnn.tensor(offs))
    ref = tbag(torch.tensor(inp), torch.tensor(offs))
    assert_close(out, ref.detach().numpy(), atol=1e-6, rtol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    assert_close(bag.weight.grad, tbag.weight.grad.numpy(), atol=1e-6, rtol=1e-6)
    assert repr(bag) == repr(tbag)
    pre = fastnn.nn.EmbeddingBag.from_pretrained(fastnn.ones(3, 2), mode="max")
    assert not pre.weight.requires_grad


def _qkv(shape=(2, 3, 16, 8)):
    return [fastnn.tensor(RNG.standard_normal(shape).astype(np.float64), requires_grad=True) for _ in range(3)]


def test_attention_dropout_statistics_seed_and_gradient():
    q, k, v = _qkv()
    fastnn.manual_seed(1)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    fastnn.manual_seed(1)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    assert_close(a, np.asarray(b.detach()))
    ref = F.scaled_dot_product_attention(q, k, v)
    assert np.abs(np.asarray(a.detach()) - np.asarray(ref.detach())).max() > 1e-3
    # E[dropout(P)] = P: the mean over many draws approaches the dropout-free output.
    with fastnn.no_grad():
        mean = sum(np.asarray(F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)) for _ in range(300)) / 300
    assert np.abs(mean - np.asarray(ref.detach())).max() < 0.15
    zero = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert np.all(np.asarray(zero.detach()) == 0)
    # the gradient is the one of the same masked computation: dropout_p=1 gives zero gradients to q, k, v
    zero.sum().backward()
    assert np.all(np.asarray(q.grad) == 0) and np.all(np.asarray(v.grad) == 0)
    # with a fixed mask (the seed reset before each evaluation) the composite path passes gradcheck
    def fn(x, y, z):
        fastnn.manual_seed(5)
        return F.scaled_dot_product_attention(x, y, z, dropout_p=0.4, is_causal=True)
    gradcheck_op(fn, (1, 3, 4), (1, 5, 4), (1, 5, 2))

    def masked(x, y, z):
        fastnn.manual_seed(5)
        return F.scaled_dot_product_attention(x, y, z, attn_mask=fastnn.tensor(RNG_MASK), dropout_p=0.2)
    gradcheck_op(masked, (3, 4), (5, 4), (5, 2))


RNG_MASK = np.random.default_rng(0).standard_normal((3, 5))


def test_attention_dropout_masks_match_fused_path_at_p_tiny():
    # A dropout probability so small that no element is dropped (1 - 1e-9 scale): the composite path must equal
    # the fused kernel for bool, float and causal masks, including a row with no key.
    q, k, v = _qkv((2, 4, 8))
    bmask = np.ones((4, 4), bool)
    bmask[1] = False
    for kw in [dict(is_causal=True), dict(attn_mask=fastnn.tensor(bmask)),
               dict(attn_mask=fastnn.tensor(RNG.standard_normal((4, 4))))]:
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=1e-12, **kw)
        b = F.scaled_dot_product_attention(q, k, v, **kw)
        assert_close(a, np.asarray(b.detach()), atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("fn,shape,dims", [(F.dropout1d, (20, 30, 40), (0, 1)), (F.dropout1d, (30, 40), (0,)),
                                           (F.dropout3d, (4, 30, 5, 6, 7), (0, 1)), (F.dropout3d, (30, 2, 3, 4), (0,))])
def test_channel_dropout(fn, shape, dims):
    x = fastnn.ones(*shape)
    fastnn.manual_seed(0)
    y = np.asarray(fn(x, 0.4))
    ch = y.reshape(y.shape[:len(dims)] + (-1,))
    assert np.all((ch == 0).all(-1) | (np.abs(ch - 1 / 0.6) < 1e-6).all(-1))  # whole channels kept or dropped
    frac = (ch[..., 0] == 0).mean()
    assert 0.25 < frac < 0.55
    assert fn(x, 0.4, training=False) is x
    with pytest.raises(RuntimeError, match="Expected"):
        fn(fastnn.ones(3), 0.5)


def test_alpha_dropout_keeps_selu_statistics_and_modules():
    fastnn.manual_seed(0)
    x = fastnn.randn(200000)
    y = np.asarray(F.alpha_dropout(x, 0.2, training=True))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    assert F.alpha_dropout(x, 0.2) is x  # training=False is the default, as torch
    a2 = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    dropped = np.isclose(y, -1.7580993408473766 * a2 + 1.7580993408473766 * a2 * 0.2)  # a * (-alpha') + b
    assert 0.17 < dropped.mean() < 0.23
    fastnn.manual_seed(0)
    z = np.asarray(F.feature_alpha_dropout(fastnn.randn(50, 40, 6), 0.3, training=True))
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    const = -1.7580993408473766 * a + 1.7580993408473766 * a * 0.3
    per_channel_const = np.isclose(z, const).all(-1)
    assert 0.25 < per_channel_const.mean() < 0.35
    t = fastnn.tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    fastnn.manual_seed(3)
    F.alpha_dropout(t, 0.5, training=True).sum().backward()
    a5 = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.5 + 1) * 0.5)
    assert set(np.round(np.unique(np.asarray(t.grad)), 6)) <= {0.0, round(a5, 6)}
    for cls, tcls in [(fastnn.nn.Dropout1d, torch.nn.Dropout1d), (fastnn.nn.Dropout3d, torch.nn.Dropout3d),
                      (fastnn.nn.AlphaDropout, torch.nn.AlphaDropout),
                      (fastnn.nn.FeatureAlphaDropout, torch.nn.FeatureAlphaDropout)]:
        m = cls(0.3)
        assert repr(m) == repr(tcls(0.3))
        m.eval()
        inp = fastnn.ones(2, 3, 4, 5, 6) if cls is not fastnn.nn.Dropout1d else fastnn.ones(2, 3, 4)
        assert m(inp) is inp


def test_padding_and_distance_modules():
    x = RNG.standard_normal((1, 2, 4, 5, 6))
    specs = [("ReflectionPad2d", (1,)), ("ConstantPad2d", ((1, 2, 3, 4), 3.5)), ("ZeroPad2d", (2,)),
             ("ReplicationPad1d", ((1, 2),)), ("CircularPad3d", (1,)), ("ZeroPad1d", (1,)), ("ReflectionPad3d", (1,)),
             ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),)), ("ConstantPad1d", (2, -1.0)), ("CircularPad1d", (2,)),
             ("ConstantPad3d", (1, 0.5)), ("ReflectionPad1d", (2,)), ("ReplicationPad2d", (1,)),
             ("CircularPad2d", (1,)), ("ZeroPad3d", (1,))]
    for name, args in specs:
        m, tm = getattr(fastnn.nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(m) == repr(tm)
        dims = int(name[-2])
        inp = {1: x[0, :, 0, 0], 2: x[0, :, 0], 3: x[0]}[dims]  # (C, W), (C, H, W), (C, D, H, W)
        _check(m, tm, [inp])
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    for cls, kw in [("PairwiseDistance", {}), ("PairwiseDistance", {"p": 1.0, "keepdim": True}),
                    ("CosineSimilarity", {}), ("CosineSimilarity", {"dim": 0})]:
        m, tm = getattr(fastnn.nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
        assert repr(m) == repr(tm)
        _check(m, tm, [a, b])
