"""What every experiment shares: seeded data (MNIST, MNIST-1D) as NumPy arrays, a plain training loop,
accuracy, and the Markdown report with its header (command, seed, versions, machine, wall time)."""

import os
import platform
import sys
import time

import numpy as np

import convgrad
from convgrad.nn import functional as F

# MNIST's usual normalisation constants (mean and std of the training pixels)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_MNIST = {}


def seed_all(seed):
    """Seed convgrad's generator and return a NumPy generator for batch order and data subsets."""
    convgrad.manual_seed(seed)
    return np.random.default_rng(seed)


def load_mnist(n_train, n_test, rng, root=None):
    """``n_train`` training and ``n_test`` test images drawn without replacement: float32 ``(N, 1, 28, 28)``
    normalised with MNIST's mean and std, and int64 labels."""
    from convgrad.vision.datasets import MNIST

    root = root or os.path.join(os.path.expanduser("~"), ".cache", "convgrad")
    out = []
    for train, n in ((True, n_train), (False, n_test)):
        if (root, train) not in _MNIST:  # decoding takes seconds: once per process
            ds = MNIST(root, train=train)
            _MNIST[root, train] = ds.data.numpy(), ds.targets.numpy()
        images, labels = _MNIST[root, train]
        idx = np.sort(rng.choice(len(labels), size=min(n, len(labels)), replace=False))
        x = (images[idx].astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD
        out += [x[:, None], labels[idx].astype(np.int64)]
    return out


def load_mnist1d(seed=42):
    """The standard MNIST-1D split (4,000 training, 1,000 test signals of 40 points), generated with the
    package's defaults and ``seed``: float32 ``(N, 40)`` and int64 labels."""
    from convgrad.vision.datasets import MNIST1D

    tr, te = MNIST1D(train=True, seed=seed), MNIST1D(train=False, seed=seed)
    return tr.data.numpy(), tr.targets.numpy(), te.data.numpy(), te.targets.numpy()


def batches(rng, n, batch_size):
    """Endless minibatch indices: a fresh permutation of ``range(n)`` each epoch."""
    while True:
        perm = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i:i + batch_size]


def train_step(model, optimizer, x, y):
    """One SGD step on the arrays ``x``, ``y``; returns (loss, number of errors) on that batch."""
    model.train()
    optimizer.zero_grad()
    logits = model(convgrad.from_numpy(x))
    loss = F.cross_entropy(logits, convgrad.from_numpy(y))
    loss.backward()
    optimizer.step()
    wrong = int((logits._data.argmax(1) != y).sum())
    return float(loss.item()), wrong


def predict(model, x, batch_size=500):
    """Class scores of ``model`` in eval mode for the array ``x``, as a NumPy array."""
    model.eval()
    with convgrad.no_grad():
        return np.concatenate([model(convgrad.from_numpy(x[i:i + batch_size])).numpy()
                               for i in range(0, len(x), batch_size)])


def accuracy(model, x, y, batch_size=500):
    return float((predict(model, x, batch_size).argmax(1) == y).mean())


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def table(header, rows):
    """A Markdown table; floats are written with the format they came with (strings pass through)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x):
    return f"{100 * x:.1f}%"


def plt():
    from convgrad.viz._common import _plt

    return _plt()


def save_fig(fig, path):
    from convgrad.viz._common import _save

    _save(fig, path)
    return os.path.basename(path)


class Report:
    """A Markdown report: title, the claim, sections; ``write`` adds the header (command, seed, versions,
    machine, wall time) and saves ``report.md`` in ``out``."""

    def __init__(self, name, title, out, seed, quick):
        self.name, self.title, self.out, self.seed, self.quick = name, title, out, seed, quick
        self.sections = []
        self.start = time.perf_counter()
        os.makedirs(out, exist_ok=True)

    def add(self, text):
        self.sections.append(text.strip("\n"))

    def path(self, filename):
        return os.path.join(self.out, filename)

    def write(self):
        from convgrad import env

        wall = time.perf_counter() - self.start
        out_arg = os.path.dirname(os.path.normpath(self.out)) or "."
        command = (f"convgrad lab {self.name}{' --quick' if self.quick else ''} --seed {self.seed} "
                   f"--out {out_arg}")
        head = [f"# {self.title}", "",
                f"- command: `{command}`",
                "- form: " + ("quick (seconds, small data: not the numbers to quote)" if self.quick
                              else "full"),
                f"- seed: {self.seed}",
                f"- wall time: {wall:.0f} s (on a 2-core machine shared with other jobs: slower than alone)",
                f"- versions: {env.summary_line()}",
                f"- machine: {env.cpu_model()}; {os.cpu_count()} cores; {platform.platform()}",
                f"- Python: {sys.version.split()[0]}", ""]
        text = "\n".join(head) + "\n" + "\n\n".join(self.sections) + "\n"
        path = self.path("report.md")
        with open(path, "w") as f:
            f.write(text)
        return path, wall


__all__ = ["Report", "accuracy", "batches", "count_params", "load_mnist", "load_mnist1d", "pct",
           "plt", "predict", "save_fig", "seed_all", "table", "train_step"]
