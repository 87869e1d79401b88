"""fastnn.nn: PyTorch-style modules, containers, initialisers and the functional forms."""
from __future__ import annotations

from . import functional, init, utils
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .attention import MultiheadAttention
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv2d
from .dropout import Dropout, Dropout2d
from .linear import Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, MultiMarginLoss, NLLLoss, SmoothL1Loss)
from .module import Module
from .normalization import LayerNorm
from .parameter import Buffer, Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .rnn import GRU, LSTM, RNN, RNNBase
from .rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .shape import Flatten, Unflatten
from .sparse import Embedding
from .transformer import TransformerEncoder, TransformerEncoderLayer
from .activation import (CELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, PReLU,
                         RReLU, Softmax2d, Softmin, Softshrink, Softsign, Tanhshrink, Threshold)
from .loss import (CosineEmbeddingLoss, GaussianNLLLoss, MarginRankingLoss, MultiLabelMarginLoss,
                   MultiLabelSoftMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss,
                   TripletMarginWithDistanceLoss)
from .distance import CosineSimilarity, PairwiseDistance
from .transformer_decoder import Transformer, TransformerDecoder, TransformerDecoderLayer
from .conv import Conv1d, ConvTranspose1d, ConvTranspose2d
from .normalization import GroupNorm, LocalResponseNorm, RMSNorm
from .instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .batchnorm import BatchNorm3d
from .pooling import MaxUnpool1d, MaxUnpool2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, LPPool1d, LPPool2d,
                      MaxPool1d)
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .fold import Fold, Unfold
from .bilinear import Bilinear
from .padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                      ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d)
from .dropout_variants import AlphaDropout, Dropout1d, Dropout3d, FeatureAlphaDropout
from .embedding_bag import EmbeddingBag
from .loss_ctc import CTCLoss  # noqa: E402
from . import parallel  # noqa: E402  (torch.nn.parallel: DistributedDataParallel, DataParallel)
from .parallel import DataParallel  # noqa: E402
from . import modules  # noqa: E402  (torch.nn.modules as a module path; last: it reads this package)
