"""torch.distributions: Normal, Categorical, OneHotCategorical, Bernoulli, Uniform, MultivariateNormal,
Independent and kl_divergence, sampling from fastnn's generator (``fastnn.manual_seed`` reproduces draws;
the streams differ from torch's). ``rsample`` is reparameterised: gradients reach the parameters."""
from __future__ import annotations

from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "MultivariateNormal", "Normal",
           "OneHotCategorical", "Uniform", "constraints", "kl_divergence", "register_kl"]
