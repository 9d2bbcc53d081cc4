"""The ``convgrad.*`` functions that are Tensor methods (``convgrad.sum(x, 1)`` is ``x.sum(1)``), with
PyTorch's checks: ``input`` must be a Tensor (a NumPy array is refused, not silently handed to NumPy),
and ``out=`` writes the result into a given tensor, as PyTorch does:

- ``out`` takes the result's values in place (a view writes through to its base);
- its dtype may be wider than the result's, in the same or a higher category (bool < int < float);
- a shape that differs is resized, with a warning unless ``out`` had no elements;
- out= records no graph, so it refuses inputs that require grad while grad mode is on.
"""

import builtins
import warnings

import numpy as np

from convgrad import _checks as checks
from convgrad import tensor_functions as _tf
from convgrad.autograd.grad_mode import _state, no_grad
from convgrad.tensor import Tensor, _promote, get_default_dtype

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def check_input(name, input, position=1, arg="input"):
    """``input`` must be a Tensor: a NumPy array is refused, as PyTorch refuses it."""
    if not isinstance(input, Tensor):
        raise checks.error(name, f"{arg} to be a Tensor", checks.kind(input), TypeError)


def _check_out_grad(name, out, args):
    if not _state.enabled:
        return
    outs = out if isinstance(out, (tuple, list)) else (out,)
    flat = []
    for a in args:
        flat.extend(a if isinstance(a, (tuple, list)) else (a,))
    if builtins.any(isinstance(t, Tensor) and t.requires_grad for t in (*flat, *outs)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")


def write_out(name, result, out):
    """Copy ``result`` (a Tensor, or a tuple of them) into ``out`` in place; return ``out``."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): expected out to be a tuple of {len(result)} Tensors, got {out!r}")
        written = [write_out(name, r, o) for r, o in zip(result, out)]
        return type(result)(*written) if type(result) is not tuple else tuple(written)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    r = result._data if isinstance(result, Tensor) else np.asarray(result)
    if _CATEGORY[r.dtype.kind] > _CATEGORY[out._data.dtype.kind]:
        raise RuntimeError(f"{name}: expected out to have a dtype the result's {r.dtype} can be cast to, "
                           f"got {out._data.dtype}")
    if out._data.shape != r.shape:
        if out._data.size:
            warnings.warn(
                f"{name}: an output with one or more elements was resized since it had shape "
                f"{tuple(out._data.shape)}, which does not match the required output shape {tuple(r.shape)} "
                f"(PyTorch warns too: resize out to zero elements with out.resize_(0) to reuse it)",
                UserWarning, stacklevel=3)
        out._data = np.empty(r.shape, out._data.dtype)
    np.copyto(out._data, r, casting="unsafe")
    out._bump_version()
    return out


def _with_out(name, compute, out, args):
    _check_out_grad(name, out, args)
    with no_grad():
        result = compute()
    return write_out(name, result, out)


def _method_function(name, has_out):
    """``name(input, *args, **kwargs)`` calling ``input.name(*args, **kwargs)``; with ``out=`` if
    PyTorch's ``name`` takes it."""
    if has_out:
        def fn(input, *args, out=None, **kwargs):
            check_input(name, input)
            if out is None:
                return getattr(input, name)(*args, **kwargs)
            return _with_out(name, lambda: getattr(input, name)(*args, **kwargs), out, (input, *args))
    else:
        def fn(input, *args, **kwargs):
            check_input(name, input)
            return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name}(input, ...)`` is ``input.{name}(...)``" + (", with ``out=``." if has_out else ".")
    return fn


# the functions whose PyTorch form takes out=, and those whose does not
WITH_OUT = (
    "exp exp2 log log2 log10 log1p expm1 sqrt rsqrt abs neg negative sin cos tan asin acos atan sinh cosh "
    "tanh sigmoid clamp clip sign floor ceil round trunc frac square reciprocal pow add sub mul div "
    "true_divide floor_divide remainder fmod lerp addmm addmv addbmm baddbmm addcmul addcdiv mv dot outer "
    "sum mean nansum nanmean prod max min amax amin aminmax argmax argmin var std logsumexp norm median "
    "kthvalue "
    "topk sort cumsum cumprod all any gather index_select masked_select take nonzero diag tril triu diff "
    "histc logical_not logical_and logical_or logical_xor eq ne lt le gt ge greater less greater_equal "
    "less_equal not_equal"
).split()
WITHOUT_OUT = (
    "relu argsort reshape flatten unflatten permute transpose swapaxes t squeeze unsqueeze flip roll narrow "
    "movedim moveaxis tile repeat_interleave diagonal trace unbind masked_fill index_fill index_add "
    "index_copy scatter scatter_add isnan isinf isfinite isclose equal allclose numel clone detach softmax "
    "log_softmax count_nonzero unique bincount std_mean broadcast_to is_nonzero"
).split()

for _name in WITH_OUT:
    globals()[_name] = _method_function(_name, True)
for _name in WITHOUT_OUT:
    globals()[_name] = _method_function(_name, False)
del _name


def _tensors_arg(name, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (tuple, list)):
        raise checks.error(name, "tensors to be a sequence of Tensors", checks.kind(tensors), TypeError)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise checks.error(name, f"tensors[{i}] to be a Tensor", checks.kind(t), TypeError)


def _joining(name, join):
    def fn(tensors, dim=0, *, out=None):
        _tensors_arg(name, tensors)
        if out is None:
            return join(tensors, dim)
        return _with_out(name, lambda: join(tensors, dim), out, (tensors,))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = join.__doc__
    return fn


cat = concat = concatenate = _joining("cat", _tf.cat)
stack = _joining("stack", _tf.stack)


def _atleast_1d(t):
    return t.reshape(1) if t.ndim == 0 else t


def _atleast_2d(t):
    return t.reshape(1, -1) if t.ndim < 2 else t


def _atleast_3d(t):
    # PyTorch's (and NumPy's) rule: (n,) -> (1, n, 1), (n, m) -> (n, m, 1)
    return t.reshape(1, -1, 1) if t.ndim < 2 else t.unsqueeze(-1) if t.ndim == 2 else t


def hstack(tensors, *, out=None):
    """Join horizontally: along dimension 1, or 0 for 1-D tensors."""
    _tensors_arg("hstack", tensors)
    ts = [_atleast_1d(t) for t in tensors]
    return cat(ts, 0 if builtins.all(t.ndim == 1 for t in ts) else 1, out=out)


def vstack(tensors, *, out=None):
    """Join vertically: along dimension 0, 1-D tensors as rows."""
    _tensors_arg("vstack", tensors)
    return cat([_atleast_2d(t) for t in tensors], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    """Join depth-wise: along dimension 2, after making each tensor at least 3-D."""
    _tensors_arg("dstack", tensors)
    return cat([_atleast_3d(t) for t in tensors], 2, out=out)


def _two_tensor(name, fn2):
    def fn(input, other, *, out=None):
        check_input(name, input)
        check_input(name, other, 2, "other" if name not in ("mm", "bmm", "matmul") else "mat2")
        if out is None:
            return fn2(input, other)
        return _with_out(name, lambda: fn2(input, other), out, (input, other))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = fn2.__doc__
    return fn


matmul = _two_tensor("matmul", _tf.matmul)
mm = _two_tensor("mm", Tensor.mm)
bmm = _two_tensor("bmm", Tensor.bmm)
maximum = _two_tensor("maximum", _tf.maximum)
minimum = _two_tensor("minimum", _tf.minimum)


def where(condition, input=None, other=None, *, out=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (one-argument form: ``nonzero``)."""
    if out is None:
        return _tf.where(condition, input, other)
    return _with_out("where", lambda: _tf.where(condition, input, other), out, (input, other))


# ---------------------------------------------------------------------- functions of several tensors
def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; operands may also come as one list."""
    from convgrad.ops.einsum import Einsum, parse

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        check_input("einsum", t, i + 2, "operands")
    ins, out = parse(equation, len(operands))
    for sub, t in zip(ins, operands):
        if len(sub) != t.ndim:
            raise RuntimeError(f"einsum: expected operand '{sub}' to have {len(sub)} dimensions, got shape "
                               f"{tuple(t.shape)}")
    sizes = {}
    for sub, t in zip(ins, operands):
        for c, n in zip(sub, t.shape):
            if sizes.setdefault(c, n) != n:
                raise RuntimeError(f"einsum: expected subscript '{c}' to have one size, got {sizes[c]} "
                                   f"and {n}")
    dt = operands[0].dtype
    operands = [t if t.dtype == dt else t.to(np.promote_types(dt, t.dtype)) for t in operands]
    return Einsum.apply(ins, out, *operands)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape."""
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def broadcast_shapes(*shapes):
    try:
        return _size_type()(np.broadcast_shapes(*(tuple(s) if isinstance(s, (tuple, list)) else (s,)
                                                  for s in shapes)))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: expected shapes that broadcast, got "
                           f"{', '.join(str(tuple(s)) for s in shapes)}") from None


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors; ``indexing='ij'`` (PyTorch's default) or ``'xy'``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: expected indexing 'ij' or 'xy', got {indexing!r}")
    for i, t in enumerate(tensors):
        check_input("meshgrid", t, i + 1, "tensors")
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    grids = [t.reshape((1,) * i + (-1,) + (1,) * (len(ts) - i - 1)).expand(shape) for i, t in enumerate(ts)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value would go in ``sorted_sequence`` (its last dimension) to keep it sorted."""
    check_input("searchsorted", sorted_sequence, 1, "sorted_sequence")
    side = side or ("right" if right else "left")
    seq = sorted_sequence._data
    vals = input._data if isinstance(input, Tensor) else np.asarray(input)
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._data, -1)
    if seq.ndim <= 1:
        idx = np.searchsorted(seq, vals, side=side)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(f"searchsorted: expected sorted_sequence and input to agree in all but the "
                               f"last dimension, got {tuple(seq.shape)} and {tuple(vals.shape)}")
        rows_s, rows_v = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        idx = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(rows_s, rows_v)]).reshape(vals.shape)
    return Tensor._make(np.asarray(idx, np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value: i with boundaries[i-1] < x <= boundaries[i] (right=True: <= x <)."""
    check_input("bucketize", boundaries, 2, "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: expected 1-D boundaries, got shape {tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    check_input("std_mean", input)
    return input.std(dim, unbiased, keepdim, correction), input.mean(dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    check_input("var_mean", input)
    return input.var(dim, unbiased, keepdim, correction), input.mean(dim, keepdim)


def _size_type():
    from convgrad.size import Size

    return Size


# ---------------------------------------------------------------------- dtypes, flags, creation
def finfo(type=None):  # noqa: A002  (PyTorch's argument name)
    """Limits of a floating point dtype (``eps``, ``max``, ``min``, ``tiny``, ``bits``, ...)."""
    return np.finfo(get_default_dtype() if type is None else np.dtype(type))


def iinfo(type):  # noqa: A002
    """Limits of an integer dtype (``max``, ``min``, ``bits``)."""
    return np.iinfo(np.dtype(type))


_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(type1, type2):
    """The dtype an operation on the two returns, by PyTorch's rule: the higher category wins whole
    (int64 with float32 is float32), within one category the wider type."""
    a, b = np.dtype(type1), np.dtype(type2)
    if _RANK[a.kind] != _RANK[b.kind]:
        return a if _RANK[a.kind] > _RANK[b.kind] else b
    return np.promote_types(a, b)


def result_type(tensor, other):
    check_input("result_type", tensor, 1, "tensor")
    if isinstance(other, Tensor):
        if (tensor.ndim == 0) != (other.ndim == 0):
            # a 0-d tensor decides only when of a higher category than the dimensioned one
            z, d = (tensor, other) if tensor.ndim == 0 else (other, tensor)
            return z.dtype if _RANK[z.dtype.kind] > _RANK[d.dtype.kind] else d.dtype
        return promote_types(tensor.dtype, other.dtype)
    return _promote(tensor, other)


def can_cast(from_, to):
    """Whether PyTorch's out= and in-place ops may cast ``from_`` to ``to`` (never down a category)."""
    return _RANK[np.dtype(from_).kind] <= _RANK[np.dtype(to).kind]


def is_complex(input):
    check_input("is_complex", input)
    return input.dtype.kind == "c"


def is_nonzero(input):
    check_input("is_nonzero", input)
    if input.numel() != 1:
        raise RuntimeError(f"is_nonzero: expected a tensor with one element, got shape {tuple(input.shape)}")
    return bool(input.item())


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values from base**start to base**end, evenly spaced in the exponent."""
    from convgrad.factories import linspace

    exps = linspace(start, end, steps, dtype=np.float64, device=device)._data
    dt = get_default_dtype() if dtype is None else np.dtype(dtype)
    t = Tensor._make((float(base) ** exps).astype(dt))
    return t.requires_grad_(True) if requires_grad else t


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    """``randint_like(input, high)`` or ``randint_like(input, low, high)``: integers on [low, high)."""
    from convgrad.factories import randint

    check_input("randint_like", input)
    if high is None:
        low, high = 0, low
    t = randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype, device=device)
    return t.requires_grad_(True) if requires_grad else t


_flags = {"deterministic": False, "warn_only": False, "matmul_precision": "highest"}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Accepted as PyTorch's: convgrad's algorithms are deterministic already."""
    _flags["deterministic"], _flags["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _flags["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _flags["warn_only"]


def set_float32_matmul_precision(precision):
    """Accepted as PyTorch's ('highest', 'high', 'medium'): convgrad's float32 products are always
    computed in float32."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got "
                           f"{precision!r}")
    _flags["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _flags["matmul_precision"]


def compile(model=None, **options):  # noqa: A001  (PyTorch's name)
    """``torch.compile`` speeds a model up by compiling it; convgrad returns it unchanged (same results,
    no compilation). Works as ``compile(model)`` and as the decorator ``@compile`` / ``@compile(...)``."""
    if model is None:
        return lambda m: m
    return model


# what `from convgrad.toplevel import *` gives convgrad: every function defined here but the helpers
__all__ = sorted(n for n, v in list(globals().items())
                 if callable(v) and getattr(v, "__module__", None) == __name__ and not n.startswith("_")
                 and n not in ("check_input", "write_out"))
