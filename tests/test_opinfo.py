"""PyTorch's OpInfo samples through fastnn, against torch (tests/opinfo_oracle.py), ratcheted by a baseline.

The oracle runs every op_db entry fastnn has a name for (forward and backward, a capped number of samples per
dtype) and counts per op how many samples match torch. tests/opinfo_baseline.json holds those counts as of the
last `python tests/opinfo_oracle.py --update-baseline`: an op passing fewer samples than its baseline fails this
test, so the counts can only go up. The per-op table is written to the test's tmp dir and the one-line totals
appear in pytest's terminal summary (with or without -s).
"""
import json

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import opinfo_oracle as oracle  # noqa: E402  (after the torch check: the oracle imports torch's op_db)


@pytest.fixture(scope="module")
def report():
    return oracle.run()


def test_opinfo_no_op_regresses(report, tmp_path, request):
    out = tmp_path / "opinfo_table.txt"
    out.write_text(oracle.table(report) + "\n\n" + oracle.failures(report) + "\n\n" + oracle.summary(report) + "\n")
    request.config.stash.setdefault(oracle.SUMMARY_KEY, []).extend([oracle.summary(report), f"table: {out}"])
    print(oracle.summary(report))
    baseline = json.loads(oracle.BASELINE.read_text())
    lost = oracle.regressions(report, baseline)
    assert not lost, ("OpInfo samples that passed at the baseline fail now (table in "
                      f"{out}):\n" + "\n".join(lost) + "\n" + oracle.failures(report))


def test_opinfo_baseline_names_exist(report):
    # A baseline entry for an op the oracle no longer finds would silently count as "0 passing": name it.
    baseline = json.loads(oracle.BASELINE.read_text())
    missing = sorted(set(baseline["samples_pass"]) - set(report["ops"]))
    assert not missing, f"baseline ops the oracle did not run (renamed or removed from fastnn?): {missing}"


def test_opinfo_resolves_names(report):
    # The name resolution itself (torch.X -> fastnn.X, Tensor methods, nn.functional): far fewer matches than
    # this means the oracle lost its way, not that fastnn lost its ops.
    assert report["matched_names"] >= 130 and report["totals"]["pass"] >= 2000, oracle.summary(report)
