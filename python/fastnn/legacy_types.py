"""torch's legacy tensor types: ``FloatTensor``, ``LongTensor`` ... as constructors and isinstance checks.

In PyTorch ``torch.FloatTensor(2, 3)`` allocates a float32 CPU tensor, ``torch.LongTensor([1, 2])`` converts
data, and ``isinstance(t, torch.FloatTensor)`` is True exactly for float32 CPU tensors. Here each name is a
class whose metaclass makes the call build a plain ``Tensor`` of its dtype and answers isinstance by dtype
and device (a Tensor is never an instance of the class itself, so nothing else has to know these exist).
``Tensor.type()`` returns these names with torch's ``torch.`` prefix (see ``type_name``).
"""
from __future__ import annotations

from . import dtypes
from ._tensor import Tensor

# dtype -> the legacy name's stem, in torch's spelling
_STEMS = {dtypes.float32: "Float", dtypes.float64: "Double", dtypes.float16: "Half", dtypes.int64: "Long",
          dtypes.int32: "Int", dtypes.int16: "Short", dtypes.int8: "Char", dtypes.uint8: "Byte",
          dtypes.bool_: "Bool"}


class _LegacyTensorType(type):
    """The metaclass: calling the class constructs, isinstance checks dtype and device."""

    dtype: dtypes.dtype

    def __call__(cls, *args, device=None):
        from .creation import empty, tensor

        if not args:
            return empty(0, dtype=cls.dtype, device=device)
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args) or (
                len(args) == 1 and type(args[0]).__name__ == "Size"):
            return empty(*args, dtype=cls.dtype, device=device)  # sizes (torch leaves them uninitialised)
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}(): expected sizes or one sequence of data, got {len(args)} arguments")
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype is not cls.dtype:
                raise TypeError(f"expected {cls.dtype!r} (got {data.dtype!r})")  # torch's legacy constructor
            return data
        return tensor(data, dtype=cls.dtype, device=device)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __repr__(cls) -> str:
        return f"<class 'fastnn.{cls.__name__}'>"


def _make(stem: str, dt: dtypes.dtype):
    return _LegacyTensorType(stem + "Tensor", (), {"dtype": dt, "__module__": "fastnn",
                                                    "__doc__": f"{dt!r} CPU tensors (torch.{stem}Tensor)."})


FloatTensor = _make("Float", dtypes.float32)
DoubleTensor = _make("Double", dtypes.float64)
HalfTensor = _make("Half", dtypes.float16)
LongTensor = _make("Long", dtypes.int64)
IntTensor = _make("Int", dtypes.int32)
ShortTensor = _make("Short", dtypes.int16)
CharTensor = _make("Char", dtypes.int8)
ByteTensor = _make("Byte", dtypes.uint8)
BoolTensor = _make("Bool", dtypes.bool_)

_BY_NAME = {}
for _dt, _stem in _STEMS.items():
    _BY_NAME[f"torch.{_stem}Tensor"] = _dt
    _BY_NAME[f"fastnn.{_stem}Tensor"] = _dt


def type_name(t: Tensor) -> str:
    """``t.type()``: torch's exact string ('torch.FloatTensor'), since programs compare against and pass back
    torch's strings; a CUDA tensor is 'torch.cuda.FloatTensor' as in torch."""
    stem = _STEMS[t.dtype]
    return f"torch.cuda.{stem}Tensor" if t.device.type == "cuda" else f"torch.{stem}Tensor"


def resolve(spec) -> dtypes.dtype:
    """The dtype ``t.type(spec)`` casts to: a dtype, a legacy class or its name."""
    if isinstance(spec, _LegacyTensorType):
        return spec.dtype
    if isinstance(spec, str):
        if spec in _BY_NAME:
            return _BY_NAME[spec]
        raise ValueError(f"invalid type: '{spec}'")
    return dtypes.to_dtype(spec)
