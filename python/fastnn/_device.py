"""Where a tensor's data lives: NumPy arrays are 'cpu', CuPy arrays 'cuda:N'."""
from __future__ import annotations


class device:
    __slots__ = ("type", "index")

    def __init__(self, spec, index: int | None = None):
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        text = str(spec)
        kind, _, idx = text.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"Expected one of cpu, cuda device type at start of device string: {text}")
        self.type = kind
        self.index = int(idx) if idx else index
        if kind == "cpu" and self.index not in (None, 0):
            raise ValueError(f"invalid CPU device index in {text!r}")

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        try:
            other = device(other)
        except (ValueError, TypeError):
            return False
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self) -> int:
        return hash((self.type, self.index or 0))


CPU = device("cpu")

