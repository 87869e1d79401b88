"""Device and precision probing as PyTorch programs write it (``import fastnn as torch``): torch.accelerator,
torch.backends.*, torch.cuda, autocast in its three spellings, GradScaler (enabled on the CPU, disabled
without CUDA), compared with torch 2.13's answers on this CPU-only machine (the CPU-only answers are checked
with FASTNN_CUDA=off for the test: the ``no_cuda`` fixture)."""
import warnings

import numpy as np
import pytest

import fastnn as torch


def real():
    return pytest.importorskip("torch")


def test_accelerator_answers_from_the_cuda_backend():
    has = torch.cuda.is_available()
    assert torch.accelerator.is_available() is has
    assert torch.accelerator.device_count() == torch.cuda.device_count()
    acc = torch.accelerator.current_accelerator()
    assert (acc is None) if not has else acc.type == "cuda"
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    assert torch.ones(2, device=device).device.type == device


@pytest.mark.torch
def test_backends_flags_have_torchs_defaults_and_are_settable():
    t = real()
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(torch.backends.cudnn, name) == getattr(t.backends.cudnn, name), name
    assert torch.backends.cudnn.is_available() is False and torch.backends.cudnn.version() is None
    assert torch.backends.mps.is_available() is False and torch.backends.mps.is_built() is False
    assert torch.backends.cuda.matmul.allow_tf32 == t.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        assert torch.backends.cudnn.benchmark and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = False
        torch.backends.cuda.matmul.allow_tf32 = False
    assert torch.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
    assert isinstance(torch.backends.openmp.is_available(), bool)


def test_cuda_module_probes():
    assert isinstance(torch.cuda.is_available(), bool) and isinstance(torch.cuda.device_count(), int)
    if not torch.cuda.is_available():
        torch.cuda.manual_seed(0)  # silently nothing to seed, as torch
        torch.cuda.manual_seed_all(0)
        torch.cuda.empty_cache()
    from fastnn.cuda.amp import GradScaler, autocast  # noqa: F401  (the module path resolves)

    assert torch.cuda.amp.autocast is autocast


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def test_autocast_spellings_without_cuda(no_cuda):
    x = torch.ones(3, 4)
    m = _model()
    ref = m(x).detach().numpy().copy()
    with pytest.warns(UserWarning, match="CUDA is not available.*Disabling autocast"):
        with torch.autocast("cuda"):
            y = m(x)
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    with pytest.warns(UserWarning, match="Disabling autocast"):
        with torch.amp.autocast(device_type="cuda", dtype=torch.float16):
            pass
    with pytest.warns(FutureWarning, match="deprecated"), pytest.warns(UserWarning, match="Disabling"):
        with torch.cuda.amp.autocast():
            assert y.dtype is torch.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.autocast("cuda", enabled=False), torch.autocast("cpu", enabled=False):
            np.testing.assert_array_equal(m(x).detach().numpy(), ref)

    @torch.autocast("cuda", enabled=False)
    def f(a):
        return m(a)

    np.testing.assert_array_equal(f(x).detach().numpy(), ref)


@pytest.mark.torch
def test_cpu_autocast_refuses_what_it_cannot_do_and_matches_torchs_float32_warning():
    t = real()
    assert torch.autocast("cpu").fast_dtype is torch.bfloat16  # CPU bf16 autocast is tests/test_autocast_cpu.py
    with pytest.raises(NotImplementedError, match="float16"):
        torch.autocast("cpu", dtype=torch.float16)
    with pytest.warns(UserWarning, match="target dtype is not supported. Disabling autocast") as ours:
        with torch.autocast("cpu", dtype=torch.float32):
            pass
    with pytest.warns(UserWarning) as theirs:
        with t.autocast("cpu", dtype=t.float32):
            pass
    assert str(ours[0].message) == str(theirs[0].message)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        torch.autocast("tpu")


def test_grad_scaler_disabled_without_cuda_passes_through(no_cuda):
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        scaler = torch.amp.GradScaler()
    with pytest.warns(FutureWarning), pytest.warns(UserWarning, match="Disabling"):
        assert not torch.cuda.amp.GradScaler().is_enabled()
    m = _model()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    loss = m(torch.ones(2, 4)).sum()
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    scaler.scale(loss).backward()
    before = m[0].weight.detach().numpy().copy()
    scaler.step(opt)
    scaler.update()
    assert not np.array_equal(before, m[0].weight.detach().numpy())
    assert not torch.amp.GradScaler("cpu", enabled=False).is_enabled()


@pytest.mark.torch
def test_grad_scaler_on_cpu_follows_torch():
    t = real()
    ours_m = _model()
    theirs_m = t.nn.Sequential(t.nn.Linear(4, 8), t.nn.ReLU(), t.nn.Linear(8, 1))
    theirs_m.load_state_dict({k: t.tensor(v.numpy()) for k, v in ours_m.state_dict().items()})
    so, st = torch.amp.GradScaler("cpu", growth_interval=2), t.amp.GradScaler("cpu", growth_interval=2)
    oo, ot = torch.optim.SGD(ours_m.parameters(), lr=0.01), t.optim.SGD(theirs_m.parameters(), lr=0.01)
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    for step in range(4):
        oo.zero_grad()
        ot.zero_grad()
        so.scale(ours_m(torch.tensor(x)).pow(2).sum()).backward()
        st.scale(theirs_m(t.tensor(x)).pow(2).sum()).backward()
        np.testing.assert_allclose(ours_m[0].weight.grad.numpy(), theirs_m[0].weight.grad.numpy(), rtol=1e-5)
        if step == 2:  # an overflowing step is skipped and the scale backs off
            ours_m[0].weight.grad.fill_(float("inf"))
            theirs_m[0].weight.grad.fill_(float("inf"))
        so.unscale_(oo)
        st.unscale_(ot)
        so.step(oo)
        st.step(ot)
        so.update()
        st.update()
        assert so.get_scale() == st.get_scale(), step
        np.testing.assert_allclose(ours_m[0].weight.detach().numpy(), theirs_m[0].weight.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert so.state_dict() == st.state_dict()
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        so.unscale_(oo)
        so.unscale_(oo)
    fresh = torch.amp.GradScaler("cpu")
    fresh.load_state_dict(so.state_dict())
    assert fresh.get_scale() == so.get_scale()


def test_a_training_script_written_for_torch_runs_unchanged(tmp_path, no_cuda):
    """The preamble and loop of a typical published script, with only the import changed (on a CPU-only
    machine: CUDA autocast, which the script enables on a GPU, is not there yet; the same script on CUDA
    without AMP is in tests/test_cuda_models.py)."""
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_amp = device.type == "cuda"
    torch.manual_seed(1)
    x = torch.randn(64, 4)
    y = (x.sum(1) > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                                         num_workers=0, pin_memory=False, drop_last=True)
    model = torch.compile(torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
                          .to(device))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    log = []
    for epoch in range(3):
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        log.append(f"epoch {epoch}: loss {loss:.4f} ({loss.item():.2f}) type {loss.type()}")
    with torch.inference_mode():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.8 and log[-1].startswith("epoch 2: loss ") and "torch.FloatTensor" in log[-1]
    torch.save(model, tmp_path / "model.pth")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scaler": scaler.state_dict()},
               tmp_path / "ckpt.pth")
    again = torch.load(tmp_path / "model.pth", map_location=device, weights_only=False)
    ck = torch.load(tmp_path / "ckpt.pth", map_location=device)
    again.load_state_dict(ck["model"])
    np.testing.assert_array_equal(again(x).detach().numpy(), model(x).detach().numpy())
