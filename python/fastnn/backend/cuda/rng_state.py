"""A CUDA device generator's state as bytes, for ``fastnn.cuda.get_rng_state`` / ``set_rng_state``.

- emulated device (a NumPy PCG64 ``Generator``, ``emulated.EmulatedGenerator``): 37 bytes, the 128-bit
  ``state`` and ``inc`` (little-endian), ``has_uint32`` (1 byte) and the cached ``uinteger`` (4 bytes);
- real GPU (CuPy's ``cupy.random.Generator`` over cuRAND XORWOW, ``generator.CupyGenerator``): the bit
  generator's whole per-thread cuRAND state buffer (``bit_generator._state``), copied to the host.
Unlike torch's Philox (seed + offset, 16 bytes), the state is the generator's full state, so a state of
one kind (or of another device's buffer size) is refused by the other.
"""
from __future__ import annotations

import numpy as np

_PCG64_BYTES = 37


def get_state(be) -> np.ndarray:
    """Device ``be``'s generator state as a 1-d uint8 host array."""
    gen = be.generator()
    if be.emulated:
        st = gen.bit_generator.state
        if st.get("bit_generator") != "PCG64":
            raise RuntimeError(f"get_rng_state: cannot save a {st.get('bit_generator')} generator")
        out = (int(st["state"]["state"]).to_bytes(16, "little") + int(st["state"]["inc"]).to_bytes(16, "little")
               + bytes([int(st["has_uint32"])]) + int(st["uinteger"]).to_bytes(4, "little"))
        return np.frombuffer(out, dtype=np.uint8).copy()
    bits = gen._gen.bit_generator
    with be.device_guard():
        return be.xp.asnumpy(bits._state).view(np.uint8).copy()


def set_state(be, state: np.ndarray) -> None:
    """Restores device ``be``'s generator from ``get_state``'s bytes (RuntimeError for a state of another
    size: another generator's, or a truncated one)."""
    state = np.ascontiguousarray(state, dtype=np.uint8).reshape(-1)
    gen = be.generator()
    if be.emulated:
        if state.size != _PCG64_BYTES:
            raise RuntimeError(f"set_rng_state: expected a state of {_PCG64_BYTES} bytes for the emulated "
                               f"device's generator, got {state.size}")
        raw = state.tobytes()
        gen.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[0:16], "little"), "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": raw[32], "uinteger": int.from_bytes(raw[33:37], "little")}
        return
    bits = gen._gen.bit_generator
    if state.size != bits._state.size:
        raise RuntimeError(f"set_rng_state: expected a state of {bits._state.size} bytes for cuda:"
                           f"{be.device_id}'s generator, got {state.size}")
    with be.device_guard():
        bits._state[...] = be.xp.asarray(state.view(np.int8))
