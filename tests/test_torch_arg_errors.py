"""torch's argument errors (OpInfo error_inputs) for binary functions given Python numbers where torch has no
Scalar overload, and for roll / mean / narrow / aminmax / masked_fill; beside the valid calls they must not
break. Each is run in torch and fastnn: the same exception type and first line of message."""
import numpy as np
import pytest

import fastnn
from op_helpers import run_both as _both

torch = pytest.importorskip("torch")


def _same(t, f):
    assert tuple(f.shape) == tuple(t.shape)
    assert str(f.dtype).rpartition(".")[2] == str(t.dtype).rpartition(".")[2]
    np.testing.assert_array_equal(np.asarray(f.detach().numpy()), t.detach().numpy())


# ---- torch's argument errors (OpInfo error_inputs) for a few ops, beside the valid calls they must not break ----
def _t(m):
    return m.tensor([1, 2, 3])


ERROR_CALLS = [
    lambda m: m.eq(2, _t(m)), lambda m: m.lt(2, 3), lambda m: m.max(2, _t(m)), lambda m: m.fmod(2, _t(m)),
    lambda m: m.rsub(2, _t(m)), lambda m: m.copysign(2, _t(m)), lambda m: m.clamp_min(2, _t(m)),
    lambda m: m.maximum(_t(m), 2), lambda m: m.minimum(2, _t(m)), lambda m: m.fmax(_t(m), 2),
    lambda m: m.atan2(_t(m), 2), lambda m: m.ldexp(_t(m), 2), lambda m: m.logical_and(_t(m), 2),
    lambda m: m.logical_xor(2, 3), lambda m: m.gcd(_t(m), 2), lambda m: m.lcm(2, _t(m)),
    lambda m: m.isclose(_t(m), 2), lambda m: m.heaviside(_t(m), 2), lambda m: m.bitwise_left_shift(2, 3),
    lambda m: m.roll(m.ones(5), ()), lambda m: m.roll(m.ones(()), 0, 0), lambda m: m.roll(m.ones(()), 1, -1),
    lambda m: m.mean(m.ones(3, 4), [], dtype=m.int64), lambda m: m.ones(3).mean(dtype=m.bool),
    lambda m: m.narrow(m.ones(4, 5), 1, m.tensor([1, 2]), 2), lambda m: m.narrow(m.ones(4, 5), 1, m.tensor(True), 2),
    lambda m: m.narrow_copy(m.ones(4, 5), 2, 0, 1),
]
VALID_CALLS = [
    lambda m: m.eq(_t(m), 2), lambda m: m.max(_t(m)), lambda m: m.max(_t(m), _t(m)), lambda m: m.fmod(_t(m), 2),
    lambda m: m.rsub(_t(m), 2), lambda m: m.clamp_min(_t(m), 2), lambda m: m.clamp_max(_t(m), 2),
    lambda m: m.maximum(_t(m), _t(m)), lambda m: m.isclose(_t(m), _t(m), rtol=0.1),
    lambda m: m.bitwise_left_shift(_t(m), 1), lambda m: m.narrow(m.ones(4, 5), 1, m.tensor(2), 2),
    lambda m: m.roll(m.ones(()), 1), lambda m: m.mean(m.ones(3, 4), [], dtype=m.float64),
    lambda m: _t(m).maximum(_t(m)), lambda m: m.logical_or(_t(m), _t(m)),
]


@pytest.mark.parametrize("i", range(len(ERROR_CALLS)))
def test_error_inputs_raise_torchs_error(i):
    t, f = _both(lambda: ERROR_CALLS[i](torch), lambda: ERROR_CALLS[i](fastnn))
    assert t is None, "torch accepts this call: not an error case"


@pytest.mark.parametrize("i", range(len(VALID_CALLS)))
def test_valid_calls_still_work(i):
    t, f = VALID_CALLS[i](torch), VALID_CALLS[i](fastnn)
    _same(t, f)


ERROR_CALLS_2 = [
    lambda m: m.aminmax(m.ones(5, 0, 5), dim=-2), lambda m: m.aminmax(m.ones(0), dim=0),
    lambda m: m.aminmax(m.ones(5, 0, 5)), lambda m: m.ones(3).masked_fill(m.tensor(False), 1j),
    lambda m: m.ones(3, dtype=m.int64).masked_fill(m.tensor(True), 2j),
]


@pytest.mark.parametrize("i", range(len(ERROR_CALLS_2)))
def test_more_error_inputs_raise_torchs_error(i):
    t, f = _both(lambda: ERROR_CALLS_2[i](torch), lambda: ERROR_CALLS_2[i](fastnn))
    assert t is None


def test_masked_fill_takes_a_real_complex_number():
    _same(torch.ones(3).masked_fill(torch.tensor([True, False, True]), 2 + 0j),
          fastnn.ones(3).masked_fill(fastnn.tensor([True, False, True]), 2 + 0j))
    _same(torch.aminmax(torch.ones(5, 0, 5), dim=0).min, fastnn.aminmax(fastnn.ones(5, 0, 5), dim=0).min)
