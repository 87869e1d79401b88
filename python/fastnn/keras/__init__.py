"""fastnn.keras: Keras' API (Sequential / functional Model, layers, compile / fit / evaluate / predict,
callbacks) on fastnn's modules, autograd and native kernels. A Keras program runs by changing its imports
from ``tensorflow.keras`` to ``fastnn.keras``."""
from __future__ import annotations

from . import activations, callbacks, distribution, initializers, layers, losses, metrics, models, optimizers, utils
from . import ops
from .layers import Input
from .models import Model, Sequential, load_model
from . import constraints, regularizers
from . import dtype_policies, mixed_precision  # noqa: E402,F401 - Keras' dtype policies
from .dtype_policies import DTypePolicy  # noqa: E402,F401 - keras.DTypePolicy
from .losses import Loss  # noqa: E402,F401 - keras.Loss
from . import random
from .device_scope import device  # noqa: E402,F401 - keras.device(name) scopes
from .initializers import Initializer
from .optimizers import Optimizer
from .metrics import Metric  # noqa: E402,F401 - keras.Metric
