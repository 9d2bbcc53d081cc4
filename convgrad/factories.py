"""Tensor factories: ``zeros``, ``ones``, ``full``, ``arange``, ``rand``, ... (PyTorch's signatures)."""

import numbers

import numpy as np

from convgrad import _checks as checks
from convgrad.devices import check_device
from convgrad.random import rng
from convgrad.tensor import Tensor, get_default_dtype


def _size(op, size):
    return checks.size(op, size)


def _make(array, requires_grad, device=None, op="factory"):
    check_device(device, op)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dt(dtype):
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(_size("zeros", size), _dt(dtype)), requires_grad, device, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(_size("ones", size), _dt(dtype)), requires_grad, device, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.empty(_size("empty", size), _dt(dtype)), requires_grad, device, "empty")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if not isinstance(size, (tuple, list)):
        raise checks.error("full", "size to be a tuple of ints", f"size={checks.show(size)}", TypeError)
    if not checks.is_number(fill_value) and not isinstance(fill_value, (bool, np.bool_)):
        raise checks.error("full", "fill_value to be a number", checks.kind(fill_value), TypeError)
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else
                 np.int64 if isinstance(fill_value, numbers.Integral) else get_default_dtype())
    return _make(np.full(_size("full", (size,)), fill_value, np.dtype(dtype)), requires_grad, device, "full")


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(t.shape, dtype or t.dtype), requires_grad, device, "zeros_like")


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(t.shape, dtype or t.dtype), requires_grad, device, "ones_like")


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _make(np.empty(t.shape, dtype or t.dtype), requires_grad, device, "empty_like")


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return _make(np.full(t.shape, fill_value, dtype or t.dtype), requires_grad, device, "full_like")


def rand_like(t, dtype=None, device=None, requires_grad=False, generator=None):
    return rand(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad,
                generator=generator)


def randn_like(t, dtype=None, device=None, requires_grad=False, generator=None):
    return randn(*t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad,
                 generator=generator)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 when all are integers."""
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        checks.number("arange", name, v, exc=RuntimeError)
    if step == 0:
        raise checks.error("arange", "a non-zero step", "step=0")
    if (end - start) * step < 0:
        raise checks.error("arange", "end on the side of start that step goes to",
                           f"start={start}, end={end}, step={step}")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    return _make(np.arange(start, end, step).astype(dtype), requires_grad, device, "arange")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _make(np.linspace(start, end, steps).astype(_dt(dtype)), requires_grad, device, "linspace")


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    n = checks.integer("eye", "n", n, low=0, exc=RuntimeError)
    if m is not None:
        m = checks.integer("eye", "m", m, low=0, exc=RuntimeError)
    return _make(np.eye(n, m, dtype=_dt(dtype)), requires_grad, device, "eye")


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    dt = _dt(dtype)
    arr = rng(generator).random(_size("rand", size), dtype=np.float64)
    return _make(arr.astype(dt, copy=False), requires_grad, device, "rand")


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal."""
    dt = _dt(dtype)
    arr = rng(generator).standard_normal(_size("randn", size))
    return _make(arr.astype(dt, copy=False), requires_grad, device, "randn")


def randint(low, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers uniform on [low, high)."""
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    arr = rng(generator).integers(low, high, _size("randint", (size,)), dtype=np.int64)
    return _make(arr.astype(dtype or np.int64, copy=False), requires_grad, device, "randint")


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1."""
    n = checks.integer("randperm", "n", n, low=0, exc=RuntimeError)
    return _make(rng(generator).permutation(n).astype(dtype or np.int64), requires_grad, device, "randperm")


def normal(mean, std, size=None, generator=None):
    m = getattr(mean, "_data", mean)
    s = getattr(std, "_data", std)
    if size is None:
        size = np.broadcast_shapes(np.shape(m), np.shape(s))
    noise = rng(generator).standard_normal(_size("normal", (size,)))
    return _make((m + s * noise).astype(get_default_dtype()), False)


def bernoulli(p, generator=None):
    pa = p._data if isinstance(p, Tensor) else np.asarray(p)
    return _make((rng(generator).random(pa.shape) < pa).astype(pa.dtype), False)


def multinomial(probs, num_samples, replacement=False, generator=None):
    pa = np.asarray(probs._data if isinstance(probs, Tensor) else probs, np.float64)
    g = rng(generator)
    rows = pa.reshape(-1, pa.shape[-1])
    out = np.stack([g.choice(r.size, num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return _make(out.reshape(pa.shape[:-1] + (num_samples,)).astype(np.int64), False)
