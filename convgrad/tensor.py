"""``Tensor``: a NumPy array plus what reverse-mode autodiff needs (``requires_grad``, ``grad``,
``grad_fn``). Every differentiable method calls an op from ``convgrad.ops`` by name; the reductions, shape
methods and in-place methods are in ``convgrad.tensor_methods``, the ``convgrad.*`` functions on tensors
(``cat``, ``where``, ``matmul``, ...) in ``convgrad.tensor_functions``."""

import numbers

import numpy as np

from convgrad import _checks as checks
from convgrad import devices as _devices
from convgrad._unsupported import NotProvidedMethods
from convgrad.autograd import function
from convgrad.autograd.function import RemovableHandle, RetainGrad
from convgrad.autograd.grad_mode import _state
from convgrad.devices import check_device, cpu
from convgrad.dtypes import bool_, float16, float32, float64, int32, int64
from convgrad.ops import elementwise
from convgrad.ops import math as math_ops
from convgrad.ops import shape as shape_ops
from convgrad.printing import array_string
from convgrad.size import Size
from convgrad.tensor_methods.creation import CreationMethods
from convgrad.tensor_methods.indexing import IndexingMethods
from convgrad.tensor_methods.inplace import InPlaceMethods
from convgrad.tensor_methods.math import MathMethods
from convgrad.tensor_methods.reduction import ReductionMethods
from convgrad.tensor_methods.shape import ShapeMethods

_default_dtype = [float32]


def _engine():
    """convgrad.autograd.engine (it imports this module, so it is looked up on first use)."""
    import convgrad.autograd.engine as engine

    return engine


def get_default_dtype():
    return _default_dtype[0]


def set_default_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating point dtype, got {dtype}")
    _default_dtype[0] = dtype


def _dtype_of(dtype):
    return None if dtype is None else np.dtype(dtype)


def _infer_array(data, dtype=None):
    """Array from Python data with PyTorch's dtype rules: floats -> float32, ints -> int64."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        if isinstance(data, (list, tuple)) and data and any(isinstance(d, Tensor) for d in data):
            data = [d._data if isinstance(d, Tensor) else d for d in data]
        try:
            arr = np.asarray(data)
        except ValueError:
            _check_rectangular(data)
            raise
        if dtype is None:
            if arr.dtype.kind == "f":
                arr = arr.astype(_default_dtype[0])
            elif arr.dtype.kind in "iu" and arr.dtype != np.uint8:
                arr = arr.astype(np.int64)
            elif arr.dtype.kind not in "fiub":
                raise checks.error("tensor", "numbers, bools or nested sequences of them",
                                   f"data of type {checks.kind(data)}", TypeError)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def _check_rectangular(data, dim=0):
    """Nested sequences must have one length per dim, as an array: name the first ragged one."""
    if not isinstance(data, (list, tuple)):
        return
    lengths = {len(d) if isinstance(d, (list, tuple)) else None for d in data}
    if len(lengths) > 1:
        first = len(data[0]) if isinstance(data[0], (list, tuple)) else "a number"
        for d in data:
            n = len(d) if isinstance(d, (list, tuple)) else "a number"
            if n != first:
                raise checks.error("tensor", f"a sequence of length {first} at dim {dim + 1} (every row of "
                                   "one length)", f"{'length ' if isinstance(n, int) else ''}{n}", ValueError)
    for d in data:
        _check_rectangular(d, dim + 1)


def _promote(a, b):
    """Result dtype of a binary op, as PyTorch: an integer tensor with a float tensor or Python float
    becomes the float type (float32 by default); two floats take the wider."""
    if isinstance(b, Tensor):
        bd = b._data.dtype
        ad = a._data.dtype
        if ad == bd:
            return ad
        if ad.kind == "f" and bd.kind != "f":
            return ad
        if bd.kind == "f" and ad.kind != "f":
            return bd
        if ad.kind == "b":
            return bd
        if bd.kind == "b":
            return ad
        return np.promote_types(ad, bd)
    ad = a._data.dtype
    if isinstance(b, bool):
        return ad
    if isinstance(b, numbers.Integral):
        return ad if ad.kind != "b" else np.dtype(np.int64)
    if isinstance(b, numbers.Real):
        return ad if ad.kind == "f" else _default_dtype[0]
    return None


_UNVERSIONED = (0,)


_SIZES = {}  # NumPy shape -> its Size: .shape is read on every op, and a Size is immutable, so share them


def _as_size(shape):
    size = _SIZES.get(shape)
    if size is None:
        if len(_SIZES) > 4096:
            _SIZES.clear()
        size = _SIZES[shape] = tuple.__new__(Size, shape)  # NumPy's shape is ints already
    return size


_relu = elementwise.ReLU._apply_one  # bound once: x.relu() is on every small net's hot path


def _named(method, name, doc=None):
    method.__name__, method.__qualname__, method.__doc__ = name, f"Tensor.{name}", doc
    return method


def _arithmetic(op, reverse=False):
    """The operator method running the binary op on (x, other), or on (other, x) when ``reverse``. Two
    tensors of one dtype and shape (most calls) go straight to the op; the rest through ``Tensor._binary``
    (type promotion, numbers, the broadcast check)."""
    pair = op._apply_pair

    def method(self, other):
        if not reverse and isinstance(other, Tensor):
            a, b = self._data, other._data
            dtype, shape = a.dtype, a.shape
            if dtype is b.dtype and shape == b.shape:
                return pair(self, other, shape, dtype)
        return self._binary(other, op, reverse)

    return _named(method, f"__{'r' if reverse else ''}{op.__name__.lower()}__")


def _to(dtype):
    """The method ``x.float()`` (and kin): ``x.to(dtype)``."""
    def method(self):
        return self.to(dtype)

    return method


def _float_unary(op):
    """The method ``x.f()`` running the elementwise op (a ``UnaryOp``) on x, integers promoted to floats."""
    one = op._apply_one

    def method(self):
        return one(self if self._data.dtype.kind == "f" else self.float())

    return _named(method, op.__name__.lower(), op.__doc__)


def _no_grad(fn):
    """The method ``x.f()`` for a NumPy function with no gradient (piecewise constant, or bool results)."""
    def method(self):
        return Tensor._make(fn(self._data))

    return _named(method, fn.__name__)


def _no_grad_binary(fn, on_bool=None):
    """The method ``x.f(other)`` for a NumPy function of two arrays with no gradient (comparisons, logic);
    ``on_bool`` replaces ``fn`` when x is bool."""
    def method(self, other):
        o = other._data if isinstance(other, Tensor) else other
        return Tensor._make((on_bool if on_bool is not None and self.dtype == bool_ else fn)(self._data, o))

    return method


class Tensor(ReductionMethods, ShapeMethods, InPlaceMethods, MathMethods, IndexingMethods, CreationMethods,
             NotProvidedMethods):
    """A multi-dimensional array that records, when asked, how it was computed, so ``backward()`` can
    compute gradients of a scalar with respect to every tensor that ``requires_grad``.

    The values live in the NumPy array ``_data``; ``data`` is, as in PyTorch, a detached Tensor on the
    same storage."""

    __array_priority__ = 1000  # NumPy defers to our reflected operators
    # Defaults live on the class so creating a tensor (once per op) sets one attribute, not nine.
    requires_grad = False
    grad = None
    grad_fn = None
    _output_nr = 0
    _accumulator = None
    _vc = _UNVERSIONED  # version counter, a one-element list shared with views; made on first write
    _hooks = None
    _post_accumulate_hooks = None
    _retains_grad = False
    _base = None  # a view's root tensor: the one whose memory it shares (ops.shape.View)
    _views = None  # a root's views made in a graph ({id: weakref}), renewed by in-place ops on the root
    _view_kind = None  # "multi-output" (split's), "no_grad" (made with grad off) or "no_grad view's view"

    def __init__(self, data=None, requires_grad=False, dtype=None):
        if data is None:
            data = np.zeros((0,), _default_dtype[0])
        arr = _infer_array(data, _dtype_of(dtype))
        if arr.dtype.kind == "i" and not isinstance(data, (np.ndarray, Tensor)):
            arr = arr.astype(_default_dtype[0])  # torch.Tensor([1, 2]) is float
        self._data = arr
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, array, requires_grad=False):
        t = object.__new__(cls)
        t._data = array
        if requires_grad:
            t.requires_grad = True
        return t

    @staticmethod
    def _new(array):
        return Tensor._make(array)

    # ------------------------------------------------------------------ properties
    @property
    def data(self):
        """This tensor's storage as a new Tensor outside the graph, as PyTorch's ``.data``: changes made
        through it (``w.data.normal_(0, 0.02)``) are not recorded and not seen by the version check.
        The NumPy array itself is ``numpy()`` (library code reads ``_data``)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def shape(self):
        return _as_size(self._data.shape)

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def device(self):
        return cpu

    @property
    def is_cuda(self):
        return False

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        return self._vc[0]

    @property
    def T(self):
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def dim(self):
        return self._data.ndim

    def size(self, dim=None):
        if dim is None:
            return _as_size(self._data.shape)
        return self._data.shape[self._dim(dim, op="size")]

    def numel(self):
        return self._data.size

    def nelement(self):
        return self._data.size

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        return self._data.flags.c_contiguous

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[self._dim(dim, op="stride")]

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def _bump_version(self):
        if self._vc is _UNVERSIONED:
            self._vc = [0]
        self._vc[0] += 1

    def _dim(self, dim, ndim=None, op="dim"):
        """Normalise a possibly negative ``dim``; out of range raises IndexError as PyTorch. ``op`` names
        the caller in the message."""
        n = self._data.ndim if ndim is None else ndim
        lo, hi = (-n, n - 1) if n > 0 else (-1, 0)
        if not checks.is_int(dim):
            raise checks.error(op, "dim to be an int", f"dim={checks.show(dim)} ({checks.kind(dim)})",
                               TypeError)
        if dim < lo or dim > hi:
            raise checks.error(op, f"dim in [{lo}, {hi}] (a tensor of {n} dims)", f"dim={dim}", IndexError)
        return dim % n if n else 0

    def _dims(self, dim, op="dim"):
        if dim is None:
            return None
        if isinstance(dim, (tuple, list)):
            if len(dim) == 0:
                return None
            dims = tuple(self._dim(d, op=op) for d in dim)
            if len(set(dims)) != len(dims):
                raise checks.error(op, "distinct dims", f"dim={tuple(dim)}")
            return dims
        return self._dim(dim, op=op)

    # ------------------------------------------------------------------ conversion
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar "
                f"(item() needs exactly one element; shape is {tuple(self.shape)})"
            )
        return self._data.reshape(()).item()

    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        return self._data

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {tuple(self.shape)})"
            )
        return bool(self._data.reshape(()))

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        body = array_string(self._data, "tensor(")
        extras = []
        if self._data.dtype not in (_default_dtype[0], np.dtype(np.int64), np.dtype(bool)) or (
            self._data.size == 0
        ):
            extras.append(f"dtype=convgrad.{self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Add the gradient of this tensor w.r.t. every leaf that requires grad to their ``.grad`` (only to
        ``inputs``' when given). A non-scalar needs ``gradient`` (dL/dself). ``create_graph=True`` records
        the gradients, for higher-order derivatives."""
        _engine().backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                           inputs=inputs)

    def _is_view(self):
        return self._base is not None

    def __getstate__(self):
        # a pickled view holds a copy of its elements, not its base's (nor the references to views)
        state = self.__dict__
        if "_base" in state or "_views" in state:
            state = {k: v for k, v in state.items() if k not in ("_base", "_views", "_view_kind")}
        return state

    def detach(self):
        """The same data, cut from the graph (shares memory and the version counter)."""
        t = Tensor._make(self._data)
        if self._vc is _UNVERSIONED:
            self._vc = [0]
        t._vc = self._vc
        return t

    def detach_(self):
        if self._base is not None:  # its base's in-place ops would put it back in the graph
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._output_nr = 0  # a leaf's edge is to output 0 of its AccumulateGrad
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients; got dtype {self._data.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            return
        if not self._retains_grad:
            self._retains_grad = True
            RetainGrad.attach(self)

    def register_hook(self, hook):
        """``hook(grad) -> new grad or None``, called when the gradient w.r.t. this tensor is computed."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return RetainGrad.attach(self, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)``, called on a leaf after backward has added its gradient to ``.grad``."""
        if not self.requires_grad or self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: expected a leaf tensor that requires "
                               f"grad, got requires_grad={self.requires_grad}, "
                               f"is_leaf={self.grad_fn is None}")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return RemovableHandle(self._post_accumulate_hooks, hook)

    # ------------------------------------------------------------------ dtype and device
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; a device other than the
        CPU raises, naming it."""
        check_device(device, "to")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, numbers.Integral) and not isinstance(a, bool):
                check_device(f"cuda:{a}", "to")  # PyTorch reads a bare int as a CUDA device index
            elif a is None or isinstance(a, (str, _devices.device)):
                check_device(a, "to")
            else:
                dtype = a
        if dtype is not None and not isinstance(dtype, np.dtype) and not (
                isinstance(dtype, type) and issubclass(dtype, np.generic)):
            raise checks.error("to", "a dtype, a device or a Tensor", checks.show(dtype), TypeError)
        if dtype is None or np.dtype(dtype) == self._data.dtype:
            return self.clone() if copy else self
        return self.type(dtype)

    def type(self, dtype=None):
        if dtype is None:
            return f"convgrad.{self._data.dtype}Tensor"
        from convgrad.ops.elementwise import Cast

        return Cast.apply(self, np.dtype(dtype))

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        check_device(f"cuda:{device}" if isinstance(device, int) else device or "cuda", "cuda")

    # x.float() and kin: x.to(dtype) (these names shadow the builtins in the rest of the class body)
    float, double, half = _to(float32), _to(float64), _to(float16)
    long, int, short, char, byte = _to(int64), _to(int32), _to(np.int16), _to(np.int8), _to(np.uint8)
    bool = _to(bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    # ------------------------------------------------------------------ arithmetic
    def _binary(self, other, op, reverse=False):
        if not reverse and type(other) is Tensor:
            a, b = self._data, other._data
            if a.dtype is b.dtype or a.dtype == b.dtype:  # built-in dtypes are singletons: `is` is quick
                if a.shape != b.shape:
                    checks.broadcast(op.__name__.lower(), self, other)
                return op.apply(self, other)
        if not isinstance(other, Tensor):
            if isinstance(other, np.ndarray):
                other = Tensor._make(other)
            elif not isinstance(other, numbers.Number):
                return NotImplemented
        if isinstance(other, Tensor) and other._data.shape != self._data.shape:
            checks.broadcast(op.__name__.lower(), self, other)
        dt = _promote(self, other)
        a = self if self._data.dtype == dt else self.to(dt)
        if isinstance(other, Tensor):
            b = other if other._data.dtype == dt else other.to(dt)
        else:
            b = other
        if reverse:
            return op.apply(b, a) if isinstance(b, Tensor) else op.apply(Tensor._make(np.asarray(b, dt)), a)
        return op.apply(a, b)

    # a + b, a - b, a * b (b a Tensor or a number) and the reflected forms: elementwise ops with broadcasting
    __add__ = __radd__ = _arithmetic(elementwise.Add)
    __sub__, __rsub__ = _arithmetic(elementwise.Sub), _arithmetic(elementwise.Sub, reverse=True)
    __mul__ = __rmul__ = _arithmetic(elementwise.Mul)

    def __truediv__(self, other):
        if self._data.dtype.kind != "f" and not (isinstance(other, Tensor) and other._data.dtype.kind == "f"):
            return self.float() / other
        return self._binary(other, elementwise.Div)

    def __rtruediv__(self, other):
        if self._data.dtype.kind != "f":
            return other / self.float()
        return self._binary(other, elementwise.Div, reverse=True)

    def __floordiv__(self, other):
        return _no_grad_divide("floor_divide", np.floor_divide, self, other)

    def __mod__(self, other):
        _int_divisor("remainder", self, other)
        return self._binary(other, math_ops.Remainder)

    __pow__, __rpow__ = _arithmetic(elementwise.Pow), _arithmetic(elementwise.Pow, reverse=True)

    def __matmul__(self, other):
        return tensor_functions.matmul(self, other)

    def __rmatmul__(self, other):
        return tensor_functions.matmul(tensor_functions.as_tensor(other), self)

    def __neg__(self):
        return elementwise.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other, rounding_mode=None):
        if rounding_mode == "floor":
            return self // other
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        return tensor_functions.matmul(self, other)

    def mm(self, other):
        """(n, m) @ (m, p) -> (n, p)"""
        if self._data.ndim != 2 or getattr(other, "ndim", None) != 2:
            raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(self.shape)} and "
                               f"{tuple(getattr(other, 'shape', ()))}")
        return tensor_functions.matmul(self, other)

    def bmm(self, other):
        """(b, n, m) @ (b, m, p) -> (b, n, p)"""
        if self._data.ndim != 3 or getattr(other, "ndim", None) != 3 or self.shape[0] != other.shape[0]:
            raise RuntimeError(f"bmm: expected 3-D tensors with one batch size, got shapes "
                               f"{tuple(self.shape)} and {tuple(getattr(other, 'shape', ()))}")
        return tensor_functions.matmul(self, other)

    subtract, multiply, divide, true_divide = sub, mul, div, div

    # comparisons and logic: bool tensors, no gradient (on bools the bitwise operators are the logical ones)
    __eq__, __ne__ = _no_grad_binary(np.equal), _no_grad_binary(np.not_equal)
    __lt__, __le__ = _no_grad_binary(np.less), _no_grad_binary(np.less_equal)
    __gt__, __ge__ = _no_grad_binary(np.greater), _no_grad_binary(np.greater_equal)
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__
    greater, less, greater_equal, less_equal, not_equal = __gt__, __lt__, __ge__, __le__, __ne__
    __and__ = _no_grad_binary(np.bitwise_and, on_bool=np.logical_and)
    __or__ = _no_grad_binary(np.bitwise_or, on_bool=np.logical_or)
    __xor__ = _no_grad_binary(np.bitwise_xor, on_bool=np.logical_xor)
    logical_and, logical_or, logical_xor = (_no_grad_binary(f) for f in (np.logical_and, np.logical_or,
                                                                          np.logical_xor))

    def __invert__(self):
        return Tensor._make(np.logical_not(self._data) if self.dtype == bool_ else np.invert(self._data))

    def equal(self, other):
        return self.shape == other.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return bool(np.allclose(self._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def all(self, dim=None, keepdim=False):
        return Tensor._make(np.all(self._data, axis=self._dims(dim, op="all"), keepdims=keepdim))

    def any(self, dim=None, keepdim=False):
        return Tensor._make(np.any(self._data, axis=self._dims(dim, op="any"), keepdims=keepdim))

    # ------------------------------------------------------------------ elementwise functions
    # y = f(x), an op of ops/elementwise.py or ops/math.py (its docstring has dy/dx); integers become floats
    exp = _float_unary(elementwise.Exp)
    log = _float_unary(elementwise.Log)
    sqrt = _float_unary(elementwise.Sqrt)
    sin = _float_unary(elementwise.Sin)
    cos = _float_unary(elementwise.Cos)
    tanh = _float_unary(elementwise.Tanh)
    sigmoid = _float_unary(elementwise.Sigmoid)
    log1p = _float_unary(math_ops.Log1p)
    expm1 = _float_unary(math_ops.Expm1)
    tan = _float_unary(math_ops.Tan)
    asin = _float_unary(math_ops.Asin)
    acos = _float_unary(math_ops.Acos)
    atan = _float_unary(math_ops.Atan)
    sinh = _float_unary(math_ops.Sinh)
    cosh = _float_unary(math_ops.Cosh)
    arcsin, arccos, arctan = asin, acos, atan

    def rsqrt(self):
        return 1 / self.sqrt()

    def relu(self):
        return _relu(self)

    def abs(self):
        return elementwise.Abs.apply(self)

    def neg(self):
        return -self

    def square(self):
        return self * self

    def reciprocal(self):
        return 1 / self

    # piecewise constant (no gradient) or bool results
    sign, floor, ceil, round = _no_grad(np.sign), _no_grad(np.floor), _no_grad(np.ceil), _no_grad(np.round)
    trunc = fix = _no_grad(np.trunc)
    isnan, isinf, isfinite = _no_grad(np.isnan), _no_grad(np.isinf), _no_grad(np.isfinite)
    logical_not = _no_grad(np.logical_not)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise checks.error("clamp", "min or max", "neither")
        for name, v in (("min", min), ("max", max)):
            if isinstance(v, Tensor):
                try:
                    np.broadcast_shapes(self._data.shape, v._data.shape)
                except ValueError:
                    raise checks.error("clamp", f"{name} of a shape that broadcasts to {self.shape}",
                                       f"{name} of shape {v.shape}") from None
            elif v is not None and not checks.is_number(v):
                raise checks.error("clamp", f"{name} to be a number, a Tensor or None", checks.kind(v),
                                   TypeError)
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = out.maximum(tensor_functions.as_tensor(min, dtype=self.dtype))
            if max is not None:
                out = out.minimum(tensor_functions.as_tensor(max, dtype=self.dtype))
            return out
        return elementwise.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        return tensor_functions.maximum(self, other)

    def minimum(self, other):
        return tensor_functions.minimum(self, other)

    def where(self, condition, other):
        return tensor_functions.where(condition, self, other)

    def masked_fill(self, mask, value):
        mask = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
        v = value.item() if isinstance(value, Tensor) else value
        return tensor_functions.where(Tensor._make(mask), Tensor._make(np.asarray(v, self.dtype)), self)

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, index):
        index = _index_arrays(index, self._data.shape)
        return shape_ops.GetItem.apply(self, index)

    def __setitem__(self, index, value):
        index = _index_arrays(index, self._data.shape)
        v = value._data if isinstance(value, Tensor) else value
        _check_set_value(self._data, index, v)
        if (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)) and _state.enabled:
            self._check_inplace()
            result = shape_ops.SetItem.apply(self, index, value if isinstance(value, Tensor) else v)
            self._rebase(result, shape_ops.index_extent(self._data, index))
        else:
            self._check_inplace(False)
            self._data[index] = v
            self._bump_version()


def _int_divisor(op, t, other):
    """``other``'s array; an integer division by zero raises, as in PyTorch (NumPy would give 0)."""
    if not isinstance(other, Tensor) and not checks.is_number(other):
        raise checks.error(op, "a Tensor or a number as the divisor", checks.kind(other), TypeError)
    o = other._data if isinstance(other, Tensor) else other
    if t._data.dtype.kind in "iub" and np.asarray(o).dtype.kind in "iub" and np.any(np.asarray(o) == 0):
        raise checks.error(op, "a non-zero integer divisor", "0", ZeroDivisionError)
    return o


def _no_grad_divide(op, fn, t, other):
    """``fn(t, other)`` (floor division or remainder: no gradient), in PyTorch's result dtype."""
    o = _int_divisor(op, t, other)
    try:
        np.broadcast_shapes(t._data.shape, np.shape(o))
    except ValueError:
        raise checks.error(op, "shapes that broadcast", f"{t._data.shape} and {np.shape(o)}") from None
    dt = _promote(t, other)
    return Tensor._make(fn(t._data, o).astype(dt, copy=False))


def _check_set_value(data, index, v):
    """``v`` must be a number or array-like that broadcasts to ``data[index]``'s shape."""
    if isinstance(v, (list, tuple)):
        v = _infer_array(v)
    if not isinstance(v, np.ndarray) and not checks.is_number(v) and not isinstance(v, (bool, np.bool_)):
        raise checks.error("setitem", "a Tensor, array or number as the value", checks.kind(v), TypeError)
    vshape = np.shape(v)
    if not vshape:
        return
    # the indexed shape, from a zero-stride stand-in (a copy of bools only for advanced indexing)
    target = np.broadcast_to(np.zeros((), np.bool_), data.shape)[index].shape
    trimmed = vshape[len(vshape) - len(target):] if len(vshape) > len(target) else vshape
    ok = all(s == 1 for s in vshape[:len(vshape) - len(trimmed)]) and all(
        a == b or a == 1 for a, b in zip(trimmed[::-1], target[::-1]))
    if not ok:
        raise checks.error("setitem", f"a value that broadcasts to the indexed shape {target}",
                           f"value of shape {vshape}")


def _index_arrays(index, shape):
    """Turn Tensors inside an index into arrays, and check integer indices against the shape."""
    if isinstance(index, Tensor):
        index = index._data
    elif isinstance(index, tuple):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (slice, np.ndarray, list, bool, np.bool_))
                or checks.is_int(i)):
            raise checks.error("index", "integers, slices, ..., None, or integer or boolean Tensors as "
                               "indices", f"{i!r} ({checks.kind(i)})", IndexError)
    if any(i is Ellipsis for i in items) or any(i is None for i in items):
        return index
    dim = 0
    for i in items:
        if isinstance(i, np.ndarray) and i.dtype == bool:
            if i.shape != tuple(shape[dim:dim + i.ndim]):
                raise checks.error("index", f"a boolean mask of the indexed dims' shape "
                                   f"{tuple(shape[dim:dim + i.ndim])} (tensor of shape {tuple(shape)}, "
                                   f"from dim {dim})", f"mask of shape {i.shape}", IndexError)
            dim += i.ndim
            continue
        if dim >= len(shape):
            raise checks.error("index", f"at most {len(shape)} indices (the tensor's dims)",
                               f"more for a tensor of shape {tuple(shape)}", IndexError)
        n = shape[dim]
        if isinstance(i, (numbers.Integral, np.integer)) and not isinstance(i, bool):
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {n}")
        elif isinstance(i, np.ndarray) and i.dtype.kind in "iu" and i.size:
            lo, hi = i.min(), i.max()
            if lo < -n or hi >= n:
                bad = hi if hi >= n else lo
                raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {n}")
        elif isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
            raise checks.error("index", "index tensors of an integer or bool dtype", f"dtype {i.dtype}",
                               IndexError)
        dim += 1
    return index


# The engine wraps op results in Tensors; it cannot import this module (which imports the ops, which import
# the engine), so the class is handed to it here, once, when it exists.
function.Tensor = Tensor

# The torch.* functions build on Tensor; Tensor's methods call a few of them (matmul, where, ...) by name.
from convgrad import tensor_functions  # noqa: E402
