"""convgrad.arithmetic: output sizes against hand-worked cases (and torch's layers), fit and "same"
padding, parameter counts, receptive fields, errors that say why."""

import argparse

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convgrad import arithmetic as ar
from convgrad import cli
from tests.conftest import examples


@pytest.mark.parametrize("i, k, s, p, d, o", [
    (4, 3, 1, 0, 1, 2),   # no padding, unit stride
    (5, 4, 1, 2, 1, 6),   # arbitrary padding
    (5, 3, 1, 1, 1, 5),   # half ("same") padding
    (5, 3, 1, 2, 1, 7),   # full padding
    (5, 3, 2, 0, 1, 2),   # strided
    (5, 3, 2, 1, 1, 3),   # strided, padded
    (6, 3, 2, 1, 1, 3),   # strided, padded, last row unused
    (7, 3, 1, 0, 2, 3),   # dilated
    (7, 3, 1, 0, 1, 5), (7, 3, 2, 0, 1, 3), (7, 3, 3, 0, 1, 2), (7, 3, 1, 1, 1, 7),  # the lecture's 7x7
    (224, 7, 2, 3, 1, 112), (227, 11, 4, 0, 1, 55), (32, 5, 1, 0, 1, 28),
])
def test_conv_output_size(i, k, s, p, d, o):
    assert ar.conv_output_size(i, k, s, p, d) == o
    assert ar.conv_output_size((i, i), (k, k), s, p, d) == (o, o)


def test_conv_output_size_rectangular_and_string_padding():
    assert ar.conv_output_size((7, 9), 3, stride=(1, 2), padding=(1, 0)) == (7, 4)
    assert ar.conv_output_size(10, 5, padding="same") == 10
    assert ar.conv_output_size(10, 3, padding="same", dilation=2) == 10
    assert ar.conv_output_size(10, 5, padding="valid") == 6
    with pytest.raises(ValueError, match="stride 1"):
        ar.conv_output_size(10, 3, stride=2, padding="same")


@pytest.mark.parametrize("i, k, s, p, op, d, o", [
    (2, 3, 1, 0, 0, 1, 4),    # transposes 4 -> 2
    (6, 4, 1, 2, 0, 1, 5),    # transposes 5 k4 p2 -> 6
    (5, 3, 1, 1, 0, 1, 5),    # half padding
    (7, 3, 1, 2, 0, 1, 5),    # full padding
    (2, 3, 2, 0, 0, 1, 5),    # transposes 5 k3 s2 -> 2
    (3, 3, 2, 1, 0, 1, 5),    # transposes 5 k3 s2 p1 -> 3
    (3, 3, 2, 1, 1, 1, 6),    # transposes 6 k3 s2 p1 -> 3: output_padding picks 6
    (3, 3, 1, 0, 0, 2, 7),    # transposes 7 k3 d2 -> 3
])
def test_conv_transpose_output_size(i, k, s, p, op, d, o):
    assert ar.conv_transpose_output_size(i, k, s, p, op, d) == o


@pytest.mark.parametrize("i, k, s, p, d, ceil, o", [
    (224, 2, 2, 0, 1, False, 112), (112, 3, 2, 1, 1, False, 56), (55, 3, 2, 0, 1, False, 27),
    (112, 3, 2, 0, 1, True, 56), (56, 3, 2, 0, 1, True, 28), (14, 2, 2, 0, 1, True, 7),
    (32, 3, 2, 0, 1, True, 16), (5, 2, 2, 1, 1, True, 3), (6, 3, 3, 1, 1, True, 3), (8, 3, 1, 1, 1, True, 8),
])
def test_pool_output_size(i, k, s, p, d, ceil, o):
    assert ar.pool_output_size(i, k, s, p, d, ceil) == o


def test_pool_stride_defaults_to_kernel():
    assert ar.pool_output_size(8, 2) == 4
    assert ar.pool_output_size((9, 8), 3) == (3, 2)


@settings(max_examples=examples(60))
@given(i=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 4),
       d=st.integers(1, 3))
def test_conv_size_matches_torch(i, k, s, p, d):
    span = d * (k - 1) + 1
    x = torch.zeros(1, 1, i)
    if span > i + 2 * p:
        with pytest.raises(ValueError, match="kernel spans"):
            ar.conv_output_size(i, k, s, p, d)
        return
    want = torch.nn.functional.conv1d(x, torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
    assert ar.conv_output_size(i, k, s, p, d) == want
    assert ar.unused_inputs(i, k, s, p, d) == (i + 2 * p - span) % s


@settings(max_examples=examples(60))
@given(i=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3),
       d=st.integers(1, 2), ceil=st.booleans())
def test_pool_size_matches_torch(i, k, s, p, d, ceil):
    span = d * (k - 1) + 1
    if 2 * p > k or span > i + 2 * p:
        with pytest.raises(ValueError):
            ar.pool_output_size(i, k, s, p, d, ceil)
        return
    x = torch.zeros(1, 1, i)
    want = torch.nn.functional.max_pool1d(x, k, s, p, d, ceil_mode=ceil).shape[-1]
    assert ar.pool_output_size(i, k, s, p, d, ceil) == want


@settings(max_examples=examples(60))
@given(i=st.integers(1, 20), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3),
       d=st.integers(1, 3), op=st.integers(0, 3))
def test_conv_transpose_size_matches_torch(i, k, s, p, d, op):
    if op >= max(s, d):
        with pytest.raises(ValueError, match="output_padding"):
            ar.conv_transpose_output_size(i, k, s, p, op, d)
        return
    o = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
    if o < 1:
        with pytest.raises(ValueError):
            ar.conv_transpose_output_size(i, k, s, p, op, d)
        return
    layer = torch.nn.ConvTranspose1d(1, 1, k, s, p, op, dilation=d)
    assert ar.conv_transpose_output_size(i, k, s, p, op, d) == layer(torch.zeros(1, 1, i)).shape[-1] == o


@pytest.mark.parametrize("call, match", [
    (lambda: ar.conv_output_size(3, 5), "kernel spans 5 elements but the padded input has only 3"),
    (lambda: ar.conv_output_size(7, 3, dilation=4), "dilation 4 spreads kernel 3 over 9"),
    (lambda: ar.conv_output_size(7, 3, stride=0), "stride = 0"),
    (lambda: ar.conv_output_size(7, 3, padding=-1), "padding cannot be negative"),
    (lambda: ar.conv_output_size(0, 3), "at least one element"),
    (lambda: ar.conv_output_size(7, 0), "kernel"),
    (lambda: ar.conv_output_size(7, 2.5), "integer"),
    (lambda: ar.conv_output_size((7, 7), (3, 3, 3)), "input_size: expected 3 values"),
    (lambda: ar.pool_output_size(8, 2, padding=2), "more than half the kernel"),
    (lambda: ar.conv_transpose_output_size(3, 3, stride=2, output_padding=2), "output_padding 2 must be"),
    (lambda: ar.conv_transpose_output_size(1, 1, padding=1), "removes more"),
])
def test_impossible_configurations_say_why(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_fit_and_padding():
    # the lecture: 7x7 input, 3x3 filter, stride 3 "doesn't fit"
    assert not ar.fits(7, 3, 3)
    assert ar.unused_inputs(7, 3, 3) == 1
    assert ar.padding_to_fit(7, 3, 3) == 1
    assert ar.fits(7, 3, 3, padding=1) and ar.conv_output_size(7, 3, 3, 1) == 3
    assert ar.fits(7, 3, 2) and ar.fits(7, 3, 1)
    assert ar.unused_inputs(6, 3, 2, 1) == 1
    assert ar.padding_to_fit(6, 3, 2) is None  # needs an odd total padding with an even stride
    assert ar.fits((7, 9), 3, 2)
    # "same": (F-1)/2 for odd F at stride 1
    assert ar.same_padding(3) == (1, 1) and ar.same_padding(5) == (2, 2) and ar.same_padding(7) == (3, 3)
    assert ar.same_padding(4) == (1, 2)
    assert ar.same_padding(3, dilation=2) == (2, 2)
    assert ar.same_padding(3, stride=2, input_size=6) == (0, 1)
    assert ar.same_padding(3, stride=2, input_size=5) == (1, 1)
    with pytest.raises(ValueError, match="input_size"):
        ar.same_padding(3, stride=2)
    for i in range(1, 30):
        for k in (1, 2, 3, 4, 5):
            for s in (1, 2, 3):
                b, a = ar.same_padding(k, s, input_size=i)
                x = torch.nn.functional.pad(torch.zeros(1, 1, i), (b, a))
                assert torch.nn.functional.conv1d(x, torch.zeros(1, 1, k), stride=s).shape[-1] == -(-i // s)


def test_parameter_counts():
    assert ar.conv_params(3, 64, 3) == 1792
    assert ar.conv_params(3, 64, 3, bias=False) == 1728          # the lecture's (3*3*3)*64
    assert ar.conv_params(512, 512, 3, bias=False) == 2359296
    assert ar.conv_params(96, 256, 5, groups=2) == 307456         # AlexNet conv2
    assert ar.conv_params(1, 6, (5, 5)) == 156
    assert ar.linear_params(7 * 7 * 512, 4096, bias=False) == 102760448
    assert ar.linear_params(4096, 1000) == 4097000
    assert ar.batchnorm_params(64) == 128 and ar.batchnorm_params(64, affine=False) == 0
    assert ar.depthwise_separable_params(32, 64, 3, bias=False) == 32 * 9 + 32 * 64
    assert ar.conv_transpose_params(16, 8, 4) == 16 * 8 * 16 + 8
    t = torch.nn.ConvTranspose2d(16, 8, 4, groups=2)
    assert ar.conv_transpose_params(16, 8, 4, groups=2) == sum(p.numel() for p in t.parameters())
    assert ar.conv_mult_adds(3, 64, 3, 224) == 224 * 224 * 64 * 27
    with pytest.raises(ValueError, match="groups"):
        ar.conv_params(3, 64, 3, groups=2)


def test_receptive_field():
    # three 3x3 stride-1 convolutions see 7x7, like one 7x7
    assert [r.size for r in ar.receptive_field([(3, 1, 1)] * 3)] == [3, 5, 7]
    # conv 3x3 - pool 2/2 - conv 3x3: 3, 4, 8; jump 1, 2, 2
    rf = ar.receptive_field([(3, 1, 1), (2, 2), (3, 1, 1)])
    assert [(r.size, r.jump) for r in rf] == [(3, 1), (4, 2), (8, 2)]
    # VGG-16's last pooling output sees 212x212 input pixels, 32 apart
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    last = ar.receptive_field([(2, 2) if v == "M" else (3, 1, 1) for v in cfg])[-1]
    assert (last.size, last.jump) == (212, 32)
    # AlexNet conv1: 11x11 stride 4; then 3x3/2 pooling: 19, jump 8
    rf = ar.receptive_field([{"kernel": 11, "stride": 4}, {"kernel": 3, "stride": 2}])
    assert [(r.size, r.jump) for r in rf] == [(11, 4), (19, 8)]
    assert ar.receptive_field([(3, 1, 0, 2)])[-1].size == 5  # dilation
    # centre of the first output: padding moves it left
    assert ar.receptive_field([(3, 1, 1)])[-1].start == 0.5
    assert ar.receptive_field([(3, 1, 0)])[-1].start == 1.5


def test_explain_text():
    ex = ar.explain(7, 3, 3)
    text = str(ex)
    assert ex.ok and ex.output_size == (2,) and ex.unused == (1,)
    assert "does not fit" in text and "1.33" in text and "padding 1 would make it fit (output 3)" in text
    text = str(ar.explain(7, 3, 1, 1))
    assert "output: 7" in text and "fits" in text
    assert "(224 + 2 x 3 - 7) / 2" in str(ar.explain(224, 7, 2, 3))
    ex = ar.explain(3, 5)
    assert not ex.ok and "impossible" in str(ex) and "kernel spans 5" in str(ex)
    ex = ar.explain((7, 8), 3, 3)
    assert ex.output_size == (2, 2) and "width: does not fit" in str(ex) and "last 2 columns" in str(ex)
    ex = ar.explain(3, 3, 2, 1, output_padding=1, transposed=True)
    assert ex.output_size == (6,) and "(3 - 1) x 2 - 2 x 1 + 1 x (3 - 1) + 1 + 1 = 6" in str(ex)
    ex = ar.explain(112, 3, None, pool=True, ceil_mode=True)
    assert ex.output_size == (38,)  # the 38th window starts at 111, inside the input
    assert ar.explain(7, 3, dilation=2).output_size == (3,)


def test_cli(capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.add_arith_cli(sub)
    args = parser.parse_args(["arith", "--input", "7", "--kernel", "3", "--stride", "2", "--padding", "1"])
    assert args.func(args) == 0
    assert "output: 4" in capsys.readouterr().out
    args = parser.parse_args(["arith", "--input", "7x7", "--kernel", "3", "--stride", "3"])
    assert args.func(args) == 0
    assert "does not fit" in capsys.readouterr().out
    args = parser.parse_args(["arith", "--input", "3", "--kernel", "3", "--stride", "2", "--padding", "1",
                              "--transposed", "--output-padding", "1"])
    assert args.func(args) == 0 and "output: 6" in capsys.readouterr().out
    args = parser.parse_args(["arith", "--input", "7", "--kernel", "3", "--dilation", "2"])
    assert args.func(args) == 0 and "output: 3" in capsys.readouterr().out
    args = parser.parse_args(["arith", "--input", "3", "--kernel", "5"])
    assert args.func(args) == 1 and "impossible" in capsys.readouterr().out
    args = parser.parse_args(["arith", "-i", "8", "-k", "2", "--pool"])
    assert args.func(args) == 0 and "output: 4" in capsys.readouterr().out
