"""Fuzz cases for the checkpoint tests, run in fuzz_harness' worker: load a (hostile) file the way a user
would, and report what happened with the peak memory the load allocated, so that a crash, a hang, an
out-of-proportion allocation or code run from the file is an outcome the test counts."""
from __future__ import annotations

import glob
import hashlib
import os
import tempfile
import tracemalloc

import numpy as np


def digest(obj) -> str:
    """A content hash of a loaded object: types, dtypes, shapes, values and dict order."""
    import fastnn

    h = hashlib.sha256()

    def walk(x):
        if isinstance(x, fastnn.Tensor):
            a = np.ascontiguousarray(x.detach().numpy())
            h.update(f"T{a.dtype.str}{a.shape}{x.requires_grad}".encode())
            h.update(a.tobytes())
        elif isinstance(x, (np.ndarray, np.generic)):
            a = np.ascontiguousarray(x)
            h.update(f"A{a.dtype.newbyteorder('=').str}{a.shape}{type(x).__name__}".encode())
            h.update(a.tobytes())
        elif isinstance(x, dict):
            h.update(f"D{len(x)}".encode())
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, (list, tuple, set, frozenset)):
            items = sorted(x, key=repr) if isinstance(x, (set, frozenset)) else x
            h.update(f"{type(x).__name__}{len(items)}".encode())
            for v in items:
                walk(v)
        else:
            h.update(f"{type(x).__name__}:{x!r}".encode())
    walk(obj)
    return h.hexdigest()


def model_digest(model) -> str:
    from fastnn.keras import saving

    opt = getattr(model, "optimizer", None)
    opt_state = opt.get_weights() if opt is not None and getattr(opt, "built", False) else None
    return digest([saving.model_config(model), model.get_weights(), opt_state])


def load_file(data: bytes, kind: str, marker_glob: str = "/tmp/fastnn-hostile-ran-code-*") -> dict:
    """Writes ``data`` to a file and loads it (``load_model`` for kind "keras", ``fastnn.load`` otherwise)."""
    import fastnn

    for old in glob.glob(marker_glob):
        os.unlink(old)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.keras" if kind == "keras" else "file.safetensors")
        with open(path, "wb") as f:
            f.write(data)
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = {"status": "loaded", "exc_type": "", "message": "", "digest": ""}
        try:
            if kind == "keras":
                out["digest"] = model_digest(fastnn.keras.models.load_model(path))
            else:
                out["digest"] = digest(fastnn.load(path))
        except Exception as e:  # noqa: BLE001  (every error is an outcome the test classifies)
            out.update(status="error", exc_type=type(e).__name__, message=str(e)[:500])
        out["peak"] = tracemalloc.get_traced_memory()[1] - base
    out["ran_code"] = bool(glob.glob(marker_glob))
    return out


def save_forever(path: str, mib: int, ready: str) -> None:
    """For the SIGKILL test: saves a state dict of ``mib`` MiB to ``path`` over and over until killed."""
    import fastnn

    n = mib * (1 << 20) // 4
    k = 0
    while True:
        k += 1
        fastnn.save({"step": k, "w": fastnn.tensor(np.full(n, float(k), np.float32))}, path)
        if k == 1:
            open(ready, "w").close()
