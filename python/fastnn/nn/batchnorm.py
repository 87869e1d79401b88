"""BatchNorm1d and BatchNorm2d over the batch_norm op, with torch's buffers: running_mean (zeros),
running_var (ones) and num_batches_tracked (an int64 scalar), so torch state_dicts load unchanged."""
from __future__ import annotations

from .. import creation, dtypes
from ..ops.batchnorm import batch_norm
from . import init
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        if affine:
            self.weight = Parameter(creation.empty(num_features, dtype=dt, device=device))
            if bias:
                self.bias = Parameter(creation.empty(num_features, dtype=dt, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dt, device=device))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dt, device=device))
            self.register_buffer("num_batches_tracked", creation.zeros((), dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._write(..., 0)
            self.running_var._write(..., 1)
            self.num_batches_tracked._write(..., 0)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input) -> None:
        raise NotImplementedError

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data[...] += 1
            self.num_batches_tracked._written()
            if self.momentum is None:  # cumulative moving average: the n-th batch weighs 1/n
                factor = 1.0 / float(self.num_batches_tracked._data)
        # Batch statistics in training mode, and in eval mode when no running statistics are kept.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # Running buffers are passed only where they are read (eval) or updated (training with tracking).
        pass_buffers = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if pass_buffers else None,
                          self.running_var if pass_buffers else None, self.weight, self.bias, use_batch_stats,
                          factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) input: statistics per channel C."""

    def _check_input_dim(self, input) -> None:
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) input: statistics per channel C."""

    def _check_input_dim(self, input) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Over (N, C, D, H, W) input: statistics per channel C."""

    def _check_input_dim(self, input) -> None:
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")
