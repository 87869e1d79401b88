"""Optimizers (``torch.optim``-compatible) over fused native multi-tensor updates."""
from . import _functional
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
from . import lr_scheduler  # noqa: E402  (after Optimizer: schedulers check against it)

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
