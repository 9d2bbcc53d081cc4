"""ONNX export (checked by onnx.checker and run by ONNX Runtime against convgrad's own outputs), loading
ONNX files back as convgrad modules (round trips, fine-tuning), and the exporter's errors."""

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import convgrad  # noqa: E402
import convgrad.nn.functional as F  # noqa: E402
import convgrad.onnx as connx  # noqa: E402
from convgrad import nn  # noqa: E402
from convgrad.vision import models  # noqa: E402
from tests.conftest import SLOW  # noqa: E402

big = pytest.mark.skipif(not SLOW, reason="big model: CONVGRAD_SLOW=1 runs it")
RTOL = 1e-4  # ONNX Runtime vs. convgrad: max |difference| / max |output|


def _randomise(model, seed=0):
    """Perturb every parameter and give batch norms non-trivial running statistics, so that no output
    is degenerate (zero-initialised heads, identity normalisation)."""
    rng = np.random.default_rng(seed)
    for name, t in model.state_dict(keep_vars=True).items():
        a = t._data
        if a.dtype.kind != "f":
            continue
        if name.endswith("running_var"):
            a[...] = rng.uniform(0.5, 1.5, a.shape)
        elif name.endswith("running_mean"):
            a[...] = rng.normal(0, 0.1, a.shape)
        else:
            a += rng.normal(0, 0.02, a.shape).astype(a.dtype)
    return model


def _export(model, x, **kwargs):
    buf = io.BytesIO()
    proto = connx.export(model, x, buf, **kwargs)
    onnx.checker.check_model(proto)
    return proto, buf.getvalue()


def _ort(data, *inputs):
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, [np.asarray(x) for x in inputs])))


def _reference(model, *inputs):
    model.eval()
    with convgrad.no_grad():
        out = model(*[convgrad.from_numpy(x) for x in inputs])
    return out.numpy()


def _assert_close(got, want, rtol=RTOL):
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = float(np.abs(want).max())
    assert scale > 0 and float(want.std()) > 0, "degenerate reference output"
    err = float(np.abs(got - want).max()) / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol}"


# --------------------------------------------------------------------------- the model zoo
ZOO_FAST = [
    ("lenet5", {}, (2, 1, 28, 28)),
    ("lenet5", {"classic": True}, (2, 1, 28, 28)),
    ("mnist1d_cnn", {}, (2, 1, 40)),
    ("resnet20", {}, (2, 3, 32, 32)),
    ("mobilenet_v2", {"width_mult": 0.25, "num_classes": 10}, (2, 3, 64, 64)),
]
ZOO_BIG = [
    ("alexnet", {}, (1, 3, 224, 224)),
    ("alexnet", {"paper": True}, (1, 3, 227, 227)),
    ("vgg11", {}, (1, 3, 224, 224)),
    ("vgg11_bn", {}, (1, 3, 224, 224)),
    ("vgg16", {}, (1, 3, 224, 224)),
    ("vgg16_bn", {}, (1, 3, 224, 224)),
    ("googlenet", {}, (1, 3, 224, 224)),
    ("resnet18", {}, (1, 3, 224, 224)),
    ("resnet50", {}, (1, 3, 224, 224)),
    ("densenet121", {}, (1, 3, 224, 224)),
    ("mobilenet_v2", {}, (1, 3, 224, 224)),
]


def _zoo_case(name, kwargs, shape):
    convgrad.manual_seed(0)
    model = _randomise(models.get_model(name, **kwargs))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    want = _reference(model, x)
    _, data = _export(model, convgrad.from_numpy(x))
    (got,) = _ort(data, x)
    _assert_close(got, want)
    return model, data, x, want


@pytest.mark.parametrize("name,kwargs,shape", ZOO_FAST, ids=lambda v: str(v))
def test_zoo_exports_and_onnxruntime_agrees(name, kwargs, shape):
    _zoo_case(name, kwargs, shape)


@big
@pytest.mark.slow
@pytest.mark.parametrize("name,kwargs,shape", ZOO_BIG, ids=lambda v: str(v))
def test_big_zoo_exports_and_onnxruntime_agrees(name, kwargs, shape):
    _zoo_case(name, kwargs, shape)


@pytest.mark.parametrize("name,kwargs,shape", ZOO_FAST[:4], ids=lambda v: str(v))
def test_round_trip_gives_identical_outputs(name, kwargs, shape):
    model, data, x, want = _zoo_case(name, kwargs, shape)
    back = connx.load(data)
    np.testing.assert_array_equal(_reference(back, x), want)
    # the parameters keep their state_dict names
    assert {k for k, _ in model.named_parameters()} <= set(back.state_dict())


def test_loaded_model_fine_tunes():
    convgrad.manual_seed(0)
    model = _randomise(models.lenet5())
    x = convgrad.randn(8, 1, 28, 28)
    y = convgrad.randint(0, 10, (8,))
    _, data = _export(model, x)
    back = connx.load(data)
    back.train()
    opt = convgrad.optim.SGD(back.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(back(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in back.parameters())
    assert losses[-1] < losses[0]
    # the fine-tuned weights load straight back into the zoo model
    model.load_state_dict(back.state_dict())
    tuned = back.state_dict()["features.0.weight"].numpy()
    np.testing.assert_array_equal(model.features[0].weight.detach().numpy(), tuned)


def test_dynamic_batch_axis():
    convgrad.manual_seed(0)
    model = _randomise(models.mobilenet_v2(width_mult=0.25, num_classes=10))
    dynamic = {"images": {0: "batch"}, "logits": {0: "batch"}}
    proto, data = _export(model, convgrad.randn(2, 3, 32, 32), input_names=["images"],
                          output_names=["logits"], dynamic_axes=dynamic)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    (got,) = _ort(data, x)
    _assert_close(got, _reference(model, x))


def test_export_writes_a_file_and_restores_the_model(tmp_path):
    model = models.mnist1d_cnn()
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    connx.export(model, convgrad.randn(1, 1, 40), tmp_path / "m.onnx")
    assert model.training and not any(p.requires_grad for p in model.parameters())
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto)
    names = {i.name for i in proto.graph.initializer}
    assert {k for k, _ in model.named_parameters()} <= names
    assert [n.op_type for n in proto.graph.node].count("Conv") == 3


# --------------------------------------------------------------------------- op by op
class Fn(nn.Module):
    """A module around a function, with the parameters it reads."""

    def __init__(self, fn, **params):
        super().__init__()
        self.fn = fn
        for k, v in params.items():
            setattr(self, k, nn.Parameter(convgrad.from_numpy(v)))

    def forward(self, *xs):
        return self.fn(self, *xs)


def _w(*shape, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 0.3).astype(np.float32)


OPS = {
    "conv2d_groups_dilation_pads": (Fn(lambda m, x: F.conv2d(x, m.w, m.b, stride=(2, 1), padding=(1, 2),
                                                             dilation=(2, 1), groups=2), w=_w(6, 2, 3, 3),
                                       b=_w(6)), (2, 4, 11, 9)),
    "conv2d_same": (Fn(lambda m, x: F.conv2d(x, m.w, padding="same"), w=_w(3, 4, 4, 2)), (1, 4, 7, 6)),
    "conv1d": (Fn(lambda m, x: F.conv1d(x, m.w, m.b, stride=2, padding=1), w=_w(5, 3, 3), b=_w(5)),
               (2, 3, 17)),
    "conv2d_unbatched": (Fn(lambda m, x: F.conv2d(x, m.w), w=_w(2, 3, 3, 3)), (3, 8, 8)),
    "conv_transpose2d": (Fn(lambda m, x: F.conv_transpose2d(x, m.w, m.b, stride=2, padding=1,
                                                            output_padding=1, groups=2, dilation=1),
                            w=_w(4, 3, 3, 3), b=_w(6)),
                         (2, 4, 5, 6)),
    "conv_transpose1d_dilation": (Fn(lambda m, x: F.conv_transpose1d(x, m.w, stride=3, dilation=2),
                                     w=_w(3, 2, 3)), (1, 3, 7)),
    "max_pool_ceil_pad": (Fn(lambda m, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)), (2, 3, 10, 11)),
    "max_pool_dilation": (Fn(lambda m, x: F.max_pool2d(x, 2, 1, 0, dilation=2)), (1, 2, 7, 7)),
    "max_pool1d": (Fn(lambda m, x: F.max_pool1d(x, 3, 2)), (2, 3, 12)),
    "avg_pool_exclude_pad": (Fn(lambda m, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
                             (2, 3, 9, 8)),
    "avg_pool_include_pad_ceil": (Fn(lambda m, x: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True)), (1, 2, 7, 6)),
    "avg_pool_divisor_override": (Fn(lambda m, x: F.avg_pool2d(x, 2, divisor_override=3)), (1, 2, 6, 6)),
    "global_avg_pool": (Fn(lambda m, x: F.adaptive_avg_pool2d(x, 1)), (2, 3, 5, 7)),
    "adaptive_avg_pool_uneven": (Fn(lambda m, x: F.adaptive_avg_pool2d(x, (3, 4))), (2, 3, 7, 9)),
    "batch_norm_1d": (Fn(lambda m, x: F.batch_norm(x, m.rm, m.rv, m.w, m.b, eps=1e-3), rm=_w(4), w=_w(4),
                         b=_w(4), rv=np.abs(_w(4)) + 0.5), (3, 4)),
    "relu_leaky_sigmoid_tanh": (Fn(lambda m, x: F.relu(x) + F.leaky_relu(x, 0.2) * x.sigmoid() - x.tanh()),
                                (2, 3, 4)),
    "gelu": (Fn(lambda m, x: F.gelu(x) + F.gelu(x, approximate="tanh")), (2, 3, 4)),
    "hardsigmoid_relu6_hardswish_silu": (Fn(lambda m, x: F.hardsigmoid(x) + F.relu6(x * 4) + F.hardswish(x)
                                            + F.silu(x) + F.elu(x)), (2, 3, 4)),
    "clamp": (Fn(lambda m, x: x.clamp(-0.5, 0.7) + x.clamp(min=0.1)), (3, 5)),
    "linear_3d_matmul_add_mul": (Fn(lambda m, x: (F.linear(x, m.w, m.b) @ m.v) * 2.0 + 1.0,
                                    w=_w(6, 5), b=_w(6), v=_w(6, 3)), (2, 4, 5)),
    "flatten_reshape_cat_permute": (Fn(lambda m, x: convgrad.cat([x.flatten(1), x.permute(0, 2, 3, 1)
                                                                   .reshape(2, -1)], 1)), (2, 3, 4, 5)),
    "dropout_eval_is_identity": (Fn(lambda m, x: F.dropout(x, 0.5, training=False) * 3), (2, 3)),
    "lrn": (Fn(lambda m, x: F.local_response_norm(x, 3, 1e-2, 0.75, 2.0)), (2, 6, 4, 4)),
    "softmax_log_softmax": (Fn(lambda m, x: F.softmax(x, 1) + F.log_softmax(x, -1)), (2, 5, 3)),
    "pad_modes": (Fn(lambda m, x: F.pad(x, (1, 2, 0, 1), value=0.5) + F.pad(x, (1, 2, 0, 1), mode="reflect")
                     + F.pad(x, (1, 2, 0, 1), mode="replicate")), (2, 3, 5, 6)),
    "pad_circular": (Fn(lambda m, x: F.pad(x, (2, 1), mode="circular")), (2, 3, 5)),
    "interpolate_nearest": (Fn(lambda m, x: F.interpolate(x, scale_factor=2) + 1), (1, 2, 3, 4)),
    "interpolate_nearest_size": (Fn(lambda m, x: F.interpolate(x, size=(5, 7))), (1, 2, 3, 4)),
    "interpolate_bilinear": (Fn(lambda m, x: F.interpolate(x, size=(7, 5), mode="bilinear")), (1, 2, 3, 4)),
    "interpolate_bilinear_align": (Fn(lambda m, x: F.interpolate(x, scale_factor=2, mode="bilinear",
                                                                 align_corners=True)), (1, 2, 3, 4)),
    "interpolate_bilinear_fractional_scale": (Fn(lambda m, x: F.interpolate(x, scale_factor=1.7,
                                                                            mode="bilinear")), (1, 2, 3, 4)),
    "slice_index_select_sum_mean": (Fn(lambda m, x: x[:, 1:3].sum(1)
                                       + x.index_select(2, convgrad.tensor([3, 0])).mean((1, 2), True)),
                                    (2, 4, 5)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_exports_and_onnxruntime_agrees(name):
    model, shape = OPS[name]
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    want = _reference(model, x)
    for opset in (17, 20):
        _, data = _export(model, convgrad.from_numpy(x), opset_version=opset)
        (got,) = _ort(data, x)
        _assert_close(got, want, rtol=1e-5)
        # and back: the ONNX graph run by convgrad's backend
        np.testing.assert_allclose(_reference(connx.load(data), x), want, rtol=1e-5, atol=1e-6)


def test_several_inputs_and_nested_outputs():
    model = Fn(lambda m, x, y: (x @ y, (x.relu(), y.sum(0))))
    x, y = convgrad.randn(3, 4), convgrad.randn(4, 2)
    proto, data = _export(model, (x, y), input_names=["a", "b"])
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == ["output0", "output1", "output2"]
    want = [(x @ y).numpy(), x.relu().numpy(), y.sum(0).numpy()]
    for got, w in zip(_ort(data, x.numpy(), y.numpy()), want):
        np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-6)
    for got, w in zip(connx.load(data)(x, y), want):
        np.testing.assert_allclose(got.numpy(), w, rtol=1e-6, atol=1e-6)


def test_gelu_is_one_node_from_opset_20():
    proto, _ = _export(OPS["gelu"][0], convgrad.randn(2, 3), opset_version=20)
    assert [n.op_type for n in proto.graph.node].count("Gelu") == 2


# --------------------------------------------------------------------------- errors
def test_unmapped_op_raises_naming_it():
    model = Fn(lambda m, x: F.layer_norm(x, (4,)))
    with pytest.raises(connx.ExportError, match="no ONNX mapping for the op _RowNorm"):
        connx.export(model, convgrad.randn(2, 4), io.BytesIO())


def test_bad_arguments():
    model = models.mnist1d_cnn()
    with pytest.raises(TypeError, match="expected args to be a Tensor or a tuple of Tensors, got ndarray"):
        connx.export(model, np.zeros((1, 1, 40), np.float32), io.BytesIO())
    with pytest.raises(ValueError, match="expected opset_version between 13 and 21, got 9"):
        connx.export(model, convgrad.randn(1, 1, 40), io.BytesIO(), opset_version=9)


def test_a_value_computed_outside_the_ops_is_caught_by_the_trace_check():
    # the comparison is NumPy-side (no op records it): the trace would freeze the example's mask
    model = Fn(lambda m, x: x * (x > 0).float())
    with pytest.raises(connx.ExportError, match="does not reproduce the model on a second input"):
        connx.export(model, convgrad.randn(2, 4), io.BytesIO())
    proto, _ = _export(model, convgrad.randn(2, 4), check_trace=False)
    assert proto.graph.node


def test_training_mode_dropout_is_refused():
    model = Fn(lambda m, x: F.dropout(x, 0.5, training=True))
    with pytest.raises(connx.ExportError, match="Dropout: dropout ran in training mode"):
        connx.export(model, convgrad.randn(2, 4), io.BytesIO())


def test_backend_rejects_unknown_operator():
    node = onnx.helper.make_node("Einsum", ["a", "b"], ["c"], equation="ij,jk->ik")
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT,
                                                                                      [2, 2]) for n in "ab"],
                                   [onnx.helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [2, 2])])
    with pytest.raises(NotImplementedError, match="the ONNX operator Einsum has no convgrad implementation"):
        connx.load(onnx.helper.make_model(graph))


def test_backend_interface():
    from convgrad.onnx import backend

    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")
    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    x = np.array([[-1.0, 2.0]], np.float32)
    (y,) = backend.run_node(node, [x])
    np.testing.assert_array_equal(y, [[0.0, 2.0]])
    model, shape = OPS["conv1d"]
    xs = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _, data = _export(model, convgrad.from_numpy(xs))
    (out,) = backend.run_model(onnx.load_from_string(data), [xs])
    np.testing.assert_allclose(out, _reference(model, xs), rtol=1e-6)


# --------------------------------------------------------------------------- backend paths vs. ONNX Runtime
NODES = [
    ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 1], dilations=[2, 2], pads=[1, 0, 2, 1],
                         ceil_mode=1, count_include_pad=0), (2, 3, 9, 8)),
    ("AveragePool", dict(kernel_shape=[2, 3], strides=[1, 2], dilations=[1, 2], pads=[0, 1, 1, 1],
                         count_include_pad=1), (1, 2, 7, 9)),
    ("AveragePool", dict(kernel_shape=[3], strides=[2], pads=[0, 2], count_include_pad=0), (2, 3, 10)),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 2, 1], ceil_mode=1), (2, 3, 9, 8)),
    ("ConvTranspose", dict(strides=[2, 3], pads=[1, 0, 0, 2], output_padding=[1, 1], dilations=[1, 2],
                           group=2), (2, 4, 5, 4)),
    ("Conv", dict(strides=[2, 1], pads=[2, 0, 1, 1], dilations=[1, 2], group=2), (2, 4, 9, 8)),
]


@pytest.mark.parametrize("op,attrs,shape", NODES, ids=[f"{n[0]}-{i}" for i, n in enumerate(NODES)])
def test_backend_node_matches_onnxruntime(op, attrs, shape):
    from convgrad.onnx import backend

    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    inputs, names = [x], ["x"]
    if op in ("Conv", "ConvTranspose"):
        c = shape[1]
        w_shape = (6, c // attrs["group"], 3, 2) if op == "Conv" else (c, 3, 3, 2)
        inputs.append(rng.standard_normal(w_shape).astype(np.float32))
        names.append("w")
    node = onnx.helper.make_node(op, names, ["y"], **attrs)
    dims = [f"d{i}" for i in range(len(shape))]
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, a.shape)
                      for n, a in zip(names, inputs)],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, dims)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 19)])
    model.ir_version = 9
    (want,) = _ort(model.SerializeToString(), *inputs)
    (got,) = backend.run_model(model, inputs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_pytorch_exported_model_runs_on_convgrad():
    torch = pytest.importorskip("torch")
    from tests.torch_models import TorchResNet18

    torch.manual_seed(0)
    tm = TorchResNet18(num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    buf = io.BytesIO()
    torch.onnx.export(tm, (x,), buf, dynamo=False, opset_version=17)
    with torch.no_grad():
        want = tm(x).numpy()
    got = _reference(connx.load(buf.getvalue()), x.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
