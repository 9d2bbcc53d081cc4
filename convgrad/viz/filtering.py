"""The lectures' hand-made kernels applied to a real image with ``conv2d``: what a convolution does before
any learning (blur, sharpen, shift, edges)."""

import numpy as np

from convgrad.viz._common import VizError, _array, _plt, _save

_GAUSS = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
KERNELS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "shift right": np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0]]),  # out[i, j] = in[i, j - 1]
    "box blur": np.ones((3, 3)) / 9.0,
    "Gaussian blur": _GAUSS,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel Gx": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel Gy": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "Laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
}


def apply_kernel(image, kernel):
    """``image`` (H, W) cross-correlated with ``kernel`` (k, k) by ``conv2d`` with zero 'same' padding:
    an (H, W) Tensor."""
    import convgrad
    from convgrad.nn import functional as F

    img = np.asarray(_array(image), dtype=np.float32)
    if img.ndim != 2:
        raise VizError(f"apply_kernel: expected a grey image (H, W), got shape {img.shape}")
    k = np.asarray(kernel, dtype=np.float32)
    out = F.conv2d(convgrad.from_numpy(img[None, None].copy()), convgrad.from_numpy(k[None, None].copy()),
                   padding="same")
    return out[0, 0]


def filter_bank(image):
    """Every kernel of :data:`KERNELS` applied to ``image``, plus the Sobel gradient magnitude
    ``sqrt(Gx^2 + Gy^2)``: ``{name: (H, W) Tensor}``."""
    out = {name: apply_kernel(image, k) for name, k in KERNELS.items()}
    out["gradient magnitude"] = (out["Sobel Gx"] ** 2 + out["Sobel Gy"] ** 2).sqrt()
    return out


def sample_image(path=None, size=None):
    """A grey image in [0, 1] (H, W): the file at ``path`` (any format Pillow reads), else scikit-image's
    'camera' photograph when scikit-image is installed, else an MNIST test digit. ``size`` resizes."""
    from PIL import Image

    if path is not None and path != "sample":
        try:
            img = Image.open(path).convert("L")
        except (OSError, ValueError) as e:
            raise VizError(f"sample_image: cannot read an image from {path}: {e}") from None
    else:
        try:
            from skimage import data

            img = Image.fromarray(data.camera())
        except ImportError:
            from convgrad.vision.datasets import MNIST

            try:
                img = Image.fromarray(MNIST("data", train=False).data.numpy()[0])
            except Exception as e:
                raise VizError("sample_image: no sample photograph: pip install scikit-image (or give a "
                               f"path); the MNIST fallback failed too: {e}") from None
    if size is not None:
        img = img.resize((size, size) if isinstance(size, int) else tuple(size), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def plot_filtering(image, path=None, title=None):
    """The image and what each hand-made kernel makes of it, side by side, each with its kernel."""
    plt = _plt()
    img = np.asarray(_array(image), dtype=np.float32)
    outs = filter_bank(img)
    panels = [("input", img, None)] + [(n, o.numpy(), KERNELS.get(n)) for n, o in outs.items()]
    cols = 5
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (name, a, k) in zip(axes.ravel(), panels):
        signed = name.startswith(("Sobel", "Laplacian"))
        lim = float(np.abs(a).max()) or 1.0
        if signed:
            ax.imshow(a, cmap="bwr", vmin=-lim, vmax=lim)
        elif name == "gradient magnitude":
            ax.imshow(a, cmap="gray")
        else:  # same grey levels as the input: values past [0, 1] (sharpening overshoot) saturate
            ax.imshow(a, cmap="gray", vmin=0, vmax=1)
        label = name
        if k is not None and k.shape[0] == 3:
            label += "\n" + "  ".join("[" + " ".join(f"{v:g}" for v in row) + "]" for row in np.round(k, 2))
        ax.set_title(label, fontsize=7)
    fig.suptitle(title or "hand-made kernels applied with conv2d")
    return _save(fig, path)
