"""nn.TransformerDecoderLayer, nn.TransformerDecoder and the full nn.Transformer against torch 2.13 with
the same weights: outputs and every gradient (target, memory / source, parameters) for post-/pre-norm,
both layouts, causal target masks (given, detected or hinted), padding masks and memory masks; the
state_dict layout, Xavier initialisation, the causal-mask helper and torch's errors."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]
ATOL, RTOL = 1e-11, 1e-10
E, H, FF = 8, 2, 16


def copy_weights(tm, fm):
    with torch.no_grad():  # move LayerNorm/bias off their symmetric defaults so every gradient is exercised
        for p in tm.parameters():
            if p.dim() == 1:
                p.add_(torch.empty_like(p).uniform_(-0.3, 0.3))
    assert list(fm.state_dict()) == list(tm.state_dict())
    fm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def decoder_pair(layers=2, final_norm=True, **kw):
    torch.manual_seed(0)
    pair = []
    for lib, dt in ((torch, torch.float64), (fastnn, fastnn.float64)):
        layer = lib.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, dtype=dt, **kw)
        norm = lib.nn.LayerNorm(E, dtype=dt) if final_norm else None
        pair.append(lib.nn.TransformerDecoder(layer, layers, norm=norm))
    copy_weights(*pair)
    return pair


def data(batch_first, T=5, S=7, N=3, seed=0):
    rng = np.random.default_rng(seed)
    shape = (lambda L: (N, L, E)) if batch_first else (lambda L: (L, N, E))
    return rng.standard_normal(shape(T)), rng.standard_normal(shape(S))


def run_pair(tm, fm, inputs, masks=None, **kw):
    masks = masks or {}
    results = []
    for lib, mod in ((torch, tm), (fastnn, fm)):
        xs = [lib.tensor(a, requires_grad=True) for a in inputs]
        ms = {k: None if v is None else lib.tensor(v) for k, v in masks.items()}
        out = mod(*xs, **ms, **kw)
        g = np.random.default_rng(5).standard_normal(tuple(out.shape))
        (out * lib.tensor(g)).sum().backward()
        results.append((out, xs, dict(mod.named_parameters())))
    (to, txs, tps), (fo, fxs, fps) = results
    assert_close(fo, to.detach().numpy(), ATOL, RTOL, msg="output")
    for i, (a, b) in enumerate(zip(fxs, txs)):
        assert_close(a.grad, b.grad.numpy(), ATOL, RTOL, msg=f"grad of input {i}")
    assert list(fps) == list(tps)
    for name, p in tps.items():
        assert_close(fps[name].grad, p.grad.numpy(), ATOL, RTOL, msg=f"grad {name}")


def causal(T):
    return nn.Transformer.generate_square_subsequent_mask(T, dtype=fastnn.float64).numpy()


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder(norm_first, batch_first, activation):
    tm, fm = decoder_pair(norm_first=norm_first, batch_first=batch_first, activation=activation)
    run_pair(tm, fm, data(batch_first), {"tgt_mask": causal(5)})


@pytest.mark.parametrize("tgt_is_causal", [None, True])
def test_decoder_masks(tgt_is_causal):
    tm, fm = decoder_pair(batch_first=True)
    tgt_kpm = np.zeros((3, 5))  # float, as the causal tgt_mask (torch warns about mixing mask types)
    tgt_kpm[1, -1] = -np.inf
    mem_kpm = np.zeros((3, 7), bool)
    mem_kpm[0, -3:] = True
    mem_mask = np.random.default_rng(3).random((5, 7)) < 0.2
    mem_mask[:, 0] = False
    run_pair(tm, fm, data(True), {"tgt_mask": causal(5), "tgt_key_padding_mask": tgt_kpm,
                                  "memory_key_padding_mask": mem_kpm, "memory_mask": mem_mask},
             tgt_is_causal=tgt_is_causal)


def test_decoder_without_final_norm_and_single_layer_unbatched():
    tm, fm = decoder_pair(layers=1, final_norm=False)
    tgt, mem = data(False)
    run_pair(tm, fm, (tgt[:, 0], mem[:, 0]))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer(batch_first, norm_first):
    torch.manual_seed(0)
    tm = torch.nn.Transformer(E, H, 2, 2, FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first,
                              dtype=torch.float64)
    fm = nn.Transformer(E, H, 2, 2, FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first,
                        dtype=fastnn.float64)
    copy_weights(tm, fm)
    tgt, src = data(batch_first)
    src_kpm = np.zeros((3, 7), bool)
    src_kpm[2, -2:] = True
    run_pair(tm, fm, (src, tgt), {"tgt_mask": causal(5), "src_key_padding_mask": src_kpm,
                                  "memory_key_padding_mask": src_kpm})


def test_transformer_init_layout_and_errors():
    fastnn.manual_seed(0)
    m = nn.Transformer(16, 4, 1, 1, 32)
    t = torch.nn.Transformer(16, 4, 1, 1, 32)
    assert list(m.state_dict()) == list(t.state_dict())
    for (name, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape), name
        if p.dim() > 1:  # Xavier-uniform: bounded by sqrt(6 / (fan_in + fan_out))
            bound = np.sqrt(6.0 / (p.shape[0] + p.shape[1]))
            assert np.abs(p.detach().numpy()).max() <= bound + 1e-7 and p.detach().numpy().std() > bound / 4, name
    assert_close(nn.Transformer.generate_square_subsequent_mask(4),
                 torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(fastnn.ones(3, 2, 16), fastnn.ones(3, 4, 16))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        m(fastnn.ones(3, 2, 8), fastnn.ones(3, 2, 8))
