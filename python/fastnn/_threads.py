"""The kernels' thread count: ``set_num_threads`` / ``get_num_threads``, process-wide as PyTorch's."""
from __future__ import annotations

import numpy as np

from .backend import native


class ThreadCountTypeError(TypeError, RuntimeError):
    """``set_num_threads`` given a non-int. PyTorch raises RuntimeError here, Python's convention is
    TypeError: this is both, so code written against either catches it."""


class ThreadCountValueError(ValueError, RuntimeError):
    """``set_num_threads`` given a count outside [1, max_num_threads()]: RuntimeError as PyTorch's for a
    non-positive count, and ValueError, which fastnn raised before."""


def max_num_threads() -> int:
    """The largest count :func:`set_num_threads` accepts: ``max(256, 4 * CPUs this process may use)``."""
    return int(native.max_num_threads())


def set_num_threads(n: int) -> None:
    """Sets the number of threads fastnn's CPU kernels use, for the whole process.

    As ``torch.set_num_threads``: a value set in one Python thread applies in every thread, including
    threads started before or after, and it is safe to call from any thread while kernels run in others
    (they pick the new count at their next parallel region). The default is OpenMP's: ``OMP_NUM_THREADS``,
    else the CPUs this process may run on. Results are bitwise the same at any count.

    Bounded, unlike torch's: a count above :func:`max_num_threads` (``max(256, 4 x CPUs)``) raises, because
    threads beyond the cores only add context switches and barrier waits (``10**6`` made one matmul take
    58 s on 2 cores). Raises RuntimeError (also a ValueError) for a count out of range and RuntimeError
    (also a TypeError) for a non-int, with PyTorch's wording. DataLoader worker processes run at 1 thread.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ThreadCountTypeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    n = int(n)
    if n < 1:
        raise ThreadCountValueError("set_num_threads expects a positive integer")
    limit = max_num_threads()
    if n > limit:
        raise ThreadCountValueError(
            f"set_num_threads expects at most {limit} threads (max(256, 4 x the CPUs this process may use)), "
            f"got {n}: threads beyond the cores only add context switches and barrier waits")
    native.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads fastnn's CPU kernels use (the same in every thread of the process)."""
    return int(native.get_num_threads())

