"""Optimisers and learning-rate schedules, PyTorch's ``torch.optim``."""

from convgrad import _unsupported
from convgrad.optim import lr_scheduler  # noqa: F401
from convgrad.optim.adadelta import Adadelta  # noqa: F401
from convgrad.optim.adagrad import Adagrad  # noqa: F401
from convgrad.optim.adam import Adam, AdamW  # noqa: F401
from convgrad.optim.optimizer import Optimizer  # noqa: F401
from convgrad.optim.rmsprop import RMSprop  # noqa: F401
from convgrad.optim.sgd import SGD  # noqa: F401


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torch.optim", __name__, name)
