"""Padding modules (ConstantPad1d-3d, ZeroPad1d-3d, ReflectionPad1d-3d, ReplicationPad1d-3d, CircularPad1d-3d)
over torch.nn.functional.pad (fastnn.ops.padding.pad), with torch's stored ``padding`` tuples and reprs."""
from __future__ import annotations

import numbers

from ..ops.padding import pad
from .module import Module


def _ntuple(padding, n: int):
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * n
    return tuple(padding)


def _pad(input, padding, mode, value=None):
    return pad(input, padding, mode, value)


class _ConstantPadNd(Module):
    _nd = 1

    def __init__(self, padding, value: float) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._nd)
        self.value = value

    def forward(self, input):
        return _pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    _nd = 3


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ModePadNd(Module):
    _nd = 1
    _mode = "reflect"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._nd)

    def forward(self, input):
        return _pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _CircularPadNd(_ModePadNd):
    _mode = "circular"

    def forward(self, input):
        # torch's CircularPad modules check the rank themselves (F.pad's message names the combinations)
        if input.dim() not in (self._nd + 1, self._nd + 2):
            raise ValueError(f"expected {self._nd + 1}D or {self._nd + 2}D input (got {input.dim()}D input)")
        return super().forward(input)


class ReflectionPad1d(_ModePadNd):
    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_ModePadNd):
    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_ModePadNd):
    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_ModePadNd):
    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_ModePadNd):
    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_ModePadNd):
    _nd, _mode = 3, "replicate"


class CircularPad1d(_CircularPadNd):
    _nd = 1


class CircularPad2d(_CircularPadNd):
    _nd = 2


class CircularPad3d(_CircularPadNd):
    _nd = 3
