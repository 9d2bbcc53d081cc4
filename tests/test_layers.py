"""Layers against PyTorch: the same weights (copied through load_state_dict) give the same outputs,
input gradients, parameter gradients and buffers; reprs and state_dict keys are PyTorch's; a wrong input
shape is reported with the layer's name."""

import warnings

import numpy as np
import pytest
import torch

import convgrad
from convgrad import nn

torch.set_num_threads(1)


def pair(name, *args, **kwargs):
    """The same layer in torch and convgrad, convgrad's loaded with torch's weights and buffers."""
    t = getattr(torch.nn, name)(*args, **kwargs)
    c = getattr(nn, name)(*args, **kwargs)
    assert list(c.state_dict()) == list(t.state_dict()), "state_dict keys differ from torch's"
    c.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    return c, t


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(c, t, *inputs, atol=1e-5, rtol=1e-4, call=None, grad=True, seed=0):
    """Forward both layers on ``inputs`` (NumPy arrays; float ones require grad), compare outputs, then
    backpropagate the same random weighting of the outputs and compare every input's and parameter's
    gradient and every buffer."""
    call = call or (lambda m, *xs: m(*xs))
    cin = [convgrad.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    tin = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    outs_c, outs_t = _as_list(call(c, *cin)), _as_list(call(t, *tin))
    assert len(outs_c) == len(outs_t)
    for i, (oc, ot) in enumerate(zip(outs_c, outs_t)):
        assert tuple(oc.shape) == tuple(ot.shape), f"output {i}: shape {tuple(oc.shape)} != {tuple(ot.shape)}"
        assert str(oc.dtype) == str(ot.dtype).replace("torch.", ""), f"output {i}: dtype {oc.dtype}"
        np.testing.assert_allclose(oc._data, ot.detach().numpy(), atol=atol, rtol=rtol, err_msg=f"output {i}")
    for (name, bc), (_, bt) in zip(c.named_buffers(), t.named_buffers()):
        np.testing.assert_allclose(bc._data, bt.numpy(), atol=atol, rtol=rtol, err_msg=f"buffer {name}")
    if not grad:
        return outs_c
    rng = np.random.default_rng(seed)
    loss_c, loss_t = 0, 0
    for oc, ot in zip(outs_c, outs_t):
        if ot.requires_grad:
            w = rng.standard_normal(tuple(ot.shape)).astype(np.float32)
            loss_c = loss_c + (oc * convgrad.tensor(w)).sum()
            loss_t = loss_t + (ot * torch.tensor(w)).sum()
    if isinstance(loss_t, int):
        return outs_c
    loss_c.backward()
    loss_t.backward()
    for i, (xc, xt) in enumerate(zip(cin, tin)):
        if xt.grad is not None:
            np.testing.assert_allclose(xc.grad._data, xt.grad.numpy(), atol=atol, rtol=rtol,
                                       err_msg=f"gradient of input {i}")
    for (name, pc), (_, pt) in zip(c.named_parameters(), t.named_parameters()):
        if pt.grad is None:
            assert pc.grad is None, f"{name}: convgrad has a gradient, torch none"
            continue
        np.testing.assert_allclose(pc.grad._data, pt.grad.numpy(), atol=atol, rtol=rtol,
                                   err_msg=f"grad of {name}")
    return outs_c


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------- parity
LAYERS = [
    ("Linear", (20, 7), {}, [(5, 20)]),
    ("Linear", (20, 7), {"bias": False}, [(2, 3, 20)]),
    ("Identity", (), {}, [(2, 3)]),
    ("Conv1d", (3, 4, 3), {}, [(2, 3, 11)]),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}, [(2, 4, 13)]),
    ("Conv1d", (2, 3, 4), {"padding": "same", "bias": False}, [(2, 2, 9)]),
    ("Conv1d", (2, 3, 3), {"padding": 1, "padding_mode": "circular"}, [(2, 2, 8)]),
    ("Conv2d", (3, 5, 3), {}, [(2, 3, 8, 9)]),
    ("Conv2d", (3, 5, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)}, [(2, 3, 9, 10)]),
    ("Conv2d", (4, 4, 3), {"groups": 4, "bias": False}, [(1, 4, 7, 7)]),
    ("Conv2d", (3, 4, 3), {"padding": "same"}, [(2, 3, 6, 7)]),
    ("Conv2d", (3, 4, 4), {"padding": "same", "dilation": 1}, [(2, 3, 6, 7)]),
    ("Conv2d", (3, 4, 3), {"padding": "valid"}, [(2, 3, 6, 7)]),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, [(2, 2, 6, 5)]),
    ("Conv2d", (2, 3, 3), {"padding": (2, 1), "padding_mode": "replicate"}, [(2, 2, 6, 5)]),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "circular", "stride": 2}, [(2, 2, 7, 6)]),
    ("Conv2d", (3, 4, 3), {}, [(3, 8, 8)]),  # unbatched
    ("ConvTranspose1d", (3, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1}, [(2, 3, 6)]),
    ("ConvTranspose2d", (3, 4, 3), {}, [(2, 3, 5, 6)]),
    ("ConvTranspose2d", (4, 6, (3, 2)), {"stride": 2, "padding": 1, "groups": 2, "dilation": (1, 2)},
     [(2, 4, 5, 4)]),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1}, [(2, 3, 11)]),
    ("MaxPool2d", (2,), {}, [(2, 3, 8, 8)]),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, [(2, 3, 9, 8)]),
    ("MaxPool2d", (2,), {"return_indices": True}, [(2, 3, 6, 6)]),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, [(2, 3, 10)]),
    ("AvgPool2d", (2,), {}, [(2, 3, 8, 8)]),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
     [(2, 3, 9, 8)]),
    ("AdaptiveAvgPool1d", (4,), {}, [(2, 3, 10)]),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, [(2, 3, 5, 5)]),
    ("AdaptiveAvgPool2d", ((3, 2),), {}, [(2, 3, 7, 5)]),
    ("AdaptiveMaxPool2d", (2,), {}, [(2, 3, 7, 5)]),
    ("LayerNorm", (6,), {}, [(3, 4, 6)]),
    ("LayerNorm", ((4, 6),), {"elementwise_affine": False}, [(3, 4, 6)]),
    ("GroupNorm", (2, 6), {}, [(3, 6, 4, 4)]),
    ("LocalResponseNorm", (3,), {}, [(2, 6, 4, 4)]),
    ("Flatten", (), {}, [(2, 3, 4, 5)]),
    ("Flatten", (0, 2), {}, [(2, 3, 4, 5)]),
    ("Unflatten", (1, (3, 4)), {}, [(2, 12)]),
    ("ZeroPad2d", ((1, 2, 0, 3),), {}, [(2, 3, 4, 4)]),
    ("ConstantPad2d", (1, 0.5), {}, [(2, 3, 4, 4)]),
    ("ReflectionPad2d", (2,), {}, [(2, 3, 4, 5)]),
    ("ReplicationPad2d", ((1, 0, 2, 1),), {}, [(2, 3, 4, 5)]),
    ("ReflectionPad1d", (2,), {}, [(2, 3, 5)]),
    ("Upsample", (), {"scale_factor": 2}, [(2, 3, 4, 5)]),
    ("Upsample", (), {"size": (7, 9), "mode": "bilinear", "align_corners": False}, [(2, 3, 4, 5)]),
    ("Upsample", (), {"scale_factor": 2, "mode": "bilinear", "align_corners": True}, [(2, 3, 4, 5)]),
    ("Dropout", (0.3,), {}, [(4, 5)]),
    ("Dropout2d", (0.3,), {}, [(2, 3, 4, 4)]),
]


def _id(case):
    name, args, kwargs, _ = case
    return f"{name}{args}{kwargs or ''}".replace(" ", "")


@pytest.mark.parametrize("case", LAYERS, ids=[_id(c) for c in LAYERS])
def test_layer_matches_torch(case):
    name, args, kwargs, shapes = case
    c, t = pair(name, *args, **kwargs)
    if name.startswith("Dropout"):
        c.eval()
        t.eval()
    inputs = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check(c, t, *inputs)


ACTIVATIONS = [
    ("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", ()), ("ELU", (0.5,)),
    ("CELU", (0.7,)), ("SELU", ()), ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("Tanh", ()),
    ("Sigmoid", ()), ("Softplus", ()), ("Softplus", (2.0, 1.0)), ("Hardtanh", ()), ("Hardtanh", (-2.0, 0.5)),
    ("Softmax", (1,)), ("Softmax", (-1,)), ("LogSoftmax", (1,)), ("Softmin", (1,)), ("Mish", ()),
    ("Hardswish", ()), ("Hardsigmoid", ()), ("Softsign", ()), ("Tanhshrink", ()), ("LogSigmoid", ()),
    ("Threshold", (0.1, -2.0)), ("Hardshrink", ()), ("Softshrink", (0.3,)), ("Softmax2d", ()),
]


@pytest.mark.parametrize("name,args", ACTIVATIONS, ids=[f"{n}{a}" for n, a in ACTIVATIONS])
def test_activation_matches_torch(name, args):
    c, t = pair(name, *args)
    x = randn(3, 4, 5, 2) * 3
    check(c, t, x)


@pytest.mark.parametrize("name", ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "SiLU", "Hardtanh", "Mish",
                                  "Hardswish", "Hardsigmoid"])
def test_inplace_activation(name):
    c, t = pair(name, inplace=True)
    x = randn(4, 5) * 3
    xc, xt = convgrad.tensor(x), torch.tensor(x)
    yc, yt = c(xc), t(xt)
    np.testing.assert_allclose(yc._data, yt.numpy(), atol=1e-6)
    np.testing.assert_allclose(xc._data, xt.numpy(), atol=1e-6)  # the input was overwritten in both
    # in a graph: applied to an intermediate result, gradients still flow
    a_c, a_t = convgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    c(a_c * 2).sum().backward()
    t(a_t * 2).sum().backward()
    np.testing.assert_allclose(a_c.grad._data, a_t.grad.numpy(), atol=1e-5)


@pytest.mark.parametrize("num", [1, 3])
def test_prelu(num):
    c, t = pair("PReLU", num, 0.1)
    check(c, t, randn(2, 3, 4))


def test_softmax_without_dim_warns_and_picks_torchs_dim():
    c, t = pair("Softmax")
    x = randn(2, 3, 4)
    with pytest.warns(UserWarning):
        yc = c(convgrad.tensor(x))
    with pytest.warns(UserWarning):
        yt = t(torch.tensor(x))
    np.testing.assert_allclose(yc._data, yt.numpy(), atol=1e-6)


def test_conv_transpose_output_size():
    c, t = pair("ConvTranspose2d", 3, 2, 3, stride=2, padding=1)
    x = randn(1, 3, 4, 4)
    for size in ([7, 7], [8, 8], [1, 2, 8, 7]):
        check(c, t, x, call=lambda m, xs, size=size: m(xs, output_size=size))
    with pytest.raises(ValueError, match=r"^ConvTranspose2d\(3, 2, .*\): expected an output_size between"):
        c(convgrad.tensor(x), output_size=[10, 10])


def test_conv_transpose_rejects_padding_modes():
    with pytest.raises(ValueError, match="^ConvTranspose2d: expected padding_mode='zeros'"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose1d: expected padding_mode='zeros'"):
        nn.ConvTranspose1d(2, 2, 3, 1, 0, 0, 1, True, 1, "circular")


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding,k", [(1, 3), ("same", 3), ("same", 4)])
def test_unbatched_conv_with_padding_modes(mode, padding, k):
    """The layer hands unbatched input to the functional op as it is, also through F.pad."""
    c, t = pair("Conv2d", 3, 4, k, padding=padding, padding_mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: 'same' with an even kernel copies the input
        check(c, t, randn(3, 7, 6))


@pytest.mark.parametrize("kwargs,match", [
    ({"groups": 0}, "^Conv2d: expected groups >= 1, got groups=0$"),
    ({"groups": 2}, "^Conv2d: expected in_channels divisible by groups=2, got in_channels=3$"),
    ({"padding": "full"}, "^Conv2d: expected padding to be one of 'same', 'valid', got padding='full'$"),
    ({"padding": "same", "stride": 2}, r"^Conv2d: expected stride 1 with padding='same', got stride=\(2, 2"),
    ({"padding_mode": "mirror"}, "^Conv2d: expected padding_mode to be one of 'zeros', 'reflect'"),
])
def test_conv_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.Conv2d(3, 4, 3, **kwargs)


def test_max_unpool2d_inverts_max_pool():
    x = randn(2, 3, 6, 8)
    pool_c, pool_t = pair("MaxPool2d", 2, return_indices=True)
    unpool_c, unpool_t = pair("MaxUnpool2d", 2)
    check(unpool_c, unpool_t, x, call=lambda m, xs: m(*(pool_c if isinstance(xs, convgrad.Tensor)
                                                         else pool_t)(xs)))
    check(unpool_c, unpool_t, x, call=lambda m, xs: m(*(pool_c if isinstance(xs, convgrad.Tensor)
                                                         else pool_t)(xs), output_size=(7, 9)))


@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (8, 5)), ("BatchNorm1d", (8, 5, 3)),
                                        ("BatchNorm2d", (4, 5, 3, 3))])
@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False}, {"momentum": 0.3, "eps": 1e-3},
                                    {"track_running_stats": False}])
def test_batch_norm_train_then_eval(name, shape, kwargs):
    c, t = pair(name, shape[1], **kwargs)
    for step in range(3):  # running statistics after several training steps
        check(c, t, randn(*shape, seed=step) * (step + 1) + step)
    if c.num_batches_tracked is not None:
        assert int(c.num_batches_tracked.item()) == 3
    c.eval()
    t.eval()
    check(c, t, randn(*shape, seed=9))


def test_batch_norm_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm1d(3, momentum=None)
    means = []
    for i in range(4):
        x = randn(16, 3, seed=i) + i
        means.append(x.mean(0))
        bn(convgrad.tensor(x))
    np.testing.assert_allclose(bn.running_mean._data, np.mean(means, 0), rtol=1e-5, atol=1e-6)


def test_batch_norm_reset_running_stats():
    bn = nn.BatchNorm2d(3)
    bn(convgrad.tensor(randn(4, 3, 2, 2) + 5))
    bn.reset_running_stats()
    assert np.all(bn.running_mean._data == 0) and np.all(bn.running_var._data == 1)
    assert bn.num_batches_tracked.item() == 0


def test_dropout_train_and_eval():
    convgrad.manual_seed(0)
    d = nn.Dropout(0.25)
    x = convgrad.ones(200, 100)
    y = d(x)._data
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert np.array_equal(d(x)._data, x._data)
    d2 = nn.Dropout2d(0.5)
    y2 = d2(convgrad.ones(50, 40, 3, 3))._data
    per_channel = y2.reshape(50, 40, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))  # whole channels dropped
    with pytest.raises(ValueError, match=r"^Dropout: expected p in \[0.0, 1.0\], got p=1.5$"):
        nn.Dropout(1.5)


# ---------------------------------------------------------------------------------------------- losses
def _class_inputs(n=6, c=4, extra=()):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, *extra)).astype(np.float32)
    y = rng.integers(0, c, (n, *extra)).astype(np.int64)
    return x, y


LOSSES = [
    ("CrossEntropyLoss", {}, "class"),
    ("CrossEntropyLoss", {"reduction": "sum", "label_smoothing": 0.1}, "class"),
    ("CrossEntropyLoss", {"weight": [1.0, 2.0, 0.5, 1.0], "ignore_index": 2}, "class"),
    ("CrossEntropyLoss", {"reduction": "none"}, "class2d"),
    ("CrossEntropyLoss", {}, "prob"),
    ("NLLLoss", {}, "logprob"),
    ("NLLLoss", {"weight": [1.0, 2.0, 0.5, 1.0], "reduction": "sum"}, "logprob"),
    ("MSELoss", {}, "reg"),
    ("MSELoss", {"reduction": "none"}, "reg"),
    ("L1Loss", {"reduction": "sum"}, "reg"),
    ("SmoothL1Loss", {"beta": 0.5}, "reg"),
    ("HuberLoss", {"delta": 0.7}, "reg"),
    ("BCELoss", {}, "binary"),
    ("BCELoss", {"weight": [1.0, 2.0, 0.5, 1.0]}, "binary"),
    ("BCEWithLogitsLoss", {}, "logit"),
    ("BCEWithLogitsLoss", {"pos_weight": [1.0, 3.0, 0.5, 2.0], "reduction": "sum"}, "logit"),
    ("KLDivLoss", {"reduction": "batchmean"}, "kl"),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, "kl_log"),
]


def _loss_inputs(kind):
    rng = np.random.default_rng(2)
    if kind == "class":
        return _class_inputs()
    if kind == "class2d":
        return _class_inputs(extra=(3, 3))
    if kind == "prob":
        x, _ = _class_inputs()
        p = rng.random(x.shape).astype(np.float32)
        return x, p / p.sum(1, keepdims=True)
    if kind == "logprob":
        x, y = _class_inputs()
        return x - np.log(np.exp(x).sum(1, keepdims=True)), y
    if kind in ("reg", "logit"):
        x = rng.standard_normal((6, 4)).astype(np.float32)
        y = rng.standard_normal((6, 4)).astype(np.float32) if kind == "reg" else \
            rng.integers(0, 2, (6, 4)).astype(np.float32)
        return x, y
    if kind == "binary":
        p = rng.uniform(0.05, 0.95, (6, 4)).astype(np.float32)
        return p, rng.integers(0, 2, (6, 4)).astype(np.float32)
    x = np.log(rng.dirichlet(np.ones(4), 6)).astype(np.float32)
    y = rng.dirichlet(np.ones(4), 6).astype(np.float32)
    return x, (np.log(y) if kind == "kl_log" else y)


@pytest.mark.parametrize("name,kwargs,kind", LOSSES,
                         ids=[f"{n}-{k}{kw}".replace(" ", "") for n, kw, k in LOSSES])
def test_loss_matches_torch(name, kwargs, kind):
    kw_t = {k: (torch.tensor(v) if isinstance(v, list) else v) for k, v in kwargs.items()}
    kw_c = {k: (convgrad.tensor(v) if isinstance(v, list) else v) for k, v in kwargs.items()}
    t = getattr(torch.nn, name)(**kw_t)
    c = getattr(nn, name)(**kw_c)
    assert repr(c) == repr(t)
    assert list(c.state_dict()) == list(t.state_dict())  # class weights are buffers
    x, y = _loss_inputs(kind)
    cx, tx = convgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lc, lt = c(cx, convgrad.tensor(y)), t(tx, torch.tensor(y))
    np.testing.assert_allclose(lc._data, lt.detach().numpy(), rtol=1e-5, atol=1e-6)
    lc.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(cx.grad._data, tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_loss_legacy_reduction_arguments():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError):
        nn.L1Loss(reduction="avg")(convgrad.zeros(2), convgrad.zeros(2))


# ---------------------------------------------------------------------------------------------- reprs
REPRS = [
    "nn.Linear(3, 4)", "nn.Linear(3, 4, bias=False)", "nn.Conv2d(3, 16, 5)",
    "nn.Conv2d(3, 16, (3, 5), stride=2, padding=1, dilation=2, bias=False, padding_mode='reflect')",
    "nn.Conv2d(4, 4, 3, padding='same', groups=2)", "nn.Conv1d(2, 3, 3)",
    "nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1)", "nn.ConvTranspose1d(3, 4, 3)",
    "nn.MaxPool2d(2)", "nn.MaxPool2d((2, 3), stride=1, return_indices=True)", "nn.MaxPool1d(2)",
    "nn.AvgPool2d(2)", "nn.AvgPool1d(2)", "nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)",
    "nn.AdaptiveAvgPool2d((1, 1))", "nn.AdaptiveAvgPool2d(1)", "nn.AdaptiveAvgPool1d(4)",
    "nn.AdaptiveMaxPool2d(2)", "nn.MaxUnpool2d(2)", "nn.MaxUnpool2d(2, stride=1)",
    "nn.BatchNorm1d(5)", "nn.BatchNorm2d(6, momentum=None, affine=False, track_running_stats=False)",
    "nn.LayerNorm(10)", "nn.LayerNorm([3, 4], elementwise_affine=False)", "nn.LayerNorm(4, bias=False)",
    "nn.GroupNorm(2, 4)", "nn.LocalResponseNorm(2)", "nn.Dropout()", "nn.Dropout2d(0.2, inplace=True)",
    "nn.ReLU()", "nn.ReLU(inplace=True)", "nn.ReLU6()", "nn.ReLU6(True)", "nn.LeakyReLU()",
    "nn.LeakyReLU(0.2, True)", "nn.ELU()", "nn.ELU(0.5, True)", "nn.SELU()", "nn.GELU()", "nn.GELU('tanh')",
    "nn.SiLU()", "nn.Tanh()", "nn.Sigmoid()", "nn.Softplus()", "nn.Hardtanh()", "nn.Hardtanh(-2, 2, True)",
    "nn.Softmax()", "nn.Softmax(dim=1)", "nn.LogSoftmax(1)", "nn.PReLU()", "nn.PReLU(3, 0.1)", "nn.Mish()",
    "nn.Hardswish()", "nn.Hardswish(inplace=True)", "nn.Hardsigmoid(True)", "nn.Threshold(0.1, 20)",
    "nn.Hardshrink()", "nn.CELU()",
    "nn.CrossEntropyLoss()", "nn.NLLLoss()", "nn.MSELoss(reduction='sum')", "nn.BCEWithLogitsLoss()",
    "nn.Upsample(scale_factor=2)", "nn.Upsample(size=(4, 4), mode='bilinear', align_corners=False)",
    "nn.UpsamplingNearest2d(scale_factor=2)", "nn.ZeroPad2d(1)", "nn.ZeroPad2d((1, 2, 3, 4))",
    "nn.ConstantPad2d(1, 0.5)", "nn.ReflectionPad2d(2)", "nn.ReplicationPad2d(1)", "nn.ConstantPad1d(2, 1.)",
    "nn.Flatten()", "nn.Unflatten(1, (2, 5))", "nn.Identity(3, k=4)",
    "nn.Sequential(nn.Linear(1, 2), nn.Sequential(nn.ReLU(), nn.Conv2d(1, 2, 3)))",
    "nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Linear(2, 2), nn.ReLU()])", "nn.ModuleDict({'a': nn.ReLU()})",
    "nn.Sequential()", "nn.ModuleList()", "nn.PixelShuffle(2)", "nn.PixelUnshuffle(3)",
    "nn.Unfold(3, padding=1)", "nn.Fold((4, 5), 2, stride=2)", "nn.ChannelShuffle(2)",
    "nn.Softplus(2.0, 10.0)", "nn.CELU(2.0, True)", "nn.SiLU(True)", "nn.Mish(True)", "nn.SELU(True)",
    "nn.MaxPool1d(3, 2, 1, 2, True, True)", "nn.AvgPool1d(3, 2, 1, True, False)",
    "nn.AvgPool2d(2, divisor_override=3)",
]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_matches_torch(expr):
    assert repr(eval(expr, {"nn": nn})) == repr(eval(expr, {"nn": torch.nn}))


# the settings a layer keeps: PyTorch's attribute names and values (code reads them, e.g. layer.stride)
SETTINGS = [
    "nn.Hardtanh(-2.0, 2.0, True)", "nn.ReLU6(True)", "nn.LeakyReLU(0.2, True)", "nn.CELU(2.0)",
    "nn.SiLU(True)", "nn.Softplus(2.0, 10.0)", "nn.PixelShuffle(2)", "nn.Unfold(3, 2, 1, 4)",
    "nn.Fold((9, 9), 2, 1, 0, 3)", "nn.ChannelShuffle(2)", "nn.MaxPool2d(5, 2, 1, 3, True, False)",
    "nn.AvgPool1d(3, 2, 1, True, False)", "nn.AvgPool2d(2, None, 1, True, False, 3)", "nn.MaxUnpool2d(2)",
    "nn.AdaptiveMaxPool2d(2, True)",
]


@pytest.mark.parametrize("expr", SETTINGS)
def test_settings_match_torch(expr):
    ours, theirs = eval(expr, {"nn": nn}), eval(expr, {"nn": torch.nn})
    settings = {k: v for k, v in vars(theirs).items() if not k.startswith("_") and k != "training"}
    assert settings
    assert {k: getattr(ours, k) for k in settings} == settings


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("layer,shape,message", [
    ("nn.Linear(400, 120)", (64, 256),
     "Linear(in_features=400, out_features=120): expected input with last dimension 400, got input of shape "
     "(64, 256)"),
    ("nn.Conv2d(3, 16, 5)", (8, 1, 28, 28),
     "Conv2d(3, 16, kernel_size=(5, 5)): expected 3 input channels, got input of shape (8, 1, 28, 28)"),
    ("nn.Conv2d(3, 16, 5, stride=2, bias=False)", (8, 784),
     "Conv2d(3, 16, kernel_size=(5, 5), stride=(2, 2), bias=False): expected a 4-D input (N, C, H, W)"),
    ("nn.Conv1d(2, 4, 3)", (8, 3, 10), "Conv1d(2, 4, kernel_size=(3,)): expected 2 input channels"),
    ("nn.BatchNorm2d(16)", (8, 6, 5, 5), "BatchNorm2d(16): expected 16 channels (num_features)"),
    ("nn.BatchNorm1d(16)", (8, 16, 5, 5), "BatchNorm1d(16): expected a (N, C) or (N, C, L) input"),
    ("nn.LayerNorm(10)", (3, 9), "expected input with trailing shape (10,), got input of shape (3, 9)"),
    ("nn.GroupNorm(2, 8)", (3, 6, 2), "expected 8 channels"),
    ("nn.MaxPool2d(2)", (3, 6), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False): "
     "max_pool2d: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of shape (3, 6)"),
])
def test_wrong_input_shape_names_the_layer(layer, shape, message):
    m = eval(layer, {"nn": nn})
    with pytest.raises(RuntimeError) as info:
        m(convgrad.zeros(*shape))
    assert message in str(info.value)


def test_error_inside_sequential_names_the_innermost_layer():
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.Flatten(), nn.Linear(100, 10))
    with pytest.raises(RuntimeError) as info:
        net(convgrad.zeros(2, 1, 28, 28))
    msg = str(info.value)
    assert msg.startswith("Linear(in_features=100, out_features=10): expected input with last dimension 100")
    assert msg.count("Linear(") == 1 and "Sequential" not in msg


def test_non_tensor_input_names_the_layer():
    with pytest.raises(TypeError, match=r"^Conv2d\(1, 2, kernel_size=\(3, 3\)\): expected the input to be a "
                                        r"convgrad Tensor, got a NumPy array \(wrap it"):
        nn.Conv2d(1, 2, 3)(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(TypeError, match="got a list"):
        nn.Linear(3, 2)([[1.0, 2.0, 3.0]])


# ------------------------------------------------------- the elementwise layers call their functional op
ELEMENTWISE_LAYERS = ["nn.Threshold(0.1, 20.0)", "nn.Threshold(0.1, 20.0, True)", "nn.Hardshrink()",
                      "nn.Softshrink(0.3)", "nn.Tanhshrink()", "nn.Softsign()",
                      "nn.Hardtanh(-0.5, 0.5, True)"]


@pytest.mark.parametrize("expr", ELEMENTWISE_LAYERS)
def test_elementwise_layer_keeps_nan_and_matches_torch(expr):
    c, t = eval(expr, {"nn": nn}), eval(expr, {"nn": torch.nn})
    x = np.array([[np.nan, -2.0, -0.3, 0.05, 0.1, 0.3, 0.5, 2.0]], np.float32)
    # through x * 1: in place on a leaf that requires grad is an error in both
    outs = check(c, t, x, call=lambda m, x: m(x * 1))
    assert np.isnan(outs[0]._data[0, 0])


@pytest.mark.parametrize("expr", ["nn.Threshold(1, 20)", "nn.Tanhshrink()", "nn.Softsign()"])
def test_elementwise_layer_on_integers_as_torch(expr):
    """Threshold keeps the integer dtype; Tanhshrink and Softsign give the default float dtype."""
    check(eval(expr, {"nn": nn}), eval(expr, {"nn": torch.nn}), np.arange(-3, 4, dtype=np.int64))


@pytest.mark.parametrize("expr", ELEMENTWISE_LAYERS)
def test_elementwise_layer_builds_torchs_node(expr):
    def chain(lib):
        h = lib.tensor([[-1.0, 0.5, 2.0]], requires_grad=True) * 1.5
        node = eval(expr, {"nn": lib.nn})(h).grad_fn
        return node.name(), node.next_functions[0][0].name()

    assert chain(convgrad) == chain(torch)


@pytest.mark.parametrize("expr,exc,message", [
    ("nn.Softshrink(-1.0)(x)", RuntimeError,
     "Softshrink(-1.0): softshrink: expected lambd >= 0, got lambd=-1.0"),
    ("nn.Threshold('a', 1)(x)", TypeError, "threshold: expected threshold to be a number, got threshold='a'"),
    ("nn.Threshold(0.1, 'a')(x)", TypeError, "threshold: expected value to be a number, got value='a'"),
    ("nn.Hardshrink('a')(x)", TypeError, "hardshrink: expected lambd to be a number"),
    ("nn.Hardtanh(2, 1)", AssertionError, "Hardtanh: expected max_val > min_val, got min_val=2, max_val=1"),
    ("nn.Hardtanh(1, 1)", AssertionError, "Hardtanh: expected max_val > min_val, got min_val=1, max_val=1"),
    ("nn.Hardtanh('a', 1)", TypeError, "Hardtanh: expected min_val to be a number, got min_val='a'"),
    ("nn.CELU(0.0)(x)", RuntimeError, "CELU(alpha=0.0): celu: expected a non-zero alpha"),
])
def test_activation_layer_errors_as_torch(expr, exc, message):
    """The exception class is PyTorch's (torch raises it at the same call: Softshrink(-1.0) and CELU(0.0)
    are built, and raise when called); the message names the layer or op, expected and got."""
    with pytest.raises(exc):
        eval(expr, {"nn": torch.nn, "x": torch.ones(3)})
    with pytest.raises(exc) as info:
        eval(expr, {"nn": nn, "x": convgrad.ones(3)})
    assert message in str(info.value)
