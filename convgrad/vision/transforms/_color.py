"""Colour operations behind the colour transforms: grayscale, brightness, contrast, saturation, hue."""

import numpy as np
from PIL import Image, ImageEnhance

from convgrad.vision.transforms._image import _is_pil, _max_value, _planes


def _gray_planes(arr):
    """ITU-R 601-2 luma of the RGB channels (``0.299 R + 0.587 G + 0.114 B``), keeping a channel axis."""
    r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
    gray = 0.299 * r.astype(np.float64) + 0.587 * g + 0.114 * b
    if np.issubdtype(arr.dtype, np.integer):
        gray = np.floor(gray)  # torchvision truncates integer luma
    return gray[..., None, :, :].astype(arr.dtype)


def rgb_to_grayscale(img, num_output_channels=1):
    """Luma of an RGB image, with 1 or 3 (equal) channels."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"num_output_channels should be either 1 or 3, got {num_output_channels}")
    if _is_pil(img):
        g = img.convert("L")
        return g if num_output_channels == 1 else Image.merge("RGB", [g, g, g])
    arr, back = _planes(img)
    c = arr.shape[-3] if arr.ndim >= 3 else 1
    if c == 1:
        gray = arr if arr.ndim >= 3 else arr[None]
    elif c == 3:
        gray = _gray_planes(arr)
    else:
        raise TypeError(f"Input image tensor permitted channel values are 1 or 3, but found {c}")
    if num_output_channels == 3:
        gray = np.concatenate([gray] * 3, axis=-3)
    if isinstance(img, np.ndarray) and img.ndim == 2:
        return back(gray[0]) if num_output_channels == 1 else np.ascontiguousarray(np.moveaxis(gray, 0, -1))
    return back(gray)


def _blend(a, b, ratio, dtype):
    bound = _max_value(dtype)
    out = np.clip(ratio * a.astype(np.float64) + (1.0 - ratio) * b, 0, bound)
    return out.astype(dtype)  # integer results are truncated, as torchvision's blend does


def _channels(arr):
    return arr.shape[-3] if arr.ndim >= 3 else 1


def _check_factor(name, factor):
    if factor < 0:
        raise ValueError(f"{name} should be non-negative, got {factor}")


def adjust_brightness(img, brightness_factor):
    """Multiply intensities by ``brightness_factor`` (0 gives black, 1 the original)."""
    _check_factor("brightness_factor", brightness_factor)
    if _is_pil(img):
        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    arr, back = _planes(img)
    return back(_blend(arr, 0.0, brightness_factor, arr.dtype))


def adjust_contrast(img, contrast_factor):
    """Blend with the mean grey level (0 gives uniform grey, 1 the original)."""
    _check_factor("contrast_factor", contrast_factor)
    if _is_pil(img):
        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    arr, back = _planes(img)
    c = _channels(arr)
    gray = _gray_planes(arr) if c == 3 else arr
    mean = gray.astype(np.float64).mean(axis=(-3, -2, -1) if arr.ndim >= 3 else (-2, -1), keepdims=True)
    return back(_blend(arr, mean, contrast_factor, arr.dtype))


def adjust_saturation(img, saturation_factor):
    """Blend with the grey version (0 gives grey, 1 the original); grey images are unchanged."""
    _check_factor("saturation_factor", saturation_factor)
    if _is_pil(img):
        if img.mode in ("L", "1", "I", "F"):
            return img
        return ImageEnhance.Color(img).enhance(saturation_factor)
    arr, back = _planes(img)
    if _channels(arr) == 1:
        return back(arr.copy())
    return back(_blend(arr, _gray_planes(arr), saturation_factor, arr.dtype))


def _rgb_to_hsv(rgb):
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc = np.max(rgb, axis=-3)
    minc = np.min(rgb, axis=-3)
    v = maxc
    delta = maxc - minc
    safe_max = np.where(maxc == 0, 1, maxc)
    s = np.where(maxc == 0, 0, delta / safe_max)
    safe_delta = np.where(delta == 0, 1, delta)
    rc, gc, bc = (maxc - r) / safe_delta, (maxc - g) / safe_delta, (maxc - b) / safe_delta
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(delta == 0, 0.0, (h / 6.0) % 1.0)
    return h, s, v


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(np.int64) % 6
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3)


def adjust_hue(img, hue_factor):
    """Rotate the hue by ``hue_factor`` turns (in [-0.5, 0.5]); grey images are unchanged."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _is_pil(img):
        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        hh = np.array(h, dtype=np.uint8)
        with np.errstate(over="ignore"):
            hh += np.uint8(int(hue_factor * 255) % 256)
        return Image.merge("HSV", (Image.fromarray(hh, "L"), s, v)).convert(img.mode)
    arr, back = _planes(img)
    if _channels(arr) == 1:
        return back(arr.copy())
    x = arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        x = x / 255.0
    h, s, v = _rgb_to_hsv(x)
    rgb = _hsv_to_rgb((h + hue_factor) % 1.0, s, v)
    if np.issubdtype(arr.dtype, np.integer):
        return back((rgb * 255.0).astype(arr.dtype))
    return back(rgb.astype(arr.dtype))
