"""Classification metrics computed on NumPy arrays of logits and labels (no graph, no float64 copies of
the activations): top-k accuracy, running averages over an epoch, and the confusion matrix."""

import numpy as np


def _array(x):
    """A tensor's (detached) NumPy array, or the argument as an array."""
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)


def topk_correct(logits, target, ks=(1, 5)):
    """How many rows of ``logits`` (N, C) have ``target`` (N,) among their k largest scores, per k.

    A k larger than C counts every row; ties are broken by position, as ``argsort`` does."""
    logits, target = _array(logits), _array(target).reshape(-1)
    if logits.ndim != 2:
        logits = logits.reshape(logits.shape[0], -1)
    n, c = logits.shape
    if target.shape[0] != n:
        raise ValueError(f"topk_correct: {n} rows of logits but {target.shape[0]} targets")
    kmax = min(max(ks), c)
    if kmax == 1:
        hits = logits.argmax(1) == target
        return {k: int(hits.sum()) for k in ks}
    # indices of the kmax largest scores, best first: (N, kmax)
    top = np.argpartition(-logits, kmax - 1, axis=1)[:, :kmax]
    order = np.argsort(-np.take_along_axis(logits, top, 1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, 1)
    match = top == target[:, None]
    return {k: int(match[:, : min(k, c)].any(1).sum()) for k in ks}


def accuracy(logits, target, topk=(1,)):
    """Top-k accuracies (fractions in [0, 1]) of ``logits`` against integer ``target``; one per k."""
    n = max(_array(target).reshape(-1).shape[0], 1)
    hits = topk_correct(logits, target, topk)
    out = [hits[k] / n for k in topk]
    return out[0] if len(out) == 1 else out


def confusion_matrix(pred, target, num_classes=None):
    """(C, C) integer matrix whose entry [t, p] counts samples of true class t predicted as p."""
    pred, target = _array(pred).reshape(-1).astype(np.int64), _array(target).reshape(-1).astype(np.int64)
    if num_classes is None:
        num_classes = int(max(pred.max(initial=-1), target.max(initial=-1)) + 1)
    counts = np.bincount(target * num_classes + pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


class RunningMetrics:
    """Sums of loss and top-k hits over the batches of an epoch; ``state_dict`` lets a run resumed in the
    middle of an epoch report the same epoch averages as an uninterrupted one."""

    def __init__(self, topk=(1, 5)):
        self.topk = tuple(topk)
        self.reset()

    def reset(self):
        self.loss_sum = 0.0
        self.count = 0
        self.num_classes = 0
        self.correct = {k: 0 for k in self.topk}

    def update(self, loss_value, logits=None, target=None):
        """Add a batch: its mean loss and, for classification, its logits and labels."""
        if target is None or logits is None:
            n = 1
        else:
            t = _array(target)
            n = int(t.shape[0]) if t.ndim else 1
            la = _array(logits)
            # top-k accuracy needs class scores (N, C) and integer labels (N,)
            if self.correct and la.ndim == 2 and t.ndim == 1 and t.dtype.kind in "iu":
                self.num_classes = max(self.num_classes, la.shape[1])
                for k, v in topk_correct(la, t, self.topk).items():
                    self.correct[k] += v
            else:  # not a classification batch: report the loss only
                self.correct = {}
        self.loss_sum += float(loss_value) * n
        self.count += n

    @property
    def loss(self):
        return self.loss_sum / self.count if self.count else float("nan")

    def acc(self, k=1):
        # top-k with k >= the number of classes is always 1: not worth reporting
        if k not in self.correct or not self.count or (k > 1 and k >= self.num_classes):
            return None
        return self.correct[k] / self.count

    def summary(self, prefix=""):
        """``{prefix+"loss": ..., prefix+"acc": ..., prefix+"top5": ...}`` (accuracies only when known)."""
        out = {prefix + "loss": self.loss}
        for k in self.topk:
            a = self.acc(k)
            if a is not None:
                out[prefix + ("acc" if k == 1 else f"top{k}")] = a
        return out

    def state_dict(self):
        return {"loss_sum": self.loss_sum, "count": self.count, "num_classes": self.num_classes,
                "correct": {str(k): v for k, v in self.correct.items()}}

    def load_state_dict(self, state):
        self.loss_sum = float(state["loss_sum"])
        self.count = int(state["count"])
        self.num_classes = int(state.get("num_classes", 0))
        self.correct = {int(k): int(v) for k, v in state["correct"].items()}
