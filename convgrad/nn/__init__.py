"""Neural network layers (``Module`` and friends), PyTorch's ``torch.nn``."""

from convgrad.nn import functional, init, parallel, utils
from convgrad.nn.modules import *
from convgrad.nn.modules import Module, RemovableHandle
from convgrad.nn.parallel import DataParallel
from convgrad.nn.parameter import Buffer, Parameter
