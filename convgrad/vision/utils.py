"""Image grids, in the place of ``torchvision.utils``: ``make_grid`` tiles a batch of images into one
image, ``save_image`` writes that grid to a file (through Pillow)."""

import math
import numbers
import os

import numpy as np

from convgrad import _unsupported
from convgrad.tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _as_batch(op, tensor):
    """The images as a NumPy (B, C, H, W) array; a list of (C, H, W) tensors is stacked."""
    if isinstance(tensor, (list, tuple)):
        for t in tensor:
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}: expected a Tensor or a list of Tensors, got a list containing "
                                f"{type(t).__name__}")
        shapes = {tuple(t.shape) for t in tensor}
        if len(shapes) != 1:
            raise ValueError(f"{op}: expected images of one shape, got shapes {sorted(shapes)}")
        arr = np.stack([t._data for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = tensor._data
    else:
        raise TypeError(f"{op}: expected a Tensor or a list of Tensors, got {type(tensor).__name__}")
    if arr.ndim == 2:  # one single-channel image
        arr = arr[None]
    if arr.ndim == 3:  # one image (C, H, W)
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"{op}: expected images of shape (B, C, H, W), (C, H, W) or (H, W), got shape "
                         f"{tuple(arr.shape)}")
    if arr.shape[1] == 1:  # grey images as RGB, so a grid is always 3 channels
        arr = np.concatenate([arr] * 3, axis=1)
    return arr


def _normalize(img, value_range):
    """Clamp to [low, high] and map linearly to [0, 1] in place; the range defaults to img's min and max."""
    low, high = value_range if value_range is not None else (float(img.min()), float(img.max()))
    np.clip(img, low, high, out=img)
    img -= low
    img /= max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tiles B images (B, C, H, W) into one (C, ymaps (H + p) + p, xmaps (W + p) + p) image, xmaps =
    min(nrow, B) per row, ymaps = ceil(B / xmaps) rows, p = padding filled with pad_value.

    One-channel images become three-channel. ``normalize`` maps each batch (each image with ``scale_each``)
    from ``value_range`` (default: its min and max) to [0, 1], clamping. A single image is returned
    unpadded as (C, H, W). The result is a new Tensor outside the autograd graph."""
    op = "make_grid"
    if isinstance(nrow, bool) or not isinstance(nrow, (numbers.Integral, np.integer)) or nrow < 1:
        raise ValueError(f"{op}: expected nrow to be a positive int, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, (numbers.Integral, np.integer)) or padding < 0:
        raise ValueError(f"{op}: expected padding to be a non-negative int, got {padding!r}")
    if value_range is not None and (not isinstance(value_range, tuple) or len(value_range) != 2):
        raise TypeError(f"{op}: expected value_range to be a tuple (min, max), got {value_range!r}")
    arr = _as_batch(op, tensor)
    if normalize:
        arr = arr.astype(np.float32) if arr.dtype.kind != "f" else arr.copy()
        for img in (arr if scale_each else [arr]):
            _normalize(img, value_range)
    if arr.shape[0] == 1:
        return Tensor(np.array(arr[0]))
    b, c, h, w = arr.shape
    xmaps = min(int(nrow), b)
    ymaps = math.ceil(b / xmaps)
    p = int(padding)
    grid = np.full((c, ymaps * (h + p) + p, xmaps * (w + p) + p), pad_value, dtype=arr.dtype)
    for k in range(b):
        y, x = divmod(k, xmaps)
        top, left = y * (h + p) + p, x * (w + p) + p
        grid[:, top:top + h, left:left + w] = arr[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Writes ``make_grid(tensor, **kwargs)`` (values in [0, 1]) as an 8-bit image:
    pixel = clamp(round(255 v), 0, 255). ``fp`` is a path or a file object; ``format`` overrides the
    format taken from the file name (PNG, JPEG, ...)."""
    from PIL import Image

    if not isinstance(fp, (str, os.PathLike)) and not hasattr(fp, "write"):
        raise TypeError(f"save_image: expected fp to be a file name or a file object, got "
                        f"{type(fp).__name__}")
    grid = make_grid(tensor, **kwargs)._data
    pixels = grid.astype(np.float32) * 255
    pixels += 0.5
    np.clip(pixels, 0, 255, out=pixels)
    pixels = pixels.astype(np.uint8).transpose(1, 2, 0)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    Image.fromarray(np.ascontiguousarray(pixels)).save(fp, format=format)


def __getattr__(name):
    # a PyTorch name convgrad lacks: NotImplementedError naming the feature (see convgrad._unsupported)
    raise _unsupported.missing("torchvision.utils", __name__, name)
