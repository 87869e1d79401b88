"""Creation and Tensor API surface, written the way PyTorch programs use it (``import fastnn as torch``),
compared with real torch 2.13 where the answer is comparable: sizes forms, legacy tensor types, Tensor(...),
type(), __format__, new_*, the storage dtypes and their promotion, Generator, printing, inference_mode, compile."""
import pickle

import numpy as np
import pytest

import fastnn as torch


def real():
    return pytest.importorskip("torch")


# ---- sizes ------------------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("fn", ["zeros", "ones", "empty", "rand", "randn"])
def test_sizes_forms_match_torch(fn):
    t = real()
    for args, kw in [((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((), {"size": (2, 3)}), ((), {"size": [4]}),
                     ((torch.Size([2, 1]),), {}), ((0,), {}), ((), {"size": ()})]:
        targs = tuple(t.Size(a) if isinstance(a, torch.Size) else a for a in args)
        assert tuple(getattr(torch, fn)(*args, **kw).shape) == tuple(getattr(t, fn)(*targs, **kw).shape)
        assert getattr(torch, fn)(*args, **kw).dtype is torch.float32
    with pytest.raises(TypeError, match="multiple values for argument 'size'"):
        getattr(torch, fn)((2,), size=(2,))
    with pytest.raises(TypeError):
        getattr(t, fn)((2,), size=(2,))
    with pytest.raises(TypeError, match="unexpected keyword"):
        getattr(torch, fn)(2, sizes=(2,))


def test_creation_accepts_torchs_default_keywords():
    assert torch.zeros(2, pin_memory=False, layout=None).shape == (2,)
    with pytest.raises(NotImplementedError, match="pin_memory"):
        torch.empty(2, pin_memory=True)


@pytest.mark.torch
def test_randint_forms():
    t = real()
    for args, kw in [((10, (3,)), {}), ((3, 10, (2, 2)), {}), ((5, (4,)), {"dtype": torch.int32}),
                     ((0, 2, (3,)), {"dtype": torch.uint8})]:
        ours = torch.randint(*args, **kw)
        tkw = {"dtype": getattr(t, kw["dtype"].name)} if kw else {}
        theirs = t.randint(*args, **tkw)
        assert tuple(ours.shape) == tuple(theirs.shape) and str(theirs.dtype) == "torch." + ours.dtype.name
        lo, hi = (0, args[0]) if len(args) == 2 else args[:2]
        assert ours.numpy().min() >= lo and ours.numpy().max() < hi
    assert torch.randint(3, size=(5,)).numpy().max() < 3
    with pytest.raises(RuntimeError, match="from=5 >= to=5"):
        torch.randint(5, 5, (2,))


# ---- Generator ---------------------------------------------------------------------------------------------
def test_generator_streams_are_private_and_reproducible():
    g = torch.Generator().manual_seed(7)
    assert g.initial_seed() == 7 and isinstance(g.manual_seed(7), torch.Generator)
    a = [torch.rand(3, generator=g), torch.randn(2, 2, generator=g), torch.randint(0, 9, (4,), generator=g),
         torch.randperm(6, generator=g)]
    torch.manual_seed(0)
    torch.rand(100)  # the global stream does not disturb a private one
    g.manual_seed(7)
    b = [torch.rand(3, generator=g), torch.randn(2, 2, generator=g), torch.randint(0, 9, (4,), generator=g),
         torch.randperm(6, generator=g)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    state = g.get_state()
    assert state.dtype is torch.uint8 and state.ndim == 1
    first = torch.rand(5, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(first.numpy(), torch.rand(5, generator=g).numpy())
    s = torch.Generator().seed()
    assert isinstance(s, int)
    with pytest.raises(TypeError, match="fastnn.Generator"):
        torch.rand(2, generator=np.random.default_rng(0))



def test_a_cuda_generator_needs_a_cuda_device(no_cuda):
    with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
        torch.Generator("cuda")


def test_manual_seed_and_initial_seed():
    torch.manual_seed(123)
    assert torch.initial_seed() == 123
    a = torch.rand(4)
    torch.manual_seed(123)
    np.testing.assert_array_equal(a.numpy(), torch.rand(4).numpy())


# ---- legacy types and Tensor(...) ----------------------------------------------------------------------
_LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
           "ByteTensor", "BoolTensor"]


@pytest.mark.torch
@pytest.mark.parametrize("name", _LEGACY)
def test_legacy_types_construct_and_check_like_torch(name):
    t = real()
    ours, theirs = getattr(torch, name), getattr(t, name)
    for args in [(2, 3), ([1, 0, 1],), ((1, 0),), ()]:
        a, b = ours(*args), theirs(*args)
        assert tuple(a.shape) == tuple(b.shape) and str(b.dtype) == "torch." + a.dtype.name
        if args and not isinstance(args[0], int):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # isinstance: true exactly for tensors of the type's dtype (on the CPU)
    for other in _LEGACY:
        x, y = getattr(torch, other)(2), getattr(t, other)(2)
        assert isinstance(x, ours) == isinstance(y, theirs)
    assert isinstance(ours(2), torch.Tensor) and not isinstance(np.zeros(2), ours)
    assert ours(2).type() == theirs(2).type()


@pytest.mark.torch
def test_tensor_constructor_like_torch():
    t = real()
    for args in [(2, 3), (), ([1, 2],), ([[1.5, 2.0]],), ((2, 3),), (np.array([1, 2], np.int32),)]:
        a, b = torch.Tensor(*args), t.Tensor(*args)
        assert tuple(a.shape) == tuple(b.shape) and str(b.dtype) == "torch." + a.dtype.name
        if args and not isinstance(args[0], int):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tuple(torch.Tensor(torch.Size([2, 3])).shape) == (2, 3)
    src = np.ones(2, np.float32)
    torch.Tensor(src)[0] = 5  # copied, never aliased
    assert src[0] == 1
    x = torch.ones(2, dtype=torch.int64)
    assert torch.Tensor(x) is not None and torch.Tensor(x).dtype is torch.int64  # torch keeps a tensor's dtype


@pytest.mark.torch
def test_type_strings_and_casts():
    t = real()
    for dt in ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]:
        assert torch.zeros(2, dtype=getattr(torch, dt)).type() == t.zeros(2, dtype=getattr(t, dt)).type()
    x = torch.tensor([1.7, -2.2])
    assert x.type(torch.int32).dtype is torch.int32
    assert x.type("torch.LongTensor").tolist() == t.tensor([1.7, -2.2]).type("torch.LongTensor").tolist()
    assert x.type(torch.DoubleTensor).dtype is torch.float64
    assert x.type("fastnn.IntTensor").dtype is torch.int32
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.NotATensor")


@pytest.mark.torch
def test_format_like_torch():
    t = real()
    for val, spec in [(1.23456, ".4f"), (3, "d"), (2.5, ""), (1e-5, ".2e"), (True, "")]:
        assert f"{torch.tensor(val):{spec}}" == f"{t.tensor(val):{spec}}"
    loss = torch.tensor(0.123456, requires_grad=True) * 2
    assert f"{loss:.3f}" == "0.247"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{torch.tensor([1.0, 2.0]):.3f}"
    with pytest.raises(TypeError):
        f"{t.tensor([1.0, 2.0]):.3f}"
    assert f"{torch.tensor([1.0, 2.0])}" == repr(torch.tensor([1.0, 2.0]))


@pytest.mark.torch
def test_new_methods_like_torch():
    t = real()
    for dt in ["float64", "int32"]:
        ours, theirs = torch.ones(2, dtype=getattr(torch, dt)), t.ones(2, dtype=getattr(t, dt))
        for name, args in [("new_zeros", (3,)), ("new_zeros", ((2, 2),)), ("new_ones", (2, 1)),
                           ("new_empty", ((3,),)), ("new_full", ((2,), 7)), ("new_tensor", ([1, 2, 3],))]:
            a, b = getattr(ours, name)(*args), getattr(theirs, name)(*args)
            assert tuple(a.shape) == tuple(b.shape) and str(b.dtype) == "torch." + a.dtype.name, (name, dt)
            if name not in ("new_empty",):
                np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = torch.zeros(2)
    assert x.new_zeros(2, dtype=torch.int64).dtype is torch.int64
    assert x.new_ones(2, requires_grad=True).requires_grad
    w = torch.ones(2, requires_grad=True)
    assert not x.new_tensor(w).requires_grad  # a copy outside the graph, as torch


def test_small_tensor_methods():
    x = torch.tensor([[1.6, -2.0, 3.0]])
    assert x.nelement() == 3 and x.ndimension() == 2 and not x.is_complex() and x.is_floating_point()
    assert x.int().dtype is torch.int32 and x.int().tolist() == [[1, -2, 3]]
    assert x.short().dtype is torch.int16 and x.char().dtype is torch.int8 and x.byte().dtype is torch.uint8
    assert x.half().dtype is torch.float16
    assert torch.is_tensor(x) and not torch.is_tensor(np.zeros(1)) and torch.numel(x) == 3
    assert torch.is_floating_point(x) and torch.is_nonzero(torch.tensor([2]))
    assert len(x) == 1 and [r.shape for r in x] == [(3,)] and int(torch.tensor(3)) == 3
    assert float(torch.tensor(2.5)) == 2.5 and bool(torch.tensor(1))
    assert [10, 20][torch.tensor(1, dtype=torch.int32)] == 20
    assert not x.is_sparse


# ---- dtypes as storage types ----------------------------------------------------------------------------
_DT = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.torch
def test_dtype_aliases_and_promotion_match_torch():
    t = real()
    assert torch.int is torch.int32 and torch.short is torch.int16 and torch.half is torch.float16
    from fastnn.ops._util import promote_types

    for a in _DT:
        for b in _DT:
            ours = promote_types(getattr(torch, a), getattr(torch, b))
            assert "torch." + ours.name == str(t.promote_types(getattr(t, a), getattr(t, b))), (a, b)


@pytest.mark.torch
@pytest.mark.parametrize("dt", ["int32", "int16", "int8", "uint8", "float16"])
def test_storage_dtypes_behave_like_torch(dt):
    t = real()
    data = [[1, 2, 3], [4, 5, 6]]
    a, b = torch.tensor(data, dtype=getattr(torch, dt)), t.tensor(data, dtype=getattr(t, dt))
    assert str(b.dtype) == "torch." + a.dtype.name and repr(a).replace("fastnn", "torch") == repr(b)
    for ours, theirs in [(a + a, b + b), (a * 2, b * 2), (a + 1.5, b + 1.5), (a.sum(), b.sum()), (a[:, 1], b[:, 1]),
                         (a.to(torch.float32), b.to(t.float32)), (a.T, b.T), (a + torch.ones(3, dtype=torch.int64),
                                                                              b + t.ones(3, dtype=t.int64))]:
        assert str(theirs.dtype) == "torch." + ours.dtype.name
        np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64))
    assert torch.zeros(2, dtype=getattr(torch, dt)).dtype is getattr(torch, dt)
    assert torch.from_numpy(np.zeros(2, getattr(np, dt))).dtype is getattr(torch, dt)


def test_float16_requires_grad_and_casts_back():
    x = torch.ones(3, dtype=torch.half, requires_grad=True)
    y = x.float() * 3
    y.sum().backward()
    assert x.grad.dtype is torch.float16 and x.grad.tolist() == [3.0, 3.0, 3.0]
    with pytest.raises(RuntimeError, match="floating point"):
        torch.ones(2, dtype=torch.int32).requires_grad_()


def test_storage_dtypes_pickle_and_save(tmp_path):
    for dt in [torch.int32, torch.int16, torch.int8, torch.uint8, torch.float16]:
        x = torch.arange(5).to(dt)
        torch.save({"x": x}, tmp_path / "d.pt")
        back = torch.load(tmp_path / "d.pt")["x"]
        assert back.dtype is dt and back.tolist() == x.tolist()
        assert pickle.loads(pickle.dumps(x)).dtype is dt


# ---- runtime switches -------------------------------------------------------------------------------------
def test_default_dtype():
    assert torch.get_default_dtype() is torch.float32
    try:
        torch.set_default_dtype(torch.float64)
        assert torch.tensor([1.5]).dtype is torch.float64 and torch.zeros(2).dtype is torch.float64
        assert torch.Tensor(2).dtype is torch.float64 and torch.rand(2).dtype is torch.float64
        assert repr(torch.tensor([1.5])) == "tensor([1.5000])"
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(TypeError, match="floating-point"):
        torch.set_default_dtype(torch.int64)


@pytest.mark.torch
def test_set_printoptions_applies_to_repr():
    t = real()
    x, y = torch.tensor([1.123456789, 2.0]), t.tensor([1.123456789, 2.0])
    try:
        for kw in [{"precision": 2}, {"precision": 6}, {"profile": "default"}, {"threshold": 3, "edgeitems": 1}]:
            torch.set_printoptions(**kw)
            t.set_printoptions(**kw)
            big, tbig = torch.arange(10.0), t.arange(10.0)
            assert repr(x) == repr(y), kw
            assert repr(big).replace(" ", "") == repr(tbig).replace(" ", ""), kw  # (summary spacing differs)
    finally:
        torch.set_printoptions(profile="default")
        t.set_printoptions(profile="default")
    with pytest.raises(ValueError, match="profile"):
        torch.set_printoptions(profile="tiny")


def test_inference_mode_context_and_decorator():
    w = torch.ones(2, requires_grad=True)
    with torch.inference_mode():
        assert (w * 2).grad_fn is None and torch.is_inference_mode_enabled()
    assert not torch.is_inference_mode_enabled() and (w * 2).grad_fn is not None
    with torch.inference_mode(False):
        assert (w * 2).grad_fn is not None

    @torch.inference_mode()
    def predict(x):
        return x * 3

    assert predict(w).grad_fn is None and not predict(w).requires_grad


def test_compile_returns_the_callable_unchanged():
    model = torch.nn.Linear(2, 2)
    assert torch.compile(model) is model
    f = torch.compile(lambda x: x + 1, mode="max-autotune")
    assert f(torch.ones(1)).tolist() == [2.0]

    @torch.compile
    def g(x):
        return x * 2

    @torch.compile(fullgraph=True)
    def h(x):
        return x * 3

    assert g(torch.ones(1)).tolist() == [2.0] and h(torch.ones(1)).tolist() == [3.0]


def test_matmul_precision_and_determinism_switches():
    assert torch.get_float32_matmul_precision() == "highest"
    torch.set_float32_matmul_precision("high")
    assert torch.get_float32_matmul_precision() == "high"
    torch.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="precision"):
        torch.set_float32_matmul_precision("low")
    torch.use_deterministic_algorithms(True)
    assert torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    assert isinstance(torch.get_num_threads(), int)


@pytest.mark.torch
def test_finfo_iinfo_match_torch():
    t = real()
    for dt in ["float32", "float64", "float16"]:
        a, b = torch.finfo(getattr(torch, dt)), t.finfo(getattr(t, dt))
        assert (a.bits, a.eps, a.max, a.min, a.tiny, a.resolution, a.dtype) == \
            (b.bits, b.eps, b.max, b.min, b.tiny, b.resolution, b.dtype) and repr(a) == repr(b)
    assert torch.finfo().dtype == "float32"
    for dt in ["int64", "int32", "int16", "int8", "uint8"]:
        a, b = torch.iinfo(getattr(torch, dt)), t.iinfo(getattr(t, dt))
        assert (a.bits, a.max, a.min, a.dtype) == (b.bits, b.max, b.min, b.dtype) and repr(a) == repr(b)
    with pytest.raises(TypeError, match="floating point input type"):
        torch.finfo(torch.int32)
