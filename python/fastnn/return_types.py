"""Named-tuple results of the ops that return several tensors, as ``torch.return_types``.

Each type is a tuple (it unpacks, indexes and compares as one: ``values, indices = x.sort()``) whose fields
are also attributes (``x.sort().indices``), and prints as torch's do::

    fastnn.return_types.sort(
    values=tensor([1., 2.]),
    indices=tensor([1, 0]))

``structseq(name, fields)`` makes a new one; an op family that needs a result type PyTorch has declares it
here, once, so every op returning it shares the class (``isinstance(r, fastnn.return_types.max)``)."""
from __future__ import annotations

from collections import namedtuple

__all__ = ["structseq", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "max", "min"]


def structseq(name: str, fields: tuple[str, ...]) -> type:
    """A tuple type named ``fastnn.return_types.<name>`` with ``fields`` as attributes."""
    base = namedtuple(name, fields)

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"fastnn.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__,
                               "n_fields": len(fields), "n_sequence_fields": len(fields),
                               "n_unnamed_fields": 0})
    cls.__qualname__ = name
    return cls


_VI = ("values", "indices")
sort = structseq("sort", _VI)
topk = structseq("topk", _VI)
kthvalue = structseq("kthvalue", _VI)
median = structseq("median", _VI)
nanmedian = structseq("nanmedian", _VI)
mode = structseq("mode", _VI)
max = structseq("max", _VI)  # noqa: A001  (torch.return_types.max)
min = structseq("min", _VI)  # noqa: A001
