"""The bad-argument fuzzer's machinery: every public ``nn.functional`` op, the ``convgrad.*`` tensor
functions, the Tensor methods users call with arguments, and the layers' constructors and forwards, each with
one valid call; a probe replaces one argument by a hostile value and runs the call in convgrad and in PyTorch.

A probe passes when
- convgrad rejects it with an error of an ordinary kind, raised outside NumPy, whose message names the op
  (or the layer), or
- convgrad accepts it and PyTorch accepts it too, with outputs of the same shapes, dtypes and values.
convgrad rejecting what PyTorch accepts is allowed (and counted): refusing is never silent.
"""

import inspect
import math
import warnings
from collections import Counter

import numpy as np
import torch

import convgrad
from tests.parity import _np

# --------------------------------------------------------------------------- valid calls
_rng = np.random.default_rng(0)


def _f(*shape, low=-2.0, high=2.0):
    return _rng.uniform(low, high, shape).astype(np.float32)


class T:
    """A tensor argument, made in each library from the same array (``spec`` arrays are read-only)."""

    def __init__(self, array):
        self.array = array

    def make(self, lib):
        return lib.tensor(self.array.copy())


X2, Y2, X3, X4 = T(_f(3, 4)), T(_f(3, 4)), T(_f(2, 3, 6)), T(_f(2, 3, 4, 4))
PROB, TARGET01 = T(_f(3, 4, low=0.1, high=0.9)), T(_f(3, 4, low=0.0, high=1.0))
CLASSES = T(np.array([0, 3, 1], np.int64))
LOGP = T(np.log(np.full((3, 4), 0.25, np.float32)))
POS3 = T(_f(3, low=0.5, high=1.5))
_UNPOOL = np.array([[[[0, 3], [9, 14]]] * 3] * 2, np.int64)  # max positions in 2x2 windows of a 4x4 plane

# name -> (positional args, keyword args) of one valid call
FUNCTIONAL = {
    "adaptive_avg_pool1d": ([X3, 2], {}),
    "adaptive_avg_pool2d": ([X4, (2, 2)], {}),
    "adaptive_max_pool1d": ([X3, 2], {}),
    "adaptive_max_pool2d": ([X4, 2], {}),
    "alpha_dropout": ([X4], {"p": 0.5}),
    "avg_pool1d": ([X3, 2], {}),
    "avg_pool2d": ([X4, 2], {}),
    "batch_norm": ([X4, T(_f(3)), POS3], {"weight": T(_f(3)), "bias": T(_f(3))}),
    "bilinear": ([T(_f(4, 3)), T(_f(4, 2)), T(_f(5, 3, 2))], {"bias": T(_f(5))}),
    "binary_cross_entropy": ([PROB, TARGET01], {}),
    "binary_cross_entropy_with_logits": ([X2, TARGET01], {}),
    "celu": ([X2], {}),
    "celu_": ([X2], {}),
    "conv1d": ([X3, T(_f(4, 3, 3))], {"bias": T(_f(4))}),
    "conv2d": ([X4, T(_f(4, 3, 3, 3))], {"bias": T(_f(4))}),
    "conv_transpose1d": ([X3, T(_f(3, 2, 3))], {"bias": T(_f(2))}),
    "conv_transpose2d": ([X4, T(_f(3, 2, 3, 3))], {"bias": T(_f(2))}),
    "cosine_similarity": ([X2, Y2], {}),
    "cross_entropy": ([X2, CLASSES], {}),
    "dropout": ([X2], {"training": False}),
    "dropout1d": ([X3], {"training": False}),
    "dropout2d": ([X4], {"training": False}),
    "dropout3d": ([T(_f(2, 3, 2, 2, 2))], {"training": False}),
    "elu": ([X2], {}),
    "elu_": ([X2], {}),
    "feature_alpha_dropout": ([X4], {}),
    "flatten": ([X4], {"start_dim": 1}),
    "fold": ([T(_f(2, 12, 9)), (4, 4), 2], {}),
    "gelu": ([X2], {}),
    "glu": ([X2], {}),
    "group_norm": ([X4, 3], {}),
    "hardshrink": ([X2], {}),
    "hardsigmoid": ([X2], {}),
    "hardswish": ([X2], {}),
    "hardtanh": ([X2], {}),
    "hardtanh_": ([X2], {}),
    "huber_loss": ([X2, Y2], {}),
    "instance_norm": ([X4], {}),
    "interpolate": ([X4], {"size": (6, 6)}),
    "kl_div": ([LOGP, PROB], {"reduction": "sum"}),
    "l1_loss": ([X2, Y2], {}),
    "layer_norm": ([X4, (4, 4)], {}),
    "leaky_relu": ([X2], {}),
    "leaky_relu_": ([X2], {}),
    "linear": ([T(_f(2, 4)), T(_f(3, 4))], {"bias": T(_f(3))}),
    "local_response_norm": ([X4, 2], {}),
    "log_softmax": ([X2], {"dim": 1}),
    "logsigmoid": ([X2], {}),
    "lp_pool1d": ([X3, 2, 2], {}),
    "lp_pool2d": ([X4, 2, 2], {}),
    "margin_ranking_loss": ([T(_f(4)), T(_f(4)), T(np.array([1, -1, 1, -1], np.float32))], {}),
    "max_pool1d": ([X3, 2], {}),
    "max_pool2d": ([X4, 2], {}),
    "max_unpool1d": ([T(_f(2, 3, 2)), T(np.array([[[0, 3]] * 3] * 2, np.int64)), 2], {}),
    "max_unpool2d": ([T(_f(2, 3, 2, 2)), T(_UNPOOL), 2], {}),
    "mish": ([X2], {}),
    "mse_loss": ([X2, Y2], {}),
    "nll_loss": ([LOGP, CLASSES], {}),
    "normalize": ([X2], {}),
    "one_hot": ([CLASSES], {"num_classes": 4}),
    "pad": ([X4, (1, 2)], {}),
    "pairwise_distance": ([X2, Y2], {}),
    "prelu": ([X4, T(_f(3))], {}),
    "relu": ([X2], {}),
    "relu6": ([X2], {}),
    "relu_": ([X2], {}),
    "rrelu": ([X2], {}),
    "rrelu_": ([X2], {}),
    "selu": ([X2], {}),
    "selu_": ([X2], {}),
    "sigmoid": ([X2], {}),
    "silu": ([X2], {}),
    "smooth_l1_loss": ([X2, Y2], {}),
    "softmax": ([X2], {"dim": 1}),
    "softmin": ([X2], {"dim": 1}),
    "softplus": ([X2], {}),
    "softshrink": ([X2], {}),
    "softsign": ([X2], {}),
    "tanh": ([X2], {}),
    "tanhshrink": ([X2], {}),
    "threshold": ([X2, 0.1, 20.0], {}),
    "threshold_": ([X2, 0.1, 20.0], {}),
    "unfold": ([X4, 2], {}),
    "upsample": ([X4], {"scale_factor": 2}),
    "upsample_bilinear": ([X4], {"size": (6, 6)}),
    "upsample_nearest": ([X4], {"scale_factor": 2}),
}

# convgrad.<name> / torch.<name>
FUNCTIONS = {
    "tensor": ([[[1.0, 2.0], [3.0, 4.0]]], {}),
    "zeros": ([2, 3], {}),
    "ones": ([(2, 3)], {}),
    "full": ([(2, 3), 1.5], {}),
    "arange": ([5], {}),
    "eye": ([3], {}),
    "randperm": ([5], {}),
    "cat": ([[X2, Y2]], {"dim": 0}),
    "stack": ([[X2, Y2]], {"dim": 0}),
    "matmul": ([X2, T(_f(4, 2))], {}),
    "where": ([T(_f(3, 4) > 0), X2, Y2], {}),
    "maximum": ([X2, Y2], {}),
    "flatten": ([X4], {"start_dim": 1}),
    "clamp": ([X2], {"min": -0.5, "max": 0.5}),
}

# Tensor.<name>(...) on the first argument
METHODS = {
    "view": ([X2, 4, 3], {}),
    "reshape": ([X2, 2, 6], {}),
    "permute": ([X4, 0, 2, 3, 1], {}),
    "transpose": ([X4, 1, 2], {}),
    "sum": ([X4], {"dim": 1}),
    "mean": ([X4], {"dim": (2, 3)}),
    "max": ([X2], {"dim": 1}),
    "squeeze": ([X2, 0], {}),
    "unsqueeze": ([X2, 1], {}),
    "expand": ([T(_f(3, 1)), 3, 4], {}),
    "repeat": ([X2, 2, 1], {}),
    "gather": ([X2, 1, T(np.array([[0, 1], [2, 3], [1, 1]], np.int64))], {}),
    "split": ([X2, 2], {"dim": 1}),
    "chunk": ([X2, 2], {"dim": 1}),
    "flip": ([X2, 0], {}),
    "__getitem__": ([X2, 1], {}),
    "__floordiv__": ([T(np.array([7, -3, 4], np.int64)), 2], {}),
    "__mod__": ([T(np.array([7, -3, 4], np.int64)), 3], {}),
    "pow": ([X2, 2], {}),
    "to": ([X2, "float64"], {}),
}

# nn.<Layer>(*args, **kwargs)(input)
LAYERS = {
    "Conv2d": ([3, 4, 3], {"padding": 1}, X4),
    "Conv1d": ([3, 4, 3], {}, X3),
    "ConvTranspose2d": ([3, 2, 3], {"stride": 2}, X4),
    "Linear": ([4, 3], {}, X2),
    "MaxPool2d": ([2], {}, X4),
    "AvgPool2d": ([2], {}, X4),
    "AdaptiveAvgPool2d": ([(2, 2)], {}, X4),
    "BatchNorm2d": ([3], {}, X4),
    "GroupNorm": ([3, 3], {}, X4),
    "LayerNorm": ([4], {}, X2),
    "Dropout": ([0.5], {}, X2),
    "LeakyReLU": ([0.1], {}, X2),
    "ELU": ([1.0], {}, X2),
    "Softmax": ([1], {}, X2),
    "Flatten": ([1], {}, X4),
    "Upsample": ([], {"scale_factor": 2}, X4),
    "ZeroPad2d": ([1], {}, X4),
}

# values are random; only shapes and dtypes can be compared
RANDOM = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "rrelu",
          "rrelu_", "randperm", "Dropout"}
# the op whose name a message may carry instead of the called one
ALIASES = {"upsample": ("interpolate",), "upsample_bilinear": ("interpolate",),
           "upsample_nearest": ("interpolate",), "relu6": ("hardtanh",), "softmin": ("softmax",),
           "__floordiv__": ("floor_divide",), "__mod__": ("remainder",), "__getitem__": ("index",),
           "reshape": ("view", "shape"), "view": ("shape",), "repeat": ("shape",), "to": ("device",)}


# --------------------------------------------------------------------------- hostile values
class Derived:
    """A hostile tensor made from the slot's valid one (``how(array)``) or from nothing."""

    def __init__(self, name, how):
        self.name, self.how = name, how

    def __repr__(self):
        return f"<{self.name}>"


def _like(kind):
    return {
        "int64": lambda a: a.astype(np.int64) if a is not None else np.array([1, 2], np.int64),
        "float64": lambda a: a.astype(np.float64) if a is not None else np.array([1.0, 2.0]),
        "bool": lambda a: (a > 0) if a is not None else np.array([True, False]),
        "0-d": lambda a: np.array(a.flat[0] if a is not None and a.size else 1.0, np.float32),
        "empty": lambda a: np.zeros((0,) + (a.shape[1:] if a is not None else ()), np.float32),
        "zero-sized dim": lambda a: np.zeros(a.shape[:-1] + (0,), a.dtype) if a is not None and a.ndim
        else np.zeros((2, 0), np.float32),
        "extra dim": lambda a: a[None] if a is not None else np.ones((1, 3), np.float32),
        "one dim less": lambda a: a[0] if a is not None and a.ndim else np.ones(3, np.float32),
        "nan": lambda a: np.full(a.shape if a is not None else (3,), np.nan, np.float32),
        "2x too long": lambda a: np.concatenate([a, a], -1) if a is not None and a.ndim
        else np.ones(6, np.float32),
    }[kind]


HOSTILE = [None, "a", "mean", 1.5, -1, 0, 3, 7, -0.5, math.nan, math.inf, -math.inf, True, False, [], [1, 2],
           (1, 2, 3), (0, 0), (-1, 2), [1.5, 2], {}, object(), np.ones(3, np.float32)] + [
    Derived(k, _like(k)) for k in ("int64", "float64", "bool", "0-d", "empty", "zero-sized dim", "extra dim",
                                   "one dim less", "nan", "2x too long")]


def _materialise(value, lib, valid):
    if isinstance(value, T):
        return value.make(lib)
    if isinstance(value, Derived):
        base = valid.array if isinstance(valid, T) else None
        return lib.tensor(np.ascontiguousarray(value.how(base)))
    if isinstance(value, list):
        return [_materialise(v, lib, None) for v in value]
    if lib is torch and isinstance(value, str) and value == "float64":
        return torch.float64
    return value


# --------------------------------------------------------------------------- running a probe
def _target(kind, name, lib):
    if kind == "functional":  # torch has flatten in torch, not torch.nn.functional
        return getattr(lib.nn.functional, name, None) or getattr(lib, name)
    if kind == "function":
        return getattr(lib, name)
    if kind == "method":
        return lambda self, *a, **k: getattr(self, name)(*a, **k)
    raise ValueError(kind)


def slots(kind, name):
    """Where a hostile value can go: positional indices of the valid call, then every keyword."""
    spec = table(kind)[name]
    args, kwargs = spec[0], spec[1]
    # a method's first argument is the tensor it is called on: not a slot
    out = [("arg", i) for i in range(kind == "method", len(args))] + [("kw", k) for k in kwargs]
    if kind == "functional":
        for p in inspect.signature(getattr(convgrad.nn.functional, name)).parameters.values():
            skip = p.name.startswith("_") or p.name in kwargs or p.name in ("size_average", "reduce")
            if p.default is not inspect.Parameter.empty and not skip:
                out.append(("kw", p.name))
    if kind == "layer":
        out.append(("input", None))
    return out


def table(kind):
    return {"functional": FUNCTIONAL, "function": FUNCTIONS, "method": METHODS, "layer": LAYERS}[kind]


def _call(kind, name, lib, slot, value):
    spec = table(kind)[name]
    args, kwargs = list(spec[0]), dict(spec[1])
    where, key = slot
    if where == "arg":
        valid = args[key]
        args[key] = value
    elif where == "kw":
        valid = kwargs.get(key)
        kwargs[key] = value
    else:
        valid = spec[2]
    if kind == "layer":
        x = spec[2] if where != "input" else value
        cargs = [_materialise(a, lib, None) for a in args]
        ckw = {k: _materialise(v, lib, None) for k, v in kwargs.items()}
        layer = getattr(lib.nn, name)(*cargs, **ckw)
        return layer(_materialise(x, lib, valid))
    largs = [_materialise(a, lib, valid if where == "arg" and i == key else None) for i, a in enumerate(args)]
    lkw = {k: _materialise(v, lib, valid if where == "kw" and k == key else None) for k, v in kwargs.items()}
    return _target(kind, name, lib)(*largs, **lkw)


def _outcome(kind, name, lib, slot, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if lib is convgrad:
                convgrad.manual_seed(0)
            else:
                torch.manual_seed(0)
            return _call(kind, name, lib, slot, value), None
        except Exception as e:  # noqa: BLE001
            return None, e


_OK_KINDS = (TypeError, ValueError, RuntimeError, IndexError, NotImplementedError, ZeroDivisionError)


def _origin(e):
    tb = e.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename.replace("\\", "/")


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [o for x in out for o in _flat(x)]
    return [out]


def _same(out_c, out_t, random):
    """None, or how convgrad's accepted output differs from PyTorch's."""
    cs, ts = _flat(out_c), _flat(out_t)
    if len(cs) != len(ts):
        return f"{len(cs)} outputs, torch gives {len(ts)}"
    for c, t in zip(cs, ts):
        if not isinstance(t, torch.Tensor):
            try:
                same = not isinstance(c, convgrad.Tensor) and (bool(c == t) or bool(c != c and t != t))
            except Exception:  # noqa: BLE001
                same = False
            if not same:
                return f"{c!r} != torch's {t!r}"
            continue
        if not isinstance(c, convgrad.Tensor):
            return f"{type(c).__name__} where torch gives a Tensor"
        if tuple(c.shape) != tuple(t.shape):
            return f"shape {tuple(c.shape)} != torch's {tuple(t.shape)}"
        if str(c.dtype) != str(t.dtype).replace("torch.", ""):
            return f"dtype {c.dtype} != torch's {t.dtype}"
        if not random:
            a, b = _np(c).astype(np.float64), _np(t).astype(np.float64)
            if not np.allclose(a, b, atol=1e-4, rtol=1e-3, equal_nan=True):
                return "values differ"
    return None


def probe(kind, name, slot, value, stats):
    """Run one probe; count it in ``stats``; return None or a description of what went wrong."""
    stats["inputs"] += 1
    out_c, err_c = _outcome(kind, name, convgrad, slot, value)
    out_t, err_t = _outcome(kind, name, torch, slot, value)
    where = f"{kind} {name} {slot[0]} {slot[1]!r} = {value!r}"
    if err_c is not None:
        stats["rejected"] += 1
        stats["torch also rejects" if err_t is not None else "torch accepts"] += 1
        msg = str(err_c)
        names = (name, name.rstrip("_"), name.strip("_")) + ALIASES.get(name, ())
        if "numpy" in _origin(err_c).split("site-packages")[-1][:30]:
            return f"{where}: error from inside NumPy: {err_c!r}"
        if not isinstance(err_c, _OK_KINDS):
            return f"{where}: bare {type(err_c).__name__}: {msg}"
        if not any(n and n in msg for n in names):
            return f"{where}: message does not name the op: {msg}"
        stats["clear errors"] += 1
        return None
    stats["accepted"] += 1
    if err_t is not None:
        return f"{where}: convgrad accepts what torch rejects ({type(err_t).__name__}: {str(err_t)[:120]})"
    diff = _same(out_c, out_t, name in RANDOM or kind == "layer")  # layers start from random weights
    if diff is not None:
        return f"{where}: accepted, but {diff}"
    stats["matches torch"] += 1
    return None


def all_probes():
    """Every (kind, name, slot, hostile value)."""
    for kind in ("functional", "function", "method", "layer"):
        for name in table(kind):
            for slot in slots(kind, name):
                for value in HOSTILE:
                    yield kind, name, slot, value


def new_stats():
    return Counter()
