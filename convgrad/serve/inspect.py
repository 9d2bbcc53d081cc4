"""What ``convgrad serve`` shows, as plain functions on a trained convgrad model (no HTTP): the class
probabilities and every layer's feature maps for one image, saliency and occlusion for its predicted class
(from :mod:`convgrad.viz`), one convolution output taken apart into window x kernel products, a kernel,
and the layer table with each layer's receptive field.

Images are 28x28 floats in [0, 1] (0 background, 1 ink, as MNIST), normalised with the training set's
mean and std before the model sees them. None of these functions is thread safe on its own (they switch
the model's mode and add hooks): the server calls them one at a time under :attr:`Served.lock`."""

import base64
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from convgrad.arithmetic import LayerRF, receptive_field
from convgrad.geometry import same_padding

IMAGE_SIZE = 28
# np.pad's name for each Conv2d padding_mode
_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def short(value, limit=60):
    """``repr(value)``, cut to ``limit`` characters: error messages quote what a client sent, which may be
    anything up to a megabyte."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class InspectError(ValueError):
    """A request the model cannot answer; ``status`` is the HTTP status the server answers it with (404: no
    such layer / channel / position; 422: a value out of range)."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


@dataclass
class Served:
    """A trained model ready to be inspected: its name, checkpoint, class names, the (mean, std) its
    inputs were normalised with, the test split's images (uint8, N x 28 x 28) and labels."""

    model: object
    name: str
    checkpoint: str
    classes: list
    mean: float
    std: float
    test_images: np.ndarray = None
    test_labels: np.ndarray = None
    layers: list = field(default=None)
    lock: object = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.model.eval()
        if self.layers is None:
            self.layers = layer_table(self.model)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _conv_padding(m):
    """(before, after) padding per spatial dim of a Conv2d, whatever form it was given in."""
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return ((0, 0), (0, 0))
        return tuple(same_padding(k, d) for k, d in zip(m.kernel_size, m.dilation))
    return tuple((p, p) for p in _pair(m.padding))


def _is_conv(m):
    from convgrad import nn

    return isinstance(m, nn.Conv2d)


def _window_params(m):
    """(kernel, stride, padding before, dilation) per spatial dim of a sliding-window layer, else None."""
    if _is_conv(m):
        pads = _conv_padding(m)
        return [(k, s, p[0], d) for k, s, p, d in zip(m.kernel_size, m.stride, pads, m.dilation)]
    if hasattr(m, "kernel_size") and hasattr(m, "stride") and not isinstance(m.kernel_size, str):
        k = _pair(m.kernel_size)
        s = _pair(m.stride if m.stride is not None else m.kernel_size)
        p = _pair(getattr(m, "padding", 0) or 0)
        d = _pair(getattr(m, "dilation", 1) or 1)
        return list(zip(k, s, p, d))
    return None


def _run(model, x, modules, keep_input=False):
    """Run ``model`` on ``x`` with forward hooks on ``modules`` (name -> module); return the logits and
    each module's first (input, output) as arrays. The hooks are removed before returning."""
    import convgrad

    captured, handles = {}, []
    for name, m in modules.items():
        def hook(mod, inp, out, name=name):
            if name not in captured:
                captured[name] = (inp[0].numpy() if keep_input else None, out.numpy())
        handles.append(m.register_forward_hook(hook))
    try:
        with convgrad.no_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return logits.numpy(), captured


def layer_table(model, size=IMAGE_SIZE):
    """Every leaf module whose output is a (C, H, W) map, in the order the forward runs them, with its
    output shape, window (conv/pool) and receptive field in input pixels: ``receptive_field`` the
    side of the input square one output sees, ``jump`` the input pixels between neighbouring outputs,
    ``start`` the input coordinate (pixel index) of the first output's centre (``convgrad.arithmetic``'s
    recurrence). Layers that keep the size (activations, batch norm) keep the field; an unknown layer
    that changes the size leaves the fields of the layers after it as None."""
    import convgrad

    leaves = {name: m for name, m in model.named_modules() if name and not list(m.children())}
    # shapes only: train or eval mode gives the same; the captured dict is in the order the layers ran
    _, captured = _run(model, convgrad.zeros(1, 1, size, size), leaves, keep_input=True)
    shapes = {name: (inp.shape, out.shape) for name, (inp, out) in captured.items()}
    rf = [LayerRF(1, 1, 0.0), LayerRF(1, 1, 0.0)]  # per spatial dim; pixel i's centre is at i
    table = []
    for name, (in_shape, out_shape) in shapes.items():
        m = leaves[name]
        if len(out_shape) != 4:
            continue
        params = _window_params(m)
        if rf is not None and params is not None:
            rf = [receptive_field([p], start=r)[0] for p, r in zip(params, rf)]
        elif rf is not None and tuple(in_shape[2:]) != tuple(out_shape[2:]):
            rf = None
        conv_like = params is not None
        table.append({
            "name": name, "type": type(m).__name__, "output_shape": list(out_shape[1:]),
            "kernel_size": [p[0] for p in params] if conv_like else None,
            "stride": [p[1] for p in params] if conv_like else None,
            "padding": [p[2] for p in params] if conv_like else None,
            "receptive_field": rf[0].size if rf else None, "jump": rf[0].jump if rf else None,
            "start": float(rf[0].start) if rf else None,
            "_rf": rf, "_conv": _is_conv(m),  # for conv_explain; the server drops keys starting with "_"
        })
    return table


def public_layers(served):
    return [{k: v for k, v in layer.items() if not k.startswith("_")} for layer in served.layers]


def to_input(served, image):
    """A 28x28 image in [0, 1] as the model's input: (1, 1, 28, 28) float32, normalised as in training."""
    import convgrad

    x = np.asarray(image, dtype=np.float32).reshape(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    return convgrad.from_numpy((x - np.float32(served.mean)) / np.float32(served.std))


def softmax(logits):
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def quantise(maps):
    """(C, H, W) maps as (min, max, one base64 string per channel of uint8 H*W row-major values
    ``round(255 (v - min) / (max - min))``), min and max over the whole layer (all zeros when flat)."""
    lo, hi = float(maps.min()), float(maps.max())
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    q = np.rint((maps.astype(np.float64) - lo) * scale).astype(np.uint8)
    return lo, hi, [base64.b64encode(c.tobytes()).decode("ascii") for c in q]


def saliency(served, image):
    """``convgrad.viz.saliency`` of the predicted class for one image: (28, 28) float32, unscaled."""
    from convgrad import viz

    return viz.saliency(served.model, to_input(served, image))[0].numpy()


def predict(served, image, with_saliency=False):
    """Probabilities, predicted class, every layer's maps (quantised) and, if asked, the saliency map
    scaled to [0, 1]; ``elapsed_ms`` is the time of this work (model, maps, saliency)."""
    t0 = time.perf_counter()
    names = [layer["name"] for layer in served.layers]
    modules = dict(served.model.named_modules())
    logits, captured = _run(served.model, to_input(served, image), {n: modules[n] for n in names})
    probs = softmax(logits[0])
    layers = []
    for name in names:
        maps = captured[name][1][0]
        lo, hi, encoded = quantise(maps)
        layers.append({"name": name, "shape": list(maps.shape), "min": lo, "max": hi, "maps": encoded})
    sal = None
    if with_saliency:
        s = saliency(served, image)
        top = float(s.max())
        sal = as_floats(s / top if top > 0 else s)
    return {"probabilities": probs.tolist(), "predicted": int(probs.argmax()), "layers": layers,
            "saliency": sal, "elapsed_ms": (time.perf_counter() - t0) * 1e3}


def occlusion(served, image, target=None, window=4, stride=2):
    """``convgrad.viz.occlusion`` for one image: the drop in the target class's score (logit) when a
    ``window`` x ``window`` square is erased to background (0 before normalisation), per position
    ``stride`` apart: ``(28 - window) // stride + 1`` positions a side. ``target`` None: the predicted
    class."""
    from convgrad import viz

    n = len(served.classes)
    if target is not None and not 0 <= target < n:
        raise InspectError(f"occlusion: expected 'target' null or a class in [0, {n}), got {target}")
    if not 1 <= window <= IMAGE_SIZE:
        raise InspectError(f"occlusion: expected 'window' in [1, {IMAGE_SIZE}], got {window}")
    if not 1 <= stride <= IMAGE_SIZE:
        raise InspectError(f"occlusion: expected 'stride' in [1, {IMAGE_SIZE}], got {stride}")
    x = to_input(served, image)
    if target is None:
        logits, _ = _run(served.model, x, {})
        target = int(logits[0].argmax())
    fill = -served.mean / served.std  # the background, normalised
    m = viz.occlusion(served.model, x, target=target, window=window, stride=stride, fill=fill)[0].numpy()
    return {"target": target, "map": as_floats(m), "shape": list(m.shape),
            "window": window, "stride": stride}


def _conv_layer(served, name, op):
    """(table row, module) of the Conv2d layer ``name``; else 404 naming the conv layers there are."""
    layers = {layer["name"]: layer for layer in served.layers}
    convs = [n for n, layer in layers.items() if layer["_conv"]]
    if name not in layers or not layers[name]["_conv"]:
        raise InspectError(f"{op}: expected a Conv2d layer ({', '.join(convs)}), got {short(name)}", 404)
    return layers[name], dict(served.model.named_modules())[name]


def _in_range(op, what, value, n):
    if not 0 <= value < n:
        raise InspectError(f"{op}: expected '{what}' in [0, {n}), got {value}", 404)


def kernel(served, layer, channel):
    """The weights (C_in / groups, kh, kw) and bias of output channel ``channel`` of a Conv2d layer."""
    _, m = _conv_layer(served, layer, "kernel")
    _in_range("kernel", "channel", channel, m.out_channels)
    w = m.weight.detach().numpy()[channel]
    bias = None if m.bias is None else float(m.bias.detach().numpy()[channel])
    return {"layer": layer, "channel": channel, "weight": as_floats(w), "bias": bias}


def conv_explain(served, image, layer, channel, y, x):
    """Output (channel, y, x) of a Conv2d layer, taken apart: the layer's input under the kernel (padding
    as the layer pads: zeros for the default mode), the kernel, their elementwise products, and
    ``sum = sum(products) + bias``, next to the value the layer really computed (equal to float32
    rounding). ``input_region`` is the window in the layer's input map (it reaches past the edges where
    it covers padding); ``receptive_field`` the image pixels the output depends on (inclusive bounds,
    clipped to the image)."""
    info, m = _conv_layer(served, layer, "conv_explain")
    c_out, h_out, w_out = info["output_shape"]
    _in_range("conv_explain", "channel", channel, c_out)
    _in_range("conv_explain", "y", y, h_out)
    _in_range("conv_explain", "x", x, w_out)
    _, captured = _run(served.model, to_input(served, image), {layer: m}, keep_input=True)
    inp, out = captured[layer][0][0], captured[layer][1][0]  # (C_in, H, W), (C_out, H', W')
    (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, m.stride, m.dilation
    (ph, ph2), (pw, pw2) = _conv_padding(m)
    padded = np.pad(inp, ((0, 0), (ph, ph2), (pw, pw2)), mode=_PAD_MODES[m.padding_mode])
    group = channel // (m.out_channels // m.groups)
    cin = m.in_channels // m.groups
    window = padded[group * cin:(group + 1) * cin,
                    y * sh:y * sh + dh * (kh - 1) + 1:dh, x * sw:x * sw + dw * (kw - 1) + 1:dw]
    w = m.weight.detach().numpy()[channel]
    products = window * w
    bias = 0.0 if m.bias is None else float(m.bias.detach().numpy()[channel])
    total = float(products.sum(dtype=np.float64)) + bias
    rf = info["_rf"]
    field_ = None
    if rf is not None:
        top = [r.start + i * r.jump - (r.size - 1) / 2 for r, i in zip(rf, (y, x))]
        top = [int(math.floor(t + 0.5)) for t in top]  # whole pixels: start is a centre, size the side
        last = IMAGE_SIZE - 1
        field_ = {"top": max(top[0], 0), "left": max(top[1], 0),
                  "bottom": min(top[0] + rf[0].size - 1, last), "right": min(top[1] + rf[1].size - 1, last)}
    return {"layer": layer, "channel": channel, "y": y, "x": x, "window": as_floats(window),
            "kernel": as_floats(w), "products": as_floats(products), "bias": bias, "sum": total,
            "output": float(out[channel, y, x]),
            "input_region": {"top": y * sh - ph, "left": x * sw - pw, "height": dh * (kh - 1) + 1,
                             "width": dw * (kw - 1) + 1},
            "receptive_field": field_}


def samples(served, count=8, offset=0):
    """Test-split digits ``offset`` .. ``offset + count - 1`` (fewer at the end) as [0, 1] images, in the
    split's order (index = position in the test split, as ``convgrad evaluate`` sees it)."""
    n = 0 if served.test_images is None else len(served.test_images)
    if not 1 <= count <= 100:
        raise InspectError(f"samples: expected 'count' in [1, 100], got {count}")
    if not 0 <= offset < n:
        raise InspectError(f"samples: expected 'offset' in [0, {n}), got {offset}")
    out = []
    for i in range(offset, min(offset + count, n)):
        img = served.test_images[i].astype(np.float32) / np.float32(255)
        out.append({"index": i, "label": int(served.test_labels[i]), "image": as_floats(img)})
    return {"samples": out}


def as_floats(a):
    """float32 values as the Python floats equal to them, so a client sending them back gets the same
    float32 input (the test digits then predict exactly as in ``convgrad evaluate``)."""
    return a.astype(np.float64).tolist()
