"""Linear and Identity."""
from __future__ import annotations


from .. import creation, dtypes
from ..ops.linalg import linear
from . import init
from .module import Module
from .parameter import Parameter


def _factory_dtype(dtype):
    return dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float


class Identity(Module):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x Wᵀ + b with weight (out_features, in_features), initialised as torch: kaiming-uniform with
    a=√5 (bound 1/√in) for the weight, U(-1/√in, 1/√in) for the bias."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: feature counts must be non-negative, got {in_features}, {out_features}")
        self.in_features = in_features
        self.out_features = out_features
        dt = _factory_dtype(dtype)
        self.weight = Parameter(creation.empty(out_features, in_features, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_features, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_weight_and_bias_(self.weight, self.bias)

    def forward(self, input):
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
