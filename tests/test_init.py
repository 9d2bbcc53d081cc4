"""Initialisation: gains and fans equal PyTorch's; each initialiser's distribution (bounds, mean, std)
matches PyTorch's on large tensors; each layer's default initialisation matches; seeding reproduces."""

import math

import numpy as np
import pytest
import torch

import convgrad
from convgrad import nn
from convgrad.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 3, 3), (2, 6, 5), (3, 7, 2, 2, 2)])
def test_fans(shape):
    assert init._calculate_fan_in_and_fan_out(convgrad.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(convgrad.empty(5))


def _stats(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    return a.mean(), a.std(), a.min(), a.max()


def _same_distribution(c, t, bound=None):
    """Mean and std agree within sampling error (n >= 100k); the range agrees within a few percent."""
    mc, sc, lo_c, hi_c = _stats(c)
    mt, st, lo_t, hi_t = _stats(t)
    n = np.asarray(c).size
    assert abs(sc - st) <= 0.02 * st + 1e-12, f"std {sc} vs torch {st}"
    assert abs(mc - mt) <= 6 * st / math.sqrt(n) + 1e-12, f"mean {mc} vs torch {mt}"
    if bound is not None:
        assert lo_c >= -bound - 1e-7 and hi_c <= bound + 1e-7
        assert hi_c > 0.99 * bound and lo_c < -0.99 * bound
    else:
        assert abs(hi_c - hi_t) <= 0.25 * (hi_t - mt) and abs(lo_c - lo_t) <= 0.25 * (mt - lo_t)


SHAPE = (256, 128, 3, 3)

INITS = [
    ("uniform_", {"a": -0.3, "b": 0.7}),
    ("normal_", {"mean": 0.5, "std": 2.0}),
    ("trunc_normal_", {"std": 1.0, "a": -1.5, "b": 0.5}),
    ("trunc_normal_", {"mean": 0.1, "std": 0.02, "a": -0.5, "b": 0.5}),
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": 2.0}),
    ("xavier_normal_", {}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"a": 0.1, "mode": "fan_out", "nonlinearity": "leaky_relu"}),
    ("kaiming_normal_", {"nonlinearity": "tanh"}),
]


@pytest.mark.parametrize("name,kwargs", INITS, ids=[f"{n}{k}".replace(" ", "") for n, k in INITS])
def test_initialiser_distribution_matches_torch(name, kwargs):
    convgrad.manual_seed(0)
    torch.manual_seed(0)
    c = getattr(init, name)(convgrad.empty(*SHAPE), **kwargs)
    t = getattr(torch.nn.init, name)(torch.empty(*SHAPE), **kwargs)
    assert c.dtype == np.float32 and c.shape == SHAPE
    _same_distribution(c._data, t.numpy())
    if name.startswith("trunc"):
        assert c._data.min() >= kwargs["a"] and c._data.max() <= kwargs["b"]


def test_constant_zeros_ones_eye_dirac():
    t = convgrad.empty(3, 4)
    assert init.constant_(t, 0.25) is t and np.all(t._data == 0.25)
    assert np.all(init.zeros_(t)._data == 0) and np.all(init.ones_(t)._data == 1)
    np.testing.assert_array_equal(init.eye_(t)._data, torch.nn.init.eye_(torch.empty(3, 4)).numpy())
    w = init.dirac_(convgrad.empty(4, 2, 3, 3), groups=2)
    np.testing.assert_array_equal(w._data, torch.nn.init.dirac_(torch.empty(4, 2, 3, 3), groups=2).numpy())
    # a dirac-initialised convolution is the identity
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    x = convgrad.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x)._data, x._data, atol=1e-6)


@pytest.mark.parametrize("shape", [(30, 50), (50, 30), (16, 8, 3, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(convgrad.empty(*shape), gain=2.0)._data.reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(len(gram)), atol=1e-4)


def test_initialisers_work_in_place_without_a_graph():
    p = nn.Parameter(convgrad.zeros(4, 4))
    data, v = p._data, p._version
    out = init.kaiming_uniform_(p)
    assert out is p and p._data is data and p.grad_fn is None and p.requires_grad
    assert p._version > v
    d = init.normal_(convgrad.zeros(3, dtype=convgrad.float64))
    assert d.dtype == np.float64


def test_seed_reproduces_and_generator_is_used():
    convgrad.manual_seed(3)
    a = nn.Linear(20, 10).weight._data.copy()
    convgrad.manual_seed(3)
    b = nn.Linear(20, 10).weight._data.copy()
    c = nn.Linear(20, 10).weight._data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g = convgrad.Generator().manual_seed(1)
    x = init.uniform_(convgrad.empty(5), generator=g)._data.copy()
    y = init.uniform_(convgrad.empty(5), generator=convgrad.Generator().manual_seed(1))._data
    np.testing.assert_array_equal(x, y)


def _weight_and_bias(layer):
    return [p for p in (getattr(layer, "weight", None), getattr(layer, "bias", None)) if p is not None]


DEFAULTS = [
    ("Linear", (1024, 256), {}),
    ("Linear", (50, 4000), {}),
    ("Linear", (8, 100_000), {}),  # a bias large enough for its statistics
    ("Conv2d", (2, 60_000, 1), {}),
    ("Conv2d", (64, 128, 3), {}),
    ("Conv2d", (32, 64, 5), {"groups": 4}),
    ("Conv1d", (16, 256, 7), {}),
    ("ConvTranspose2d", (64, 96, 4), {}),
    ("ConvTranspose1d", (32, 300, 3), {"groups": 2}),
]


@pytest.mark.parametrize("name,args,kwargs", DEFAULTS,
                         ids=[f"{n}{a}{k}".replace(" ", "") for n, a, k in DEFAULTS])
def test_default_layer_initialisation_matches_torch(name, args, kwargs):
    """Weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5))."""
    torch.manual_seed(0)
    c, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    fan_in = torch.nn.init._calculate_fan_in_and_fan_out(t.weight)[0]
    bound = 1 / math.sqrt(fan_in)
    for pc, pt in zip(_weight_and_bias(c), _weight_and_bias(t)):
        assert pc.shape == tuple(pt.shape) and pc.dtype == np.float32
        assert np.abs(pc._data).max() <= bound * (1 + 1e-6)
        if pc.numel() >= 50_000:
            _same_distribution(pc._data, pt.detach().numpy(), bound=bound)
        else:  # biases: too few values for a std test; the range is the distribution's
            assert np.abs(pc._data).max() > 0.5 * bound


def test_other_default_initialisations_match_torch():
    for name, args in (("BatchNorm2d", (8,)), ("BatchNorm1d", (8,)), ("LayerNorm", ((3, 4),)),
                       ("GroupNorm", (2, 8)), ("PReLU", (5, 0.1))):
        c, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        for (k, vc), (_, vt) in zip(c.state_dict().items(), t.state_dict().items()):
            np.testing.assert_array_equal(vc._data, vt.numpy(), err_msg=f"{name}.{k}")
            assert vc.dtype == np.dtype(str(vt.dtype).replace("torch.", ""))


def test_dtype_argument_of_layers():
    lin = nn.Linear(3, 2, dtype=convgrad.float64)
    assert lin.weight.dtype == np.float64 and lin.bias.dtype == np.float64
    bn = nn.BatchNorm2d(3, dtype=convgrad.float64)
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
