"""Losses against PyTorch: cross_entropy / nll_loss with every option (weights, ignore_index, reductions,
label smoothing, spatial targets, class probabilities), the regression, binary and divergence losses,
float64 finite differences, and bad targets rejected before anything is computed."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
import convgrad.nn.functional as CF
from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays, shapes

REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
FLOATS = st.sampled_from([np.float32, np.float64])


def F(lib):
    return lib.nn.functional


def quiet(fn):
    """fn with PyTorch's and convgrad's deprecation/size warnings silenced."""
    def run(*a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a)
    return run


# ---------------------------------------------------------------------- cross_entropy / nll_loss
@st.composite
def class_problem(draw):
    """(logits (N, C, *S), class-index target (N, *S), ignore_index, class weights or None)."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    spatial = draw(shapes(0, 2, 1, 3))
    dtype, seed = draw(FLOATS), draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c) + spatial) * 3).astype(dtype)
    t = rng.integers(0, c, (n,) + spatial)
    ignore_index = draw(st.sampled_from([-100, 0, 255]))
    if draw(st.booleans()) and t.size > 1:
        drop = rng.random(t.shape) < 0.3
        drop.flat[0] = False  # keep one counted target: an all-ignored mean is nan (tested separately)
        t[drop] = ignore_index
    w = rng.uniform(0.1, 2.0, c).astype(dtype) if draw(st.booleans()) else None
    return x, t, ignore_index, w


def _ce(name, **kw):
    def fn(lib, x, t, *w):
        return getattr(F(lib), name)(x, t, weight=w[0] if w else None, **kw)
    return fn


@settings(max_examples=examples(40))
@given(prob=class_problem(), reduction=REDUCTIONS, smoothing=st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]),
       nc=st.booleans())
def test_cross_entropy_class_indices_parity(prob, reduction, smoothing, nc):
    x, t, ii, w = prob
    args = (x, t) if w is None else (x, t, w)
    compare(_ce("cross_entropy", ignore_index=ii, reduction=reduction, label_smoothing=smoothing), *args,
            requires_grad=[True, False, False], noncontiguous=nc)


@settings(max_examples=examples(25))
@given(prob=class_problem(), reduction=REDUCTIONS, nc=st.booleans())
def test_nll_loss_parity(prob, reduction, nc):
    x, t, ii, w = prob
    args = (x, t) if w is None else (x, t, w)
    # PyTorch's nll_loss2d backward rejects non-contiguous inputs ("grad_input must be contiguous")
    compare(_ce("nll_loss", ignore_index=ii, reduction=reduction), *args, requires_grad=[True, False, False],
            noncontiguous=nc and x.ndim == 2)


@settings(max_examples=examples(25))
@given(n=st.integers(1, 5), c=st.integers(1, 5), spatial=shapes(0, 2, 1, 3), weighted=st.booleans(),
       reduction=REDUCTIONS, smoothing=st.sampled_from([0.0, 0.2, 1.0]), dtype=FLOATS, nc=st.booleans(),
       seed=st.integers(0, 10_000))
def test_cross_entropy_class_probabilities_parity(n, c, spatial, weighted, reduction, smoothing, dtype, nc,
                                                  seed):
    rng = np.random.default_rng(seed)
    shape = (n, c) + spatial
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    p = rng.random(shape).astype(dtype)
    p /= p.sum(1, keepdims=True)
    args = (x, p) + ((rng.uniform(0.1, 2, c).astype(dtype),) if weighted else ())
    compare(_ce("cross_entropy", reduction=reduction, label_smoothing=smoothing), *args,
            requires_grad=[True, True, False], noncontiguous=nc)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_unbatched_and_uint8_targets(reduction):
    x = arrays((5,), seed=1)
    compare(_ce("cross_entropy", reduction=reduction), x, np.array(3))
    compare(_ce("cross_entropy", reduction=reduction, label_smoothing=0.3), x, np.array(0))
    compare(_ce("nll_loss", reduction=reduction), x, np.array(4))
    compare(_ce("cross_entropy", reduction=reduction), x, np.full(5, 0.2, np.float32))
    compare(_ce("cross_entropy", reduction=reduction), arrays((4, 3)), np.array([0, 2, 1, 1], np.uint8),
            requires_grad=[True, False])


def test_all_ignored_and_empty_batches():
    x = arrays((2, 3))
    for ls in (0.0, 0.2):
        for red in ("mean", "sum", "none"):  # the mean is nan, its gradient 0
            compare(_ce("cross_entropy", reduction=red, label_smoothing=ls), x, np.array([-100, -100]))
    compare(_ce("nll_loss"), x, np.array([-100, -100]))
    compare(_ce("cross_entropy"), np.zeros((0, 3), np.float32), np.zeros(0, np.int64))
    compare(_ce("cross_entropy"), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))


def test_cross_entropy_gradcheck():
    x = arrays((3, 4, 2), np.float64, seed=2)
    t = np.array([[0, 3], [-100, 1], [2, 2]])
    w = arrays((4,), np.float64, seed=3, low=0.2, high=2)
    for kw in ({}, {"reduction": "none"}, {"reduction": "sum"}):
        gradcheck(lambda lib, x, kw=kw: F(lib).nll_loss(x, lib.tensor(t), weight=lib.tensor(w), **kw), x)
    for kw in ({}, {"label_smoothing": 0.3}, {"reduction": "none"},
               {"reduction": "sum", "label_smoothing": 0.1}):
        gradcheck(lambda lib, x, kw=kw: F(lib).cross_entropy(x, lib.tensor(t), weight=lib.tensor(w), **kw), x)
    p = np.abs(arrays((3, 4, 2), np.float64, seed=4)) + 0.1
    gradcheck(lambda lib, x, p: F(lib).cross_entropy(x, p, label_smoothing=0.2), x, p)


def test_cross_entropy_is_one_fused_op():
    x = convgrad.tensor(arrays((4, 5), seed=5), requires_grad=True)
    t = convgrad.tensor([0, 4, 2, 2])
    loss = CF.cross_entropy(x, t)
    node = loss.grad_fn
    assert type(node).__name__ == "CrossEntropy"
    assert [type(n).__name__ for n, _ in node.next_functions() if n is not None] == ["AccumulateGrad"]
    loss.backward()
    p = np.exp(x._data - x._data.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(4), t._data] -= 1
    np.testing.assert_allclose(x.grad._data, p / 4, atol=1e-7)


def test_legacy_size_average_and_reduce():
    x, t = arrays((3, 4)), np.array([1, 0, 3])
    for kw in ({"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}):
        compare(quiet(_ce("cross_entropy", **kw)), x, t)
        compare(quiet(lambda lib, a, b, kw=kw: F(lib).mse_loss(a, b, **kw)), x, x[::-1].copy())
    with pytest.warns(UserWarning, match="reduction='sum'"):
        CF.mse_loss(convgrad.ones(2), convgrad.zeros(2), size_average=False)


class TestClassTargetErrors:
    x = arrays((3, 4))

    def test_label_out_of_range_names_value_and_classes(self):
        for bad in (4, 7, -1):
            err = compare_raises(_ce("cross_entropy"), self.x, np.array([0, bad, 1]))
            assert isinstance(err, IndexError)
            assert f"target {bad}" in str(err) and "4 classes" in str(err) and "cross_entropy" in str(err)
        err = compare_raises(_ce("nll_loss"), self.x, np.array([0, 9, 1]))
        assert "nll_loss" in str(err) and "9" in str(err)
        compare(_ce("cross_entropy", ignore_index=9), self.x, np.array([0, 9, 1]),
                requires_grad=[True, False])

    def test_float_labels(self):
        err = compare_raises(_ce("cross_entropy"), self.x, np.array([0.0, 1.0, 2.0]))
        assert "int64" in str(err) and "float" in str(err)
        compare_raises(_ce("nll_loss"), self.x, np.array([0.0, 1.0, 2.0]))
        compare_raises(_ce("nll_loss"), self.x, np.zeros((3, 4), np.float32))
        compare_raises(_ce("cross_entropy"), self.x, np.array([0, 1, 2], np.int32))
        err = compare_raises(_ce("cross_entropy"), self.x, np.zeros((3, 4), np.int64))
        assert "probabilities" in str(err)

    def test_mismatched_batch_and_shapes(self):
        err = compare_raises(_ce("cross_entropy"), self.x, np.array([0, 1]))
        assert "batch size 3" in str(err) and "(2,)" in str(err)
        compare_raises(_ce("nll_loss"), self.x, np.array([0, 1, 2, 3]))
        x4 = arrays((2, 3, 4, 5))
        err = compare_raises(_ce("cross_entropy"), x4, np.zeros((2, 4, 6), np.int64))
        assert "(2, 4, 5)" in str(err)
        compare_raises(_ce("cross_entropy"), x4, np.zeros((2, 20), np.int64))
        compare_raises(_ce("cross_entropy"), arrays((2, 3, 4)), np.zeros((2,), np.int64))
        compare_raises(_ce("cross_entropy"), arrays((4,)), np.array([1, 2]))

    def test_bad_weight_reduction_smoothing_and_ignore_index(self):
        err = compare_raises(_ce("cross_entropy"), self.x, np.array([0, 1, 2]), arrays((3,)))
        assert "expected weight of shape (4,) (one per class), got weight of shape" in str(err)
        compare_raises(_ce("cross_entropy"), self.x, np.array([0, 1, 2]), arrays((4,), np.float64))
        err = compare_raises(_ce("cross_entropy", reduction="avg"), self.x, np.array([0, 1, 2]))
        assert "avg" in str(err)
        err = compare_raises(_ce("cross_entropy", label_smoothing=1.5), self.x, np.array([0, 1, 2]))
        assert "label_smoothing" in str(err)
        compare_raises(_ce("cross_entropy", ignore_index=1), self.x, np.zeros((3, 4), np.float32))
        compare_raises(_ce("cross_entropy"), np.array([[1, 2], [3, 4]]), np.array([0, 1]))

    def test_errors_come_before_any_computation(self):
        x = convgrad.tensor(self.x, requires_grad=True)
        with pytest.raises(IndexError):
            CF.cross_entropy(x, convgrad.tensor([0, 4, 1]))
        assert x.grad is None and x.grad_fn is None


# ---------------------------------------------------------------------- regression losses
REGRESSION = [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.0}),
              ("smooth_l1_loss", {"beta": 0.4}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3}),
              ("huber_loss", {"delta": 2.5})]
REG_IDS = [n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in REGRESSION]


@pytest.mark.parametrize("name,kw", REGRESSION, ids=REG_IDS)
@settings(max_examples=examples(6))
@given(shape=shapes(0, 4, 1, 5), reduction=REDUCTIONS, broadcast=st.booleans(), dtype=FLOATS,
       nc=st.booleans(), seed=st.integers(0, 10_000))
def test_regression_parity(name, kw, shape, reduction, broadcast, dtype, nc, seed):
    a = arrays(shape, dtype, seed, -3, 3)
    b = arrays(shape, dtype, seed + 1, -3, 3)
    if broadcast and shape:
        b = b[..., :1]  # broadcasts against a, as PyTorch does (with a warning)
    compare(quiet(lambda lib, x, y: getattr(F(lib), name)(x, y, reduction=reduction, **kw)), a, b,
            noncontiguous=nc)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_weighted_regression_parity(name, reduction):
    a, b, w = arrays((3, 4), seed=1), arrays((3, 4), seed=2), arrays((3, 4), seed=3, low=0.1, high=2)
    compare(lambda lib, x, y, w: getattr(F(lib), name)(x, y, reduction=reduction, weight=w), a, b, w)
    err = compare_raises(lambda lib, x, y, w: getattr(F(lib), name)(x, y, weight=w), a, b, w[:1])
    assert "expected weight of the input's shape (3, 4), got weight of shape (1, 4)" in str(err)


@pytest.mark.parametrize("name,kw", REGRESSION, ids=REG_IDS)
def test_regression_gradcheck(name, kw):
    a, b = arrays((3, 4), np.float64, 1), arrays((3, 4), np.float64, 2)
    gradcheck(lambda lib, x, y: getattr(F(lib), name)(x, y, **kw), a, b)


def test_regression_mixed_dtypes_and_errors():
    compare(lambda lib, x, y: F(lib).mse_loss(x, y), arrays((3,)), np.array([1, 2, 3]))
    compare(lambda lib, x, y: F(lib).l1_loss(x, y), arrays((3,)), arrays((3,), np.float64))
    compare_raises(quiet(lambda lib, x, y: F(lib).mse_loss(x, y)), arrays((3,)), arrays((4,)))
    err = compare_raises(lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=-1.0), arrays((3,)), arrays((3,)))
    assert "beta" in str(err)
    err = compare_raises(lambda lib, x, y: F(lib).huber_loss(x, y, delta=0.0), arrays((3,)), arrays((3,)))
    assert "delta" in str(err)
    err = compare_raises(lambda lib, x, y: F(lib).l1_loss(x, y, reduction="max"), arrays((3,)), arrays((3,)))
    assert "max" in str(err)
    with pytest.warns(UserWarning, match="target size"):
        CF.mse_loss(convgrad.ones(3), convgrad.ones(2, 3))


# ---------------------------------------------------------------------- binary classification
@settings(max_examples=examples(20))
@given(shape=shapes(1, 3, 1, 5), reduction=REDUCTIONS,
       weight=st.sampled_from([None, "full", "last", "first"]), hard=st.booleans(), dtype=FLOATS,
       nc=st.booleans(), seed=st.integers(0, 10_000))
def test_binary_cross_entropy_parity(shape, reduction, weight, hard, dtype, nc, seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, shape).astype(dtype)
    t = (rng.random(shape) < 0.5 if hard else rng.random(shape)).astype(dtype)
    wshape = {"full": shape, "last": shape[-1:], "first": shape[:1] + (1,) * (len(shape) - 1)}.get(weight)
    args = (p, t) + ((rng.uniform(0.1, 2, wshape).astype(dtype),) if wshape else ())

    def fn(lib, p, t, *w):
        return F(lib).binary_cross_entropy(p, t, weight=w[0] if w else None, reduction=reduction)
    compare(fn, *args, requires_grad=[True, True, False], noncontiguous=nc)


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32)
    out = compare(lambda lib, p, t: F(lib).binary_cross_entropy(p, t, reduction="none"), p, t,
                  requires_grad=[True, False], rtol=1e-5)
    np.testing.assert_allclose(out._data, [100, 100, 0, 0, np.log(2)], rtol=1e-6)


@settings(max_examples=examples(20))
@given(shape=shapes(1, 3, 1, 5), reduction=REDUCTIONS, weighted=st.booleans(), pos=st.booleans(),
       dtype=FLOATS, nc=st.booleans(), seed=st.integers(0, 10_000))
def test_binary_cross_entropy_with_logits_parity(shape, reduction, weighted, pos, dtype, nc, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 20).astype(dtype)  # far into both tails: must stay finite
    t = rng.random(shape).astype(dtype)
    w = rng.uniform(0.1, 2, shape[-1:]).astype(dtype) if weighted else None
    pw = rng.uniform(0.1, 4, shape[-1:]).astype(dtype) if pos else None

    def fn(lib, x, t, w, pw):
        return F(lib).binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=reduction)
    out = compare(fn, x, t, w, pw, noncontiguous=nc, requires_grad=[True, True, False, False])
    assert np.all(np.isfinite(out._data))


def test_binary_losses_gradcheck():
    p = arrays((3, 4), np.float64, 1, 0.1, 0.9)
    t = arrays((3, 4), np.float64, 2, 0.0, 1.0)
    w = arrays((4,), np.float64, 3, 0.2, 2.0)
    gradcheck(lambda lib, p, t: F(lib).binary_cross_entropy(p, t, weight=lib.tensor(w)), p, t)
    x = arrays((3, 4), np.float64, 4, -5, 5)
    gradcheck(lambda lib, x, t: F(lib).binary_cross_entropy_with_logits(
        x, t, weight=lib.tensor(w), pos_weight=lib.tensor(w[::-1].copy())), x, t)


def test_binary_errors():
    p, t = arrays((2, 3), seed=1, low=0.1, high=0.9), arrays((2, 3), seed=2, low=0, high=1)
    bce = lambda lib, p, t: F(lib).binary_cross_entropy(p, t)  # noqa: E731
    err = compare_raises(bce, p * 3, t)
    assert "between 0 and 1" in str(err)
    compare_raises(bce, p, t * 3)
    err = compare_raises(bce, p, t[:, :1])
    assert "expected target of the input's shape (2, 3), got target of shape (2, 1)" in str(err)
    compare_raises(bce, p, (t > 0.5).astype(np.int64))
    compare_raises(lambda lib, p, t, w: F(lib).binary_cross_entropy(p, t, weight=w), p, t, arrays((4, 2, 3)))
    bcel = lambda lib, x, t, **k: F(lib).binary_cross_entropy_with_logits(x, t, **k)  # noqa: E731
    compare_raises(bcel, p, t.ravel())
    compare_raises(lambda lib, x, t, pw: bcel(lib, x, t, pos_weight=pw), p, t, arrays((2,)))
    compare_raises(lambda lib, x, t, w: bcel(lib, x, t, weight=w), p, t, arrays((4, 2, 3)))


# ---------------------------------------------------------------------- kl_div, margin_ranking_loss
@settings(max_examples=examples(20))
@given(shape=shapes(1, 3, 1, 5), reduction=st.sampled_from(["none", "mean", "sum", "batchmean"]),
       log_target=st.booleans(), dtype=FLOATS, nc=st.booleans(), seed=st.integers(0, 10_000))
def test_kl_div_parity(shape, reduction, log_target, dtype, nc, seed):
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.05, 1, shape)
    q /= q.sum(-1, keepdims=True)
    p = rng.uniform(0.05, 1, shape)
    p /= p.sum(-1, keepdims=True)
    t = np.log(p) if log_target else p
    compare(quiet(lambda lib, x, t: F(lib).kl_div(x, t, reduction=reduction, log_target=log_target)),
            np.log(q).astype(dtype), t.astype(dtype), noncontiguous=nc)


def test_kl_div_zero_targets_gradcheck_and_errors():
    x = np.log(np.array([[0.2, 0.3, 0.5]], np.float32))
    compare(lambda lib, x, t: F(lib).kl_div(x, t, reduction="batchmean"), x,
            np.array([[0.0, 0.5, 0.5]], np.float32), requires_grad=[True, False])
    gradcheck(lambda lib, x, t: F(lib).kl_div(x, t, reduction="batchmean"), arrays((2, 3), np.float64),
              arrays((2, 3), np.float64, 1, 0.1, 1))
    gradcheck(lambda lib, x, t: F(lib).kl_div(x, t, log_target=True, reduction="sum"),
              arrays((2, 3), np.float64), arrays((2, 3), np.float64, 1))
    compare_raises(lambda lib, x, t: F(lib).kl_div(x, t, reduction="bad"), x, x)
    compare_raises(lambda lib, x, t: F(lib).kl_div(x, t, reduction="sum"), arrays((3,)), arrays((4,)))
    with pytest.warns(UserWarning, match="batchmean"):
        CF.kl_div(convgrad.zeros(2), convgrad.ones(2))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_margin_ranking_loss(reduction):
    a, b = arrays((4, 3), seed=1), arrays((4, 3), seed=2)
    y = np.sign(arrays((4, 3), seed=3))
    fn = lambda lib, a, b, y: F(lib).margin_ranking_loss(a, b, y, margin=0.2, reduction=reduction)  # noqa: E731
    compare(fn, a, b, y, requires_grad=[True, True, False], noncontiguous=True)
    gradcheck(fn, a.astype(np.float64), b.astype(np.float64), y)
    compare_raises(fn, a, b, y[0])
