"""The torch.* functions on tensors: ``out=`` as PyTorch (in place, dtype rules, resizing with a warning,
no autograd), ``convgrad.Size``, printing options, and the torch namespace a tutorial uses."""

import warnings

import numpy as np
import pytest
import torch

import convgrad
from convgrad import _unsupported
from tests.strategies import arrays

A = arrays((2, 3))
B = arrays((2, 3), seed=1)

OUT_CALLS = {
    "add": (lambda L, a, b, **k: L.add(a, b, alpha=2, **k), (2, 3)),
    "sub": (lambda L, a, b, **k: L.sub(a, b, **k), (2, 3)),
    "mul": (lambda L, a, b, **k: L.mul(a, b, **k), (2, 3)),
    "div": (lambda L, a, b, **k: L.div(a, b, **k), (2, 3)),
    "div_floor": (lambda L, a, b, **k: L.div(a, b, rounding_mode="floor", **k), (2, 3)),
    "matmul": (lambda L, a, b, **k: L.matmul(a, b.T, **k), (2, 2)),
    "mm": (lambda L, a, b, **k: L.mm(a, b.T, **k), (2, 2)),
    "bmm": (lambda L, a, b, **k: L.bmm(a[None], b.T[None], **k), (1, 2, 2)),
    "cat": (lambda L, a, b, **k: L.cat([a, b], 1, **k), (2, 6)),
    "stack": (lambda L, a, b, **k: L.stack([a, b], **k), (2, 2, 3)),
    "hstack": (lambda L, a, b, **k: L.hstack([a, b], **k), (2, 6)),
    "exp": (lambda L, a, b, **k: L.exp(a, **k), (2, 3)),
    "clamp": (lambda L, a, b, **k: L.clamp(a, -0.5, 0.5, **k), (2, 3)),
    "sum": (lambda L, a, b, **k: L.sum(a, 1, **k), (2,)),
    "mean": (lambda L, a, b, **k: L.mean(a, 0, **k), (3,)),
    "pow": (lambda L, a, b, **k: L.pow(a, 2, **k), (2, 3)),
    "maximum": (lambda L, a, b, **k: L.maximum(a, b, **k), (2, 3)),
    "where": (lambda L, a, b, **k: L.where(a > b, a, b, **k), (2, 3)),
    "addmm": (lambda L, a, b, **k: L.addmm(a[:, :2], a, b.T, **k), (2, 2)),
    "cumsum": (lambda L, a, b, **k: L.cumsum(a, 1, **k), (2, 3)),
    "lerp": (lambda L, a, b, **k: L.lerp(a, b, 0.3, **k), (2, 3)),
}


@pytest.mark.parametrize("name", list(OUT_CALLS))
def test_out_writes_in_place_as_torch(name):
    fn, shape = OUT_CALLS[name]
    res = {}
    for L in (convgrad, torch):
        a, b = L.tensor(A), L.tensor(B)
        out = L.zeros(shape)
        alias = out.view(-1)
        r = fn(L, a, b, out=out)
        assert r is out
        res[L.__name__] = (out.numpy().copy(), alias.numpy().copy(), fn(L, a, b).numpy())
    for c, t in zip(res["convgrad"], res["torch"]):
        np.testing.assert_allclose(c, t, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res["convgrad"][0].reshape(-1), res["convgrad"][1])  # through views too


def test_out_resizes_with_a_warning_only_when_it_had_elements():
    for L in (convgrad, torch):
        a = L.tensor(A)
        empty = L.empty(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            L.add(a, 1, out=empty)
        assert tuple(empty.shape) == (2, 3)
        wrong = L.empty(5)
        with pytest.warns(UserWarning, match="resized"):
            L.mul(a, 2, out=wrong)
        assert tuple(wrong.shape) == (2, 3)
        np.testing.assert_allclose(wrong.numpy(), A * 2)
        reused = L.empty(7)
        reused.resize_(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            L.cat([a, a], out=reused)
        assert tuple(reused.shape) == (4, 3)


def test_out_dtype_rules_as_torch():
    cases = [
        (lambda L: L.add(L.ones(2), 1, out=L.empty(2, dtype=L.int64)), True),  # float into int: refused
        (lambda L: L.add(L.ones(2, dtype=L.int64), 1, out=L.empty(2, dtype=L.bool)), True),
        (lambda L: L.add(L.ones(2), 1, out=L.empty(2, dtype=L.float64)), False),  # wider: fine
        (lambda L: L.add(L.ones(2, dtype=L.int64), 1, out=L.empty(2)), False),  # int into float: fine
        (lambda L: L.add(L.ones(2, dtype=L.int64), 1, out=L.empty(2, dtype=L.int32)), False),
    ]
    for make, raises in cases:
        for L in (convgrad, torch):
            if raises:
                with pytest.raises(RuntimeError):
                    make(L)
            else:
                assert str(make(L).dtype).replace("torch.", "") == str(make(torch).dtype).replace(
                    "torch.", ""
                )
    with pytest.raises(
        RuntimeError, match=r"add: expected out to have a dtype the result's float32 can be cast"
    ):
        convgrad.add(convgrad.ones(2), 1, out=convgrad.empty(2, dtype=convgrad.int64))
    with pytest.raises(TypeError, match="argument 'out' must be Tensor, not list"):
        convgrad.add(convgrad.ones(2), 1, out=[1])


def test_out_refuses_autograd_as_torch():
    for L in (convgrad, torch):
        a = L.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            L.mul(a, 2, out=L.empty(2))
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            L.add(L.ones(2), 1, out=L.empty(2, requires_grad=True))
        with L.no_grad():
            out = L.empty(2)
            assert L.mul(a, 2, out=out) is out and not out.requires_grad


def test_tuple_out_as_torch():
    for L in (convgrad, torch):
        a = L.tensor(A)
        vals, idx = L.empty(2), L.empty(2, dtype=L.int64)
        r = L.max(a, 1, out=(vals, idx))
        assert r[0] is vals and r[1] is idx and r.values is vals
        np.testing.assert_array_equal(idx.numpy(), A.argmax(1))
        s_vals, s_idx = L.empty(0), L.empty(0, dtype=L.int64)
        L.sort(a, 1, out=(s_vals, s_idx))
        np.testing.assert_allclose(s_vals.numpy(), np.sort(A, 1))


def test_size_is_a_tuple_with_numel_as_torch():
    for shape in ((2, 3), (), (4, 0, 2)):
        c, t = convgrad.zeros(shape).shape, torch.zeros(shape).shape
        assert repr(c) == repr(t).replace("torch.", "convgrad.") and str(c) == str(t).replace(
            "torch.", "convgrad."
        )
        assert c.numel() == t.numel() and c == t and c == shape and isinstance(c, tuple)
        assert type(convgrad.zeros(shape).size()) is convgrad.Size
    c, t = convgrad.zeros(2, 3, 4).size(), torch.zeros(2, 3, 4).size()
    for fn in (lambda s: s[1:], lambda s: s + (5,), lambda s: (1,) + s, lambda s: s * 2, lambda s: s[::-1]):
        assert repr(fn(c)) == repr(fn(t)).replace("torch.", "convgrad.")
    assert c[0] == 2 and type(c[0]) is int and c.index(4) == 2
    assert convgrad.Size([2, 3]) == torch.Size([2, 3]) and convgrad.zeros(convgrad.Size([2, 1])).shape == (
        2,
        1,
    )
    with pytest.raises(TypeError):
        convgrad.Size([2.5])


def test_set_printoptions_as_torch():
    x = np.array([[1.123456789, 22.5, 3e-4], [4.0, 5.5, 6.25]], np.float32)
    try:
        for kwargs in ({"precision": 2}, {"precision": 6}, {"sci_mode": True}, {"profile": "short"}):
            convgrad.set_printoptions(**kwargs)
            torch.set_printoptions(**kwargs)
            for data in (x, np.arange(20, dtype=np.float32)):
                assert repr(convgrad.tensor(data)) == repr(torch.tensor(data)), kwargs
            convgrad.set_printoptions(profile="default")
            torch.set_printoptions(profile="default")
    finally:
        convgrad.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert convgrad.get_printoptions()["precision"] == 4
    convgrad.set_printoptions(threshold=5, edgeitems=1)
    try:  # summarised as PyTorch (NumPy puts one space before the ellipsis where PyTorch puts two)
        assert repr(convgrad.arange(20.0)) == "tensor([ 0., ..., 19.])"
    finally:
        convgrad.set_printoptions(profile="default")


def test_flags_and_compile():
    assert convgrad.are_deterministic_algorithms_enabled() == torch.are_deterministic_algorithms_enabled()
    convgrad.use_deterministic_algorithms(True)
    assert convgrad.are_deterministic_algorithms_enabled()
    convgrad.use_deterministic_algorithms(False)
    assert convgrad.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    convgrad.set_float32_matmul_precision("high")
    assert convgrad.get_float32_matmul_precision() == "high"
    convgrad.set_float32_matmul_precision("highest")
    net = convgrad.nn.Linear(2, 2)
    assert convgrad.compile(net) is net and convgrad.compile(mode="max-autotune")(net) is net
    assert isinstance(convgrad.ones(1).dtype, convgrad.dtype)


def test_deliberately_missing_names_say_so():
    want = r"^torch\.fft is not available in convgrad \(convgrad\.fft\): Fourier"
    with pytest.raises(NotImplementedError, match=want):
        convgrad.fft.fft(convgrad.ones(4))
    with pytest.raises(NotImplementedError, match=r"^torch\.erf is not available in convgrad"):
        convgrad.erf(convgrad.ones(4))
    with pytest.raises(NotImplementedError, match=r"^torch\.Tensor\.erfinv is not available in convgrad"):
        convgrad.ones(4).erfinv()
    with pytest.raises(NotImplementedError, match=r"^torch\.Tensor\.storage is not available .*NumPy array"):
        convgrad.ones(4).storage()
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'no_such_method'"):
        convgrad.ones(4).no_such_method()
    with pytest.raises(AttributeError, match="has no attribute 'no_such_function'") as e:
        convgrad.no_such_function  # noqa: B018
    assert not isinstance(e.value, NotImplementedError)
    assert "onnx" in convgrad._SUBPACKAGES and "onnx" not in _unsupported._REASONS["torch"]  # it is there
    # every name said to be missing is one PyTorch has, and convgrad really lacks
    for name in _unsupported._REASONS["torch"]:
        assert hasattr(torch, name), name
        assert name not in vars(convgrad), name
    for name in _unsupported._REASONS["Tensor methods"]:
        assert hasattr(torch.Tensor, name), name
        owner = next(k for k in convgrad.Tensor.__mro__ if name in vars(k))
        assert owner.__name__ == "NotProvidedMethods", (name, owner)
    for name in _unsupported._REASONS["torch.cuda"]:
        assert hasattr(torch.cuda, name) and name not in vars(convgrad.cuda), name


# a CNN course's torch.* and Tensor vocabulary: every name here must exist in convgrad (or be a deliberate,
# documented NotImplementedError above)
COURSE_TOPLEVEL = """
tensor as_tensor from_numpy zeros ones full empty zeros_like ones_like full_like empty_like rand
randn randint randperm rand_like randn_like randint_like arange linspace logspace eye normal
bernoulli multinomial cat concat concatenate stack hstack vstack dstack split chunk unbind squeeze
unsqueeze reshape flatten unflatten permute transpose t swapaxes movedim moveaxis narrow gather
scatter scatter_add index_select masked_select take where nonzero flip roll tile repeat_interleave
broadcast_to broadcast_tensors meshgrid tril triu diag diagonal trace add sub mul div true_divide
floor_divide remainder fmod pow exp exp2 expm1 log log2 log10 log1p sqrt rsqrt abs neg negative
reciprocal sign sin cos tan asin acos atan sinh cosh tanh sigmoid relu floor ceil round trunc frac
clamp clip square lerp addmm addmv addbmm baddbmm addcmul addcdiv matmul mm bmm mv dot outer einsum
softmax log_softmax sum mean median std var std_mean var_mean prod max min amax amin aminmax argmax
argmin logsumexp norm cumsum cumprod topk sort argsort kthvalue unique bincount histc count_nonzero
all any nansum nanmean diff eq ne lt le gt ge greater less equal allclose isclose isnan isinf
isfinite logical_and logical_or logical_xor logical_not maximum minimum searchsorted bucketize numel
is_tensor is_floating_point is_nonzero clone detach manual_seed seed initial_seed get_rng_state
set_rng_state no_grad enable_grad inference_mode set_grad_enabled is_grad_enabled set_printoptions
set_default_dtype get_default_dtype set_num_threads get_num_threads use_deterministic_algorithms
are_deterministic_algorithms_enabled set_float32_matmul_precision get_float32_matmul_precision
compile autocast Size dtype device Tensor Generator float float32 float64 double half float16 int
int32 int64 long short int16 int8 uint8 bool finfo iinfo promote_types result_type can_cast
is_complex save load cuda backends accelerator amp nn optim utils autograd""".split()
COURSE_TENSOR = """
new_ones new_zeros new_full new_empty new_tensor item tolist numpy size dim ndim numel nelement
element_size to cpu cuda float double half long int bool byte char short type type_as
is_floating_point is_contiguous contiguous stride data_ptr clone detach detach_ requires_grad_
retain_grad register_hook backward zero_ fill_ copy_ normal_ uniform_ bernoulli_ random_
exponential_ geometric_ log_normal_ cauchy_ fill_diagonal_ add sub mul div true_divide floor_divide
remainder fmod pow exp log log2 log10 log1p expm1 sqrt rsqrt abs neg reciprocal sign sin cos tan
tanh sigmoid relu floor ceil round trunc frac clamp clip square lerp addmm addmv baddbmm addcmul
addcdiv matmul mm bmm mv dot outer softmax log_softmax add_ sub_ mul_ div_ pow_ exp_ log_ sqrt_ abs_
neg_ clamp_ clip_ relu_ sigmoid_ tanh_ floor_ round_ lerp_ addcmul_ addcdiv_ masked_fill_
index_fill_ index_add_ index_copy_ scatter_ scatter_add_ unsqueeze_ squeeze_ t_ transpose_ resize_
resize_as_ sum mean median std var prod max min amax amin argmax argmin logsumexp norm cumsum
cumprod topk sort argsort kthvalue unique bincount histc count_nonzero all any nansum diff eq ne lt
le gt ge equal allclose isclose isnan isinf isfinite logical_and logical_or logical_not logical_xor
maximum minimum where masked_fill masked_select nonzero view view_as reshape reshape_as flatten
unflatten permute transpose swapaxes t squeeze unsqueeze expand expand_as repeat repeat_interleave
tile flip roll narrow split chunk unbind gather scatter index_select take diag diagonal tril triu
movedim __contains__ __rfloordiv__ __rmod__""".split()


def test_course_vocabulary_is_present():
    assert [n for n in COURSE_TOPLEVEL if not hasattr(convgrad, n)] == []
    assert [n for n in COURSE_TOPLEVEL if not hasattr(torch, n)] == []
    assert [n for n in COURSE_TENSOR if not any(n in vars(k) for k in convgrad.Tensor.__mro__)] == []
    assert [n for n in COURSE_TENSOR if not hasattr(torch.Tensor, n)] == []


def test_testing_assert_close_agrees_with_torch():
    cases = [
        (np.ones(3, np.float32), np.ones(3, np.float32) + 1e-6, {}),
        (np.ones(3, np.float32), np.ones(3, np.float32) + 1e-3, {}),
        (np.ones(3, np.float32), np.ones(3, np.float32) + 1e-3, {"rtol": 1e-2, "atol": 0.0}),
        (np.ones(3, np.float64), np.ones(3, np.float64) + 1e-6, {}),
        (np.ones(3, np.float32), np.ones(3, np.float64), {}),
        (np.ones(3, np.float32), np.ones(3, np.float64), {"check_dtype": False}),
        (np.ones(3, np.float32), np.ones(4, np.float32), {}),
        (np.array([1, 2]), np.array([1, 3]), {}),
        (np.array([np.nan], np.float32), np.array([np.nan], np.float32), {}),
        (np.array([np.nan], np.float32), np.array([np.nan], np.float32), {"equal_nan": True}),
    ]
    for a, e, kw in cases:
        outcomes = []
        for L in (convgrad, torch):
            try:
                L.testing.assert_close(L.tensor(a), L.tensor(e), **kw)
                outcomes.append("close")
            except AssertionError:
                outcomes.append("not close")
        assert outcomes[0] == outcomes[1], (a, e, kw, outcomes)
    with pytest.raises(AssertionError, match="Greatest absolute difference: 0.5 at index \\(1,\\)"):
        convgrad.testing.assert_close(convgrad.tensor([1.0, 2.0]), convgrad.tensor([1.0, 2.5]))
