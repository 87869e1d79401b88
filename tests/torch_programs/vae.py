# The pattern of pytorch/examples vae/main.py: reparameterisation with randn_like, BCE(reduction='sum') +
# KLD, sampling from the prior.
import numpy as np
import torch
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc21 = nn.Linear(32, 4)
        self.fc22 = nn.Linear(32, 4)
        self.fc3 = nn.Linear(4, 32)
        self.fc4 = nn.Linear(32, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction='sum')
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main():
    torch.manual_seed(1)
    rng = np.random.default_rng(0)
    protos = rng.random((4, 64)) > 0.5
    x = torch.from_numpy((protos[rng.integers(0, 4, 512)] ^ (rng.random((512, 64)) < 0.05)).astype(np.float32))
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for epoch in range(1, 6):
        model.train()
        train_loss = 0
        for i in range(0, 512, 64):
            data = x[i:i + 64]
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        losses.append(train_loss / 512)
    with torch.no_grad():
        sample = torch.randn(16, 4)
        sample = model.decode(sample).cpu()
    return {"first_loss": losses[0], "last_loss": losses[-1], "sample_shape": tuple(sample.shape)}
