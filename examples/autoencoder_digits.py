"""Autoencoder and variational autoencoder on the handwritten digits, PyTorch style (fastnn.nn + fastnn.optim).

    python examples/autoencoder_digits.py                 # ~5 s; writes examples/output/autoencoder_digits.png
    python examples/autoencoder_digits.py --out /tmp/ae   # the PNG somewhere else

Both models see the 8×8 images as 64 pixels in [0, 1] and are scored by binary cross-entropy summed over the
pixels (nats per image), so the two reconstruction numbers compare directly. The VAE adds the KL divergence of
q(z|x) = N(mu, exp(logvar)) from N(0, I) and samples z with the reparameterisation trick. The PNG (needs
matplotlib; skipped with a note without it) shows test digits, their AE and VAE reconstructions, VAE samples
from z ~ N(0, I) and a walk through the VAE's latent space between two test digits.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import fastnn
from fastnn import nn
from fastnn.data import DataLoader, TensorDataset
from fastnn.nn import functional as F

from _util import Timer, digits, parse_args

LATENT = 8
HIDDEN = 128
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")


def reparameterise(mu, logvar):
    """z = mu + sigma·eps with eps ~ N(0, I): the randomness sits in eps, outside the graph, so z is a
    differentiable function of mu and logvar (dz/dmu = 1, dz/dlogvar = 0.5·sigma·eps)."""
    eps = fastnn.randn_like(mu)
    return mu + (0.5 * logvar).exp() * eps


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the latent dimensions, averaged over the batch."""
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum() / mu.shape[0]


def reconstruction_loss(logits, x):
    """Bernoulli negative log-likelihood: BCE summed over the 64 pixels, averaged over the batch. The decoders
    end in logits and the sigmoid is folded into the loss (log-sigmoid is stable where log(sigmoid) is not)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def decoder() -> nn.Sequential:
    # Ends in logits; their sigmoid is the reconstructed image (see AutoEncoder.reconstruct).
    return nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 64))


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, LATENT))
        self.decoder = decoder()

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def reconstruct(self, x):
        return self.forward(x).sigmoid()


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU())
        self.mu = nn.Linear(HIDDEN, LATENT)
        self.logvar = nn.Linear(HIDDEN, LATENT)
        self.decoder = decoder()

    def encode(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x):
        """(decoder logits, mu, logvar), z sampled in training mode and z = mu (the posterior mean) in eval."""
        mu, logvar = self.encode(x)
        z = reparameterise(mu, logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def reconstruct(self, x):
        return self.forward(x)[0].sigmoid()

    def sample(self, n: int):
        return self.decoder(fastnn.randn(n, LATENT)).sigmoid()


def test_reconstruction(model, x_test) -> tuple[float, float]:
    """(BCE nats per image, mean squared error per pixel) of the test images, deterministic (VAE: z = mu)."""
    model.eval()
    with fastnn.no_grad():
        x = fastnn.tensor(x_test)
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        bce = reconstruction_loss(logits, x).item()
        mse = ((logits.sigmoid() - x) ** 2).mean().item()
    return bce, mse


def entropy_floor(x) -> float:
    """The lowest BCE any model can reach on grey-level targets: the entropy of each pixel's value taken as a
    Bernoulli probability, summed over the pixels (a perfect reconstruction scores this, not 0)."""
    p = np.clip(x.astype(np.float64), 1e-12, 1 - 1e-12)
    return float(-(p * np.log(p) + (1 - p) * np.log1p(-p)).sum(1).mean())


def train(name, model, loader, epochs, lr, x_test, vae: bool) -> dict:
    opt = fastnn.optim.Adam(model.parameters(), lr=lr)
    before = test_reconstruction(model, x_test)
    print(f"{name}: test reconstruction before training  BCE {before[0]:.2f} nats/image  MSE {before[1]:.4f}")
    losses, recons, kls = [], [], []
    for epoch in range(epochs):
        model.train()
        totals, count = np.zeros(3), 0
        for (xb,) in loader:
            opt.zero_grad()
            if vae:
                logits, mu, logvar = model(xb)
                recon, kl = reconstruction_loss(logits, xb), kl_divergence(mu, logvar)
                loss = recon + kl
            else:
                loss = recon = reconstruction_loss(model(xb), xb)
                kl = None
            loss.backward()
            opt.step()
            n = xb.shape[0]
            totals += n * np.array([loss.item(), recon.item(), kl.item() if vae else 0.0])
            count += n
        loss_e, recon_e, kl_e = totals / count
        losses.append(loss_e)
        recons.append(recon_e)
        kls.append(kl_e)
        if epoch % 10 == 0 or epoch == epochs - 1:
            detail = f"  recon {recon_e:7.3f}  KL {kl_e:6.3f}" if vae else ""
            print(f"{name} epoch {epoch + 1:3d}/{epochs}  loss {loss_e:7.3f}{detail}")
    after = test_reconstruction(model, x_test)
    print(f"{name}: test reconstruction after training   BCE {after[0]:.2f} nats/image  MSE {after[1]:.4f}")
    result = {"first_loss": losses[0], "last_loss": losses[-1], "test_bce_before": before[0],
              "test_bce_after": after[0], "test_mse_before": before[1], "test_mse_after": after[1]}
    if vae:
        result.update(first_recon=recons[0], last_recon=recons[-1], first_kl=kls[0], last_kl=kls[-1])
    return result


def one_per_class(x_test, y_test, n=10):
    """The first test image of each digit 0..9, so every row of the grid shows all ten classes."""
    return x_test[[int(np.flatnonzero(y_test == c)[0]) for c in range(n)]]


def save_grid(path, rows) -> str | None:
    """rows: list of (label, (k, 64) array in [0, 1]). Returns the PNG path, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display needed; set before pyplot is imported
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the PNG grid (pip install matplotlib to get it)")
        return None
    cols = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(cols * 0.9, len(rows) * 1.0), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(np.asarray(images[c]).reshape(8, 8), cmap="gray_r", vmin=0.0, vmax=1.0,
                          interpolation="nearest")
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], epochs=100, argv=argv,
                      extra=[(("--out",), {"default": DEFAULT_OUT, "help": "folder for the PNG grid"})])
    x_train, _, x_test, y_test = digits(flatten=True, smoke=args.smoke)
    loader = DataLoader(TensorDataset(x_train), batch_size=64, shuffle=True, generator=args.seed)
    print(f"test BCE floor (pixel entropy): {entropy_floor(x_test):.2f} nats/image")
    with Timer() as t:
        ae = AutoEncoder()
        print(ae)
        ae_result = train("AE ", ae, loader, args.epochs, 2e-3, x_test, vae=False)
        vae = VAE()
        print(vae)
        vae_result = train("VAE", vae, loader, args.epochs, 2e-3, x_test, vae=True)

    shown = one_per_class(x_test, y_test)
    ae.eval()
    vae.eval()
    with fastnn.no_grad():
        x = fastnn.tensor(shown)
        mu, _ = vae.encode(fastnn.tensor(shown[[0, 9]]))  # walk from a 0 to a 9 through the latent space
        steps = fastnn.linspace(0, 1, 10).reshape(10, 1)
        walk = vae.decoder(mu[0:1] * (1 - steps) + mu[1:2] * steps).sigmoid()
        rows = [("test", shown), ("AE", ae.reconstruct(x).numpy()), ("VAE", vae.reconstruct(x).numpy()),
                ("VAE\nsample", vae.sample(10).numpy()), ("VAE\n0 → 9", walk.numpy())]
    png = save_grid(os.path.join(args.out, "autoencoder_digits.png"), rows)
    if png:
        print(f"saved {png}")
    print(f"trained in {t.seconds:.1f} s; test reconstruction BCE (nats/image): "
          f"AE {ae_result['test_bce_before']:.2f} -> {ae_result['test_bce_after']:.2f}, "
          f"VAE {vae_result['test_bce_before']:.2f} -> {vae_result['test_bce_after']:.2f}")
    return {"ae": ae_result, "vae": vae_result, "test_bce_floor": entropy_floor(x_test), "png": png,
            "seconds": t.seconds}


if __name__ == "__main__":
    main(sys.argv[1:])
