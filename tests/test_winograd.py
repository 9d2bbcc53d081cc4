"""Winograd F(2x2, 3x3) convolution against PyTorch with the algorithm forced (forward, input, weight and bias
gradients on random shapes: batch 1, odd sizes, padding 0-3, non-contiguous inputs), float64 gradcheck,
create_graph, the fall-back to im2col where Winograd does not apply, the backend switch, and a ResNet-20
loss curve equal with Winograd on and off."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
from convgrad.backends import convolution as conv_backend
from convgrad.functional import im2col, winograd
from tests.conftest import SLOW, examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays

F = convgrad.nn.functional


def _node(y):
    return type(y.grad_fn).__name__


@st.composite
def cases(draw):
    pad = draw(st.integers(0, 3))
    h, w = (draw(st.integers(max(1, 3 - 2 * pad), 11)) for _ in range(2))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6)), h, w, pad,
            draw(st.booleans()), draw(st.booleans()), draw(st.integers(0, 2**16)))


@settings(max_examples=examples(40))
@given(cases())
def test_winograd_conv2d_matches_torch(case):
    n, c, o, h, w, pad, bias, noncontiguous, seed = case
    x, wt, b = arrays((n, c, h, w), seed=seed), arrays((o, c, 3, 3), seed=seed + 1), \
        arrays((o,), seed=seed + 2)
    with conv_backend.flags(algorithm="winograd"):
        compare(lambda lib, x, wt, b: lib.nn.functional.conv2d(x, wt, b if bias else None, padding=pad),
                x, wt, b, noncontiguous=noncontiguous, atol=1e-4)
        assert _node(F.conv2d(convgrad.tensor(x), convgrad.tensor(wt, requires_grad=True), padding=pad)) \
            == "WinogradConv"


def test_winograd_larger_channels_padding_same_and_unbatched():
    with conv_backend.flags(algorithm="winograd"):
        compare(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1),
                arrays((1, 32, 9, 14)), arrays((24, 32, 3, 3)) * 0.2, arrays((24,)), atol=1e-4)
        compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding="same"),
                arrays((3, 7, 6)), arrays((5, 3, 3, 3)), atol=1e-4)
        compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=(2, 0)),
                arrays((2, 3, 4, 5)), arrays((4, 3, 3, 3)), atol=1e-4)


def test_winograd_float64_gradcheck():
    with conv_backend.flags(algorithm="winograd"):
        gradcheck(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1),
                  arrays((2, 3, 5, 4), np.float64), arrays((2, 3, 3, 3), np.float64, seed=1),
                  arrays((2,), np.float64, seed=2))
        gradcheck(lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=2),
                  arrays((1, 2, 3, 6), np.float64), arrays((3, 2, 3, 3), np.float64, seed=3))


def test_winograd_create_graph_matches_torch():
    """A gradient penalty (second derivative through the convolution), as with im2col."""
    def penalty(lib, x, w):
        y = lib.nn.functional.conv2d(x, w, padding=1)
        (gx,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        return (gx * gx).sum()

    with conv_backend.flags(algorithm="winograd"):
        compare(penalty, arrays((2, 3, 5, 5)), arrays((4, 3, 3, 3)), atol=1e-3, rtol=1e-3)


def test_winograd_keeps_float32_and_names_its_node_as_torch():
    with conv_backend.flags(algorithm="winograd"):
        x = convgrad.tensor(arrays((2, 3, 6, 6)), requires_grad=True)
        y = F.conv2d(x, convgrad.tensor(arrays((4, 3, 3, 3)), requires_grad=True), padding=1)
        assert y.dtype == np.float32 and _node(y) == "WinogradConv"
        assert y.grad_fn.name() == "ConvolutionBackward0"
        y.sum().backward()
        assert x.grad.dtype == np.float32


@pytest.mark.parametrize("kwargs, w_shape", [
    (dict(stride=2, padding=1), (4, 4, 3, 3)),
    (dict(dilation=2, padding=2), (4, 4, 3, 3)),
    (dict(groups=2, padding=1), (4, 2, 3, 3)),
    (dict(padding=2), (4, 4, 5, 5)),
    (dict(padding=1), (4, 4, 3, 1)),
])
def test_other_convolutions_fall_back_to_im2col(kwargs, w_shape):
    x, w = arrays((2, 4, 8, 8)), arrays(w_shape, seed=1)
    with conv_backend.flags(algorithm="winograd"):
        y = F.conv2d(convgrad.tensor(x, requires_grad=True), convgrad.tensor(w), **kwargs)
        assert _node(y) == "_Conv"
        compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, **kwargs), x, w, atol=1e-4)


def test_float16_and_forced_im2col_use_im2col():
    x, w = arrays((2, 4, 8, 8)), arrays((4, 4, 3, 3), seed=1)
    with conv_backend.flags(algorithm="winograd"):
        y = F.conv2d(convgrad.tensor(x.astype(np.float16), requires_grad=True),
                     convgrad.tensor(w.astype(np.float16)))
        assert _node(y) == "_Conv"
    with conv_backend.flags(algorithm="im2col"):
        assert _node(F.conv2d(convgrad.tensor(x, requires_grad=True), convgrad.tensor(w))) == "_Conv"


def test_auto_measures_once_per_shape_and_gives_the_same_result():
    x, w = arrays((2, 5, 9, 9)), arrays((6, 5, 3, 3), seed=1)
    geo_key = ((2, 5, 9, 9), (6, 5, 3, 3), ((1, 1), (1, 1)), np.dtype(np.float32).str)
    winograd._CHOICES.pop(geo_key, None)
    with conv_backend.flags(algorithm="auto"):
        y = F.conv2d(convgrad.tensor(x, requires_grad=True), convgrad.tensor(w), padding=1)
        assert geo_key in winograd._CHOICES
        expected = "WinogradConv" if winograd._CHOICES[geo_key] else "_Conv"
        assert _node(y) == expected
        compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1), x, w, atol=1e-4)


def test_bad_algorithm_is_a_clear_error():
    with pytest.raises(ValueError, match=r"convolution.flags: expected algorithm in .*got 'fast'"):
        with conv_backend.flags(algorithm="fast"):
            pass
    default = conv_backend.algorithm
    conv_backend.algorithm = "fast"
    try:
        with pytest.raises(ValueError, match=r"conv2d: expected convgrad.backends.convolution.algorithm .*"
                                             r"got 'fast'"):
            F.conv2d(convgrad.ones(1, 1, 4, 4), convgrad.ones(1, 1, 3, 3))
    finally:
        conv_backend.algorithm = default
    assert conv_backend.algorithm == "im2col"  # the default: deterministic, and faster where measured


def test_winograd_rejects_bad_input_like_torch():
    with conv_backend.flags(algorithm="winograd"):
        compare_raises(lambda lib, x, w: lib.nn.functional.conv2d(x, w), arrays((1, 3, 2, 2)),
                       arrays((2, 3, 3, 3)))


def test_onnx_export_of_a_winograd_convolution(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = convgrad.nn.Sequential(convgrad.nn.Conv2d(3, 4, 3, padding=1), convgrad.nn.ReLU())
    with conv_backend.flags(algorithm="winograd"):
        path = tmp_path / "m.onnx"
        convgrad.onnx.export(model, convgrad.tensor(arrays((1, 3, 6, 6))), str(path))
    assert [n.op_type for n in onnx.load(str(path)).graph.node][0] == "Conv"


def _resnet20_losses(algorithm, steps, batch=8):
    convgrad.manual_seed(0)
    model = convgrad.vision.models.resnet20(num_classes=10)
    opt = convgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = convgrad.tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    y = convgrad.tensor(rng.integers(0, 10, batch))
    losses = []
    with conv_backend.flags(algorithm=algorithm):
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return np.array(losses)


def test_resnet20_loss_curve_is_the_same_with_winograd_on_and_off():
    steps = 50 if SLOW else 8
    on, off = _resnet20_losses("winograd", steps), _resnet20_losses("im2col", steps)
    assert off[-1] < off[0]  # it trains: the comparison is between two curves that move
    # Training amplifies summation-order noise (measured: at step 6 Winograd and im2col differ by 0.5 % with
    # the engine on two worker threads, 0.1 % on one); a wrong gradient moves the curve by tens of percent.
    np.testing.assert_allclose(on, off, rtol=1e-2, atol=1e-4)


def test_winograd_in_many_chunks_matches_torch():
    """A block size below one sample's tiles: one sample per chunk, the weight gradient summed over chunks."""
    with conv_backend.flags(algorithm="winograd"), im2col.forced_paths(block_bytes=1):
        compare(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1),
                arrays((5, 3, 7, 6)), arrays((4, 3, 3, 3)), arrays((4,)), atol=1e-4)
        gradcheck(lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1),
                  arrays((3, 2, 4, 5), np.float64), arrays((2, 2, 3, 3), np.float64, seed=1))
