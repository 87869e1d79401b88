"""bfloat16 as a storage dtype (issue 15): conversions bit for bit against torch.bfloat16 (every bf16 pattern, and
float32/float64 edges: NaN, inf, denormals, ties, overflow), elementwise ops against torch's bf16 results, type
promotion, autograd, and interchange (safetensors files both ways, DLPack, fastnn.tensor(torch_tensor))."""
from __future__ import annotations

import os

import numpy as np
import pytest

import fastnn
from fastnn.backend.bf16 import bits_from_float, float_from_bits

torch = pytest.importorskip("torch")

ALL_BITS = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)


def bits_of(t) -> np.ndarray:
    """The uint16 bits of a fastnn or torch bfloat16 tensor."""
    if isinstance(t, fastnn.Tensor):
        return t._data.view(np.uint16).copy()
    return t.detach().view(torch.int16).numpy().view(np.uint16).copy()


def torch_bf16(bits: np.ndarray):
    return torch.from_numpy(bits.astype(np.uint16).view(np.int16).copy()).view(torch.bfloat16)


def ours_bf16(bits: np.ndarray):
    return fastnn.from_dlpack(torch_bf16(bits)).clone()


def edge_floats() -> np.ndarray:
    rng = np.random.default_rng(0)
    u = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    # every bf16 value, each exactly at a tie, just below and just above it, and the float32 specials
    b = ALL_BITS.astype(np.uint32) << 16
    special = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001,
                        0x7FBFFFFF, 0x00000001, 0x807FFFFF, 0x00008000, 0x00018000, 0x7F7FFFFF, 0x7F7F8000,
                        0x7F7F7FFF, 0xFF7F8000, 0x3F808000, 0x3F818000], np.uint32)
    return np.concatenate([u, b, b | 0x8000, b | 0x7FFF, b | 0x8001, special]).view(np.float32)


def test_widening_is_exact_for_every_pattern():
    ours = float_from_bits(ALL_BITS).view(np.uint32)
    theirs = torch_bf16(ALL_BITS).float().numpy().view(np.uint32)
    np.testing.assert_array_equal(ours, theirs)
    t = ours_bf16(ALL_BITS)
    np.testing.assert_array_equal(t.float().numpy().view(np.uint32), theirs)


def test_narrowing_float32_matches_torch_bit_for_bit():
    f = edge_floats()
    theirs = bits_of(torch.from_numpy(f).bfloat16())
    np.testing.assert_array_equal(bits_from_float(f), theirs)
    np.testing.assert_array_equal(bits_of(fastnn.tensor(f).bfloat16()), theirs)
    np.testing.assert_array_equal(bits_of(fastnn.tensor(f).to(fastnn.bfloat16)), theirs)
    np.testing.assert_array_equal(bits_of(fastnn.tensor(f, dtype=fastnn.bfloat16)), theirs)
    nan = np.isnan(f)
    assert (theirs[nan] == 0xFFFF).all()  # a quiet NaN (torch's), never an infinity
    assert (bits_from_float(np.float32([3.4e38, -3.4e38])) == [0x7F80, 0xFF80]).all()  # overflow rounds to inf
    assert bits_from_float(np.float32([1e-40]))[0] != 0  # denormals are kept, not flushed


def test_narrowing_float64_matches_torch():
    rng = np.random.default_rng(1)
    d = np.concatenate([rng.standard_normal(50_000) * 10.0 ** rng.integers(-45, 39, 50_000),
                        [1 + 2 ** -8 + 2 ** -30, 1 + 2 ** -8, 3.5e38, -1e-300, np.inf, -np.inf, np.nan]])
    theirs = bits_of(torch.from_numpy(d).bfloat16())
    np.testing.assert_array_equal(bits_of(fastnn.tensor(d, dtype=fastnn.float64).bfloat16()), theirs)
    np.testing.assert_array_equal(bits_of(fastnn.tensor(d.tolist(), dtype=fastnn.bfloat16)),
                                  bits_of(torch.tensor(d.tolist(), dtype=torch.bfloat16)))


def test_dtype_attributes_and_finfo():
    t = fastnn.zeros(2, 3, dtype=fastnn.bfloat16)
    assert t.dtype is fastnn.bfloat16 and repr(fastnn.bfloat16) == "fastnn.bfloat16"
    assert t.element_size() == 2 and t.is_floating_point() and t.stride() == (3, 1)
    ours, theirs = fastnn.finfo(fastnn.bfloat16), torch.finfo(torch.bfloat16)
    for name in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert repr(ours) == repr(theirs)
    for make in (fastnn.zeros, fastnn.ones, fastnn.empty):
        assert make(4, dtype=fastnn.bfloat16).dtype is fastnn.bfloat16
    assert fastnn.ones(3, dtype=fastnn.bfloat16).tolist() == [1.0, 1.0, 1.0]
    assert fastnn.full((2,), 0.1, dtype=fastnn.bfloat16).tolist() == torch.full((2,), 0.1,
                                                                                 dtype=torch.bfloat16).tolist()
    assert fastnn.arange(5, dtype=fastnn.bfloat16).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    r = fastnn.rand(1000, dtype=fastnn.bfloat16)
    assert r.dtype is fastnn.bfloat16 and 0 <= r.min().item() and r.max().item() <= 1


def test_printing_tolist_item_and_numpy_refusal():
    vals = [1.5, 0.1, 3e38, 1e-39, -2.25, float("inf")]
    t, tt = fastnn.tensor(vals, dtype=fastnn.bfloat16), torch.tensor(vals, dtype=torch.bfloat16)
    assert repr(t) == repr(tt).replace("torch.", "fastnn.")
    assert repr(t[1]) == repr(tt[1]).replace("torch.", "fastnn.")
    assert t.tolist() == tt.tolist() and all(type(v) is float for v in t.tolist())
    assert t[0].item() == tt[0].item() and type(t[0].item()) is float
    for f in (lambda x: x.numpy(), np.asarray):
        with pytest.raises(TypeError) as ours:
            f(t)
        with pytest.raises(TypeError) as theirs:
            f(tt)
        assert str(ours.value) == str(theirs.value) == "Got unsupported ScalarType BFloat16"


def test_bit_moves_keep_every_pattern():
    t, tt = ours_bf16(ALL_BITS), torch_bf16(ALL_BITS)
    np.testing.assert_array_equal(bits_of(t), ALL_BITS)  # NaN payloads and -0.0 included
    r = t.reshape(256, 256)
    for ours, theirs in ((r.t().contiguous(), tt.reshape(256, 256).t().contiguous()), (r[3:7, ::5], tt.reshape(
            256, 256)[3:7, ::5]), (fastnn.cat([t, t[:10]]), torch.cat([tt, tt[:10]])), (fastnn.stack([t, t]),
            torch.stack([tt, tt])), (t.clone(), tt.clone()), (t.view(2, -1)[1], tt.view(2, -1)[1]),
            (t[fastnn.tensor([5, 0x7FC1, 0xFFFF])], tt[torch.tensor([5, 0x7FC1, 0xFFFF])]),
            (t.flip(0), tt.flip(0)), (t.unsqueeze(0).expand(2, -1).contiguous(), tt.unsqueeze(0).expand(2, -1))):
        np.testing.assert_array_equal(bits_of(ours), bits_of(theirs))
    v = t.view(256, 256)
    assert v._base is t  # a view shares the storage and its version counter
    y = fastnn.zeros(4, dtype=fastnn.bfloat16)
    y.copy_(fastnn.tensor([1.0, 0.1, 1e-40, 3.4e38]))  # a float32 source is rounded in
    np.testing.assert_array_equal(bits_of(y), bits_of(torch.tensor([1.0, 0.1, 1e-40, 3.4e38]).bfloat16()))
    y[1] = 2.5
    assert y.tolist()[1] == 2.5


def _close_bits(ours, theirs, exact: bool):
    a, b = bits_of(ours).astype(np.int32), bits_of(theirs).astype(np.int32)
    if exact:
        np.testing.assert_array_equal(a, b)
    else:  # a float32 math library differs from torch's (Sleef) in the last float32 bit, rarely flipping a rounding
        assert np.abs(a - b).max() <= 1 and (a == b).mean() > 0.99


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary_ops_match_torch_exactly(name):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 65)).astype(np.float32) * 3
    b = rng.standard_normal((64, 65)).astype(np.float32)
    ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
    fa, fb = fastnn.tensor(a).bfloat16(), fastnn.tensor(b).bfloat16()
    out = getattr(fastnn, name)(fa, fb)
    assert out.dtype is fastnn.bfloat16
    _close_bits(out, getattr(torch, name)(ta, tb), exact=True)
    if name in ("add", "sub", "mul", "div"):  # with a Python number
        _close_bits(getattr(fastnn, name)(fa, 0.1), getattr(torch, name)(ta, 0.1), exact=True)


@pytest.mark.parametrize("name", ["exp", "log", "sin", "tanh", "sigmoid", "sqrt", "abs", "neg", "relu", "rsqrt",
                                  "floor", "reciprocal"])
def test_unary_ops_match_torch(name):
    rng = np.random.default_rng(3)
    a = np.abs(rng.standard_normal(20_000).astype(np.float32)) * 4 + 1e-3
    ours = getattr(fastnn, name)(fastnn.tensor(a).bfloat16())
    assert ours.dtype is fastnn.bfloat16
    exact = name in ("sqrt", "abs", "neg", "relu", "floor", "reciprocal")
    _close_bits(ours, getattr(torch, name)(torch.from_numpy(a).bfloat16()), exact=exact)


def test_activations_reductions_and_matmul_against_torch():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((32, 48)).astype(np.float32)
    w = rng.standard_normal((16, 48)).astype(np.float32)
    fa, ta = fastnn.tensor(a).bfloat16(), torch.from_numpy(a).bfloat16()
    fw, tw = fastnn.tensor(w).bfloat16(), torch.from_numpy(w).bfloat16()
    F, TF = fastnn.nn.functional, torch.nn.functional
    pairs = [(F.gelu(fa), TF.gelu(ta)), (F.silu(fa), TF.silu(ta)), (F.softmax(fa, -1), TF.softmax(ta, -1)),
             (fa.sum(1), ta.sum(1)), (fa.mean(0), ta.mean(0)), (fa.amax(1), ta.amax(1)),
             (F.linear(fa, fw), TF.linear(ta, tw)), (fa @ fw.t(), ta @ tw.t())]
    for ours, theirs in pairs:
        assert ours.dtype is fastnn.bfloat16
        # accumulation order differs (torch: blocked, vectorised); both sum in float32 and round once
        np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=2 ** -7, atol=1e-2)


def test_promotion_as_torch():
    b = fastnn.ones(3, dtype=fastnn.bfloat16)
    tb = torch.ones(3, dtype=torch.bfloat16)
    others = [(fastnn.ones(3), torch.ones(3)), (fastnn.ones(3, dtype=fastnn.float16), torch.ones(3, dtype=torch.half)),
              (fastnn.ones(3, dtype=fastnn.float64), torch.ones(3, dtype=torch.float64)),
              (fastnn.ones(3, dtype=fastnn.int64), torch.ones(3, dtype=torch.int64)),
              (fastnn.ones(3, dtype=fastnn.bool), torch.ones(3, dtype=torch.bool)),
              (fastnn.tensor(2.0, dtype=fastnn.float64), torch.tensor(2.0, dtype=torch.float64)), (2, 2), (0.5, 0.5)]
    for ours, theirs in others:
        for o, t in (((b + ours), (tb + theirs)), ((ours * b), (theirs * tb))):
            assert repr(o.dtype).split(".")[1] == repr(t.dtype).split(".")[1], (ours, o.dtype, t.dtype)
            assert o.tolist() == t.tolist()
    from fastnn.ops._util import promote_types

    assert promote_types(fastnn.bfloat16, fastnn.float16) is fastnn.float32


def test_autograd_grads_are_bf16_and_match_torch():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((8, 6)).astype(np.float32), rng.standard_normal((4, 6)).astype(np.float32)
    fx = fastnn.tensor(x).bfloat16()
    fw = fastnn.tensor(w).bfloat16().requires_grad_()
    tx, tw = torch.from_numpy(x).bfloat16(), torch.from_numpy(w).bfloat16().requires_grad_()
    (fastnn.nn.functional.linear(fx, fw).relu() * 0.5).sum().backward()
    (torch.nn.functional.linear(tx, tw).relu() * 0.5).sum().backward()
    assert fw.grad.dtype is fastnn.bfloat16
    np.testing.assert_allclose(fw.grad.float().numpy(), tw.grad.float().numpy(), rtol=2 ** -7, atol=1e-2)
    a = fastnn.ones(3, requires_grad=True)  # through a cast: the gradient comes back as float32
    (a.bfloat16() * 3).sum().backward()
    assert a.grad.dtype is fastnn.float32 and a.grad.tolist() == [3.0, 3.0, 3.0]


def test_module_bfloat16_trains():
    fastnn.manual_seed(0)
    m = fastnn.nn.Sequential(fastnn.nn.Linear(4, 8), fastnn.nn.ReLU(), fastnn.nn.Linear(8, 1)).bfloat16()
    assert all(p.dtype is fastnn.bfloat16 for p in m.parameters())
    opt = fastnn.optim.Adam(m.parameters(), lr=0.05)
    x = fastnn.randn(64, 4).bfloat16()
    y = (x.float().sum(1, keepdim=True)).bfloat16()
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert all(p.dtype is fastnn.bfloat16 for p in m.parameters())
    assert loss.item() < 0.3 * first


def test_safetensors_files_both_ways(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tt = {"all": torch_bf16(ALL_BITS), "m": torch.randn(3, 5).bfloat16()}
    st.save_file(tt, os.path.join(tmp_path, "theirs.safetensors"))
    ours = fastnn.load(os.path.join(tmp_path, "theirs.safetensors"))
    for k, v in tt.items():
        assert ours[k].dtype is fastnn.bfloat16 and tuple(ours[k].shape) == tuple(v.shape)
        np.testing.assert_array_equal(bits_of(ours[k]), bits_of(v))
    fastnn.save({"all": ours["all"], "p": ours["m"].requires_grad_()}, os.path.join(tmp_path, "ours.safetensors"))
    back = st.load_file(os.path.join(tmp_path, "ours.safetensors"))
    assert back["all"].dtype is torch.bfloat16
    np.testing.assert_array_equal(bits_of(back["all"]), ALL_BITS)
    again = fastnn.load(os.path.join(tmp_path, "ours.safetensors"))
    assert again["p"].requires_grad and again["p"].dtype is fastnn.bfloat16
    fastnn.save({"t": tt["m"]}, os.path.join(tmp_path, "torch_obj.safetensors"))  # a torch bf16 tensor saved as is
    np.testing.assert_array_equal(bits_of(fastnn.load(os.path.join(tmp_path, "torch_obj.safetensors"))["t"]),
                                  bits_of(tt["m"]))


def test_integrity_record_covers_bf16(tmp_path):
    path = os.path.join(tmp_path, "x.safetensors")
    fastnn.save({"x": fastnn.ones(64, dtype=fastnn.bfloat16)}, path)
    raw = bytearray(open(path, "rb").read())
    raw[-3] ^= 0x01  # a flipped bit in the tensor's bytes
    open(path, "wb").write(bytes(raw))
    with pytest.raises(ValueError, match="CRC|checksum|corrupt"):
        fastnn.load(path)


def test_dlpack_and_torch_interchange_share_or_copy_bits():
    tt = torch_bf16(ALL_BITS[:1000])
    shared = fastnn.from_dlpack(tt)
    assert shared.dtype is fastnn.bfloat16
    tt[0] = 7.0  # zero-copy: the write shows through
    assert shared[0].item() == 7.0
    copied = fastnn.tensor(tt)
    tt[0] = 9.0
    assert copied[0].item() == 7.0 and copied.dtype is fastnn.bfloat16
    ours = fastnn.tensor([0.1, -0.0, float("nan"), 3e38], dtype=fastnn.bfloat16)
    theirs = torch.from_dlpack(ours)
    assert theirs.dtype is torch.bfloat16
    np.testing.assert_array_equal(bits_of(theirs), bits_of(ours))
    via = fastnn.utils.dlpack.from_dlpack(fastnn.utils.dlpack.to_dlpack(ours))
    np.testing.assert_array_equal(bits_of(via), bits_of(ours))


def test_errors_as_torch():
    t = fastnn.ones(2, dtype=fastnn.bfloat16)
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        fastnn.ones(2, dtype=fastnn.int64).requires_grad_()
    t.requires_grad_()  # a floating dtype: allowed
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        t.numpy()
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        t.detach().numpy()


def test_pickle_and_state_dict_round_trip(tmp_path):
    import pickle

    t = ours_bf16(ALL_BITS[::97]).requires_grad_()
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype is fastnn.bfloat16 and u.requires_grad
    np.testing.assert_array_equal(bits_of(u), bits_of(t))
    m = fastnn.nn.Linear(3, 2).bfloat16()
    fastnn.save(m.state_dict(), os.path.join(tmp_path, "m.safetensors"))
    m2 = fastnn.nn.Linear(3, 2).bfloat16()
    m2.load_state_dict(fastnn.load(os.path.join(tmp_path, "m.safetensors")))
    np.testing.assert_array_equal(bits_of(m2.weight), bits_of(m.weight))


def test_bfloat16_stays_on_the_cpu():
    from fastnn.backend.cuda import runtime

    if runtime.device_count() == 0:
        pytest.skip("no (emulated) CUDA device")
    for make in (lambda: fastnn.ones(2, dtype=fastnn.bfloat16).to("cuda"),
                 lambda: fastnn.zeros(2, dtype=fastnn.bfloat16, device="cuda"),
                 lambda: fastnn.ones(2, device="cuda").bfloat16(),
                 lambda: fastnn.tensor([1.0], dtype=fastnn.bfloat16, device="cuda")):
        with pytest.raises(RuntimeError, match="bfloat16 tensors on the CPU only"):
            make()


def test_layer_ops_keep_bf16_and_match_torch():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    x, tx = fastnn.tensor(a).bfloat16(), torch.from_numpy(a).bfloat16()
    fw, tw = fastnn.tensor(w).bfloat16(), torch.from_numpy(w).bfloat16()
    F, TF = fastnn.nn.functional, torch.nn.functional
    pairs = [(F.conv2d(x, fw, padding=1), TF.conv2d(tx, tw, padding=1)), (F.max_pool2d(x, 2), TF.max_pool2d(tx, 2)),
             (F.avg_pool2d(x, 2), TF.avg_pool2d(tx, 2)), (F.layer_norm(x, (8,)), TF.layer_norm(tx, (8,))),
             (F.log_softmax(x, 1), TF.log_softmax(tx, 1)), (F.softplus(x), TF.softplus(tx)),
             (F.elu(x), TF.elu(tx)), (x.std(3), tx.std(3)), (x.cumsum(3), tx.cumsum(3)),
             (F.mse_loss(x, x * 0.5), TF.mse_loss(tx, tx * 0.5)),
             (x.masked_fill(x > 0, 1.5), tx.masked_fill(tx > 0, 1.5)),
             (fastnn.einsum("bij,bjk->bik", x[0], x[1]), torch.einsum("bij,bjk->bik", tx[0], tx[1])),
             (F.interpolate(x, scale_factor=2), TF.interpolate(tx, scale_factor=2))]
    for ours, theirs in pairs:
        assert ours.dtype is fastnn.bfloat16
        np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=2 ** -7, atol=2e-2)
    ce = F.cross_entropy(x.reshape(2, -1)[:, :5], fastnn.tensor([1, 0]))
    assert ce.dtype is fastnn.bfloat16  # torch rounds its log_softmax to bf16 first: ours is closer to float32
    ref = TF.cross_entropy(tx.reshape(2, -1)[:, :5].float(), torch.tensor([1, 0])).item()
    np.testing.assert_allclose(ce.item(), ref, rtol=2 ** -8)


def test_attention_in_bf16_with_grads():
    a = np.random.default_rng(7).standard_normal((2, 4, 6, 8)).astype(np.float32)
    q, tq = fastnn.tensor(a).bfloat16().requires_grad_(), torch.from_numpy(a).bfloat16().requires_grad_()
    o = fastnn.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    t = torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, is_causal=True)
    o.sum().backward()
    t.sum().backward()
    assert o.dtype is fastnn.bfloat16 and q.grad.dtype is fastnn.bfloat16
    np.testing.assert_allclose(o.detach().float().numpy(), t.detach().float().numpy(), rtol=2 ** -6, atol=2e-2)
    np.testing.assert_allclose(q.grad.float().numpy(), tq.grad.float().numpy(), rtol=2 ** -6, atol=5e-2)


def test_native_conversion_matches_the_numpy_reference_at_every_isa_level():
    from fastnn.backend import native
    from fastnn.backend.bf16 import convert

    if convert._NARROW is None:
        pytest.skip("this _C was built without the bfloat16 conversion kernel")
    f = edge_floats()
    ref = convert.bits_from_float_numpy(f)
    ref_nan64 = convert.bits_from_float(np.float64([np.nan, 1.0, -np.nan]), native=False)
    assert (ref_nan64[[0, 2]] == 0x7FC0).all()
    for level in native.isa_levels():
        for n in (0, 1, 15, 16, 17, 4099, f.size):  # vector bodies and scalar tails
            np.testing.assert_array_equal(convert._NARROW(f[:n], 0xFFFF, level), ref[:n], err_msg=f"{level} {n}")
        np.testing.assert_array_equal(convert._WIDEN(ALL_BITS, level).view(np.uint32),
                                      convert.float_from_bits(ALL_BITS, native=False).view(np.uint32))
    np.testing.assert_array_equal(convert.bits_from_float(f), ref)  # the default path (native above 4096)
    with pytest.raises(TypeError):
        convert._NARROW(np.zeros(8, np.float64), 0xFFFF)  # no silent cast: the caller converts first


def test_bit_level_float_ops_step_the_bf16_grid():
    v = [1.0, -1.0, 0.0, -0.0, 3.0, 1e-40, float("inf"), 2.0, -3e38]
    w = [2.0, -2.0, 1.0, -1.0, 0.0, -1.0, 0.0, 2.0, -float("inf")]
    ours = fastnn.nextafter(fastnn.tensor(v, dtype=fastnn.bfloat16), fastnn.tensor(w, dtype=fastnn.bfloat16))
    theirs = torch.nextafter(torch.tensor(v, dtype=torch.bfloat16), torch.tensor(w, dtype=torch.bfloat16))
    np.testing.assert_array_equal(bits_of(ours), bits_of(theirs))
    x = [1.0, 3.0, -0.75, 1e-39, 0.0]
    m, e = fastnn.frexp(fastnn.tensor(x, dtype=fastnn.bfloat16))
    tm, te = torch.frexp(torch.tensor(x, dtype=torch.bfloat16))
    assert m.dtype is fastnn.bfloat16 and m.tolist() == tm.tolist() and e.tolist() == te.tolist()
