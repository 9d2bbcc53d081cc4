"""Images that are near in feature space (the AlexNet paper's figure): for a query image, the training
images whose last-hidden-layer features are closest in Euclidean distance, which shows what the network
considers alike far better than distance in pixels does."""

import numpy as np

from convgrad.viz._common import VizError, _array, _plt, _save, find_layer, layer_name


def embed(model, x, layer=None, batch_size=256):
    """Features of ``x`` (N, D): the input of the model's last ``nn.Linear`` (its last hidden layer), or
    the flattened output of ``layer`` when given. Eval mode, no grad, in batches."""
    import convgrad
    from convgrad import nn

    if layer is None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise VizError(f"embed: {type(model).__name__} has no nn.Linear layer; pass layer=")
        module, take_input = linears[-1], True
    else:
        module, take_input = find_layer(model, layer), False
    x = x if isinstance(x, convgrad.Tensor) else convgrad.as_tensor(np.asarray(x, dtype=np.float32))
    feats = []
    handle = module.register_forward_hook(
        lambda m, inp, out: feats.append(_array(inp[0] if take_input else out).reshape(len(_array(out)), -1)))
    was_training = model.training
    model.eval()
    try:
        with convgrad.no_grad():
            for k in range(0, x.shape[0], batch_size):
                model(x[k:k + batch_size])
    finally:
        handle.remove()
        model.train(was_training)
    if not feats:
        raise VizError(f"embed: layer {layer_name(model, layer or module)!r} did not run in the forward")
    return np.concatenate(feats).astype(np.float32)


def nearest_neighbors(model, queries, images, k=5, layer=None, batch_size=256):
    """For each query, the indices (Q, k) of the ``k`` images nearest in feature space, and their
    distances (Q, k), nearest first."""
    q = embed(model, queries, layer, batch_size)
    db = embed(model, images, layer, batch_size)
    if not 1 <= k <= len(db):
        raise VizError(f"nearest_neighbors: expected 1 <= k <= {len(db)} (the images given), got {k}")
    d2 = (q * q).sum(1)[:, None] - 2 * q @ db.T + (db * db).sum(1)[None, :]
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    dist = np.sqrt(np.maximum(np.take_along_axis(d2, idx, 1), 0))
    return idx, dist


def plot_neighbors(queries, images, indices, path=None, labels=None, query_labels=None, title=None):
    """One row per query: the query, then its nearest images (titled by label when given)."""
    plt = _plt()
    queries, images = np.asarray(_array(queries)), np.asarray(_array(images))
    indices = np.asarray(indices)
    rows, k = indices.shape
    fig, axes = plt.subplots(rows, k + 1, figsize=(1.2 * (k + 1), 1.3 * rows + 0.4), squeeze=False)

    def show(ax, img):
        img = img[0] if img.ndim == 3 and img.shape[0] == 1 else (img.transpose(1, 2, 0) if img.ndim == 3
                                                                   else img)
        ax.imshow((img - img.min()) / (np.ptp(img) or 1.0), cmap="gray" if img.ndim == 2 else None)
        ax.axis("off")

    for r in range(rows):
        show(axes[r, 0], queries[r])
        axes[r, 0].set_title("query" + (f" ({query_labels[r]})" if query_labels is not None else ""),
                             fontsize=7, color="crimson")
        for j in range(k):
            show(axes[r, j + 1], images[indices[r, j]])
            if labels is not None:
                axes[r, j + 1].set_title(str(int(_array(labels)[indices[r, j]])), fontsize=7)
    fig.suptitle(title or "nearest neighbours in feature space")
    return _save(fig, path)
