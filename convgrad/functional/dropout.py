"""Dropout: inverted dropout (kept values scaled by 1/(1-p) in training, the identity in evaluation),
channel-wise dropout (whole feature maps), and SELU's alpha dropout. Masks come from convgrad's global
generator, so ``convgrad.manual_seed`` makes them reproducible."""

import math
import warnings

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.function import NumpyFunction
from convgrad.random import rng

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

# SELU's saturation value -scale * alpha: alpha dropout sets dropped units to it
_ALPHA_PRIME = 1.7580993408473766


class Dropout(NumpyFunction):
    """y = x m, m = keep / (1 - p) with keep ~ Bernoulli(1 - p) (drawn per element, or per channel as an
    (N, C, 1, ...) mask that broadcasts);  dL/dx = g m"""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask, None


class AlphaDropout(NumpyFunction):
    """y = a (x keep - alpha' (1 - keep)) + a alpha' p: dropped units go to SELU's saturation -alpha'
    (alpha' = 1.7581), then the affine map with a = ((1 - p)(1 + p alpha'^2))^(-1/2) restores mean 0 and
    variance 1;  dL/dx = g a keep"""

    @staticmethod
    def forward(ctx, x, scale, shift):
        ctx.scale = scale
        return x * scale + shift

    @staticmethod
    def backward(ctx, g):
        return g * ctx.scale, None, None


def _check(name, input, p):
    checks.tensor(name, "input", input)
    checks.number(name, "p", p, 0.0, 1.0)
    checks.tensor(name, "input", input, floating=True)


def _keep(shape, p, dtype):
    """A 0/1 array of ``shape``: 1 with probability 1 - p, drawn from the global generator."""
    u = rng().random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    return (u >= p).astype(dtype)


def _channels(input, batched):
    """The mask shape of channel-wise dropout: one draw per (sample, channel) of an (N, C, ...) input, or per
    channel of a (C, ...) one, broadcast over the rest."""
    lead = 2 if batched else 1
    return input.shape[:lead] + (1,) * (input.ndim - lead)


def _apply(input, inplace, fn):
    # the ops save only their masks, so writing the result back into input is safe
    return input._inplace(fn) if inplace else fn(input)


def _dropout(input, p, training, inplace, noise_shape):
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        mask = np.zeros((), input.dtype)
    else:
        mask = _keep(noise_shape, p, input.dtype)
        mask *= 1 / (1 - p)
    return _apply(input, inplace, lambda x: Dropout.apply(x, mask))


@checks.typed
def dropout(input, p=0.5, training=True, inplace=False):
    """y = x keep / (1 - p) with keep ~ Bernoulli(1 - p) per element in training; y = x in evaluation"""
    _check("dropout", input, p)
    return _dropout(input, p, training, inplace, input.shape)


@checks.typed
def dropout1d(input, p=0.5, training=True, inplace=False):
    """Dropout of whole channels of an (N, C, L) or (C, L) input (one draw per channel)."""
    _check("dropout1d", input, p)
    if input.ndim not in (2, 3):
        raise checks.error("dropout1d", "2-D (C, L) or 3-D (N, C, L) input",
                           f"input of shape {tuple(input.shape)}")
    return _dropout(input, p, training, inplace, _channels(input, batched=input.ndim == 3))


@checks.typed
def dropout2d(input, p=0.5, training=True, inplace=False):
    """Dropout of whole channels (feature maps) of an (N, C, H, W) input (one draw per (n, c)).
    As PyTorch, a 3-D input is taken as (N, C, L), with a warning."""
    _check("dropout2d", input, p)
    if input.ndim < 2:
        raise checks.error("dropout2d", "an input of at least 2 dims (channel-wise dropout)",
                           f"input of shape {tuple(input.shape)}")
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: received a {input.ndim}-D input; dropout2d is meant for 3D or 4D inputs "
            "(channel-wise dropout over 2 spatial dimensions). Use dropout for other shapes.", stacklevel=2)
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3D input and assuming that channel-wise 1D dropout behavior is desired - "
            "input is interpreted as shape (N, C, L). Use dropout1d for that.", stacklevel=2)
    return _dropout(input, p, training, inplace, _channels(input, batched=True))


@checks.typed
def dropout3d(input, p=0.5, training=True, inplace=False):
    """Dropout of whole channels of an (N, C, D, H, W) or (C, D, H, W) input (one draw per channel)."""
    _check("dropout3d", input, p)
    if input.ndim < 1:
        raise checks.error("dropout3d", "an input of at least 1 dim (channel-wise dropout)", "a 0-d input")
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: received a {input.ndim}-D input; dropout3d is meant for 4D or 5D inputs "
            "(channel-wise dropout over 3 spatial dimensions). Use dropout for other shapes.", stacklevel=2)
    return _dropout(input, p, training, inplace, _channels(input, batched=input.ndim == 5))


def _alpha_dropout(input, p, training, inplace, feature):
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return _apply(input, inplace, lambda x: Dropout.apply(x, np.zeros((), input.dtype)))
    keep = _keep(_channels(input, True) if feature else input.shape, p, input.dtype)
    a = 1 / math.sqrt((_ALPHA_PRIME * _ALPHA_PRIME * p + 1) * (1 - p))
    shift = (keep - 1) * (_ALPHA_PRIME * a)
    shift += _ALPHA_PRIME * a * p
    keep *= a
    return _apply(input, inplace, lambda x: AlphaDropout.apply(x, keep, shift))


@checks.typed
def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units set to -1.7581 (SELU's saturation), then an affine map
    restores zero mean and unit variance. Note training defaults to False, as in PyTorch."""
    _check("alpha_dropout", input, p)
    return _alpha_dropout(input, p, training, inplace, feature=False)


@checks.typed
def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels (one draw per (n, c))."""
    _check("feature_alpha_dropout", input, p)
    if input.ndim < 2:
        raise checks.error("feature_alpha_dropout", "an input of at least 2 dims (channel-wise dropout)",
                           f"input of shape {tuple(input.shape)}")
    return _alpha_dropout(input, p, training, inplace, feature=True)

