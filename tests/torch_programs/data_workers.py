# The pattern of a map-style Dataset fed through DataLoader worker processes with a custom sampler and
# collate_fn, pin_memory, worker_init_fn seeding, and a model trained on the batches.
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.sampler import SubsetRandomSampler


class Squares(Dataset):
    def __init__(self, n):
        self.x = np.linspace(-1, 1, n, dtype=np.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return torch.tensor([self.x[i]]), torch.tensor([self.x[i] ** 2])


def seed_worker(worker_id):
    np.random.seed(torch.initial_seed() % 2 ** 32)


def main():
    torch.manual_seed(0)
    ds = Squares(256)
    g = torch.Generator()
    g.manual_seed(0)
    sampler = SubsetRandomSampler(list(range(0, 256, 2)), generator=g)
    loader = DataLoader(ds, batch_size=16, sampler=sampler, num_workers=2, pin_memory=True,
                        worker_init_fn=seed_worker)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    seen, losses = 0, []
    for epoch in range(4):
        for xb, yb in loader:
            loss = nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(xb)
            losses.append(loss.item())
    return {"seen": seen, "first_loss": losses[0], "last_loss": float(np.mean(losses[-4:]))}
