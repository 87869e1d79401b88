"""PyTorch's OpInfo samples through fastnn on the CUDA device (tests/opinfo_oracle.py's ``device="cuda"`` mode),
ratcheted by tests/opinfo_baseline_cuda.json.

The same oracle as tests/test_opinfo.py, with fastnn's tensors on cuda (the emulated device in CI: FASTNN_CUDA
=emulate, set by tests/conftest.py) and torch's on the CPU: outputs and gradients are compared on the host, and a
tensor result of a sample with device inputs must be on the device. An op passing fewer samples on cuda than
its cuda baseline fails; `python tests/opinfo_oracle.py --device cuda --update-baseline` rewrites the baseline.
"""
import json

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import opinfo_oracle as oracle  # noqa: E402  (after the torch check: the oracle imports torch's op_db)


@pytest.fixture(scope="module")
def report():
    import fastnn

    if not fastnn.cuda.is_available():
        pytest.skip("no CUDA device (FASTNN_CUDA=off)")
    return oracle.run(max_samples=oracle.CUDA_MAX_SAMPLES, device="cuda")


def test_opinfo_cuda_no_op_regresses(report, tmp_path, request):
    out = tmp_path / "opinfo_cuda_table.txt"
    out.write_text(oracle.table(report) + "\n\n" + oracle.failures(report) + "\n\n" + oracle.summary(report) + "\n")
    request.config.stash.setdefault(oracle.SUMMARY_KEY, []).extend([oracle.summary(report), f"table: {out}"])
    print(oracle.summary(report))
    baseline = json.loads(oracle.BASELINE_CUDA.read_text())
    lost = oracle.regressions(report, baseline)
    assert not lost, ("OpInfo samples that passed on cuda at the baseline fail now (table in "
                      f"{out}):\n" + "\n".join(lost) + "\n" + oracle.failures(report))


def test_opinfo_cuda_baseline_names_exist(report):
    baseline = json.loads(oracle.BASELINE_CUDA.read_text())
    missing = sorted(set(baseline["samples_pass"]) - set(report["ops"]))
    assert not missing, f"cuda baseline ops the oracle did not run (renamed or removed from fastnn?): {missing}"


def test_opinfo_cuda_ran_on_the_device(report):
    # The run really put fastnn's tensors on cuda and compared them: far fewer passing samples than this means
    # the device run lost its way, not that ops broke one by one.
    assert report["device"].startswith("cuda"), report["device"]
    assert report["matched_names"] >= 130 and report["totals"]["pass"] >= 2000, oracle.summary(report)


def test_opinfo_cuda_flags_results_off_the_device(report):
    # The device rule can fail: a correct abs whose result lands on the CPU is 'wrong', on cuda it passes.
    import torch

    import fastnn

    op = next(o for o in oracle.load_op_db() if o.name == "abs")
    sample = next(iter(op.sample_inputs("cpu", torch.float32, requires_grad=True)))
    dev = fastnn.device(report["device"])
    got = oracle.run_sample(op, lambda x: fastnn.abs(x.cpu()), sample, torch, fastnn, 1, "float32", dev)
    assert got[0] == "wrong" and "on cpu, expected cuda" in got[1], got
    assert oracle.run_sample(op, fastnn.abs, sample, torch, fastnn, 1, "float32", dev) == ("pass", "")


# Reasons that say a result or an intermediate array was made on another device than the inputs'.
DEVICE_REASONS = ("expected cuda", "same device", "Array device must be same", "host NumPy array met device")


def test_opinfo_on_a_second_cuda_device(two_cuda):
    # On cuda:1 while cuda:0 is current (two emulated devices in CI): an op allocating on the current device,
    # or through another device's array module, gives results (or intermediates) on the wrong device. A few
    # samples per op find those; any device-related failure fails the test.
    report = oracle.run(max_samples=2, device="cuda:1")
    assert report["device"] == "cuda:1"
    bad = sorted(f"{key}: {cls}: {why}" for key, r in report["ops"].items() for cls, reasons in r["reasons"].items()
                 for why in reasons if any(w in why for w in DEVICE_REASONS))
    assert not bad, "\n".join(bad)
    assert report["totals"]["pass"] >= 2000, oracle.summary(report)
