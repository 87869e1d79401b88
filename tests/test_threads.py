"""Threads (issue 14): the kernels release the GIL; Python threads training separate models at once get
their single-threaded results bitwise, while another thread changes the thread count under them;
``set_num_threads`` is process-wide as PyTorch's, bounded, and checked with PyTorch's exception types
and wording; DataLoader workers and Keras ``fit`` leave the caller's count alone."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn import _C, nn, optim
from fastnn.nn import functional as F


def _in_thread(fn):
    """fn() run in a new Python (and OS) thread; its result, or its exception re-raised here."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


# ---- set_num_threads is process-wide ---------------------------------------------------------------

def test_count_set_in_main_thread_applies_in_new_and_running_threads(threads):
    seen_by_running = {}
    go, ready = threading.Event(), threading.Event()

    def running():  # started before the change, reads after it
        ready.set()
        go.wait()
        seen_by_running["n"] = fastnn.get_num_threads()

    t = threading.Thread(target=running)
    t.start()
    ready.wait()
    threads(1)
    go.set()
    t.join()
    assert seen_by_running["n"] == 1
    assert _in_thread(fastnn.get_num_threads) == 1
    threads(3)
    assert _in_thread(fastnn.get_num_threads) == 3


def test_count_set_in_a_worker_thread_applies_in_main(threads):
    threads(1)
    _in_thread(lambda: fastnn.set_num_threads(3))
    assert fastnn.get_num_threads() == 3
    assert fastnn.config()["num_threads"] == 3


def test_kernels_in_a_worker_thread_use_the_count_set_in_main():
    """The OpenMP team a kernel starts is what counts, not what get_num_threads says: libgomp keeps a
    thread's team parked after a region, so the OS threads it added are visible in /proc. Set 5 in main,
    run a matmul in a fresh thread: its team must add 4 threads (OpenMP's per-thread default added 1 on a
    2-CPU machine before the count became process-wide). In a subprocess, so no earlier team interferes."""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs Linux /proc to count the process's threads")
    code = """
import os, threading
import numpy as np
import fastnn
from fastnn import _C
a = np.ones((256, 256), np.float32)
fastnn.set_num_threads(5)
out = {}
def work():
    before = len(os.listdir('/proc/self/task'))
    _C.matmul(a, a)
    out['added'] = len(os.listdir('/proc/self/task')) - before
t = threading.Thread(target=work); t.start(); t.join()
print(out['added'])
"""
    env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "4"


# ---- bounds and errors -------------------------------------------------------------------------------

def _torch_error(fn_name, value):
    import torch

    try:
        getattr(torch, fn_name)(value)
    except Exception as e:  # noqa: BLE001 - the oracle's answer, whatever it is
        return e
    raise AssertionError(f"torch.{fn_name}({value!r}) was accepted")


@pytest.mark.parametrize("bad", [0, -1, -(2**31)])
def test_non_positive_count_raises_torchs_error(threads, bad):
    threads(2)
    expected = _torch_error("set_num_threads", bad)
    with pytest.raises(RuntimeError) as info:
        fastnn.set_num_threads(bad)
    assert type(expected) is RuntimeError and str(info.value) == str(expected)
    assert isinstance(info.value, ValueError)  # what fastnn raised before it matched torch
    assert fastnn.get_num_threads() == 2


@pytest.mark.parametrize("bad", [1.5, 2.0, "2", True, None])
def test_non_int_count_raises_torchs_error(threads, bad):
    threads(2)
    expected = _torch_error("set_num_threads", bad)
    with pytest.raises(RuntimeError) as info:
        fastnn.set_num_threads(bad)
    assert str(info.value) == str(expected)
    assert isinstance(info.value, TypeError)
    assert fastnn.get_num_threads() == 2


def test_numpy_integer_count_is_accepted(threads):
    threads(np.int64(3))
    assert fastnn.get_num_threads() == 3 and type(fastnn.get_num_threads()) is int


@pytest.mark.parametrize("excess", [1, 10**6, 2**40])
def test_count_above_the_bound_is_rejected(threads, excess):
    threads(2)
    limit = fastnn._threads.max_num_threads()
    assert limit >= 256 and limit >= 4 * (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    with pytest.raises(ValueError, match=f"set_num_threads expects at most {limit} threads") as info:
        fastnn.set_num_threads(limit + excess)
    assert isinstance(info.value, RuntimeError)
    assert fastnn.get_num_threads() == 2
    threads(limit)  # the bound itself is allowed
    assert fastnn.get_num_threads() == limit == fastnn.config()["max_num_threads"]


def test_native_setter_checks_the_bound_itself(threads):
    """The binding refuses out-of-range counts too (fuzzers and other callers reach _C directly)."""
    threads(2)
    for bad in (0, -5, _C.max_num_threads() + 1):
        with pytest.raises(ValueError, match="set_num_threads"):
            _C.set_num_threads(bad)
    assert _C.get_num_threads() == 2


def test_huge_omp_num_threads_is_capped_at_the_bound():
    r = subprocess.run([sys.executable, "-c", "import fastnn; print(fastnn.get_num_threads(), "
                        "fastnn._threads.max_num_threads())"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, OMP_NUM_THREADS="1000000"))
    assert r.returncode == 0, r.stderr
    n, limit = map(int, r.stdout.split())
    assert n == limit


# ---- concurrent training equals serial training --------------------------------------------------

def _mlp(seed):
    fastnn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = fastnn.randn(128, 64), fastnn.randint(0, 10, (128,))
    return model, opt, lambda: F.cross_entropy(model(x), y)


def _cnn(seed):
    fastnn.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 4 * 4, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = fastnn.randn(32, 3, 16, 16), fastnn.randint(0, 10, (32,))
    return model, opt, lambda: F.cross_entropy(model(x), y)


def _lstm(seed):
    fastnn.manual_seed(seed)
    lstm, head = nn.LSTM(16, 64, batch_first=True), nn.Linear(64, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-3)
    x, y = fastnn.randn(16, 12, 16), fastnn.randn(16, 1)

    def loss():
        out, _ = lstm(x)
        return F.mse_loss(head(out[:, -1]), y)

    return nn.ModuleList([lstm, head]), opt, loss


def _attention(seed):
    fastnn.manual_seed(seed)
    model = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=True)
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    x, y = fastnn.randn(8, 16, 64), fastnn.randn(8, 16, 64)
    return model, opt, lambda: F.mse_loss(model(x), y)


JOBS = {"mlp": _mlp, "cnn": _cnn, "lstm": _lstm, "attention": _attention}
STEPS = 20


def _train(job, seed):
    """Builds (in the caller's thread: the RNG is global, as torch's) and returns a trainer that runs
    STEPS optimizer steps and hands back every loss and final parameter as bytes."""
    model, opt, loss_fn = JOBS[job](seed)

    def run():
        losses = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
            losses.append(loss.detach().numpy().tobytes())
        return losses, [p.detach().numpy().tobytes() for p in model.parameters()]

    return run


def _assert_same(job, got, want):
    assert got[0] == want[0], f"{job}: losses differ from the serial run"
    assert len(got[1]) == len(want[1])
    for i, (g, w) in enumerate(zip(got[1], want[1])):
        assert g == w, f"{job}: parameter {i} differs from the serial run"


def test_four_threads_training_separate_models_match_serial_runs_bitwise(threads):
    threads(1)
    serial = {job: _train(job, seed)() for seed, job in enumerate(JOBS)}
    threads(2)
    trainers = {job: _train(job, seed) for seed, job in enumerate(JOBS)}
    results, errors = {}, []
    start = threading.Barrier(len(trainers) + 1)
    stop = threading.Event()
    counts_seen = set()

    spans = []

    def train(job):
        start.wait()
        t0 = time.perf_counter()
        try:
            results[job] = trainers[job]()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((job, e))
        spans.append((t0, time.perf_counter()))

    def hammer():
        """Changes and reads the process-wide count while the kernels run: they may use any count
        (results are bitwise the same at every one), and nothing may race or crash."""
        rng = np.random.default_rng(0)
        start.wait()
        while not stop.is_set():
            fastnn.set_num_threads(int(rng.integers(1, 5)))
            counts_seen.add(fastnn.get_num_threads())
            time.sleep(0.0005)

    workers = [threading.Thread(target=train, args=(job,)) for job in trainers]
    setter = threading.Thread(target=hammer)
    for t in workers + [setter]:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    setter.join()
    assert not errors, errors
    assert max(t0 for t0, _ in spans) < min(t1 for _, t1 in spans)  # all four were training at one moment
    assert counts_seen <= {1, 2, 3, 4} and len(counts_seen) > 1
    for job in JOBS:
        _assert_same(job, results[job], serial[job])


def test_concurrent_getters_and_setters_from_many_threads_never_see_a_torn_value(threads):
    limit = fastnn._threads.max_num_threads()
    bad, stop = [], threading.Event()

    def setter(values):
        while not stop.is_set():
            for v in values:
                fastnn.set_num_threads(v)

    def getter():
        while not stop.is_set():
            n = fastnn.get_num_threads()
            if n not in (1, 7, limit):
                bad.append(n)

    ts = [threading.Thread(target=setter, args=((1, limit),)), threading.Thread(target=setter, args=((7,),))]
    ts += [threading.Thread(target=getter) for _ in range(2)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in ts:
        t.join()
    assert not bad


# ---- the GIL ---------------------------------------------------------------------------------------

class _Counter:
    """A Python thread that counts while it can take the GIL. The switch interval is raised to 10 s for its
    lifetime, so the interpreter never forces the measuring thread to hand the GIL over: the count can
    advance during a call only if that call releases the GIL itself. The counter sleeps 0.1 ms per step,
    releasing the GIL so that a call that has returned gets it back at once."""

    def __enter__(self):
        self.n = 0
        self._stop = False
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(10.0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        while self.n == 0:  # the counter is running before the first call is measured
            time.sleep(0.001)
        return self

    def _run(self):
        while not self._stop:
            self.n += 1
            time.sleep(1e-4)

    def advances_during(self, call, seconds=2.0) -> bool:
        """True if the counter moved while call() ran, in any call of those made for `seconds`: one proves
        a release (a call holding the GIL can never let it move), and repeating covers a counter the OS
        has not woken in time on a busy machine. A call holding the GIL spends the whole budget."""
        end = time.perf_counter() + seconds
        while True:
            n0 = self.n
            call()
            if self.n != n0:
                return True
            if time.perf_counter() > end:
                return False

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        sys.setswitchinterval(self._interval)


def _busy_python(seconds=0.003):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_gil_probe_tells_a_held_gil_from_a_released_one():
    with _Counter() as c:
        assert not c.advances_during(_busy_python, seconds=0.2)  # bytecode holds the GIL: no progress
        assert c.advances_during(lambda: time.sleep(0.003))


def _kernel_calls():
    """One call of each kernel family's bindings at the generic ISA level (the binding is what is tested,
    and the scalar code makes a call of a few MB last about a millisecond or more)."""
    rng = np.random.default_rng(0)
    g = {"isa": "generic"}

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    a, b, out = r(256, 256), r(256, 256), np.zeros((256, 256), np.float32)
    conv = ((1, 1), (1, 1), (1, 1), 1)
    x4, w4 = r(4, 32, 32, 32), r(32, 32, 3, 3)
    y4 = _C.conv2d_forward(x4, w4, None, *conv)
    big4 = r(16, 32, 64, 64)  # 8 MB for the memory-bound kernels
    rows = r(1024, 1024)
    target = rng.integers(0, 1024, 1024).astype(np.int64)
    _, lse = _C.cross_entropy_forward(rows, target)
    q, k, v = r(2, 4, 256, 32), r(2, 4, 256, 32), r(2, 4, 256, 32)
    o, qlse = _C.attention_forward(q, k, v)
    _, ln_mean, ln_rstd = _C.layer_norm_forward(rows)
    bn = r(16, 64, 2048)
    _, bn_mean, bn_invstd, _ = _C.batch_norm_forward(bn, training=True)
    params, grads = [r(1 << 20) for _ in range(2)], [r(1 << 20) for _ in range(2)]
    m1, m2 = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    steps = [np.zeros(1, np.float32) for _ in params]
    pool = ((2, 2), (2, 2), (0, 0))
    pooled = _C.max_pool2d_forward(big4, *pool, (1, 1))
    hyper = {"lr": 1e-3, "weight_decay": 0.0, "maximize": False, **g}
    sp_rows, sp_cols = rng.integers(0, 1024, 200_000), rng.integers(0, 1024, 200_000)
    sp_vals = r(200_000)
    _, gelu_cdf = _C.gelu_forward(big4)
    return {
        "spmm": lambda: _C.spmm(sp_rows, sp_cols, sp_vals, rows, 1024, **g),
        "sddmm": lambda: _C.sddmm(sp_rows, sp_cols, rows, rows, **g),
        "gelu_forward": lambda: _C.gelu_forward(big4, **g),
        "gelu_backward": lambda: _C.gelu_backward(big4, big4, gelu_cdf, **g),
        "matmul": lambda: _C.matmul(a, b, **g),
        "gemm": lambda: _C.gemm(a, b, out, **g),
        "linear": lambda: _C.linear(a, b, None, "relu", **g),
        "erf": lambda: _C.erf(rows[:128]),
        "conv2d_forward": lambda: _C.conv2d_forward(x4, w4, None, *conv, **g),
        "conv2d_backward_data": lambda: _C.conv2d_backward_data(y4, w4, (32, 32), *conv, **g),
        "conv2d_backward_weight": lambda: _C.conv2d_backward_weight(y4, x4, (3, 3), *conv, **g),
        "conv2d_backward_bias": lambda: _C.conv2d_backward_bias(big4, **g),
        "max_pool2d_forward": lambda: _C.max_pool2d_forward(big4, *pool, (1, 1), **g),
        "max_pool2d_backward": lambda: _C.max_pool2d_backward(big4, pooled, *pool, (1, 1), **g),
        "avg_pool2d_forward": lambda: _C.avg_pool2d_forward(big4, *pool, **g),
        "avg_pool2d_backward": lambda: _C.avg_pool2d_backward(pooled, big4.shape, *pool, **g),
        "vector_exp": lambda: _C.vector_exp(rows, **g),
        "softmax_forward": lambda: _C.softmax_forward(rows, **g),
        "softmax_backward": lambda: _C.softmax_backward(rows, rows, **g),
        "cross_entropy_forward": lambda: _C.cross_entropy_forward(rows, target, **g),
        "cross_entropy_backward": lambda: _C.cross_entropy_backward(rows, target, lse, None, 1.0, **g),
        "layer_norm_forward": lambda: _C.layer_norm_forward(rows, **g),
        "layer_norm_backward": lambda: _C.layer_norm_backward(rows, rows, ln_mean, ln_rstd, **g),
        "batch_norm_forward": lambda: _C.batch_norm_forward(bn, training=True, **g),
        "batch_norm_backward": lambda: _C.batch_norm_backward(bn, bn, bn_mean, bn_invstd, training=True, **g),
        "attention_forward": lambda: _C.attention_forward(q, k, v, **g),
        "attention_backward": lambda: _C.attention_backward(o, q, k, v, o, qlse, **g),
        "adam_update": lambda: _C.adam_update(params, grads, m1, m2, None, steps, beta1=0.9, beta2=0.999, eps=1e-8,
                                              amsgrad=False, decoupled=False, **hyper),
        "sgd_update": lambda: _C.sgd_update(params, grads, None, momentum=0.0, dampening=0.0, nesterov=False,
                                            **hyper),
    }


def test_every_kernel_family_releases_the_gil(threads):
    threads(1)  # the kernel keeps one core; the counter can have the other
    calls = _kernel_calls()
    for call in calls.values():
        call()  # warm up: first-touch allocations and thread-local scratch
    with _Counter() as c:
        held = [name for name, call in calls.items() if not c.advances_during(call)]
    assert not held, f"these kernels hold the GIL while they run: {held}"


def _emulated_kernel_calls():
    """The CUDA bindings (csrc/cuda/bindings), run by the emulator in fastnn._emu: one call per family."""
    from cuda_kernel_helpers import HostDeviceArray

    emu = pytest.importorskip("fastnn._emu")
    rng = np.random.default_rng(0)

    def dev(*shape, fill=None):
        return HostDeviceArray(rng.standard_normal(shape).astype(np.float32) if fill is None else
                               np.full(shape, fill, np.float32))

    a, b, c = dev(64, 64), dev(64, 64), dev(64, 64, fill=0)
    rows, rows_out, row_stat, row_stat2 = dev(64, 256), dev(64, 256, fill=0), dev(64, fill=0), dev(64, fill=0)
    x4, w4, y4 = dev(2, 8, 12, 12), dev(8, 8, 3, 3), dev(2, 8, 12, 12, fill=0)
    pooled, argmax = dev(2, 8, 6, 6, fill=0), HostDeviceArray(np.zeros((2, 8, 6, 6), np.int32))
    q, k, v, o, lse = dev(1, 2, 32, 16), dev(1, 2, 32, 16), dev(1, 2, 32, 16), dev(1, 2, 32, 16, fill=0), \
        dev(1, 2, 32, fill=0)
    return {
        "gemm_f32": lambda: emu.gemm_f32(a, b, c, device=0, stream=0),
        "softmax_last_f32": lambda: emu.softmax_last_f32(rows, rows_out, False, device=0, stream=0),
        "layer_norm_rows_f32": lambda: emu.layer_norm_rows_f32(rows, None, None, rows_out, row_stat, row_stat2,
                                                               1e-5, device=0, stream=0),
        "conv2d_forward_f32": lambda: emu.conv2d_forward_f32(x4, w4, None, y4, (1, 1), (1, 1), (1, 1), 1, device=0,
                                                             stream=0),
        "max_pool2d_f32": lambda: emu.max_pool2d_f32(x4, pooled, argmax, (2, 2), (2, 2), (0, 0), (1, 1), False,
                                                     device=0, stream=0),
        "attention_forward_f32": lambda: emu.attention_forward_f32(q, k, v, None, o, lse, False, 0.25, device=0,
                                                                   stream=0),
    }


def test_emulated_cuda_kernels_release_the_gil():
    calls = _emulated_kernel_calls()
    for call in calls.values():
        call()
    with _Counter() as c:
        held = [name for name, call in calls.items() if not c.advances_during(call)]
    assert not held, f"these CUDA bindings hold the GIL while the kernel runs: {held}"


# ---- data loaders and Keras leave the count alone ---------------------------------------------

class _CountsInWorker(fastnn.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return fastnn.tensor(fastnn.get_num_threads())


def test_dataloader_workers_run_at_one_thread_and_leave_the_callers_count(threads):
    threads(3)
    loader = fastnn.utils.data.DataLoader(_CountsInWorker(), batch_size=2, num_workers=2)
    seen = [int(v) for batch in loader for v in batch.tolist()]
    assert seen == [1, 1, 1, 1]  # torch's rule: one thread per worker process
    assert fastnn.get_num_threads() == 3
    assert _in_thread(fastnn.get_num_threads) == 3


def test_keras_fit_leaves_the_count_and_its_worker_threads_share_it(threads):
    from fastnn import keras

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 8)).astype("float32"), rng.standard_normal((64, 1)).astype("float32")
    seen = []

    class Batches(keras.utils.PyDataset):  # fetched by a pool of 2 threads
        def __len__(self):
            return 4

        def __getitem__(self, i):
            seen.append(fastnn.get_num_threads())
            return x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)]

    threads(3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.fit(Batches(workers=2), epochs=1, verbose=0)
    model.predict(np.zeros((4, 8), "float32"), verbose=0)
    assert fastnn.get_num_threads() == 3
    assert len(seen) >= 4 and set(seen) == {3}  # the workers see the count set here (2, the default, before)


def _keras_model(seed):
    from fastnn import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8,)),
                              keras.layers.Dense(32, kernel_regularizer=keras.regularizers.L2(1e-3)),
                              keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(seed)
    return model, rng.standard_normal((64, 8)).astype("float32"), rng.standard_normal((64, 1)).astype("float32")


def _keras_run(model, x, y):
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
    return history, [np.asarray(w).tobytes() for w in model.get_weights()], model.predict(x, verbose=0).tobytes()


def test_keras_models_fit_in_threads_match_serial_runs_bitwise():
    """Keras' call context (the training flag inner layers inherit, the outermost call that resets the
    add_loss values) is per thread, as in Keras: a BatchNormalization predicting in one thread must not
    see another thread's training=True, nor a regularizer's losses pile up across threads."""
    serial = [_keras_run(*_keras_model(seed)) for seed in range(3)]
    models = [_keras_model(seed) for seed in range(3)]
    results = [None] * len(models)

    def run(i):
        results[i] = _keras_run(*models[i])

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(models))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i, (got, want) in enumerate(zip(results, serial)):
        assert got[0] == want[0], f"model {i}: losses differ from the serial run"
        assert got[1] == want[1], f"model {i}: weights differ from the serial run"
        assert got[2] == want[2], f"model {i}: predictions differ from the serial run"


def test_keras_call_context_is_per_thread():
    """A layer call in progress in another thread (training=True, depth 1) must not leak into this
    thread's calls: Keras keeps its call context per thread."""
    from fastnn import keras

    entered, release, seen = threading.Event(), threading.Event(), []

    class Blocker(keras.layers.Layer):
        def call(self, x, training=None):
            entered.set()
            release.wait(30)
            return x

    class Probe(keras.layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            self.add_loss(fastnn.ops.sum(x))
            return x

    x = np.ones((2, 3), "float32")
    alone = Probe()
    alone(x)
    alone(x)
    expected, seen[:] = list(seen), []  # what the calls see with no other thread in a call
    t = threading.Thread(target=lambda: Blocker()(x, training=True))
    t.start()
    try:
        assert entered.wait(30)
        probe = Probe()
        probe(x)
        probe(x)
    finally:
        release.set()
        t.join()
    assert expected == [False, False] and seen == expected  # not the other thread's training=True
    assert len(probe.losses) == len(alone.losses) == 1  # each outermost call here starts afresh


def test_inference_mode_is_per_thread():
    """As torch's (and as grad mode): another thread's inference_mode block is not this thread's."""
    inside, release = threading.Event(), threading.Event()

    def other():
        with fastnn.inference_mode():
            inside.set()
            release.wait(30)

    t = threading.Thread(target=other)
    t.start()
    try:
        assert inside.wait(30)
        with fastnn.no_grad():
            here = fastnn.is_inference_mode_enabled()
    finally:
        release.set()
        t.join()
    assert here is False
    with fastnn.inference_mode():
        assert fastnn.is_inference_mode_enabled()
    assert not fastnn.is_inference_mode_enabled()
