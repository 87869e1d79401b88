"""fastnn.nn: PyTorch-style modules, containers, initialisers and the functional forms."""
from __future__ import annotations

from . import functional, init
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import Dropout, Dropout2d
from .linear import Identity, Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Buffer, Parameter
from .rnn import GRU, LSTM, RNN, RNNBase
from .rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .shape import Flatten, Unflatten
