"""Dropout by its statistics (random streams differ from PyTorch's): the fraction zeroed, the mean kept,
the kept values scaled by 1/(1-p), the gradient equal to mask * scale, whole channels for the channel-wise
variants, the identity in evaluation, reproducibility under manual_seed, and PyTorch's argument errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
import convgrad.nn.functional as F
from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays


def _ones(shape, dtype=np.float32, requires_grad=True):
    return convgrad.tensor(np.ones(shape, dtype), requires_grad=requires_grad)


@settings(max_examples=examples(8))
@given(p=st.sampled_from([0.1, 0.3, 0.5, 0.8]), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 1000))
def test_dropout_statistics_and_gradient(p, dtype, seed):
    convgrad.manual_seed(seed)
    n = 200_000
    x = _ones((n,), dtype)
    y = F.dropout(x, p)
    assert y.dtype == dtype and y.shape == (n,)
    kept = y._data != 0
    # the fraction zeroed is Binomial(n, p) / n: 5 standard deviations
    assert abs((1 - kept.mean()) - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y._data[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y._data.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)  # E[y] = x
    g = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    y.backward(convgrad.tensor(g))
    np.testing.assert_allclose(x.grad._data, g * kept / (1 - p), rtol=1e-6)


@pytest.mark.parametrize("fn,shape,channel_axes", [
    (F.dropout1d, (8, 50, 7), 2), (F.dropout1d, (50, 7), 1),
    (F.dropout2d, (8, 50, 3, 4), 2), (F.dropout2d, (8, 50, 9), 2),
    (F.dropout3d, (4, 50, 2, 3, 2), 2), (F.dropout3d, (50, 2, 3, 2), 1),
])
def test_channel_dropout_zeroes_whole_channels(fn, shape, channel_axes):
    convgrad.manual_seed(1)
    p = 0.4
    x = _ones(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout2d's warning about 3-D inputs
        y = fn(x, p)
    per_channel = y._data.reshape(shape[:channel_axes] + (-1,))
    zero = (per_channel == 0).all(-1)
    scaled = np.isclose(per_channel, 1 / (1 - p)).all(-1)
    assert np.all(zero | scaled), "a channel was partly dropped"
    assert 0.2 < zero.mean() < 0.6
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, y._data, rtol=1e-6)  # the gradient is mask * scale


@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
                                F.feature_alpha_dropout])
def test_evaluation_and_p0_are_the_identity(fn):
    x = _ones((2, 3, 4) if fn is F.dropout1d else (2, 3, 4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fn(x, 0.5, training=False) is x
        assert fn(x, 0.0, training=True) is x


def test_p1_drops_everything():
    for fn in (F.dropout, F.dropout2d, F.alpha_dropout):
        x = _ones((2, 3, 4, 4))
        y = fn(x, 1.0, training=True)
        assert not np.any(y._data)
        y.sum().backward()
        assert not np.any(x.grad._data)


def test_reproducible_under_manual_seed():
    x = _ones((1000,), requires_grad=False)
    convgrad.manual_seed(7)
    a = F.dropout(x, 0.5)._data
    convgrad.manual_seed(7)
    b = F.dropout(x, 0.5)._data
    c = F.dropout(x, 0.5)._data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_inplace():
    convgrad.manual_seed(3)
    x = convgrad.ones(4000)
    assert F.dropout(x, 0.25, inplace=True) is x
    assert 0.2 < (x._data == 0).mean() < 0.3
    leaf = _ones((100,))
    h = leaf * 2
    out = F.dropout2d(h.reshape(10, 10, 1, 1), 0.5, inplace=True)
    out.sum().backward()
    # 2 * mask / (1 - p) / 2 * 2
    np.testing.assert_allclose(leaf.grad.numpy(), out.numpy(force=True).reshape(-1), rtol=1e-6)
    compare_raises(lambda lib, t: lib.nn.functional.dropout(t.detach().requires_grad_(), 0.5, inplace=True),
                   arrays((5,)))


def test_alpha_dropout_keeps_zero_mean_and_unit_variance():
    convgrad.manual_seed(0)
    x = convgrad.tensor(np.random.default_rng(0).standard_normal(400_000), requires_grad=True)
    alpha = 1.0507009873554805 * 1.6732632423543772  # SELU's saturation is -alpha
    for p in (0.1, 0.5):
        y = F.alpha_dropout(x, p, training=True)
        assert abs(y._data.mean()) < 0.01 and abs(y._data.std() - 1) < 0.01
        a = ((1 - p) * (1 + p * alpha ** 2)) ** -0.5
        dropped = np.isclose(y._data, -a * alpha * (1 - p), rtol=0, atol=1e-12)
        assert abs(dropped.mean() - p) < 0.01
    y = F.feature_alpha_dropout(x.reshape(200, 50, 40), 0.2, training=True)
    y.sum().backward()  # the gradient is a * keep: per (sample, channel), all 0 or all a
    g = x.grad._data.reshape(200 * 50, 40)
    dropped = (g == 0).all(1)
    assert np.all(dropped | (g == g[:, :1]).all(1)) and abs(dropped.mean() - 0.2) < 0.03


@pytest.mark.parametrize("name", ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                  "feature_alpha_dropout"])
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probability_out_of_range(name, p):
    err = compare_raises(lambda lib, x: getattr(lib.nn.functional, name)(x, p, training=True),
                         arrays((2, 3, 4, 5)))
    assert isinstance(err, ValueError) and str(err) == f"{name}: expected p in [0.0, 1.0], got p={p}"


def test_shape_errors_and_eval_parity():
    err = compare_raises(lambda lib, x: lib.nn.functional.dropout1d(x, 0.5), arrays((2, 3, 4, 5)))
    assert "dropout1d" in str(err)
    compare_raises(lambda lib, x: lib.nn.functional.feature_alpha_dropout(x, 0.5, training=True),
                   arrays((4,)))
    with pytest.warns(UserWarning, match="dropout2d"):
        F.dropout2d(convgrad.ones(2, 3, 4), 0.5)
    # evaluation mode is the identity in both libraries, gradient included
    compare(lambda lib, x: lib.nn.functional.dropout(x, 0.3, training=False) * 2, arrays((3, 4)))
    compare(lambda lib, x: lib.nn.functional.dropout2d(x, 0.3, training=False) * 2, arrays((2, 3, 4, 4)))


@pytest.mark.parametrize("name", ["dropout", "dropout2d", "alpha_dropout", "feature_alpha_dropout"])
def test_gradcheck_with_a_fixed_mask(name):
    def fn(lib, x):
        convgrad.manual_seed(5)  # the same mask on every call of the finite differences
        return getattr(lib.nn.functional, name)(x, 0.4, training=True)
    gradcheck(fn, arrays((2, 3, 4, 4), np.float64))
