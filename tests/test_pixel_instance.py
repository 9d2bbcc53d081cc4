"""PixelShuffle / PixelUnshuffle and the InstanceNorm layers against PyTorch: forward values, gradients,
non-contiguous inputs, running statistics, float64 gradient checks and argument errors."""

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


# --------------------------------------------------------------------------- pixel (un)shuffle
@st.composite
def shuffle_cases(draw):
    r = draw(st.integers(1, 3))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    c = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return r, batch, c, h, w, draw(st.booleans()), draw(st.integers(0, 2**16))


@settings(max_examples=examples(30))
@given(shuffle_cases())
def test_pixel_shuffle_matches_torch(case):
    r, batch, c, h, w, noncontiguous, seed = case
    x = arrays(batch + (c * r * r, h, w), seed=seed)
    compare(lambda lib, x: lib.nn.functional.pixel_shuffle(x, r), x, noncontiguous=noncontiguous)


@settings(max_examples=examples(30))
@given(shuffle_cases())
def test_pixel_unshuffle_matches_torch(case):
    r, batch, c, h, w, noncontiguous, seed = case
    x = arrays(batch + (c, h * r, w * r), seed=seed)
    compare(lambda lib, x: lib.nn.functional.pixel_unshuffle(x, r), x, noncontiguous=noncontiguous)


def test_pixel_shuffle_layers_and_round_trip():
    x = arrays((2, 12, 3, 5))
    compare(lambda lib, x: lib.nn.PixelShuffle(2)(x), x)
    compare(lambda lib, x: lib.nn.PixelUnshuffle(3)(x), arrays((2, 2, 6, 9)))
    t = convgrad.tensor(x)
    back = F.pixel_unshuffle(F.pixel_shuffle(t, 2), 2)
    np.testing.assert_array_equal(back.numpy(), x)
    assert F.pixel_shuffle(t, 2).dtype == np.float32
    assert repr(convgrad.nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"


def test_pixel_shuffle_float64_gradcheck():
    gradcheck(lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2), arrays((2, 8, 2, 3), np.float64))
    gradcheck(lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 2), arrays((1, 2, 4, 6), np.float64))


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.functional.pixel_shuffle(x, 3),          # 8 channels, not divisible by 9
    lambda lib, x: lib.nn.functional.pixel_shuffle(x, 0),
    lambda lib, x: lib.nn.functional.pixel_shuffle(x[0, 0], 2),    # 2-D
    lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 3),        # 4x6 not divisible by 3
    lambda lib, x: lib.nn.functional.pixel_unshuffle(x, -1),
])
def test_pixel_shuffle_bad_arguments(fn):
    err = compare_raises(fn, arrays((2, 8, 4, 6)))
    assert "pixel_" in str(err) and "got" in str(err)


def test_pixel_shuffle_error_message():
    with pytest.raises(RuntimeError, match=r"pixel_shuffle: expected the channels .* upscale_factor\^2 = 9, "
                                           r"got shape \(2, 8, 4, 6\)"):
        F.pixel_shuffle(convgrad.zeros(2, 8, 4, 6), 3)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: expected downscale_factor to be a positive int, "
                                         r"got 0"):
        F.pixel_unshuffle(convgrad.zeros(2, 8, 4, 6), 0)


# --------------------------------------------------------------------------- instance normalisation
@settings(max_examples=examples(20))
@given(st.data())
def test_instance_norm_noncontiguous_matches_torch(data):
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    spatial = tuple(data.draw(st.lists(st.integers(2, 5), min_size=1, max_size=3)))
    seed = data.draw(st.integers(0, 2**16))
    compare(lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
            arrays((n, c) + spatial, seed=seed), arrays((c,), seed=seed + 1), arrays((c,), seed=seed + 2),
            noncontiguous=True, atol=1e-4)


_LAYERS = {1: "InstanceNorm1d", 2: "InstanceNorm2d", 3: "InstanceNorm3d"}


@settings(max_examples=examples(20))
@given(st.data())
def test_instance_norm_layers_match_torch(data):
    """Train and eval steps of the layer with PyTorch's arguments: the outputs, gradients and the running
    statistics and parameters after each step agree."""
    d = data.draw(st.sampled_from([1, 2, 3]))
    affine, track = data.draw(st.booleans()), data.draw(st.booleans())
    momentum = data.draw(st.sampled_from([0.1, 0.5, None]))
    batched = data.draw(st.booleans())
    c = data.draw(st.integers(1, 4))
    spatial = tuple(data.draw(st.integers(2, 4)) for _ in range(d))
    shape = ((data.draw(st.integers(1, 3)),) if batched else ()) + (c,) + spatial
    seed = data.draw(st.integers(0, 2**16))
    xs = [arrays(shape, seed=seed + i) for i in range(3)]
    layers = {}

    def fn(lib, x0, x1, x2):
        layer = getattr(lib.nn, _LAYERS[d])(c, affine=affine, track_running_stats=track, momentum=momentum)
        if affine:
            with lib.no_grad():
                layer.weight.copy_(lib.tensor(arrays((c,), seed=seed + 7)))
                layer.bias.copy_(lib.tensor(arrays((c,), seed=seed + 8)))
        layers[lib.__name__] = layer
        out = [layer(x0), layer(x1)]
        layer.eval()
        out.append(layer(x2))
        return out

    compare(fn, *xs, atol=1e-4)
    ours, ref = layers["convgrad"], layers["torch"]
    assert set(ours.state_dict()) == set(ref.state_dict())
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert repr(ours) == repr(ref)


def test_instance_norm_layer_float64_gradcheck():
    layer = convgrad.nn.InstanceNorm2d(3, affine=True).double()
    x = convgrad.tensor(arrays((2, 3, 3, 2), np.float64), requires_grad=True)
    assert convgrad.autograd.gradcheck(lambda x: layer(x), [x])
    w, b = (convgrad.tensor(arrays((3,), np.float64, seed=s), requires_grad=True) for s in (1, 2))
    assert convgrad.autograd.gradcheck(lambda w, b: F.instance_norm(x, weight=w, bias=b), [w, b])


@pytest.mark.parametrize("make, shape", [
    (lambda lib: lib.nn.InstanceNorm2d(3), (2, 3, 4)),   # unbatched (C, H, W) with C=2: a warning
    (lambda lib: lib.nn.InstanceNorm2d(3), (2, 3)),                        # 2-D
    (lambda lib: lib.nn.InstanceNorm1d(3, affine=True), (2, 4, 5)),        # channels
    (lambda lib: lib.nn.InstanceNorm2d(3, affine=True), (2, 4, 5, 5)),
    (lambda lib: lib.nn.InstanceNorm1d(3), (2, 3, 1)),                     # one value per channel
])
def test_instance_norm_layer_bad_inputs(make, shape):
    def fn(lib, x):
        return make(lib)(x)
    if shape == (2, 3, 4):  # PyTorch accepts this as an unbatched (C=2, H=3, W=4) with a warning
        with pytest.warns(UserWarning):
            compare(fn, arrays(shape), grad=False)
        return
    err = compare_raises(fn, arrays(shape))
    assert "InstanceNorm" in str(err) or "instance_norm" in str(err)
    assert "got" in str(err)


def test_instance_norm_layer_error_names_layer_and_shapes():
    with pytest.raises(RuntimeError, match=r"InstanceNorm2d\(3.*\): expected 3 channels \(num_features\), "
                                           r"got input of shape \(2, 4, 5, 5\)"):
        convgrad.nn.InstanceNorm2d(3, affine=True)(convgrad.zeros(2, 4, 5, 5))
    with pytest.raises(RuntimeError, match=r"expected a \(N, C, L\) or \(C, L\) input, got input of shape "
                                           r"\(2, 3, 4, 4\)"):
        convgrad.nn.InstanceNorm1d(3)(convgrad.zeros(2, 3, 4, 4))
    assert isinstance(torch.nn.InstanceNorm2d(3), torch.nn.Module)  # the oracle has the same layers
