"""The engine: graphs of every shape give PyTorch's gradients; the graph's rules (freeing, in-place
versions, grad modes, custom Functions) behave as PyTorch's do."""

import numpy as np
import pytest
import torch

import convgrad
from convgrad.autograd import Function, GradcheckError, gradcheck
from tests.parity import compare
from tests.strategies import arrays


def test_deep_chain_of_50_layers_matches_torch():
    rng = np.random.default_rng(0)
    ws = [(rng.standard_normal((8, 8)) / np.sqrt(8)).astype(np.float32) for _ in range(50)]

    def net(L, x, *w):
        for wi in w:
            x = (x @ wi).tanh() + x * 0.1
        return x.sum()

    compare(net, arrays((4, 8)), *ws, rtol=1e-4, atol=1e-5)


def test_very_deep_chain_has_no_recursion_limit():
    x = convgrad.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_diamonds_accumulate_every_path():
    def fn(L, a, b):
        c = a * b          # a used twice below through c and directly
        d = c + a
        e = c * d
        f = e.exp() * a + d.sigmoid() * c
        return f.sum() + (a * a).sum()

    compare(fn, arrays((3, 4)), arrays((3, 4), seed=1))


def test_tensor_used_many_times_in_one_op_and_across_ops():
    compare(lambda L, x: (x * x * x + x).sum() + L.stack([x, x, x]).sum(), arrays((5,)))


def test_gradients_accumulate_across_backward_calls():
    x = convgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [3 + 2, 3 + 4])


def test_shared_gradient_arrays_do_not_alias_between_leaves():
    a = convgrad.tensor([1.0, 2.0], requires_grad=True)
    b = convgrad.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad._data += 10
    np.testing.assert_allclose(b.grad._data, [1, 1])


def test_second_backward_through_freed_graph_raises():
    x = convgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp()).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = convgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad._data, 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_backward_on_non_scalar_needs_gradient():
    x = convgrad.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2, 3\)"):
        (x * 2).backward()
    (x * 2).backward(convgrad.ones(2, 3))
    assert (x.grad._data == 2).all()


def test_backward_gradient_of_wrong_shape():
    x = convgrad.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError,
                       match=r"expected a gradient of the output's shape \(2, 3\), got shape \(3,\)"):
        (x * 2).backward(convgrad.ones(3))


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        convgrad.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2], requires_grad=True)


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        convgrad.ones(2).sum().backward()


def test_no_grad_and_enable_grad():
    x = convgrad.ones(2, requires_grad=True)
    with convgrad.no_grad():
        y = x * 2
        with convgrad.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @convgrad.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert convgrad.is_grad_enabled()
    convgrad.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    convgrad.set_grad_enabled(True)


def test_inplace_modification_of_saved_tensor_is_detected():
    x = convgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.exp()          # exp saves its output z
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


def test_inplace_that_torch_allows_is_allowed():
    compare(lambda L, x: (x * 2).mul_(3).add_(1).relu_().sum(), arrays((3,)))


def test_inplace_on_leaf_requiring_grad_raises():
    x = convgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with convgrad.no_grad():
        x.add_(1)
        x -= 0.5
    np.testing.assert_allclose(x._data, [1.5, 1.5])
    assert x.is_leaf and x.requires_grad


def test_version_counter_counts_inplace_ops():
    x = convgrad.zeros(3)
    v = x._version
    x.add_(1)
    x.zero_()
    x[0] = 2.0
    assert x._version == v + 3


def test_custom_function_like_torch():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    x = convgrad.tensor([1.0, -2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [3.0, 12.0])
    gradcheck(Cube.apply, (convgrad.tensor([0.3, -1.2], dtype=convgrad.float64, requires_grad=True),))


def test_custom_function_needs_input_grad():
    seen = {}

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["needs"] = ctx.needs_input_grad
            a, b = ctx.saved_tensors
            return g * b, g * a

    a = convgrad.ones(2, requires_grad=True)
    Mul.apply(a, convgrad.ones(2)).sum().backward()
    assert seen["needs"] == (True, False)


def test_gradcheck_reports_the_worst_element():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2.5

    x = convgrad.tensor([1.0, 2.0], dtype=convgrad.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2,\)\).*worst element.*analytic.*numerical"):
        gradcheck(Wrong.apply, (x,))
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(lambda t: t * 2, (convgrad.ones(2, requires_grad=True),))


def test_hooks_and_retain_grad():
    x = convgrad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    y = x * 3
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.sum().backward()
    assert y.grad.tolist() == [1.0, 1.0]
    assert seen == [[1.0, 1.0]]
    assert x.grad.tolist() == [30.0, 30.0]


def test_detach_shares_memory_and_cuts_the_graph():
    x = convgrad.ones(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    d2 = x.detach()
    d2._data[0] = 5
    assert x._data[0] == 5


def test_autograd_grad_returns_without_accumulating():
    x = convgrad.tensor([1.0, 2.0], requires_grad=True)
    (g,) = convgrad.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(g._data, [2, 4])
    assert x.grad is None


def test_float64_graph_stays_float64_and_float32_stays_float32():
    for dt in (convgrad.float32, convgrad.float64):
        x = convgrad.ones(2, 3, dtype=dt, requires_grad=True)
        y = ((x * 2.5).exp() / 3 + 1).log().mean()
        y.backward()
        assert y.dtype == dt and x.grad.dtype == dt


@pytest.mark.parametrize("chain", [
    ("clamp_(min=0)", "relu_()"),
    ("clamp_(min=0)", "mul_(3)", "relu_()"),
    ("pow_(2)", "clamp_(max=5)"),
    ("pow_(3)", "mul_(2)"),
    ("abs_()", "add_(1)", "sqrt_()"),
    ("sin_()", "mul_(2)"),
])
def test_chains_of_inplace_ops_on_a_graph_tensor_match_torch(chain):
    """An in-place op whose backward needs its input keeps a copy of it (as PyTorch keeps the original
    self), so later in-place ops on the same tensor do not invalidate it."""
    grads = []
    for lib in (convgrad, torch):
        leaf = lib.tensor([-1.5, 0.5, 2.0, 3.0], requires_grad=True)
        x = leaf * 1
        for call in chain:
            eval(f"x.{call}")  # a fixed list of method calls
        (x * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        grads.append(leaf.grad.detach().numpy().copy() if lib is torch else leaf.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


@pytest.mark.parametrize("fill", [
    "zero_", "fill_", "normal_", "uniform_", "bernoulli_", "random_", "random_2",
    "exponential_", "geometric_", "log_normal_", "cauchy_"])
def test_a_fill_in_a_graph_stops_the_gradient_to_what_the_tensor_held(fill):
    """h = 2x, then h filled in place: h's old value gets no gradient (PyTorch's Fill/Zero/... nodes), where
    the old node would have passed one through the new values (x.grad 3x instead of x for zero_)."""
    args = {"fill_": (3.0,), "bernoulli_": (0.5,), "random_": (5,), "random_2": (1, 4),
            "geometric_": (0.5,)}.get(fill, ())
    method = fill.rstrip("2")
    results = {}
    for lib in (convgrad, torch):
        x = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
        h = x * 2
        getattr(h, method)(*args)
        name = h.grad_fn.name()
        (h.detach() * 0 + h * x).sum().backward()  # d/dx = h's new values, plus nothing through h
        results[lib.__name__] = (name, x.grad.numpy(), h.detach().numpy())
    (name_c, grad_c, h_c), (name_t, grad_t, _) = results["convgrad"], results["torch"]
    assert name_c == name_t
    np.testing.assert_array_equal(grad_c, h_c)  # the gradient is the filled values (random ones differ)
    if fill in ("zero_", "fill_"):
        np.testing.assert_array_equal(grad_c, grad_t)
