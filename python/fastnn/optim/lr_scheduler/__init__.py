"""Learning-rate schedulers (``torch.optim.lr_scheduler``-compatible): same names, arguments, recursive
formulas, state_dict layout and warnings, so lr trajectories match torch's step for step."""
from .basic import (ConstantLR, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR, MultiStepLR,
                    StepLR)
from .composite import ChainedScheduler, SequentialLR
from .one_cycle import OneCycleLR
from .plateau import ReduceLROnPlateau
from .scheduler import EPOCH_DEPRECATION_WARNING, LRScheduler, _LRScheduler

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "EPOCH_DEPRECATION_WARNING", "ExponentialLR",
           "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR", "_LRScheduler"]
