"""``torch.utils.dlpack``: ``to_dlpack`` (a tensor's DLPack capsule) and ``from_dlpack`` (a tensor sharing the
memory of a DLPack producer or of a capsule), zero-copy both ways, on the CPU and on CUDA devices."""
from __future__ import annotations

from ..backend.dlpack import capsule_device, is_capsule
from ..creation import from_dlpack as _from_dlpack


def to_dlpack(tensor):
    """The DLPack capsule of ``tensor``'s memory (consumed once, by whoever imports it)."""
    return tensor.__dlpack__()


class _Capsule:
    """A bare DLPack capsule presented as a producer (its device read from the struct it holds)."""

    def __init__(self, capsule) -> None:
        self._device = capsule_device(capsule)  # BufferError for a used capsule
        self._capsule = capsule

    def __dlpack_device__(self):
        return self._device

    def __dlpack__(self, **kwargs):
        capsule, self._capsule = self._capsule, None
        if capsule is None:
            raise BufferError("from_dlpack: a DLPack capsule can be consumed only once")
        return capsule


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of ``ext_tensor``: any object with ``__dlpack__`` (a NumPy or CuPy array,
    a torch tensor) or a DLPack capsule, on the producer's device."""
    if is_capsule(ext_tensor):
        ext_tensor = _Capsule(ext_tensor)
    return _from_dlpack(ext_tensor)


__all__ = ["from_dlpack", "to_dlpack"]
