"""The recurrent layers under CPU bf16 autocast, against torch's: LSTM, RNN and RNNCell return bfloat16 (torch's
oneDNN RNN layer is on its lower-precision list, its RNNCell is built of linears), GRU, LSTMCell and GRUCell
float32; values within bfloat16's rounding, float32 gradients for the float32 weights."""
import numpy as np
import pytest
import torch

import fastnn


def _pair(name, **kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(3, 5, **kw)
    fm = getattr(fastnn.nn, name)(3, 5, **kw)
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, fm


def _dtypes(out):
    flat = []
    for o in (out if isinstance(out, tuple) else (out,)):
        flat.extend(o if isinstance(o, tuple) else (o,))
    return [str(t.dtype).replace("torch.", "").replace("fastnn.", "") for t in flat], flat


@pytest.mark.parametrize("name,kw", [("LSTM", {"num_layers": 2, "batch_first": True}),
                                     ("LSTM", {"bidirectional": True}),
                                     ("RNN", {"num_layers": 2}), ("RNN", {"nonlinearity": "relu"}),
                                     ("GRU", {"num_layers": 2, "bidirectional": True})])
def test_layers_match_torch_autocast(name, kw):
    tm, fm = _pair(name, **kw)
    x = np.random.default_rng(0).standard_normal((4, 6, 3)).astype(np.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tout = tm(torch.tensor(x))
    with fastnn.autocast("cpu", dtype=fastnn.bfloat16):
        fout = fm(fastnn.tensor(x))
    tdt, tflat = _dtypes(tout)
    fdt, fflat = _dtypes(fout)
    assert fdt == tdt
    for a, b in zip(fflat, tflat):
        np.testing.assert_allclose(a.float().detach().numpy(), b.float().detach().numpy(), atol=3e-2, rtol=2e-2)
    tflat[0].float().square().sum().backward()
    fflat[0].float().square().sum().backward()
    for (n, p), (_, q) in zip(fm.named_parameters(), tm.named_parameters()):
        assert p.grad.dtype is fastnn.float32, n
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=5e-2 * max(1.0, float(q.grad.abs().max())),
                                   err_msg=n)


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_match_torch_autocast(name):
    tm, fm = _pair(name)
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tdt, tflat = _dtypes(tm(torch.tensor(x)))
    with fastnn.autocast("cpu", dtype=fastnn.bfloat16):
        fdt, fflat = _dtypes(fm(fastnn.tensor(x)))
    assert fdt == tdt  # RNNCell bfloat16 (built of linears in torch), the fused LSTM/GRU cells float32
    for a, b in zip(fflat, tflat):
        np.testing.assert_allclose(a.float().detach().numpy(), b.float().detach().numpy(), atol=3e-2, rtol=2e-2)


def test_bf16_input_is_taken_under_autocast_and_refused_outside():
    tm, fm = _pair("LSTM")
    x = fastnn.randn(4, 2, 3).bfloat16()
    with fastnn.autocast("cpu", dtype=fastnn.bfloat16):
        assert fm(x)[0].dtype is fastnn.bfloat16
    with pytest.raises(ValueError, match="does not match weight dtype"):
        fm(x)
    with pytest.raises(Exception):
        tm(torch.randn(4, 2, 3).bfloat16())  # torch refuses it too
