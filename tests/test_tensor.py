"""Tensor creation, attributes, dtypes, conversions and printing."""
import numpy as np
import pytest

import fastnn


class TestCreation:
    def test_python_data_dtypes(self):
        assert fastnn.tensor([1.0, 2.0]).dtype == fastnn.float32
        assert fastnn.tensor([1, 2]).dtype == fastnn.int64
        assert fastnn.tensor([True, False]).dtype == fastnn.bool
        assert fastnn.tensor(3.5).shape == () and fastnn.tensor(3.5).item() == 3.5
        assert fastnn.tensor([1, 2], dtype=fastnn.float64).dtype == fastnn.float64

    def test_numpy_data_keeps_supported_dtype_and_copies(self):
        a = np.arange(4, dtype=np.float64)
        t = fastnn.tensor(a)
        assert t.dtype == fastnn.float64
        a[0] = 99
        assert t[0].item() == 0
        assert fastnn.tensor(np.arange(3, dtype=np.int32)).dtype == fastnn.int32  # as torch: int32 is a dtype now
        assert fastnn.tensor(np.arange(3, dtype=np.uint16)).dtype == fastnn.int64  # torch has no uint16 tensors

    def test_unsupported_data(self):
        with pytest.raises(TypeError):
            fastnn.tensor(np.array([1 + 2j]))
        with pytest.raises(TypeError):
            fastnn.tensor(["a"])
        with pytest.raises(TypeError):
            fastnn.zeros(2, dtype=np.complex64)

    def test_filled(self):
        assert np.array_equal(fastnn.zeros(2, 3).numpy(), np.zeros((2, 3), np.float32))
        assert np.array_equal(fastnn.ones((2, 3)).numpy(), np.ones((2, 3), np.float32))
        assert fastnn.empty(0, 4).shape == (0, 4)
        f = fastnn.full((2,), 7)
        assert f.dtype == fastnn.int64 and f.tolist() == [7, 7]
        assert fastnn.full((2,), 0.5).dtype == fastnn.float32
        assert fastnn.full((1,), True).dtype == fastnn.bool
        assert np.array_equal(fastnn.eye(3).numpy(), np.eye(3, dtype=np.float32))

    def test_like(self):
        x = fastnn.randn(2, 5, dtype=fastnn.float64)
        for fn in (fastnn.zeros_like, fastnn.ones_like, fastnn.empty_like, fastnn.rand_like, fastnn.randn_like):
            y = fn(x)
            assert y.shape == x.shape and y.dtype == fastnn.float64
        assert fastnn.full_like(x, 3).numpy().max() == 3

    def test_ranges(self):
        assert fastnn.arange(5).tolist() == [0, 1, 2, 3, 4] and fastnn.arange(5).dtype == fastnn.int64
        assert np.allclose(fastnn.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
        assert fastnn.arange(0, 1, 0.25).dtype == fastnn.float32
        assert fastnn.arange(5, 0, -2).tolist() == [5, 3, 1]
        assert np.allclose(fastnn.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
        assert fastnn.linspace(0, 1, 0).shape == (0,)
        with pytest.raises(RuntimeError, match="step"):
            fastnn.arange(0, 3, 0)

    def test_random_is_seeded(self):
        fastnn.manual_seed(0)
        a = fastnn.randn(3, 4)
        fastnn.manual_seed(0)
        b = fastnn.randn(3, 4)
        assert np.array_equal(a.numpy(), b.numpy()) and a.dtype == fastnn.float32
        u = fastnn.rand(1000)
        assert 0 <= u.numpy().min() and u.numpy().max() < 1
        r = fastnn.randint(3, 7, (1000,))
        assert r.dtype == fastnn.int64 and r.numpy().min() >= 3 and r.numpy().max() < 7
        assert fastnn.randint(5, (3,)).shape == (3,)
        assert sorted(fastnn.randperm(6).tolist()) == list(range(6))
        with pytest.raises(RuntimeError):
            fastnn.randint(5, 5, (2,))
        with pytest.raises(ValueError):
            fastnn.manual_seed(-1)

    def test_rng_state_round_trip(self):
        state = fastnn.get_rng_state()
        a = fastnn.rand(4)
        fastnn.set_rng_state(state)
        assert np.array_equal(a.numpy(), fastnn.rand(4).numpy())

    def test_device_argument(self, no_cuda):
        assert fastnn.zeros(2, device="cpu").device == fastnn.device("cpu")
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            fastnn.zeros(2, device="cuda")
        with pytest.raises(ValueError):
            fastnn.zeros(2, device="tpu")

    def test_size_arguments(self):
        with pytest.raises(TypeError, match="sequence of ints"):
            fastnn.zeros(2.5)


class TestInterop:
    def test_from_numpy_shares_memory(self):
        a = np.zeros(3, np.float32)
        t = fastnn.from_numpy(a)
        a[1] = 5
        assert t[1].item() == 5
        with pytest.raises(TypeError, match="uint16"):  # (int32 is a tensor dtype now, as in torch)
            fastnn.from_numpy(np.zeros(2, np.uint16))

    def test_numpy_refuses_requires_grad(self):
        x = fastnn.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="detach"):
            x.numpy()
        assert np.array_equal(x.detach().numpy(), [1, 1])
        assert np.array_equal(np.asarray(x), [1, 1])

    def test_dlpack_round_trip(self):
        x = fastnn.arange(6).reshape(2, 3)
        y = fastnn.from_dlpack(x)
        assert np.shares_memory(x.numpy(), y.numpy()) and y.tolist() == x.tolist()
        assert np.array_equal(np.from_dlpack(x), x.numpy())

    def test_dlpack_from_torch(self):
        torch = pytest.importorskip("torch")
        t = torch.arange(4, dtype=torch.float32)
        assert fastnn.from_dlpack(t).tolist() == [0, 1, 2, 3]

    def test_item_tolist_and_python_conversions(self):
        assert fastnn.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
        assert float(fastnn.tensor([2.5])) == 2.5 and int(fastnn.tensor(3)) == 3
        assert [1, 2, 3][fastnn.tensor(1)] == 2
        with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
            fastnn.ones(2).item()
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(fastnn.ones(2))
        with pytest.raises(TypeError, match="0-d"):
            len(fastnn.tensor(1.0))

    def test_numpy_operand_on_the_left_gives_a_tensor(self):
        out = np.ones(3, np.float32) + fastnn.ones(3)
        assert isinstance(out, fastnn.Tensor) and out.tolist() == [2, 2, 2]


class TestAttributes:
    def test_pytorch_attributes(self):
        x = fastnn.zeros(2, 3, 4)
        assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(-1) == 4
        assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
        assert repr(x.shape) == "fastnn.Size([2, 3, 4])"
        assert x.device.type == "cpu" and str(x.device) == "cpu"
        assert x.is_leaf and x.grad is None and x.grad_fn is None and not x.requires_grad
        assert x.is_contiguous() and not x.transpose(0, 1).is_contiguous()
        assert x.stride() == (12, 4, 1)

    def test_dtype_objects(self):
        assert fastnn.float32 == np.float32 and fastnn.float32 == "float32"
        assert repr(fastnn.float64) == "fastnn.float64" and fastnn.float64 != fastnn.float32
        assert fastnn.float is fastnn.float32 and fastnn.long is fastnn.int64

    def test_to_and_casts(self):
        x = fastnn.tensor([1.5, -2.5], requires_grad=True)
        y = x.to(fastnn.float64)
        assert y.dtype == fastnn.float64 and y.requires_grad
        y.sum().backward()
        assert x.grad.dtype == fastnn.float32 and x.grad.tolist() == [1, 1]
        assert x.long().tolist() == [1, -2] and not x.long().requires_grad
        assert x.to("cpu") is x and x.double().dtype == fastnn.float64
        assert x.bool().dtype == fastnn.bool
        assert x.to(fastnn.float32, copy=True) is not x

    def test_clone_and_detach(self):
        x = fastnn.tensor([1.0, 2.0], requires_grad=True)
        c = x.clone()
        c.sum().backward()
        assert x.grad.tolist() == [1, 1]
        d = x.detach()
        assert np.shares_memory(d.numpy(), x.detach().numpy()) and not d.requires_grad

    def test_data_property_shares_storage(self):
        p = fastnn.ones(3, requires_grad=True)
        p.data.mul_(2)
        assert p.detach().tolist() == [2, 2, 2]

    def test_repr_like_pytorch(self):
        assert repr(fastnn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
        assert repr(fastnn.tensor([1, 2])) == "tensor([1, 2])"
        assert repr(fastnn.tensor([1.0], dtype=fastnn.float64)) == "tensor([1.], dtype=fastnn.float64)"
        assert repr(fastnn.ones(1, requires_grad=True)) == "tensor([1.], requires_grad=True)"
        assert "grad_fn=<MulBackward0>" in repr(fastnn.ones(1, requires_grad=True) * 2)

    def test_tensors_are_hashable_by_identity(self):
        a, b = fastnn.ones(2), fastnn.ones(2)
        assert len({a, b}) == 2

    def test_inplace_helpers(self):
        x = fastnn.zeros(3)
        x.fill_(2).add_(fastnn.ones(3), alpha=3).sub_(1).mul_(2).div_(4)
        assert x.tolist() == [2, 2, 2]
        x.copy_(fastnn.tensor([1.0, 2.0, 3.0]))
        assert x.clamp_(max=2).tolist() == [1, 2, 2]
        assert x.zero_().tolist() == [0, 0, 0]
        fastnn.manual_seed(1)
        assert x.uniform_(5, 6).numpy().min() >= 5
        assert abs(fastnn.zeros(10000).normal_(3, 1).numpy().mean() - 3) < 0.1
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            fastnn.ones(1).expand(3).zero_()

    def test_pickle_round_trips_values_dtype_and_requires_grad(self):
        import pickle

        t = pickle.loads(pickle.dumps(fastnn.ones(2, dtype=fastnn.float64, requires_grad=True)))
        assert t.tolist() == [1.0, 1.0] and t.dtype is fastnn.float64 and t.requires_grad and t.is_leaf
