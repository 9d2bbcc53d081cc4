"""Argument checks for every op, layer and optimiser, with one message form:

    "{op}: expected {what}, got {value}"

shapes and sequences shown as tuples. A check raises before any NumPy call, so a user never sees a NumPy
traceback. This module imports NumPy alone (``Tensor`` is looked up when first needed), so ops, tensor,
functional, nn and optim can all use it.

The exception classes follow PyTorch: TypeError for a value of the wrong kind, RuntimeError for a
tensor of the wrong shape or dtype, ValueError for a number out of range or an unknown option.
"""

import functools
import inspect
import math
import numbers

import numpy as np

_Tensor = None


def _tensor_class():
    global _Tensor
    if _Tensor is None:
        from convgrad.tensor import Tensor

        _Tensor = Tensor
    return _Tensor


def is_tensor(x):
    return isinstance(x, _tensor_class())


def is_int(v):
    """A Python or NumPy integer, not a bool."""
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_number(v):
    """A real Python or NumPy number, not a bool."""
    return isinstance(v, (numbers.Real, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def show(value):
    """A value as it follows "got": tuples for shapes and sequences, repr for the rest."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)}"
    if is_tensor(value):
        return f"a Tensor of shape {tuple(value.shape)}"
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return repr(value.item())
    return repr(value)


def kind(value):
    """The name of a value's type, as the message of a type check shows it."""
    return type(value).__name__


def shape(t):
    return tuple(t.shape)


def error(op, what, got, exc=RuntimeError):
    """The exception ``"{op}: expected {what}, got {got}"``, for the caller to raise (so the traceback ends at
    the caller's line)."""
    return exc(f"{op}: expected {what}, got {got}")


def tensor(op, name, x, optional=False, floating=False, numeric=False, exc=TypeError):
    """``x`` must be a Tensor (or None when ``optional``), of a floating point dtype when ``floating``, of
    any but bool when ``numeric``."""
    if x is None and optional:
        return
    if not isinstance(x, _Tensor or _tensor_class()):  # every functional op's first check: kept short
        raise error(op, f"{name} to be a Tensor{' or None' if optional else ''}", kind(x), TypeError)
    if floating or numeric:
        dtype_kind = x._data.dtype.kind
        if floating and dtype_kind != "f":
            raise error(op, f"{name} of a floating point dtype", f"{name} of dtype {x.dtype}", exc)
        if numeric and dtype_kind == "b":
            raise error(op, f"{name} of a numeric dtype", f"{name} of dtype bool", exc)


def tensors(op, name, xs):
    """``xs`` must be a non-empty tuple or list of Tensors."""
    if not isinstance(xs, (tuple, list)):
        raise error(op, f"{name} to be a sequence of Tensors", kind(xs), TypeError)
    if not xs:
        raise error(op, f"a non-empty sequence of Tensors as {name}", "an empty sequence", ValueError)
    for i, x in enumerate(xs):
        if not is_tensor(x):
            raise error(op, f"{name}[{i}] to be a Tensor", kind(x), TypeError)


def same_dtype(op, name, t, ref, ref_name="input"):
    if t is not None and t.dtype != ref.dtype:
        raise error(op, f"{name} of the {ref_name}'s dtype {ref.dtype}", f"{name} of dtype {t.dtype}")


def dims(op, name, t, layouts):
    """``t.ndim`` must be a key of ``layouts``, e.g. ``{3: "(C, H, W)", 4: "(N, C, H, W)"}`` (or a tuple of
    allowed ndims when there is nothing to name)."""
    if t.ndim not in layouts:
        want = " or ".join(f"{d}-D {layouts[d]}" if isinstance(layouts, dict) else f"{d}-D" for d in layouts)
        raise error(op, f"{want} {name}", f"{name} of shape {shape(t)}")


_BROADCASTS = {}  # shapes -> their broadcast shape: np.broadcast_shapes costs more than a small op


def broadcast(op, *ts):
    """The tensors' shapes must broadcast together; returns the broadcast shape."""
    shapes = tuple(t._data.shape for t in ts)  # the arrays' shapes: Tensor.shape builds a Size each time
    out = _BROADCASTS.get(shapes)
    if out is None:
        try:
            out = np.broadcast_shapes(*shapes)
        except ValueError:
            raise error(op, "shapes that broadcast", " and ".join(str(shape(t)) for t in ts)) from None
        if len(_BROADCASTS) > 4096:
            _BROADCASTS.clear()
        _BROADCASTS[shapes] = out
    return out


def integer(op, name, v, low=None, exc=ValueError):
    """An int (not a bool), at least ``low`` when given; returned as a Python int."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool) or is_int(v):
        v = int(v)
    else:
        raise error(op, f"{name} to be an int", f"{name}={show(v)} ({kind(v)})", TypeError)
    if low is not None and v < low:
        raise error(op, f"{name} >= {low}", f"{name}={v}", exc)
    return v


def number(op, name, v, low=None, high=None, low_open=False, high_open=False, finite=True, allow_nan=False,
           exc=ValueError):
    """A real number (not a bool; a one-element Tensor is read as its value) in [low, high] (open ends by
    ``low_open``/``high_open``), finite unless ``finite=False``, not NaN unless ``allow_nan``; as a float.
    A Tensor is not a number here, as in PyTorch."""
    if not is_number(v):
        raise error(op, f"{name} to be a number", f"{name}={show(v)} ({kind(v)})", TypeError)
    v = float(v)
    if math.isnan(v):
        if allow_nan:
            return v
        bad = True
    else:
        bad = finite and math.isinf(v)
        bad = bad or low is not None and (v <= low if low_open else v < low)
        bad = bad or high is not None and (v >= high if high_open else v > high)
    if bad:
        if low is not None and high is not None:
            want = f"{name} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            want = f"{name} {'>' if low_open else '>='} {low}"
        elif high is not None:
            want = f"{name} {'<' if high_open else '<='} {high}"
        else:
            want = f"a finite {name}" if finite else f"{name} not NaN"
        raise error(op, want, f"{name}={v}", exc)
    return v


def ints(op, name, value, n, one_ok=True, allow_none=False, low=None, exc=RuntimeError):
    """An int or a sequence of ``n`` ints (or of one, when ``one_ok``; None entries when ``allow_none``), as
    an ``n``-tuple of Python ints, each at least ``low`` when given. A 0-d Tensor counts as an int."""
    if is_tensor(value) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()

    def ok(v):
        return is_int(v) or (allow_none and v is None)

    many = f"a sequence of {n} ints" if n > 1 or not one_ok else "a sequence of 1 int"
    if is_int(value):
        out = (int(value),) * n
    elif isinstance(value, (tuple, list)) and all(ok(v) for v in value):
        if not (len(value) == n or (one_ok and len(value) == 1)) or not value:
            raise error(op, f"{name} to be an int or {many}", f"{name}={show(value)}", exc)
        out = tuple(None if v is None else int(v) for v in value) * (n // len(value))
    else:
        raise error(op, f"{name} to be an int or {many}", f"{name}={show(value)}", TypeError)
    if low is not None and any(v is not None and v < low for v in out):
        raise error(op, f"{name} >= {low}", f"{name}={show(out)}", exc)
    return out


def choice(op, name, value, options, exc=ValueError):
    """``value`` must be one of ``options``."""
    if not any(value is o or (type(value) is type(o) and value == o) for o in options):
        raise error(op, f"{name} to be one of {', '.join(repr(o) for o in options)}", f"{name}={value!r}",
                    exc)
    return value


def boolean(op, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise error(op, f"{name} to be a bool", f"{name}={show(value)} ({kind(value)})", TypeError)
    return bool(value)


def size(op, args, name="size"):
    """A shape given as ints or one sequence of ints (``zeros(2, 3)``, ``zeros((2, 3))``), each >= 0."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if not all(is_int(a) for a in args):
        raise error(op, f"{name} to be a sequence of ints", f"{name}={show(tuple(args))}", TypeError)
    out = tuple(int(a) for a in args)
    if any(a < 0 for a in out):
        raise error(op, f"a {name} of non-negative ints", f"{name}={show(out)}")
    return out


# --------------------------------------------------------------------------- checks read from a signature
_DIM_NAMES = ("dim", "start_dim", "end_dim", "ignore_index")


def _flag(op, name, v):
    if not isinstance(v, (bool, np.bool_)):
        raise error(op, f"{name} to be a bool", f"{name}={show(v)} ({kind(v)})", TypeError)


def _real(op, name, v):
    if not is_number(v):
        raise error(op, f"{name} to be a number", f"{name}={show(v)} ({kind(v)})", TypeError)


def _int(op, name, v):
    if not is_int(v):
        raise error(op, f"{name} to be an int", f"{name}={show(v)} ({kind(v)})", TypeError)


def _int_or_none(op, name, v):
    if v is not None and not is_int(v):
        raise error(op, f"{name} to be an int or None", f"{name}={show(v)} ({kind(v)})", TypeError)


def _reduction(op, name, v):
    choice(op, name, v, ("none", "mean", "sum", "batchmean", "elementwise_mean"))


def _dtype(op, name, v):
    if v is None or isinstance(v, np.dtype) or isinstance(v, type) and issubclass(v, np.generic):
        return
    raise error(op, f"{name} to be a dtype (convgrad.float32, ...) or None", f"{name}={show(v)}", TypeError)


def typed(fn):
    """Decorate a public op so that the arguments whose kind its signature shows are checked first: a bool
    default makes a flag (a bool), a float default a number; ``dim``-like names take an int, ``reduction``
    one of PyTorch's, ``dtype`` a dtype or None. The op's own checks do the rest."""
    op, plan = fn.__name__.rstrip("_") or fn.__name__, []
    for i, p in enumerate(inspect.signature(fn).parameters.values()):
        d = p.default
        if p.name.startswith("_") or d is inspect.Parameter.empty and p.name not in _DIM_NAMES:
            continue
        if isinstance(d, bool):
            plan.append((i, p.name, _flag))
        elif p.name in _DIM_NAMES:
            plan.append((i, p.name, _int_or_none if d is None else _int))
        elif p.name == "reduction":
            plan.append((i, p.name, _reduction))
        elif p.name == "dtype":
            plan.append((i, p.name, _dtype))
        elif isinstance(d, float):
            plan.append((i, p.name, _real))
    if not plan:
        return fn

    first = plan[0][0]  # a call with fewer positional arguments and no keywords (F.relu(x)) checks none

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        n = len(args)
        if n > first or kwargs:
            for i, name, check in plan:
                if i < n:
                    check(op, name, args[i])
                elif name in kwargs:
                    check(op, name, kwargs[name])
        return fn(*args, **kwargs)

    return checked
