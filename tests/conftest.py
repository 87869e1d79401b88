import os

# CI runs the CUDA backend on the emulated device (host memory seen as device memory, kernels through
# fastnn._emu); a GPU machine runs the suite with FASTNN_CUDA=auto. Set before fastnn is imported.
os.environ.setdefault("FASTNN_CUDA", "emulate")

import pytest  # noqa: E402
from cuda_kernel_helpers import target  # noqa: F401  (the fixture running CUDA kernel bindings: emulator, GPU)
from hypothesis import HealthCheck, settings  # noqa: E402

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


@pytest.fixture
def cuda_mode():
    """``cuda_mode("off")`` / ``cuda_mode("emulate:2")``: the CUDA mode for one test (as FASTNN_CUDA would set
    it), restored after. Backends of devices that stay keep their identity."""
    from fastnn.backend.cuda import runtime

    before = runtime.spec()
    yield runtime.configure
    runtime.configure(before)


@pytest.fixture
def no_cuda(cuda_mode):
    """No CUDA device for one test (FASTNN_CUDA=off)."""
    cuda_mode("off")


@pytest.fixture
def two_cuda(cuda_mode):
    """Two emulated CUDA devices for one test; skipped on a real GPU machine with fewer than two."""
    from fastnn.backend.cuda import runtime

    if runtime.mode()[0] != "emulate":
        import fastnn

        if fastnn.cuda.device_count() < 2:
            pytest.skip("needs two CUDA devices")
        return
    cuda_mode("emulate:2")


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
