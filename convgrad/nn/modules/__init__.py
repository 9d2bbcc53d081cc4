"""The layers of ``convgrad.nn``."""

from convgrad.nn.modules.activation import (  # noqa: F401
    CELU,
    ELU,
    GELU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from convgrad.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
from convgrad.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
from convgrad.nn.modules.dropout import Dropout, Dropout1d, Dropout2d  # noqa: F401
from convgrad.nn.modules.extra import (  # noqa: F401
    GLU,
    Bilinear,
    ChannelShuffle,
    CosineSimilarity,
    Fold,
    PairwiseDistance,
    RReLU,
    Unfold,
)
from convgrad.nn.modules.flatten import Flatten, Unflatten  # noqa: F401
from convgrad.nn.modules.linear import Identity, Linear  # noqa: F401
from convgrad.nn.modules.loss import (  # noqa: F401
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from convgrad.nn.modules.module import Module, RemovableHandle  # noqa: F401
from convgrad.nn.modules.normalization import (  # noqa: F401
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
)
from convgrad.nn.modules.padding import (  # noqa: F401
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from convgrad.nn.modules.pooling import (  # noqa: F401
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
)
from convgrad.nn.modules.syncbatchnorm import SyncBatchNorm  # noqa: F401
from convgrad.nn.modules.upsampling import (  # noqa: F401
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ = [name for name, value in list(globals().items()) if isinstance(value, type)]
