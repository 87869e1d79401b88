"""Where an op's array work happens: ``backend_of(*arrays)`` answers "which backend holds these arrays?",
``get_backend(device)`` names one for work that has no array to inspect (creation, ``.to()``).

A backend is an array module (``xp``: NumPy or CuPy) plus one kernel table, the same kernel names on
every device (``table.KERNELS``). ``composite`` writes every kernel with ``xp`` calls only; ``cpu``
overrides the ones it has native code for. Setting ``FASTNN_BACKEND=composite`` before import serves
NumPy arrays with the composite kernels, so the test suite exercises the code path a new device takes
first, without that device.

Only this package imports ``fastnn._C``.
"""
from __future__ import annotations

from .base import Backend
from .registry import active_cpu, backend_of, backend_with_cpu_scalars, check_output_device, get_backend

__all__ = ["Backend", "active_cpu", "backend_of", "backend_with_cpu_scalars", "check_output_device", "get_backend"]
