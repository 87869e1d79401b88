"""What every example shares: its command line (--smoke for the tests' few-step run, --epochs, --seed)
and loading the digits split as float32 arrays."""
from __future__ import annotations

import argparse
import time

import numpy as np

import fastnn


def parse_args(description: str, epochs: int, argv=None, extra=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="a few steps only (what the tests run)")
    for args, kwargs in extra or []:
        p.add_argument(*args, **kwargs)
    ns = p.parse_args(argv)
    if ns.smoke:
        ns.epochs = min(ns.epochs, 2)
    fastnn.manual_seed(ns.seed)
    np.random.seed(ns.seed)
    return ns


def digits(flatten: bool, smoke: bool = False):
    """(x_train, y_train, x_test, y_test) of the 8×8 digits (stratified 80/20 split)."""
    x_train, y_train = fastnn.datasets.load_digits("train", flatten=flatten)
    x_test, y_test = fastnn.datasets.load_digits("test", flatten=flatten)
    if smoke:
        x_train, y_train = x_train[:256], y_train[:256]
    return x_train, y_train, x_test, y_test


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
