"""fastnn.distributed's process group and collectives: torch.distributed's names and results, on 2 MPI
ranks (tests/mpi_helpers.py), and what a failing or missing rank does to the others (a clear error, fast)."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

import fastnn
import fastnn.distributed as dist
from mpi_helpers import lines_by_rank, run_ranks

pytestmark = pytest.mark.mpi

COLLECTIVES = r'''
import json, numpy as np, fastnn
from datetime import timedelta
import fastnn.distributed as dist
dist.init_process_group("gloo")
r, n = dist.get_rank(), dist.get_world_size()
res = {"backend": dist.get_backend(), "init": dist.is_initialized()}
for dt in ["float32", "float64", "float16", "int64", "int32", "uint8"]:
    t = fastnn.tensor(np.arange(5) + r, dtype=getattr(fastnn, dt) if hasattr(fastnn, dt) else dt)
    arr = t._data
    dist.all_reduce(t)
    res["sum_" + dt] = [t.tolist(), str(t.dtype), t._data is arr]
for op in ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]:
    t = fastnn.tensor([r + 1.0, 3.0 - r, -1.0])
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    res[op] = t.tolist()
t = fastnn.tensor([r == 0, False, True])
dist.all_reduce(t); res["bool_sum"] = t.tolist()
t = fastnn.tensor([r == 0, True]); dist.all_reduce(t, op=dist.ReduceOp.MIN); res["bool_min"] = t.tolist()
t = fastnn.tensor([6 + r, 3]); dist.all_reduce(t, op=dist.ReduceOp.BAND); res["band"] = t.tolist()
t = fastnn.ones(2, 3, 4) * (r + 1)
w = dist.all_reduce(t, async_op=True); res["work"] = [type(w).__name__, w.wait(), w.is_completed(), t.sum().item()]
z = fastnn.zeros(0, 3); dist.all_reduce(z); res["empty"] = list(z.shape)
b = fastnn.tensor([[r * 10.0, 1.0]]); dist.broadcast(b, src=1); res["bcast"] = b.tolist()
b = fastnn.tensor([r]); dist.broadcast(b, 0, async_op=True).wait(); res["bcast0"] = b.tolist()
out = [fastnn.zeros(2, dtype=fastnn.int64) for _ in range(n)]
dist.all_gather(out, fastnn.tensor([r, r + 5])); res["all_gather"] = [o.tolist() for o in out]
o = fastnn.zeros(2 * n, 2); dist.all_gather_into_tensor(o, fastnn.full((2, 2), float(r))); res["agit"] = o.tolist()
rs = fastnn.zeros(2); dist.reduce_scatter(rs, [fastnn.tensor([1.0, 2.0]) * (r + 1), fastnn.tensor([3.0, 4.0])])
res["reduce_scatter"] = rs.tolist()
rs = fastnn.zeros(2); dist.reduce_scatter_tensor(rs, fastnn.arange(4.0) + r, op=dist.ReduceOp.AVG)
res["rst_avg"] = rs.tolist()
t = fastnn.tensor([r + 1.0]); dist.reduce(t, dst=0); res["reduce"] = t.tolist()
gl = [fastnn.zeros(1) for _ in range(n)] if r == 1 else None
dist.gather(fastnn.tensor([r * 2.0]), gl, dst=1); res["gather"] = [g.tolist() for g in gl] if gl else None
s = fastnn.zeros(2); dist.scatter(s, [fastnn.tensor([0.0, 1.0]), fastnn.tensor([2.0, 3.0])] if r == 0 else None, src=0)
res["scatter"] = s.tolist()
a2a = fastnn.zeros(2); dist.all_to_all_single(a2a, fastnn.tensor([10.0 * r, 10.0 * r + 1])); res["a2a"] = a2a.tolist()
if r == 0:
    dist.send(fastnn.tensor([7, 8]), dst=1, tag=3)
    w = dist.isend(fastnn.tensor([9.5]), 1); w.wait()
else:
    x = fastnn.zeros(2, dtype=fastnn.int64); res["recv_from"] = dist.recv(x, tag=3); res["recv"] = x.tolist()
    y = fastnn.zeros(1); w = dist.irecv(y, src=0); w.wait(); res["irecv"] = y.tolist()
objs = [None] * n; dist.all_gather_object(objs, {"rank": r, "s": "x" * (r * 100)})
res["objs"] = [(o["rank"], len(o["s"])) for o in objs]
ol = [r, {"k": r}] if r == 0 else [None, None]; dist.broadcast_object_list(ol, src=0); res["bol"] = ol
g = dist.new_group([1])
res["sub"] = [dist.get_rank(g), dist.get_world_size(g)]
res["ranks"] = [dist.get_process_group_ranks(dist.group.WORLD), dist.get_global_rank(None, 1),
                dist.get_group_rank(None, 0)]
if r == 1:
    t = fastnn.tensor([5.0]); dist.all_reduce(t, group=g); res["sub_sum"] = t.tolist()
dist.barrier(); dist.monitored_barrier(timeout=timedelta(seconds=30))
every = [None] * n
dist.all_gather_object(every, res)  # rank 0 prints for all: lines two ranks print at once may interleave
dist.destroy_process_group()
if r == 0:
    for i, e in enumerate(every):
        e["after"] = dist.is_initialized()
        print("RES", i, json.dumps(e))
'''


@pytest.fixture(scope="module")
def collectives():
    p = run_ranks(COLLECTIVES, timeout=120)
    assert p.returncode == 0, p.stderr
    import json
    got = {r: json.loads(v) for r, v in lines_by_rank(p.stdout, "RES").items()}
    assert sorted(got) == [0, 1], p.stdout
    return got


def test_reductions_in_place_every_dtype(collectives):
    for r in (0, 1):
        res = collectives[r]
        assert res["backend"] == "gloo" and res["init"] is True and res["after"] is False
        for dt in ["float32", "float64", "float16", "int64", "int32", "uint8"]:
            values, dtype, same_array = res["sum_" + dt]
            assert values == [1, 3, 5, 7, 9] and dtype == f"fastnn.{dt}", (dt, values, dtype)
            assert same_array  # the tensor's own NumPy buffer went to MPI: no copy
        assert res["SUM"] == [3.0, 5.0, -2.0] and res["AVG"] == [1.5, 2.5, -1.0]
        assert res["PRODUCT"] == [2.0, 6.0, 1.0] and res["MIN"] == [1.0, 2.0, -1.0] and res["MAX"] == [2.0, 3.0, -1.0]
        assert res["bool_sum"] == [True, False, True] and res["bool_min"] == [False, True]
        assert res["band"] == [6, 3]
        assert res["work"] == ["Work", True, True, 72.0]
        assert res["empty"] == [0, 3]


def test_data_movement(collectives):
    for r in (0, 1):
        res = collectives[r]
        assert res["bcast"] == [[10.0, 1.0]] and res["bcast0"] == [0]
        assert res["all_gather"] == [[0, 5], [1, 6]]
        assert res["agit"] == [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
        assert res["reduce_scatter"] == ([3.0, 6.0] if r == 0 else [6.0, 8.0])
        assert res["rst_avg"] == ([0.5, 1.5] if r == 0 else [2.5, 3.5])
        assert res["scatter"] == ([0.0, 1.0] if r == 0 else [2.0, 3.0])
        assert res["a2a"] == ([0.0, 10.0] if r == 0 else [1.0, 11.0])
        assert res["objs"] == [[0, 0], [1, 100]]
        assert res["bol"] == [0, {"k": 0}]
    assert collectives[0]["reduce"] == [3.0] and collectives[1]["reduce"] == [2.0]  # only dst holds the sum
    assert collectives[1]["gather"] == [[0.0], [2.0]] and collectives[0]["gather"] is None
    assert collectives[1]["recv_from"] == 0 and collectives[1]["recv"] == [7, 8] and collectives[1]["irecv"] == [9.5]
    assert collectives[0]["sub"] == [-1, -1] and collectives[1]["sub"] == [0, 1]
    assert collectives[1]["sub_sum"] == [5.0]
    assert collectives[0]["ranks"] == [[0, 1], 1, 0]


def test_cuda_tensors_stage_through_the_host():
    src = r'''
import fastnn, fastnn.distributed as dist
dist.init_process_group()
r = dist.get_rank()
t = fastnn.tensor([1.0, 2.0], device="cuda") * (r + 1)
dist.all_reduce(t, op=dist.ReduceOp.AVG)
every = [None] * 2
dist.all_gather_object(every, f"{t.device.type} {t.tolist()}")
if r == 0:
    print("RES 0", every[0]); print("RES 1", every[1])
'''
    p = run_ranks(src, env={"FASTNN_CUDA": "emulate"})
    assert p.returncode == 0, p.stderr
    got = lines_by_rank(p.stdout, "RES")
    assert got == {0: "cuda [1.5, 3.0]", 1: "cuda [1.5, 3.0]"}


def test_bad_arguments_are_clear_errors():
    src = r'''
import fastnn, numpy as np, fastnn.distributed as dist
dist.init_process_group()
r = dist.get_rank()
def err(f):
    try:
        f()
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return "no error"
checks = [
    err(lambda: dist.all_reduce(np.ones(3))),
    err(lambda: dist.all_reduce(fastnn.ones(4, 4).t())),
    err(lambda: dist.all_reduce(fastnn.ones(2, dtype=fastnn.int64), op=dist.ReduceOp.AVG)),
    err(lambda: dist.all_reduce(fastnn.ones(2), op="sum")),
    err(lambda: dist.broadcast(fastnn.ones(2), src=5)),
    err(lambda: dist.all_gather([fastnn.ones(2)], fastnn.ones(2))),
    err(lambda: dist.all_gather_into_tensor(fastnn.ones(3), fastnn.ones(2))),
    err(lambda: dist.init_process_group()),
]
every = [None] * 2
dist.all_gather_object(every, " | ".join(checks))
if r == 0:
    print("RES 0", every[0]); print("RES 1", every[1])
'''
    p = run_ranks(src)
    assert p.returncode == 0, p.stderr
    for r, text in lines_by_rank(p.stdout, "RES").items():
        got = text.split(" | ")
        assert got[0] == "TypeError: all_reduce: tensor must be a Tensor, got ndarray"
        assert got[1].startswith("ValueError: all_reduce: tensor must be contiguous")
        assert got[2].startswith("ValueError: all_reduce: ReduceOp.AVG needs a floating-point tensor")
        assert got[3].startswith("TypeError: all_reduce: op must be a ReduceOp")
        assert got[4].startswith("ValueError: broadcast: src rank 5 is not part of the process group")
        assert got[5].startswith("ValueError: all_gather: tensor_list must hold one tensor per rank (2), got 1")
        assert got[6].startswith("ValueError: all_gather_into_tensor: output tensor size must be equal to")
        assert got[7] == "ValueError: trying to initialize the default process group twice!"


def test_errors_before_init_match_torch():
    torch_dist = pytest.importorskip("torch.distributed")
    with pytest.raises(ValueError) as ours:
        dist.get_rank()
    with pytest.raises(ValueError) as theirs:
        torch_dist.get_rank()
    assert str(ours.value) == str(theirs.value)
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Invalid backend: 'tcpx'"):
        dist.init_process_group("tcpx")
    with pytest.raises(RuntimeError, match="Distributed package doesn't have NCCL built in"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="init_method='tcp://127.0.0.1:1' is not supported"):
        dist.init_process_group("mpi", init_method="tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="timeout argument to be of type datetime.timedelta"):
        dist.init_process_group("mpi", timeout=5)
    assert not dist.is_initialized()
    assert dist.Backend("GLOO") == "gloo" == dist.Backend.GLOO and dist.Backend.MPI == "mpi"
    with pytest.raises(ValueError, match="Invalid backend: 'x'"):
        dist.Backend("x")
    assert dist.ReduceOp.SUM is dist.reduce_op.SUM and dist.default_pg_timeout == timedelta(minutes=30)


def test_world_size_must_agree_with_mpi():
    p = run_ranks("import fastnn.distributed as d\nd.init_process_group(world_size=3)\n")
    assert p.returncode != 0
    assert "init_process_group: world_size=3 but MPI started this process with world_size=2" in p.stderr
    p = run_ranks("import fastnn.distributed as d\nd.init_process_group()\nprint('ok')\n", env={"WORLD_SIZE": "4"})
    assert "the environment says WORLD_SIZE=4 but MPI started this process with world_size=2" in p.stderr


FAILING = r'''
import sys, time, fastnn, fastnn.distributed as dist
from datetime import timedelta
dist.init_process_group(timeout=timedelta(seconds=float(sys.argv[2])))
r = dist.get_rank()
t = fastnn.ones(4)
dist.all_reduce(t)
if r == 1:
    if sys.argv[1] == "raise":
        raise ZeroDivisionError("planted failure on rank 1")
    time.sleep(120)  # "hang": never joins the next collective
dist.all_reduce(t)
print("unreachable")
'''


def test_a_rank_that_raises_fails_the_others_fast():
    start = time.monotonic()
    p = run_ranks(FAILING, args=("raise", 600), timeout=60)
    took = time.monotonic() - start
    assert p.returncode != 0 and "unreachable" not in p.stdout
    assert "ZeroDivisionError: planted failure on rank 1" in p.stderr
    assert ("RuntimeError: all_reduce: rank 0 of 2 cannot complete because rank 1 failed: ZeroDivisionError: "
            "planted failure on rank 1") in p.stderr
    assert took < 30, took  # far below the 600 s timeout: the notice, not the timeout, ended rank 0


def test_a_rank_that_hangs_times_the_others_out():
    start = time.monotonic()
    p = run_ranks(FAILING, args=("hang", 3), timeout=60)
    took = time.monotonic() - start
    assert p.returncode != 0 and "unreachable" not in p.stdout
    assert "RuntimeError: all_reduce: timed out after 3 s on rank 0 of 2 waiting for the other ranks" in p.stderr
    assert took < 40, took


def test_launcher_sets_torchrun_variables(tmp_path):
    import subprocess
    import sys
    from mpi_helpers import mpiexec, rank_env
    mpiexec()
    script = tmp_path / "show_env.py"
    # one write per rank (print would write the line and its newline apart, and two ranks' writes interleave)
    script.write_text("import os, sys\nsys.stdout.write(' '.join(map(str, ['ENV', os.environ['RANK'], "
                      "os.environ['LOCAL_RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_WORLD_SIZE'], "
                      "sys.argv[1:], __name__])) + '\\n')\n")
    for cmd in ([sys.executable, "-m", "fastnn.distributed.run", "--nproc-per-node", "2", str(script), "a", "-b"],
                [sys.executable, "-m", "fastnn.distributed.launch", "-n", "2", str(script), "a", "-b"]):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=rank_env())
        assert p.returncode == 0, p.stderr
        got = sorted(line for line in p.stdout.splitlines() if line.startswith("ENV"))
        assert got == ["ENV 0 0 2 2 ['a', '-b'] __main__", "ENV 1 1 2 2 ['a', '-b'] __main__"], p.stdout
    p = subprocess.run([sys.executable, "-m", "fastnn.distributed.run", "--nnodes", "2", str(script)],
                       capture_output=True, text=True, timeout=60, env=rank_env())
    assert p.returncode == 2 and "only one node here" in p.stderr


def test_import_does_not_start_mpi():
    import subprocess
    import sys
    from mpi_helpers import rank_env
    p = subprocess.run([sys.executable, "-c", "import sys, fastnn, fastnn.distributed as d; "
                        "print(d.is_available(), 'mpi4py.MPI' in sys.modules)"],
                       capture_output=True, text=True, timeout=60, env=rank_env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "False"]


def test_fastnn_exports_the_package():
    assert fastnn.distributed is dist


def test_bfloat16_tensors_move_as_bits_and_reduce_in_float32():
    src = r'''
import fastnn, fastnn.distributed as dist
dist.init_process_group()
r = dist.get_rank()
res = {}
t = (fastnn.tensor([1.0, 1.5, -2.0, 3.0]) * (r + 1)).bfloat16()
arr = t._data
dist.all_reduce(t); res["sum"] = [t.dtype is fastnn.bfloat16, t._data is arr, t.float().tolist()]
t = fastnn.tensor([1.0, 3.0 + r]).bfloat16(); dist.all_reduce(t, op=dist.ReduceOp.AVG); res["avg"] = t.float().tolist()
# 1 + 2**-7 is not a bfloat16 value: the sum (in float32) of two bf16 values is rounded once on the way back
t = fastnn.tensor([1.0 if r == 0 else 2 ** -8]).bfloat16(); dist.all_reduce(t); res["rounded"] = t.float().tolist()
b = fastnn.tensor([0.1 * (r + 1), -7.25]).bfloat16(); dist.broadcast(b, src=1); res["bcast"] = b.float().tolist()
out = [fastnn.zeros(2).bfloat16() for _ in range(2)]
dist.all_gather(out, fastnn.tensor([r + 0.5, -r]).bfloat16())
res["gather"] = [[o.dtype is fastnn.bfloat16, o.float().tolist()] for o in out]
rs = fastnn.zeros(1).bfloat16()
dist.reduce_scatter_tensor(rs, fastnn.tensor([1.0, 2.0]).bfloat16()); res["rs"] = rs.float().tolist()
every = [None] * 2
dist.all_gather_object(every, res)
if r == 0:
    import json
    print("RES 0", json.dumps(every[0])); print("RES 1", json.dumps(every[1]))
'''
    import json
    p = run_ranks(src)
    assert p.returncode == 0, p.stderr
    got = {r: json.loads(v) for r, v in lines_by_rank(p.stdout, "RES").items()}
    assert sorted(got) == [0, 1], p.stdout
    for r in (0, 1):
        res = got[r]
        assert res["sum"] == [True, True, [3.0, 4.5, -6.0, 9.0]]  # in place: the tensor's own array
        assert res["avg"] == [1.0, 3.5]
        assert res["rounded"] == [1.0]  # 1 + 2**-8 rounds to 1.0 in bfloat16 (ties to even)
        assert res["bcast"] == [fastnn.tensor([0.2]).bfloat16().item(), -7.25]
        assert res["gather"] == [[True, [0.5, 0.0]], [True, [1.5, -1.0]]]
        assert res["rs"] == ([2.0] if r == 0 else [4.0])
