"""fastnn.keras.distribution: DataParallel fit / evaluate / predict over 2 MPI ranks (tests/mpi_helpers.py's
run_ranks) against a single-process run of the same script (tests/keras_data_parallel_ranks.py): same data,
seed and global batch. Also the distribution API's single-process behaviour."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpi_helpers import rank_env, run_ranks

SCRIPT = Path(__file__).with_name("keras_data_parallel_ranks.py")


def _results(folder: Path) -> dict:
    return {int(p.stem[len("result"):]): json.loads(p.read_text()) for p in folder.glob("result*.json")}


def _single(model: str, tmp_path) -> dict:
    (tmp_path / "single").mkdir()
    proc = subprocess.run([sys.executable, str(SCRIPT), model, "single"], capture_output=True, text=True,
                          timeout=120, env=rank_env({"DP_TMP": str(tmp_path / "single")}))
    assert proc.returncode == 0, proc.stderr
    return _results(tmp_path / "single")[0]


def _assert_logs_close(a: dict, b: dict, rtol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=1e-6, err_msg=k)


@pytest.mark.mpi
@pytest.mark.parametrize("model", ["mlp", "cnn", "custom", "loader"])
def test_two_ranks_train_as_one_process_on_the_global_batch(model, tmp_path):
    """MLP (uneven 8 / 7 slices of each global batch of 15) and CNN with BatchNormalization (validation
    split, so fit's evaluation runs too), both with Adam, 2 epochs. Rank 1 starts from other weights (another
    seed): fit takes rank 0's. After fit both ranks hold the same weights (the batch-norm moving statistics
    included: they are the global batch's), equal to the single-process fit's; History, evaluate and predict
    are the global figures on both ranks; only rank 0 prints progress bars and writes the checkpoint. "custom"
    is Keras' guide's own train_step (optimizer.apply on its own gradients, metrics updated by hand); "loader"
    the MLP fed a fastnn Dataset (fit's shuffled DataLoader)."""
    (tmp_path / "dp").mkdir()
    proc = run_ranks(SCRIPT, n=2, timeout=180, args=[model], env={"DP_TMP": str(tmp_path / "dp")})
    assert proc.returncode == 0, proc.stderr
    ranks = _results(tmp_path / "dp")
    assert sorted(ranks) == [0, 1], proc.stdout[-2000:] + proc.stderr[-2000:]
    single = _single(model, tmp_path)
    r0, r1 = ranks[0], ranks[1]
    assert r0["devices"] == r1["devices"] == ["cpu:0", "cpu:1"]
    for a, b, ref in zip(r0["weights"], r1["weights"], single["weights"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the same update on every rank
        np.testing.assert_allclose(np.asarray(a), np.asarray(ref), rtol=1e-5, atol=1e-6)
    assert r0["history"] == r1["history"] and r0["evaluate"] == r1["evaluate"]
    _assert_logs_close(r0["history"], single["history"], 1e-5)
    _assert_logs_close(r0["evaluate"], single["evaluate"], 1e-5)
    assert np.asarray(r0["predict"]).shape == np.asarray(single["predict"]).shape  # the whole input's rows
    np.testing.assert_array_equal(np.asarray(r0["predict"]), np.asarray(r1["predict"]))
    np.testing.assert_allclose(np.asarray(r0["predict"]), np.asarray(single["predict"]), rtol=1e-5, atol=1e-6)
    assert "━" in r0["printed"] and "accuracy" in r0["printed"]
    assert r1["printed"] == ""
    assert r0["checkpoint_written"] and not r1["checkpoint_written"]
    assert single["checkpoint_written"]


@pytest.mark.mpi
def test_a_global_batch_smaller_than_the_world_fails_on_every_rank():
    """Also: a DataParallel made before initialize() sees one process, and says so."""
    proc = run_ranks(SCRIPT, n=2, timeout=120, args=["tail"])
    assert proc.returncode == 0, proc.stderr
    early = [line for line in proc.stdout.splitlines() if line.startswith("EARLY")]
    assert len(early) == 2 and all(line.startswith("EARLY 1 1 DataParallel made in one of 2 launched processes")
                                   for line in early), proc.stdout
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2 and all("a global batch of 1 samples cannot be split across 2 processes" in e
                                    for e in errors), proc.stdout


@pytest.mark.mpi
def test_distributed_sampler_defaults_to_the_process_group():
    proc = run_ranks("""
        import fastnn
        import fastnn.distributed as dist
        from fastnn.data import DistributedSampler

        dist.init_process_group("mpi")
        s = DistributedSampler(range(11), seed=3)
        import sys
        sys.stdout.write(f"SHARD {dist.get_rank()} {s.num_replicas} {s.rank} {list(s)}\\n")
    """, n=2, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shards = {}
    for line in proc.stdout.splitlines():
        if line.startswith("SHARD"):
            _, rank, replicas, own_rank, rest = line.split(" ", 4)
            assert (int(replicas), int(own_rank)) == (2, int(rank))
            shards[int(rank)] = json.loads(rest)
    both = shards[0] + shards[1]
    assert len(shards[0]) == len(shards[1]) == 6 and set(both) == set(range(11))
    assert len(both) - len(set(both)) == 1  # 11 indices padded to 12 by repeating one
