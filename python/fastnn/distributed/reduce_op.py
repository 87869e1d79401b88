"""torch.distributed.ReduceOp: the reductions a collective may apply, by torch's names."""
from __future__ import annotations

import enum

__all__ = ["ReduceOp"]


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"  # SUM, then a division by the group's size once the data has arrived
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


# torch.distributed.reduce_op: the deprecated alias old programs still use.
reduce_op = ReduceOp
