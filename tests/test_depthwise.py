"""The depthwise convolution kernel (groups = in = out channels, short output rows) against PyTorch:
forward, gradients of input, weight and bias, non-contiguous inputs, strides, padding, dilation,
conv1d and unbatched inputs; float64 gradient check; and that it is the path actually taken."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
from tests.conftest import examples
from tests.parity import compare, gradcheck
from tests.strategies import arrays


@st.composite
def depthwise_cases(draw):
    c = draw(st.integers(2, 6))
    k = draw(st.integers(1, 5))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    pad = draw(st.integers(0, 2))
    side = draw(st.integers(dilation * (k - 1) + 1, 9))
    return (draw(st.integers(1, 3)), c, side, draw(st.integers(1, 9)), k, stride, pad, dilation,
            draw(st.booleans()), draw(st.booleans()), draw(st.integers(0, 2**16)))


@settings(max_examples=examples(40))
@given(depthwise_cases())
def test_depthwise_conv2d_matches_torch(case):
    n, c, h, w, k, stride, pad, dilation, bias, noncontiguous, seed = case
    w = max(w, dilation * (k - 1) + 1 - 2 * pad)
    x = arrays((n, c, h, w), seed=seed)
    wt, b = arrays((c, 1, k, k), seed=seed + 1), arrays((c,), seed=seed + 2)
    compare(lambda lib, x, wt, b: lib.nn.functional.conv2d(x, wt, b if bias else None, stride, pad, dilation,
                                                           groups=c),
            x, wt, b, noncontiguous=noncontiguous, atol=1e-4)


def test_depthwise_conv1d_unbatched_and_rectangular():
    compare(lambda lib, x, w: lib.nn.functional.conv1d(x, w, None, 1, 1, groups=4), arrays((2, 4, 7)),
            arrays((4, 1, 3)))
    compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, None, (1, 2), (2, 0), groups=3),
            arrays((3, 5, 8)), arrays((3, 1, 3, 2)), atol=1e-5)


def test_depthwise_float64_gradcheck():
    gradcheck(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, 2, 1, groups=3),
              arrays((2, 3, 5, 5), np.float64), arrays((3, 1, 3, 3), np.float64, seed=1),
              arrays((3,), np.float64, seed=2))
    gradcheck(lambda lib, x, w: lib.nn.functional.conv2d(x, w, None, 1, 2, 2, groups=2),
              arrays((1, 2, 4, 3), np.float64), arrays((2, 1, 2, 3), np.float64, seed=3))


def test_depthwise_path_is_taken_only_where_it_wins():
    def node(x_shape, w_shape, groups, padding=1):
        y = convgrad.nn.functional.conv2d(convgrad.zeros(*x_shape, requires_grad=True),
                                          convgrad.zeros(*w_shape), padding=padding, groups=groups)
        return type(y.grad_fn).__name__ if not callable(getattr(y.grad_fn, "name", None)) \
            else y.grad_fn.name()

    assert "Depthwise" in node((2, 8, 8, 8), (8, 1, 3, 3), 8)
    assert "Depthwise" not in node((2, 8, 16, 16), (8, 1, 3, 3), 8)   # long rows: the GEMM path
    assert "Depthwise" not in node((2, 8, 8, 8), (16, 1, 3, 3), 8)    # channel multiplier 2
    assert "Depthwise" not in node((2, 8, 8, 8), (8, 2, 3, 3), 4)     # grouped, not depthwise
    assert convgrad.nn.functional.conv2d(convgrad.ones(1, 4, 4, 4, dtype=np.float32),
                                         convgrad.ones(4, 1, 3, 3), padding=1, groups=4).dtype == np.float32
