"""Image operations behind the transforms, each working on three kinds of image:

* a PIL image (processed by PIL itself, as torchvision does);
* a NumPy array, taken as ``HWC`` (or ``HW``) like the arrays PIL and OpenCV produce, returned in the
  same layout and dtype;
* a ``convgrad.Tensor``, taken as ``(..., C, H, W)`` (or ``HW``), returned as a Tensor of the same dtype.

Arrays and tensors are resampled with a NumPy sampler (nearest or bilinear, out-of-image points take
``fill``), or with PIL's resampling for :func:`resize`. Coordinates are continuous with pixel ``j``
covering ``[j, j + 1)``, so the image centre is ``(W / 2, H / 2)``, as in PIL and torchvision.

The image kinds and sizes live in ``_image.py``, the colour operations in ``_color.py``; both are
re-exported here.
"""

import enum
import math
import numbers

import numpy as np
from PIL import Image

import convgrad
from convgrad.vision.transforms._color import (  # noqa: F401 (re-exported)
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    rgb_to_grayscale,
)
from convgrad.vision.transforms._image import (  # noqa: F401 (re-exported)
    _cast_like,
    _check_image,
    _is_pil,
    _is_tensor,
    _max_value,
    _planes,
    get_dimensions,
    get_image_num_channels,
    get_image_size,
)

__all__ = [
    "InterpolationMode",
    "get_dimensions",
    "get_image_size",
    "get_image_num_channels",
    "to_tensor",
    "pil_to_tensor",
    "to_pil_image",
    "normalize",
    "resize",
    "pad",
    "crop",
    "center_crop",
    "hflip",
    "vflip",
    "affine",
    "rotate",
    "elastic_transform",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
]


class InterpolationMode(enum.Enum):
    """How to resample: the names and values of torchvision's ``InterpolationMode``."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_FILTERS = {
    InterpolationMode.NEAREST: Image.Resampling.NEAREST,
    InterpolationMode.NEAREST_EXACT: Image.Resampling.NEAREST,
    InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
    InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
    InterpolationMode.BOX: Image.Resampling.BOX,
    InterpolationMode.HAMMING: Image.Resampling.HAMMING,
    InterpolationMode.LANCZOS: Image.Resampling.LANCZOS,
}
_FROM_PIL_CONSTANT = {int(v): k for k, v in reversed(list(_PIL_FILTERS.items()))}


def _interp(mode):
    """Accept an InterpolationMode, its string value or a PIL filter constant."""
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, str):
        try:
            return InterpolationMode(mode.lower())
        except ValueError:
            pass
    elif isinstance(mode, numbers.Integral) and int(mode) in _FROM_PIL_CONSTANT:
        return _FROM_PIL_CONSTANT[int(mode)]
    raise ValueError(
        f"interpolation: expected an InterpolationMode or one of {[m.value for m in InterpolationMode]}, "
        f"got {mode!r}"
    )


# ----------------------------------------------------------------------------------------------------
# conversion


def to_tensor(pic):
    """A PIL image or an ``HWC``/``HW`` NumPy array as a ``CHW`` Tensor; ``uint8`` data is scaled to
    ``float32`` in ``[0, 1]`` (divided by 255), other dtypes keep their values and dtype."""
    if _is_pil(pic):
        arr = np.array(pic)
        if pic.mode == "1":
            arr = arr.astype(np.uint8) * 255
        elif arr.dtype == np.uint16:
            arr = arr.astype(np.int32)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic).__name__}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        chw = chw.astype(np.float32) / np.float32(255)
    return convgrad.from_numpy(chw)


def pil_to_tensor(pic):
    """A PIL image as a ``CHW`` Tensor of its own dtype (no scaling)."""
    if not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic).__name__}")
    arr = np.array(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return convgrad.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """A ``CHW`` Tensor or ``HWC`` array as a PIL image. Float data is taken to be in ``[0, 1]`` and is
    scaled by 255 to ``uint8``, as torchvision does."""
    if _is_pil(pic):
        return pic
    if _is_tensor(pic):
        arr = pic._data
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        arr = arr.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        arr = pic if pic.ndim == 3 else pic[:, :, None] if pic.ndim == 2 else None
        if arr is None:
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic).__name__}")
    if np.issubdtype(arr.dtype, np.floating) and mode != "F":
        arr = (arr * 255).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
        if mode is None and arr.dtype == np.int16:
            mode = "I;16"
        elif mode is None and arr.dtype == np.int32:
            mode = "I"
    return (
        Image.fromarray(np.ascontiguousarray(arr), mode=mode)
        if mode
        else Image.fromarray(np.ascontiguousarray(arr))
    )


# ----------------------------------------------------------------------------------------------------
# normalize


def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean) / std`` channel by channel on a float ``(..., C, H, W)`` Tensor (or array)."""
    is_tensor = _is_tensor(tensor)
    if not is_tensor and not isinstance(tensor, np.ndarray):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor).__name__}")
    arr = tensor._data if is_tensor else tensor
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"Input tensor should be a float tensor. Got {arr.dtype}.")
    if arr.ndim < 3:
        raise ValueError(
            "Expected tensor to be a tensor image of size (..., C, H, W). "
            f"Got tensor.size() = {tuple(arr.shape)}."
        )
    mean = np.asarray(mean, dtype=arr.dtype)
    std = np.asarray(std, dtype=arr.dtype)
    if np.any(std == 0):
        raise ValueError(
            f"std evaluated to zero after conversion to {arr.dtype}, leading to division by zero."
        )
    if mean.ndim == 1:
        mean = mean.reshape(-1, 1, 1)
    if std.ndim == 1:
        std = std.reshape(-1, 1, 1)
    if inplace:
        np.subtract(arr, mean, out=arr)
        np.divide(arr, std, out=arr)
        return tensor
    out = (arr - mean) / std
    return convgrad.from_numpy(out) if is_tensor else out


# ----------------------------------------------------------------------------------------------------
# resize, crop, pad, flip


def _resized_size(h, w, size, max_size):
    if isinstance(size, numbers.Integral) or (isinstance(size, (list, tuple)) and len(size) == 1):
        requested = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested size for the smaller "
                    f"edge size = {size}"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if isinstance(size, (list, tuple)) and len(size) == 2:
        if max_size is not None:
            raise ValueError(
                "max_size should only be passed if size specifies the length of the smaller edge"
            )
        return int(size[0]), int(size[1])
    raise TypeError(f"size should be an int or a sequence of 1 or 2 ints, got {size!r}")


def _resize_nearest_planes(arr, oh, ow):
    h, w = arr.shape[-2:]
    rows = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
    cols = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
    return arr[..., rows[:, None], cols[None, :]]


def _resize_bilinear_planes(arr, oh, ow):
    """Plain bilinear resampling (no antialiasing), pixel centres aligned as ``align_corners=False``."""
    h, w = arr.shape[-2:]
    ys = np.clip((np.arange(oh) + 0.5) * (h / oh) - 0.5, 0, h - 1)
    xs = np.clip((np.arange(ow) + 0.5) * (w / ow) - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(np.int64)
    x0 = np.floor(xs).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = arr.astype(np.float64)
    top = a[..., y0, :][..., x0] * (1 - fx) + a[..., y0, :][..., x1] * fx
    bottom = a[..., y1, :][..., x0] * (1 - fx) + a[..., y1, :][..., x1] * fx
    return top * (1 - fy) + bottom * fy


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size``: ``(h, w)``, or an int for the smaller edge (keeping the aspect ratio, the
    longer edge truncated; ``max_size`` caps it). PIL images use PIL's filters; arrays and tensors use
    PIL's filters on each float plane (antialiased, as torchvision's ``antialias=True``), or a plain
    bilinear / legacy-nearest sampler for ``antialias=False`` / ``NEAREST``."""
    _check_image(img, "resize")
    mode = _interp(interpolation)
    _, h, w = get_dimensions(img)
    oh, ow = _resized_size(h, w, size, max_size)
    if _is_pil(img):
        return img.resize((ow, oh), _PIL_FILTERS[mode])
    arr, back = _planes(img)
    if (oh, ow) == (h, w):
        return back(arr.copy())
    if mode == InterpolationMode.NEAREST:
        return back(_resize_nearest_planes(arr, oh, ow))
    if mode == InterpolationMode.BILINEAR and not antialias:
        return back(_cast_like(_resize_bilinear_planes(arr, oh, ow), arr.dtype))
    flat = arr.reshape(-1, h, w)
    out = np.empty((flat.shape[0], oh, ow), dtype=np.float32)
    for k in range(flat.shape[0]):
        plane = Image.fromarray(np.ascontiguousarray(flat[k], dtype=np.float32))
        out[k] = np.asarray(plane.resize((ow, oh), _PIL_FILTERS[mode]))
    out = out.reshape(arr.shape[:-2] + (oh, ow))
    if np.issubdtype(arr.dtype, np.floating):
        return back(out.astype(arr.dtype, copy=False))
    return back(_cast_like(out, arr.dtype))


def _parse_padding(padding):
    if isinstance(padding, numbers.Integral):
        p = int(padding)
        return p, p, p, p
    if not isinstance(padding, (list, tuple)):
        raise TypeError(
            f"Got inappropriate padding arg: expected an int or a sequence, got {type(padding).__name__}"
        )
    if len(padding) == 1:
        p = int(padding[0])
        return p, p, p, p
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    if len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError(
        f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
    )


def _fill_per_plane(arr, fill):
    """``fill`` (a number or one value per channel) as an array broadcastable against ``arr[..., :1, :1]``."""
    if fill is None:
        fill = 0
    f = np.asarray(fill, dtype=np.float64).reshape(-1)
    if f.size == 1 or arr.ndim < 3:
        return np.full((1,) * arr.ndim, f[0])
    c = arr.shape[-3]
    if f.size != c:
        raise ValueError(f"fill: expected a number or {c} values (one per channel), got {len(f)} values")
    return f.reshape((c, 1, 1))


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: ``padding`` is an int (all sides), ``(left/right, top/bottom)`` or
    ``(left, top, right, bottom)``; ``padding_mode`` is ``constant`` (with ``fill``, a number or one per
    channel), ``edge``, ``reflect`` or ``symmetric``. Negative padding crops."""
    _check_image(img, "pad")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(
            f"Padding mode should be either constant, edge, reflect or symmetric, got {padding_mode!r}"
        )
    left, top, right, bottom = _parse_padding(padding)
    arr, back = _planes(img)
    h, w = arr.shape[-2:]
    # negative padding is a crop
    arr = arr[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode != "constant":
        return back(np.pad(arr, widths, mode=padding_mode))
    h, w = arr.shape[-2:]
    out = np.empty(arr.shape[:-2] + (h + top + bottom, w + left + right), dtype=arr.dtype)
    out[...] = _cast_like(np.broadcast_to(_fill_per_plane(arr, fill), out.shape[:-2] + (1, 1)), arr.dtype)
    out[..., top : top + h, left : left + w] = arr
    return back(out)


def crop(img, top, left, height, width):
    """The ``height`` x ``width`` region whose top-left corner is at (``top``, ``left``); parts outside
    the image are zero."""
    _check_image(img, "crop")
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    arr, back = _planes(img)
    h, w = arr.shape[-2:]
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        return back(arr[..., top : top + height, left : left + width].copy())
    out = np.zeros(arr.shape[:-2] + (height, width), dtype=arr.dtype)
    y0, y1 = max(top, 0), min(top + height, h)
    x0, x1 = max(left, 0), min(left + width, w)
    if y1 > y0 and x1 > x0:
        out[..., y0 - top : y1 - top, x0 - left : x1 - left] = arr[..., y0:y1, x0:x1]
    return back(out)


def _pair(size, name):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: please provide only two dimensions (h, w) for size, got {size!r}")


def center_crop(img, output_size):
    """The centred ``output_size`` region (an int for a square); an image smaller than that is first
    padded with zeros. The offset is ``round((H - h) / 2)`` with Python's rounding, as torchvision."""
    crop_h, crop_w = _pair(output_size, "center_crop")
    _, img_h, img_w = get_dimensions(img)
    if crop_w > img_w or crop_h > img_h:
        ltrb = [
            (crop_w - img_w) // 2 if crop_w > img_w else 0,
            (crop_h - img_h) // 2 if crop_h > img_h else 0,
            (crop_w - img_w + 1) // 2 if crop_w > img_w else 0,
            (crop_h - img_h + 1) // 2 if crop_h > img_h else 0,
        ]
        img = pad(img, ltrb, fill=0)
        _, img_h, img_w = get_dimensions(img)
        if crop_w == img_w and crop_h == img_h:
            return img
    top = int(round((img_h - crop_h) / 2.0))
    left = int(round((img_w - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def hflip(img):
    """Mirror left-right."""
    _check_image(img, "hflip")
    if _is_pil(img):
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    arr, back = _planes(img)
    return back(arr[..., ::-1].copy())


def vflip(img):
    """Mirror top-bottom."""
    _check_image(img, "vflip")
    if _is_pil(img):
        return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    arr, back = _planes(img)
    return back(arr[..., ::-1, :].copy())


# ----------------------------------------------------------------------------------------------------
# resampling: affine, rotate, elastic


def _sample(arr, xs, ys, interpolation, fill):
    """Values of ``arr`` (..., H, W) at index coordinates ``xs``, ``ys`` (each (H', W'); pixel ``j`` is
    at ``j``); points outside the image take ``fill``. Nearest or bilinear."""
    h, w = arr.shape[-2:]
    f = _fill_per_plane(arr, fill)
    if interpolation == InterpolationMode.NEAREST:
        xi = np.floor(xs + 0.5).astype(np.int64)
        yi = np.floor(ys + 0.5).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        vals = arr[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        out = np.where(inside, vals, _cast_like(np.broadcast_to(f, f.shape), arr.dtype))
        return out.astype(arr.dtype, copy=False)
    if interpolation != InterpolationMode.BILINEAR:
        raise ValueError(
            f"interpolation {interpolation.value!r} is not supported for arrays and tensors here; "
            "use nearest or bilinear"
        )
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    fx, fy = xs - x0, ys - y0
    work = np.float32 if arr.dtype == np.float32 else np.float64
    a = arr.astype(work, copy=False)
    out = np.zeros(arr.shape[:-2] + xs.shape, dtype=work)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            vals = np.where(inside, a[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)], f)
            out += (wx * wy).astype(work) * vals
    return _cast_like(out, arr.dtype)


def _inverse_affine(center, angle, translate, scale, shear, out_center=None):
    """The 2x3 matrix taking output coordinates to input ones for the affine map
    ``p -> C' + T + R(angle) Sh(shear) scale (p - C)`` (angle clockwise in degrees, as torchvision's
    ``affine``; ``C' = out_center``, default ``C``)."""
    rot = math.radians(angle)
    sx, sy = (math.radians(s) for s in shear)
    cx, cy = center
    ox, oy = out_center if out_center is not None else center
    tx, ty = translate
    # rotation-shear block (determinant 1) before scaling
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = np.array([[d, -b], [-c, a]]) / scale
    shift = np.array([cx, cy]) - m @ np.array([ox + tx, oy + ty])
    return np.concatenate([m, shift[:, None]], axis=1)


def _affine_planes(arr, inv, out_h, out_w, interpolation, fill):
    u = np.arange(out_w) + 0.5
    v = np.arange(out_h) + 0.5
    uu, vv = np.meshgrid(u, v)
    xs = inv[0, 0] * uu + inv[0, 1] * vv + inv[0, 2] - 0.5
    ys = inv[1, 0] * uu + inv[1, 1] * vv + inv[1, 2] - 0.5
    return _sample(arr, xs, ys, interpolation, fill)


def _pil_fill(img, fill):
    if fill is None:
        return None
    bands = len(img.getbands())
    if isinstance(fill, (list, tuple)):
        vals = [int(round(v)) if img.mode != "F" else float(v) for v in fill]
        if len(vals) == 1:
            vals = vals * bands
        if len(vals) != bands:
            raise ValueError(
                f"fill: expected a number or {bands} values for a {img.mode} image, got {len(vals)}"
            )
        return tuple(vals) if bands > 1 else vals[0]
    v = float(fill) if img.mode == "F" else int(round(fill))
    return tuple([v] * bands) if bands > 1 else v


def _shear_pair(shear):
    if isinstance(shear, numbers.Number):
        return [float(shear), 0.0]
    shear = [float(s) for s in shear]
    if len(shear) == 1:
        return [shear[0], shear[0]]
    if len(shear) == 2:
        return shear
    raise ValueError(f"shear should be a number or a sequence of 1 or 2 values, got {shear!r}")


def affine(
    img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None, center=None
):
    """Affine map about the centre (or ``center``): rotate by ``angle`` degrees clockwise, shear by
    ``shear`` degrees (x, or (x, y)), scale by ``scale``, then shift by ``translate`` pixels (x, y)."""
    _check_image(img, "affine")
    mode = _interp(interpolation)
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise TypeError(f"translate: expected a sequence of two numbers, got {translate!r}")
    if scale <= 0:
        raise ValueError(f"scale: expected a positive number, got {scale}")
    shear = _shear_pair(shear)
    _, h, w = get_dimensions(img)
    c = (w * 0.5, h * 0.5) if center is None else (float(center[0]), float(center[1]))
    inv = _inverse_affine(c, float(angle), [float(t) for t in translate], float(scale), shear)
    if _is_pil(img):
        return img.transform(
            (w, h),
            Image.Transform.AFFINE,
            tuple(inv.reshape(-1)),
            _PIL_FILTERS[mode],
            fillcolor=_pil_fill(img, fill),
        )
    arr, back = _planes(img)
    return back(_affine_planes(arr, inv, h, w, mode, fill))


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about the centre (or ``center``); ``expand`` grows
    the output to hold the whole rotated image."""
    _check_image(img, "rotate")
    mode = _interp(interpolation)
    if _is_pil(img):
        return img.rotate(angle, _PIL_FILTERS[mode], expand, center, fillcolor=_pil_fill(img, fill))
    _, h, w = get_dimensions(img)
    c = (w * 0.5, h * 0.5) if center is None else (float(center[0]), float(center[1]))
    out_h, out_w, out_c = h, w, None
    if expand:
        r = math.radians(angle)
        corners = np.array([[-w, -h], [-w, h], [w, h], [w, -h]], dtype=np.float64) * 0.5
        rot = np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
        pts = corners @ rot.T
        tol = 1e-4
        span_max = np.ceil(np.trunc(pts.max(0) / tol) * tol)
        span_min = np.floor(np.trunc(pts.min(0) / tol) * tol)
        out_w, out_h = (int(v) for v in (span_max - span_min))
        out_c = (out_w * 0.5, out_h * 0.5)
        c = (w * 0.5, h * 0.5)
    inv = _inverse_affine(c, -float(angle), [0.0, 0.0], 1.0, [0.0, 0.0], out_center=out_c)
    arr, back = _planes(img)
    return back(_affine_planes(arr, inv, out_h, out_w, mode, fill))


def _gaussian_kernel1d(ksize, sigma):
    half = (ksize - 1) * 0.5
    x = np.linspace(-half, half, ksize)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur2d(field, ksize, sigma):
    """Separable Gaussian blur of a 2-d array with reflected borders."""
    k = _gaussian_kernel1d(ksize, sigma)
    r = ksize // 2
    p = np.pad(field, r, mode="reflect")
    rows = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 1, p)
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, rows)


def elastic_displacement(alpha, sigma, size, rng):
    """A random smooth displacement field ``(H, W, 2)`` in pixels (x then y), torchvision's recipe:
    uniform noise in [-1, 1], blurred with a Gaussian of ``sigma`` (kernel ``8 sigma + 1``, made odd),
    scaled so that ``alpha`` is the strength in normalised ``[-1, 1]`` grid units per image side."""
    h, w = size
    out = []
    for axis in range(2):
        field = rng.random((h, w)) * 2 - 1
        if sigma[axis] > 0:
            k = int(8 * sigma[axis] + 1)
            if k % 2 == 0:
                k += 1
            field = _blur2d(field, k, sigma[axis])
        field = field * alpha[axis] / size[axis]  # normalised grid units, as torchvision
        out.append(field * (w if axis == 0 else h) / 2.0)  # to pixels
    return np.stack(out, axis=-1)


def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Move every output pixel's sampling point by ``displacement`` ((H, W, 2) pixels, x then y)."""
    _check_image(img, "elastic_transform")
    mode = _interp(interpolation)
    arr, back = _planes(img)
    h, w = arr.shape[-2:]
    disp = np.asarray(getattr(displacement, "_data", displacement), dtype=np.float64).reshape(h, w, 2)
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    return back(_sample(arr, xx + disp[..., 0], yy + disp[..., 1], mode, fill))


# ----------------------------------------------------------------------------------------------------
# crops, erasing and dtype conversion used by the training recipes


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def erase(img, i, j, h, w, v, inplace=False):
    """The Tensor image ``img`` (..., C, H, W) with rows i..i+h and columns j..j+w set to ``v`` (a
    number or a Tensor broadcast to (..., C, h, w))."""
    if not _is_tensor(img):
        raise TypeError(f"erase: expected a Tensor image, got {type(img).__name__}")
    arr = img._data if inplace else img._data.copy()
    arr[..., i:i + h, j:j + w] = v._data if _is_tensor(v) else v
    if inplace:
        img._bump_version()
        return img
    return convgrad.from_numpy(arr)


def convert_image_dtype(image, dtype=np.float32):
    """A Tensor image in another dtype, rescaled: integers span [0, max], floats [0, 1]
    (uint8 -> float: v / 255; float -> uint8: floor(v * (255 + 1 - 1e-3)), as torchvision)."""
    if not _is_tensor(image):
        raise TypeError(f"convert_image_dtype: expected a Tensor image, got {type(image).__name__}")
    dtype = np.dtype(dtype)
    arr = image._data
    if arr.dtype == dtype:
        return image
    src_int, dst_int = np.issubdtype(arr.dtype, np.integer), np.issubdtype(dtype, np.integer)
    if not src_int and not dst_int:
        out = arr.astype(dtype)
    elif src_int and not dst_int:
        out = arr.astype(dtype) / dtype.type(np.iinfo(arr.dtype).max)
    elif not src_int:
        out = (arr * (np.iinfo(dtype).max + 1.0 - 1e-3)).astype(dtype)
    else:
        src_max, dst_max = np.iinfo(arr.dtype).max, np.iinfo(dtype).max
        wide = arr.astype(np.int64)
        out = (wide * (dst_max + 1) // (src_max + 1) if dst_max > src_max else wide // ((src_max + 1) //
               (dst_max + 1))).astype(dtype)
    return convgrad.from_numpy(np.ascontiguousarray(out))
