"""The composite backend: every kernel of the table written with ``self.xp`` calls only.

It is the readable reference beside each fast kernel and the day-one implementation of any new device:
a backend subclasses ``CompositeBackend`` and overrides what it has native code for. One mixin per
kernel family, one file each, named as the CPU twins in ``backend/cpu/``.
"""
from __future__ import annotations

import numpy as np

from ... import random as _random
from ..base import Backend
from .activation import ActivationKernels
from .attention import AttentionKernels
from .batchnorm import BatchNormKernels
from .conv import ConvKernels
from .linalg import LinalgKernels
from .nn import NNKernels
from .optim import OptimKernels
from .pool import PoolKernels
from .rnn import RNNKernels
from .sparse import SparseKernels


class CompositeBackend(LinalgKernels, NNKernels, BatchNormKernels, PoolKernels, AttentionKernels, ConvKernels,
                       RNNKernels, OptimKernels, SparseKernels, ActivationKernels, Backend):
    name = "composite"
    xp = np
    # Bound straight to NumPy's: the base class's lookup-and-forward wrapper costs ~0.1 us per call, and
    # exp, log, div and pow enter one on every call.
    errstate = staticmethod(xp.errstate)

    def generator(self):
        # the module, not its generator: manual_seed replaces the generator object (and an import statement
        # here would cost ~2 us on every random tensor)
        return _random.generator()

    def to_host(self, arr):
        return arr

    def from_host(self, arr):
        return arr
