"""Neural network layers (``Module`` and friends), PyTorch's ``torch.nn``."""

from convgrad import _unsupported
from convgrad.nn import functional, init, parallel, utils
from convgrad.nn.modules import *
from convgrad.nn.modules import Module, RemovableHandle
from convgrad.nn.parallel import DataParallel
from convgrad.nn.parameter import Buffer, Parameter


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torch.nn", __name__, name)
