"""``convgrad.testing.assert_close``, as ``torch.testing.assert_close``: shapes and dtypes must match,
values must satisfy |actual - expected| <= atol + rtol |expected| with per-dtype defaults."""

import numbers

import numpy as np

from convgrad.tensor import Tensor

# dtype -> (rtol, atol), PyTorch's defaults
_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _as_array(x):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, numbers.Number):
        return np.asarray(x)
    raise TypeError(f"assert_close: expected Tensors, arrays or numbers, got {type(x).__name__}")


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError, saying where and by how much, unless ``actual`` is close to ``expected``
    (sequences and dicts are compared item by item)."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"assert_close: expected both rtol and atol or neither, got rtol={rtol}, "
                         f"atol={atol}")
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=msg)
        return
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            raise AssertionError(f"The keys of the mappings do not match: {sorted(actual)} != "
                                 f"{sorted(expected)}")
        for k in actual:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    a, e = _as_array(actual), _as_array(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {tuple(a.shape)} != "
                                    f"{tuple(e.shape)}.")
    if check_dtype and isinstance(actual, Tensor) and a.dtype != e.dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(np.result_type(a, e).name, (0.0, 0.0))
    close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if close.all():
        return
    diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
    bad = np.where(close, -1.0, np.nan_to_num(diff, nan=np.inf))  # NaN against a number counts as worst
    where = np.unravel_index(np.argmax(bad), a.shape) if a.ndim else ()
    raise AssertionError(msg or (
        f"Tensor-likes are not close!\n\nMismatched elements: {int((~close).sum())} / {close.size} "
        f"({100 * (~close).mean():.1f}%)\nGreatest absolute difference: {bad.max()} at index "
        f"{tuple(int(i) for i in where)} (up to {atol} allowed)"))
