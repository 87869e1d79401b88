"""Cases for test_fuzz_harness: each does one thing a fuzz case can do to its worker."""

import os
import signal
import sys
import time


def returns(x):
    return x * 2


def raises(message):
    raise ValueError(message)


def segfaults():
    os.kill(os.getpid(), signal.SIGSEGV)


def hangs():
    time.sleep(3600)


def prints_then_returns():
    print("noise on stdout must not break the framing")
    os.write(1, b"raw noise on fd 1\n")
    return "fine"


def reports_on_stderr():
    sys.stderr.write("x.cpp:12:3: runtime error: signed integer overflow\n")
    sys.stderr.flush()
    return None


def worker_pid():
    return os.getpid()
