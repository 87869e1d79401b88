"""Keras layers on fastnn modules."""
from __future__ import annotations

from .base import Input, InputLayer, KerasTensor, Layer
from .core import Activation, Dense, Dropout, Flatten, Reshape
from .conv import Conv2D
from .embedding import Embedding
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D,
                      GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from .recurrent import GRU, LSTM, SimpleRNN
from .attention import Attention, MultiHeadAttention
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, maximum,
                    minimum, multiply, subtract)

from .activation_layers import LeakyReLU, ReLU
from .reshaping import RepeatVector, UpSampling2D
from .pooling1d import GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPool1D, GlobalMaxPooling1D
from .conv_more import Conv1D, Conv2DTranspose, Convolution1D, Convolution2DTranspose
from .bidirectional import Bidirectional

Convolution2D = Conv2D  # Keras' alias
from .module_wrapper import TorchModuleWrapper  # noqa: E402
