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
from .preprocessing import CategoryEncoding, Discretization, Normalization, Rescaling
from .preprocessing import HashedCrossing, Hashing
from .preprocessing import IntegerLookup, StringLookup
from .preprocessing import TextVectorization
from .preprocessing import (CenterCrop, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                            RandomTranslation, RandomZoom, Resizing)
from .preprocessing import Pipeline
from .preprocessing import AutoContrast, RandomGrayscale, RandomInvert, RandomShear, Solarization
from .preprocessing import RandomColorDegeneration, RandomPosterization, RandomSharpness
from .preprocessing import RandomHue, RandomSaturation
from .preprocessing import RandomColorJitter, RandomGaussianBlur
from .preprocessing import Equalization, RandomErasing
from .preprocessing import CutMix, MixUp, RandAugment
from .preprocessing import RandomPerspective

from .reshaping_nd import (Cropping1D, Cropping2D, Cropping3D, Permute, UpSampling1D, UpSampling3D, ZeroPadding1D,
                           ZeroPadding2D, ZeroPadding3D)
from .regularization import (ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                             SpatialDropout2D, SpatialDropout3D)
from .core_more import EinsumDense, Identity, Lambda, Masking
from .serialization import deserialize, serialize
from .wrappers import TimeDistributed, Wrapper
from .dot import Dot, dot
from .activation_layers_more import ELU, PReLU, Softmax
from .normalization_more import GroupNormalization, RMSNormalization, SpectralNormalization, UnitNormalization
from .attention_additive import AdditiveAttention
from .embedding_reversible import ReversibleEmbedding
from .input_spec import InputSpec
from .attention_grouped import GroupedQueryAttention, GroupQueryAttention
from .conv_extra import (Conv1DTranspose, Conv3D, Conv3DTranspose, Convolution1DTranspose, Convolution3D,
                         Convolution3DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
                         SeparableConvolution1D, SeparableConvolution2D)
from .pooling_extra import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D, AdaptiveAveragePooling3D,
                            AdaptiveMaxPooling1D, AdaptiveMaxPooling2D, AdaptiveMaxPooling3D, AveragePooling1D,
                            AveragePooling3D, AvgPool1D, AvgPool3D, GlobalAveragePooling3D, GlobalAvgPool3D,
                            GlobalMaxPool3D, GlobalMaxPooling3D, MaxPool1D, MaxPool3D, MaxPooling1D, MaxPooling3D)
from .rnn_cells import RNN, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D

Convolution2D = Conv2D  # Keras' alias
from .module_wrapper import TorchModuleWrapper  # noqa: E402
