"""Pictures of a training run and of a classifier's results: learning curves, the confusion matrix,
per-class accuracy, and a grid of the misclassified inputs titled "true -> predicted"."""

import numpy as np

from convgrad.viz._common import VizError, _array, _grid, _plt, _save


def plot_history(history, path=None, title=None):
    """Learning curves of a run: loss, accuracy and (when logged) the learning rate per epoch, training and
    validation. ``history`` is the list of per-epoch dicts that ``fit`` returns (or metrics.json holds)."""
    plt = _plt()
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    keys = []
    for row in history:
        keys += [k for k in row if k not in keys]
    panels = [("loss", [k for k in keys if k.endswith("loss")]),
              ("accuracy (%)", [k for k in keys if k.endswith("acc") or "top" in k]),
              ("learning rate", [k for k in keys if k == "lr"])]
    panels = [p for p in panels if p[1]]
    if not panels:
        raise VizError(f"plot_history: expected per-epoch rows with loss/acc/lr keys, got keys {keys}")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 4), squeeze=False)
    for ax, (label, names) in zip(axes[0], panels):
        for k in names:
            vals = [row.get(k, np.nan) for row in history]
            if label.startswith("accuracy"):
                vals = [100 * v for v in vals]
            ax.plot(epochs, vals, marker="o", ms=3, label=k)
        if label == "learning rate":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrix(cm, path=None, class_names=None, title="confusion matrix"):
    """The (C, C) confusion matrix as an image: row = true class, column = predicted class, with counts."""
    plt = _plt()
    cm = np.asarray(_array(cm))
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise VizError(f"plot_confusion_matrix: expected a square (C, C) matrix, got shape {cm.shape}")
    c = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * c, 1.0 + 0.5 * c))
    # row-normalised colours so rare classes are as visible as common ones; the numbers are counts
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    if c <= 30:
        for i in range(c):
            for j in range(c):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(c), names, rotation=90 if c > 10 else 0)
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title} ({cm.sum()} samples, accuracy {100 * acc:.2f}%)")
    return _save(fig, path)


def per_class_accuracy(cm):
    """Accuracy of each true class from a confusion matrix: diag / row sums (NaN for an empty class)."""
    cm = np.asarray(_array(cm), dtype=np.float64)
    rows = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / rows, np.nan)


def plot_per_class_accuracy(cm, path=None, class_names=None, title="accuracy per class"):
    """A bar per class: the share of its test samples classified correctly."""
    plt = _plt()
    acc = per_class_accuracy(cm)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(acc))]
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * len(acc), 3.5))
    bars = ax.bar(range(len(acc)), 100 * acc, color="tab:blue")
    for b, a in zip(bars, acc):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{100 * a:.1f}", ha="center", va="bottom",
                fontsize=7)
    ax.set_xticks(range(len(acc)), names, rotation=90 if len(acc) > 10 else 0)
    ax.set_ylabel("accuracy (%)")
    lo = np.nanmin(acc) if np.isfinite(acc).any() else 0
    ax.set_ylim(max(0.0, 100 * lo - 5), 100.5)
    ax.set_title(title)
    return _save(fig, path)


def misclassified(logits, targets):
    """Indices of the wrong predictions, most confident mistakes first, with their predictions:
    ``(indices, predicted)`` as int arrays."""
    logits, targets = np.asarray(_array(logits)), np.asarray(_array(targets))
    pred = logits.argmax(1)
    wrong = np.flatnonzero(pred != targets)
    z = logits[wrong] - logits[wrong].max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    order = np.argsort(-p.max(1), kind="stable")
    return wrong[order], pred[wrong[order]]


def plot_misclassified(images, targets, predicted, path=None, class_names=None, max_images=36,
                       title=None):
    """A grid of inputs the model got wrong, each titled "true -> predicted". ``images`` (N, C, H, W) or
    (N, H, W), or (N, C, L) signals drawn as curves; ``targets``/``predicted`` their labels."""
    plt = _plt()
    images = np.asarray(_array(images), dtype=np.float32)
    targets, predicted = np.asarray(_array(targets)), np.asarray(_array(predicted))
    n = min(len(images), max_images)
    names = (lambda i: str(class_names[i])) if class_names is not None else str
    rows, cols = _grid(max(n, 1), cols=min(max(n, 1), 9))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k in range(n):
        ax = axes.ravel()[k]
        img = images[k]
        if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[1] > 1:
            img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        if img.ndim == 3:  # RGB: stretch to [0, 1]
            ax.imshow((img - img.min()) / (np.ptp(img) or 1.0))
        elif img.ndim == 2 and img.shape[0] > 1:
            ax.imshow(img, cmap="gray_r" if img.mean() < 0.5 * (img.max() + img.min()) else "gray")
        else:
            ax.axis("on")
            ax.plot(img.reshape(-1), lw=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(f"{names(int(targets[k]))} -> {names(int(predicted[k]))}", fontsize=8, color="crimson")
    fig.suptitle(title or f"{n} misclassified (true -> predicted)")
    return _save(fig, path)
