"""nn.Bilinear over ops.bilinear: weight (out, in1, in2) and bias (out) drawn from U(-1/√in1, 1/√in1), as torch."""
from __future__ import annotations

import math

from .. import creation, dtypes
from ..ops.bilinear import bilinear
from . import init
from .module import Module
from .parameter import Parameter


class Bilinear(Module):
    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        self.weight = Parameter(creation.empty(out_features, in1_features, in2_features, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_features, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={self.in1_features})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
