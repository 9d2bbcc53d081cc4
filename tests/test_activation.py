"""Activations and the softmax family against PyTorch: forward, gradients, dtypes, non-contiguous inputs,
the gradient exactly at each kink, in-place variants, float64 finite differences, and bad arguments."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
import convgrad.nn.functional as CF
from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays, shapes


def F(lib):
    return lib.nn.functional


# (name, kwargs): every elementwise activation, with non-default parameters where it has any
ELEMENTWISE = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.7}), ("selu", {}), ("celu", {"alpha": 1.3}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("hardswish", {}), ("hardsigmoid", {}),
    ("tanh", {}), ("sigmoid", {}), ("logsigmoid", {}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}), ("softsign", {}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("threshold", {"threshold": 0.5, "value": -2.0}),
    ("hardshrink", {}), ("hardshrink", {"lambd": 1.2}), ("softshrink", {}), ("softshrink", {"lambd": 0.7}),
    ("tanhshrink", {}), ("rrelu", {}), ("rrelu", {"lower": 0.2, "upper": 0.6}),
]
IDS = [n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in ELEMENTWISE]

# kinks and thresholds of the activations above, where PyTorch's choice of one-sided gradient shows
KINKS = np.array([-7, -6, -3, -2.5, -1, -0.5, 0, 0.5, 0.7, 1, 1.2, 2, 2.5, 3, 6, 7, 20, 25], np.float64)

INPLACE = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.1}), ("elu", {}), ("selu", {}),
    ("celu", {"alpha": 0.5}), ("hardtanh", {"min_val": -0.3}), ("silu", {}), ("mish", {}), ("hardswish", {}),
    ("hardsigmoid", {}),
]


def act(name, kw):
    return lambda lib, x: getattr(F(lib), name)(x, **kw)


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=IDS)
@settings(max_examples=examples(5))
@given(shape=shapes(0, 4, 1, 5), scale=st.sampled_from([1.0, 4.0, 30.0]),
       dtype=st.sampled_from([np.float32, np.float64]), nc=st.booleans(), seed=st.integers(0, 1000))
def test_elementwise_parity(name, kw, shape, scale, dtype, nc, seed):
    compare(act(name, kw), arrays(shape, dtype, seed, -scale, scale), noncontiguous=nc)


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=IDS)
def test_gradient_at_kinks(name, kw):
    compare(act(name, kw), KINKS, atol=1e-7)
    compare(act(name, kw), -KINKS, atol=1e-7)


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=IDS)
def test_gradcheck(name, kw):
    gradcheck(act(name, kw), arrays((3, 4), np.float64, seed=3, low=-4, high=4))


def test_gelu_matches_torch_closely_over_a_wide_range():
    x = np.linspace(-40, 40, 20001)
    for dt, tol in ((np.float64, 1e-14), (np.float32, 2e-6)):
        xs = x.astype(dt)
        ours = CF.gelu(convgrad.tensor(xs))._data
        ref = torch.nn.functional.gelu(torch.tensor(xs)).numpy()
        assert ours.dtype == dt
        np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol)


def test_relu_tanh_sigmoid_are_the_core_ops():
    x = convgrad.randn(3, requires_grad=True)
    assert type(CF.relu(x).grad_fn).__name__ == "ReLU"
    assert type(CF.tanh(x).grad_fn).__name__ == "Tanh"
    assert type(CF.sigmoid(x).grad_fn).__name__ == "Sigmoid"


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "sigmoid", "tanh", "softsign"])
def test_integer_inputs_where_torch_takes_them(name):
    compare(act(name, {}), np.array([[-3, 0, 2], [7, 5, -1]]))


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "selu", "gelu", "silu", "mish", "hardswish",
                                  "softplus", "logsigmoid"])
def test_integer_inputs_rejected(name):
    err = compare_raises(act(name, {}), np.array([1, -2, 3]))
    assert name in str(err) and "int64" in str(err)


# ---------------------------------------------------------------------- in place
@pytest.mark.parametrize("name,kw", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_on_a_graph_tensor(name, kw):
    def fn(lib, x):
        h = x * 1.5
        out = getattr(F(lib), name)(h, inplace=True, **kw)
        assert out is h
        return out * 2

    compare(fn, arrays((3, 5), seed=4, low=-4, high=4))


def test_inplace_without_grad_writes_into_the_input():
    x = convgrad.tensor([-1.0, 2.0, -3.0])
    assert CF.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x._data, [0, 2, 0])
    assert CF.relu_(convgrad.tensor([-1.0])).item() == 0
    y = convgrad.tensor([-2.0, 0.5])
    CF.leaky_relu_(y, 0.5)
    np.testing.assert_array_equal(y._data, [-1, 0.5])


def test_inplace_on_a_leaf_that_requires_grad_raises():
    compare_raises(lambda lib, x: F(lib).relu(x.detach().requires_grad_(), inplace=True), arrays((3,)))
    compare_raises(lambda lib, x: F(lib).elu(x.detach().requires_grad_(), inplace=True), arrays((3,)))


def test_inplace_then_modifying_the_output_is_detected():
    x = convgrad.tensor([1.0, -2.0], requires_grad=True)
    h = x * 1
    y = CF.silu(h, inplace=True)
    z = y * y
    y.add_(1)  # z saved y
    with pytest.raises(RuntimeError, match="in-place"):
        z.sum().backward()


@settings(max_examples=examples(10))
@given(shape=shapes(1, 4, 1, 4), data=st.data(), nc=st.booleans(), seed=st.integers(0, 1000))
def test_glu_parity(shape, data, nc, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = list(shape)
    shape[dim] *= 2
    compare(lambda lib, x: F(lib).glu(x, dim), arrays(tuple(shape), seed=seed), noncontiguous=nc)


def test_glu_gradcheck_and_errors():
    gradcheck(lambda lib, x: F(lib).glu(x, 1), arrays((2, 4, 3), np.float64))
    err = compare_raises(lambda lib, x: F(lib).glu(x, 1), arrays((2, 3)))
    assert "even" in str(err)
    compare_raises(lambda lib, x: F(lib).glu(x), np.array(1.0, np.float32))
    compare_raises(lambda lib, x: F(lib).softshrink(x, -1.0), arrays((3,)))


def test_rrelu_training_draws_one_slope_per_negative_element():
    convgrad.manual_seed(0)
    x = convgrad.tensor(-np.ones(100_000, np.float32), requires_grad=True)
    y = CF.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y._data
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 1e-3
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, slopes)
    pos = convgrad.ones(5)
    np.testing.assert_array_equal(CF.rrelu(pos, training=True)._data, 1)


# ---------------------------------------------------------------------- prelu
@settings(max_examples=examples(12))
@given(shape=shapes(1, 4, 1, 5), per_channel=st.booleans(), nc=st.booleans(), seed=st.integers(0, 1000))
def test_prelu_parity(shape, per_channel, nc, seed):
    c = shape[1] if per_channel and len(shape) >= 2 else 1
    w = arrays((c,), seed=seed + 1, low=-0.5, high=0.5)
    compare(lambda lib, x, w: F(lib).prelu(x, w), arrays(shape, seed=seed), w, noncontiguous=nc)


def test_prelu_gradcheck_and_errors():
    gradcheck(lambda lib, x, w: F(lib).prelu(x, w), arrays((2, 3, 4), np.float64), arrays((3,), np.float64))
    err = compare_raises(lambda lib, x, w: F(lib).prelu(x, w), arrays((2, 3, 4)), arrays((4,)))
    assert str(err) == ("prelu: expected a weight of 1 or 3 elements (the channels on axis 1 of the input's "
                        "shape (2, 3, 4)), got weight of shape (4,)")
    compare_raises(lambda lib, x, w: F(lib).prelu(x, w), arrays((2, 3)), arrays((3, 1)))
    compare_raises(lambda lib, x, w: F(lib).prelu(x, w), arrays((3,)), arrays((3,)))


# ---------------------------------------------------------------------- softmax family
SOFTMAX = ["softmax", "log_softmax", "softmin"]


@pytest.mark.parametrize("name", SOFTMAX)
@settings(max_examples=examples(12))
@given(shape=shapes(1, 4, 1, 6), data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       nc=st.booleans(), seed=st.integers(0, 1000))
def test_softmax_parity(name, shape, data, dtype, nc, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    compare(lambda lib, x: getattr(F(lib), name)(x, dim=dim), arrays(shape, dtype, seed, -10, 10),
            noncontiguous=nc)


@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_gradcheck_and_stability(name):
    gradcheck(lambda lib, x: getattr(F(lib), name)(x, 1), arrays((2, 5, 3), np.float64))
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1e4, 0.0]], np.float32)
    out = compare(lambda lib, x: getattr(F(lib), name)(x, 1), big)
    assert np.all(np.isfinite(out._data))
    masked = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, 0.0]], np.float32)
    with np.errstate(invalid="ignore"):  # the harness's weighted sum of log_softmax's -inf is nan
        compare(lambda lib, x: getattr(F(lib), name)(x, -1), masked)


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_implicit_dim_uses_the_legacy_rule_with_a_warning(name, ndim):
    x = arrays((2, 3, 4, 5)[:ndim])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(lambda lib, t: getattr(F(lib), name)(t), x)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        getattr(CF, name)(convgrad.tensor(x))


def test_softmax_dtype_argument_scalars_and_empty():
    compare(lambda lib, x: F(lib).softmax(x, 1, dtype=lib.float64), arrays((2, 3)))
    compare(lambda lib, x: F(lib).log_softmax(x, 0, dtype=lib.float64), arrays((4,)))
    compare(lambda lib, x: F(lib).softmax(x, 0), np.array(2.0, np.float32))
    compare(lambda lib, x: F(lib).log_softmax(x, -1), np.array(2.0, np.float32))
    compare(lambda lib, x: F(lib).softmax(x, 1), np.zeros((0, 3), np.float32))
    compare(lambda lib, x: F(lib).log_softmax(x, 1), np.zeros((2, 0), np.float32))
    assert convgrad.tensor([[1.0, 2.0]]).softmax(1).shape == (1, 2)


def test_softmax_errors():
    compare_raises(lambda lib, x: F(lib).softmax(x, 2), arrays((2, 3)))
    compare_raises(lambda lib, x: F(lib).softmax(x, 1), np.array(2.0, np.float32))
    compare_raises(lambda lib, x: F(lib).log_softmax(x, 0), np.array([1, 2]))


# ---------------------------------------------------------------------- bad arguments
def test_bad_parameters():
    err = compare_raises(lambda lib, x: F(lib).hardtanh(x, 2.0, 1.0), arrays((3,)))
    assert "min_val" in str(err)
    err = compare_raises(lambda lib, x: F(lib).celu(x, 0.0), arrays((3,)))
    assert "alpha" in str(err)
    err = compare_raises(lambda lib, x: F(lib).gelu(x, approximate="fast"), arrays((3,)))
    assert "approximate" in str(err)
    with pytest.raises(TypeError, match="relu"):
        CF.relu([1.0, 2.0])
    with pytest.raises(TypeError, match="negative_slope"):
        CF.leaky_relu(convgrad.ones(2), "0.1")


def test_docstrings_state_the_equation():
    for name in CF.activation.__all__ + CF.smooth_activation.__all__:
        doc = getattr(CF, name).__doc__
        if not name.endswith("_"):
            assert doc and ("y" in doc or "=" in doc), name
    assert math.isclose(CF.selu(convgrad.tensor([-100.0])).item(), -1.0507009873554805 * 1.6732632423543772,
                        rel_tol=1e-6)


@pytest.mark.parametrize("name,kw", [
    ("relu", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 0.5}), ("relu6", {}),
    ("threshold", {"threshold": 0.1, "value": 20.0}),
])
def test_inplace_in_a_graph_builds_torchs_nodes(name, kw):
    """In place in a graph, the op's node takes the input's node as its next, as PyTorch's (no copy node in
    between); an op that saved its input (hardtanh) keeps a copy of it, so its gradient stays right
    (``test_inplace_on_a_graph_tensor``). The in-place threshold is PyTorch's ThresholdBackward1. (PyTorch
    names the in-place ELU's and LeakyReLU's nodes *Backward1, as they save their result; ours save a copy
    of the input and keep the names *Backward0.)"""

    def chain(lib):
        h = lib.tensor([[-1.0, 0.5, 2.0]], requires_grad=True) * 1.5
        out = getattr(F(lib), name)(h, inplace=True, **kw)
        node = out.grad_fn
        return [node.name(), node.next_functions[0][0].name()]

    assert chain(convgrad) == chain(torch)
