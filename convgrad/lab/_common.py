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


def loss_and_accuracy(model, x, y, batch_size=500):
    """Mean cross-entropy and accuracy of ``model`` in eval mode on the arrays ``x``, ``y``."""
    logits = predict(model, x, batch_size).astype(np.float64)
    loss = F.cross_entropy(convgrad.from_numpy(logits), convgrad.from_numpy(y)).item()
    return float(loss), float((logits.argmax(1) == y).mean())


def train_epochs(model, optimizer, x, y, epochs, batch_size, rng, augment=None, scheduler=None,
                 after_epoch=None, evals_per_epoch=1):
    """``epochs`` passes over ``x``, ``y`` in fresh random batches; ``augment(batch, rng)`` transforms each
    batch of inputs, ``scheduler`` is stepped after every batch, and ``after_epoch(epoch)`` is called
    ``evals_per_epoch`` times a pass, with the epochs done so far (1.0 at the end of the first pass; 0.25
    a quarter into it). Returns the list of what ``after_epoch`` returned."""
    steps, it, log = len(y) // batch_size, batches(rng, len(y), batch_size), []
    marks = {round(steps * k / evals_per_epoch) for k in range(1, evals_per_epoch + 1)}
    for epoch in range(epochs):
        for step, idx in zip(range(1, steps + 1), it):
            xb = x[idx] if augment is None else augment(x[idx], rng)
            train_step(model, optimizer, xb, y[idx])
            if scheduler is not None:
                scheduler.step()
            if after_epoch is not None and step in marks:
                log.append(after_epoch(epoch + step / steps))
    return log


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


def finish_plot(report, fig, ax, filename, xlabel, ylabel, caption):
    """Label, grid and legend for ``ax``; save ``fig`` as ``filename`` beside the report and show it there."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    report.add(f"![{caption}]({save_fig(fig, report.path(filename))})")


def random_affine(x, rng, degrees=10.0, translate=2.0, scale=(0.9, 1.1), fill=None):
    """Each image of the batch ``x`` (N, C, H, W) moved by its own random affine map about its centre,
    ``p -> c + t + R(angle) diag(sx, sy) (p - c)``: angle uniform in +-``degrees``, shift ``t`` uniform in
    +-``translate`` pixels per axis, ``sx``, ``sy`` uniform in ``scale`` (a different scale per axis is the
    "squeezing" of LeCun et al. 1998). Bilinear; points from outside the image take ``fill`` (default: the
    batch's minimum, the background). Vectorised over the batch: one gather for all images, same dtype."""
    n, c, h, w = x.shape
    f32 = x.dtype
    fill = x.min() if fill is None else fill
    ang = np.radians(rng.uniform(-degrees, degrees, n)).astype(f32)
    sx, sy = rng.uniform(scale[0], scale[1], (2, n)).astype(f32)
    tx, ty = rng.uniform(-translate, translate, (2, n)).astype(f32)
    cos, sin = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
    # where each output pixel reads: the inverse map p_in = c + diag(1/sx, 1/sy) R(-angle) (p_out - c - t)
    u = (np.arange(w, dtype=f32) - (w - 1) / 2)[None, None, :] - tx[:, None, None]
    v = (np.arange(h, dtype=f32) - (h - 1) / 2)[None, :, None] - ty[:, None, None]
    xs = (cos * u + sin * v) / sx[:, None, None] + (w - 1) / 2
    ys = (cos * v - sin * u) / sy[:, None, None] + (h - 1) / 2
    # a one-pixel border of ``fill`` and clipped indices: every point outside reads the fill
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill)
    x0, y0 = np.floor(xs), np.floor(ys)
    fx, fy = (xs - x0)[:, None], (ys - y0)[:, None]
    x0, y0 = x0.astype(np.intp)[:, None] + 1, y0.astype(np.intp)[:, None] + 1
    x0, x1 = np.clip(x0, 0, w + 1), np.clip(x0 + 1, 0, w + 1)  # x1 from the unclipped x0
    y0, y1 = np.clip(y0, 0, h + 1), np.clip(y0 + 1, 0, h + 1)
    ni, ci = np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None]
    top = padded[ni, ci, y0, x0] * (1 - fx) + padded[ni, ci, y0, x1] * fx
    bottom = padded[ni, ci, y1, x0] * (1 - fx) + padded[ni, ci, y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(f32, copy=False)


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


__all__ = ["Report", "accuracy", "batches", "count_params", "finish_plot", "load_mnist", "load_mnist1d",
           "loss_and_accuracy", "pct", "plt", "predict", "random_affine", "save_fig", "seed_all", "table",
           "train_epochs", "train_step"]
