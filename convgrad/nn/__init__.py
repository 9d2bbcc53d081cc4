"""Neural network layers (``Module`` and friends), PyTorch's ``torch.nn``."""

from convgrad.nn import functional, init, utils
from convgrad.nn.modules import *
from convgrad.nn.modules import Module, RemovableHandle
from convgrad.nn.parameter import Buffer, Parameter
