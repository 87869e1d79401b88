"""Whole-object save/load as PyTorch programs do it (``torch.save(model)``, ``torch.load(path,
weights_only=False)``), PyTorch 2.6+'s safe default for such files, picklable tensors and modules, and the
module paths programs import (torch.serialization, torch.nn.modules, torch.utils.data)."""
import copy
import pickle

import numpy as np
import pytest

import fastnn as torch
import fastnn.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.rnn = nn.LSTM(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 2)
        self.note = {"epochs": 3}

    def forward(self, x):
        h = self.bn(self.conv(x)).relu().flatten(2)[:, :, :4]
        out, _ = self.rnn(h)
        return self.fc(out[:, -1])


class Custom:
    def __init__(self, v):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, Custom) and other.v == self.v


def _x():
    return torch.tensor(np.linspace(-1, 1, 2 * 36, dtype=np.float32).reshape(2, 1, 6, 6))


def test_whole_module_round_trip_with_the_opt_in(tmp_path):
    torch.manual_seed(0)
    m = Net().eval()
    torch.save(m, tmp_path / "model.pt")
    back = torch.load(tmp_path / "model.pt", weights_only=False)
    assert type(back) is Net and back is not m and back.note == {"epochs": 3} and not back.training
    np.testing.assert_array_equal(back(_x()).detach().numpy(), m(_x()).detach().numpy())
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in back.parameters())
    assert [k for k, _ in back.named_parameters()] == [k for k, _ in m.named_parameters()]
    assert back.bn.running_mean.tolist() == m.bn.running_mean.tolist()
    back(_x()).sum().backward()  # the loaded model trains
    assert back.fc.weight.grad is not None


def test_default_load_refuses_pickled_objects_with_torchs_advice(tmp_path):
    torch.save(Net(), tmp_path / "model.pt")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed") as err:
        torch.load(tmp_path / "model.pt")
    msg = str(err.value)
    assert "weights_only" in msg and "Unsupported global: GLOBAL test_serialization_objects.Net" in msg
    assert "add_safe_globals" in msg
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "model.pt", weights_only=True)


def test_safe_globals_allowlist(tmp_path):
    torch.save({"obj": Custom(3), "t": torch.ones(2)}, tmp_path / "c.pt")
    with pytest.raises(pickle.UnpicklingError, match="Custom"):
        torch.load(tmp_path / "c.pt")
    with torch.serialization.safe_globals([Custom]):
        back = torch.load(tmp_path / "c.pt")
        assert Custom in torch.serialization.get_safe_globals()
    assert back["obj"] == Custom(3) and back["t"].tolist() == [1.0, 1.0]
    assert Custom not in torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([Custom])
    try:
        assert torch.load(tmp_path / "c.pt")["obj"] == Custom(3)
    finally:
        torch.serialization.clear_safe_globals()


def test_weights_only_load_of_a_pickled_tensor_structure(tmp_path):
    # a set forces the pickle container, but holds only allowlisted things: weights_only loads it
    obj = {"ids": {1, 2}, "w": torch.arange(4.0), "c": 1 + 2j}
    torch.save(obj, tmp_path / "s.pt")
    back = torch.load(tmp_path / "s.pt")
    assert back["ids"] == {1, 2} and back["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and back["c"] == 1 + 2j


def test_state_dicts_stay_in_the_safe_format(tmp_path):
    m = Net()
    torch.save(m.state_dict(), tmp_path / "sd.pt")
    with open(tmp_path / "sd.pt", "rb") as f:
        assert not f.read(16).startswith(torch.serialization.PICKLE_MAGIC)
    sd = torch.load(tmp_path / "sd.pt", weights_only=True)
    m2 = Net()
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2.eval()(_x()).detach().numpy(), m.eval()(_x()).detach().numpy())
    assert torch.load(tmp_path / "sd.pt", weights_only=False).keys() == sd.keys()


def test_optimizer_and_checkpoint_objects(tmp_path):
    m = nn.Linear(3, 2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m(torch.ones(1, 3)).sum().backward()
    opt.step()
    torch.save({"model": m, "opt": opt, "epoch": 4}, tmp_path / "ck.pt")
    ck = torch.load(tmp_path / "ck.pt", map_location="cpu", weights_only=False)
    assert ck["epoch"] == 4 and isinstance(ck["opt"], torch.optim.Adam)
    assert ck["opt"].param_groups[0]["lr"] == 1e-3


def test_tensors_pickle_by_value():
    x = torch.arange(6.0).reshape(2, 3).t()  # non-contiguous
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == x.tolist() and y.dtype is x.dtype and not y.requires_grad
    p = nn.Parameter(torch.ones(2))
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, nn.Parameter) and q.requires_grad
    h = (torch.ones(2, requires_grad=True) * 2)  # a non-leaf arrives as a leaf: the graph is not pickled
    z = pickle.loads(pickle.dumps(h))
    assert z.requires_grad and z.is_leaf
    m = copy.deepcopy(Net())
    assert isinstance(pickle.loads(pickle.dumps(m)), Net)


def test_save_accepts_torchs_arguments(tmp_path):
    torch.save(Net(), tmp_path / "p.pt", pickle_protocol=4)
    assert isinstance(torch.load(tmp_path / "p.pt", weights_only=False, mmap=False), Net)
    torch.serialization.save({"a": torch.ones(1)}, tmp_path / "a.pt")
    assert torch.serialization.load(tmp_path / "a.pt")["a"].tolist() == [1.0]
    with pytest.raises(TypeError, match="unexpected keyword"):
        torch.load(tmp_path / "a.pt", encoding="latin1")


def test_module_paths_import():
    from fastnn.nn.modules import Linear, Module
    from fastnn.nn.modules.loss import _Loss, _WeightedLoss
    from fastnn.nn.modules.module import Module as M2
    from fastnn.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset  # noqa: F401
    from fastnn.utils.data.dataloader import DataLoader as DL2
    from fastnn.utils.data.sampler import BatchSampler, Sampler  # noqa: F401
    import fastnn.utils.data as tud

    assert Module is nn.Module is M2 and Linear is nn.Linear and DL2 is DataLoader
    assert issubclass(nn.MSELoss, _Loss) and issubclass(nn.CrossEntropyLoss, _WeightedLoss)
    assert torch.nn.modules.loss._Loss is _Loss and tud.get_worker_info() is None
    assert torch.utils.data.DataLoader is DataLoader


def test_a_malicious_pickle_never_runs_by_default(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pt").write_bytes(torch.serialization.PICKLE_MAGIC + pickle.dumps(Evil(), protocol=4))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        torch.load(tmp_path / "evil.pt")
    (tmp_path / "junk.pt").write_bytes(torch.serialization.PICKLE_MAGIC + b"\x80\x04garbage")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(tmp_path / "junk.pt")


@pytest.mark.torch
def test_pad_sequence_matches_torch():
    t = pytest.importorskip("torch")
    from fastnn.nn.utils.rnn import pad_sequence

    rng = np.random.default_rng(0)
    data = [rng.standard_normal((n, 2)).astype(np.float32) for n in (3, 1, 4)]
    for kw in [{}, {"batch_first": True}, {"padding_value": -1.0, "padding_side": "left"}]:
        seqs = [torch.tensor(d, requires_grad=True) for d in data]
        ours = pad_sequence(seqs, **kw)
        theirs = t.nn.utils.rnn.pad_sequence([t.tensor(d) for d in data], **kw)
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())
        ours.sum().backward()
        assert [s.grad.tolist() for s in seqs] == [np.ones_like(d).tolist() for d in data]


def test_pin_memory_without_an_accelerator(no_cuda):
    x = torch.ones(2)
    assert not x.is_pinned()
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        x.pin_memory()


@pytest.mark.torch
def test_a_torch_checkpoint_is_refused_with_a_way_out(tmp_path):
    t = pytest.importorskip("torch")
    t.save({"w": t.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(ValueError, match="PyTorch checkpoint.*state_dict to fastnn.save"):
        torch.load(tmp_path / "torch.pt", weights_only=False)
    torch.save(t.load(tmp_path / "torch.pt"), tmp_path / "ours.pt")  # the way out: torch tensors convert
    assert torch.load(tmp_path / "ours.pt")["w"].tolist() == [1.0, 1.0]
