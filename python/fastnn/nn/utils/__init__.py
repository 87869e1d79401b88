"""fastnn.nn.utils: gradient clipping, parameter <-> vector conversion, and L1/L2 weight penalties."""
from __future__ import annotations

from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .penalties import l1_penalty, l2_penalty
from . import rnn  # noqa: E402  (torch.nn.utils.rnn's module path)

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "l1_penalty", "l2_penalty", "parameters_to_vector", "vector_to_parameters"]
