"""The kernel table: every backend implements every name here (composite.py in ``xp`` calls, a device
backend natively where it can). ``tests/test_backend.py`` checks that each backend has them all and that
the CPU backend's native kernels agree with the composite ones.

Each family's signatures and semantics are documented on its composite implementation, the readable
reference (``backend/composite/<family>.py``).
"""
from __future__ import annotations

KERNELS = {
    "linalg": ("matmul", "gemm_into", "linear", "erf"),
}


def all_kernels():
    return tuple(name for names in KERNELS.values() for name in names)
