"""Neural network layers (``Module`` and friends), PyTorch's ``torch.nn``."""

from convgrad.nn import (
    functional,  # noqa: F401
    init,  # noqa: F401
    utils,  # noqa: F401,E402
)
from convgrad.nn.modules import *  # noqa: F401,F403
from convgrad.nn.modules import Module  # noqa: F401
from convgrad.nn.parameter import Buffer, Parameter  # noqa: F401
