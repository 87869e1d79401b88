"""The bench's machine-limits probe: sane, positive figures, and clear errors on bad arguments."""
import pytest

from fastnn import _C


@pytest.mark.parametrize("isa", list(_C.isa_levels()))
def test_peak_probe_reports_positive_gflops(isa):
    assert _C.probe_peak_gflops_f32(isa, 1, 1) > 0.1


def test_bandwidth_probe():
    bw = _C.probe_memory_bandwidth(1 << 16, 1, 2)
    assert bw["copy_gbs"] > 0 and bw["triad_gbs"] > 0


def test_bad_arguments():
    with pytest.raises(ValueError):
        _C.probe_memory_bandwidth(0, 1, 1)
    with pytest.raises(ValueError):
        _C.probe_peak_gflops_f32(None, 0, 1)
    with pytest.raises(ValueError, match="unknown ISA"):
        _C.probe_peak_gflops_f32("mmx", 1, 1)
