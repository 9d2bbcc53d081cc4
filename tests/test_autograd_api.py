"""autograd.grad and backward(inputs=...) with PyTorch's semantics (no other leaf's .grad touched),
Function.mark_dirty, and the graph as PyTorch shows it: grad_fn names, reprs and next_functions."""

import re

import numpy as np
import pytest
import torch

import convgrad
from convgrad.autograd import Function, NumpyFunction

LIBS = (convgrad, torch)


def _leaves(lib):
    a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
    c = lib.tensor([3.0, 1.0, -2.0], requires_grad=True)
    return a, b, c


def _grads(*ts):
    return [None if t.grad is None else t.grad.numpy().copy() for t in ts]


def _same(x, y):
    assert len(x) == len(y)
    for p, q in zip(x, y):
        assert (p is None) == (q is None)
        if p is not None:
            np.testing.assert_allclose(p, q, rtol=1e-6)


def test_autograd_grad_touches_no_leaf_grad():
    out = []
    for lib in LIBS:
        a, b, c = _leaves(lib)
        b.grad = lib.tensor([7.0, 7.0, 7.0])
        y = (a * b * c).sum() + (b * b).sum()
        ga, gc = lib.autograd.grad(y, [a, c])
        out.append(([ga.numpy(), gc.numpy()], _grads(a, b, c)))
    assert out[0][1][0] is None and out[0][1][2] is None  # PyTorch leaves them None
    _same(out[0][0], out[1][0])
    _same(out[0][1], out[1][1])


def test_backward_inputs_fills_only_those():
    for inputs in ("a", "ab", "h", "hc", "ha", "hab"):
        out = []
        for lib in LIBS:
            a, b, c = _leaves(lib)
            h = a * b
            h.retain_grad()
            named = {"a": a, "b": b, "c": c, "h": h}
            ((h * c).sum() + h.pow(2).sum()).backward(inputs=[named[k] for k in inputs])
            out.append(_grads(a, b, c, h))
        _same(out[0], out[1])


def test_backward_inputs_accumulates_and_runs_leaf_hooks():
    out = []
    for lib in LIBS:
        a, b, c = _leaves(lib)
        a.register_hook(lambda g: g * 10)
        for _ in range(2):
            (a * b).sum().backward(inputs=[a])
        out.append(_grads(a, b, c))
    _same(out[0], out[1])
    assert out[0][1] is None


def test_backward_inputs_non_leaf_with_hook_as_torch():
    out = []
    for lib in LIBS:
        a, b, c = _leaves(lib)
        h = a * b
        h.register_hook(lambda g: g * 5)
        (h * c).sum().backward(inputs=[h, b])
        out.append(_grads(a, b, c, h))
    _same(out[0], out[1])


def test_grad_of_non_leaf_hooks_and_retain_grad_as_torch():
    out = []
    for lib in LIBS:
        a, b, c = _leaves(lib)
        a.register_hook(lambda g: g * 3)
        h = a * 2
        h.retain_grad()
        z = (h * c).sum()
        gh, ga = lib.autograd.grad(z, [h, a])
        out.append([gh.numpy(), ga.numpy()] + _grads(a, b, c, h))
    _same(out[0], out[1])


def test_grad_several_outputs_and_grad_outputs():
    out = []
    for lib in LIBS:
        a, b, _ = _leaves(lib)
        y1, y2 = a * b, (a * a).sum()
        (ga,) = lib.autograd.grad([y1, y2], a, grad_outputs=[lib.tensor([1.0, -1.0, 2.0]), None])
        out.append([ga.numpy()])
    _same(out[0], out[1])


def test_grad_wrt_parameters_generator():
    convgrad.manual_seed(0)
    model = convgrad.nn.Sequential(convgrad.nn.Linear(3, 4), convgrad.nn.Tanh(), convgrad.nn.Linear(4, 1))
    loss = model(convgrad.randn(5, 3)).pow(2).mean()
    grads = convgrad.autograd.grad(loss, model.parameters(), create_graph=True)
    assert [g.shape for g in grads] == [p.shape for p in model.parameters()]
    assert all(p.grad is None for p in model.parameters())
    penalty = sum((g * g).sum() for g in grads)
    penalty.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(TypeError, match="autograd.grad: expected inputs to be a Tensor or a sequence"):
        convgrad.autograd.grad(loss, 3)


def test_unused_and_non_grad_inputs():
    a, b, c = _leaves(convgrad)
    y = (a * b).sum()
    with pytest.raises(RuntimeError, match=r"autograd.grad: expected every input to be used .* got input 1"):
        convgrad.autograd.grad(y, [a, c], retain_graph=True)
    ga, gc = convgrad.autograd.grad(y, [a, c], allow_unused=True, retain_graph=True)
    assert gc is None and np.allclose(ga.numpy(), b.detach().numpy())
    (gc,) = convgrad.autograd.grad(y, [c], materialize_grads=True, retain_graph=True)
    assert np.array_equal(gc.numpy(), np.zeros(3, np.float32))
    with pytest.raises(RuntimeError, match="expected every input to require grad, got input 0"):
        convgrad.autograd.grad(y, [convgrad.ones(3)])
    with pytest.raises(RuntimeError, match="expected a non-empty inputs"):
        y.backward(inputs=[])
    with pytest.raises(RuntimeError, match="expected every output to require grad"):
        convgrad.autograd.grad(convgrad.ones(3).sum(), [a])


def test_grad_frees_the_graph_unless_retained():
    a, b, _ = _leaves(convgrad)
    y = (a * b).sum()
    convgrad.autograd.grad(y, [a])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        convgrad.autograd.grad(y, [a])


def test_grad_does_not_run_nodes_off_the_path():
    calls = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    a, b, _ = _leaves(convgrad)
    y = (Spy.apply(b) * a).sum()
    convgrad.autograd.grad(y, [a])
    assert calls == []
    convgrad.autograd.grad((Spy.apply(b) * a).sum(), [b])
    assert calls == [1]


class _MulTwoInPlace(Function):
    @staticmethod
    def forward(ctx, x):
        x.mul_(2)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_mark_dirty_in_place_function_as_torch():
    class TorchMulTwoInPlace(torch.autograd.Function):
        forward = staticmethod(_MulTwoInPlace.forward)
        backward = staticmethod(_MulTwoInPlace.backward)

    out = []
    for lib, fn in ((convgrad, _MulTwoInPlace), (torch, TorchMulTwoInPlace)):
        a = lib.tensor([1.0, -2.0], requires_grad=True)
        x = a * 3
        v0 = x._version
        y = fn.apply(x)
        assert y is x and x._version > v0
        (y * y).sum().backward()
        out.append([x.detach().numpy().copy(), a.grad.numpy()])
        with pytest.raises(RuntimeError, match="leaf"):
            fn.apply(lib.tensor([1.0], requires_grad=True))
    _same(out[0], out[1])


def test_mark_dirty_on_numpy_function_raises():
    class Bad(NumpyFunction):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

    with pytest.raises(NotImplementedError, match="Bad.mark_dirty"):
        Bad.apply(convgrad.ones(2, requires_grad=True))


# ---------------------------------------------------------------------- the graph as PyTorch shows it
def _graph_exprs(lib):
    F = lib.nn.functional
    g = torch.Generator().manual_seed(0)
    x = lib.tensor(torch.randn(3, 4, generator=g).numpy(), requires_grad=True)
    w = lib.tensor(torch.randn(5, 4, generator=g).numpy(), requires_grad=True)
    b = lib.tensor(torch.randn(5, generator=g).numpy(), requires_grad=True)
    img = lib.tensor(torch.randn(2, 3, 8, 8, generator=g).numpy(), requires_grad=True)
    k = lib.tensor(torch.randn(4, 3, 3, 3, generator=g).numpy(), requires_grad=True)
    t = lib.tensor([1, 0, 4])
    return {
        "add": x + 1, "add2": x + x, "sub": x - x * 2, "mul": x * 2, "div": x / 2, "neg": -x,
        "pow": x ** 2, "pow_tensor": x.abs() ** x, "exp": x.exp(), "log": x.abs().log(),
        "sqrt": x.abs().sqrt(),
        "tanh": x.tanh(), "sigmoid": x.sigmoid(), "relu": F.relu(x), "clamp": x.clamp(0, 1),
        "mm": x @ w.t(), "mv": x @ w[0], "dot": x[0] @ w[0], "sum": x.sum(), "sum_dim": x.sum(1),
        "mean": x.mean(), "mean_dim": x.mean(0), "max": x.max(), "max_dim": x.max(1)[0],
        "view": x.reshape(12), "permute": x.permute(1, 0), "expand": x.expand(2, 3, 4),
        "cat": lib.cat([x, x]), "stack": lib.stack([x, x]), "select": x[0], "slice": x[:, 1:],
        "index": x[[0, 2]],
        "linear": F.linear(x, w, b), "linear_nobias": F.linear(x, w), "conv2d": F.conv2d(img, k),
        "conv2d_bias": F.conv2d(img, k, b[:4]), "max_pool2d": F.max_pool2d(img, 2),
        "avg_pool2d": F.avg_pool2d(img, 2), "softmax": F.softmax(x, 1),
        "log_softmax": F.log_softmax(x, 1),
        "cross_entropy": F.cross_entropy(x @ w.t(), t), "nll": F.nll_loss(x @ w.t(), t),
        "mse": F.mse_loss(x, x.detach() * 2), "leaky_relu": F.leaky_relu(x), "elu": F.elu(x),
        "gelu": F.gelu(x), "softplus": F.softplus(x),
        "batch_norm": F.batch_norm(img, None, None, training=True),
        "to": x.to(lib.float64), "clone": x.clone(),
    }


def test_grad_fn_names_and_reprs_match_torch():
    ours, theirs = _graph_exprs(convgrad), _graph_exprs(torch)
    for key in ours:
        c, t = ours[key].grad_fn, theirs[key].grad_fn
        assert c.name() == t.name(), key
        assert re.fullmatch(rf"<{type(t).__name__} object at 0x[0-9a-f]+>", repr(c)), (key, repr(c))
    assert repr(ours["add"]).endswith(f"grad_fn=<{theirs['add'].grad_fn.name()}>)")


def _walk(fn, depth=0):
    """(depth, name, index) of every node below ``fn``, as the autograd tutorial walks them."""
    out = [(depth, fn.name(), None)]
    for child, index in fn.next_functions:
        if child is None:
            out.append((depth + 1, None, index))
        else:
            out += [(d, n, i if d > depth + 1 else index) for d, n, i in _walk(child, depth + 1)]
    return out


def test_next_functions_walk_matches_torch():
    def net(lib):
        F = lib.nn.functional
        g = torch.Generator().manual_seed(1)
        x = lib.tensor(torch.randn(2, 1, 6, 6, generator=g).numpy())
        k = lib.tensor(torch.randn(3, 1, 3, 3, generator=g).numpy(), requires_grad=True)
        kb = lib.tensor(torch.randn(3, generator=g).numpy(), requires_grad=True)
        w = lib.tensor(torch.randn(2, 12, generator=g).numpy(), requires_grad=True)
        h = F.max_pool2d(F.relu(F.conv2d(x, k, kb)), 2)
        # (not F.linear: PyTorch's shows its weight through a TBackward0 node of its own)
        return F.mse_loss((h.reshape(2, 12) * w).sum(1), lib.zeros(2)) * 2, k

    (loss_c, k_c), (loss_t, _) = net(convgrad), net(torch)
    assert _walk(loss_c.grad_fn) == _walk(loss_t.grad_fn)
    conv_c = loss_c.grad_fn.next_functions[0][0]
    while conv_c.name() != "ConvolutionBackward0":
        conv_c = conv_c.next_functions[0][0]
    assert conv_c.next_functions[0] == (None, 0)
    assert conv_c.next_functions[1][0].variable is k_c
    assert type(conv_c.next_functions[1][0]).__name__ == "AccumulateGrad"


def test_retain_grad_keeps_the_graph_as_torch_shows_it():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        assert y.grad_fn.name() == "MulBackward0"
        assert y.grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"
