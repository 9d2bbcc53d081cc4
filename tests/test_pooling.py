"""Pooling against PyTorch: forward values, gradients, shapes, dtypes and indices over hypothesis-drawn
shapes and hyper-parameters; float64 gradient checks; the errors both libraries raise."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convgrad
import convgrad.nn.functional as F
from convgrad.geometry import pool_out_size
from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays, distinct


def _f(lib):
    return lib.nn.functional


def _reads_padding_only(n, k, s, p, d, ceil):
    o = pool_out_size(n, k, s, p, d, ceil)
    return any(not any(0 <= i * s - p + a * d < n for a in range(k)) for i in range(o))


@st.composite
def windows(draw, nsp, dilation=True, max_kernel=7, max_stride=4, padding=True):
    """(input shape, kwargs) for a pooling call valid in PyTorch: padding <= kernel // 2 and at least one
    output per dim; sizes odd or even, batched or not, sometimes exactly tiled by the windows."""
    tiled = draw(st.integers(0, 4)) == 0
    ks, ss, ps, ds, sizes = [], [], [], [], []
    for _ in range(nsp):
        k = draw(st.integers(1, max_kernel if not tiled else 4))
        s = k if tiled else draw(st.integers(1, max_stride))
        d = 1 if tiled or not dilation else draw(st.integers(1, 3))
        p = 0 if tiled or not padding else draw(st.integers(0, k // 2))
        lo = max(1, d * (k - 1) + 1 - 2 * p)
        n = k * draw(st.integers(1, 4)) if tiled else draw(st.integers(lo, lo + 9))
        ks.append(k), ss.append(s), ps.append(p), ds.append(d), sizes.append(n)
        # a dilated window can fall entirely on padding: PyTorch then returns out-of-range indices and
        # its backward writes out of bounds (heap corruption), so the oracle is useless there
        assume(not _reads_padding_only(n, k, s, p, d, True) and not _reads_padding_only(n, k, s, p, d, False))
    batched = draw(st.booleans())
    lead = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if batched else (draw(st.integers(1, 3)),)
    same = draw(st.booleans())
    kw = {
        "kernel_size": ks[0] if nsp == 1 or same and len(set(ks)) == 1 else tuple(ks),
        "stride": None if draw(st.integers(0, 3)) == 0 and ss == ks else tuple(ss),
        "ceil_mode": draw(st.booleans()),
    }
    if padding:
        kw["padding"] = tuple(ps)
    if dilation:
        kw["dilation"] = tuple(ds)
    return lead + tuple(sizes), kw


# --------------------------------------------------------------------------- max pooling
@settings(max_examples=examples(45))
@given(windows(2), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_max_pool2d_matches_torch(case, with_indices, noncontiguous, seed):
    shape, kw = case
    x = distinct(shape, seed=seed)
    compare(lambda lib, x: _f(lib).max_pool2d(x, return_indices=with_indices, **kw), x,
            noncontiguous=noncontiguous)


@settings(max_examples=examples(20))
@given(windows(1), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_max_pool1d_matches_torch(case, with_indices, noncontiguous, seed):
    shape, kw = case
    x = distinct(shape, seed=seed)
    compare(lambda lib, x: _f(lib).max_pool1d(x, return_indices=with_indices, **kw), x,
            noncontiguous=noncontiguous)


@pytest.mark.parametrize("shape, k, s, p", [
    ((4, 8, 28, 28), 2, 2, 0),    # LeNet / VGG: windows tile the input
    ((2, 8, 27, 27), 3, 2, 0),    # AlexNet: overlapping windows
    ((2, 4, 56, 56), 3, 2, 1),    # ResNet stem: overlapping, padded
    ((2, 3, 13, 13), 3, 2, 0),
    ((2, 3, 9, 10), 2, 2, 0),     # odd height: the last row is dropped
])
def test_max_pool2d_common_layers(shape, k, s, p):
    x = distinct(shape)
    compare(lambda lib, x: _f(lib).max_pool2d(x, k, s, p, return_indices=True), x)
    compare(lambda lib, x: _f(lib).max_pool2d(x, k, s, p, ceil_mode=True), x, noncontiguous=True)


@settings(max_examples=examples(12))
@given(windows(2), st.integers(0, 2**16))
def test_max_pool2d_ties_go_to_the_first_maximum(case, seed):
    """ReLU then max pooling makes windows of equal values; the gradient and index go to the first
    maximum in row-major window order, as in PyTorch."""
    shape, kw = case
    x = np.maximum(np.round(arrays(shape, seed=seed)), 0).astype(np.float32)
    compare(lambda lib, x: _f(lib).max_pool2d(x, return_indices=True, **kw), x)


def test_max_pool2d_nan_and_minus_inf():
    x = distinct((1, 2, 6, 7))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 1, 2] = np.nan
    x[0, 1, :3, :3] = -np.inf  # with padding: a window of only -inf points at its first real element
    for kw in (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2), dict(kernel_size=3, stride=1)):
        compare(lambda lib, x, kw=kw: _f(lib).max_pool2d(x, return_indices=True, **kw), x, grad=False)
        compare(lambda lib, x, kw=kw: _f(lib).max_pool2d(x, **kw), x, grad=False)


def test_max_pool2d_window_on_padding_only():
    """kernel 2, dilation 3, padding 1 on 2 rows: the window reads rows -1 and 2, both padding. The max
    of nothing is -inf, its index -1, its gradient goes nowhere (PyTorch corrupts memory here)."""
    x = convgrad.tensor(distinct((1, 1, 2, 4)), requires_grad=True)
    y, idx = F.max_pool2d(x, (2, 1), 1, (1, 0), (3, 1), return_indices=True)
    assert y.shape == (1, 1, 1, 4) and np.all(y._data == -np.inf) and np.all(idx._data == -1)
    y.sum().backward()
    assert not x.grad._data.any()


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pool2d_infinite_gradient_reaches_only_the_argmax(kw):
    x = distinct((1, 2, 6, 6))
    g = np.ones((1, 2, 3, 3), np.float32)
    g[0, 0, 1, 1] = np.inf
    grads = []
    for lib in (convgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        _f(lib).max_pool2d(t, **kw).backward(lib.tensor(g))
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_max_pool2d_integer_input(dtype):
    x = np.random.default_rng(0).integers(-5 if dtype != np.uint8 else 0, 6, (2, 3, 7, 7)).astype(dtype)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        compare(lambda lib, x, kw=kw: _f(lib).max_pool2d(x, return_indices=True, **kw), x, grad=False)


def test_max_pool_empty_batch_and_unbatched():
    compare(lambda lib, x: _f(lib).max_pool2d(x, 2), np.zeros((0, 3, 4, 4), np.float32), grad=False)
    compare(lambda lib, x: _f(lib).max_pool2d(x, 3, 2, 1, return_indices=True), distinct((3, 7, 5)))
    compare(lambda lib, x: _f(lib).max_pool1d(x, 3, 2, 1, return_indices=True), distinct((3, 7)))


def test_max_pool_float64_gradcheck():
    x = distinct((1, 2, 5, 6), np.float64)
    gradcheck(lambda lib, x: _f(lib).max_pool2d(x, 3, 2, 1), x)
    gradcheck(lambda lib, x: _f(lib).max_pool2d(x, 2), x)
    gradcheck(lambda lib, x: _f(lib).max_pool2d(x, 2, 1, dilation=2, ceil_mode=True), x)
    gradcheck(lambda lib, x: _f(lib).max_pool1d(x, 3, 2, 1), distinct((2, 2, 7), np.float64))


# --------------------------------------------------------------------------- average pooling
@settings(max_examples=examples(30))
@given(windows(2, dilation=False), st.booleans(), st.sampled_from([None, None, 1, 3, -2]), st.booleans(),
       st.integers(0, 2**16))
def test_avg_pool2d_matches_torch(case, count_include_pad, divisor_override, noncontiguous, seed):
    shape, kw = case
    x = arrays(shape, seed=seed)
    compare(lambda lib, x: _f(lib).avg_pool2d(x, count_include_pad=count_include_pad,
                                              divisor_override=divisor_override, **kw),
            x, noncontiguous=noncontiguous)


@settings(max_examples=examples(15))
@given(windows(1, dilation=False), st.booleans(), st.integers(0, 2**16))
def test_avg_pool1d_matches_torch(case, count_include_pad, seed):
    shape, kw = case
    x = arrays(shape, seed=seed)
    compare(lambda lib, x: _f(lib).avg_pool1d(x, count_include_pad=count_include_pad, **kw), x)


def test_avg_pool2d_common_layers_and_integers():
    x = arrays((4, 6, 28, 28))
    compare(lambda lib, x: _f(lib).avg_pool2d(x, 2), x)  # LeNet's subsampling
    compare(lambda lib, x: _f(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), x)
    xi = np.random.default_rng(0).integers(-9, 10, (2, 3, 7, 7)).astype(np.int64)
    compare(lambda lib, x: _f(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True), xi, grad=False)  # truncates


def test_avg_pool_float64_gradcheck():
    x = arrays((1, 2, 5, 6), np.float64)
    gradcheck(lambda lib, x: _f(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), x)
    gradcheck(lambda lib, x: _f(lib).avg_pool2d(x, 2), x)
    gradcheck(lambda lib, x: _f(lib).avg_pool2d(x, (2, 3), 1, divisor_override=5), x)
    gradcheck(lambda lib, x: _f(lib).avg_pool1d(x, 3, 2, 1), arrays((2, 2, 7), np.float64))


# --------------------------------------------------------------------------- adaptive pooling
def _adaptive_case(nsp):
    size = st.integers(1, 12)
    out = st.one_of(st.integers(1, 14), st.none())
    return st.tuples(st.integers(1, 3), st.integers(1, 3), st.tuples(*[size] * nsp), st.tuples(*[out] * nsp),
                     st.booleans(), st.booleans())


@settings(max_examples=examples(20))
@given(_adaptive_case(2), st.integers(0, 2**16))
def test_adaptive_avg_pool2d_matches_torch(case, seed):
    n, c, sizes, outs, batched, noncontiguous = case
    shape = ((n,) if batched else ()) + (c,) + sizes
    compare(lambda lib, x: _f(lib).adaptive_avg_pool2d(x, outs), arrays(shape, seed=seed),
            noncontiguous=noncontiguous)


@settings(max_examples=examples(10))
@given(_adaptive_case(1), st.integers(0, 2**16))
def test_adaptive_avg_pool1d_matches_torch(case, seed):
    n, c, sizes, outs, batched, _ = case
    shape = ((n,) if batched else ()) + (c,) + sizes
    compare(lambda lib, x: _f(lib).adaptive_avg_pool1d(x, outs[0] or sizes[0]), arrays(shape, seed=seed))


@settings(max_examples=examples(20))
@given(_adaptive_case(2), st.booleans(), st.integers(0, 2**16))
def test_adaptive_max_pool2d_matches_torch(case, with_indices, seed):
    n, c, sizes, outs, batched, noncontiguous = case
    shape = ((n,) if batched else ()) + (c,) + sizes
    compare(lambda lib, x: _f(lib).adaptive_max_pool2d(x, outs, return_indices=with_indices),
            distinct(shape, seed=seed), noncontiguous=noncontiguous)


@settings(max_examples=examples(10))
@given(_adaptive_case(1), st.booleans(), st.integers(0, 2**16))
def test_adaptive_max_pool1d_matches_torch(case, with_indices, seed):
    n, c, sizes, outs, batched, _ = case
    shape = ((n,) if batched else ()) + (c,) + sizes
    compare(lambda lib, x: _f(lib).adaptive_max_pool1d(x, outs[0] or sizes[0], return_indices=with_indices),
            distinct(shape, seed=seed))


@pytest.mark.parametrize("output_size", [1, (1, 1), (1, None)])
def test_global_average_pooling(output_size):
    x = arrays((4, 16, 7, 7))
    out = compare(lambda lib, x: _f(lib).adaptive_avg_pool2d(x, output_size), x, noncontiguous=True)
    assert out.shape[-2:] == ((1, 1) if output_size != (1, None) else (1, 7))


def test_adaptive_float64_gradcheck():
    x = arrays((1, 2, 5, 7), np.float64)
    gradcheck(lambda lib, x: _f(lib).adaptive_avg_pool2d(x, (3, 4)), x)
    gradcheck(lambda lib, x: _f(lib).adaptive_avg_pool2d(x, 1), x)
    gradcheck(lambda lib, x: _f(lib).adaptive_max_pool2d(x, (3, 4)), distinct((1, 2, 5, 7), np.float64))
    gradcheck(lambda lib, x: _f(lib).adaptive_max_pool1d(x, 3), distinct((2, 2, 7), np.float64))
    gradcheck(lambda lib, x: _f(lib).adaptive_avg_pool1d(x, 4), arrays((2, 2, 7), np.float64))


# --------------------------------------------------------------------------- L_p pooling, unpooling
@settings(max_examples=examples(12))
@given(windows(2, dilation=False, max_kernel=4, padding=False), st.sampled_from([1, 2, 3, 1.5, float("inf")]),
       st.integers(0, 2**16))
def test_lp_pool2d_matches_torch(case, p, seed):
    shape, kw = case
    x = arrays(shape, seed=seed, low=0.5, high=2.0) if p != float("inf") else distinct(shape, seed=seed)
    compare(lambda lib, x: _f(lib).lp_pool2d(x, p, **kw), x)


@settings(max_examples=examples(8))
@given(windows(1, dilation=False, max_kernel=4, padding=False), st.sampled_from([1, 2, 3, 2.5]),
       st.integers(0, 2**16))
def test_lp_pool1d_matches_torch(case, p, seed):
    shape, kw = case
    compare(lambda lib, x: _f(lib).lp_pool1d(x, p, **kw), arrays(shape, seed=seed, low=0.5, high=2.0))


@settings(max_examples=examples(10))
@given(windows(2, dilation=False, max_kernel=4), st.integers(0, 2**16))
def test_max_unpool2d_inverts_max_pool2d(case, seed):
    shape, kw = case
    kw = {k: v for k, v in kw.items() if k != "ceil_mode"}
    ks = np.broadcast_to(kw["kernel_size"], 2)
    ss = ks if kw["stride"] is None else np.array(kw["stride"])
    outs = [(n - 2 * p - k) // s + 1 for n, p, k, s in zip(shape[-2:], kw["padding"], ks, ss)]
    default = [(o - 1) * s - 2 * p + k for o, s, p, k in zip(outs, ss, kw["padding"], ks)]
    # unpooling to the input's size must be within (default - stride, default + stride)
    assume(all(d - s < n < d + s for d, s, n in zip(default, ss, shape[-2:])))

    def fn(lib, x):
        y, idx = _f(lib).max_pool2d(x, return_indices=True, **kw)
        return _f(lib).max_unpool2d(y, idx, output_size=shape[-2:], **kw)

    compare(fn, distinct(shape, seed=seed))


def test_max_unpool_output_size_and_1d():
    x = distinct((2, 3, 9, 9))

    def fn(lib, x):
        y, idx = _f(lib).max_pool2d(x, 2, return_indices=True)
        return _f(lib).max_unpool2d(y, idx, 2, output_size=x.shape)

    compare(fn, x)

    def fn1(lib, x):
        y, idx = _f(lib).max_pool1d(x, 3, 2, 1, return_indices=True)
        return _f(lib).max_unpool1d(y, idx, 3, 2, 1, output_size=[9])

    compare(fn1, distinct((2, 3, 9)))


def test_lp_and_unpool_float64_gradcheck():
    gradcheck(lambda lib, x: _f(lib).lp_pool2d(x, 2, 2), arrays((1, 2, 4, 5), np.float64, low=0.5))
    gradcheck(lambda lib, x: _f(lib).lp_pool1d(x, 3, 2, 1), arrays((1, 2, 5), np.float64, low=0.5))
    idx = convgrad.tensor(np.array([[[[0, 3], [9, 14]]]]))
    gradcheck(lambda lib, x: _f(lib).max_unpool2d(x, idx, 2), arrays((1, 1, 2, 2), np.float64))


@pytest.mark.parametrize("fn", [
    lambda lib, x: _f(lib).max_pool2d(x, 3, 2, 1),
    lambda lib, x: _f(lib).avg_pool2d(x, 2),
    lambda lib, x: _f(lib).adaptive_avg_pool2d(x, 1),
    lambda lib, x: _f(lib).adaptive_avg_pool2d(x, (3, 5)),
    lambda lib, x: _f(lib).adaptive_max_pool2d(x, (3, 5)),
    lambda lib, x: _f(lib).lp_pool2d(x.abs(), 2, 2),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(fn, dtype):
    out = compare(fn, distinct((2, 3, 8, 8), dtype))
    assert out.dtype == dtype


# --------------------------------------------------------------------------- errors
x4 = arrays((2, 3, 8, 8))


@pytest.mark.parametrize("fn", [
    lambda lib, x: _f(lib).max_pool2d(x[0, 0], 2),                        # 2-D input
    lambda lib, x: _f(lib).max_pool2d(x[None], 2),                        # 5-D input
    lambda lib, x: _f(lib).max_pool2d(x, 9),                              # kernel larger than the input
    lambda lib, x: _f(lib).max_pool2d(x, 5, padding=1, dilation=3),       # dilated kernel too large
    lambda lib, x: _f(lib).max_pool2d(x, 3, padding=2),                   # padding > kernel / 2
    lambda lib, x: _f(lib).max_pool2d(x, 3, padding=-1),
    lambda lib, x: _f(lib).max_pool2d(x, 3, stride=0),
    lambda lib, x: _f(lib).max_pool2d(x, 3, stride=-1),
    lambda lib, x: _f(lib).max_pool2d(x, 0),
    lambda lib, x: _f(lib).max_pool2d(x, 2, dilation=0),
    lambda lib, x: _f(lib).max_pool2d(x, (2, 2, 2)),
    lambda lib, x: _f(lib).max_pool2d(x[:, :0], 2),                       # no channels
    lambda lib, x: _f(lib).max_pool1d(x, 2),                              # 4-D input to a 1-D pool
    lambda lib, x: _f(lib).max_pool1d(x[0], 3, padding=2),
    lambda lib, x: _f(lib).max_pool1d(x[0], 9),
    lambda lib, x: _f(lib).avg_pool2d(x, 9),
    lambda lib, x: _f(lib).avg_pool2d(x, 3, padding=2),
    lambda lib, x: _f(lib).avg_pool2d(x, 3, stride=0),
    lambda lib, x: _f(lib).avg_pool2d(x, 3, divisor_override=0),
    lambda lib, x: _f(lib).avg_pool1d(x[0], 3, padding=2),
    lambda lib, x: _f(lib).avg_pool1d(x[0, 0, 0], 3),                     # 1-D input
    lambda lib, x: _f(lib).adaptive_avg_pool2d(x, -1),
    lambda lib, x: _f(lib).adaptive_avg_pool2d(x[0, 0], 2),
    lambda lib, x: _f(lib).adaptive_max_pool2d(x, (2, -3)),
    lambda lib, x: _f(lib).adaptive_max_pool1d(x, 2),
    lambda lib, x: _f(lib).lp_pool2d(x[0, 0], 2, 2),
    lambda lib, x: _f(lib).lp_pool2d(x, 2, 9),
])
def test_bad_arguments_raise_like_torch(fn):
    err = compare_raises(fn, x4)
    assert "pool" in str(err)


def test_error_messages_name_the_op_and_both_values():
    x = convgrad.tensor(x4)
    with pytest.raises(RuntimeError, match=r"max_pool2d: expected padding .* got padding=\(2, 2\) for"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: expected an output size .* got output size \(0,"):
        F.avg_pool2d(x, 9)
    with pytest.raises(RuntimeError, match=r"max_pool2d: expected 3-D .* got input of shape \(8, 8\)"):
        F.max_pool2d(x[0, 0], 2)
    with pytest.raises(RuntimeError, match=r"max_pool1d: expected stride >= 1, got stride=\(0,\)"):
        F.max_pool1d(x[0], 2, stride=0)


def test_integer_inputs_torch_rejects():
    xi = np.ones((1, 1, 4, 4), np.int64)
    for fn in (lambda lib, x: _f(lib).adaptive_avg_pool2d(x, 2),
               lambda lib, x: _f(lib).adaptive_max_pool2d(x, 2),
               lambda lib, x: _f(lib).avg_pool2d(x.to(lib.uint8), 2),
               lambda lib, x: _f(lib).max_pool2d(x > 0, 2)):
        compare_raises(fn, xi)


def test_max_unpool_errors():
    y, idx = torch.nn.functional.max_pool2d(torch.tensor(x4), 2, return_indices=True)
    y, idx = y.numpy(), idx.numpy()
    bad = idx.copy()
    bad[0, 0, 0, 0] = 64
    for fn, args in [
        (lambda lib, y, i: _f(lib).max_unpool2d(y, i, 2), (y, bad)),  # index out of range
        (lambda lib, y, i: _f(lib).max_unpool2d(y, i, 2), (y, -idx - 1)),
        (lambda lib, y, i: _f(lib).max_unpool2d(y, i, 2, output_size=(10, 10)), (y, idx)),  # size too large
        (lambda lib, y, i: _f(lib).max_unpool2d(y, i, 2, output_size=(1, 2, 3, 9, 9)), (y, idx)),
        (lambda lib, y, i: _f(lib).max_unpool2d(y, i, 2), (y, idx[:, :, :3])),  # shapes differ
        (lambda lib, y, i: _f(lib).max_unpool2d(y, i, 2), (y, idx.astype(np.float32))),
    ]:
        compare_raises(fn, *args)
