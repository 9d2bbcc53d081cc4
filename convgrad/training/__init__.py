"""Training without writing the loop: :func:`fit` / :class:`Trainer`, callbacks, checkpoints, metrics."""

from convgrad.training.callbacks import (  # noqa: F401
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    NonFiniteLossError,
    StopOnNaN,
)
from convgrad.training.checkpoint import (  # noqa: F401
    CheckpointError,
    best_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from convgrad.training.metrics import RunningMetrics, accuracy, confusion_matrix, topk_correct  # noqa: F401
from convgrad.training.trainer import Trainer, fit  # noqa: F401
