"""CPU bf16 autocast on the bench's training steps (bench/train_step.py's MLP, LeNet CNN and transformer
encoder, Adam): one step in fp32 and with the forward under autocast("cpu", bfloat16) (the logits cast back
to float32 for the loss, the usual pattern), fastnn beside torch, medians of interleaved repeats; and
(--accuracy) the examples/mlp_digits.py model trained in fp32 and under autocast from the same seed, test
accuracy of each.

    OMP_NUM_THREADS=1 python bench/autocast_steps.py [--models mlp,cnn,transformer] [--repeats 30] [--accuracy]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_step  # noqa: E402


def _autocast_wrap(L):
    """model -> the model with its forward under bf16 autocast and float32 logits out (``ac`` off: as it is)."""
    class AutocastForward(L.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            with L.autocast("cpu", dtype=L.bfloat16):
                return self.inner(x).float()

    return AutocastForward


def _step(L, model: str, ac: bool):
    return train_step.step_fn(L, model, _autocast_wrap(L) if ac else None)


def _accuracy(ac: bool, epochs: int) -> float:
    import fastnn
    from fastnn import nn
    from fastnn.data import DataLoader, TensorDataset

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from _util import digits

    fastnn.manual_seed(0)
    x_train, y_train, x_test, y_test = digits(flatten=True)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, generator=0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.ReLU(),
                          nn.Dropout(0.2), nn.Linear(128, 10))
    opt = fastnn.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = fastnn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            with fastnn.autocast("cpu", enabled=ac):
                loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with fastnn.no_grad(), fastnn.autocast("cpu", enabled=ac):
        pred = model(fastnn.tensor(x_test)).float().argmax(1).numpy()
    return float(fastnn.metrics.accuracy(y_test, pred))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="mlp,cnn,transformer", help="of bench/train_step.py's (gpt takes no wrap)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    import fastnn
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    for model in args.models.split(","):
        # interleaved rounds (the machine may be shared: a slow spell hits every row alike), median per row
        steps = {(name, ac): _step(L, model, ac) for name, L in (("fastnn", fastnn), ("torch", torch))
                 for ac in (False, True)}
        times = {k: [] for k in steps}
        for fn_ in steps.values():
            for _ in range(3):
                fn_()
        for _ in range(args.repeats):
            for k, fn_ in steps.items():
                t0 = time.perf_counter()
                fn_()
                times[k].append(time.perf_counter() - t0)
        rows = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        case = train_step.CASES[model]
        for (name, ac), ms in rows.items():
            print(f"{case} step  {name:6s} {'autocast bf16' if ac else 'fp32         '}  {ms:8.2f} ms")
        f32, fbf = rows[("fastnn", False)], rows[("fastnn", True)]
        t32, tbf = rows[("torch", False)], rows[("torch", True)]
        print(f"{case}: fastnn autocast vs own fp32: {f32 / fbf:.2f}x   vs torch autocast: {tbf / fbf:.2f}x   "
              f"fastnn fp32 vs torch fp32: {t32 / f32:.2f}x", flush=True)
    if args.accuracy:
        a32, abf = _accuracy(False, args.epochs), _accuracy(True, args.epochs)
        print(f"mlp_digits test accuracy ({args.epochs} epochs): fp32 {a32:.4f}  autocast bf16 {abf:.4f}  "
              f"diff {100 * (abf - a32):+.2f} points")


if __name__ == "__main__":
    main()
