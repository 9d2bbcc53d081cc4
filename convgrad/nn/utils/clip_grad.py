"""Gradient clipping: scale all gradients so that their joint norm is at most ``max_norm``
(``clip_grad_norm_``), or clamp each gradient element to [-clip_value, clip_value]."""

import math
import warnings

import numpy as np

from convgrad.tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(array, norm_type):
    a = array.reshape(-1)
    if norm_type == math.inf:
        return np.abs(a).max(initial=0)
    if norm_type == -math.inf:
        return np.abs(a).min(initial=np.inf)
    if norm_type == 2:
        return np.sqrt(np.dot(a, a)) if a.dtype.kind == "f" else np.linalg.norm(a)
    if norm_type == 1:
        return np.abs(a).sum()
    if norm_type == 0:
        return np.count_nonzero(a).astype(a.dtype)
    return (np.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
    ``norm_type``-norm of all gradients taken together. Returns total_norm (a 0-d tensor)."""
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return Tensor._make(np.zeros((), np.float32))
    norms = np.array([_norm(g._data, norm_type) for g in grads])
    dtype = np.result_type(*[g._data.dtype for g in grads])
    total = _norm(norms.astype(dtype), norm_type).astype(dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot "
            "be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    coef = np.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g._data *= coef.astype(g._data.dtype)
        g._bump_version()
    return Tensor._make(np.asarray(total, dtype))


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("clip_grad_norm is deprecated in favour of clip_grad_norm_", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        g._bump_version()
