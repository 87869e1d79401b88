"""``torch.cuda``'s streams and events: ``Stream``, ``Event``, ``current_stream``, ``default_stream``,
``set_stream`` and the ``stream(s)`` / ``StreamContext`` block (re-exported by ``fastnn.cuda``).

A kernel launched inside ``with fastnn.cuda.stream(s):`` is queued on ``s``: the block enters the raw
stream (CuPy's stream context on a GPU), and the CUDA backend's ``stream()``, which every kernel call passes,
is the current one. On the emulated device (``FASTNN_CUDA=emulate``) kernels run synchronously, streams are
no-op objects with handles of their own, and an ``Event`` with ``enable_timing=True`` measures with the host
clock at record time (``backend/cuda/streams.py``): ``start.record(); work; end.record();
fastnn.cuda.synchronize(); start.elapsed_time(end)`` gives the milliseconds the work took there too.
"""
from __future__ import annotations

from ._device import device as _device_type
from .backend import registry as _registry
from .backend.cuda import streams as _raw


def _be(device):
    from . import cuda as _cuda

    return _registry.cuda_backend(_cuda._index(device))


class Stream:
    """``torch.cuda.Stream(device=None, priority=0)``: a new stream on ``device`` (the current one by
    default); lower numbers are higher priorities, clamped to ``priority_range()`` as CUDA does."""

    def __init__(self, device=None, priority: int = 0) -> None:
        be = _be(device)
        self._backend = be
        self._raw = _raw.new_stream(be, priority)
        self.priority = int(self._raw.priority)

    @classmethod
    def _of(cls, be, raw) -> "Stream":
        s = cls.__new__(cls)
        s._backend, s._raw = be, raw
        s.priority = int(raw.priority)
        return s

    @staticmethod
    def priority_range() -> tuple:
        return _raw.priority_range(_be(None))

    @property
    def device(self) -> _device_type:
        return _device_type("cuda", self._backend.device_id)

    @property
    def cuda_stream(self) -> int:
        """The raw ``cudaStream_t`` as an integer (0: the default stream)."""
        return int(self._raw.ptr)

    ptr = cuda_stream

    def query(self) -> bool:
        """Whether all work queued on the stream has finished."""
        if self._backend.emulated:
            return self._raw.query()
        return bool(self._raw.done)

    def synchronize(self) -> None:
        self._raw.synchronize()

    def wait_event(self, event: "Event") -> None:
        """Work queued on this stream from now on waits for ``event`` (nothing waits on the host)."""
        event._check_device(self)
        if event._raw is None:
            return  # an event never recorded: nothing to wait for, as in CUDA
        self._raw.wait_event(event._raw)

    def wait_stream(self, stream: "Stream") -> None:
        """Work queued on this stream from now on waits for all work queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event: "Event | None" = None) -> "Event":
        event = Event() if event is None else event
        event.record(self)
        return event

    def __enter__(self) -> "Stream":
        """``with s:`` is ``with fastnn.cuda.stream(s):``."""
        ctx = StreamContext(self)
        self.__dict__.setdefault("_contexts", []).append(ctx)
        return ctx.__enter__()

    def __exit__(self, *exc) -> bool:
        return self._contexts.pop().__exit__(*exc)

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self.device == other.device and self.cuda_stream == other.cuda_stream

    def __hash__(self) -> int:
        return hash((self._backend.device_id, self.cuda_stream))

    def __repr__(self) -> str:
        return f"<fastnn.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """``torch.cuda.Event(enable_timing=False, blocking=False, interprocess=False)``: a marker in a stream's
    work; ``elapsed_time(end)`` is in milliseconds (host clock at record time on the emulated device)."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False) -> None:
        self.enable_timing = bool(enable_timing)
        self.blocking = bool(blocking)
        self.interprocess = bool(interprocess)
        self._raw = None  # created on the first record, on that stream's device (as torch does)
        self._backend = None

    @property
    def device(self):
        return None if self._backend is None else _device_type("cuda", self._backend.device_id)

    @property
    def cuda_event(self) -> int:
        return 0 if self._raw is None or self._backend.emulated else int(self._raw.ptr)

    def _check_device(self, stream: Stream) -> None:
        if self._backend is not None and self._backend is not stream._backend:
            raise RuntimeError(f"Event device {self.device} does not match recording stream's device "
                               f"{stream.device}.")

    def record(self, stream: Stream | None = None) -> None:
        """Records the event on ``stream`` (the current stream by default)."""
        stream = current_stream() if stream is None else stream
        self._check_device(stream)
        if self._raw is None:
            self._backend = stream._backend
            self._raw = _raw.new_event(self._backend, self.enable_timing, self.blocking, self.interprocess)
        _raw.record(self._backend, self._raw, stream._raw)

    def wait(self, stream: Stream | None = None) -> None:
        """Makes ``stream`` (the current one by default) wait for this event."""
        stream = current_stream() if stream is None else stream
        stream.wait_event(self)

    def query(self) -> bool:
        """Whether the work before the last record has finished (True for an event never recorded)."""
        return True if self._raw is None else _raw.event_query(self._backend, self._raw)

    def synchronize(self) -> None:
        """Waits on the host for the work before the last record (nothing for an event never recorded)."""
        if self._raw is not None:
            self._raw.synchronize()

    def elapsed_time(self, end_event: "Event") -> float:
        """Milliseconds from this event's record to ``end_event``'s (both recorded, both with timing)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        if self._raw is None or end_event._raw is None:
            raise RuntimeError("Both events must be recorded before calculating elapsed time.")
        if self._backend is not end_event._backend:
            raise RuntimeError("Both events must be recorded on the same device.")
        return _raw.elapsed_ms(self._backend, self._raw, end_event._raw)

    def __repr__(self) -> str:
        return f"<fastnn.cuda.Event {'recorded' if self._raw is not None else 'uninitialized'}>"


def current_stream(device=None) -> Stream:
    """The stream kernels on ``device`` (the current device by default) are queued on now."""
    be = _be(device)
    return Stream._of(be, _raw.current(be))


def default_stream(device=None) -> Stream:
    be = _be(device)
    return Stream._of(be, _raw.default(be))


def set_stream(stream: Stream | None) -> None:
    """Makes ``stream`` its device's current stream (None: nothing changes, as in torch)."""
    if stream is None:
        return
    _raw.set_current(stream._backend, stream._raw)


class StreamContext:
    """``with fastnn.cuda.stream(s):`` ``s`` is the current stream of its device, which is the current device,
    for the block (None: nothing changes)."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream
        self._device = None

    def __enter__(self):
        s = self.stream
        if s is None:
            return None
        from . import cuda as _cuda

        self._device = _cuda.device(s._backend.device_id)
        self._device.__enter__()
        with s._backend.device_guard():
            s._raw.__enter__()
        return s

    def __exit__(self, *exc) -> bool:
        s = self.stream
        if s is None:
            return False
        with s._backend.device_guard():
            s._raw.__exit__(*exc)
        self._device.__exit__(*exc)
        return False


def stream(stream: Stream | None) -> StreamContext:
    return StreamContext(stream)


__all__ = ["Event", "Stream", "StreamContext", "current_stream", "default_stream", "set_stream", "stream"]
