"""Issue 15 (speed on a busy machine): the kernels split their work into chunks that threads grab from a
shared counter (fastnn's parallel_chunks), so which thread runs a chunk, and how many threads there are,
must never move a bit. Each case runs one op's forward and backward through the public API at 1, 2 and 3
threads, on odd shapes big enough that every count really starts a team, and compares the bits. A forked
child must also run a multi-threaded kernel (the pool's threads do not survive fork)."""
import multiprocessing as mp

import numpy as np
import pytest

import fastnn
from fastnn.nn import functional as F


def _run(build, seed=0):
    """build(tensors) -> output tensor; returns the output and every input's gradient as NumPy arrays."""
    def once(shapes):
        rng = np.random.default_rng(seed)
        ts = [fastnn.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
        out = build(*ts)
        out.backward(fastnn.tensor(np.cos(np.arange(out.numel(), dtype=np.float32)).reshape(out.shape)))
        return [out.detach().numpy()] + [t.grad.numpy() for t in ts]
    return once


CASES = {
    # batch 1 and 3: pixels split into several chunks per thread; weight grad split over tap rows
    "conv2d_n1": ([(1, 7, 61, 63), (13, 7, 3, 3), (13,)], lambda x, w, b: F.conv2d(x, w, b, padding=1)),
    "conv2d_n3_stride2": ([(3, 9, 57, 61), (11, 9, 3, 3), (11,)], lambda x, w, b: F.conv2d(x, w, b, stride=2)),
    "conv2d_n17": ([(17, 6, 19, 23), (9, 6, 3, 3), (9,)], lambda x, w, b: F.conv2d(x, w, b, padding=1)),
    "max_pool": ([(16, 32, 61, 63)], lambda x: F.max_pool2d(x, 3, stride=2, padding=1)),
    "avg_pool": ([(16, 32, 61, 63)], lambda x: F.avg_pool2d(x, 2)),
    "batch_norm_rows": ([(9, 13, 67, 71), (13,), (13,)],
                        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
    "batch_norm_cols": ([(16411, 21), (21,), (21,)], lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
    "layer_norm": ([(2053, 257), (257,), (257,)], lambda x, w, b: F.layer_norm(x, (257,), w, b)),
    "softmax": ([(2053, 301)], lambda x: F.softmax(x, dim=-1)),
    "log_softmax": ([(2053, 301)], lambda x: F.log_softmax(x, dim=-1)),
    "attention": ([(3, 5, 97, 24), (3, 5, 83, 24), (3, 5, 83, 24)],
                  lambda q, k, v: F.scaled_dot_product_attention(q, k, v)),
    "attention_causal_1head": ([(1, 1, 301, 40), (1, 1, 301, 40), (1, 1, 301, 40)],
                               lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
    "erf_gelu": ([(301, 1027)], lambda x: F.gelu(x)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bitwise_identical_at_1_2_3_threads(threads, name):
    shapes, build = CASES[name]
    once = _run(build)
    results = []
    for nt in (1, 2, 3):
        threads(nt)
        results.append(once(shapes))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_adamw_step_bitwise_identical_at_1_2_3_threads(threads):
    finals = []
    for nt in (1, 2, 3):
        threads(nt)
        rng = np.random.default_rng(3)
        ps = [fastnn.nn.Parameter(fastnn.tensor(rng.standard_normal(s).astype(np.float32)))
              for s in [(1031, 517), (517,), (3, 7, 5)]]
        opt = fastnn.optim.AdamW(ps, lr=1e-2, weight_decay=0.1)
        for step in range(3):
            for p in ps:
                p.grad = fastnn.tensor(np.sin(p.detach().numpy() * (step + 1)).astype(np.float32))
            opt.step()
        finals.append([p.detach().numpy().copy() for p in ps])
    for other in finals[1:]:
        for a, b in zip(finals[0], other):
            assert np.array_equal(a, b)


def _child(q):
    fastnn.set_num_threads(2)
    x = fastnn.tensor(np.ones((4, 8, 32, 32), np.float32))
    w = fastnn.tensor(np.ones((16, 8, 3, 3), np.float32))
    q.put(float(F.conv2d(x, w, padding=1).sum().item()))


def test_forked_child_runs_a_multithreaded_kernel(threads):
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    threads(2)
    x = fastnn.tensor(np.ones((4, 8, 32, 32), np.float32))
    w = fastnn.tensor(np.ones((16, 8, 3, 3), np.float32))
    expected = float(F.conv2d(x, w, padding=1).sum().item())  # the parent's pool is up before the fork
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert q.get(timeout=5) == expected
