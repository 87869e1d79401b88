"""Dropout modules: active in train mode, the identity in eval mode."""
from __future__ import annotations

from ..ops.dropout import _check_p, dropout, dropout2d
from .module import Module


class Dropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _check_p(p)
        self.inplace = inplace

    def forward(self, input):
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    def forward(self, input):
        return dropout2d(input, self.p, self.training, self.inplace)
