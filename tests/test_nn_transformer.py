"""nn.TransformerEncoderLayer / nn.TransformerEncoder against torch 2.13 with the same weights: outputs,
input and parameter gradients for post-/pre-norm, relu/gelu/callable activations, both layouts, padding
and causal masks; state_dict keys, deep-copied layers, errors.

torch runs with parameters that require grad and grad mode on, so neither its fused encoder-layer op nor
its nested-tensor path is taken; test_torch_inference_fast_path shows where that path differs (it returns
0 at padded positions)."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn.nn.transformer import generate_square_subsequent_mask
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
FAST_DTYPE = {np.float32: fastnn.float32, np.float64: fastnn.float64}
TOL = {np.float32: (2e-5, 1e-5), np.float64: (1e-11, 1e-10)}


def _activation(spec, lib):
    if spec == "module-gelu":
        return lib.nn.GELU()
    if spec == "lambda-tanh":
        return (lambda x: torch.tanh(x)) if lib is torch else (lambda x: fastnn.tanh(x))
    return spec


def make_pair(d_model=8, nhead=2, ff=16, num_layers=2, dtype=np.float64, final_norm=True, dropout=0.0, **kw):
    torch.manual_seed(0)
    act = kw.pop("activation", "relu")
    mods = []
    for lib in (torch, fastnn):
        dt = TORCH_DTYPE[dtype] if lib is torch else FAST_DTYPE[dtype]
        layer = lib.nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=dropout, activation=_activation(act, lib),
                                               dtype=dt, **kw)
        norm = lib.nn.LayerNorm(d_model, dtype=dt) if final_norm else None
        extra = {"enable_nested_tensor": False} if lib is torch else {}
        mods.append(lib.nn.TransformerEncoder(layer, num_layers, norm=norm, **extra))
    tm, fm = mods
    with torch.no_grad():  # break the symmetry of default LayerNorm/bias init so every gradient is exercised
        for name, p in tm.named_parameters():
            if p.dim() == 1:
                p.add_(torch.empty_like(p).uniform_(-0.3, 0.3))
    fm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, fm


def run_both(tm, fm, x, dtype=np.float64, mask_kw=None, **kw):
    mask_kw = mask_kw or {}
    atol, rtol = TOL[dtype]
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    outs = []
    for lib, mod in ((torch, tm), (fastnn, fm)):
        tx = (torch.tensor if lib is torch else fastnn.tensor)(x, requires_grad=True)
        masks = {k: None if v is None else (torch.tensor if lib is torch else fastnn.tensor)(v)
                 for k, v in mask_kw.items()}
        out = mod(tx, **masks, **kw)
        (out * (torch.tensor if lib is torch else fastnn.tensor)(g)).sum().backward()
        outs.append((out, tx))
    (t_out, t_x), (f_out, f_x) = outs
    assert_close(f_out, t_out.detach().numpy(), atol, rtol, msg="output")
    assert_close(f_x.grad, t_x.grad.numpy(), atol, rtol, msg="grad src")
    f_params = dict(fm.named_parameters())
    assert list(f_params) == [n for n, _ in tm.named_parameters()]
    for name, p in tm.named_parameters():
        assert_close(f_params[name].grad, p.grad.numpy(), atol, rtol, msg=f"grad {name}")
    return f_out


def src(batch_first, N=3, L=6, E=8, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal((N, L, E) if batch_first else (L, N, E)).astype(dtype)


def padding(N=3, L=6, kind="bool"):
    kpm = np.zeros((N, L), bool)
    kpm[0, -2:] = True
    kpm[2, -1] = True
    return kpm if kind == "bool" else np.where(kpm, -np.inf, 0.0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kpm", [None, "bool", "float"])
def test_encoder(norm_first, activation, batch_first, kpm):
    tm, fm = make_pair(norm_first=norm_first, activation=activation, batch_first=batch_first)
    run_both(tm, fm, src(batch_first), mask_kw={"src_key_padding_mask": None if kpm is None else padding(kind=kpm)})


@pytest.mark.parametrize("activation", ["module-gelu", "lambda-tanh"])
def test_callable_activation(activation):
    tm, fm = make_pair(activation=activation, batch_first=True)
    assert fm.layers[0].activation_relu_or_gelu == tm.layers[0].activation_relu_or_gelu
    run_both(tm, fm, src(True), mask_kw={"src_key_padding_mask": padding()})


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_kpm", [False, True])
@pytest.mark.parametrize("is_causal", [None, True])
def test_causal_mask(batch_first, with_kpm, is_causal):
    """The causal float mask: detected (is_causal=None) or hinted; with padding the masks are merged."""
    tm, fm = make_pair(batch_first=batch_first, norm_first=True)
    masks = {"mask": generate_square_subsequent_mask(6, dtype=fastnn.float64).numpy(),
             "src_key_padding_mask": padding(kind="float") if with_kpm else None}
    run_both(tm, fm, src(batch_first), mask_kw=masks, is_causal=is_causal)


@pytest.mark.parametrize("kind", ["bool", "float", "float3d"])
def test_src_mask(kind):
    rng = np.random.default_rng(2)
    drop = rng.random((6, 6)) < 0.3
    np.fill_diagonal(drop, False)
    mask = {"bool": drop, "float": np.where(drop, -np.inf, rng.standard_normal((6, 6))),
            "float3d": rng.standard_normal((3 * 2, 6, 6))}[kind]
    kpm = padding(kind="bool" if kind == "bool" else "float")
    tm, fm = make_pair()
    run_both(tm, fm, src(False), mask_kw={"mask": mask, "src_key_padding_mask": kpm})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_and_no_final_norm(dtype):
    tm, fm = make_pair(d_model=16, nhead=4, ff=32, dtype=dtype, final_norm=False, batch_first=True)
    run_both(tm, fm, src(True, E=16, dtype=dtype), dtype=dtype, mask_kw={"src_key_padding_mask": padding()})


def test_eval_mode_with_dropout_and_train_mode_without():
    tm, fm = make_pair(dropout=0.3, batch_first=True)
    tm.eval()
    fm.eval()
    run_both(tm, fm, src(True), mask_kw={"src_key_padding_mask": padding()})
    tm, fm = make_pair(dropout=0.0, batch_first=True)
    assert fm.training and fm.layers[1].self_attn.training
    run_both(tm, fm, src(True))


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_alone_unbatched_and_no_bias(norm_first):
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, bias=False,
                                          dtype=torch.float64)
    fl = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, bias=False, dtype=fastnn.float64)
    assert list(fl.state_dict()) == list(tl.state_dict())
    fl.load_state_dict(tl.state_dict())
    kpm = np.zeros(5, bool)
    kpm[-1] = True
    run_both(tl, fl, np.random.default_rng(0).standard_normal((5, 8)), mask_kw={"src_key_padding_mask": kpm})


def test_state_dict_and_deep_copies():
    tm, fm = make_pair(num_layers=3, norm_first=True)
    keys = list(fm.state_dict())
    assert keys == list(tm.state_dict())
    assert keys[:4] == ["layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias",
                        "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias"]
    assert len(fm.layers) == 3 and fm.num_layers == 3
    ids = {id(p) for p in fm.parameters()}
    assert len(ids) == len(list(fm.parameters())) == len(list(tm.parameters()))
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 2)
    assert enc.layers[0].linear1.weight is not layer.linear1.weight
    np.testing.assert_array_equal(enc.layers[1].linear1.weight.detach().numpy(),
                                  layer.linear1.weight.detach().numpy())
    assert enc.norm is None
    # the torch module loads the fastnn state_dict back
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fm.state_dict().items()})


def test_repr_of_layer_matches_torch():
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16)
    fl = nn.TransformerEncoderLayer(8, 2, 16)
    assert repr(fl) == repr(tl)


def test_dropout_in_training_is_random_and_seeded():
    _, fm = make_pair(dropout=0.5, batch_first=True)
    x = fastnn.tensor(src(True))
    fastnn.manual_seed(3)
    a = fm(x).detach().numpy()
    fastnn.manual_seed(3)
    b = fm(x).detach().numpy()
    c = fm(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    fm.eval()
    assert not np.allclose(a, fm(x).detach().numpy())


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")
def test_torch_inference_fast_path():
    """torch in eval mode without grad runs nested tensors when given a padding mask: padded positions
    come back as 0 there. fastnn computes them like torch's training path; the rest agrees."""
    tm, fm = make_pair(dtype=np.float32, batch_first=True, final_norm=False)  # a final norm maps torch's 0 rows
    tm.use_nested_tensor = True
    tm.eval()
    fm.eval()
    x, kpm = src(True, dtype=np.float32), padding()
    with torch.no_grad(), fastnn.no_grad():
        t_out = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).numpy()
        f_out = fm(fastnn.tensor(x), src_key_padding_mask=fastnn.tensor(kpm)).numpy()
    assert_close(f_out[~kpm], t_out[~kpm], 2e-5, 1e-5)
    assert not t_out[kpm].any()


def test_generate_square_subsequent_mask():
    for dtype, t_dtype in ((None, None), (fastnn.float64, torch.float64)):
        ours = generate_square_subsequent_mask(5, dtype=dtype)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=t_dtype)
        assert ours.dtype == (dtype or fastnn.float32)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_errors_like_torch():
    for lib in (torch, fastnn):
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            lib.nn.TransformerEncoderLayer(8, 2, activation="tanh")
        with pytest.raises(AssertionError, match="divisible"):
            lib.nn.TransformerEncoderLayer(9, 2)
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(AssertionError, match="embedding dimension of 8, but got 6"):
        layer(fastnn.zeros(4, 2, 6))
    with pytest.raises(AssertionError, match="only bool and floating types of src_key_padding_mask"):
        layer(fastnn.zeros(4, 2, 8), src_key_padding_mask=fastnn.zeros(2, 4, dtype=fastnn.int64))
    with pytest.raises(TypeError, match="src must be a Tensor"):
        nn.TransformerEncoder(layer, 1)(np.zeros((4, 2, 8)))
