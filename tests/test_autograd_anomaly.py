"""fastnn.autograd's anomaly mode beside torch.autograd's: the switches (context manager, function, their
restoring), the NaN check in backward (torch's RuntimeError text, naming the node and the output index), the
warning that prints the forward traceback of the failing node, and fastnn's extra: the forward op that made
the first NaN / inf is named (AnomalyWarning)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import fastnn
from fastnn.autograd import anomaly_mode


def _both(fn_fastnn, fn_torch):
    """(message of the RuntimeError, the warnings' messages) for each library."""
    out = []
    for lib, fn in ((fastnn, fn_fastnn), (torch, fn_torch)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lib.autograd.detect_anomaly():
                try:
                    fn(lib)
                    err = None
                except RuntimeError as e:
                    err = str(e)
        out.append((err, [(w.category, str(w.message)) for w in caught]))
    return out


def _sqrt_of_negative(lib):
    x = lib.tensor([-1.0, 4.0], requires_grad=True)
    lib.sqrt(x).sum().backward()


def _x_over_x(lib):
    x = lib.tensor([0.0, 2.0], requires_grad=True)
    (x / x).sum().backward()


@pytest.mark.parametrize("program, node", [(_sqrt_of_negative, "SqrtBackward0"), (_x_over_x, "DivBackward0")])
def test_nan_gradient_raises_as_torch(program, node):
    (ours, our_warnings), (theirs, their_warnings) = _both(program, program)
    assert ours == theirs and node in ours  # e.g. "Function 'DivBackward0' returned nan values in its 1th output."
    for found in (our_warnings, their_warnings):
        texts = [m for _, m in found]
        assert any(m.startswith("Anomaly Detection has been enabled.") for m in texts)
        trace = [m for m in texts if m.startswith(f"Error detected in {node}. Traceback of forward call that caused "
                                                  "the error:")]
        assert len(trace) == 1 and __file__ in trace[0]  # the forward call's frame, in this file


def test_error_in_any_backward_prints_the_forward_trace():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fastnn.autograd.detect_anomaly():
            y = x.exp()  # line of the forward call
            y.grad_fn.backward_fn = lambda g: (_ for _ in ()).throw(ValueError("boom"))
            with pytest.raises(ValueError, match="boom"):
                y.sum().backward()
    msgs = [str(w.message) for w in caught if str(w.message).startswith("Error detected in ExpBackward0")]
    assert len(msgs) == 1 and "y = x.exp()" in msgs[0]


def test_off_and_check_nan_false_let_nan_through():
    x = fastnn.tensor([-1.0, 4.0], requires_grad=True)
    fastnn.sqrt(x).sum().backward()  # anomaly mode off: torch returns the NaN gradient too
    assert np.isnan(x.grad.numpy()[0])
    x.grad = None
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = fastnn.autograd.detect_anomaly(check_nan=False)
    with mode:
        assert fastnn.autograd.is_anomaly_enabled() and not fastnn.autograd.is_anomaly_check_nan_enabled()
        fastnn.sqrt(x).sum().backward()
    assert np.isnan(x.grad.numpy()[0])
    assert not fastnn.autograd.is_anomaly_enabled() and fastnn.autograd.is_anomaly_check_nan_enabled()


def test_switches_restore_as_torch():
    for lib in (fastnn, torch):
        is_on, check = ((lib.autograd.is_anomaly_enabled, lib.autograd.is_anomaly_check_nan_enabled)
                        if lib is fastnn else (torch.is_anomaly_enabled, torch.is_anomaly_check_nan_enabled))
        assert (is_on(), check()) == (False, True)
        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            assert (is_on(), check()) == (True, False)
            with lib.autograd.set_detect_anomaly(False):
                assert (is_on(), check()) == (False, True)
            assert (is_on(), check()) == (True, False)
        assert (is_on(), check()) == (False, True)
        lib.autograd.set_detect_anomaly(True)  # a plain call switches it on for good
        assert is_on()
        lib.autograd.set_detect_anomaly(False)
        assert not is_on()


def test_detect_anomaly_as_decorator():
    with pytest.warns(UserWarning, match="Anomaly Detection"):
        @fastnn.autograd.detect_anomaly()
        def step():
            assert fastnn.autograd.is_anomaly_enabled()
            x = fastnn.tensor([-1.0], requires_grad=True)
            fastnn.sqrt(x).sum().backward()

    with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output."), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step()
    assert not fastnn.autograd.is_anomaly_enabled()


def test_forward_names_the_op_that_made_the_first_nan():
    """The extra: the first recorded op whose output holds NaN / inf from inputs without any is named."""
    x = fastnn.tensor([0.0, 1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fastnn.autograd.detect_anomaly():
            y = x * 2
            z = fastnn.log(y)             # -inf at 0: named
            w = z * 0                     # NaN, but from an input already holding inf: named as NaN only
            w.sum()
    found = [w for w in caught if issubclass(w.category, anomaly_mode.AnomalyWarning)]
    texts = [str(w.message) for w in found]
    assert texts[0].startswith("Anomaly detected in forward: Log (LogBackward0) produced inf or nan values")
    assert texts[1].startswith("Anomaly detected in forward: Mul (MulBackward0) produced nan values")
    assert len(texts) == 2 and found[0].filename == __file__


def test_nothing_is_kept_when_off():
    anomaly_mode.TRACES.clear()
    x = fastnn.tensor([1.0], requires_grad=True)
    (x * 2).exp().sum().backward()
    assert len(anomaly_mode.TRACES) == 0
