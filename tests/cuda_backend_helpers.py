"""What the CUDA backend's kernel tests (tests/test_cuda_backend_<family>.py) share: the backend with a
family's native kernels (or a skip), the composite version of a kernel run on the same backend's arrays,
and a spy on the kernel module proving a call reached the native kernel."""
from __future__ import annotations

import pytest

from fastnn.backend import get_backend
from fastnn.backend.composite import CompositeBackend


def cuda_backend_with(*kernels):
    """``get_backend("cuda")``, skipping the test unless it serves ``kernels`` natively."""
    be = get_backend("cuda")
    if not set(kernels) <= set(be.native_kernels()):
        pytest.skip("the CUDA device has no kernel module")
    return be


def composite(be, name, *args, **kwargs):
    """The composite (``xp``-only) version of kernel ``name``, on ``be``'s arrays."""
    return getattr(CompositeBackend, name)(be, *args, **kwargs)


class KernelSpy:
    """The kernel module, recording the names looked up on it."""

    def __init__(self, native):
        self.native, self.calls = native, []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.native, name)


def spy_on(be, monkeypatch) -> KernelSpy:
    s = KernelSpy(be.native)
    monkeypatch.setattr(be, "native", s)
    return s
