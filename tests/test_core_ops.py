"""Every core op against PyTorch (forward, gradients, shapes, dtypes), contiguous and not, with
broadcasting; and against float64 finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays, broadcast_pair, distinct, shapes

# name -> (fn(lib, x), input maker)
positive = dict(low=0.5, high=2.0)
UNARY = {
    "exp": (lambda L, x: x.exp(), {}),
    "log": (lambda L, x: x.log(), positive),
    "sqrt": (lambda L, x: x.sqrt(), positive),
    "abs": (lambda L, x: x.abs(), {}),
    "neg": (lambda L, x: -x, {}),
    "tanh": (lambda L, x: x.tanh(), {}),
    "sigmoid": (lambda L, x: x.sigmoid(), {}),
    "relu": (lambda L, x: x.relu(), {}),
    "sin": (lambda L, x: x.sin(), {}),
    "cos": (lambda L, x: x.cos(), {}),
    "clamp": (lambda L, x: x.clamp(-0.5, 0.7), {}),
    "clamp_min": (lambda L, x: x.clamp(min=-0.3), {}),
    "pow_scalar": (lambda L, x: x ** 3, {}),
    "pow_half": (lambda L, x: x ** 0.5, positive),
    "rpow": (lambda L, x: 2.0 ** x, {}),
    "rsub": (lambda L, x: 1.0 - x, {}),
    "rdiv": (lambda L, x: 1.0 / x, positive),
    "square": (lambda L, x: x.square(), {}),
}

BINARY = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: a - b,
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / (b.abs() + 0.5),
    "pow": lambda L, a, b: (a.abs() + 0.5) ** b,
    "maximum": lambda L, a, b: L.maximum(a, b),
    "minimum": lambda L, a, b: L.minimum(a, b),
    "where": lambda L, a, b: L.where(a > 0, a, b),
}

REDUCTIONS = {
    "sum_all": lambda L, x, d: x.sum(),
    "sum_dim": lambda L, x, d: x.sum(d),
    "sum_keep": lambda L, x, d: x.sum(d, keepdim=True),
    "sum_tuple": lambda L, x, d: x.sum((0, d)) if d % x.ndim != 0 else x.sum((0,)),
    "mean_all": lambda L, x, d: x.mean(),
    "mean_dim": lambda L, x, d: x.mean(d, keepdim=True),
    "max_all": lambda L, x, d: x.max(),
    "max_dim": lambda L, x, d: x.max(d),
    "min_dim_keep": lambda L, x, d: x.min(d, keepdim=True),
    "amax": lambda L, x, d: x.amax(d),
    "amin": lambda L, x, d: x.amin((0, d)) if d % x.ndim != 0 else x.amin(0),
    "argmax": lambda L, x, d: x.argmax(d),
    "argmin": lambda L, x, d: x.argmin(),
    "var": lambda L, x, d: x.var(d),
    "var_biased": lambda L, x, d: x.var(d, unbiased=False, keepdim=True),
    "std_all": lambda L, x, d: x.std(),
    "logsumexp": lambda L, x, d: x.logsumexp(d),
    "prod": lambda L, x, d: x.prod(d),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=examples(6))
@given(shape=shapes(1, 4, 1, 5), nc=st.booleans())
def test_unary_parity(name, shape, nc):
    fn, kw = UNARY[name]
    compare(fn, arrays(shape, **kw), noncontiguous=nc)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name):
    fn, kw = UNARY[name]
    gradcheck(fn, arrays((2, 3), np.float64, seed=1, **kw))


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=examples(8))
@given(pair=broadcast_pair(), nc=st.booleans())
def test_binary_broadcast_parity(name, pair, nc):
    sa, sb = pair
    compare(BINARY[name], distinct(sa, seed=1), distinct(sb, seed=2), noncontiguous=nc)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name):
    gradcheck(BINARY[name], distinct((3, 4), np.float64, 1), distinct((1, 4), np.float64, 2))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@settings(max_examples=examples(6))
@given(shape=shapes(2, 4, 1, 5), d=st.integers(-2, 1), nc=st.booleans())
def test_reduction_parity(name, shape, d, nc):
    compare(REDUCTIONS[name], distinct(shape, seed=3), d, noncontiguous=nc)


@pytest.mark.parametrize("name", sorted(set(REDUCTIONS) - {"argmax", "argmin"}))
def test_reduction_gradcheck(name):
    gradcheck(REDUCTIONS[name], distinct((3, 4), np.float64, seed=4), 1)


def test_amax_ties_share_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32)
    compare(lambda L, x: x.amax(1), x)
    compare(lambda L, x: x.max(), x)


SHAPES = {
    "reshape": lambda L, x: x.reshape(x.shape[0], -1),
    "view_flat": lambda L, x: x.contiguous().view(-1),
    "flatten": lambda L, x: x.flatten(1),
    "permute": lambda L, x: x.permute(*reversed(range(x.ndim))),
    "transpose": lambda L, x: x.transpose(0, -1),
    "squeeze": lambda L, x: x.unsqueeze(1).squeeze(1),
    "unsqueeze": lambda L, x: x.unsqueeze(-1) * x.unsqueeze(-1),
    "expand": lambda L, x: x[:1].expand(3, *x.shape[1:]),
    "contiguous": lambda L, x: x.transpose(0, 1).contiguous(),
    "cat": lambda L, x: L.cat([x, x * 2, x[:1]], 0),
    "stack": lambda L, x: L.stack([x, x.exp()], 1),
    "split": lambda L, x: x.split(1, 0),
    "chunk": lambda L, x: x.chunk(2, -1),
    "split_sizes": lambda L, x: L.split(x, [1, x.shape[0] - 1], 0) if x.shape[0] > 1 else (x,),
    "getitem_basic": lambda L, x: x[1:, ..., ::2],
    "getitem_int": lambda L, x: x[-1],
    "getitem_array": lambda L, x: x[[0, 1, 0]],
    "getitem_bool": lambda L, x: x[x > 0],
    "gather": lambda L, x: x.gather(1, L.zeros((x.shape[0], 2) + x.shape[2:], dtype=L.int64)),
    "repeat": lambda L, x: x.repeat(2, 1, 1),
    "flip": lambda L, x: x.flip(0, 1),
    "matmul_2d": lambda L, x: x.flatten(1) @ x.flatten(1).T,
    "matmul_batched": lambda L, x: x @ x.transpose(-1, -2),
    "matmul_vec": lambda L, x: x @ x[0, 0],
    "vec_matmul": lambda L, x: x[0, 0] @ x[0].transpose(0, 1),
    "unbind": lambda L, x: x.unbind(1),
    "masked_fill": lambda L, x: x.masked_fill(x > 0.5, 0.0),
    "topk": lambda L, x: x.topk(2, dim=-1),
    "index_select": lambda L, x: x.index_select(1, L.tensor([1, 0, 1])),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
@settings(max_examples=examples(4))
@given(shape=shapes(3, 3, 2, 4), nc=st.booleans())
def test_shape_op_parity(name, shape, nc):
    compare(SHAPES[name], distinct(shape, seed=5), noncontiguous=nc)


@pytest.mark.parametrize("name", sorted(set(SHAPES) - {"getitem_bool", "topk"}))
def test_shape_op_gradcheck(name):
    gradcheck(SHAPES[name], distinct((2, 3, 3), np.float64, seed=6))


def test_setitem_and_inplace_on_nonleaf_parity():
    def fn(L, x, v):
        y = x * 1.0
        y[0] = v
        y.mul_(2).add_(1)
        return y.exp()

    compare(fn, arrays((3, 4)), arrays((4,), seed=1))


def test_integer_and_bool_dtypes():
    def fn(L, x):
        i = L.arange(6).reshape(2, 3)
        return (i * 2 + 1, (i > 2), i.sum(), i.float().mean(), i / 2, (i + 0.5), i.argmax(1))

    compare(fn, arrays((1,)), grad=False)


def test_dtype_promotion_matches_torch():
    def fn(L, a, b):
        return (a + b, a * 2.5, a + b.double(), b + 1)

    compare(fn, arrays((2, 3)), arrays((3,)), grad=False)


# ---- bad input: both libraries reject it, convgrad in its own words ----
@pytest.mark.parametrize("case", [
    ("broadcast", lambda L, a, b: a + b, (2, 3), (4, 3)),
    ("matmul", lambda L, a, b: a @ b, (2, 3), (2, 3)),
    ("matmul_batch", lambda L, a, b: a @ b, (2, 2, 3), (3, 3, 2)),
    ("reshape", lambda L, a, b: a.reshape(4, 4), (2, 3), (1,)),
    ("index", lambda L, a, b: a[5], (2, 3), (1,)),
    ("index_array", lambda L, a, b: a[L.tensor([0, 7])], (2, 3), (1,)),
    ("dim", lambda L, a, b: a.sum(3), (2, 3), (1,)),
    ("cat", lambda L, a, b: L.cat([a, b], 0), (2, 3), (2, 4)),
    ("stack", lambda L, a, b: L.stack([a, b]), (2, 3), (3, 2)),
    ("expand", lambda L, a, b: a.expand(4, 4), (2, 3), (1,)),
    ("permute", lambda L, a, b: a.permute(0, 0), (2, 3), (1,)),
    ("item", lambda L, a, b: a.item(), (2, 3), (1,)),
    ("maximum", lambda L, a, b: L.maximum(a, b), (2, 3), (4, 3)),
], ids=lambda c: c[0])
def test_errors_match_torch(case):
    _, fn, sa, sb = case
    compare_raises(fn, arrays(sa), arrays(sb))


def test_error_messages_say_expected_and_got():
    import convgrad

    a, b = convgrad.ones(2, 3), convgrad.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"\(2, 3\) and \(4, 3\)"):
        a + b
    with pytest.raises(RuntimeError, match="2x3 and 2x3"):
        a @ convgrad.ones(2, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        a[5]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8, np.bool_])
@settings(max_examples=examples(10))
@given(shape=shapes(0, 3, 1, 6), seed=st.integers(0, 100))
def test_branch_free_select_equals_np_where(dtype, shape, seed):
    from convgrad.ops.elementwise import keep_where, select

    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shape) * 5).astype(dtype)
    b = (rng.standard_normal(shape) * 5).astype(dtype)
    if np.dtype(dtype).kind == "f" and a.size:
        a.reshape(-1)[0], b.reshape(-1)[-1] = np.inf, np.nan
    mask = rng.random(shape) > 0.5
    np.testing.assert_array_equal(keep_where(mask, a), np.where(mask, a, 0).astype(dtype))
    np.testing.assert_array_equal(select(mask, a, b, dtype), np.where(mask, a, b))
    np.testing.assert_array_equal(select(mask, a, 7, dtype), np.where(mask, a, dtype(7)))
