"""adam_update's step counters may be misaligned one-element views (torch accepts any tensor as state['step']):
the binding reads and writes them bytewise. Under .ci/sanitize, UBSan turns a typed misaligned access into a
failure; here the results must equal those of aligned counters."""

import numpy as np
import pytest

from fastnn import _C

HYPER = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
             decoupled=False)


def _misaligned_counter(dtype, value):
    """A one-element array of ``dtype`` starting one byte into its buffer: aligned for no type wider than a byte."""
    buf = np.zeros(np.dtype(dtype).itemsize + 1, np.uint8)
    view = buf[1:].view(dtype)
    view[0] = value
    assert view.ctypes.data % np.dtype(dtype).itemsize != 0
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_step_counter_reads_and_advances_like_an_aligned_one(dtype):
    rng = np.random.default_rng(0)
    p, g, m = (rng.standard_normal(37).astype(np.float32) for _ in range(3))
    v = np.abs(rng.standard_normal(37)).astype(np.float32)
    runs = []
    for counter in (np.array([4], dtype), _misaligned_counter(dtype, 4)):
        state = [p.copy(), g.copy(), m.copy(), v.copy()]
        _C.adam_update([state[0]], [state[1]], [state[2]], [state[3]], None, [counter], **HYPER)
        runs.append((state, counter[0]))
    (aligned, step_a), (misaligned, step_m) = runs
    assert step_a == step_m == 5
    for a, b in zip(aligned, misaligned):
        np.testing.assert_array_equal(a, b)
