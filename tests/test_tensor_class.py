"""The Tensor class itself: its methods are declared on it with PyTorch's signatures, its device comes from
the backend, every write into its storage bumps its version, and its modules import without call-time imports."""
import ast
import copy
import importlib
import inspect
import pathlib

import numpy as np
import pytest

import fastnn
from fastnn import ops
from fastnn._device import device as fastnn_device
from fastnn.backend import composite, registry

try:
    import torch
except ImportError:  # the hardcoded signatures below stand in for torch's
    torch = None

PKG = pathlib.Path(fastnn.__file__).parent

# PyTorch's Tensor methods that fastnn offers, each with the parameters PyTorch documents (after self).
# torch's C methods mostly give inspect no signature, so these are written out from torch's docstrings;
# where torch does give one (split, backward), the test compares with torch's instead. Parameters fastnn
# does not implement (generator) are not offered.
SIGNATURES = {
    "sum": ["dim", "keepdim", "dtype"], "mean": ["dim", "keepdim", "dtype"],
    "max": ["dim", "keepdim"], "min": ["dim", "keepdim"], "amax": ["dim", "keepdim"], "amin": ["dim", "keepdim"],
    "argmax": ["dim", "keepdim"], "argmin": ["dim", "keepdim"], "prod": ["dim", "keepdim", "dtype"],
    "all": ["dim", "keepdim"], "any": ["dim", "keepdim"], "logsumexp": ["dim", "keepdim"],
    # both of torch's overloads in one: var(dim, unbiased, keepdim) and var(dim, *, correction, keepdim)
    "var": ["dim", "unbiased", "keepdim", "correction"], "std": ["dim", "unbiased", "keepdim", "correction"],
    "add": ["other", "alpha"], "sub": ["other", "alpha"], "mul": ["other"], "div": ["other", "rounding_mode"],
    "pow": ["exponent"], "neg": [], "exp": [], "log": [], "sqrt": [], "rsqrt": [], "square": [], "abs": [],
    "sign": [], "clamp": ["min", "max"], "clip": ["min", "max"], "maximum": ["other"], "minimum": ["other"],
    "eq": ["other"], "ne": ["other"], "lt": ["other"], "le": ["other"], "gt": ["other"], "ge": ["other"],
    "logical_not": [], "isnan": [], "isfinite": [], "masked_fill": ["mask", "value"],
    "reshape": ["shape"], "view": ["shape"], "view_as": ["other"], "permute": ["dims"],
    "transpose": ["dim0", "dim1"], "t": [], "squeeze": ["dim"], "unsqueeze": ["dim"],
    "flatten": ["start_dim", "end_dim"], "unflatten": ["dim", "sizes"], "expand": ["sizes"],
    "expand_as": ["other"], "contiguous": ["memory_format"], "clone": ["memory_format"], "split": ["split_size", "dim"],
    "chunk": ["chunks", "dim"], "narrow": ["dim", "start", "length"], "unbind": ["dim"],
    "index_select": ["dim", "index"], "matmul": ["other"], "mm": ["mat2"], "bmm": ["mat2"], "relu": [],
    "sigmoid": [], "tanh": [], "softmax": ["dim", "dtype"], "log_softmax": ["dim", "dtype"], "type_as": ["other"],
    "float": ["memory_format"], "double": ["memory_format"], "long": ["memory_format"],
    "bool": ["memory_format"], "zero_": [], "fill_": ["value"],
    "copy_": ["src", "non_blocking"], "add_": ["other", "alpha"], "sub_": ["other", "alpha"], "mul_": ["other"],
    "div_": ["other"], "clamp_": ["min", "max"], "normal_": ["mean", "std"],
    "requires_grad_": ["requires_grad"], "retain_grad": [], "detach": [], "detach_": [], "item": [],
    "tolist": [], "numpy": ["force"], "cpu": [], "cuda": ["device", "non_blocking"], "size": ["dim"],
    "stride": ["dim"], "dim": [], "numel": [], "element_size": [], "is_floating_point": [],
    "is_contiguous": ["memory_format"], "backward": ["gradient", "retain_graph", "create_graph", "inputs"],
}
KEYWORD_ONLY = {"sum": {"dtype"}, "mean": {"dtype"}, "add": {"alpha"}, "sub": {"alpha"}, "var": {"correction"},
                "std": {"correction"}, "numpy": {"force"}, "prod": {"dtype"}, "div": {"rounding_mode"},
                **{m: {"memory_format"} for m in ("contiguous", "clone", "float", "double", "long", "bool",
                                                  "is_contiguous")}}
OPERATORS = ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
             "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__", "__getitem__",
             "__setitem__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__and__", "__rand__",
             "__or__", "__ror__", "__xor__", "__invert__", "__iadd__", "__isub__", "__imul__", "__itruediv__"]
OTHER_METHODS = ["to", "uniform_", "gelu", "leaky_relu"]  # torch: to(*args, **kwargs); uniform_(from, to)
PROPERTIES = ["T", "mT", "shape", "dtype", "device", "ndim", "data", "requires_grad", "is_leaf", "grad_fn"]


@pytest.mark.parametrize("name", sorted(SIGNATURES) + OPERATORS + OTHER_METHODS + PROPERTIES)
def test_declared_on_the_class(name):
    assert name in fastnn.Tensor.__dict__


def _params_after_self(fn):
    return list(inspect.signature(fn).parameters.values())[1:]


def _torch_signature(name):
    if torch is None:
        return None
    try:
        return [p.name for p in _params_after_self(getattr(torch.Tensor, name))]
    except (TypeError, ValueError):  # a C method without a signature
        return None


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_matches_pytorch(name):
    params = _params_after_self(fastnn.Tensor.__dict__[name])
    expected = _torch_signature(name) or SIGNATURES[name]
    assert [p.name for p in params] == expected
    for p in params:
        assert (p.kind is p.KEYWORD_ONLY) == (p.name in KEYWORD_ONLY.get(name, ())), p


def test_torch_gives_the_signatures_it_has():
    if torch is None:
        pytest.skip("torch is not installed: the hardcoded signatures stand alone")
    assert _torch_signature("split") == SIGNATURES["split"]
    assert _torch_signature("backward") == SIGNATURES["backward"]


def test_to_takes_torchs_forms():
    params = inspect.signature(fastnn.Tensor.to).parameters
    assert params["args"].kind is inspect.Parameter.VAR_POSITIONAL
    assert {"dtype", "device", "copy", "non_blocking"} <= set(params)


def test_hot_operators_are_the_op_functions():
    # No delegating frame on the hottest paths: the + fast path in particular.
    assert fastnn.Tensor.__add__ is ops.arithmetic.add_same_shape
    assert fastnn.Tensor.__mul__ is ops.arithmetic.mul
    assert fastnn.Tensor.__getitem__ is ops.indexing.getitem
    assert fastnn.Tensor.__matmul__ is ops.linalg.matmul
    assert fastnn.Tensor.sum is ops.reduction.sum


def test_methods_delegate_to_their_ops():
    x = fastnn.tensor([[1.0, 4.0], [9.0, 16.0]], requires_grad=True)
    assert np.allclose((2 - x).numpy(force=True), 2 - x.numpy(force=True))
    assert np.allclose((2 / x).numpy(force=True), 2 / x.numpy(force=True))
    assert np.allclose((2 ** x).numpy(force=True), 2 ** x.numpy(force=True))
    assert np.allclose(x.rsqrt().numpy(force=True), 1 / np.sqrt(x.numpy(force=True)))
    assert np.allclose(x.square().numpy(force=True), x.numpy(force=True) ** 2)
    assert x.float() is x and x.double().dtype == fastnn.float64 and x.long().dtype == fastnn.int64
    assert x.bool().dtype == fastnn.bool and x.type_as(fastnn.zeros(1, dtype=fastnn.int64)).dtype == fastnn.int64
    assert x.T.shape == (2, 2) and np.array_equal(x.mT.numpy(force=True), x.numpy(force=True).T)
    assert +x is x
    (x.rsqrt().sum() + x.square().mean() + (1 - x).sum()).backward()
    ref = -0.5 * x.numpy(force=True) ** -1.5 + 2 * x.numpy(force=True) / 4 - 1
    assert np.allclose(x.grad.numpy(), ref)


def test_tensor_and_device_are_not_shadowed_by_modules():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fastnn.tensor")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fastnn.device")
    assert inspect.isfunction(fastnn.tensor) and fastnn.tensor([1.0]).shape == (1,)
    assert inspect.isclass(fastnn.device) and fastnn.device("cpu") == fastnn.zeros(1).device


def _function_level_imports(path):
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child.lineno)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(path.read_text()), False)
    return found


@pytest.mark.parametrize("module", ["_tensor.py", "ops/conversion.py", "autograd/engine.py", "autograd/functional.py",
                                    "autograd/gradcheck.py", "_runtime.py", "cuda.py", "__init__.py"])
def test_no_import_inside_functions(module):
    # Module-level imports in the right order instead of imports that dodge a circle at call time.
    assert _function_level_imports(PKG / module) == []


# ---- device through the backend -------------------------------------------------------------------------
def test_device_comes_from_the_backend():
    x = fastnn.randn(3)
    assert x.device == registry.backend_of(x._data).device == fastnn.device("cpu")
    assert not x.is_cuda and x.cpu() is x and x.to("cpu") is x and x.to(fastnn.device("cpu")) is x


def test_cuda_without_a_device_raises_pytorchs_error(no_cuda):
    x = fastnn.randn(2)
    for move in (lambda: x.cuda(), lambda: x.cuda(0), lambda: x.to("cuda"), lambda: x.to("cuda:1", fastnn.float64)):
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            move()


def test_numpy_and_array_go_through_the_host():
    x = fastnn.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert x.numpy(force=True) is x._data  # a CPU tensor shares its memory, as in PyTorch
    assert np.asarray(x).dtype == np.float32 and np.asarray(x, dtype=np.float64).dtype == np.float64


def test_wrap_turns_scalars_into_0d_arrays():
    for scalar in (np.float32(1.5), np.int64(3), 2.0, True):
        t = fastnn.Tensor._wrap(scalar)
        assert t.shape == () and type(t._data) is np.ndarray and t.item() == scalar
    arr = np.ones(2)
    assert fastnn.Tensor._wrap(arr)._data is arr


class _FakeArray(np.ndarray):
    """A second 'device' for the move paths: NumPy memory under its own array type."""


class _FakeBackend(composite.CompositeBackend):
    name = "fake"

    def to_host(self, arr):
        return arr.view(np.ndarray).copy()

    def from_host(self, arr):
        return arr.copy().view(_FakeArray)


@pytest.fixture
def fake_device(monkeypatch):
    """Registers a fake 'cuda:0' backend holding _FakeArray, which ``get_backend('cuda')`` then returns."""
    fake = _FakeBackend(fastnn_device("cuda", 0))
    monkeypatch.setitem(registry._BY_TYPE, _FakeArray, fake)
    real = ops.conversion.get_backend
    monkeypatch.setattr(ops.conversion, "get_backend", lambda d: fake if fastnn_device(d).type == "cuda" else real(d))
    return fake


def test_moves_go_through_the_backends_and_are_differentiable(fake_device):
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.cuda()
    assert type(y._data) is _FakeArray and y.device == fastnn.device("cuda:0") and y.is_cuda
    assert "device='cuda:0'" in repr(y) and y.grad_fn.name == "ToCopyBackward0"
    with pytest.raises(TypeError, match="cpu"):
        y.detach().numpy()
    assert type(y.numpy(force=True)) is np.ndarray and type(np.asarray(y)) is np.ndarray
    z = (y * 2).cpu()
    assert type(z._data) is np.ndarray and z.device == fastnn.device("cpu")
    z.sum().backward()
    assert type(x.grad._data) is np.ndarray and x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="same device"):
        fastnn.matmul(x, y)  # an op asks backend_of, which refuses two devices
    # (copy_ across devices: tests/test_cuda_device.py, on the emulated device, whose array module keeps results
    # on the device; this fake's NumPy module would hand back host arrays)
    w = y.to("cuda", copy=True)
    assert w is not y and w.tolist() == y.tolist()


# ---- every write into storage bumps the version -----------------------------------------------------------
INPLACE = {
    "zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(2.0),
    "fill_ tensor": lambda t: t.fill_(fastnn.tensor(2.0)),
    "copy_": lambda t: t.copy_(fastnn.ones(3)), "copy_ list": lambda t: t.copy_([1.0, 2.0, 3.0]),
    "add_": lambda t: t.add_(1.0, alpha=2), "sub_": lambda t: t.sub_(fastnn.ones(3)), "mul_": lambda t: t.mul_(2.0),
    "div_": lambda t: t.div_(2.0), "clamp_": lambda t: t.clamp_(-0.5, 0.5),
    "clamp_ tensor": lambda t: t.clamp_(max=fastnn.zeros(3)), "uniform_": lambda t: t.uniform_(-1, 1),
    "normal_": lambda t: t.normal_(0, 2), "__setitem__": lambda t: t.__setitem__(0, 5.0),
    "__setitem__ tensor": lambda t: t.__setitem__(fastnn.tensor([0, 2]), fastnn.tensor([1.0, 2.0])),
    "+=": lambda t: t.__iadd__(1.0), "-=": lambda t: t.__isub__(1.0), "*=": lambda t: t.__imul__(2.0),
    "/=": lambda t: t.__itruediv__(2.0), "_write": lambda t: t._write(1, 0.0), "_written": lambda t: t._written(),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_every_inplace_method_bumps_the_version(name):
    x = fastnn.randn(3, dtype=fastnn.float64, requires_grad=True)
    y = x * 1.0
    loss = (y * y).sum()  # saves y
    before = y._version
    with fastnn.no_grad():
        out = INPLACE[name](y)
    assert out is y or out is None
    assert y._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_clamp_uniform_normal_use_the_tensors_backend():
    fastnn.manual_seed(3)
    a = fastnn.empty(1000).uniform_(-2, 3)
    assert -2 <= a.numpy().min() and a.numpy().max() <= 3 and a.dtype == fastnn.float32
    fastnn.manual_seed(3)
    assert np.array_equal(fastnn.empty(1000).uniform_(-2, 3).numpy(), a.numpy())  # the seeded generator
    b = fastnn.empty(4000, dtype=fastnn.float64).normal_(1.0, 0.5)
    assert abs(b.numpy().mean() - 1.0) < 0.05 and abs(b.numpy().std() - 0.5) < 0.05
    c = fastnn.tensor([-3.0, 0.25, 3.0]).clamp_(fastnn.tensor([-1.0, 0.5, 0.0]), 2.0)
    assert c.tolist() == [-1.0, 0.5, 2.0]


def test_data_assignment_swaps_storage_without_a_bump():
    x = fastnn.zeros(2)
    x.data = [1, 2]
    assert x.dtype == fastnn.float32 and x.tolist() == [1.0, 2.0] and x._version == 0


def test_deepcopy_copies_on_the_same_backend():
    x = fastnn.randn(3, requires_grad=True)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.device == x.device
    assert not np.shares_memory(y._data, x._data) and np.array_equal(y._data, x._data)
