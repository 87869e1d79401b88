"""The raw streams and events behind ``fastnn.cuda.Stream`` / ``Event`` (``_cuda_streams.py``), per runtime.

On a real GPU they are CuPy's (``cupy.cuda.Stream`` created non-blocking, as torch creates its streams, and
``cupy.cuda.Event``); entering a stream is entering CuPy's stream context, so ``CupyRuntime.stream()`` (CuPy's
current stream) is the one every kernel launch and CuPy op of the block uses.

On the emulated device, kernels run synchronously on host memory when launched, so a stream has nothing to
order: ``EmulatedStream`` is a no-op stream object with a handle of its own (0 for the default stream, a
distinct non-zero integer for each created one), a log of what was asked of it (``ops``) and a per-device
current stream that ``EmulatedRuntime.stream()`` reads. ``EmulatedEvent`` stamps the HOST clock
(``time.perf_counter``) when recorded: since every launch has finished when it returns, the time between two
records is the time the work in between took, and ``elapsed_time`` gives it in milliseconds as CUDA does.
"""
from __future__ import annotations

import itertools
import time

_handles = itertools.count(1)
_current: dict = {}  # device index -> its current EmulatedStream (absent: the default stream)
_defaults: dict = {}  # device index -> its default (null) stream, handle 0


class EmulatedStream:
    """A stream of emulated device ``index`` (``ptr`` its handle, 0 the default/null stream)."""

    def __init__(self, index: int, priority: int = 0, ptr: int | None = None) -> None:
        self.device_index = int(index)
        self.priority = int(priority)
        self.ptr = next(_handles) if ptr is None else int(ptr)
        self.ops: list = []  # ("record", event) / ("wait", event) / ("synchronize",), in order
        self._saved: list = []  # the streams current before each entry of this one's context

    def synchronize(self) -> None:
        """Every kernel launched on the stream has finished when its launch returned."""
        self.ops.append(("synchronize",))

    def query(self) -> bool:
        return True

    def record(self, event) -> None:
        event._stamp(self)

    def wait_event(self, event) -> None:
        """Work launched after this waits for ``event``: already true here (launches are synchronous)."""
        self.ops.append(("wait", event))

    def __enter__(self):
        """Makes this stream its device's current one until ``__exit__``, which restores the one before (as
        CuPy's stream context does)."""
        self._saved.append(emulated_current(self.device_index))
        _current[self.device_index] = self
        return self

    def __exit__(self, *exc) -> bool:
        _current[self.device_index] = self._saved.pop()
        return False


def emulated_default(index: int) -> EmulatedStream:
    s = _defaults.get(index)
    if s is None:
        s = _defaults[index] = EmulatedStream(index, 0, ptr=0)
    return s


def emulated_current(index: int) -> EmulatedStream:
    """Emulated device ``index``'s current stream (its default stream outside every ``stream`` block)."""
    s = _current.get(index)
    return emulated_default(index) if s is None else s


def emulated_set(index: int, stream: EmulatedStream) -> None:
    """``torch.cuda.set_stream``: ``stream`` becomes the current one (until a block entered before ends)."""
    _current[index] = stream


class EmulatedEvent:
    """A CUDA event on an emulated device: ``record`` stamps the host clock (see the module's text)."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False) -> None:
        self.enable_timing = bool(enable_timing)
        self.blocking = bool(blocking)
        self.interprocess = bool(interprocess)
        self.time: float | None = None  # perf_counter seconds of the last record
        self.stream: EmulatedStream | None = None

    def _stamp(self, stream: EmulatedStream) -> None:
        self.time = time.perf_counter()
        self.stream = stream
        stream.ops.append(("record", self))

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        """The work before the record has finished (synchronous launches)."""

    def elapsed_time(self, end: "EmulatedEvent") -> float:
        return (end.time - self.time) * 1000.0


# ---- per runtime --------------------------------------------------------------------------------------------------
def new_stream(be, priority: int):
    """A new stream of priority ``priority`` clamped to ``priority_range`` (by CUDA itself on a GPU)."""
    if be.emulated:
        least, greatest = _EMULATED_RANGE
        return EmulatedStream(be.device_id, min(max(int(priority), greatest), least))
    with be.device_guard():
        return be.xp.cuda.Stream(non_blocking=True, priority=int(priority))


def current(be):
    if be.emulated:
        return emulated_current(be.device_id)
    return be.xp.cuda.get_current_stream(be.device_id)


def default(be):
    if be.emulated:
        return emulated_default(be.device_id)
    return be.xp.cuda.Stream.null


def set_current(be, raw) -> None:
    if be.emulated:
        emulated_set(be.device_id, raw)
    else:
        with be.device_guard():
            raw.use()


def new_event(be, enable_timing: bool, blocking: bool, interprocess: bool):
    if be.emulated:
        return EmulatedEvent(enable_timing, blocking, interprocess)
    with be.device_guard():
        return be.xp.cuda.Event(block=bool(blocking), disable_timing=not enable_timing,
                                interprocess=bool(interprocess))


def record(be, event, raw_stream) -> None:
    if be.emulated:
        raw_stream.record(event)
    else:
        with be.device_guard():
            event.record(raw_stream)


def event_query(be, event) -> bool:
    return True if be.emulated else bool(event.done)


def elapsed_ms(be, start, end) -> float:
    if be.emulated:
        return start.elapsed_time(end)
    return float(be.xp.cuda.get_elapsed_time(start, end))


_EMULATED_RANGE = (0, -5)  # what an A100/H100 reports (cudaDeviceGetStreamPriorityRange)
_ranges: dict = {}  # device index -> the (least, greatest) measured on a GPU


def priority_range(be) -> tuple:
    """(least, greatest) priority, as ``torch.cuda.Stream.priority_range`` (numerically lower is higher).
    CuPy binds no ``cudaDeviceGetStreamPriorityRange``; CUDA clamps a stream's priority into the range, so
    the priorities read back from two streams asked for far outside it are its ends."""
    if be.emulated:
        return _EMULATED_RANGE
    got = _ranges.get(be.device_id)
    if got is None:
        with be.device_guard():
            low = be.xp.cuda.Stream(non_blocking=True, priority=1 << 20)
            high = be.xp.cuda.Stream(non_blocking=True, priority=-(1 << 20))
            got = _ranges[be.device_id] = (int(low.priority), int(high.priority))
    return got
