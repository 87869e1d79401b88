"""The fuzz runner turns every way a case can end (value, exception, signal, hang, sanitizer report on stderr)
into an outcome, and the next case runs in a fresh worker after a crash."""

from fuzz_harness import FuzzRunner, assert_clear, is_clear

CASES = "fuzz_cases_selftest:"


def test_each_way_a_case_ends_is_an_outcome():
    with FuzzRunner(timeout_s=2.0) as run:
        assert run(CASES + "returns", 21).value == 42
        err = run(CASES + "raises", "op_x: bad thing")
        assert (err.kind, err.exc_type, err.message) == ("error", "ValueError", "op_x: bad thing")
        assert is_clear(err, "op_x") and not is_clear(err, "op_y")
        assert_clear(err, "op_y", "bad thing")
        first = run(CASES + "worker_pid").value
        crash = run(CASES + "segfaults")
        assert crash.kind == "crash" and crash.signal == 11, crash.describe()
        assert run(CASES + "worker_pid").value != first  # a fresh worker after the crash
        assert run(CASES + "hangs").kind == "hang"
        assert run(CASES + "prints_then_returns").value == "fine"
        report = run(CASES + "reports_on_stderr")
        assert report.kind == "sanitizer" and "signed integer overflow" in report.stderr
        assert run(CASES + "returns", 1).kind == "ok"
        assert run.cases_run == 9 and run.restarts == 2
