"""convgrad.serve.inspect without HTTP, on a small net with every window the page must explain (stride,
padding of each mode, dilation, groups, a non-square kernel, average pooling): layer outputs against
forward hooks, each conv output taken apart against the layer's real output, receptive fields against the
support of the input gradient, saliency and occlusion against autograd and the model themselves."""

import base64

import numpy as np
import pytest

import convgrad
from convgrad import nn
from convgrad.serve import InspectError, Served, inspect

MEAN, STD = 0.1307, 0.3081


def _served(padding_mode="zeros", relu=True):
    convgrad.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1, padding_mode=padding_mode),  # 14x14
        nn.ReLU() if relu else nn.Identity(),
        nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),  # 14x14
        nn.AvgPool2d(2),  # 7x7
        nn.Conv2d(6, 8, (3, 2), stride=(2, 1)),  # 3x6
        nn.Flatten(), nn.Linear(8 * 3 * 6, 10))
    return Served(model=net, name="net", checkpoint="-", classes=[str(d) for d in range(10)], mean=MEAN,
                  std=STD)


def _image(seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (28, 28)).astype(np.float32)


def _outputs(served, image, grad=False):
    """Each listed layer's output (Tensors, in the graph when ``grad``), the input and the logits."""
    outs, handles = {}, []
    modules = dict(served.model.named_modules())
    for layer in served.layers:
        def keep(m, i, o, name=layer["name"]):  # returns None: a returned value would replace the output
            outs.setdefault(name, o)
            return None
        handles.append(modules[layer["name"]].register_forward_hook(keep))
    x = inspect.to_input(served, image)
    if grad:
        x.requires_grad_(True)
    try:
        with convgrad.set_grad_enabled(grad):
            logits = served.model(x)
    finally:
        for h in handles:
            h.remove()
    return outs, x, logits


def test_layer_table_lists_the_maps_with_their_windows():
    served = _served()
    table = inspect.public_layers(served)
    assert [(t["name"], t["type"], t["output_shape"]) for t in table] == [
        ("0", "Conv2d", [4, 14, 14]), ("1", "ReLU", [4, 14, 14]), ("2", "Conv2d", [6, 14, 14]),
        ("3", "AvgPool2d", [6, 7, 7]), ("4", "Conv2d", [8, 3, 6])]
    assert table[0]["stride"] == [2, 2] and table[0]["padding"] == [1, 1] and table[1]["kernel_size"] is None
    assert table[4]["kernel_size"] == [3, 2] and table[4]["stride"] == [2, 1]
    # size_out = size_in + d(k-1) jump_in, jump_out = jump_in s, start_out = start_in + (d(k-1)/2 - p) jump_in
    assert [(t["receptive_field"], t["jump"], t["start"]) for t in table] == [
        (3, 2, 0.0), (3, 2, 0.0), (11, 2, 0.0), (13, 4, 1.0), (21, 8, 5.0)]


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_receptive_fields_are_the_support_of_the_input_gradient(padding_mode):
    served = _served(padding_mode, relu=False)  # no ReLU: no gradient is cut, the support is the whole field
    image = _image(1)
    convs = [t for t in served.layers if t["type"] == "Conv2d"]
    for t in convs:
        c, h, w = t["output_shape"]
        for y, x in {(0, 0), (h - 1, w - 1), (h // 2, w // 2), (0, w - 1), (h - 1, 0)}:
            outs, inp, _ = _outputs(served, image, grad=True)
            outs[t["name"]][0, c - 1, y, x].backward()
            g = np.abs(inp.grad.numpy()[0, 0]) > 0
            rows, cols = np.nonzero(g.any(1))[0], np.nonzero(g.any(0))[0]
            got = inspect.conv_explain(served, image, t["name"], c - 1, y, x)["receptive_field"]
            if padding_mode == "zeros":
                want = {"top": rows[0], "bottom": rows[-1], "left": cols[0], "right": cols[-1]}
                assert got == want, (t["name"], y, x)
            else:  # reflected padding reads pixels inside the field again, never outside it
                assert got["top"] <= rows[0] and rows[-1] <= got["bottom"], (t["name"], y, x)
                assert got["left"] <= cols[0] and cols[-1] <= got["right"], (t["name"], y, x)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv_explain_sums_to_the_layer_output_everywhere(padding_mode):
    served = _served(padding_mode)
    image = _image(2)
    outs, _, _ = _outputs(served, image)
    modules = dict(served.model.named_modules())
    for t in (t for t in served.layers if t["type"] == "Conv2d"):
        m = modules[t["name"]]
        c_out, h, w = t["output_shape"]
        real = outs[t["name"]].numpy()[0]
        ys, xs = range(h), range(w)
        for channel in (0, c_out - 1):
            for y in ys:
                for x in xs:
                    e = inspect.conv_explain(served, image, t["name"], channel, y, x)
                    assert e["output"] == pytest.approx(float(real[channel, y, x]), abs=1e-6)
                    assert e["sum"] == pytest.approx(e["output"], rel=1e-5, abs=1e-5), (t["name"], y, x)
                    products = np.array(e["products"])
                    np.testing.assert_allclose(products, np.array(e["window"]) * np.array(e["kernel"]),
                                               rtol=1e-6, atol=1e-7)
                    assert e["bias"] == pytest.approx(float(m.bias.detach().numpy()[channel]))
        if padding_mode == "zeros":  # the window is the input read at the region's places, zero outside
            layer_in = _layer_input(served, image, t["name"])
            e = inspect.conv_explain(served, image, t["name"], 1, 0, w - 1)
            r, (dh, dw) = e["input_region"], m.dilation
            window = np.array(e["window"])
            ci, kh, kw = window.shape
            group = 1 // (m.out_channels // m.groups)
            for i in range(kh):
                for j in range(kw):
                    yy, xx = r["top"] + i * dh, r["left"] + j * dw
                    inside = 0 <= yy < layer_in.shape[1] and 0 <= xx < layer_in.shape[2]
                    want = layer_in[group * ci:(group + 1) * ci, yy, xx] if inside else np.zeros(ci)
                    np.testing.assert_array_equal(window[:, i, j], want)


def _layer_input(served, image, name):
    got = []
    handle = dict(served.model.named_modules())[name].register_forward_hook(
        lambda m, i, o: got.append(i[0].numpy()[0]) and None)
    try:
        with convgrad.no_grad():
            served.model(inspect.to_input(served, image))
    finally:
        handle.remove()
    return got[0]


def test_predict_maps_are_the_layer_outputs_quantised():
    served = _served()
    image = _image(3)
    outs, _, logits = _outputs(served, image)
    doc = inspect.predict(served, image)
    p = np.exp(logits.numpy()[0] - logits.numpy()[0].max())
    np.testing.assert_allclose(doc["probabilities"], p / p.sum(), rtol=1e-6)
    assert doc["predicted"] == int(p.argmax()) and doc["saliency"] is None
    for layer in doc["layers"]:
        real = outs[layer["name"]].numpy()[0]
        assert layer["shape"] == list(real.shape)
        assert (layer["min"], layer["max"]) == (float(real.min()), float(real.max()))
        c, h, w = real.shape
        q = np.stack([np.frombuffer(base64.b64decode(s), np.uint8).reshape(h, w) for s in layer["maps"]])
        want = np.rint((real.astype(np.float64) - real.min()) * 255 / (real.max() - real.min()))
        np.testing.assert_array_equal(q, want)


def test_a_flat_layer_quantises_to_zeros():
    lo, hi, maps = inspect.quantise(np.full((2, 3, 3), 0.5, np.float32))
    assert (lo, hi) == (0.5, 0.5) and all(base64.b64decode(m) == bytes(9) for m in maps)


def test_saliency_is_the_input_gradient_of_the_predicted_class():
    from convgrad import viz

    served = _served()
    image = _image(4)
    _, x, logits = _outputs(served, image, grad=True)
    logits[0, int(logits.detach().numpy()[0].argmax())].backward()
    want = np.abs(x.grad.numpy()[0]).max(0)
    got = inspect.saliency(served, image)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(got, viz.saliency(served.model, inspect.to_input(served, image))[0].numpy())
    sal = np.array(inspect.predict(served, image, with_saliency=True)["saliency"])
    np.testing.assert_allclose(sal, want / want.max(), rtol=1e-5, atol=1e-8)
    assert all(p.requires_grad for p in served.model.parameters()) and not served.model.training


def test_occlusion_is_the_score_drop_of_erasing_each_window():
    served = _served()
    image = _image(5)
    doc = inspect.occlusion(served, image, target=None, window=6, stride=5)
    _, _, logits = _outputs(served, image)
    target = int(logits.numpy()[0].argmax())
    assert doc["target"] == target and doc["shape"] == [5, 5] and (doc["window"], doc["stride"]) == (6, 5)
    for i, j in [(0, 0), (2, 3), (4, 4)]:
        covered = image.copy()
        covered[i * 5:i * 5 + 6, j * 5:j * 5 + 6] = 0  # background
        _, _, after = _outputs(served, covered)
        drop = float(logits.numpy()[0, target] - after.numpy()[0, target])
        assert doc["map"][i][j] == pytest.approx(drop, abs=1e-5)
    assert inspect.occlusion(served, image, target=7)["target"] == 7


def test_out_of_range_requests_raise_with_their_status():
    served = _served()
    image = _image()
    cases = [(lambda: inspect.conv_explain(served, image, "1", 0, 0, 0), 404, "a Conv2d layer (0, 2, 4)"),
             (lambda: inspect.conv_explain(served, image, "4", 0, 3, 0), 404, "'y' in [0, 3), got 3"),
             (lambda: inspect.conv_explain(served, image, "4", 0, 0, 6), 404, "'x' in [0, 6), got 6"),
             (lambda: inspect.kernel(served, "2", 6), 404, "'channel' in [0, 6), got 6"),
             (lambda: inspect.occlusion(served, image, target=-1), 422, "got -1"),
             (lambda: inspect.samples(served, 8, 0), 422, "'offset' in [0, 0)")]
    for call, status, message in cases:
        with pytest.raises(InspectError) as e:
            call()
        assert e.value.status == status and message in str(e.value)


def test_kernel_is_the_layer_weight():
    served = _served()
    k = inspect.kernel(served, "2", 4)
    m = served.model[2]
    assert np.array(k["weight"]).shape == (2, 3, 3)  # groups=2: 2 of the 4 input channels
    np.testing.assert_array_equal(np.array(k["weight"], np.float32), m.weight.detach().numpy()[4])
    assert k["bias"] == float(m.bias.detach().numpy()[4])
