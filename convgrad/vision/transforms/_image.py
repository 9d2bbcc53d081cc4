"""The three kinds of image the transforms take (PIL, NumPy ``HWC``, Tensor ``(..., C, H, W)``): telling
them apart, viewing any of them as planes with H, W last, and their sizes."""

import numpy as np
from PIL import Image

import convgrad


def _is_pil(img):
    return isinstance(img, Image.Image)


def _is_tensor(img):
    return isinstance(img, convgrad.Tensor)


def _check_image(img, what):
    if not (_is_pil(img) or _is_tensor(img) or isinstance(img, np.ndarray)):
        raise TypeError(
            f"{what}: expected a PIL Image, a NumPy array or a convgrad Tensor, got {type(img).__name__}"
        )


def _planes(img):
    """``img`` as an array with H, W on the last two axes (and C third from last), and a function
    turning such an array back into ``img``'s kind and layout."""
    if _is_tensor(img):
        arr = img._data
        if arr.ndim < 2:
            raise ValueError(f"expected a tensor image of shape (..., H, W), got shape {tuple(arr.shape)}")
        return arr, lambda a: convgrad.from_numpy(np.ascontiguousarray(a))
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            return img, np.ascontiguousarray
        if img.ndim == 3:
            return np.moveaxis(img, -1, 0), lambda a: np.ascontiguousarray(np.moveaxis(a, 0, -1))
        raise ValueError(f"expected a NumPy image of shape (H, W) or (H, W, C), got shape {img.shape}")
    if _is_pil(img):
        mode, palette = img.mode, (img.getpalette() if img.mode == "P" else None)
        arr = np.asarray(img)
        if mode == "1":
            arr = arr.astype(np.uint8)

        def back(a):
            a = np.ascontiguousarray(np.moveaxis(a, 0, -1) if a.ndim == 3 else a)
            if mode == "1":
                return Image.fromarray(a.astype(bool))
            out = (
                Image.fromarray(a, mode=mode)
                if mode in ("L", "RGB", "RGBA", "P", "CMYK")
                else Image.fromarray(a)
            )
            if palette is not None:
                out.putpalette(palette)
            return out

        return (np.moveaxis(arr, -1, 0) if arr.ndim == 3 else arr), back
    raise TypeError(f"expected a PIL Image, a NumPy array or a convgrad Tensor, got {type(img).__name__}")


def get_dimensions(img):
    """``[channels, height, width]`` of an image."""
    if _is_pil(img):
        return [len(img.getbands()), img.height, img.width]
    arr, _ = _planes(img)
    c = arr.shape[-3] if arr.ndim >= 3 else 1
    return [c, arr.shape[-2], arr.shape[-1]]


def get_image_size(img):
    """``[width, height]`` of an image (PIL's order)."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


def _max_value(dtype):
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _cast_like(values, dtype):
    """Float results back to ``dtype``: integer types are rounded and clipped to their range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)
