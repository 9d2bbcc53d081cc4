"""PyTorch's ``torch.nn.functional``: the ops of ``convgrad.functional``."""

from convgrad import _unsupported
from convgrad.functional import *  # noqa: F401,F403


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torch.nn.functional", __name__, name)
