"""Shared helpers for the nn layer tests: a torch twin of a fastnn module with the same weights, and one
forward/backward comparison of the pair (outputs, input gradient, every parameter gradient)."""
from __future__ import annotations

import numpy as np

import fastnn
from op_helpers import assert_close

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def assert_matches(ours, ref, what: str) -> None:
    """fastnn result vs torch's (tensor or array) within RTOL, with atol scaled to the result's magnitude
    so elements that cancel to ~0 do not demand impossible precision."""
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    rtol = RTOL.get(ref.dtype, 0.0)  # integers (num_batches_tracked) exactly
    atol = rtol * float(np.max(np.abs(ref), initial=0.0))
    assert_close(ours, ref, atol=atol, rtol=rtol, msg=what)


def load_from_torch(ours, theirs) -> None:
    """Copies torch's state_dict into ours (as NumPy arrays), after checking the keys agree exactly."""
    sd = theirs.state_dict()
    assert list(ours.state_dict().keys()) == list(sd.keys())
    ours.load_state_dict({k: v.detach().numpy() for k, v in sd.items()})


def compare_step(torch, ours, theirs, x: np.ndarray, seed: int = 0, what: str = "") -> None:
    """One forward and backward through both modules on x with the same random output gradient; compares
    outputs, input gradients and the gradients of every parameter (by name)."""
    xo = fastnn.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_matches(yo, yt, f"{what} forward")
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(x.dtype)
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    assert_matches(xo.grad, xt.grad, f"{what} input grad")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        ref = theirs_params[name].grad
        assert (p.grad is None) == (ref is None), name
        if ref is not None:
            assert_matches(p.grad, ref, f"{what} grad of {name}")
