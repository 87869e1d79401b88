"""The worker process of fuzz_harness.FuzzRunner: reads (case, args, kwargs) frames on stdin, runs each case
and writes (kind, value, exc_type, message) frames to its own copy of stdout. File descriptor 1 is pointed at
stderr first, so nothing a library prints can break the framing."""

import importlib
import os
import pickle
import struct
import sys


def _read_frame(stream):
    header = stream.read(8)
    if len(header) < 8:
        return None
    return pickle.loads(stream.read(struct.unpack("<Q", header)[0]))


def _resolve(case: str):
    module, _, name = case.partition(":")
    return getattr(importlib.import_module(module), name)


def _summarise(value):
    """Results travel back small: arrays and tensors as (shape, dtype)."""
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001  (anything unpicklable comes back as its type)
        return f"<{type(value).__name__}>"
    return value


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    while True:
        request = _read_frame(requests)
        if request is None:
            return
        case, args, kwargs = request
        try:
            reply = ("ok", _summarise(_resolve(case)(*args, **kwargs)), "", "")
        except BaseException as exc:  # noqa: BLE001  (every exception is an outcome to report)
            reply = ("error", None, type(exc).__name__, str(exc)[:2000])
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        replies.write(struct.pack("<Q", len(data)) + data)
        replies.flush()


if __name__ == "__main__":
    main()
