"""What the model zoo shares: input checks (dimensions, channels, a classifier's fixed size), turning a
layer's "window larger than its input" error into one that names the layer and the smallest input the
network takes, and the ``weights`` argument of torchvision's constructors."""

import functools

import convgrad
from convgrad import geometry, nn
from convgrad.nn.modules.module import _annotate
from convgrad.nn.modules.normalization import _BatchNorm

__all__ = ["bn_relu", "check_input", "names_too_small_layer", "zoo_forward", "no_weights", "conv_relu",
           "FeaturesClassifier"]


def bn_relu(bn, relu, x):
    """``relu(bn(x))`` for a conv-BN-ReLU block: in training one fused node (``F.batch_norm_relu``, the
    same values and gradients) when nothing can see the batch norm's output in between: ``bn`` a plain
    batch norm layer, ``relu`` an ``nn.ReLU``, neither with hooks. Otherwise the two layers as called."""
    if (bn.training and type(relu) is nn.ReLU and type(bn).forward is _BatchNorm.forward
            and not bn._has_hooks() and not relu._has_hooks()):
        try:
            return bn._forward_relu(x)
        except Exception as e:
            _annotate(bn, e)  # as Module.__call__ names the layer that failed
            raise
    return relu(bn(x))


def no_weights(weights, name):
    """torchvision's constructors take ``weights=``; convgrad ships no pretrained weights."""
    if weights is not None and weights is not False:
        raise ValueError(f"{name}: convgrad ships no pretrained weights (got weights={weights!r}); "
                         "build the model and call load_state_dict() with a state dict of your own")


def conv_relu(in_channels, out_channels, kernel_size, batch_norm=False, **conv_kwargs):
    """The plain CNNs' block (AlexNet, VGG, NiN): [Conv2d, (BatchNorm2d,) ReLU(inplace=True)], to be
    spliced into a ``Sequential`` (so its indices stay torchvision's)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, **conv_kwargs)
    norm = [nn.BatchNorm2d(out_channels)] if batch_norm else []
    return [conv, *norm, nn.ReLU(inplace=True)]


def _tuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v) if len(v) == n else tuple(v) * n
    return (v,) * n


def check_input(model, x, spatial_dims=2, fixed_size=None):
    """Reject, before any computation, an input of the wrong dimensions or channels (those of the
    model's first layer with ``in_channels``), or of another spatial size than ``fixed_size`` (a model
    with a flattening classifier). Called inside ``forward``: ``Module`` puts the model's name in front."""
    shape = tuple(x.shape)
    want = spatial_dims + 2
    if len(shape) != want:
        layout = "(N, C, L)" if spatial_dims == 1 else "(N, C, H, W)"
        raise ValueError(f"expected a {want}-D input {layout}, got shape {shape}")
    in_channels = next((m.in_channels for m in model.modules() if hasattr(m, "in_channels")), None)
    if in_channels is not None and shape[1] != in_channels:
        raise ValueError(f"expected {in_channels} input channel{'s' if in_channels > 1 else ''}, "
                         f"got {shape[1]} (input shape {shape})")
    if fixed_size is not None:
        fixed = _tuple(fixed_size, spatial_dims)
        if shape[2:] != fixed:
            raise ValueError(f"its classifier is sized for {'x'.join(map(str, fixed))} inputs, got "
                             f"{'x'.join(map(str, shape[2:]))} (input shape {shape})")


def zoo_forward(skip=("downsample",)):
    """Decorator for a zoo model's ``forward(x)``: ``check_input`` before it, ``names_too_small_layer``
    around it."""
    def wrap(forward):
        @functools.wraps(forward)
        def checked(self, x, *args, **kwargs):
            check_input(self, x)
            return forward(self, x, *args, **kwargs)
        return names_too_small_layer(skip)(checked)
    return wrap


def names_too_small_layer(skip=("downsample",)):
    """Decorator for a zoo model's ``forward``: when one of its layers raises ``OutputSizeError`` (its
    window is larger than its padded input), raise a ``ValueError`` naming that layer and the smallest
    input the model takes. Nothing is checked ahead: the cost is paid only by a failing call.
    ``skip``: name parts of branches that shrink in step with the main path (a residual shortcut's
    strided 1x1 convolution), left out of the smallest-input search."""
    def wrap(forward):
        @functools.wraps(forward)
        def checked_forward(self, x, *args, **kwargs):
            try:
                return forward(self, x, *args, **kwargs)
            except geometry.OutputSizeError as e:
                layer = getattr(e, "_convgrad_module", None)
                name = next((n for n, m in self.named_modules() if m is layer and n), None)
                if name is None:
                    raise
                raise ValueError(_too_small_message(self, tuple(x.shape[2:]), name, layer, e, skip)) from e
        return checked_forward
    return wrap


_WINDOWED = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.AvgPool1d, nn.AvgPool2d)


def _out_size(m, size):
    """Spatial size after the windowed layer ``m`` for spatial input ``size``; None when its window does
    not fit. The rules are the functional ops' own (``convgrad.geometry``)."""
    n = len(size)
    k, d = _tuple(m.kernel_size, n), _tuple(getattr(m, "dilation", 1), n)
    s = _tuple(m.stride, n)
    p = getattr(m, "padding", 0)
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        q = _tuple(m.output_padding, n)
        out = tuple(geometry.conv_transpose_out_size(*a) for a in zip(size, k, s, _tuple(p, n), d, q))
    elif isinstance(m, nn.modules.conv._ConvNd):
        if p == "same":
            return size
        p = 0 if p == "valid" else p
        out = tuple(geometry.conv_out_size(*a) for a in zip(size, k, s, _tuple(p, n), d))
    else:
        ceil = bool(getattr(m, "ceil_mode", False))
        out = tuple(geometry.pool_out_size(*a, ceil) for a in zip(size, k, s, _tuple(p, n), d))
    return out if min(out) >= 1 else None


def _smallest(model, n, skip):
    """The smallest square (cube) input that passes every windowed layer in registration order, or None
    above 4096."""
    layers = [m for name, m in model.named_modules()
              if isinstance(m, _WINDOWED) and not set(name.split(".")) & set(skip)]
    for i in range(1, 4097):
        size = (i,) * n
        for m in layers:
            size = _out_size(m, size)
            if size is None:
                break
        else:
            return i
    return None


def _too_small_message(model, size, name, layer, err, skip):
    fmt = "x".join
    n = len(err.input_size)
    padded = tuple(i + a + b for i, (a, b) in zip(err.input_size, err.padding))
    smallest = _smallest(model, n, skip)
    hint = f" The smallest input it takes is {fmt([str(smallest)] * n)}." if smallest else ""
    pad = f" (padded {fmt(map(str, padded))})" if padded != err.input_size else ""
    return (f"input {fmt(map(str, size))} is too small: the spatial size reaches zero at layer "
            f"'{name}' ({type(layer).__name__}, kernel {layer.kernel_size}, stride {layer.stride}), whose "
            f"{fmt(map(str, err.input_size))} input{pad} is smaller than its {fmt(map(str, err.span))} "
            f"window.{hint}")


class FeaturesClassifier(nn.Module):
    """torchvision's layout of AlexNet and VGG: ``features`` (convolutions) -> ``avgpool`` -> flatten ->
    ``classifier``; the subclass builds the three."""

    @zoo_forward()
    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(convgrad.flatten(x, 1))
