"""Normalisation layers against PyTorch: forward values, gradients (input, weight, bias), shapes,
dtypes and the running statistics batch_norm and instance_norm update; float64 gradient checks; errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
import convgrad.nn.functional as F
from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays


def _f(lib):
    return lib.nn.functional


def _shape(draw, min_dims=2, max_dims=5, min_spatial=1):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    nd = draw(st.integers(min_dims, max_dims))
    return (n, c) + tuple(draw(st.integers(min_spatial, 5)) for _ in range(nd - 2))


@st.composite
def bn_cases(draw):
    shape = _shape(draw, 2, 4)
    if int(np.prod(shape)) // shape[1] < 2:
        shape = (shape[0] + 1,) + shape[1:]
    return (shape, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
            draw(st.sampled_from([0.1, 0.3, 1.0, 0.0])), draw(st.sampled_from([1e-5, 1e-3, 0.5])),
            draw(st.booleans()), draw(st.integers(0, 2**16)))


class _Running:
    """Running statistics made fresh for each library, read back after the call."""

    def __init__(self, c, seed, present=True):
        self.mean = arrays((c,), seed=seed + 1) if present else None
        self.var = arrays((c,), seed=seed + 2, low=0.5, high=2.0) if present else None
        self.seen = {}

    def make(self, lib):
        if self.mean is None:
            return None, None
        m, v = lib.tensor(self.mean.copy()), lib.tensor(self.var.copy())
        self.seen[lib.__name__] = (m, v)
        return m, v

    def check(self):
        if self.mean is None:
            return
        (mc, vc), (mt, vt) = self.seen["convgrad"], self.seen["torch"]
        np.testing.assert_allclose(mc.numpy(), mt.numpy(), rtol=1e-5, atol=1e-6, err_msg="running_mean")
        np.testing.assert_allclose(vc.numpy(), vt.numpy(), rtol=1e-5, atol=1e-6, err_msg="running_var")
        assert mc.dtype == np.float32 and vc.dtype == np.float32


# --------------------------------------------------------------------------- batch normalisation
@settings(max_examples=examples(40))
@given(bn_cases())
def test_batch_norm_matches_torch(case):
    shape, training, affine, has_running, momentum, eps, noncontiguous, seed = case
    c = shape[1]
    run = _Running(c, seed, present=has_running or not training)
    x = arrays(shape, seed=seed)
    w, b = arrays((c,), seed=seed + 3), arrays((c,), seed=seed + 4)

    def fn(lib, x, w, b):
        m, v = run.make(lib)
        if lib is torch:
            w = w.contiguous()  # torch 2.13's eval-mode backward ignores a strided weight's stride
        return _f(lib).batch_norm(x, m, v, w if affine else None, b if affine else None, training=training,
                                  momentum=momentum, eps=eps)

    compare(fn, x, w, b, noncontiguous=noncontiguous, atol=1e-4)
    run.check()


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 10), (4, 16, 8, 8), (2, 3, 2, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_layers(shape, training):
    c = shape[1]
    run = _Running(c, 7)
    x = arrays(shape, low=-3, high=5)  # mean far from 0: the fused backward must still agree

    def fn(lib, x, w, b):
        m, v = run.make(lib)
        return _f(lib).batch_norm(x, m, v, w, b, training=training)

    compare(fn, x, arrays((c,), seed=1), arrays((c,), seed=2), atol=1e-4)
    run.check()


def test_batch_norm_updates_running_stats_in_place():
    x = convgrad.tensor(arrays((6, 3, 4, 4)))
    rm, rv = convgrad.zeros(3), convgrad.ones(3)
    buf_m, buf_v, v0 = rm._data, rv._data, rm._version
    F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    assert rm._data is buf_m and rv._data is buf_v and rm._version > v0
    xt = torch.tensor(x.numpy())
    np.testing.assert_allclose(rm.numpy(), 0.5 * xt.mean((0, 2, 3)).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rv.numpy(), 0.5 + 0.5 * xt.var((0, 2, 3), unbiased=True).numpy(), rtol=1e-5)
    F.batch_norm(x, rm, rv, training=False)  # eval leaves them alone
    np.testing.assert_allclose(rm.numpy(), 0.5 * xt.mean((0, 2, 3)).numpy(), rtol=1e-5, atol=1e-7)


def test_batch_norm_keeps_dtype():
    for dtype in (np.float32, np.float64):
        x = arrays((4, 3, 5), dtype=dtype)
        c = lambda lib, x, w: _f(lib).batch_norm(x, None, None, w, None, training=True)  # noqa: E731
        out = compare(c, x, arrays((3,), dtype=dtype), atol=1e-4)
        assert out.dtype == dtype


def test_batch_norm_float64_gradcheck():
    x = arrays((3, 2, 4), np.float64)
    w, b = arrays((2,), np.float64, seed=1), arrays((2,), np.float64, seed=2)
    rm, rv = convgrad.zeros(2, dtype=convgrad.float64), convgrad.ones(2, dtype=convgrad.float64)
    gradcheck(lambda lib, x, w, b: _f(lib).batch_norm(x, None, None, w, b, training=True), x, w, b)
    gradcheck(lambda lib, x, w, b: _f(lib).batch_norm(x, rm, rv, w, b, training=False), x, w, b)
    gradcheck(lambda lib, x: _f(lib).batch_norm(x, None, None, training=True), arrays((5, 3), np.float64))


# --------------------------------------------------------------------------- layer / group / instance
@settings(max_examples=examples(20))
@given(st.data())
def test_layer_norm_matches_torch(data):
    shape = _shape(data.draw, 2, 4)
    k = data.draw(st.integers(1, len(shape) - 1))
    normalized = shape[len(shape) - k:]
    affine = data.draw(st.booleans())
    seed = data.draw(st.integers(0, 2**16))
    if int(np.prod(normalized)) < 2:
        normalized, shape = (3,) + normalized, shape[: len(shape) - k] + (3,) + normalized
    w, b = arrays(normalized, seed=seed + 1), arrays(normalized, seed=seed + 2)
    compare(lambda lib, x, w, b: _f(lib).layer_norm(x, normalized, w if affine else None,
                                                    b if affine else None, eps=1e-5),
            arrays(shape, seed=seed), w, b, atol=1e-4, noncontiguous=data.draw(st.booleans()))


@settings(max_examples=examples(20))
@given(st.data())
def test_group_norm_matches_torch(data):
    n, groups = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    per_group = data.draw(st.integers(1, 3))
    spatial = tuple(data.draw(st.lists(st.integers(1, 4), max_size=2)))
    if per_group * int(np.prod(spatial)) < 2:
        spatial = spatial + (2,)
    c = groups * per_group
    seed = data.draw(st.integers(0, 2**16))
    affine = data.draw(st.booleans())
    w, b = arrays((c,), seed=seed + 1), arrays((c,), seed=seed + 2)
    compare(lambda lib, x, w, b: _f(lib).group_norm(x, groups, w if affine else None, b if affine else None),
            arrays((n, c) + spatial, seed=seed), w, b, atol=1e-4)


@settings(max_examples=examples(20))
@given(st.data())
def test_instance_norm_matches_torch(data):
    shape = _shape(data.draw, 3, 5)
    if int(np.prod(shape[2:])) < 2:
        shape = shape + (2,)
    c = shape[1]
    seed = data.draw(st.integers(0, 2**16))
    use_input_stats = data.draw(st.booleans())
    run = _Running(c, seed, present=data.draw(st.booleans()) or not use_input_stats)
    affine = data.draw(st.booleans())
    momentum = data.draw(st.sampled_from([0.1, 0.5]))

    def fn(lib, x, w, b):
        m, v = run.make(lib)
        return _f(lib).instance_norm(x, m, v, w if affine else None, b if affine else None,
                                     use_input_stats=use_input_stats, momentum=momentum)

    compare(fn, arrays(shape, seed=seed), arrays((c,), seed=seed + 3), arrays((c,), seed=seed + 4), atol=1e-4)
    run.check()


def test_layer_group_instance_float64_gradcheck():
    x = arrays((2, 4, 3), np.float64)
    w, b = arrays((4,), np.float64, seed=1), arrays((4,), np.float64, seed=2)
    gradcheck(lambda lib, x, w, b: _f(lib).group_norm(x, 2, w, b), x, w, b)
    gradcheck(lambda lib, x, w, b: _f(lib).instance_norm(x, weight=w, bias=b), x, w, b)
    w2, b2 = arrays((4, 3), np.float64, seed=3), arrays((4, 3), np.float64, seed=4)
    gradcheck(lambda lib, x, w, b: _f(lib).layer_norm(x, (4, 3), w, b), x, w2, b2)


# --------------------------------------------------------------------------- LRN, normalize
@settings(max_examples=examples(20))
@given(st.data())
def test_local_response_norm_matches_torch(data):
    shape = _shape(data.draw, 3, 5)
    size = data.draw(st.integers(1, 7))
    alpha = data.draw(st.sampled_from([1e-4, 0.1, 1.0]))
    beta = data.draw(st.sampled_from([0.75, 0.5, 2.0]))
    k = data.draw(st.sampled_from([1.0, 2.0, 0.5]))
    def fn(lib, x):
        if lib is torch:
            x = x.contiguous()  # torch's LRN views its input: it rejects non-contiguous 4-D+ inputs
        return _f(lib).local_response_norm(x, size, alpha, beta, k)

    compare(fn, arrays(shape, seed=data.draw(st.integers(0, 2**16))), noncontiguous=data.draw(st.booleans()))


def test_local_response_norm_alexnet():
    x = np.maximum(arrays((2, 12, 7, 7), high=4), 0).astype(np.float32)
    compare(lambda lib, x: _f(lib).local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=2.0), x)


@settings(max_examples=examples(20))
@given(st.data())
def test_normalize_matches_torch(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    p = data.draw(st.sampled_from([2.0, 1.0, 3.0, 1.5, float("inf")]))
    x = arrays(shape, seed=data.draw(st.integers(0, 2**16)))
    if data.draw(st.booleans()):  # a zero vector: the norm is clamped to eps
        idx = [slice(None)] * len(shape)
        idx[0 if dim % len(shape) != 0 else -1] = 0
        x[tuple(idx)] = 0
    compare(lambda lib, x: _f(lib).normalize(x, p=p, dim=dim), x, atol=1e-4)


def test_lrn_normalize_float64_gradcheck():
    gradcheck(lambda lib, x: _f(lib).local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0),
              arrays((2, 5, 3), np.float64))
    gradcheck(lambda lib, x: _f(lib).local_response_norm(x, 2, alpha=0.5, beta=0.75, k=1.0),
              arrays((1, 4, 2, 2), np.float64))
    for p in (2.0, 1.0, 3.0):
        gradcheck(lambda lib, x, p=p: _f(lib).normalize(x, p=p, dim=1), arrays((3, 4), np.float64))


# --------------------------------------------------------------------------- errors
x4 = arrays((2, 3, 4, 4))


@pytest.mark.parametrize("fn", [
    lambda lib, x: _f(lib).batch_norm(x, lib.zeros(4), lib.ones(3)),                # running_mean size
    lambda lib, x: _f(lib).batch_norm(x, lib.zeros(3), lib.ones(4)),                # running_var size
    lambda lib, x: _f(lib).batch_norm(x, lib.zeros(3), lib.ones(3), lib.ones(4)),   # weight size
    lambda lib, x: _f(lib).batch_norm(x, lib.zeros(3), lib.ones(3), None, lib.ones(2)),
    lambda lib, x: _f(lib).batch_norm(x[:1, :, 0, 0], lib.zeros(3), lib.ones(3), training=True),
    lambda lib, x: _f(lib).batch_norm(x, None, None, training=False),
    lambda lib, x: _f(lib).batch_norm(x[0, 0, 0], lib.zeros(4), lib.ones(4)),      # 1-D input
    lambda lib, x: _f(lib).layer_norm(x, (5,)),
    lambda lib, x: _f(lib).layer_norm(x, (4,), lib.ones(3)),
    lambda lib, x: _f(lib).layer_norm(x, (4, 4), None, lib.ones(4)),
    lambda lib, x: _f(lib).group_norm(x, 2),
    lambda lib, x: _f(lib).group_norm(x, 3, lib.ones(4)),
    lambda lib, x: _f(lib).group_norm(x[0, 0, 0], 1),
    lambda lib, x: _f(lib).instance_norm(x[:, :, 0, :1]),
    lambda lib, x: _f(lib).instance_norm(x, weight=lib.ones(2)),
    lambda lib, x: _f(lib).local_response_norm(x[0, 0], 2),
    lambda lib, x: _f(lib).local_response_norm(x, 0),
    lambda lib, x: _f(lib).normalize(x, dim=4),
])
def test_bad_arguments_raise_like_torch(fn):
    err = compare_raises(fn, x4)
    assert "norm" in str(err)


def test_error_messages_name_the_op_and_both_values():
    x = convgrad.tensor(x4)
    with pytest.raises(RuntimeError, match=r"^batch_norm: expected running_mean of one element per channel "
                                           r"\(C=3\), got running_mean of shape \(4,\)$"):
        F.batch_norm(x, convgrad.zeros(4), convgrad.ones(3))
    with pytest.raises(RuntimeError, match=r"batch_norm: expected weight .* got weight of shape \(5,\)"):
        F.batch_norm(x, convgrad.zeros(3), convgrad.ones(3), convgrad.ones(5))
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel"):
        F.batch_norm(x[:1, :, :1, :1], None, None, training=True)
    with pytest.raises(RuntimeError, match=r"group_norm: expected .* C=3, got num_groups=2"):
        F.group_norm(x, 2)
    with pytest.raises(RuntimeError, match=r"layer_norm: expected .*=\(5,\), got input of shape \(2, 3, 4"):
        F.layer_norm(x, 5)
