"""Argument checks: the one message form (issue 11) and the bad arguments issue 9 found, each against PyTorch
through the parity harness."""

import inspect
import warnings

import numpy as np
import pytest

import convgrad
from convgrad import _checks as checks
from tests import fuzz_args as fz
from tests.parity import compare, compare_raises
from tests.strategies import arrays


# --------------------------------------------------------------------------- the checks module
def test_message_form_and_shapes_as_tuples():
    assert str(checks.error("conv2d", "stride >= 1", "stride=(0, 1)")) == \
        "conv2d: expected stride >= 1, got stride=(0, 1)"
    assert checks.show([1, 2]) == "(1, 2)" and checks.show((3,)) == "(3,)"
    assert checks.show(np.zeros((2, 3))) == "an array of shape (2, 3)"
    with pytest.raises(RuntimeError, match=r"^pool: expected padding >= 0, got padding=\(1, -1\)$"):
        checks.ints("pool", "padding", [1, -1], 2, low=0)
    with pytest.raises(TypeError, match=r"^pool: expected stride to be an int or a sequence of 2 ints, got "
                                        r"stride=\(1.5, 2\)$"):
        checks.ints("pool", "stride", (1.5, 2), 2)
    with pytest.raises(ValueError, match=r"^op: expected p in \[0.0, 1.0\], got p=nan$"):
        checks.number("op", "p", float("nan"), 0.0, 1.0)
    with pytest.raises(TypeError, match=r"^op: expected p to be a number, got p=True \(bool\)$"):
        checks.number("op", "p", True)


def test_typed_checks_flags_numbers_dims_and_reduction_from_the_signature():
    x = convgrad.ones(2, 3)
    with pytest.raises(TypeError, match=r"^relu: expected inplace to be a bool, got inplace=1 \(int\)$"):
        convgrad.nn.functional.relu(x, 1)
    with pytest.raises(TypeError, match=r"^softmax: expected dim to be an int or None, got dim=1.0"):
        convgrad.nn.functional.softmax(x, dim=1.0)
    with pytest.raises(ValueError, match=r"^mse_loss: expected reduction to be one of 'none', 'mean'"):
        convgrad.nn.functional.mse_loss(x, x, reduction="avg")
    with pytest.raises(TypeError, match=r"^leaky_relu: expected negative_slope to be a number"):
        convgrad.nn.functional.leaky_relu(x, "0.1")


# --------------------------------------------------------------------------- every public op, one form
def _first_param(fn):
    return next(iter(inspect.signature(fn).parameters))


@pytest.mark.parametrize("name", sorted(fz.FUNCTIONAL))
def test_every_functional_op_names_itself_for_a_non_tensor_input(name):
    args, kwargs = fz.FUNCTIONAL[name]

    def call(lib):
        rest = [fz._materialise(a, lib, None) for a in args[1:]]
        kw = {k: fz._materialise(v, lib, None) for k, v in kwargs.items()}
        fn = getattr(lib.nn.functional, name, None) or getattr(lib, name)
        return fn(args[0].array.tolist(), *rest, **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        err = compare_raises(call)
    ops = {name, name.rstrip("_")} | set(fz.ALIASES.get(name, ()))
    first = _first_param(getattr(convgrad.nn.functional, name))
    assert any(str(err) == f"{op}: expected {first} to be a Tensor, got list" for op in ops), str(err)


# --------------------------------------------------------------------------- issue 9, defect 10
def _f(lib):
    return lib.nn.functional


@pytest.mark.parametrize("fn,inputs,message", [
    (lambda lib, x: _f(lib).dropout(x, p=float("nan")), [arrays((3, 4))],
     "dropout: expected p in [0.0, 1.0], got p=nan"),
    (lambda lib, x: _f(lib).batch_norm(x, lib.zeros(3), lib.ones(3), training=True, eps=-1.0),
     [arrays((4, 3))], "batch_norm: expected eps > 0, got eps=-1.0"),
    (lambda lib, x: _f(lib).batch_norm(x, lib.zeros(3), lib.ones(3), training=False, eps=-1.0),
     [arrays((4, 3))], "batch_norm: expected eps >= 0, got eps=-1.0"),
    (lambda lib, x: x // 0, [np.array([1, 2], np.int64)],
     "floor_divide: expected a non-zero integer divisor, got 0"),
    (lambda lib, x: x % lib.tensor([1, 0]), [np.array([1, 2], np.int64)],
     "remainder: expected a non-zero integer divisor, got 0"),
    (lambda lib, x: x.view(3.9, 4), [arrays((12,))], "view: expected a shape of ints, got shape=(3.9, 4)"),
    (lambda lib: lib.randperm(-1), [], "randperm: expected n >= 0, got n=-1"),
    (lambda lib: lib.zeros(-1), [], "zeros: expected a size of non-negative ints, got size=(-1,)"),
    (lambda lib: lib.randn(2.5), [], "randn: expected size to be a sequence of ints, got size=(2.5,)"),
    (lambda lib, a, b: a.matmul(b), [arrays((2, 3)), arrays((3, 2), np.float64)],
     "matmul: expected two tensors of one dtype, got float32 and float64"),
    (lambda lib, a: lib.cat([a, np.ones(2, np.float32)]), [arrays((2,))],
     "cat: expected tensors[1] to be a Tensor, got ndarray"),
    (lambda lib, a: lib.stack([a, np.ones(2, np.float32)]), [arrays((2,))],
     "stack: expected tensors[1] to be a Tensor, got ndarray"),
])
def test_silently_accepted_before(fn, inputs, message):
    err = compare_raises(fn, *inputs)
    assert str(err) == message


def test_dataloader_prefetch_factor_with_workers():
    from convgrad.utils.data import DataLoader, TensorDataset

    with pytest.raises(ValueError, match=r"^DataLoader: expected prefetch_factor >= 1, got prefetch_"):
        DataLoader(TensorDataset(convgrad.randn(4)), num_workers=1, prefetch_factor=0)


# --------------------------------------------------------------------------- issue 9, defect 11
@pytest.mark.parametrize("fn,inputs,message", [
    (lambda lib, x, w: _f(lib).conv2d(x, w), [arrays((1, 3, 5, 5)), arrays((2, 3, 0, 3))],
     "conv2d: expected a weight with no zero-sized dim, got weight of shape (2, 3, 0, 3)"),
    (lambda lib, x, w: _f(lib).conv_transpose2d(x, w), [arrays((1, 3, 5, 5)), arrays((3, 2, 3, 0))],
     "conv_transpose2d: expected a weight with no zero-sized dim, got weight of shape (3, 2, 3, 0)"),
    (lambda lib, x: x.gather(1, lib.tensor([[5]])), [arrays((3, 4))],
     "gather: expected indices in [0, 3] (dim 1 of size 4), got index 5"),
    (lambda lib, x: x.gather(1, lib.tensor([[-1]])), [arrays((3, 4))],
     "gather: expected indices in [0, 3] (dim 1 of size 4), got index -1"),
    (lambda lib, x: x.gather(1, lib.tensor([0, 1])), [arrays((3, 4))],
     "gather: expected an index of the input's 2 dims, got index of shape (2,)"),
    (lambda lib, x: x[lib.tensor([True, False])], [arrays((3, 4))],
     "index: expected a boolean mask of the indexed dims' shape (3,) (tensor of shape (3, 4), from dim 0), "
     "got mask of shape (2,)"),
    (lambda lib, x: x[:, lib.tensor([True, False])], [arrays((3, 4))],
     "index: expected a boolean mask of the indexed dims' shape (4,) (tensor of shape (3, 4), from dim 1), "
     "got mask of shape (2,)"),
    (lambda lib, x: x[1.5], [arrays((3, 4))],
     "index: expected integers, slices, ..., None, or integer or boolean Tensors as indices, "
     "got 1.5 (float)"),
    (lambda lib, x: x["a"], [arrays((3, 4))],
     "index: expected integers, slices, ..., None, or integer or boolean Tensors as indices, "
     "got 'a' (str)"),
    (lambda lib, x, v: x.__setitem__(slice(0, 2), v), [arrays((3, 4)), arrays((3, 4))],
     "setitem: expected a value that broadcasts to the indexed shape (2, 4), got value of shape (3, 4)"),
    (lambda lib, x, v: x.__setitem__((slice(None), 0), v), [arrays((3, 4)), arrays((4,))],
     "setitem: expected a value that broadcasts to the indexed shape (3,), got value of shape (4,)"),
    (lambda lib, x: _f(lib).pad(x, (1, 1), value="a"), [arrays((3, 4))],
     "pad: expected value to be a number, got value='a' (str)"),
    (lambda lib: lib.tensor([[1, 2], [3]]), [],
     "tensor: expected a sequence of length 2 at dim 1 (every row of one length), got length 1"),
    (lambda lib: lib.tensor([[1, 2], 3]), [],
     "tensor: expected a sequence of length 2 at dim 1 (every row of one length), got a number"),
])
def test_errors_from_inside_numpy_before(fn, inputs, message):
    err = compare_raises(fn, *inputs)
    assert str(err) == message


def test_conv_with_zero_input_channels():
    # PyTorch returns an (N, 0, L_out) tensor here whatever out_channels is; convgrad says what is wrong
    with pytest.raises(RuntimeError, match=r"^conv1d: expected a weight with no zero-sized dim, got "
                                           r"weight of shape \(2, 0, 3\)$"):
        convgrad.nn.functional.conv1d(convgrad.zeros(1, 0, 5), convgrad.zeros(2, 0, 3))


def _set(lib, x, v, index):
    x = x.clone()
    x[index] = v
    return x


@pytest.mark.parametrize("shape,index", [((4,), slice(0, 2)), ((1, 4), slice(0, 2)), ((1, 2, 4), slice(0, 2)),
                                         ((), 1), ((3,), (slice(None), 0)), ((2, 1), np.array([0, 2]))])
def test_setitem_still_broadcasts_like_pytorch(shape, index):
    compare(lambda lib, x, v: _set(lib, x, v, index), arrays((3, 4)), arrays(shape, seed=1), grad=False)


def test_gather_with_a_smaller_index_reads_the_leading_part_as_pytorch():
    idx = np.array([[0, 3], [2, 1]], np.int64)
    compare(lambda lib, x, i: x.gather(1, i), arrays((3, 4)), idx)
    compare(lambda lib, x, i: x.gather(0, i), arrays((3, 4)), idx % 3)


# --------------------------------------------------------------------------- issue 9, defect 12
@pytest.mark.parametrize("x,w,padding", [((0, 4, 5, 5), (4, 3, 2, 2), 3),
                                         ((0, 4, 5, 5), (4, 3, 2, 2), (3, 0)), ((0, 4, 5), (4, 3, 2), 3)])
def test_conv_transpose_empty_output_of_an_empty_batch(x, w, padding):
    conv_t = "conv_transpose2d" if len(x) == 4 else "conv_transpose1d"
    out = compare(lambda lib, x, w, b: getattr(_f(lib), conv_t)(x, w, b, padding=padding),
                  arrays(x), arrays(w), arrays((3,)))
    assert 0 in out.shape


def test_conv_transpose_empty_output_of_a_nonempty_batch_still_raises():
    err = compare_raises(lambda lib, x, w: _f(lib).conv_transpose2d(x, w, padding=3), arrays((1, 4, 5, 5)),
                         arrays((4, 3, 2, 2)))
    assert str(err).startswith("conv_transpose2d: expected an output size >= 1 in every dim")
