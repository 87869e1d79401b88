"""Atomic checkpoints (fastnn._atomic_file): a writer SIGKILLed at a random moment of a save leaves the target
complete (the old or the new content) and its temp file is removed by the next save to that path; temp files
have a recognisable name in the target's directory; a live writer's temp file and anything not ours are never
swept; every fastnn writer (fastnn.save, Keras model.save / save_weights, BackupAndRestore) goes through it.

FASTNN_SIGKILL_TRIALS sets the number of kills (20 by default: each is a fork, a random wait and a SIGKILL)."""
import os
import random
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastnn
from fastnn import _atomic_file

TRIALS = int(os.environ.get("FASTNN_SIGKILL_TRIALS", "20"))
MIB = 4


def temp_files(directory, target="ck.st"):
    return sorted(n for n in os.listdir(directory) if n.startswith(_atomic_file.temp_prefix(target)))


def _save_until_killed(path, ready_fd, mib):
    """In a forked child: save, tell the parent, and keep saving new content until killed. Only NumPy arrays:
    nothing in the child touches the native kernels' thread pool, which a forked child must not use."""
    n = mib * (1 << 20) // 4
    k = 0
    try:
        while True:
            k += 1
            fastnn.save({"step": k, "w": np.full(n, float(k), np.float32)}, path)
            if k == 1:
                os.write(ready_fd, b"1")
    finally:
        os._exit(0)


def assert_complete(path, mib):
    obj = fastnn.load(path)  # the integrity record verifies every byte
    w = obj["w"]
    assert w.size == mib * (1 << 20) // 4 and (w == obj["step"]).all()


def test_sigkill_mid_save_leaves_a_complete_file_and_the_next_save_sweeps(tmp_path):
    path = str(tmp_path / "ck.st")
    rng = random.Random(0)
    killed_mid_write = 0
    for _ in range(TRIALS):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(r)
            _save_until_killed(path, w, MIB)
        os.close(w)
        ready, _, _ = select.select([r], [], [], 120)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the saving child did not complete its first save in 120 s")
        assert os.read(r, 1) == b"1"
        os.close(r)
        time.sleep(rng.uniform(0, 0.08))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert_complete(path, MIB)
        killed_mid_write += bool(temp_files(tmp_path))
    stale = temp_files(tmp_path)
    print(f"\n{TRIALS} SIGKILLs: {killed_mid_write} left a temp file at the time; {len(stale)} temp files before the "
          "next save")
    fastnn.save({"step": 0, "w": fastnn.ones(3)}, path)
    assert temp_files(tmp_path) == []
    assert os.listdir(tmp_path) == ["ck.st"]
    assert fastnn.load(path)["step"] == 0


def test_temp_file_is_beside_the_target_with_a_recognisable_name(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(a, b):
        seen.append((a, b))
        return real_replace(a, b)
    monkeypatch.setattr(os, "replace", spy)
    fastnn.save({"a": fastnn.ones(2)}, tmp_path / "ck.st")
    (tmp, target), = seen
    assert os.path.dirname(tmp) == str(tmp_path) and target == str(tmp_path / "ck.st")
    assert _atomic_file._pattern(target).match(os.path.basename(tmp))
    assert os.path.basename(tmp).startswith(f".ck.st.fastnn-tmp-{os.getpid()}-")


@pytest.mark.parametrize("exc", [KeyboardInterrupt, MemoryError, OSError])
def test_any_exception_removes_the_temp_file(exc, tmp_path, monkeypatch):
    import fastnn.io as fio

    fastnn.save({"v": 1}, tmp_path / "ck.st")

    def fail(f, head, arrays):
        f.write(head)
        raise exc("boom")
    monkeypatch.setattr(fio, "_write", fail)
    with pytest.raises(exc):
        fastnn.save({"v": 2}, tmp_path / "ck.st")
    assert os.listdir(tmp_path) == ["ck.st"] and fastnn.load(tmp_path / "ck.st") == {"v": 1}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sweep_removes_only_this_targets_dead_temp_files(tmp_path):
    target = tmp_path / "ck.st"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _dead_pid()
        names = {
            f".ck.st.fastnn-tmp-{dead}-0123456789abcdef": False,  # a killed writer's: swept
            f".ck.st.fastnn-tmp-{os.getpid()}-00000000000000aa": False,  # ours, not being written: swept
            f".ck.st.fastnn-tmp-{live.pid}-0123456789abcdef": True,  # a live writer's (fresh): kept
            f".other.st.fastnn-tmp-{dead}-0123456789abcdef": True,  # another target's: kept
            f".ck.st.fastnn-tmp-{dead}-notours": True,  # not our pattern: kept
            ".ck.st.abc123.tmp": True,  # some other tool's temp file: kept
            "ck.st.bak": True,
        }
        for name in names:
            (tmp_path / name).write_bytes(b"partial")
        fastnn.save({"a": 1}, target)
        left = set(os.listdir(tmp_path))
        assert left == {n for n, keep in names.items() if keep} | {"ck.st"}
    finally:
        live.kill()
        live.wait()


def test_a_reused_pid_without_the_writers_lock_is_swept_once_old(tmp_path):
    """A live pid whose temp file nobody holds locked (the writer died, its pid was reused) and which has not
    been written for a minute is stale; while a writer holds the lock it is never touched."""
    pytest.importorskip("fcntl")
    import fcntl

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tmp = tmp_path / f".ck.st.fastnn-tmp-{live.pid}-0123456789abcdef"
        tmp.write_bytes(b"partial")
        old = time.time() - 2 * _atomic_file._REUSED_PID_GRACE_S
        os.utime(tmp, (old, old))
        with open(tmp, "rb") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            assert _atomic_file.stale_temp_files(str(tmp_path / "ck.st")) == []
        assert _atomic_file.stale_temp_files(str(tmp_path / "ck.st")) == [str(tmp)]
    finally:
        live.kill()
        live.wait()


def test_a_concurrent_save_in_another_thread_is_not_swept(tmp_path, monkeypatch):
    """Two threads saving to one path: the second's sweep must not delete the first's temp file."""
    import threading

    import fastnn.io as fio

    real_write = fio._write
    gate, release = threading.Event(), threading.Event()

    def slow_write(f, head, arrays):
        real_write(f, head, arrays)
        if threading.current_thread().name == "first":
            gate.set()
            release.wait(10)
    monkeypatch.setattr(fio, "_write", slow_write)
    errors = []
    t = threading.Thread(target=lambda: _try(errors, fastnn.save, {"who": "first"}, tmp_path / "ck.st"),
                         name="first")
    t.start()
    assert gate.wait(10)
    fastnn.save({"who": "second"}, tmp_path / "ck.st")  # sweeps while the first is mid-write
    release.set()
    t.join()
    assert errors == [] and fastnn.load(tmp_path / "ck.st") == {"who": "first"}
    assert os.listdir(tmp_path) == ["ck.st"]


def _try(errors, fn, *args):
    try:
        fn(*args)
    except BaseException as e:  # noqa: BLE001
        errors.append(e)


def _keras_model():
    keras = fastnn.keras
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("how", ["save", "save_weights"])
def test_keras_saves_are_atomic_and_sweep(how, tmp_path, monkeypatch):
    model = _keras_model()
    path = tmp_path / ("m.keras" if how == "save" else "m.weights.h5")
    stale = tmp_path / f".{path.name}.fastnn-tmp-{_dead_pid()}-0123456789abcdef"
    stale.write_bytes(b"x" * 100)
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    getattr(model, how)(str(path))
    assert calls[:2] == ["fsync", "replace"] and calls[2:] in ([], ["fsync"])
    assert os.listdir(tmp_path) == [path.name]


def test_backup_and_restore_writes_its_files_atomically(tmp_path, monkeypatch):
    keras = fastnn.keras
    model = _keras_model()
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(os.path.basename(b)), real_replace(a, b))[1])
    x = np.ones((4, 3), np.float32)
    model.fit(x, x[:, :2], epochs=2, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False,
                                                          double_checkpoint=True)])
    names = set(replaced)
    assert any(n.endswith(".json") for n in names) and len(names) >= 3, names
    for root, _dirs, files in os.walk(tmp_path):
        assert not [f for f in files if _atomic_file.TMP_MARK in f], (root, files)
