"""``summary(model, input_size)``: a layer-by-layer table of a network -- output shape, parameters,
kernel, stride and padding, mult-adds, activation memory and receptive field -- with the totals the
lectures compute by hand (parameters, parameter memory, forward activation memory per image and per
batch, a training-memory estimate).

It runs one real forward pass at batch 1 under ``no_grad`` in eval mode (the model's mode is restored),
with forward hooks on every leaf module; per-image figures are multiplied by ``batch_size``.

Conventions, chosen to match the lecture's VGG-16 table:

* activation memory counts the input and every layer output that needs storage of its own; an output
  that shares memory with the layer's input (``ReLU(inplace=True)``, views such as ``Flatten``, eval-mode
  ``Dropout``) costs nothing. For VGG-16 at 224x224 this gives the lecture's rows, which add up to
  15.2M values (61 MB) per image -- plus 25,088 for torchvision's adaptive average pooling. (The
  lecture's foot line, "24M * 4 bytes ~= 93MB", does not equal the sum of its own rows.)
* mult-adds count multiply-accumulates of convolutions and linear layers (one per weight use).
* the receptive field of a layer is the input window one of its outputs sees (``size``) and the input
  distance between neighbouring outputs (``jump``); where branches join (residual additions,
  concatenations) the largest field so far is taken. Fully connected outputs see the whole input.
"""

import math
import sys
import types
import weakref
from dataclasses import dataclass, field

import numpy as np

import convgrad

__all__ = ["summary", "ModelSummary", "LayerInfo"]


@dataclass
class LayerInfo:
    """One row of the table: one call of a leaf module."""

    name: str
    type: str
    depth: int
    output_shape: tuple            # per image (no batch dimension)
    params: int = 0                # trainable, this module's own
    frozen: int = 0                # requires_grad=False
    weight_params: int = 0         # in tensors named "weight"
    bias_params: int = 0           # in tensors named "bias"
    kernel: tuple = None
    stride: tuple = None
    padding: tuple = None
    dilation: tuple = None
    mult_adds: int = 0             # per image
    activations: int = 0           # values per image that need storage of their own
    output_numel: int = 0          # values per image in the output, shared or not
    activation_bytes: int = 0      # per image
    in_place: bool = False         # output shares memory with the input
    rf_size: tuple = None          # None: the whole input
    rf_jump: tuple = None
    repeated: bool = False         # a module with parameters called again: they are counted once

    @property
    def total_params(self):
        return self.params + self.frozen


@dataclass
class ModelSummary:
    """What ``summary`` found. ``str()`` is the table; the numbers are attributes."""

    model_name: str
    input_shapes: list              # per image
    batch_size: int
    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    weight_params: int = 0
    bias_params: int = 0
    param_bytes: int = 0
    buffer_bytes: int = 0
    input_values: int = 0           # per image
    input_bytes: int = 0            # per image
    mult_adds: int = 0              # per image
    optimizer_states: int = 1

    # --- derived totals -------------------------------------------------------------------------------
    @property
    def activations(self):
        """Values per image held by one forward pass: the input and every output with its own storage."""
        return self.input_values + sum(r.activations for r in self.rows)

    @property
    def activation_bytes(self):
        """Forward activation memory per image, in bytes."""
        return self.input_bytes + sum(r.activation_bytes for r in self.rows)

    @property
    def all_outputs(self):
        """Values per image if every layer output were kept separately (no in-place, no views)."""
        return self.input_values + sum(r.output_numel for r in self.rows)

    @property
    def batch_activation_bytes(self):
        return self.activation_bytes * self.batch_size

    @property
    def training_bytes(self):
        """Rough training memory for the batch: parameters, their gradients and ``optimizer_states``
        copies (1 for SGD with momentum, 2 for Adam), plus the forward activations twice (kept for the
        backward pass, and their gradients)."""
        return (self.param_bytes * (2 + self.optimizer_states) + self.buffer_bytes
                + 2 * self.batch_activation_bytes)

    def to_dict(self):
        keys = ("total_params", "trainable_params", "frozen_params", "param_bytes", "mult_adds",
                "activations", "activation_bytes", "batch_activation_bytes", "training_bytes")
        return {k: getattr(self, k) for k in keys}

    # --- table ----------------------------------------------------------------------------------------
    def __str__(self):
        return self.table()

    def __repr__(self):
        return self.table()

    def table(self, show_frozen=None):
        show_frozen = self.frozen_params > 0 if show_frozen is None else show_frozen
        cols = ["Layer (type)", "Output shape", "Params"]
        if show_frozen:
            cols.append("Frozen")
        cols += ["Kernel", "Stride/Pad", "Mult-adds", "Memory", "RF (jump)"]
        body = []
        first = ["input", _shape(self.input_shapes[0]) if self.input_shapes else "", "", *([""] if show_frozen
                                                                                         else []),
                 "", "", "", _values(self.input_values, self.input_bytes), "1 (1)"]
        body.append(first)
        for r in self.rows:
            line = [f"{r.name} ({r.type})" if r.name else r.type, _shape(r.output_shape),
                    _num(r.params) if r.params or r.frozen else "-"]
            if show_frozen:
                line.append(_num(r.frozen) if r.frozen else "-")
            line += [_dims(r.kernel), _stride_pad(r), _num(r.mult_adds) if r.mult_adds else "-",
                     "in place" if r.in_place else (_values(r.activations, r.activation_bytes)
                                                    if r.activations else "view"),
                     _rf(r)]
            if r.repeated:
                line[2] = "(shared)"
            body.append(line)
        widths = [max(len(str(c)), *(len(str(b[j])) for b in body)) for j, c in enumerate(cols)]
        align = ["<", "<"] + [">"] * (len(cols) - 2)

        def fmt(row):
            return "  ".join(f"{str(v):{a}{w}}" for v, a, w in zip(row, align, widths)).rstrip()

        rule = "=" * len(fmt(cols))
        out = [rule, fmt(cols), "-" * len(rule)]
        out += [fmt(b) for b in body]
        out.append(rule)
        b = self.batch_size
        mb = _mb
        out += [
            f"Total params:      {self.total_params:,} ({_short(self.total_params)}; weights "
            f"{self.weight_params:,}, biases {self.bias_params:,}"
            + (f", other {self.total_params - self.weight_params - self.bias_params:,})"
               if self.total_params != self.weight_params + self.bias_params else ")"),
            f"Trainable params:  {self.trainable_params:,}",
            f"Frozen params:     {self.frozen_params:,}",
            f"Mult-adds:         {_short(self.mult_adds)} per image, {_short(self.mult_adds * b)} "
            f"for the batch of {b}",
            "-" * len(rule),
            f"Parameter memory:                   {mb(self.param_bytes)}"
            + (f" (+ buffers {mb(self.buffer_bytes)})" if self.buffer_bytes else ""),
            f"Forward activations per image:      {self.activations:,} values ({_short(self.activations)}),"
            f" {mb(self.activation_bytes)}",
            f"  every layer output kept apart:    {self.all_outputs:,} values, "
            f"{mb(self.all_outputs * (self.activation_bytes / max(self.activations, 1)))}",
            f"Forward activations, batch of {b}:{' ' * max(1, 5 - len(str(b)))}"
            f"{mb(self.batch_activation_bytes)}",
            f"Training memory estimate, batch {b}:{' ' * max(1, 3 - len(str(b)))}{mb(self.training_bytes)}"
            f" (params x{2 + self.optimizer_states} + activations x2)",
            rule,
        ]
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# formatting helpers


def _num(n):
    return f"{n:,}"


def _short(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def _mb(nbytes):
    return f"{nbytes / 1e6:,.2f} MB"


def _values(n, nbytes):
    return f"{n:,} ({nbytes / 1e6:.2f} MB)"


def _shape(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]" if shape is not None else "?"


def _dims(t):
    if t is None:
        return "-"
    if len(set(t)) == 1:
        return f"{t[0]}x{t[0]}" if len(t) == 2 else str(t[0])
    return "x".join(str(v) for v in t)


def _stride_pad(r):
    if r.stride is None:
        return "-"
    s = r.stride[0] if len(set(r.stride)) == 1 else "x".join(map(str, r.stride))
    p = r.padding
    if isinstance(p, str):
        pad = p
    elif p is None:
        pad = "0"
    else:
        pad = p[0] if len(set(p)) == 1 else "x".join(map(str, p))
    text = f"{s}/{pad}"
    if r.dilation is not None and any(d != 1 for d in r.dilation):
        text += f" d{r.dilation[0]}"
    return text


def _rf(r):
    if r.rf_size is None:
        return "all"
    size = r.rf_size[0] if len(set(r.rf_size)) == 1 else "x".join(map(str, r.rf_size))
    jump = r.rf_jump[0] if len(set(r.rf_jump)) == 1 else "x".join(map(str, r.rf_jump))
    return f"{_g(size)} ({_g(jump)})"


def _g(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------------------------------
# per-layer arithmetic


def _tup(v, n):
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (tuple, list)):
        return tuple(v) if len(v) == n else (tuple(v) * n)[:n]
    return (v,) * n


def _first_tensor(obj):
    if isinstance(obj, convgrad.Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(obj, dict):
        for o in obj.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _tensors(obj):
    if isinstance(obj, convgrad.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _shares(a, b):
    try:
        return np.shares_memory(a._data, b._data, max_work=1000)
    except (np.exceptions.TooHardError, AttributeError, TypeError):
        return np.may_share_memory(a._data, b._data)


def _geometry(m, n):
    """(kernel, stride, padding, dilation, kind) of a windowed layer over ``n`` spatial dims, else None."""
    name = type(m).__name__
    if name.startswith("Adaptive"):
        return None
    k = getattr(m, "kernel_size", None)
    if k is None:
        return None
    k = _tup(k, n)
    stride = getattr(m, "stride", None)
    s = _tup(stride if stride is not None else k, n)
    p = getattr(m, "padding", 0)
    p = p if isinstance(p, str) else _tup(p, n)
    d = _tup(getattr(m, "dilation", 1), n)
    kind = "transposed" if name.startswith("ConvTranspose") or getattr(m, "transposed", False) else "window"
    return k, s, p, d, kind


def _mult_adds(m, inp, out, per_image_out):
    name = type(m).__name__
    w = getattr(m, "weight", None)
    if not isinstance(w, convgrad.Tensor):
        return 0
    if name.startswith("ConvTranspose") and inp is not None:
        # every input value meets (out / groups) * prod(kernel) weights
        per_image_in = int(np.prod(inp.shape[1:]))
        return per_image_in * int(np.prod(w.shape[1:]))
    if name.startswith("Conv") and w.ndim >= 3:
        return per_image_out * int(np.prod(w.shape[1:]))
    if name in ("Linear", "Bilinear", "LazyLinear") and w.ndim == 2:
        return per_image_out * int(w.shape[1])
    return 0


class _RFTracker:
    """Receptive field (size, jump) per tensor, keyed by identity (weak references, so tensors are not
    kept alive). A tensor made outside modules (an addition, a concatenation, a channel selection) takes
    the largest field among the tensors seen so far with the same spatial size -- the branches it
    joins -- or else the largest field seen so far."""

    def __init__(self, n):
        self.n = n
        self.known = {}
        self.by_spatial = {}
        self.largest = ((1,) * n, (1,) * n)

    def get(self, t):
        if t is None:
            return self.largest
        entry = self.known.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        return self.by_spatial.get(tuple(t.shape[2:]), self.largest)

    @staticmethod
    def _bigger(a, b):
        """The larger of two fields; None (the whole input) is the largest."""
        if a[0] is None or b[0] is None:
            return a if a[0] is None else b
        return a if a[0] >= b[0] else b

    def set(self, t, rf):
        try:
            self.known[id(t)] = (weakref.ref(t), rf)
        except TypeError:
            return
        key = tuple(t.shape[2:])
        self.by_spatial[key] = self._bigger(rf, self.by_spatial[key]) if key in self.by_spatial else rf
        self.largest = self._bigger(rf, self.largest)


def _rf_step(rf, geom, in_shape, out_shape, module):
    size, jump = rf
    if size is None:
        return rf
    n = len(size)
    if out_shape is None or len(out_shape) < n + 1:
        return (None, None)  # flattened: every output sees everything
    name = type(module).__name__
    if name.startswith("Adaptive") and in_shape is not None and len(in_shape) >= n + 1:
        k, s = [], []
        for i, o in zip(in_shape[-n:], out_shape[-n:]):
            if o == 1:
                return (None, None)  # global pooling: every output sees the whole input
            stride = i // o
            k.append(stride if i % o == 0 else math.ceil(i / o) + 1)
            s.append(max(stride, 1))
        geom = (tuple(k), tuple(s), (0,) * n, (1,) * n, "window")
    if geom is None:
        return rf
    k, s, _, d, kind = geom
    if kind == "transposed":
        new_jump = tuple(j / st for j, st in zip(jump, s))
        new_size = tuple(sz + (math.ceil(kk / st) - 1) * j for sz, kk, st, j in zip(size, k, s, jump))
        return (new_size, new_jump)
    new_size = tuple(sz + dd * (kk - 1) * j for sz, kk, dd, j in zip(size, k, d, jump))
    new_jump = tuple(j * st for j, st in zip(jump, s))
    return (new_size, new_jump)


# ---------------------------------------------------------------------------------------------------------
# the entry point


def summary(model, input_size=None, batch_size=None, dtypes=None, input_data=None, optimizer_states=1,
            **forward_kwargs):
    """Summarise ``model`` on inputs of ``input_size``.

    ``input_size``: the input shape including the batch dimension, e.g. ``(1, 3, 224, 224)``, or a list
    of shapes for several inputs; ``input_data`` instead passes real tensors. ``batch_size``: the batch
    the memory totals are for (default: the batch dimension of ``input_size``); the forward pass itself
    runs at batch 1. ``dtypes``: one per input (default float32). ``optimizer_states``: parameter-sized
    buffers the optimiser keeps (training estimate). Returns a ``ModelSummary``; ``print`` it.
    """
    if input_data is None and input_size is None:
        raise ValueError("summary: give input_size, e.g. (1, 3, 224, 224), or input_data")
    if input_data is not None:
        inputs = list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]
        inputs = [t if isinstance(t, convgrad.Tensor) else convgrad.tensor(t) for t in inputs]
        run_batch = inputs[0].shape[0]
        inputs = [t[:1] for t in inputs]
    else:
        sizes = [tuple(input_size)] if not isinstance(input_size[0], (tuple, list)) else \
            [tuple(s) for s in input_size]
        for s in sizes:
            if len(s) < 2 or any((not isinstance(v, (int, np.integer))) or v < 1 for v in s):
                raise ValueError(f"summary: input_size must be a shape with the batch dimension first, "
                                 f"e.g. (1, 3, 224, 224); got {s}")
        if dtypes is None:
            dtypes = [convgrad.float32] * len(sizes)
        elif not isinstance(dtypes, (list, tuple)):
            dtypes = [dtypes] * len(sizes)
        run_batch = sizes[0][0]
        rng = np.random.default_rng(0)
        inputs = []
        for s, dt in zip(sizes, dtypes):
            arr = rng.standard_normal((1,) + s[1:])
            arr = arr.astype(np.dtype(dt)) if np.dtype(dt).kind == "f" else np.zeros((1,) + s[1:], dt)
            inputs.append(convgrad.tensor(arr))
    batch = int(batch_size if batch_size is not None else run_batch)
    spatial = max(inputs[0].ndim - 2, 1)

    info = ModelSummary(type(model).__name__, [tuple(t.shape[1:]) for t in inputs], batch,
                        optimizer_states=optimizer_states)
    seen_params = set()
    for name, p in model.named_parameters():
        if id(p) in seen_params:
            continue
        seen_params.add(id(p))
        n = p.numel()
        info.total_params += n
        if p.requires_grad:
            info.trainable_params += n
        else:
            info.frozen_params += n
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "weight":
            info.weight_params += n
        elif leaf == "bias":
            info.bias_params += n
        info.param_bytes += n * p._data.itemsize
    info.buffer_bytes = sum(b.numel() * b._data.itemsize for b in model.buffers())
    info.input_values = sum(int(np.prod(t.shape[1:])) for t in inputs)
    info.input_bytes = sum(int(np.prod(t.shape[1:])) * t._data.itemsize for t in inputs)

    names = {}
    depth = {}
    for name, m in model.named_modules():
        names.setdefault(id(m), name)
        depth.setdefault(id(m), name.count(".") + 1 if name else 0)
    leaves = [m for _, m in model.named_modules() if not any(True for _ in m.children())]
    if not leaves:
        leaves = [model]

    tracker = _RFTracker(spatial)
    for t in inputs:
        tracker.set(t, ((1,) * spatial, (1,) * spatial))
    counted_params = set()

    def hook(m, args, out):
        inp = _first_tensor(args)
        o = _first_tensor(out)
        out_shape = tuple(o.shape[1:]) if o is not None else None
        per_image_out = int(np.prod(out_shape)) if out_shape is not None else 0
        row = LayerInfo(names.get(id(m), ""), type(m).__name__, depth.get(id(m), 0), out_shape)
        for pname, p in m.named_parameters(recurse=False):
            if id(p) in counted_params:
                row.repeated = True
                continue
            counted_params.add(id(p))
            if p.requires_grad:
                row.params += p.numel()
            else:
                row.frozen += p.numel()
            if pname == "weight":
                row.weight_params += p.numel()
            elif pname == "bias":
                row.bias_params += p.numel()
        geom = _geometry(m, spatial)
        if geom is not None:
            row.kernel, row.stride, row.padding, row.dilation, _ = geom
        row.mult_adds = _mult_adds(m, inp, o, per_image_out)
        outs = list(_tensors(out))
        ins = list(_tensors(args))
        for t in outs:
            numel = int(np.prod(t.shape[1:])) if t.ndim else 1
            row.output_numel += numel
            if any(_shares(t, i) for i in ins):
                continue
            row.activations += numel
            row.activation_bytes += numel * t._data.itemsize
        row.in_place = bool(outs) and row.activations == 0 and any(t is i for t in outs for i in ins)
        in_shape = tuple(inp.shape[1:]) if inp is not None else None
        rf = _rf_step(tracker.get(inp), geom, in_shape, out_shape, m)
        row.rf_size, row.rf_jump = rf
        for t in outs:
            tracker.set(t, rf)
        info.rows.append(row)

    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with convgrad.no_grad():
            model(*inputs, **forward_kwargs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    info.mult_adds = sum(r.mult_adds for r in info.rows)
    return info


class _CallableModule(types.ModuleType):
    """This module, callable: ``convgrad.summary(model, input_size)`` is ``summary(model, input_size)``, while
    ``from convgrad.summary import summary`` and the module's other names keep working."""

    def __call__(self, *args, **kwargs):
        return summary(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
