"""Convolution arithmetic: output sizes, whether a configuration fits, the padding that makes it fit
or keeps the size ("same"), parameter counts and receptive fields. Pure Python, no tensors.

One spatial dimension of a convolution or pooling window (input ``i``, kernel ``k``, stride ``s``,
padding ``p`` on each side, dilation ``d``; the dilated kernel spans ``d(k-1)+1`` inputs)::

    o = floor((i + 2p - d(k-1) - 1) / s) + 1              convolution, pooling
    o = ceil ((i + 2p - d(k-1) - 1) / s) + 1              pooling with ceil_mode (the last window must
                                                          start inside the input or the left padding)
    o = (i - 1) s - 2p + d(k-1) + output_padding + 1      transposed convolution

A configuration "fits" when the windows tile the padded input exactly, ``(i + 2p - d(k-1) - 1) % s == 0``;
otherwise the last ``(i + 2p - d(k-1) - 1) % s`` rows (columns) are never read.

Every function takes ints or tuples (one entry per spatial dimension) and returns the same form.
``explain(...)`` returns a report object whose ``str()`` is a readable explanation.
"""

import math
from dataclasses import dataclass, field

from convgrad import geometry

__all__ = [
    "ConvArithmeticError",
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "unused_inputs",
    "fits",
    "padding_to_fit",
    "same_padding",
    "conv_params",
    "conv_transpose_params",
    "linear_params",
    "batchnorm_params",
    "depthwise_separable_params",
    "conv_mult_adds",
    "receptive_field",
    "LayerRF",
    "explain",
    "Explanation",
]


class ConvArithmeticError(ValueError):
    """A configuration that cannot produce an output, with the reason. (A ``ValueError``.)"""


# ---------------------------------------------------------------------------------------------------------
# argument handling


def _ntuple(x, n, name):
    if isinstance(x, (tuple, list)):
        if len(x) != n:
            raise ConvArithmeticError(
                f"{name}: expected {n} values (one per spatial dimension), got {tuple(x)}")
        return tuple(x)
    return (x,) * n


def _dims(*args):
    """The number of spatial dimensions implied by the tuple arguments (1 when all are ints)."""
    n = 1
    for a in args:
        if isinstance(a, (tuple, list)):
            n = max(n, len(a))
    return n


def _int(v, name, minimum, what):
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            iv = int(v)
        except (TypeError, ValueError):
            raise ConvArithmeticError(f"{name} must be an integer, got {v!r}") from None
        if iv != v:
            raise ConvArithmeticError(f"{name} must be an integer, got {v!r}")
        v = iv
    if v < minimum:
        raise ConvArithmeticError(f"{name} = {v}: {what}")
    return v


def _check(i, k, s, p, d, op="convolution"):
    i = _int(i, "input size", 1, "an input needs at least one element")
    k = _int(k, "kernel size", 1, "a kernel needs at least one element")
    s = _int(s, "stride", 1, "the window must move by at least one element (stride 0 would never advance)")
    p = _int(p, "padding", 0, "padding cannot be negative (to crop, slice the input instead)")
    d = _int(d, "dilation", 1, "dilation is the spacing between kernel taps and is at least 1")
    span = d * (k - 1) + 1
    if span > i + 2 * p:
        dil = f" (dilation {d} spreads kernel {k} over {span})" if d > 1 else ""
        raise ConvArithmeticError(
            f"{op}: the kernel spans {span} elements{dil} but the padded input has only {i + 2 * p} "
            f"(input {i} + 2 x padding {p}); the output would be empty. Use padding >= "
            f"{math.ceil((span - i) / 2)} or a smaller kernel/dilation.")
    return i, k, s, p, d, span


def _map(fn, n, *args):
    out = tuple(fn(*vals) for vals in zip(*(_ntuple(a, n, nm) for a, nm in args)))
    return out


def _unpack(result, scalar):
    return result[0] if scalar else result


def _is_scalar(*args):
    return not any(isinstance(a, (tuple, list)) for a in args)


# ---------------------------------------------------------------------------------------------------------
# output sizes


def _conv1(i, k, s, p, d):
    i, k, s, p, d, _ = _check(i, k, s, p, d)
    return geometry.conv_out_size(i, k, s, p, d)


def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """``floor((i + 2p - d(k-1) - 1) / s) + 1`` per spatial dimension.

    ``padding`` may be ``"same"`` (stride 1 only, as ``Conv2d``) or ``"valid"`` (0).
    Raises ``ConvArithmeticError`` (a ``ValueError``) saying why when no output is possible.
    """
    args = (input_size, kernel_size, stride, padding, dilation)
    n = _dims(*args)
    if isinstance(padding, str):
        padding = _str_padding(padding, kernel_size, stride, dilation, n)
    r = _map(_conv1, n, (input_size, "input_size"), (kernel_size, "kernel_size"), (stride, "stride"),
             (padding, "padding"), (dilation, "dilation"))
    return _unpack(r, _is_scalar(*args))


def _str_padding(padding, kernel_size, stride, dilation, n):
    if padding == "valid":
        return 0
    if padding == "same":
        if any(s != 1 for s in _ntuple(stride, n, "stride")):
            raise ConvArithmeticError("padding='same' is only defined for stride 1 (as in Conv2d); "
                                      "use same_padding(..., input_size=...) for strided layers")
        pads = []
        for k, d in zip(_ntuple(kernel_size, n, "kernel_size"), _ntuple(dilation, n, "dilation")):
            before, after = geometry.same_padding(k, d)
            if before != after:
                raise ConvArithmeticError(
                    f"padding='same' with kernel {k} (dilation {d}) needs {before + after} padding in total, "
                    f"which does not split evenly: pad {before} before and {after} after")
            pads.append(before)
        return tuple(pads)
    raise ConvArithmeticError(f"padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")


def _pool1(i, k, s, p, d, ceil_mode):
    if s is None:
        s = k
    i, k, s, p, d, _ = _check(i, k, s, p, d, op="pooling")
    if 2 * p > k:
        raise ConvArithmeticError(f"pooling: padding {p} is more than half the kernel {k}; "
                                  "a window could then lie entirely in the padding")
    return geometry.pool_out_size(i, k, s, p, d, ceil_mode)


def pool_output_size(input_size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output size of max/average pooling (``stride`` defaults to ``kernel_size``, as in ``MaxPool2d``)."""
    args = (input_size, kernel_size, stride, padding, dilation)
    n = _dims(*args)
    if stride is None:
        stride = kernel_size
    r = tuple(_pool1(i, k, s, p, d, ceil_mode) for i, k, s, p, d in zip(
        _ntuple(input_size, n, "input_size"), _ntuple(kernel_size, n, "kernel_size"),
        _ntuple(stride, n, "stride"), _ntuple(padding, n, "padding"), _ntuple(dilation, n, "dilation")))
    return _unpack(r, _is_scalar(*args))


def _convT1(i, k, s, p, op, d):
    i = _int(i, "input size", 1, "an input needs at least one element")
    k = _int(k, "kernel size", 1, "a kernel needs at least one element")
    s = _int(s, "stride", 1, "the stride of a transposed convolution is the upsampling factor, at least 1")
    p = _int(p, "padding", 0, "padding cannot be negative")
    d = _int(d, "dilation", 1, "dilation is at least 1")
    op = _int(op, "output_padding", 0, "output_padding cannot be negative")
    if op >= max(s, d):
        raise ConvArithmeticError(
            f"output_padding {op} must be smaller than the stride ({s}) or the dilation ({d}); "
            "it only chooses among the output sizes that map back to the same input size")
    o = geometry.conv_transpose_out_size(i, k, s, p, d, op)
    if o < 1:
        raise ConvArithmeticError(
            f"transposed convolution: output size {o}: padding {p} removes more than the "
            f"{(i - 1) * s + d * (k - 1) + op + 1} elements the layer produces")
    return o


def conv_transpose_output_size(input_size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """``(i - 1)s - 2p + d(k-1) + output_padding + 1``: the gradient of a convolution with the same
    parameters, which maps the transposed layer's output size back to ``i``."""
    args = (input_size, kernel_size, stride, padding, output_padding, dilation)
    n = _dims(*args)
    r = _map(_convT1, n, (input_size, "input_size"), (kernel_size, "kernel_size"), (stride, "stride"),
             (padding, "padding"), (output_padding, "output_padding"), (dilation, "dilation"))
    return _unpack(r, _is_scalar(*args))


# ---------------------------------------------------------------------------------------------------------
# fitting and padding


def unused_inputs(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """How many trailing rows (columns) of the padded input no window reads."""
    args = (input_size, kernel_size, stride, padding, dilation)
    n = _dims(*args)

    def one(i, k, s, p, d):
        i, k, s, p, d, span = _check(i, k, s, p, d)
        return (i + 2 * p - span) % s

    r = _map(one, n, (input_size, "input_size"), (kernel_size, "kernel_size"), (stride, "stride"),
             (padding, "padding"), (dilation, "dilation"))
    return _unpack(r, _is_scalar(*args))


def fits(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """True when the windows cover the padded input exactly (no row or column left unread)."""
    u = unused_inputs(input_size, kernel_size, stride, padding, dilation)
    return all(x == 0 for x in (u if isinstance(u, tuple) else (u,)))


def padding_to_fit(input_size, kernel_size, stride=1, dilation=1):
    """The smallest symmetric padding ``p`` for which the configuration fits, or None when no symmetric
    padding does (the total padding needed is odd and the stride is even)."""
    args = (input_size, kernel_size, stride, dilation)
    n = _dims(*args)

    def one(i, k, s, d):
        _int(i, "input size", 1, "an input needs at least one element")
        span = d * (k - 1) + 1
        p0 = max(0, math.ceil((span - i) / 2))
        for p in range(p0, p0 + s + 1):
            if (i + 2 * p - span) % s == 0:
                return p
        return None

    r = _map(one, n, (input_size, "input_size"), (kernel_size, "kernel_size"), (stride, "stride"),
             (dilation, "dilation"))
    return _unpack(r, _is_scalar(*args))


def same_padding(kernel_size, stride=1, dilation=1, input_size=None):
    """Padding ``(before, after)`` that makes the output ``ceil(i / s)`` ("same" padding; the input size
    itself at stride 1). At stride 1 it does not depend on ``i``: ``d(k-1)`` in total, e.g. ``(F-1)/2``
    each side for an odd kernel F. Strided layers need ``input_size``."""
    args = (kernel_size, stride, dilation, input_size)
    n = _dims(*args)

    def one(k, s, d, i):
        k = _int(k, "kernel size", 1, "a kernel needs at least one element")
        s = _int(s, "stride", 1, "stride must be at least 1")
        if s != 1 and i is None:
            raise ConvArithmeticError(
                "same_padding: a strided layer's 'same' padding depends on the input size; "
                "pass input_size")
        return geometry.same_padding(k, d, s, i)

    r = _map(one, n, (kernel_size, "kernel_size"), (stride, "stride"), (dilation, "dilation"),
             (input_size, "input_size"))
    return _unpack(r, _is_scalar(*args))


# ---------------------------------------------------------------------------------------------------------
# parameters and cost


def _prod(t):
    out = 1
    for v in t:
        out *= v
    return out


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    """``out * (in / groups) * prod(kernel) + out`` (the bias adds one per output channel)."""
    if in_channels % groups or out_channels % groups:
        raise ConvArithmeticError(f"groups={groups} must divide in_channels ({in_channels}) and "
                               f"out_channels ({out_channels})")
    k = _prod(kernel_size) if isinstance(kernel_size, (tuple, list)) else kernel_size ** 2
    return out_channels * (in_channels // groups) * k + (out_channels if bias else 0)


def conv_transpose_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    """Same count as the convolution it transposes: weight ``(in, out/groups, *k)`` plus ``out`` biases."""
    return conv_params(out_channels, in_channels, kernel_size, False, groups) + (out_channels if bias else 0)


def linear_params(in_features, out_features, bias=True):
    return in_features * out_features + (out_features if bias else 0)


def batchnorm_params(num_features, affine=True):
    """Trainable: a scale and a shift per channel (running mean/variance are buffers, not parameters)."""
    return 2 * num_features if affine else 0


def depthwise_separable_params(in_channels, out_channels, kernel_size, bias=True):
    """Depthwise ``k x k`` (groups = in_channels) then pointwise 1x1: ``in*k^2 + in*out`` (+ biases),
    against ``in*out*k^2`` for the full convolution."""
    return (conv_params(in_channels, in_channels, kernel_size, bias, groups=in_channels)
            + conv_params(in_channels, out_channels, 1, bias))


def conv_mult_adds(in_channels, out_channels, kernel_size, output_size, groups=1):
    """Multiply-accumulates for one image: every output value costs ``(in / groups) * prod(kernel)``."""
    k = _prod(kernel_size) if isinstance(kernel_size, (tuple, list)) else kernel_size ** 2
    o = _prod(output_size) if isinstance(output_size, (tuple, list)) else output_size ** 2
    return out_channels * o * (in_channels // groups) * k


# ---------------------------------------------------------------------------------------------------------
# receptive field


@dataclass
class LayerRF:
    """Receptive field after a layer: ``size`` input pixels seen by one output, ``jump`` input pixels
    between neighbouring outputs, ``start`` the input coordinate of the first output's centre."""

    size: int
    jump: int
    start: float


def receptive_field(layers, start=None):
    """Receptive field after each layer of a chain. ``layers``: sequence of ``(kernel, stride)``,
    ``(kernel, stride, padding)`` or ``(kernel, stride, padding, dilation)`` tuples, or dicts with those
    keys. Returns one ``LayerRF`` per layer::

        size_out = size_in + d(k-1) * jump_in,   jump_out = jump_in * s,
        start_out = start_in + (d(k-1)/2 - p) * jump_in

    Branches (residual additions, concatenations) take the largest field of the branches they join.
    """
    rf = start or LayerRF(1, 1, 0.5)
    out = []
    for layer in layers:
        if isinstance(layer, dict):
            k, s = layer["kernel"], layer.get("stride", 1)
            p, d = layer.get("padding", 0), layer.get("dilation", 1)
        else:
            k, s, p, d = (tuple(layer) + (1, 1, 0, 1)[len(layer):])[:4]
        span = d * (k - 1)
        rf = LayerRF(rf.size + span * rf.jump, rf.jump * s, rf.start + (span / 2 - p) * rf.jump)
        out.append(rf)
    return out


# ---------------------------------------------------------------------------------------------------------
# explanation


@dataclass
class Explanation:
    """What ``explain`` found out about one layer configuration (per spatial dimension)."""

    kind: str
    input_size: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    output_padding: tuple = (0,)
    ceil_mode: bool = False
    output_size: tuple = None
    error: str = None
    unused: tuple = None
    fit_padding: tuple = None
    same: tuple = None
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        return self.error is None

    def __str__(self):
        def fmt(t):
            return "x".join(str(v) for v in t)

        head = (f"{self.kind}: input {fmt(self.input_size)}, kernel {fmt(self.kernel_size)}, "
                f"stride {fmt(self.stride)}, padding {fmt(self.padding)}")
        if any(d != 1 for d in self.dilation):
            head += f", dilation {fmt(self.dilation)}"
        if any(o != 0 for o in self.output_padding):
            head += f", output_padding {fmt(self.output_padding)}"
        if self.ceil_mode:
            head += ", ceil_mode"
        lines = [head]
        if self.error:
            lines.append(f"  impossible: {self.error}")
        else:
            lines.append(f"  output: {fmt(self.output_size)}")
            for line in self.notes:
                lines.append(f"  {line}")
        return "\n".join(lines)


def explain(input_size, kernel_size, stride=1, padding=0, dilation=1, output_padding=0,
            transposed=False, pool=False, ceil_mode=False):
    """Everything about one configuration: the output size with the formula worked out, whether it fits
    (and which rows/columns are left over), the padding that would make it fit, the padding that keeps
    the size ("same"), or why it is impossible. ``str()`` of the result reads as a short report."""
    n = _dims(input_size, kernel_size, stride, padding, dilation, output_padding)
    if pool and stride is None:
        stride = kernel_size
    named = (("input_size", input_size), ("kernel_size", kernel_size), ("stride", stride),
             ("padding", padding), ("dilation", dilation), ("output_padding", output_padding))
    t = {name: _ntuple(v, n, name) for name, v in named}
    kind = "transposed convolution" if transposed else ("pooling" if pool else "convolution")
    ex = Explanation(kind, t["input_size"], t["kernel_size"], t["stride"], t["padding"], t["dilation"],
                     t["output_padding"], ceil_mode)
    try:
        if transposed:
            ex.output_size = _ntuple(conv_transpose_output_size(input_size, kernel_size, stride, padding,
                                                                output_padding, dilation), n, "")
        elif pool:
            ex.output_size = _ntuple(pool_output_size(input_size, kernel_size, stride, padding, dilation,
                                                      ceil_mode), n, "")
        else:
            ex.output_size = _ntuple(conv_output_size(input_size, kernel_size, stride, padding, dilation),
                                     n, "")
    except ConvArithmeticError as e:
        ex.error = str(e)
        return ex

    dims = ["height", "width"] if n == 2 else (["length"] if n == 1 else [f"dim {j}" for j in range(n)])
    all_same = len(set(zip(*t.values()))) == 1
    shown = range(1) if all_same else range(n)
    for j in shown:
        i, k, s, p, d, op = (t[name][j] for name in ("input_size", "kernel_size", "stride", "padding",
                                                       "dilation", "output_padding"))
        o = ex.output_size[j]
        pre = "" if all_same else f"{dims[j]}: "
        unit = ("row/column" if all_same else ("row", "column")[j]) if n == 2 else "element"
        span = d * (k - 1) + 1
        kexpr = f"({d} x ({k} - 1) + 1)" if d > 1 else f"{k}"
        if transposed:
            opx = f" + {op}" if op else ""
            ex.notes.append(f"{pre}({i} - 1) x {s} - 2 x {p} + {d} x ({k} - 1){opx} + 1 = {o}")
            continue
        rnd = "ceil" if (pool and ceil_mode) else "floor"
        num = i + 2 * p - span
        ex.notes.append(f"{pre}{rnd}(({i} + 2 x {p} - {kexpr}) / {s}) + 1 = {rnd}({num}/{s}) + 1 = {o}")
        r = num % s
        if r:
            ex.notes.append(
                f"{pre}does not fit: ({i} + 2 x {p} - {span}) / {s} = {num / s:.2f} is not an integer; "
                + ("the last window hangs over the edge (ceil_mode)" if pool and ceil_mode else
                   f"the last {r} {unit}{'s' if r > 1 else ''} of the padded input "
                   f"{'are' if r > 1 else 'is'} never read"))
            pf = padding_to_fit(i, k, s, d)
            if pool and ceil_mode:
                pass
            elif pf is not None and not (pool and 2 * pf > k):
                ex.notes.append(f"{pre}padding {pf} would make it fit (output "
                                f"{conv_output_size(i, k, s, pf, d)})")
            else:
                extra = s - r
                ex.notes.append(f"{pre}no symmetric padding fits; pad {extra} more on one side "
                                f"or crop {r}")
        else:
            ex.notes.append(f"{pre}fits: the windows cover the padded input exactly")
        if not pool:
            before, after = same_padding(k, s, d, i)
            target = -(-i // s)
            how = (f"padding {before}" if before == after else f"padding {before} before and {after} after")
            ex.notes.append(f"{pre}'same' ({'size kept' if s == 1 else f'output ceil({i}/{s}) = {target}'}): "
                            f"{how}")
    ex.unused = tuple((t["input_size"][j] + 2 * t["padding"][j]
                       - t["dilation"][j] * (t["kernel_size"][j] - 1) - 1) % t["stride"][j]
                      for j in range(n)) if not transposed else None
    return ex
