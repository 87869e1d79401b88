"""LayerNorm, GroupNorm, RMSNorm (BatchNorm lives in batchnorm.py, InstanceNorm in instancenorm.py)."""
from __future__ import annotations

import numbers

from .. import creation, dtypes
from ..ops.normalization import layer_norm
from ..ops.group_norm import group_norm, local_response_norm, rms_norm
from . import init
from .module import Module
from .parameter import Parameter


def _affine_parameters(module: Module, shape, affine: bool, bias: bool, dtype, device) -> None:
    """The normalisations' optional ``weight`` (ones) and ``bias`` (zeros) of ``shape``, registered as None
    when absent (torch's state_dict keys either way), then initialised by the module's reset_parameters."""
    dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
    module.register_parameter("weight", Parameter(creation.empty(shape, dtype=dt, device=device)) if affine else None)
    module.register_parameter("bias", Parameter(creation.empty(shape, dtype=dt, device=device))
                              if affine and bias else None)
    module.reset_parameters()


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
                f", bias={self.bias is not None}")


class GroupNorm(Module):
    """torch.nn.GroupNorm: statistics per sample over groups of num_channels / num_groups channels (the
    group_norm op: the layer norm row kernel), per-channel weight (ones) and bias (zeros) when affine."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """torch.nn.RMSNorm: x / sqrt(mean(x²) + eps) over the trailing normalized_shape dims, times a weight (ones)
    when elementwise_affine; eps=None means torch.finfo(input.dtype).eps."""

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        if elementwise_affine:
            self.weight = Parameter(creation.empty(self.normalized_shape, dtype=dt, device=device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """torch.nn.LocalResponseNorm over ops.group_norm.local_response_norm."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
