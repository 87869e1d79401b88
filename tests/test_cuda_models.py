"""Modules and optimizers on the CUDA device: Module.to/.cuda/.cpu keep the Parameter objects, optimizer state
lives on the parameters' device, state_dicts and checkpoints round-trip, and a few training steps of each
model family give the CPU's losses and weights.

Runs on the emulated device in CI (conftest: FASTNN_CUDA=emulate) and on a GPU with FASTNN_CUDA=auto.
"""
import copy
import io

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]
CUDA0 = fastnn.device("cuda:0")
CPU = fastnn.device("cpu")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.bn(self.fc(x))


def _tensors(m):
    return list(m.parameters()) + list(m.buffers())


# ---- Module moves ----------------------------------------------------------------------------------------------
def test_module_moves_keep_the_parameter_objects():
    m = _Net()
    params = list(m.parameters())
    m(fastnn.randn(5, 4)).sum().backward()
    assert m.cuda() is m
    assert [p for p in m.parameters()] == params and all(p is q for p, q in zip(m.parameters(), params))
    assert all(t.device == CUDA0 for t in _tensors(m))
    assert all(p.grad.device == CUDA0 for p in m.parameters())  # grads move with their parameters
    assert all(type(p) is nn.Parameter and p.requires_grad for p in m.parameters())
    assert m.bn.num_batches_tracked.device == CUDA0 and m.bn.num_batches_tracked.dtype is fastnn.int64
    m.cpu()
    assert all(t.device == CPU for t in _tensors(m)) and all(p is q for p, q in zip(m.parameters(), params))
    for move in (lambda: m.to("cuda"), lambda: m.to(CUDA0), lambda: m.to(0), lambda: m.cuda(0),
                 lambda: m.to(fastnn.ones(1, device="cuda")), lambda: m.to(device="cuda:0")):
        m.cpu()
        move()
        assert all(t.device == CUDA0 for t in _tensors(m))
    m.to("cpu", fastnn.float64)
    m.to("cuda", dtype=fastnn.float32, non_blocking=True)
    assert m.fc.weight.dtype is fastnn.float32 and m.fc.weight.device == CUDA0
    assert m.bn.num_batches_tracked.dtype is fastnn.int64  # only floating tensors change dtype


def test_module_on_cuda_computes_and_refuses_cpu_inputs():
    m = nn.Linear(4, 2).cuda()
    y = m(fastnn.ones(3, 4, device="cuda"))
    assert y.device == CUDA0
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        m(fastnn.ones(3, 4))


def test_state_dict_and_load_state_dict_across_devices():
    m = _Net().cuda()
    sd = m.state_dict()
    assert all(v.device == CUDA0 for v in sd.values())
    cpu_model = _Net()
    cpu_model.load_state_dict(sd)  # CUDA values into CPU parameters: copied to the CPU
    assert all(t.device == CPU for t in _tensors(cpu_model))
    for k, v in cpu_model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].cpu().numpy())
    with fastnn.no_grad():
        cpu_model.fc.weight.fill_(0.5)
    m.load_state_dict(cpu_model.state_dict())  # and back: the CUDA model stays on CUDA
    assert m.fc.weight.device == CUDA0 and m.fc.weight.tolist() == [[0.5] * 4] * 3


def test_checkpoint_round_trip_resumes_training_on_cuda():
    fastnn.manual_seed(0)
    m = _Net().cuda()
    opt = fastnn.optim.Adam(m.parameters(), lr=0.01)
    x = fastnn.randn(6, 4).cuda()
    for _ in range(2):
        opt.zero_grad()
        m(x).pow(2).mean().backward()
        opt.step()
    buf = io.BytesIO()
    fastnn.save({"model": m.state_dict(), "optim": opt.state_dict()}, buf)
    buf.seek(0)
    ck = fastnn.load(buf)
    assert all(v.device == CUDA0 for v in ck["model"].values())
    m2 = _Net().cuda()
    m2.load_state_dict(ck["model"])
    opt2 = fastnn.optim.Adam(m2.parameters(), lr=0.01)
    opt2.load_state_dict(ck["optim"])
    for model, o in ((m, opt), (m2, opt2)):
        o.zero_grad()
        model(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    buf.seek(0)
    on_cpu = fastnn.load(buf, map_location="cpu")
    assert all(v.device == CPU for v in on_cpu["model"].values())


@pytest.mark.parametrize("make", [
    lambda ps: fastnn.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: fastnn.optim.Adam(ps, lr=0.01),
    lambda ps: fastnn.optim.AdamW(ps, lr=0.01, amsgrad=True),
    lambda ps: fastnn.optim.RMSprop(ps, lr=0.01, momentum=0.5),
    lambda ps: fastnn.optim.Adagrad(ps, lr=0.1),
    lambda ps: fastnn.optim.Adadelta(ps, lr=1.0),
    lambda ps: fastnn.optim.Adamax(ps, lr=0.01),
    lambda ps: fastnn.optim.NAdam(ps, lr=0.01),
    lambda ps: fastnn.optim.RAdam(ps, lr=0.01),
    lambda ps: fastnn.optim.ASGD(ps, lr=0.01),
], ids=["sgd", "adam", "adamw_amsgrad", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "asgd"])
def test_optimizer_state_lives_on_the_parameters_device_and_matches_the_cpu(make):
    fastnn.manual_seed(1)
    cpu = nn.Linear(5, 3)
    gpu = copy.deepcopy(cpu).cuda()
    x = fastnn.randn(4, 5)
    for model, data in ((cpu, x), (gpu, x.cuda())):
        opt = make(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            model(data).pow(2).sum().backward()
            opt.step()
        devices = {v.device for st in opt.state.values() for v in st.values() if isinstance(v, fastnn.Tensor)
                   and v.ndim > 0}
        assert devices == {model.weight.device}
    for a, b in zip(cpu.parameters(), gpu.parameters()):
        np.testing.assert_allclose(b.cpu().detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_lbfgs_on_cuda_matches_the_cpu():
    fastnn.manual_seed(1)
    cpu = nn.Linear(5, 3)
    gpu = copy.deepcopy(cpu).cuda()
    x = fastnn.randn(4, 5)
    for model, data in ((cpu, x), (gpu, x.cuda())):
        opt = fastnn.optim.LBFGS(model.parameters(), max_iter=5)

        def closure():
            opt.zero_grad()
            loss = model(data).pow(2).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
    for a, b in zip(cpu.parameters(), gpu.parameters()):
        assert b.device == CUDA0
        np.testing.assert_allclose(b.detach().cpu().numpy(), a.detach().numpy(), rtol=1e-4, atol=1e-5)


# ---- training each model family -------------------------------------------------------------------------------
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=1)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv1(x))))
        x = F.avg_pool2d(F.relu(self.conv2(x)), 1)
        return self.fc(self.avg(x).flatten(1))


class Recurrent(nn.Module):
    def __init__(self, cls):
        super().__init__()
        self.rnn = cls(6, 7, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(14, 3)

    def forward(self, x):
        return self.fc(self.rnn(x)[0][:, -1])


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.embed = nn.Embedding(11, 8)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 3)

    def forward(self, tokens):
        mask = tokens == 0  # padding positions
        h = self.encoder(self.embed(tokens), src_key_padding_mask=mask)
        return self.fc(self.norm(h).mean(1))


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(10, 8)
        self.mu = nn.Linear(8, 2)
        self.logvar = nn.Linear(8, 2)
        self.dec = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 10), nn.Sigmoid())

    def forward(self, x, eps):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        return self.dec(mu + fastnn.exp(0.5 * logvar) * eps), mu, logvar


def _vae_loss(m, x, eps):
    recon, mu, logvar = m(x, eps)
    kld = -0.5 * fastnn.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
    return F.binary_cross_entropy(recon, x) + kld


def _classify(m, x, y):
    return F.cross_entropy(m(x), y)


def _data():
    fastnn.manual_seed(2)
    tokens = fastnn.randint(1, 11, (4, 6))
    tokens[:, -2:] = 0
    return {
        "vectors": (fastnn.randn(8, 10), fastnn.randint(0, 3, (8,))),
        "images": (fastnn.randn(4, 1, 8, 8), fastnn.randint(0, 3, (4,))),
        "sequences": (fastnn.randn(4, 5, 6), fastnn.randint(0, 3, (4,))),
        "tokens": (tokens, fastnn.randint(0, 3, (4,))),
        "autoencoder": (fastnn.rand(8, 10), fastnn.randn(8, 2)),  # inputs in [0, 1] and the VAE's noise
    }


# (model, data, loss, optimizer): SGD where a parameter's gradient is ~0 by symmetry (a bias before batch
# norm, attention's key bias), which Adam would blow up into noise-driven steps of size lr.
FAMILIES = {
    "mlp": (lambda: nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 3)), "vectors",
            _classify, "adam"),
    "cnn": (CNN, "images", _classify, "sgd"),
    "lstm": (lambda: Recurrent(nn.LSTM), "sequences", _classify, "adam"),
    "gru": (lambda: Recurrent(nn.GRU), "sequences", _classify, "adam"),
    "transformer": (Encoder, "tokens", _classify, "sgd"),
    "autoencoder": (VAE, "autoencoder", _vae_loss, "adam"),
}


def _train(model, data, loss_fn, optim: str, device, steps: int = 3):
    opt = (fastnn.optim.Adam(model.parameters(), lr=1e-2) if optim == "adam"
           else fastnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    a, b = (d.to(device) for d in data)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model, a, b)
        loss.backward()
        opt.step()
        assert loss.device == fastnn.device(device)
        losses.append(loss.item())
    return losses, {k: v.cpu().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_training_on_cuda_matches_the_cpu(family):
    make, data_key, loss_fn, optim = FAMILIES[family]
    data = _data()[data_key]
    fastnn.manual_seed(0)
    cpu_model = make()
    cuda_model = copy.deepcopy(cpu_model).cuda()
    cpu_losses, cpu_state = _train(cpu_model, data, loss_fn, optim, "cpu")
    cuda_losses, cuda_state = _train(cuda_model, data, loss_fn, optim, "cuda")
    np.testing.assert_allclose(cuda_losses, cpu_losses, rtol=1e-4, atol=1e-5)
    assert cuda_losses[-1] < cuda_losses[0]  # it learns
    # Adam's early steps move a weight by about lr * g / |g| whatever g's size: where a gradient is near zero, the
    # rounding difference between the CPU's native kernels (the fused LSTM cell) and the device's composite ones
    # can move it by a few 1e-5 of lr = 1e-2; the losses above stay within 1e-4.
    atol = 1e-4 if optim == "adam" else 1e-5
    for key, ref in cpu_state.items():
        np.testing.assert_allclose(cuda_state[key], ref, rtol=1e-4, atol=atol, err_msg=key)


def test_eval_mode_inference_on_cuda_matches_the_cpu():
    fastnn.manual_seed(4)
    m = CNN()
    x = fastnn.randn(2, 1, 8, 8)
    m.train()
    m(x)  # running statistics
    m.eval()
    with fastnn.no_grad():
        ref = m(x)
        got = copy.deepcopy(m).cuda()(x.cuda())
    assert got.device == CUDA0 and not got.requires_grad
    np.testing.assert_allclose(got.cpu().numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_a_torch_training_script_runs_unchanged_on_cuda(tmp_path):
    """A published script's preamble and loop with only the import changed, on the CUDA device (AMP off:
    CUDA autocast is not there yet)."""
    import fastnn as torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(1)
    x = torch.randn(64, 4)
    y = (x.sum(1) > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                                         drop_last=True)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    for epoch in range(3):
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=False):
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    assert loss.device == CUDA0 and loss.type() == "torch.cuda.FloatTensor"
    with torch.inference_mode():
        acc = (model(x.to(device)).argmax(1) == y.to(device)).float().mean().item()
    assert acc > 0.8
    torch.save(model, tmp_path / "model.pth")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.pth")
    again = torch.load(tmp_path / "model.pth", map_location=device, weights_only=False)
    ck = torch.load(tmp_path / "ckpt.pth", map_location="cpu")
    assert all(v.device == CPU for v in ck["model"].values())
    again.load_state_dict(ck["model"])
    assert again[0].weight.device == CUDA0
    with torch.no_grad():
        np.testing.assert_array_equal(again(x.cuda()).cpu().numpy(), model(x.cuda()).cpu().numpy())


# ---- layers one by one: forward and backward on CUDA against the CPU ---------------------------------------------
def _r(*shape):
    return fastnn.randn(*shape)


LAYERS = {
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, padding=1), lambda: (_r(2, 3, 7),)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), lambda: (_r(1, 3, 4, 4),)),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(3, 2, 3, stride=2), lambda: (_r(1, 3, 4),)),
    "group_norm": (lambda: nn.GroupNorm(2, 4), lambda: (_r(2, 4, 3, 3),)),
    "instance_norm": (lambda: nn.InstanceNorm2d(4, affine=True), lambda: (_r(2, 4, 3, 3),)),
    "layer_norm": (lambda: nn.LayerNorm(5), lambda: (_r(2, 3, 5),)),
    "batch_norm1d": (lambda: nn.BatchNorm1d(5), lambda: (_r(4, 5),)),
    "embedding": (lambda: nn.Embedding(10, 4, padding_idx=0), lambda: (fastnn.randint(0, 10, (3, 5)),)),
    "embedding_bag": (lambda: nn.EmbeddingBag(10, 4, mode="mean"), lambda: (fastnn.randint(0, 10, (3, 5)),)),
    "multihead_attention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True),
                            lambda: (_r(2, 5, 8), _r(2, 5, 8), _r(2, 5, 8))),
    "transformer": (lambda: nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True),
                    lambda: (_r(2, 5, 8), _r(2, 4, 8))),
    "rnn_tanh": (lambda: nn.RNN(4, 5, batch_first=True), lambda: (_r(2, 3, 4),)),
    "lstm_cell": (lambda: nn.LSTMCell(4, 5), lambda: (_r(2, 4),)),
    "gru_cell": (lambda: nn.GRUCell(4, 5), lambda: (_r(2, 4),)),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), lambda: (_r(1, 2, 3, 3),)),
    "pixel_shuffle": (lambda: nn.PixelShuffle(2), lambda: (_r(1, 8, 3, 3),)),
    "adaptive_max_pool2d": (lambda: nn.AdaptiveMaxPool2d(2), lambda: (_r(1, 2, 5, 5),)),
    "max_pool1d": (lambda: nn.MaxPool1d(2), lambda: (_r(1, 2, 6),)),
    "bilinear": (lambda: nn.Bilinear(3, 4, 2), lambda: (_r(5, 3), _r(5, 4))),
    "prelu": (lambda: nn.PReLU(3), lambda: (_r(2, 3, 4),)),
    "fold": (lambda: nn.Fold((4, 4), 2), lambda: (_r(1, 8, 9),)),
    "unfold": (lambda: nn.Unfold(2), lambda: (_r(1, 2, 4, 4),)),
}


def _layer_step(make, inputs, device):
    fastnn.manual_seed(0)
    m = make().to(device)
    xs = [x.detach().to(device).clone() for x in inputs]
    for x in xs:
        if x.dtype.is_floating_point:
            x.requires_grad_(True)
    out = m(*xs)
    out = out[0] if isinstance(out, tuple) else out
    assert out.device == fastnn.device(device)
    out.pow(2).sum().backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None] + [x.grad for x in xs if x.grad is not None]
    return [out.detach().cpu().numpy()] + [g.cpu().numpy() for g in grads]


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layers_on_cuda_match_the_cpu(layer):
    make, inputs = LAYERS[layer]
    fastnn.manual_seed(3)
    data = inputs()
    cpu, cuda = _layer_step(make, data, "cpu"), _layer_step(make, data, "cuda")
    assert len(cpu) == len(cuda)
    for a, b in zip(cpu, cuda):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


# ---- several devices: the emulator enforces CuPy's current-device rule with FASTNN_CUDA=emulate:2 ------------
def test_training_on_the_second_device_matches_the_cpu(two_cuda):
    make, data_key, loss_fn, optim = FAMILIES["cnn"]
    data = _data()[data_key]
    fastnn.manual_seed(0)
    cpu_model = make()
    other = copy.deepcopy(cpu_model).to("cuda:1")
    assert fastnn.cuda.current_device() == 0  # nothing switched the current device: the ops do
    cpu_losses, cpu_state = _train(cpu_model, data, loss_fn, optim, "cpu")
    losses, state = _train(other, data, loss_fn, optim, "cuda:1")
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-4, atol=1e-5)
    for key, ref in cpu_state.items():
        np.testing.assert_allclose(state[key], ref, rtol=1e-4, atol=1e-5, err_msg=key)
    assert all(p.device == fastnn.device("cuda:1") for p in other.parameters())


def test_a_model_split_over_two_devices_trains_as_on_the_cpu(two_cuda):
    fastnn.manual_seed(0)
    first, second = nn.Linear(6, 8), nn.Linear(8, 3)
    x, y = fastnn.randn(5, 6), fastnn.randint(0, 3, (5,))

    def run(d0, d1):
        a, b = copy.deepcopy(first).to(d0), copy.deepcopy(second).to(d1)
        opt = fastnn.optim.SGD(list(a.parameters()) + list(b.parameters()), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(b(F.relu(a(x.to(d0))).to(d1)), y.to(d1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().cpu().numpy() for p in list(a.parameters()) + list(b.parameters())]

    (ref_losses, ref_params), (losses, params) = run("cpu", "cpu"), run("cuda:0", "cuda:1")
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-6)
    for p, q in zip(params, ref_params):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
