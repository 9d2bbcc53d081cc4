"""The ``convgrad.*`` functions on tensors (``tensor``, ``cat``, ``stack``, ``where``, ``matmul``, ...), as
``torch.*``."""

import numbers

import numpy as np

from convgrad import _checks as checks
from convgrad.devices import check_device
from convgrad.ops import elementwise
from convgrad.ops import matmul as matmul_ops
from convgrad.ops import shape as shape_ops
from convgrad.tensor import Tensor, _dtype_of, _infer_array, _promote


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (floats become float32, ints int64, as in PyTorch)."""
    check_device(device, "tensor")
    arr = _infer_array(data, _dtype_of(dtype))
    t = Tensor._make(np.array(arr, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory with a NumPy array or Tensor when the dtype allows."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == np.dtype(dtype) else data.to(dtype)
    return Tensor._make(_infer_array(data, _dtype_of(dtype)))


def from_numpy(array):
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor._make(array)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def _to_tensor(x, like=None, op="tensor"):
    if isinstance(x, Tensor):
        return x
    if not (checks.is_number(x) or isinstance(x, (bool, np.bool_, list, tuple, np.ndarray))):
        raise checks.error(op, "Tensors or numbers", checks.kind(x), TypeError)
    dt = like.dtype if like is not None and isinstance(x, numbers.Number) else None
    return Tensor._make(_infer_array(x, dt))


def matmul(a, b):
    """Matrix product of two tensors (NumPy/PyTorch ``matmul`` semantics)."""
    a, b = _to_tensor(a, op="matmul"), _to_tensor(b, op="matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, got {a.ndim}D and {b.ndim}D tensors"
        )
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        sa = "x".join(map(str, a.shape[-2:] if a.ndim > 1 else (1,) + a.shape))
        sb = "x".join(map(str, b.shape[-2:] if b.ndim > 1 else b.shape + (1,)))
        raise RuntimeError(
            f"matmul: shapes cannot be multiplied ({sa} and {sb}): the first's last dimension ({ka}) "
            f"must equal the second's {'first' if b.ndim == 1 else 'second-to-last'} dimension ({kb})"
        )
    if a.ndim > 2 and b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise RuntimeError(
                f"matmul: batch dimensions {tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} do not broadcast"
            ) from None
    if a.dtype != b.dtype:  # PyTorch does not promote here
        raise checks.error("matmul", "two tensors of one dtype", f"{a.dtype} and {b.dtype}")
    return matmul_ops.MatMul.apply(a, b)


mm = bmm = matmul


_BROADCASTS = {}  # shapes -> their broadcast shape: np.broadcast_shapes costs more than a small op


def _broadcast_check(name, *ts):
    shapes = tuple([t._data.shape for t in ts])
    out = _BROADCASTS.get(shapes)
    if out is not None:
        return out
    try:
        out = np.broadcast_shapes(*shapes)
    except ValueError:
        shapes = " and ".join(str(tuple(t.shape)) for t in ts)
        raise checks.error(name, "shapes that broadcast", shapes) from None
    if len(_BROADCASTS) > 4096:
        _BROADCASTS.clear()
    _BROADCASTS[shapes] = out
    return out


def maximum(a, b):
    checks.tensor("maximum", "input", a)
    checks.tensor("maximum", "other", b)
    _broadcast_check("maximum", a, b)
    dt = _promote(a, b)  # PyTorch's rule (NumPy's would make int64 with float32 float64)
    return elementwise.Maximum.apply(a if a.dtype == dt else a.to(dt), b if b.dtype == dt else b.to(dt))


def minimum(a, b):
    checks.tensor("minimum", "input", a)
    checks.tensor("minimum", "other", b)
    _broadcast_check("minimum", a, b)
    dt = _promote(a, b)  # PyTorch's rule (NumPy's would make int64 with float32 float64)
    return elementwise.Minimum.apply(a if a.dtype == dt else a.to(dt), b if b.dtype == dt else b.to(dt))


def where(condition, input=None, other=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64)) for i in np.nonzero(cond))
    if cond.dtype != bool:
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got {cond.dtype}")
    ref = input if isinstance(input, Tensor) else other
    a = _to_tensor(input, ref, op="where")
    b = _to_tensor(other, ref, op="where")
    if a.dtype != b.dtype:
        dt = _promote(a, b)
        a, b = a.to(dt), b.to(dt)
    _broadcast_check("where", Tensor._make(cond), a, b)
    return elementwise.Where.apply(cond, a, b)


def cat(tensors, dim=0):
    """Join tensors along an existing ``dim``; all other sizes must agree."""
    checks.tensors("cat", "tensors", tensors)
    ref = tensors[0]
    d = ref._dim(dim, op="cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or t.shape[:d] + t.shape[d + 1:] != ref.shape[:d] + ref.shape[d + 1:]:
            raise RuntimeError(
                f"cat(): sizes of tensors must match except in dimension {d}; expected "
                f"{tuple(ref.shape)} (any size at dim {d}), got {tuple(t.shape)} for tensor {i}"
            )
    dt = ref.dtype
    for t in tensors[1:]:
        if t.dtype != dt:
            dt = _promote(Tensor._make(np.zeros(0, dt)), t)
    tensors = [t if t.dtype == dt else t.to(dt) for t in tensors]
    return shape_ops.Cat.apply(d, *tensors)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new ``dim``."""
    checks.tensors("stack", "tensors", tensors)
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise checks.error("stack", f"tensors of one shape ({tuple(tensors[0].shape)}, entry 0's)",
                               f"{tuple(t.shape)} at entry {i}")
    d = tensors[0]._dim(dim, tensors[0].ndim + 1, op="stack")
    dt = tensors[0].dtype
    tensors = [t if t.dtype == dt else t.to(dt) for t in tensors]
    return shape_ops.Stack.apply(d, *tensors)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    return tensor.split(split_size_or_sections, dim)


def chunk(tensor, chunks, dim=0):
    return tensor.chunk(chunks, dim)
