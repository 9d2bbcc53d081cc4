"""Pictures of training and of what a CNN learned, written as PNG files (matplotlib, Agg backend: no
display needed): learning curves, the confusion matrix, a convolution layer's filters, and the feature
maps a layer produces for an input (captured with a forward hook)."""

import math
import os

import numpy as np


def _plt():
    try:
        import matplotlib
    except ImportError:  # optional: only plots need it
        raise ImportError("convgrad.viz: plots need matplotlib, which is not installed: "
                          "`pip install matplotlib`") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def _array(x):
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def plot_history(history, path, title=None):
    """Learning curves of a run: loss and accuracy per epoch, training and validation.

    ``history`` is the list of per-epoch dicts that ``fit`` returns (or metrics.json holds)."""
    plt = _plt()
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    keys = []
    for row in history:
        keys += [k for k in row if k not in keys]
    panels = [("loss", [k for k in keys if k.endswith("loss")]),
              ("accuracy (%)", [k for k in keys if k.endswith("acc") or "top" in k])]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (label, names) in zip(axes[0], panels):
        for k in names:
            vals = [row.get(k, np.nan) for row in history]
            if label.startswith("accuracy"):
                vals = [100 * v for v in vals]
            ax.plot(epochs, vals, marker="o", ms=3, label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrix(cm, path, class_names=None, title="confusion matrix"):
    """The (C, C) confusion matrix as an image: row = true class, column = predicted class, with counts."""
    plt = _plt()
    cm = np.asarray(cm)
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
    ax.set_title(f"{title} (accuracy {100 * acc:.2f}%)")
    return _save(fig, path)


def _grid(n, cols=None):
    cols = cols or int(math.ceil(math.sqrt(n)))
    return int(math.ceil(n / cols)), cols


def plot_filters(layer, path, max_filters=64, title=None):
    """A convolution layer's filters as a grid of small images.

    ``layer`` is a Conv1d/Conv2d module or its weight (out_channels, in_channels, kH, kW). With 3 input
    channels each filter is one RGB tile; otherwise one grey tile per (output, input) channel pair, the
    input channels side by side (at most 8). 1D filters are drawn as rows of a heat map."""
    plt = _plt()
    w = _array(getattr(layer, "weight", layer)).astype(np.float32)
    if w.ndim == 3:  # Conv1d: (O, I, K) -> one image of O rows
        o, i, k = w.shape
        fig, ax = plt.subplots(figsize=(min(12, 1 + 0.4 * i * k), min(12, 1 + 0.25 * o)))
        lim = np.abs(w).max() or 1.0
        ax.imshow(w[:max_filters].reshape(min(o, max_filters), i * k), cmap="bwr",
                  vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xlabel(f"input channel x tap ({i} x {k})")
        ax.set_ylabel("filter")
        ax.set_title(title or f"{o} filters, {i}x{k}")
        return _save(fig, path)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight of shape (O, I, kH, kW), got {w.shape}")
    o, i, kh, kw = w.shape
    w = w[:max_filters]
    o = w.shape[0]
    rgb = i == 3
    cols_in = 1 if rgb else min(i, 8)
    rows, cols = _grid(o, cols=8 if cols_in == 1 else max(1, 8 // cols_in))
    fig, axes = plt.subplots(rows, cols * cols_in, figsize=(0.9 * cols * cols_in, 0.9 * rows + 0.4),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for f in range(o):
        r, c = divmod(f, cols)
        if rgb:
            tile = w[f].transpose(1, 2, 0)
            tile = (tile - tile.min()) / (np.ptp(tile) or 1.0)
            axes[r, c].imshow(tile, interpolation="nearest")
        else:
            lim = np.abs(w[f]).max() or 1.0
            for j in range(cols_in):
                axes[r, c * cols_in + j].imshow(w[f, j], cmap="gray", vmin=-lim, vmax=lim,
                                                interpolation="nearest")
    fig.suptitle(title or f"{o} filters of {i}x{kh}x{kw}")
    return _save(fig, path)


def _find_layer(model, layer):
    if isinstance(layer, str):
        modules = dict(model.named_modules())
        if layer not in modules:
            names = ", ".join(n for n in modules if n)
            raise KeyError(f"no layer named '{layer}' in the model; its layers: {names}")
        return modules[layer]
    return layer


def feature_maps(model, layer, x):
    """The output of ``layer`` (a module of ``model``, or its name) when ``model`` runs on ``x``, as a
    NumPy array; captured with a forward hook that is removed afterwards. Runs in eval mode, no grad."""
    import convgrad

    module = _find_layer(model, layer)
    captured = []
    handle = module.register_forward_hook(lambda mod, inp, out: captured.append(_array(out)))
    was_training = model.training
    model.eval()
    try:
        with convgrad.no_grad():
            model(x)
    finally:
        handle.remove()
        model.train(was_training)
    if not captured:
        raise RuntimeError(f"feature_maps: layer {layer!r} did not run in the model's forward pass")
    return captured[0]


def plot_feature_maps(model, layer, x, path, max_maps=32, title=None):
    """The channels ``layer`` outputs for the first input of ``x``, as a grid of images (1D outputs as
    curves), with the input itself first."""
    plt = _plt()
    fmap = feature_maps(model, layer, x)[0]
    inp = _array(x)[0]
    if fmap.ndim == 1:
        fmap = fmap[:, None]
    n = min(fmap.shape[0], max_maps)
    rows, cols = _grid(n + 1, cols=8)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")

    def show(ax, a, label):
        if a.ndim == 3 and a.shape[0] == 3:
            a = a.transpose(1, 2, 0)
            ax.imshow((a - a.min()) / (np.ptp(a) or 1.0))
        elif a.ndim >= 2:
            ax.imshow(a.reshape(-1, a.shape[-1]), cmap="viridis", interpolation="nearest")
        else:
            ax.axis("on")
            ax.plot(a, lw=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(label, fontsize=7)

    show(axes[0, 0], inp[0] if inp.ndim == 3 and inp.shape[0] == 1 else inp, "input")
    for c in range(n):
        r, k = divmod(c + 1, cols)
        show(axes[r, k], fmap[c], f"ch {c}")
    name = layer if isinstance(layer, str) else type(layer).__name__
    fig.suptitle(title or f"feature maps of {name} {tuple(fmap.shape)}")
    return _save(fig, path)
