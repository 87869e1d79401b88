"""An op whose result and work arrays cannot fit in memory raises fastnn.OutOfMemoryError (a RuntimeError, as
torch's allocator error is, and a MemoryError, as NumPy's is) before allocating: under Linux's overcommit the
allocation itself would succeed and the process be killed later, when the pages are touched."""
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn.backend import backend_of
from fastnn.backend.base import host_available_memory


def test_host_figure_is_read():
    avail = host_available_memory()
    assert avail is None or avail > 0


def test_huge_interpolate_raises_before_allocating():
    x = fastnn.randn(1, 2, 4, 4)
    with pytest.raises(fastnn.OutOfMemoryError, match=r"interpolate\(\): not enough memory") as info:
        F.interpolate(x, size=(1, 2 ** 40), mode="nearest")
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, MemoryError)


def test_check_follows_the_backend_figure(monkeypatch):
    x = fastnn.randn(1, 2, 8, 8)
    be = backend_of(x._data)
    monkeypatch.setattr(type(be), "available_memory", lambda self: 1000)  # 1000 bytes left: 2x16x16 floats do not fit
    with pytest.raises(MemoryError, match="interpolate"):
        F.interpolate(x, scale_factor=2)
    monkeypatch.setattr(type(be), "available_memory", lambda self: None)  # a device that cannot tell: no check
    assert tuple(F.interpolate(x, scale_factor=2).shape) == (1, 2, 16, 16)
