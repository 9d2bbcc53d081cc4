"""PyTorch's ``torch.nn.functional``: the ops of ``convgrad.functional``."""

from convgrad.functional import *  # noqa: F401,F403
