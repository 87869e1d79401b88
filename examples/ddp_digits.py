"""Data-parallel MLP on the handwritten digits, PyTorch's DDP recipe: one process per rank, each on its shard.

    mpiexec -n 2 python examples/ddp_digits.py                            # 2 ranks over MPI
    python -m fastnn.distributed.run --nproc-per-node 2 examples/ddp_digits.py   # torchrun's form
    python examples/ddp_digits.py                                         # one process (a 1-rank world)

The global batch (32, as examples/mlp_digits.py) is split over the ranks, so N ranks take the same optimizer
steps on the same gradients (averaged by DDP) as one process: the test accuracy matches the single-process run.
Porting from PyTorch: ``torch`` -> ``fastnn``, ``torch.utils.data`` -> ``fastnn.data``.
"""
from __future__ import annotations

import sys

import fastnn
import fastnn.distributed as dist
from fastnn import nn
from fastnn.data import DataLoader, DistributedSampler, TensorDataset
from fastnn.nn.parallel import DistributedDataParallel as DDP

from _util import Timer, digits, parse_args

GLOBAL_BATCH = 32


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], epochs=60, argv=argv)
    dist.init_process_group(backend="mpi")  # rank and world size from MPI (a lone process is rank 0 of 1)
    rank, world = dist.get_rank(), dist.get_world_size()
    if GLOBAL_BATCH % world:
        raise SystemExit(f"the global batch {GLOBAL_BATCH} does not split over {world} ranks")
    try:
        return train(args, rank, world)
    finally:
        dist.destroy_process_group()


def train(args, rank: int, world: int) -> dict:
    x_train, y_train, x_test, y_test = digits(flatten=True, smoke=args.smoke)
    dataset = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=GLOBAL_BATCH // world, sampler=sampler)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.ReLU(),
                          nn.Dropout(0.2), nn.Linear(128, 10))
    ddp_model = DDP(model)  # rank 0's initial weights go to every rank; gradients are averaged in backward
    if rank == 0:
        print(f"{world} rank(s), {GLOBAL_BATCH // world} samples per rank per step")
        print(model)
    opt = fastnn.optim.AdamW(ddp_model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = fastnn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    losses = []
    with Timer() as t:
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
            ddp_model.train()
            stats = fastnn.zeros(2, dtype=fastnn.float64)  # summed loss, samples: this rank's share
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(ddp_model(xb), yb)
                loss.backward()
                opt.step()
                stats += fastnn.tensor([loss.item() * len(yb), len(yb)], dtype=fastnn.float64)
            dist.all_reduce(stats)  # the epoch's loss over every rank's samples
            sched.step()
            losses.append((stats[0] / stats[1]).item())
            if rank == 0 and (epoch % 10 == 0 or epoch == args.epochs - 1):
                print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {losses[-1]:.4f}")
    model.eval()
    with fastnn.no_grad():
        pred = model(fastnn.tensor(x_test)).argmax(1).numpy()
    acc = fastnn.metrics.accuracy(y_test, pred)  # every rank holds the same weights: the same accuracy
    if rank == 0:
        print(f"trained in {t.seconds:.1f} s on {world} rank(s); test accuracy: {acc:.4f}")
    return {"first_loss": losses[0], "last_loss": losses[-1], "test_accuracy": acc, "world_size": world}


if __name__ == "__main__":
    main(sys.argv[1:])
