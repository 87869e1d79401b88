"""fastnn.nn.parallel.DistributedDataParallel on 2 MPI ranks (tests/mpi_helpers.py): every rank's weights equal
a single-process step on the concatenated batch, no_sync accumulation, find_unused_parameters, torch's errors
for unused parameters and mismatched models, and a failing rank failing the other fast."""
from __future__ import annotations

import json
import time

import pytest

import fastnn
from mpi_helpers import run_ranks

pytestmark = pytest.mark.mpi

# Each rank starts from its own random weights (DDP must take rank 0's), takes its half of every batch, and
# compares its weights after training with a reference model trained in this same process on the whole
# batch from rank 0's initial weights. With batch norm the reference runs each rank's half separately (batch
# statistics are per rank under DDP, as in PyTorch) and averages the losses.
EQUIVALENCE = r'''
import copy, json, numpy as np, fastnn
from datetime import timedelta
import fastnn.distributed as dist
from fastnn import nn
from fastnn.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("gloo", timeout=timedelta(seconds=30))
r, n = dist.get_rank(), dist.get_world_size()
res = {}

def mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))

def cnn():
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 5))

def batch(step, shape, device="cpu"):
    g = np.random.default_rng(100 + step)
    x = g.standard_normal((2 * n,) + shape).astype(np.float32)
    y = g.integers(0, 5, 2 * n)
    return fastnn.tensor(x, device=device), fastnn.tensor(y, device=device)

def diff(a, b):
    return max(float((p.detach().cpu() - q.detach().cpu()).abs().max()) for p, q in zip(a.parameters(), b.parameters()))

def train(make, opt, steps, shape, per_shard_ref, **ddp_kw):
    fastnn.manual_seed(1000 + r)  # different on each rank: the wrap broadcasts rank 0's
    model = make().to(ddp_kw.pop("device", "cpu"))
    dev = str(next(model.parameters()).device)
    thread = ddp_kw.pop("progress_thread", False)
    ddp = DDP(model, **ddp_kw)
    ddp._progress_thread = thread
    ref = copy.deepcopy(model)
    o1, o2 = opt(ddp.parameters()), opt(ref.parameters())
    lossf = nn.CrossEntropyLoss()
    for s in range(steps):
        x, y = batch(s, shape, dev)
        lo = slice(2 * r, 2 * r + 2)
        o1.zero_grad()
        lossf(ddp(x[lo]), y[lo]).backward()
        o1.step()
        o2.zero_grad()
        if per_shard_ref:
            sum(lossf(ref(x[2 * k:2 * k + 2]), y[2 * k:2 * k + 2]) for k in range(n)).__truediv__(n).backward()
        else:
            lossf(ref(x), y).backward()
        o2.step()
    return ddp, ref

sgd = lambda ps: fastnn.optim.SGD(ps, lr=0.1)
mom = lambda ps: fastnn.optim.SGD(ps, lr=0.05, momentum=0.9)
adam = lambda ps: fastnn.optim.Adam(ps, lr=0.01)
for name, make, opt, steps, shape, shard, kw in [
        ("mlp_sgd1", mlp, sgd, 1, (12,), False, {}),
        ("mlp_mom3", mlp, mom, 3, (12,), False, {}),
        ("mlp_adam3", mlp, adam, 3, (12,), False, {"bucket_cap_mb": 0.002}),
        ("mlp_thread", mlp, mom, 3, (12,), False, {"bucket_cap_mb": 0.002, "progress_thread": True}),
        ("mlp_view", mlp, mom, 3, (12,), False, {"gradient_as_bucket_view": True, "bucket_cap_mb": 0.002}),
        ("cnn_sgd1", cnn, sgd, 1, (3, 8, 8), True, {}),
        ("cnn_mom3", cnn, mom, 3, (3, 8, 8), True, {"bucket_cap_mb": 0.001}),
        ("cnn_adam3", cnn, adam, 3, (3, 8, 8), True, {})]:
    ddp, ref = train(make, opt, steps, shape, shard, **kw)
    res[name] = diff(ddp.module, ref)
    fastnn.manual_seed(1000)  # rank 0's initial weights: training moved them
    res[name + "_moved"] = diff(make(), ref)
    if name == "mlp_view":
        res["view_shares_bucket"] = all(p.grad._base is not None for p in ddp.parameters())
    if name == "cnn_mom3":
        res["buckets"] = len(ddp.reducer.buckets)
        # the next forward takes rank 0's running statistics on every rank
        before = [b.clone() for b in ddp.module.buffers()]
        ddp.eval()
        with fastnn.no_grad():
            ddp(batch(9, shape)[0][:2])
        res["bn_buffers"] = [b.tolist() for b in ddp.module.buffers()][:2]
        res["bn_buffers_own"] = [b.tolist() for b in before][:2]
        res["keys"] = list(ddp.state_dict())[:3]
        res["module"] = type(ddp.module).__name__
if fastnn.cuda.is_available():
    ddp, ref = train(mlp, mom, 2, (12,), False, device="cuda")
    res["cuda_mlp"] = diff(ddp.module, ref)
    res["cuda_dev"] = str(next(ddp.parameters()).grad.device)

# no_sync: the first micro-batch accumulates locally, the second (outside) reduces the sum
fastnn.manual_seed(7 + r)
model = mlp(); ddp = DDP(model); ref = copy.deepcopy(model)
lossf = nn.CrossEntropyLoss()
x0, y0 = batch(20, (12,)); x1, y1 = batch(21, (12,))
lo = slice(2 * r, 2 * r + 2)
with ddp.no_sync():
    lossf(ddp(x0[lo]), y0[lo]).backward()
local = [p.grad.clone() for p in ddp.parameters()]
lossf(ddp(x1[lo]), y1[lo]).backward()
lossf(ref(x0), y0).backward(); lossf(ref(x1), y1).backward()
res["no_sync_local_differs"] = max(float((a - b.grad).abs().max()) for a, b in zip(local, ref.parameters())) > 1e-4
res["no_sync"] = max(float((p.grad - q.grad).abs().max()) for p, q in zip(ddp.parameters(), ref.parameters()))

# overlap: with small buckets, the last layers' buckets are on the wire before backward reaches layer one
fastnn.manual_seed(3)
model = mlp(); ddp = DDP(model, bucket_cap_mb=0.001)
seen = []
model[0].weight.register_post_accumulate_grad_hook(lambda p: seen.append([b.launched for b in ddp.reducer.buckets]))
lossf(ddp(x0[lo]), y0[lo]).backward()
res["launched_at_first_layer"] = seen[0]
res["all_done"] = all(b.work.is_completed() for b in ddp.reducer.buckets)
from fastnn.autograd import hooks as _hooks
import gc
live = _hooks.STATE[0]
del ddp, seen; gc.collect()
res["hooks_released"] = _hooks.STATE[0] == live - len(list(model.parameters()))

# find_unused_parameters: `extra` is used on rank 1 only, `never` on no rank
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3); self.extra = nn.Linear(3, 3); self.never = nn.Linear(3, 3)
    def forward(self, x, use_extra):
        h = self.a(x)
        return self.extra(h) if use_extra else h
fastnn.manual_seed(11)
bm = Branchy(); ddp = DDP(bm, find_unused_parameters=True)
xb = fastnn.tensor(np.arange(8, dtype=np.float32).reshape(2, 4) / 8 + r)
for it in range(2):
    ddp.zero_grad()
    ddp(xb, use_extra=(r == 1)).sum().backward()
g = bm.extra.weight.grad
res["unused_extra"] = None if g is None else g.tolist()
res["never_grad"] = [bm.never.weight.grad is None, bm.never.bias.grad is None]
res["a_grad"] = bm.a.weight.grad.tolist()

# without find_unused_parameters, a parameter with no grad: torch's error at the next forward, every rank
fastnn.manual_seed(12)
bm = Branchy(); ddp = DDP(bm)
ddp(xb, use_extra=True).sum().backward()
try:
    ddp(xb, use_extra=True)
    res["unused_error"] = None
except RuntimeError as e:
    res["unused_error"] = str(e)
everyone = [None] * n
dist.all_gather_object(everyone, res)  # one line from rank 0: two ranks' long prints could interleave
if r == 0:
    print("RES", json.dumps(everyone))
dist.destroy_process_group()
'''


@pytest.fixture(scope="module")
def equivalence():
    p = run_ranks(EQUIVALENCE, timeout=180)
    assert p.returncode == 0, p.stderr[-4000:]
    lines = [line for line in p.stdout.splitlines() if line.startswith("RES ")]
    assert len(lines) == 1, p.stdout
    return dict(enumerate(json.loads(lines[0][4:])))


@pytest.mark.parametrize("case", ["mlp_sgd1", "mlp_mom3", "mlp_adam3", "mlp_thread", "mlp_view", "cnn_sgd1", "cnn_mom3",
                                  "cnn_adam3"])
def test_weights_equal_single_process_big_batch(equivalence, case):
    for r in (0, 1):
        assert equivalence[r][case] < 2e-5, (r, case, equivalence[r][case])
        assert equivalence[r][case + "_moved"] > 1e-3


def test_gradient_as_bucket_view_and_buckets(equivalence):
    assert equivalence[0]["view_shares_bucket"] and equivalence[1]["view_shares_bucket"]
    assert equivalence[0]["buckets"] > 1  # a 1 KB cap splits the CNN's parameters


def test_buffers_broadcast_before_forward(equivalence):
    e0, e1 = equivalence[0], equivalence[1]
    assert e1["bn_buffers"] == e0["bn_buffers_own"] == e0["bn_buffers"]
    assert e1["bn_buffers_own"] != e0["bn_buffers_own"]  # the statistics themselves were per rank
    assert e0["keys"][0].startswith("module.") and e0["module"] == "Sequential"


def test_emulated_cuda(equivalence):
    if not fastnn.cuda.is_available():
        pytest.skip("no (emulated) CUDA device")
    for r in (0, 1):
        assert equivalence[r]["cuda_mlp"] < 2e-5 and equivalence[r]["cuda_dev"].startswith("cuda")


def test_no_sync_accumulates_then_reduces(equivalence):
    for r in (0, 1):
        assert equivalence[r]["no_sync_local_differs"]
        assert equivalence[r]["no_sync"] < 2e-5


def test_buckets_launch_during_backward(equivalence):
    for r in (0, 1):
        launched = equivalence[r]["launched_at_first_layer"]
        assert launched[0] and not all(launched), launched  # the last layers' buckets went out early
        assert equivalence[r]["all_done"]
    assert equivalence[0]["hooks_released"]


def test_find_unused_parameters(equivalence):
    e0, e1 = equivalence[0], equivalence[1]
    assert e0["unused_extra"] is not None and e0["unused_extra"] == e1["unused_extra"]  # (0 + rank 1's) / 2
    assert e0["never_grad"] == e1["never_grad"] == [True, True]  # unused on every rank: .grad untouched
    assert e0["a_grad"] == e1["a_grad"]


def test_unused_parameter_error_at_next_forward(equivalence):
    for r in (0, 1):
        msg = equivalence[r]["unused_error"]
        assert msg is not None and msg.startswith("Expected to have finished reduction in the prior iteration")
        assert f"Parameter indices which did not receive grad for rank {r}: 4 5" in msg


MISMATCH = r'''
import fastnn, json
from datetime import timedelta
import fastnn.distributed as dist
from fastnn import nn
from fastnn.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("gloo", timeout=timedelta(seconds=20))
r = dist.get_rank()
errs = {}
for name, make in [("shape", lambda: nn.Linear(4, 5 + r)),
                   ("count", lambda: nn.Sequential(*[nn.Linear(3, 3) for _ in range(1 + r)]))]:
    try:
        DDP(make())
        errs[name] = None
    except RuntimeError as e:
        errs[name] = str(e)
for name, call in [("cpu_device_ids", lambda: DDP(nn.Linear(2, 2), device_ids=[0])),
                   ("two_device_ids", lambda: DDP(nn.Linear(2, 2), device_ids=[0, 1])),
                   ("no_grad", lambda: DDP(nn.Linear(2, 2).requires_grad_(False))),
                   ("unsupported", lambda: DDP(nn.Linear(2, 2), bucket_cap_mb_list=[1]))]:
    try:
        call()
        errs[name] = None
    except Exception as e:
        errs[name] = type(e).__name__ + ": " + str(e)
# a frozen parameter is broadcast at wrap time but never waited for
fastnn.manual_seed(r)
m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)); m[0].requires_grad_(False)
ddp = DDP(m)
for _ in range(2):
    ddp(fastnn.ones(2, 3) * (r + 1)).sum().backward()
errs["frozen"] = [m[0].weight.tolist(), m[0].weight.grad is None, m[1].weight.grad.tolist()]
everyone = [None, None]
dist.all_gather_object(everyone, errs)  # the ranks are still in step after the failed wraps
if r == 0:
    print("ERRS", json.dumps(everyone))
dist.destroy_process_group()
'''


def test_mismatched_models_fail_on_every_rank():
    p = run_ranks(MISMATCH, timeout=90)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [line for line in p.stdout.splitlines() if line.startswith("ERRS ")]
    assert len(lines) == 1, p.stdout
    errs = {(r, name): msg for r, d in enumerate(json.loads(lines[0][5:])) for name, msg in d.items()}
    assert errs[(1, "shape")] == ("[1]: params[0] in this process with sizes [6, 4] appears not to match sizes of "
                                  "the same param in process 0.")
    assert "rank(s) [1]" in errs[(0, "shape")]
    assert errs[(0, "count")] == ("DDP expects same model across all ranks, but Rank 0 has 2 params, while rank 1 "
                                  "has inconsistent 4 params.")
    assert errs[(1, "count")].startswith("DDP expects same model across all ranks, but Rank 1 has 4 params")
    assert errs[(0, "cpu_device_ids")].startswith("ValueError: DistributedDataParallel device_ids and output_device")
    assert errs[(0, "two_device_ids")] == "ValueError: device_ids can only be None or contain a single element."
    assert errs[(0, "no_grad")] == ("RuntimeError: DistributedDataParallel is not needed when a module doesn't have "
                                    "any parameter that requires a gradient.")
    assert errs[(0, "unsupported")].startswith("NotImplementedError: DistributedDataParallel: bucket_cap_mb_list")
    assert errs[(0, "frozen")] == errs[(1, "frozen")] and errs[(0, "frozen")][1]


FAILING_RANK = r'''
import fastnn
from datetime import timedelta
import fastnn.distributed as dist
from fastnn import nn
from fastnn.nn.parallel import DistributedDataParallel as DDP
dist.init_process_group("gloo", timeout=timedelta(seconds=10))
r = dist.get_rank()
ddp = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
opt = fastnn.optim.SGD(ddp.parameters(), lr=0.1)
for step in range(5):
    if step == 2 and r == 1:
        raise ValueError("rank 1 fails on purpose")
    opt.zero_grad()
    ddp(fastnn.randn(4, 8)).sum().backward()
    opt.step()
'''


def test_failing_rank_fails_the_other_fast():
    t0 = time.monotonic()
    p = run_ranks(FAILING_RANK, timeout=90)
    elapsed = time.monotonic() - t0
    assert p.returncode != 0
    assert elapsed < 60, elapsed
    assert "rank 1 fails on purpose" in p.stderr
    # rank 0 trained two steps, then failed in the all_reduce rank 1 never joined, naming rank 1's error
    assert "all_reduce: rank 0 of 2 cannot complete because rank 1 failed: ValueError" in p.stderr, p.stderr[-3000:]


HANGING_RANK = FAILING_RANK.replace('raise ValueError("rank 1 fails on purpose")',
                                    'import time; time.sleep(120)')


def test_hanging_rank_times_the_other_out():
    t0 = time.monotonic()
    p = run_ranks(HANGING_RANK, timeout=100)
    elapsed = time.monotonic() - t0
    assert p.returncode != 0
    assert elapsed < 60, elapsed  # the group's 10 s timeout, not rank 1's 120 s sleep
    assert "all_reduce" in p.stderr and "rank 0" in p.stderr, p.stderr[-3000:]
