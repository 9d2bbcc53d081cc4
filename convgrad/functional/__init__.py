"""The CNN operations of the lectures, one family per file (forward and backward side by side).
``convgrad.nn.functional`` is this module, under PyTorch's name."""

from convgrad.functional.activation import *  # noqa: F401,F403
from convgrad.functional.adaptive_pooling import *  # noqa: F401,F403
from convgrad.functional.convolution import *  # noqa: F401,F403
from convgrad.functional.dropout import *  # noqa: F401,F403
from convgrad.functional.fused import *  # noqa: F401,F403
from convgrad.functional.loss import *  # noqa: F401,F403
from convgrad.functional.misc import *  # noqa: F401,F403
from convgrad.functional.normalization import *  # noqa: F401,F403
from convgrad.functional.pooling import *  # noqa: F401,F403
from convgrad.functional.smooth_activation import *  # noqa: F401,F403
