"""The Tensor methods and torch.* functions a CNN course reaches for beyond the core ops (math near zero,
fused products, running products, medians, scatter and index writes, masks, matrix parts, counting,
einsum), each against PyTorch: values, dtypes, gradients, contiguous and not; plus float64 gradchecks."""

import numpy as np
import pytest
import torch

import convgrad
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays, distinct

R = np.random.default_rng(0)


def u(shape, low=-2.0, high=2.0, seed=0):
    return arrays(shape, low=low, high=high, seed=seed)


def idx(*a):
    return np.array(*a, dtype=np.int64)


# name -> (fn(lib, *inputs), inputs, compare keyword arguments)
CASES = {
    # elementwise
    "log2": (lambda L, x: x.log2(), [u((3, 4), 0.1, 3)], {}),
    "log10": (lambda L, x: L.log10(x), [u((3, 4), 0.1, 3)], {}),
    "log1p": (lambda L, x: x.log1p(), [u((3, 4), -0.9, 3)], {}),
    "log1p_tiny": (lambda L, x: L.log1p(x), [np.array([1e-9, -3e-8, 1e-30], np.float32)], {"rtol": 1e-6}),
    "expm1": (lambda L, x: x.expm1(), [u((3, 4))], {}),
    "expm1_tiny": (lambda L, x: L.expm1(x), [np.array([1e-9, -3e-8], np.float32)], {"rtol": 1e-6}),
    "exp2": (lambda L, x: x.exp2(), [u((5,))], {}),
    "tan": (lambda L, x: x.tan(), [u((3, 4), -1.2, 1.2)], {}),
    "asin": (lambda L, x: L.asin(x), [u((3, 4), -0.9, 0.9)], {}),
    "acos": (lambda L, x: x.acos(), [u((3, 4), -0.9, 0.9)], {}),
    "atan": (lambda L, x: L.atan(x), [u((3, 4))], {}),
    "sinh": (lambda L, x: x.sinh(), [u((3, 4))], {}),
    "cosh": (lambda L, x: L.cosh(x), [u((3, 4))], {}),
    "frac": (lambda L, x: x.frac(), [u((3, 4), -5, 5)], {}),
    "trunc": (lambda L, x: L.trunc(x), [u((3, 4), -5, 5)], {"grad": False}),
    "negative": (lambda L, x: L.negative(x), [u((3,))], {}),
    "remainder": (lambda L, x, y: x.remainder(y), [u((3, 4), -5, 5), u((4,), 0.7, 1.9, 1)], {}),
    "remainder_neg": (lambda L, x, y: L.remainder(x, y), [u((3, 4), -5, 5), -u((4,), 0.7, 1.9, 1)], {}),
    "remainder_scalar": (lambda L, x: x % 1.5, [u((6,), -5, 5)], {}),
    "fmod": (lambda L, x, y: L.fmod(x, y), [u((3, 4), -5, 5), u((4,), 0.7, 1.9, 1)], {}),
    "floor_divide": (lambda L, x: L.floor_divide(x, 0.7), [u((3, 4), -5, 5)], {"grad": False}),
    "rfloordiv": (lambda L, x: 7 // x, [idx([[1, 2], [3, -4]])], {}),
    "lerp_scalar": (lambda L, a, b: a.lerp(b, 0.3), [u((3, 4)), u((3, 4), seed=1)], {}),
    "lerp_tensor": (lambda L, a, b, w: L.lerp(a, b, w), [u((3, 4)), u((4,), seed=1), u((3, 1), 0, 1, 2)], {}),
    # fused products
    "addmm": (lambda L, c, a, b: L.addmm(c, a, b), [u((4,)), u((3, 5), seed=1), u((5, 4), seed=2)], {}),
    "addmm_scaled": (
        lambda L, c, a, b: c.addmm(a, b, beta=0.5, alpha=2.0),
        [u((3, 4)), u((3, 5), seed=1), u((5, 4), seed=2)],
        {},
    ),
    "addmm_beta0": (
        lambda L, c, a, b: L.addmm(c, a, b, beta=0),  # NaN in input does not reach the output
        [np.full((3, 4), np.nan, np.float32), u((3, 5), seed=1), u((5, 4), seed=2)],
        {"requires_grad": [False, True, True]},
    ),
    "addmv": (
        lambda L, c, a, b: L.addmv(c, a, b, alpha=3),
        [u((3,)), u((3, 5), seed=1), u((5,), seed=2)],
        {},
    ),
    "baddbmm": (
        lambda L, c, a, b: L.baddbmm(c, a, b, beta=2),
        [u((1, 3, 4)), u((2, 3, 5), seed=1), u((2, 5, 4), seed=2)],
        {},
    ),
    "addbmm": (
        lambda L, c, a, b: L.addbmm(c, a, b),
        [u((3, 4)), u((2, 3, 5), seed=1), u((2, 5, 4), seed=2)],
        {},
    ),
    "addcmul": (
        lambda L, c, a, b: L.addcmul(c, a, b, value=0.5),
        [u((3, 4)), u((3, 4), seed=1), u((4,), seed=2)],
        {},
    ),
    "addcdiv": (
        lambda L, c, a, b: c.addcdiv(a, b, value=-2),
        [u((3, 4)), u((3, 4), seed=1), u((4,), 0.5, 2, 2)],
        {},
    ),
    "mv": (lambda L, a, b: L.mv(a, b), [u((3, 5)), u((5,), seed=1)], {}),
    "outer": (lambda L, a, b: L.outer(a, b), [u((3,)), u((5,), seed=1)], {}),
    "dot": (lambda L, a, b: L.dot(a, b), [u((5,)), u((5,), seed=1)], {}),
    "mm": (lambda L, a, b: L.mm(a, b), [u((3, 5)), u((5, 2), seed=1)], {}),
    "bmm": (lambda L, a, b: L.bmm(a, b), [u((2, 3, 5)), u((2, 5, 2), seed=1)], {}),
    # running sums and products, NaN-free reductions, order statistics
    "cumsum": (lambda L, x: x.cumsum(1), [u((3, 4, 2))], {}),
    "cumsum_int": (lambda L, x: L.cumsum(x, 0), [idx([[1, 2], [3, 4]])], {}),
    "cumprod": (lambda L, x: x.cumprod(-1), [u((3, 5), 0.5, 1.5)], {}),
    "cumprod_zeros": (
        lambda L, x: L.cumprod(x, 1),
        [np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 2.0, 0.0, 3.0]], np.float32)],
        {},
    ),
    "nansum": (lambda L, x: x.nansum(), [np.array([[1.0, np.nan], [2.5, 3.0]], np.float32)], {}),
    "nansum_dim": (lambda L, x: L.nansum(x, 1), [np.array([[1.0, np.nan], [2.5, 3.0]], np.float32)], {}),
    "nanmean": (lambda L, x: x.nanmean(0), [np.array([[1.0, np.nan], [2.5, 3.0]], np.float32)], {}),
    "median": (lambda L, x: x.median(), [distinct((4, 5))], {}),
    "median_dim": (lambda L, x: L.median(x, 1), [distinct((4, 6))], {}),
    "median_keepdim": (lambda L, x: x.median(0, keepdim=True), [distinct((5, 3))], {}),
    "kthvalue": (lambda L, x: L.kthvalue(x, 2, 0), [distinct((4, 3))], {}),
    "aminmax": (lambda L, x: L.aminmax(x, dim=1), [distinct((3, 4))], {}),
    "aminmax_all": (lambda L, x: x.aminmax(), [distinct((3, 4))], {}),
    "std_mean": (lambda L, x: L.std_mean(x, 1), [u((3, 4))], {}),
    "var_mean": (lambda L, x: L.var_mean(x, 0, keepdim=True), [u((3, 4))], {}),
    "diff": (lambda L, x: x.diff(), [u((3, 5))], {}),
    "diff_n2_dim0": (lambda L, x: L.diff(x, 2, 0), [u((5, 3))], {}),
    "diff_prepend": (lambda L, x, p: L.diff(x, dim=1, prepend=p), [u((3, 4)), u((3, 2), seed=1)], {}),
    "count_nonzero": (lambda L, x: L.count_nonzero(x, 0), [idx([[0, 1, 2], [0, 0, 3]])], {}),
    # comparisons and logic
    "isclose": (lambda L, a, b: L.isclose(a, b, rtol=0.1), [u((3, 4)), u((3, 4), seed=1)], {}),
    "logical_and": (lambda L, a, b: (a > 0).logical_and(b > 0), [u((3, 4)), u((4,), seed=1)], {}),
    "logical_or": (lambda L, a, b: L.logical_or(a > 0, b > 0), [u((3, 4)), u((4,), seed=1)], {}),
    "logical_xor": (lambda L, a, b: L.logical_xor(a > 0, b > 0), [u((3, 4)), u((4,), seed=1)], {}),
    "greater": (lambda L, a, b: L.greater(a, b), [u((3, 4)), u((4,), seed=1)], {}),
    # masks, flat indices, scatter and index writes
    "masked_select": (lambda L, x, y: x.masked_select(y > 0), [u((3, 4)), u((4,), seed=1)], {}),
    "masked_select_fn": (lambda L, x, y: L.masked_select(x, y > 0.5), [u((3, 4)), u((3, 4), seed=1)], {}),
    "take": (lambda L, x, i: L.take(x, i), [u((3, 4)), idx([[0, 5], [11, -1]])], {}),
    "nonzero": (lambda L, x: L.nonzero(x), [idx([[0, 1, 2], [0, 0, 3]])], {}),
    "nonzero_tuple": (lambda L, x: x.nonzero(as_tuple=True), [idx([[0, 1, 2], [0, 0, 3]])], {}),
    "scatter": (
        lambda L, x, i, s: x.scatter(1, i, s),
        [u((3, 5)), idx([[0, 4], [1, 2], [3, 0]]), u((3, 2), seed=1)],
        {},
    ),
    "scatter_small_index": (
        lambda L, x, i, s: x.scatter(1, i, s),
        [u((3, 5)), idx([[0, 4], [1, 2]]), u((3, 3), seed=1)],
        {"grad": False},
    ),
    "scatter_value": (lambda L, x, i: L.scatter(x, 0, i, 7.5), [u((3, 4)), idx([[2, 0, 1, 2]])], {}),
    "scatter_add": (
        lambda L, x, i, s: L.scatter_add(x, 0, i, s),
        [u((3, 4)), idx([[2, 0, 2, 2], [1, 1, 0, 2]]), u((2, 4), seed=1)],
        {},
    ),
    "scatter_reduce_add": (
        lambda L, x, i, s: x.scatter(1, i, s, reduce="add"),  # no derivative in torch
        [u((2, 4)), idx([[0, 0, 3], [1, 2, 1]]), u((2, 3), seed=1)],
        {"grad": False},
    ),
    "one_hot_scatter_": (lambda L, i: L.zeros(4, 5).scatter_(1, i, 1.0), [idx([[1], [4], [0], [1]])], {}),
    "index_add": (
        lambda L, x, i, s: x.index_add(0, i, s, alpha=2),
        [u((4, 3)), idx([0, 3, 0]), u((3, 3), seed=1)],
        {},
    ),
    "index_copy": (lambda L, x, i, s: x.index_copy(1, i, s), [u((3, 4)), idx([3, 0]), u((3, 2), seed=1)], {}),
    "index_fill": (lambda L, x, i: x.index_fill(1, i, -1.0), [u((3, 4)), idx([3, 0])], {}),
    "index_select_fn": (lambda L, x, i: L.index_select(x, 1, i), [u((3, 4)), idx([3, 0, 3])], {}),
    "gather_fn": (lambda L, x, i: L.gather(x, 1, i), [u((3, 4)), idx([[3, 0], [1, 1], [2, 0]])], {}),
    # rearranging
    "narrow": (lambda L, x: x.narrow(1, 1, 2), [u((3, 4))], {}),
    "narrow_neg": (lambda L, x: L.narrow(x, 0, -2, 2), [u((3, 4))], {}),
    "roll": (lambda L, x: x.roll(1), [u((3, 4))], {}),
    "roll_dims": (lambda L, x: L.roll(x, (2, -1), (0, 2)), [u((3, 2, 4))], {}),
    "movedim": (lambda L, x: x.movedim(0, -1), [u((2, 3, 4))], {}),
    "movedim_many": (lambda L, x: L.movedim(x, (0, 1), (2, 0)), [u((2, 3, 4))], {}),
    "moveaxis": (lambda L, x: L.moveaxis(x, 2, 0), [u((2, 3, 4))], {}),
    "swapaxes": (lambda L, x: L.swapaxes(x, 0, 2), [u((2, 3, 4))], {}),
    "tile": (lambda L, x: x.tile((2, 1, 3)), [u((2, 3))], {}),
    "repeat_interleave": (lambda L, x: x.repeat_interleave(2), [u((2, 3))], {}),
    "repeat_interleave_dim": (
        lambda L, x, r: L.repeat_interleave(x, r, dim=1),
        [u((2, 3)), idx([1, 0, 3])],
        {},
    ),
    "broadcast_to": (lambda L, x: L.broadcast_to(x, (2, 3, 4)), [u((3, 1))], {}),
    "broadcast_tensors": (lambda L, a, b: L.broadcast_tensors(a, b), [u((3, 1)), u((4,), seed=1)], {}),
    "meshgrid_ij": (lambda L, a, b: L.meshgrid(a, b, indexing="ij"), [u((3,)), u((4,), seed=1)], {}),
    "meshgrid_xy": (lambda L, a, b: L.meshgrid(a, b, indexing="xy"), [u((3,)), u((4,), seed=1)], {}),
    "hstack": (lambda L, a, b: L.hstack([a, b]), [u((3, 2)), u((3, 4), seed=1)], {}),
    "hstack_1d": (lambda L, a, b: L.hstack((a, b)), [u((3,)), u((4,), seed=1)], {}),
    "vstack": (lambda L, a, b: L.vstack([a, b]), [u((3,)), u((2, 3), seed=1)], {}),
    "dstack": (lambda L, a, b: L.dstack([a, b]), [u((3, 2)), u((3, 2), seed=1)], {}),
    # matrix parts
    "diagonal": (lambda L, x: x.diagonal(), [u((3, 4))], {}),
    "diagonal_offset": (lambda L, x: L.diagonal(x, -1, 2, 0), [u((3, 2, 4))], {}),
    "diag_2d": (lambda L, x: L.diag(x, 1), [u((3, 4))], {}),
    "diag_1d": (lambda L, x: L.diag(x), [u((3,))], {}),
    "diag_1d_offset": (lambda L, x: x.diag(-2), [u((3,))], {}),
    "trace": (lambda L, x: L.trace(x), [u((3, 4))], {}),
    "tril": (lambda L, x: x.tril(), [u((2, 3, 4))], {}),
    "tril_k": (lambda L, x: L.tril(x, -1), [u((4, 3))], {}),
    "triu": (lambda L, x: L.triu(x, 1), [u((3, 4))], {}),
    "triu_int": (lambda L, x: x.triu(), [idx([[1, 2], [3, 4]])], {}),
    # einsum
    "einsum_mm": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [u((3, 4)), u((4, 2), seed=1)], {}),
    "einsum_bmm": (lambda L, a, b: L.einsum("bij,bjk->bik", a, b), [u((2, 3, 4)), u((2, 4, 5), seed=1)], {}),
    "einsum_implicit": (lambda L, a, b: L.einsum("ij,kj", a, b), [u((3, 4)), u((2, 4), seed=1)], {}),
    "einsum_sum_away": (lambda L, a, b: L.einsum("ij,k->j", a, b), [u((3, 4)), u((5,), seed=1)], {}),
    "einsum_list": (
        lambda L, a, b, c: L.einsum("i,j,k->ijk", [a, b, c]),
        [u((2,)), u((3,), seed=1), u((4,), seed=2)],
        {},
    ),
    "einsum_transpose": (lambda L, a: L.einsum("nchw->nhwc", a), [u((2, 3, 2, 2))], {}),
}


@pytest.mark.parametrize("nc", [False, True])
@pytest.mark.parametrize("name", list(CASES))
def test_parity(name, nc):
    fn, inputs, kw = CASES[name]
    compare(fn, *inputs, noncontiguous=nc, **kw)


GRADCHECK = [
    "log1p",
    "expm1",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "remainder",
    "fmod",
    "lerp_tensor",
    "addmm",
    "baddbmm",
    "addcdiv",
    "cumsum",
    "cumprod",
    "cumprod_zeros",
    "median_dim",
    "diff_prepend",
    "masked_select",
    "take",
    "scatter",
    "scatter_add",
    "index_add",
    "index_copy",
    "roll_dims",
    "tile",
    "diagonal_offset",
    "diag_1d_offset",
    "tril",
    "einsum_bmm",
    "einsum_sum_away",
    "einsum_list",
]


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradcheck(name):
    fn, inputs, _ = CASES[name]
    assert gradcheck(fn, *inputs)


def test_counting_matches_torch():
    x = idx([3, 1, 1, 0, 7, 3, 3])
    w = u((7,))
    for fn in (
        lambda L, t: L.bincount(t),
        lambda L, t: t.bincount(minlength=10),
        lambda L, t: L.bincount(t, weights=L.tensor(w)),
        lambda L, t: L.unique(t),
        lambda L, t: t.unique(return_counts=True),
        lambda L, t: L.unique(t, return_inverse=True),
        lambda L, t: L.unique(t.reshape(1, 7), return_inverse=True, return_counts=True),
    ):
        compare(fn, x, grad=False)
    rows = idx([[1, 2], [0, 5], [1, 2]])
    compare(lambda L, t: L.unique(t, dim=0, return_inverse=True), rows, grad=False)
    for fn in (lambda L, t: L.histc(t, bins=4), lambda L, t: t.histc(5, min=-1, max=1)):
        compare(fn, u((50,), seed=3), grad=False)


def test_searchsorted_and_bucketize_match_torch():
    seq = np.array([0.1, 0.5, 0.5, 2.0], np.float32)
    vals = np.array([[0.0, 0.5, 3.0], [0.3, 2.0, 0.1]], np.float32)
    for right in (False, True):
        compare(lambda L, s, v, r=right: L.searchsorted(s, v, right=r), seq, vals, grad=False)
        compare(lambda L, v, s, r=right: L.bucketize(v, s, right=r), vals, seq, grad=False)
    seq2 = np.sort(u((2, 5)), axis=1)
    compare(lambda L, s, v: L.searchsorted(s, v), seq2, vals, grad=False)


def test_inplace_variants_match_torch():
    def run(L, x, i, s):
        y = x * 1
        y.masked_fill_(y > 0.5, 0.0).clip_(-1, 1).addcmul_(s, s, value=0.5)
        y.index_add_(0, i, s).scatter_(1, i.reshape(3, 1).expand(3, 2), s[:, :2] * 1)
        y.log1p_().abs_().lerp_(s, 0.25).unsqueeze_(0).squeeze_(0).t_().transpose_(0, 1).t_()
        return y.sigmoid_()

    compare(run, u((3, 3)), idx([2, 0, 1]), u((3, 3), 0, 1, seed=1))


@pytest.mark.parametrize(
    "op",
    [
        "log_",
        "log1p_",
        "expm1_",
        "abs_",
        "sigmoid_",
        "tanh_",
        "sin_",
        "cos_",
        "reciprocal_",
        "square_",
        "floor_",
        "ceil_",
        "round_",
        "trunc_",
        "sign_",
    ],
)
def test_unary_inplace_match_torch(op):
    compare(
        lambda L, x: getattr(x * 1, op)(),
        u((3, 4), 0.2, 2.0),
        grad=op not in ("floor_", "ceil_", "round_", "trunc_", "sign_"),
    )


def test_new_factories_follow_the_tensor():
    for dt in (np.float32, np.float64, np.int64):
        for make in (
            lambda L, t: t.new_zeros(2, 3),
            lambda L, t: t.new_ones((2,)),
            lambda L, t: t.new_full((2, 2), 3),
            lambda L, t: t.new_empty(0, 4),
            lambda L, t: t.new_tensor([[1, 2]]),
            lambda L, t: t.new_tensor([1.5], dtype=L.float16),
            lambda L, t: t.new_zeros(3, dtype=L.int32),
        ):
            c = make(convgrad, convgrad.tensor(np.ones(2, dt)))
            t = make(torch, torch.tensor(np.ones(2, dt)))
            assert tuple(c.shape) == tuple(t.shape) and str(c.dtype) == str(t.dtype).replace("torch.", "")
            if c.numel() and "empty" not in repr(make):
                np.testing.assert_array_equal(c._data, t.numpy())
    x = convgrad.ones(2, requires_grad=True)
    y = x.new_tensor([1.0, 2.0], requires_grad=True)
    assert y.requires_grad and y.is_leaf and not x.new_zeros(2).requires_grad
    src = convgrad.tensor([1.0, 2.0])
    assert x.new_tensor(src)._data is not src._data  # a copy, as PyTorch
    with pytest.raises(RuntimeError, match="new_zeros: expected device 'cpu', got 'cuda'"):
        x.new_zeros(2, device="cuda")
    assert convgrad.ones(2).byte().dtype == convgrad.uint8 and convgrad.ones(2).short().dtype == np.int16


def test_random_fills():
    convgrad.manual_seed(0)
    x = convgrad.empty(20000)
    assert abs(x.exponential_(2.0).mean().item() - 0.5) < 0.02
    r = convgrad.empty(1000).random_(3, 7)
    assert set(np.unique(r._data)) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(convgrad.zeros(500, dtype=convgrad.int64).random_(2)._data)) == {0, 1}
    assert (convgrad.empty(100).geometric_(0.5) >= 1).all()
    assert (convgrad.empty(100).log_normal_() > 0).all()
    assert convgrad.empty(10).cauchy_().shape == (10,)


def test_fill_diagonal_resize_and_contains():
    for fn in (
        lambda L, x: x.clone().fill_diagonal_(5.0),
        lambda L, x: x.clone().fill_diagonal_(-1.0, wrap=True),
    ):
        compare(fn, u((7, 3)), grad=False)
    compare(lambda L, x: (x * 1).fill_diagonal_(0.0), u((3, 3)))
    x = convgrad.ones(2, 3)
    assert x.resize_(3, 2).shape == (3, 2) and x.resize_(0).numel() == 0
    t = convgrad.tensor([1, 2, 3])
    assert (2 in t) and (5 not in t) and (convgrad.tensor(3) in t)


def test_errors_match_torch():
    cases = [
        (lambda L, x: L.mm(x, x), u((2, 3, 3))),
        (lambda L, x: L.bmm(x, x), u((3, 3))),
        (lambda L, x: L.mv(x, x), u((3, 3))),
        (lambda L, x: L.outer(x, x), u((2, 3))),
        (lambda L, x: x.narrow(1, 2, 3), u((2, 3))),
        (lambda L, x: x.diag(), u((2, 3, 4))),
        (lambda L, x: x.tril(), u((3,))),
        (lambda L, x: x.kthvalue(5, 0), u((3,))),
        (lambda L, x: x.scatter(0, L.tensor([[5]]), 1.0), u((3, 3))),
        (lambda L, x: x.index_add(0, L.tensor([0]), L.ones(2, 2)), u((3, 3))),
        (lambda L, x: x.masked_select(x), u((3,))),
        (lambda L, x: x.bincount(), idx([-1, 2])),
        (lambda L, x: L.einsum("ij,jk->ik", x, x), u((2, 3))),
        (lambda L, x: L.addmm(x, x, x), u((2, 3))),
        (lambda L, x: x.roll((1, 2), (0,)), u((2, 3))),
    ]
    for fn, x in cases:
        compare_raises(fn, x)


def test_torch_functions_refuse_numpy_arrays_as_torch():
    a = u((2, 3))
    calls = (lambda L: L.sum(a), lambda L: L.add(a, 1), lambda L: L.argmax(a), lambda L: L.exp(a),
             lambda L: L.cat([a, a]), lambda L: L.matmul(a, a.T), lambda L: L.max(a, 1))
    for call in calls:
        with pytest.raises(TypeError):
            call(torch)
        want = r"^\w+: expected (input|tensors\[0\]) to be a Tensor, got ndarray$"
        with pytest.raises(TypeError, match=want):
            call(convgrad)


def test_cifar10_tutorial_accuracy_idiom():
    # the tutorial: outputs = net(images); _, predicted = torch.max(outputs.data, 1);
    # correct += (predicted == labels).sum().item()
    logits = distinct((8, 10))
    labels = idx([3, 1, 4, 1, 5, 9, 2, 6])
    results = {}
    for L in (convgrad, torch):
        outputs = L.tensor(logits, requires_grad=True) * 1
        _, predicted = L.max(outputs.data, 1)
        correct = (predicted == L.tensor(labels)).sum().item()
        total = L.tensor(labels).size(0)
        results[L.__name__] = (predicted.tolist(), correct, total, type(correct), outputs.data.requires_grad)
    assert results["convgrad"] == results["torch"]


def test_dtype_helpers_match_torch():
    pairs = [
        (np.int64, np.float32),
        (np.int32, np.int64),
        (np.bool_, np.int8),
        (np.float16, np.float64),
        (np.uint8, np.int8),
        (np.bool_, np.float32),
    ]
    for a, b in pairs:
        ta, tb = (getattr(torch, np.dtype(d).name if d is not np.bool_ else "bool") for d in (a, b))
        assert str(convgrad.promote_types(a, b)) == str(torch.promote_types(ta, tb)).replace("torch.", "")
        assert convgrad.can_cast(a, b) == torch.can_cast(ta, tb)
        assert convgrad.can_cast(b, a) == torch.can_cast(tb, ta)
    for d in ("float32", "float64", "float16"):
        cf, tf = convgrad.finfo(getattr(convgrad, d)), torch.finfo(getattr(torch, d))
        assert (cf.eps, cf.max, cf.tiny, cf.bits) == (tf.eps, tf.max, tf.tiny, tf.bits)
    assert convgrad.iinfo(convgrad.int64).max == torch.iinfo(torch.int64).max
    assert convgrad.finfo().eps == torch.finfo().eps
    for L_args in (
        (lambda L: (L.ones(2, dtype=L.int64), 2.5)),
        (lambda L: (L.ones(2), L.ones(2, dtype=L.float64))),
        (lambda L: (L.ones(2, dtype=L.int32), L.tensor(5))),
    ):
        c, t = convgrad.result_type(*L_args(convgrad)), torch.result_type(*L_args(torch))
        assert str(c) == str(t).replace("torch.", "")
    compare(lambda L: L.logspace(-2, 2, 5), grad=False)
    compare(lambda L: L.logspace(0, 3, 4, base=2), grad=False)
    assert convgrad.is_nonzero(convgrad.tensor([1.5])) and not convgrad.is_nonzero(convgrad.tensor(0))
    assert not convgrad.is_complex(convgrad.ones(1))
    r = convgrad.randint_like(convgrad.zeros(3, 4, dtype=convgrad.int32), 5)
    assert r.shape == (3, 4) and r.dtype == convgrad.int32 and (r < 5).all() and (r >= 0).all()
