"""Optimizers (``torch.optim``-compatible) over fused native multi-tensor updates."""
from . import _functional
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "SGD"]
