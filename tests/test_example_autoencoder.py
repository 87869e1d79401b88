"""examples/autoencoder_digits.py: the smoke run learns and writes its PNG (when matplotlib is there), and the
VAE's pieces are right: the reparameterised sample carries gradient to mu and logvar, the KL term is the closed
form."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example():
    # The examples import their shared _util as a sibling module, as when run as scripts.
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module("autoencoder_digits")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_smoke_run_learns_and_saves_grid(example, tmp_path, capsys):
    result = example.main(["--smoke", "--out", str(tmp_path)])
    for name in ("ae", "vae"):
        r = result[name]
        assert r["last_loss"] < r["first_loss"], (name, r)
        assert r["test_bce_after"] < r["test_bce_before"], (name, r)
        assert r["test_mse_after"] < r["test_mse_before"], (name, r)
        assert r["test_bce_after"] > result["test_bce_floor"]  # nothing beats the pixel entropy
    assert result["vae"]["last_kl"] > 0
    out = capsys.readouterr().out
    assert "recon" in out and "KL" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result["png"] is None
        assert "matplotlib is not installed" in out
    else:
        png = Path(result["png"])
        assert png.parent == tmp_path and png.stat().st_size > 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_grid_is_skipped_with_a_note(example, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    rows = [("test", np.zeros((2, 64), np.float32))]
    assert example.save_grid(str(tmp_path / "grid.png"), rows) is None
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "grid.png").exists()


def test_reparameterised_sample_carries_gradient_to_mu_and_logvar(example):
    fastnn.manual_seed(3)
    mu = fastnn.tensor(np.random.default_rng(0).normal(size=(5, 4)), requires_grad=True)
    logvar = fastnn.tensor(np.random.default_rng(1).normal(size=(5, 4)), requires_grad=True)
    z = example.reparameterise(mu, logvar)
    assert z.requires_grad
    sigma = np.exp(0.5 * logvar.detach().numpy())
    eps = (z.detach().numpy() - mu.detach().numpy()) / sigma
    assert abs(eps.std() - 1) < 0.6 and np.all(eps != 0)  # a real draw, not a constant
    (z * 2.0).sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), 2.0, rtol=1e-12)  # dz/dmu = 1
    np.testing.assert_allclose(logvar.grad.numpy(), 2.0 * 0.5 * sigma * eps, rtol=1e-10)  # dz/dlogvar


def test_vae_samples_in_training_and_uses_the_mean_in_eval(example):
    fastnn.manual_seed(0)
    vae = example.VAE()
    x = fastnn.rand(6, 64)
    with fastnn.no_grad():
        a, b = vae(x)[0].numpy(), vae(x)[0].numpy()
        assert not np.allclose(a, b)  # z drawn afresh each call
        vae.eval()
        np.testing.assert_array_equal(vae(x)[0].numpy(), vae(x)[0].numpy())
    vae.train()
    logits, mu, logvar = vae(x)
    loss = example.reconstruction_loss(logits, x) + example.kl_divergence(mu, logvar)
    loss.backward()
    # Both encoder heads are reached through z (and through the KL term).
    for p in [vae.mu.weight, vae.logvar.weight, vae.body[0].weight, vae.decoder[0].weight]:
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0


def test_kl_divergence_is_the_closed_form(example):
    rng = np.random.default_rng(2)
    mu_np, lv_np = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    mu = fastnn.tensor(mu_np, requires_grad=True)
    logvar = fastnn.tensor(lv_np, requires_grad=True)
    kl = example.kl_divergence(mu, logvar)
    want = np.mean(0.5 * (mu_np ** 2 + np.exp(lv_np) - 1 - lv_np).sum(1))
    assert kl.item() == pytest.approx(want, rel=1e-12)
    kl.backward()
    np.testing.assert_allclose(mu.grad.numpy(), mu_np / 3, rtol=1e-12)
    np.testing.assert_allclose(logvar.grad.numpy(), 0.5 * (np.exp(lv_np) - 1) / 3, rtol=1e-12)
    assert example.kl_divergence(fastnn.zeros(2, 8), fastnn.zeros(2, 8)).item() == 0.0  # q = prior
