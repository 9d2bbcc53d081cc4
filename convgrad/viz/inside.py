"""Looking inside a network: a convolution's filters, and the feature maps any layer (or every layer)
produces for an input, captured with forward hooks."""

import numpy as np

from convgrad.viz._common import VizError, _array, _grid, _plt, _save, find_layer, layer_name


def _conv_weight(layer):
    w = getattr(layer, "weight", layer)
    if w is None or not hasattr(w, "shape") or len(w.shape) not in (3, 4):
        raise VizError(f"plot_filters: {type(layer).__name__} has no convolution filters (expected a Conv1d/"
                       f"Conv2d layer or a weight of shape (O, I, kH, kW))")
    return np.asarray(_array(w), dtype=np.float32)


def plot_filters(layer, path=None, max_filters=64, per_channel=None, title=None):
    """A convolution layer's filters as a grid of small images on one shared colour scale.

    ``layer`` is a Conv1d/Conv2d module or its weight (out_channels, in_channels, kH, kW). With 3 input
    channels (a first layer on RGB images) each filter is one colour tile. Otherwise each filter is shown
    per input channel (at most 8 side by side; ``per_channel=True``) or averaged over its input channels
    (``per_channel=False``; the default when there are more than 8), on a diverging scale centred on 0
    and shared by all tiles, so strong and weak filters can be compared. 1D filters form one heat map."""
    plt = _plt()
    w = _conv_weight(layer)
    lim = float(np.abs(w).max()) or 1.0
    if w.ndim == 3:  # Conv1d: (O, I, K) -> one image of O rows
        o, i, k = w.shape
        fig, ax = plt.subplots(figsize=(min(12, 1 + 0.4 * i * k), min(12, 1 + 0.25 * o)))
        im = ax.imshow(w[:max_filters].reshape(min(o, max_filters), i * k), cmap="bwr",
                       vmin=-lim, vmax=lim, aspect="auto")
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_xlabel(f"input channel x tap ({i} x {k})")
        ax.set_ylabel("filter")
        ax.set_title(title or f"{o} filters, {i}x{k}")
        return _save(fig, path)
    o, i, kh, kw = w.shape
    w = w[:max_filters]
    o = w.shape[0]
    rgb = i == 3 and per_channel is not True
    if per_channel is None:
        per_channel = i <= 8
    if not rgb and not per_channel:
        w = w.mean(1, keepdims=True)  # one tile per filter: its mean over input channels
        lim = float(np.abs(w).max()) or 1.0
    cols_in = 1 if rgb else min(w.shape[1], 8)
    rows, cols = _grid(o, cols=8 if cols_in == 1 else max(1, 8 // cols_in))
    fig, axes = plt.subplots(rows, cols * cols_in, figsize=(0.9 * cols * cols_in + 0.8, 0.9 * rows + 0.5),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    im = None
    for f in range(o):
        r, c = divmod(f, cols)
        if rgb:  # the three channels as one colour image, mapped from [-lim, lim] to [0, 1]
            tile = np.clip(w[f].transpose(1, 2, 0) / (2 * lim) + 0.5, 0, 1)
            axes[r, c].imshow(tile, interpolation="nearest")
        else:
            for j in range(cols_in):
                im = axes[r, c * cols_in + j].imshow(w[f, j], cmap="bwr", vmin=-lim, vmax=lim,
                                                     interpolation="nearest")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6)
    how = "RGB" if rgb else ("per input channel" if per_channel and i > 1 else
                             ("averaged over input channels" if i > 1 else ""))
    fig.suptitle(title or f"{o} filters of {i}x{kh}x{kw} {how}".strip())
    return _save(fig, path)


def _capture(model, modules, x):
    """Run ``model`` on ``x`` in eval mode without grad; return each module's first output (arrays)."""
    import convgrad

    captured = {}

    def hook(key):
        def keep(mod, inp, out):  # returns None: a hook's return value would replace the output
            captured.setdefault(key, np.array(_array(out)))
        return keep

    handles = [m.register_forward_hook(hook(key)) for key, m in modules.items()]
    was_training = model.training
    model.eval()
    try:
        with convgrad.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return captured


def feature_maps(model, layer, x):
    """The output of ``layer`` (a module of ``model``, or its dotted name) when ``model`` runs on ``x``, as
    a NumPy array; captured with a forward hook that is removed afterwards. Runs in eval mode, no grad."""
    module = find_layer(model, layer)
    captured = _capture(model, {"out": module}, x)
    if "out" not in captured:
        raise VizError(f"feature_maps: layer {layer_name(model, layer)!r} did not run in the model's forward")
    return captured["out"]


def all_feature_maps(model, x, kinds=("Conv", "ReLU", "Pool", "BatchNorm", "Linear")):
    """Every layer's output for ``x``: ``{name: array}`` in forward order, for the leaf modules whose
    class name contains one of ``kinds`` (convolutions, activations, pooling, ... by default)."""
    modules = {name: m for name, m in model.named_modules()
               if name and not list(m.children()) and any(k in type(m).__name__ for k in kinds)}
    captured = _capture(model, modules, x)
    return {name: captured[name] for name in captured}


def plot_feature_maps(model, layer, x, path=None, max_maps=32, title=None):
    """The channels ``layer`` outputs for the first input of ``x``, as a grid of images (1D outputs as
    curves), with the input itself first."""
    plt = _plt()
    fmap = feature_maps(model, layer, x)[0]
    inp = np.asarray(_array(x))[0]
    if fmap.ndim == 1:
        fmap = fmap[:, None]
    n = min(fmap.shape[0], max_maps)
    rows, cols = _grid(n + 1, cols=8)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    _show(axes[0, 0], inp[0] if inp.ndim == 3 and inp.shape[0] == 1 else inp, "input")
    for c in range(n):
        r, k = divmod(c + 1, cols)
        _show(axes[r, k], fmap[c], f"ch {c}")
    fig.suptitle(title or f"feature maps of {layer_name(model, layer)} {tuple(fmap.shape)}")
    return _save(fig, path)


def plot_all_feature_maps(model, x, path=None, max_maps=8, title=None):
    """One row per layer: the first ``max_maps`` channels each layer outputs for the first input."""
    plt = _plt()
    maps = {k: v[0] for k, v in all_feature_maps(model, x).items() if v.ndim >= 3}
    if not maps:
        raise VizError(f"plot_all_feature_maps: {type(model).__name__} has no layer with spatial outputs")
    fig, axes = plt.subplots(len(maps), max_maps, figsize=(1.1 * max_maps + 1.5, 1.15 * len(maps)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, fmap) in enumerate(maps.items()):
        for c in range(min(max_maps, fmap.shape[0])):
            _show(axes[r, c], fmap[c], "")
        axes[r, 0].text(-0.1, 0.5, f"{name}\n{tuple(fmap.shape)}", transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=7)
    fig.suptitle(title or f"feature maps of every layer of {type(model).__name__}")
    return _save(fig, path)


def _show(ax, a, label):
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
    if label:
        ax.set_title(label, fontsize=7)
