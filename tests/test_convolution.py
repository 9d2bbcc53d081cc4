"""conv1d, conv2d, conv_transpose1d/2d, unfold and fold against PyTorch (forward, every gradient, shapes,
dtypes) over drawn shapes and hyper-parameters, contiguous and not; every internal path (channels-first and
channels-last columns, per-sample and one-GEMM products, col2im and full-convolution input gradients);
float64 finite differences; errors raised where PyTorch raises them."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
from convgrad.functional import im2col
from convgrad.functional import scratch as scratch_pool
from tests.conftest import examples
from tests.parity import compare, compare_raises, gradcheck
from tests.strategies import arrays

# PyTorch warns that 'same' with an even kernel makes a padded copy; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def F(lib):
    return lib.nn.functional


# --------------------------------------------------------------------------- strategies
@st.composite
def conv_config(draw, nd, transposed=False):
    """A valid convolution: shapes of input, weight and bias, and keyword arguments."""
    groups_kind = draw(st.sampled_from(["one", "two", "depthwise"]))
    if groups_kind == "one":
        groups, cin, cout = 1, draw(st.integers(1, 4)), draw(st.integers(1, 4))
    elif groups_kind == "two":
        groups, cin, cout = 2, 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    else:
        groups = cin = draw(st.integers(2, 4))
        cout = cin * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    batch = draw(st.integers(1, 3))
    kwargs = {}
    if transposed:
        p = tuple(draw(st.integers(0, 3)) for _ in range(nd))
        # output_padding < stride or < dilation (per dim)
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        size = []
        for ki, si, pi, di, opi in zip(k, s, p, d, op):
            # H_out = (H - 1) s - 2p + d(k-1) + op + 1 >= 1
            lo = 1
            while (lo - 1) * si - 2 * pi + di * (ki - 1) + opi + 1 < 1:
                lo += 1
            size.append(draw(st.integers(lo, lo + 5)))
        kwargs.update(stride=_maybe_int(draw, s), padding=_maybe_int(draw, p),
                      output_padding=_maybe_int(draw, op), dilation=_maybe_int(draw, d))
        x_shape = (batch, cin) + tuple(size)
        w_shape = (cin, cout // groups) + k
    else:
        mode = draw(st.sampled_from(["int", "int", "same", "valid"]))
        if mode == "same":
            s = (1,) * nd
            pad_total = tuple(di * (ki - 1) for ki, di in zip(k, d))
            padding = "same"
        elif mode == "valid":
            pad_total = (0,) * nd
            padding = "valid"
        else:
            p = tuple(draw(st.integers(0, 3)) for _ in range(nd))
            pad_total = tuple(2 * pi for pi in p)
            padding = _maybe_int(draw, p)
        size = tuple(draw(st.integers(max(1, di * (ki - 1) + 1 - pt), max(1, di * (ki - 1) + 1 - pt) + 6))
                     for ki, di, pt in zip(k, d, pad_total))
        kwargs.update(stride=_maybe_int(draw, s), padding=padding, dilation=_maybe_int(draw, d))
        x_shape = (batch, cin) + size
        w_shape = (cout, cin // groups) + k
    if groups != 1 or draw(st.booleans()):
        kwargs["groups"] = groups
    bias = (cout,) if draw(st.booleans()) else None
    return x_shape, w_shape, bias, kwargs


def _maybe_int(draw, values):
    """A tuple of per-dimension values, or the int when they agree and the draw says so."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return tuple(values) if len(values) > 1 or draw(st.booleans()) else values[0]


def _inputs(x_shape, w_shape, bias, seed=0, dtype=np.float32):
    ins = [arrays(x_shape, dtype, seed), arrays(w_shape, dtype, seed + 1)]
    if bias is not None:
        ins.append(arrays(bias, dtype, seed + 2))
    return ins


def _call(name, kwargs):
    def fn(lib, x, w, b=None):
        return getattr(F(lib), name)(x, w, b, **kwargs)
    return fn


def paths(layout="auto", per_sample="auto", input_grad="auto", blocks="auto", workers="auto", shift="auto"):
    """Force one of the internal paths: channels-first/last columns (col2im: and batch-last), per-sample
    or one-GEMM products, col2im or full-convolution input gradient, blocks of one output row or a few
    samples, the samples on one thread or split over 2-3 worker threads, shifted rows wherever they
    apply or never."""
    auto = lambda v, choices: None if v == "auto" else choices[v]  # noqa: E731
    return im2col.forced_paths(
        layout=auto(layout, {"first": im2col.Layout.CHANNELS_FIRST, "last": im2col.Layout.CHANNELS_LAST,
                             "batch": im2col.Layout.BATCH_LAST}),
        per_sample=auto(per_sample, {"always": True, "never": False}),
        full_conv=auto(input_grad, {"col2im": False, "full": True}),
        block_bytes=auto(blocks, {"rows": 1, "samples": 2000}),
        workers=None if workers == "auto" else workers,
        shift_rows=auto(shift, {"always": True, "never": False}))


PATHS = st.fixed_dictionaries({
    "layout": st.sampled_from(["auto", "first", "last", "batch"]),
    "per_sample": st.sampled_from(["auto", "always", "never"]),
    "input_grad": st.sampled_from(["auto", "col2im", "full"]),
    "blocks": st.sampled_from(["auto", "rows", "samples"]),
    "workers": st.sampled_from(["auto", 1, 2, 3]),
    "shift": st.sampled_from(["auto", "always", "never"]),
})


# --------------------------------------------------------------------------- parity over drawn cases
@settings(max_examples=examples(70))
@given(cfg=conv_config(2), nc=st.booleans(), path=PATHS)
def test_conv2d(cfg, nc, path):
    x_shape, w_shape, bias, kwargs = cfg
    with paths(**path):
        compare(_call("conv2d", kwargs), *_inputs(x_shape, w_shape, bias), noncontiguous=nc)


@settings(max_examples=examples(35))
@given(cfg=conv_config(1), nc=st.booleans(), path=PATHS)
def test_conv1d(cfg, nc, path):
    x_shape, w_shape, bias, kwargs = cfg
    with paths(**path):
        compare(_call("conv1d", kwargs), *_inputs(x_shape, w_shape, bias), noncontiguous=nc)


@settings(max_examples=examples(50))
@given(cfg=conv_config(2, transposed=True), nc=st.booleans(), path=PATHS)
def test_conv_transpose2d(cfg, nc, path):
    x_shape, w_shape, bias, kwargs = cfg
    with paths(**path):
        compare(_call("conv_transpose2d", kwargs), *_inputs(x_shape, w_shape, bias), noncontiguous=nc)


@settings(max_examples=examples(25))
@given(cfg=conv_config(1, transposed=True), nc=st.booleans(), path=PATHS)
def test_conv_transpose1d(cfg, nc, path):
    x_shape, w_shape, bias, kwargs = cfg
    with paths(**path):
        compare(_call("conv_transpose1d", kwargs), *_inputs(x_shape, w_shape, bias), noncontiguous=nc)


@st.composite
def fold_config(draw):
    k = tuple(draw(st.integers(1, 4)) for _ in range(2))
    s = tuple(draw(st.integers(1, 3)) for _ in range(2))
    d = tuple(draw(st.integers(1, 3)) for _ in range(2))
    p = tuple(draw(st.integers(0, 2)) for _ in range(2))
    size = tuple(draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), max(1, di * (ki - 1) + 1 - 2 * pi) + 5))
                 for ki, di, pi in zip(k, d, p))
    kwargs = dict(kernel_size=_maybe_int(draw, k), dilation=_maybe_int(draw, d), padding=_maybe_int(draw, p),
                  stride=_maybe_int(draw, s))
    batch = draw(st.sampled_from([None, 1, 2, 3]))  # None: unbatched
    return batch, draw(st.integers(1, 3)), size, kwargs


@settings(max_examples=examples(20))
@given(cfg=fold_config(), nc=st.booleans())
def test_unfold(cfg, nc):
    batch, c, size, kwargs = cfg
    shape = (c,) + size if batch is None else (batch, c) + size
    compare(lambda lib, x: F(lib).unfold(x, **kwargs), arrays(shape), noncontiguous=nc)


@settings(max_examples=examples(20))
@given(cfg=fold_config(), nc=st.booleans())
def test_fold(cfg, nc):
    batch, c, size, kwargs = cfg
    k, s, d, p = (np.broadcast_to(kwargs[n], 2) for n in ("kernel_size", "stride", "dilation", "padding"))
    blocks = [(n + 2 * pi - di * (ki - 1) - 1) // si + 1 for n, ki, si, di, pi in zip(size, k, s, d, p)]
    shape = (c * k[0] * k[1], blocks[0] * blocks[1])
    shape = shape if batch is None else (batch,) + shape
    compare(lambda lib, x: F(lib).fold(x, size, **kwargs), arrays(shape), noncontiguous=nc)


# --------------------------------------------------------------------------- fixed cases
def test_lenet_shapes_all_paths():
    """The bench's shapes, smaller batch, through every path."""
    for layout in ("first", "last", "batch"):
        for per_sample in ("always", "never"):
            for input_grad, blocks in (("col2im", "rows"), ("full", "samples")):
                with paths(layout, per_sample, input_grad, blocks):
                    compare(_call("conv2d", dict(padding=2)), *_inputs((2, 1, 12, 12), (6, 1, 5, 5), (6,)))
                    compare(_call("conv2d", {}), *_inputs((2, 6, 14, 14), (16, 6, 5, 5), (16,)), atol=1e-4)
                    compare(_call("conv2d", dict(padding=1)), *_inputs((2, 16, 8, 8), (16, 16, 3, 3), (16,)),
                            atol=1e-4)


@pytest.mark.parametrize("name,x,w,kw", [
    ("conv2d", (3, 7, 8), (4, 3, 3, 2), dict(padding=1, stride=2)),
    ("conv1d", (3, 9), (4, 3, 4), dict(padding="same")),
    ("conv_transpose2d", (4, 5, 6), (4, 3, 3, 3), dict(stride=2, output_padding=1)),
    ("conv_transpose1d", (4, 5), (4, 2, 3), dict(stride=3, padding=1, groups=2)),
    ("conv2d", (3, 9, 8), (4, 3, 3, 3), dict(stride=(2,), padding=(1,), dilation=(2,))),  # 1-sequences
    ("conv_transpose2d", (4, 5, 6), (4, 3, 3, 3), dict(stride=(2,), output_padding=(1,))),
])
def test_unbatched(name, x, w, kw):
    compare(_call(name, kw), arrays(x), arrays(w, seed=1))


def test_float64_and_empty_batch():
    compare(_call("conv2d", dict(padding=1, groups=2)), *_inputs((2, 4, 6, 5), (6, 2, 3, 3), (6,),
                                                                  dtype=np.float64))
    compare(_call("conv_transpose2d", dict(stride=2)), *_inputs((2, 4, 3, 3), (4, 3, 2, 2), (3,),
                                                                dtype=np.float64))
    compare(_call("conv2d", {}), *_inputs((0, 3, 6, 6), (4, 3, 3, 3), (4,)))
    compare(_call("conv2d", dict(padding=3)), *_inputs((2, 3, 2, 2), (5, 3, 1, 1), None))  # 1x1, big pad


def test_integer_forward():
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) % 7 - 3
    w = np.arange(4 * 3 * 2 * 2).reshape(4, 3, 2, 2) % 5 - 2
    compare(_call("conv2d", dict(padding=1)), x, w, grad=False)


def test_same_padding_even_kernel_pads_end():
    """'same' with total padding d(k-1) odd puts the extra zero at the end, as PyTorch."""
    x = convgrad.ones(1, 1, 1, 4)
    w = convgrad.tensor([[[[1.0, 2.0]]]])
    y = F(convgrad).conv2d(x, w, padding="same")
    np.testing.assert_array_equal(y.numpy(), [[[[3.0, 3.0, 3.0, 1.0]]]])


def test_gradients_survive_buffer_reuse(monkeypatch):
    """Returned arrays are never scratch buffers: later convolutions do not change earlier results, and
    two layers of one shape in flight keep their own columns."""
    rng = np.random.default_rng(0)
    x = convgrad.tensor(rng.standard_normal((4, 16, 20, 20)).astype(np.float32), requires_grad=True)
    w1 = convgrad.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)
    w2 = convgrad.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)
    monkeypatch.setattr(scratch_pool._Scratch, "MIN_BYTES", 0)  # pool everything
    y = F(convgrad).conv2d(F(convgrad).conv2d(x, w1, padding=1), w2, padding=1)
    y.sum().backward()
    grads = [t.grad.numpy().copy() for t in (x, w1, w2)]
    out = y.detach().numpy().copy()
    for t in (x, w1, w2):
        t.grad = None
    y2 = F(convgrad).conv2d(F(convgrad).conv2d(x, w1, padding=1), w2, padding=1)
    y2.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), out)
    for t, g in zip((x, w1, w2), grads):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-5, atol=1e-5)


def test_retain_graph_twice():
    rng = np.random.default_rng(0)
    x = convgrad.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = convgrad.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F(convgrad).conv2d(x, w, stride=2).sum()
    y.backward(retain_graph=True)
    g1 = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * g1, rtol=1e-5)


def test_weight_modified_in_place_is_detected():
    x = convgrad.randn(2, 3, 6, 6, requires_grad=True)
    w = convgrad.randn(4, 3, 3, 3, requires_grad=True)
    y = F(convgrad).conv2d(x, w)
    with convgrad.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


@pytest.mark.parametrize("x,w,kw", [
    ((2, 16, 12, 11), (8, 16, 3, 3), dict(padding=1)),
    ((3, 6, 14, 14), (16, 6, 5, 5), {}),
    ((2, 5, 9, 10), (7, 5, 3, 2), dict(padding=(2, 0), dilation=(2, 1), stride=(1, 2))),
    ((1, 4, 7, 9), (6, 4, 2, 3), dict(padding="same", dilation=(3, 2))),
    ((2, 3, 6, 6), (5, 3, 3, 3), dict(padding=2)),
])
@pytest.mark.parametrize("blocks,workers", [("auto", "auto"), ("rows", 2), ("samples", 3)])
def test_shifted_rows(monkeypatch, x, w, kw, blocks, workers):
    """Columns of one kernel row, shifted per kernel row (stride 1 down the rows), on its own: it is taken
    for the forward and the weight gradient, and matches PyTorch in float64 for every block cut."""
    taken = []
    monkeypatch.setattr(im2col, "_im2col", lambda xw, geo, *a, _f=im2col._im2col, **k: (
        taken.append(geo.shift_rows), _f(xw, geo, *a, **k))[1])
    with paths("last", "never", "full", blocks, workers, shift="always"):
        compare(_call("conv2d", kw), *_inputs(x, w, (w[0],), dtype=np.float64))
    assert taken and all(taken)


def test_shifted_rows_gradcheck():
    with paths("last", "never", "full", "rows", shift="always"):
        assert gradcheck(_call("conv2d", dict(padding=(1, 2), dilation=(2, 1))),
                         *_inputs((2, 3, 6, 5), (4, 3, 2, 3), (4,)))


# --------------------------------------------------------------------------- float64 finite differences
@pytest.mark.parametrize("name,x,w,b,kw", [
    ("conv2d", (2, 2, 5, 6), (3, 2, 3, 2), (3,), dict(stride=(2, 1), padding=1)),
    ("conv2d", (1, 4, 6, 5), (4, 2, 2, 3), None, dict(groups=2, dilation=2, padding="same")),
    ("conv2d", (1, 3, 5, 5), (6, 1, 3, 3), (6,), dict(groups=3, padding=1)),
    ("conv1d", (2, 2, 7), (3, 2, 3), (3,), dict(stride=2, padding=2, dilation=2)),
    ("conv_transpose2d", (1, 2, 3, 4), (2, 3, 3, 2), (3,), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", (2, 4, 3, 3), (4, 1, 2, 2), None, dict(groups=2, dilation=2)),
    ("conv_transpose1d", (2, 2, 4), (2, 3, 3), (3,), dict(stride=3, output_padding=2)),
])
def test_gradcheck(name, x, w, b, kw):
    ins = _inputs(x, w, b)
    for layout, blocks in (("first", "auto"), ("last", "rows"), ("batch", "rows")):
        with paths(layout, blocks=blocks):
            assert gradcheck(_call(name, kw), *ins)


def test_gradcheck_unfold_fold():
    assert gradcheck(lambda lib, x: F(lib).unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
                     arrays((2, 2, 5, 6)))
    assert gradcheck(lambda lib, x: F(lib).fold(x, (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
                     arrays((2, 12, 12)))


# --------------------------------------------------------------------------- errors
X = arrays((8, 1, 28, 28))
W = arrays((16, 3, 5, 5))


def raises(fn, *inputs, match=None):
    err = compare_raises(fn, *inputs)
    if match is not None:
        assert match in str(err), str(err)
    return err


def test_channel_mismatch_message():
    err = raises(lambda lib, x, w: F(lib).conv2d(x, w), X, W)
    assert str(err) == ("conv2d: expected input with 3 channels (weight (16, 3, 5, 5), groups=1), got "
                        "input of "
                        "shape (8, 1, 28, 28)")


CONV_ERRORS = {
    "input 2-D": (lambda lib, x, w: F(lib).conv2d(x, w), (28, 28), (4, 1, 3, 3), "3-D (C, H, W)"),
    "input 5-D": (lambda lib, x, w: F(lib).conv2d(x, w), (1, 1, 1, 8, 8), (4, 1, 3, 3), "got input of shape"),
    "weight 3-D": (lambda lib, x, w: F(lib).conv2d(x, w), (1, 3, 8, 8), (4, 3, 3),
                   "expected 4-D (out_channels, in_channels/groups, kH, kW) weight"),
    "groups channels": (lambda lib, x, w: F(lib).conv2d(x, w, groups=2), (1, 4, 8, 8), (6, 4, 3, 3),
                        "expected input with 8 channels"),
    "groups out": (lambda lib, x, w: F(lib).conv2d(x, w, groups=2), (1, 4, 8, 8), (5, 2, 3, 3),
                   "divisible by groups=2"),
    "groups 0": (lambda lib, x, w: F(lib).conv2d(x, w, groups=0), (1, 4, 8, 8), (6, 4, 3, 3), "groups >= 1"),
    "kernel too big": (lambda lib, x, w: F(lib).conv2d(x, w), (1, 3, 4, 8), (2, 3, 5, 5),
                       "fit in the padded"),
    "dilated too big": (lambda lib, x, w: F(lib).conv2d(x, w, dilation=3), (1, 3, 6, 8), (2, 3, 3, 3),
                        "fit in the padded"),
    "stride 0": (lambda lib, x, w: F(lib).conv2d(x, w, stride=0), (1, 3, 8, 8), (2, 3, 3, 3), "stride >= 1"),
    "stride -1": (lambda lib, x, w: F(lib).conv2d(x, w, stride=(1, -1)), (1, 3, 8, 8), (2, 3, 3, 3),
                  "stride >= 1"),
    "stride length": (lambda lib, x, w: F(lib).conv2d(x, w, stride=(1, 1, 1)), (1, 3, 8, 8), (2, 3, 3, 3),
                      "sequence of 2 ints"),
    "dilation 0": (lambda lib, x, w: F(lib).conv2d(x, w, dilation=0), (1, 3, 8, 8), (2, 3, 3, 3),
                   "dilation >= 1"),
    "padding negative": (lambda lib, x, w: F(lib).conv2d(x, w, padding=-1), (1, 3, 8, 8), (2, 3, 3, 3),
                         "padding >= 0"),
    "same strided": (lambda lib, x, w: F(lib).conv2d(x, w, padding="same", stride=2), (1, 3, 8, 8),
                     (2, 3, 3, 3), "expected stride 1 with padding='same'"),
    "bad padding string": (lambda lib, x, w: F(lib).conv2d(x, w, padding="full"), (1, 3, 8, 8), (2, 3, 3, 3),
                           "'same', 'valid'"),
    "bias shape": (lambda lib, x, w: F(lib).conv2d(x, w, lib.zeros(3)), (1, 3, 8, 8), (2, 3, 3, 3),
                   "expected bias of shape (2,)"),
    "bias 2-D": (lambda lib, x, w: F(lib).conv2d(x, w, lib.zeros(1, 2)), (1, 3, 8, 8), (2, 3, 3, 3),
                 "expected bias of shape (2,)"),
    "dtype": (lambda lib, x, w: F(lib).conv2d(x, w.double()), (1, 3, 8, 8), (2, 3, 3, 3), "dtype"),
    "bias dtype": (lambda lib, x, w: F(lib).conv2d(x, w, lib.zeros(2, dtype=lib.float64)), (1, 3, 8, 8),
                   (2, 3, 3, 3), "expected bias of the input's dtype float32, got bias of dtype float64"),
    "float stride": (lambda lib, x, w: F(lib).conv2d(x, w, stride=1.5), (1, 3, 8, 8), (2, 3, 3, 3), "stride"),
    "conv1d 4-D": (lambda lib, x, w: F(lib).conv1d(x, w), (1, 3, 8, 8), (2, 3, 3), "3-D (N, C, L)"),
    "conv1d stride pair": (lambda lib, x, w: F(lib).conv1d(x, w, stride=(1, 1)), (1, 3, 8), (2, 3, 3),
                           "sequence of 1 int, got stride=(1, 1)"),
    "conv1d same strided": (lambda lib, x, w: F(lib).conv1d(x, w, padding="same", stride=2), (1, 3, 8),
                            (2, 3, 3), "padding='same'"),
    "conv1d weight 4-D": (lambda lib, x, w: F(lib).conv1d(x, w), (1, 3, 8), (2, 3, 3, 3),
                          "expected 3-D (out_channels, in_channels/groups, kL) weight"),
    "transpose output_padding": (
        lambda lib, x, w: F(lib).conv_transpose2d(x, w, stride=2, output_padding=2), (1, 4, 5, 5),
        (4, 3, 3, 3),
        "output_padding smaller than stride or dilation"),
    "transpose output_padding stride 1": (
        lambda lib, x, w: F(lib).conv_transpose2d(x, w, output_padding=(1, 0), stride=(1, 2)), (1, 4, 5, 5),
        (4, 3, 3, 3), "output_padding smaller"),
    "transpose output_padding negative": (
        lambda lib, x, w: F(lib).conv_transpose2d(x, w, output_padding=-1), (1, 4, 5, 5), (4, 3, 3, 3),
        "output_padding >= 0"),
    "transpose empty": (lambda lib, x, w: F(lib).conv_transpose2d(x, w, padding=6), (1, 4, 5, 5),
                        (4, 3, 3, 3), "expected an output size >= 1 in every dim"),
    "transpose channels": (lambda lib, x, w: F(lib).conv_transpose2d(x, w), (1, 4, 5, 5), (3, 3, 3, 3),
                           "expected input with 3 channels"),
    "transpose groups": (lambda lib, x, w: F(lib).conv_transpose2d(x, w, groups=3), (1, 4, 5, 5),
                         (4, 3, 3, 3), "divisible by groups=3"),
    "transpose bias": (lambda lib, x, w: F(lib).conv_transpose2d(x, w, lib.zeros(4)), (1, 4, 5, 5),
                       (4, 3, 3, 3), "expected bias of shape (3,)"),
    "transpose padding string": (lambda lib, x, w: F(lib).conv_transpose2d(x, w, padding="same"),
                                 (1, 4, 5, 5), (4, 3, 3, 3), "padding"),
    "transpose stride 0": (lambda lib, x, w: F(lib).conv_transpose1d(x, w, stride=0), (1, 4, 5), (4, 3, 3),
                           "stride >= 1"),
    "transpose negative padding": (lambda lib, x, w: F(lib).conv_transpose1d(x, w, padding=-1), (1, 4, 5),
                                   (4, 3, 3), "padding >= 0"),
    "transpose 2-D input": (lambda lib, x, w: F(lib).conv_transpose2d(x, w), (5, 5), (4, 3, 3, 3), "3-D"),
}


@pytest.mark.parametrize("case", CONV_ERRORS)
def test_conv_errors(case):
    fn, x, w, match = CONV_ERRORS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raises(fn, arrays(x), arrays(w, seed=1), match=match)


FOLD_ERRORS = {
    "unfold 2-D": (lambda lib, x: F(lib).unfold(x, 3), (8, 8), "3-D (C, H, W)"),
    "unfold too big": (lambda lib, x: F(lib).unfold(x, 11), (1, 2, 9, 9), "fit in the padded"),
    "unfold stride 0": (lambda lib, x: F(lib).unfold(x, 3, stride=0), (1, 2, 9, 9), "stride >= 1"),
    "unfold kernel 0": (lambda lib, x: F(lib).unfold(x, 0), (1, 2, 9, 9), "kernel_size >= 1"),
    "unfold padding": (lambda lib, x: F(lib).unfold(x, 3, padding=-1), (1, 2, 9, 9), "padding >= 0"),
    "unfold kernel length": (lambda lib, x: F(lib).unfold(x, (3, 3, 3)), (1, 2, 9, 9), "sequence of 2"),
    "fold blocks": (lambda lib, x: F(lib).fold(x, (9, 9), 3), (2, 36, 48), "expected input.shape[-1] = 49"),
    "fold channels": (lambda lib, x: F(lib).fold(x, (9, 9), 3), (2, 35, 49), "divisible by kH*kW = 9"),
    "fold output_size": (lambda lib, x: F(lib).fold(x, (9, 9, 1), 3), (2, 36, 49), "output_size"),
    "fold 4-D": (lambda lib, x: F(lib).fold(x, (9, 9), 3), (2, 36, 49, 1), "3-D (N, C*kH*kW, L)"),
    "fold too small": (lambda lib, x: F(lib).fold(x, (2, 2), 3), (2, 36, 1), "fit in the padded"),
}


@pytest.mark.parametrize("case", FOLD_ERRORS)
def test_fold_errors(case):
    fn, x, match = FOLD_ERRORS[case]
    raises(fn, arrays(x), match=match)


def test_non_tensor_input():
    raises(lambda lib, x, w: F(lib).conv2d(x.numpy(), w), arrays((1, 3, 8, 8)), arrays((2, 3, 3, 3)),
           match="expected input to be a Tensor")
