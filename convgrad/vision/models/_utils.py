"""What the model zoo shares: the input pre-check that names the layer where an input becomes too small,
and the ``weights`` argument of torchvision's constructors."""

from convgrad import arithmetic

__all__ = ["check_input", "no_weights"]


def no_weights(weights, name):
    """torchvision's constructors take ``weights=``; convgrad ships no pretrained weights."""
    if weights is not None and weights is not False:
        raise ValueError(f"{name}: convgrad ships no pretrained weights (got weights={weights!r}); "
                         "build the model and call load_state_dict() with a state dict of your own")


def _tuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v) if len(v) == n else tuple(v) * n
    return (v,) * n


def _geometry(model, skip):
    """The spatial layers (those with a ``kernel_size``) along the main path, in registration order,
    as ``(name, module)``. ``skip``: name parts of parallel branches that change the size in step with
    the main path (a residual shortcut's strided 1x1 convolution), which must not be applied twice."""
    layers = []
    for name, m in model.named_modules():
        if not name or not hasattr(m, "kernel_size"):
            continue
        if any(part in skip for part in name.split(".")):
            continue
        layers.append((name, m))
    return layers


def _step(m, size):
    """Spatial size after layer ``m`` for input spatial ``size`` (tuple); raises ConvArithmeticError."""
    n = len(size)
    k = _tuple(m.kernel_size, n)
    stride = m.stride if getattr(m, "stride", None) is not None else k
    s = _tuple(stride, n)
    d = _tuple(getattr(m, "dilation", 1), n)
    p = getattr(m, "padding", 0)
    if isinstance(p, str):
        if p == "same":
            return size
        p = 0
    p = _tuple(p, n)
    if getattr(m, "transposed", False) or type(m).__name__.startswith("ConvTranspose"):
        op = _tuple(getattr(m, "output_padding", 0), n)
        return tuple(arithmetic.conv_transpose_output_size(size[j], k[j], s[j], p[j], op[j], d[j])
                     for j in range(n))
    if "Pool" in type(m).__name__:
        return tuple(arithmetic.pool_output_size(size[j], k[j], s[j], p[j], d[j],
                                                 bool(getattr(m, "ceil_mode", False))) for j in range(n))
    return tuple(arithmetic.conv_output_size(size[j], k[j], s[j], p[j], d[j]) for j in range(n))


def _walk(layers, size):
    """Returns None if every layer has an output, else ``(name, module, size_in)`` of the first that has
    none."""
    for name, m in layers:
        try:
            size = _step(m, size)
        except arithmetic.ConvArithmeticError:
            return name, m, size
    return None


def _smallest(layers, size):
    """The smallest square (cube) input that passes every layer, or None above 4096."""
    n = len(size)
    for i in range(1, 4097):
        if _walk(layers, (i,) * n) is None:
            return i
    return None


def check_input(model, x, spatial_dims=2, fixed_size=None, skip=("downsample",)):
    """Validate ``x`` for ``model`` before any computation: dimensions, channels, and that every
    convolution and pooling layer on the way has an output. An input that becomes too small raises a
    ``ValueError`` naming the layer where the spatial size reaches zero and the smallest input size the
    model accepts. ``fixed_size``: the only spatial size a model with a flattening classifier takes.
    (The layers are looked up on every call, so replacing a layer after construction is seen.)
    Called inside ``forward``, the model's name is put in front of the message by ``Module``."""
    shape = tuple(x.shape)
    want = spatial_dims + 2
    if len(shape) != want:
        layout = "(N, C, L)" if spatial_dims == 1 else "(N, C, H, W)"
        raise ValueError(f"expected a {want}-D input {layout}, got shape {shape}")
    layers = _geometry(model, skip)
    in_channels = next((m.in_channels for _, m in layers if hasattr(m, "in_channels")), None)
    if in_channels is not None and shape[1] != in_channels:
        raise ValueError(f"expected {in_channels} input channel{'s' if in_channels > 1 else ''}, "
                         f"got {shape[1]} (input shape {shape})")
    size = shape[2:]
    if fixed_size is not None:
        fixed = _tuple(fixed_size, spatial_dims)
        if size != fixed:
            raise ValueError(f"its classifier is sized for {'x'.join(map(str, fixed))} inputs, got "
                             f"{'x'.join(map(str, size))} (input shape {shape})")
        return
    bad = _walk(layers, size)
    if bad is None:
        return
    layer, m, size_in = bad
    n = len(size_in)
    k, d = _tuple(m.kernel_size, n), _tuple(getattr(m, "dilation", 1), n)
    p = getattr(m, "padding", 0)
    p = _tuple(0 if isinstance(p, str) else p, n)
    span = "x".join(str(d[j] * (k[j] - 1) + 1) for j in range(n))
    padded = "x".join(str(size_in[j] + 2 * p[j]) for j in range(n))
    smallest = _smallest(layers, size)
    hint = ""
    if smallest:
        hint = f" The smallest input it takes is {'x'.join([str(smallest)] * n)}."
    fmt = "x".join
    raise ValueError(
        f"input {fmt(map(str, size))} is too small: the spatial size reaches zero at layer "
        f"'{layer}' ({type(m).__name__}, kernel {m.kernel_size}, stride {m.stride}), whose "
        f"{fmt(map(str, size_in))} input{f' (padded {padded})' if any(p) else ''} is smaller than its "
        f"{span} window.{hint}")
