import os

import pytest
from cuda_kernel_helpers import target  # noqa: F401  (the fixture running CUDA kernel bindings: emulator, GPU)
from hypothesis import HealthCheck, settings

# A few hundred hypothesis cases in all keep CI short; HYPOTHESIS_PROFILE=thorough digs deeper locally.
settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def threads():
    """Sets fastnn's thread count for one test and restores it after."""
    import fastnn

    before = fastnn.get_num_threads()
    yield fastnn.set_num_threads
    fastnn.set_num_threads(before)


def _devices():
    import fastnn

    cuda = pytest.param("cuda", marks=pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device"))
    return ["cpu", cuda]


@pytest.fixture(params=_devices())
def device(request):
    """The device a device-generic test runs on: 'cpu' always, 'cuda' where a CUDA device is present."""
    return request.param


def pytest_terminal_summary(terminalreporter, config):
    """Prints the lines tests left for the summary (the OpInfo oracle's totals), whether or not -s is given."""
    import sys

    oracle = sys.modules.get("opinfo_oracle")
    lines = config.stash.get(oracle.SUMMARY_KEY, []) if oracle is not None else []
    for line in lines:
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    """Tests that run CUDA kernel bindings (the ``target`` fixture) are marked ``cuda_kernels``: they do
    not depend on FASTNN_BACKEND or FASTNN_ISA, so CI's extra passes of the suite skip them."""
    for item in items:
        if "target" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cuda_kernels)
