"""Higher-order gradients (create_graph=True): second derivatives against PyTorch's, a WGAN-GP gradient
penalty through a small CNN, a Hessian-vector product through conv2d, and float64 finite differences of
first derivatives (gradcheck of autograd.grad's output)."""

import numpy as np
import pytest
import torch

import convgrad
from convgrad.autograd import gradcheck

LIBS = (convgrad, torch)


def _second_order(lib, fn, arrays, seed=0):
    """(first derivatives, derivatives of a random weighting of them) of ``fn(lib, F, *xs)`` in ``lib``."""
    F = lib.nn.functional
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = fn(lib, F, *xs)
    gs = lib.autograd.grad(y, xs, create_graph=True)
    rng = np.random.default_rng(seed)
    s = sum((g * lib.tensor(rng.standard_normal(g.shape).astype(arrays[0].dtype))).sum() for g in gs)
    ggs = lib.autograd.grad(s, xs, allow_unused=True, materialize_grads=True)
    return [g.detach().numpy() for g in gs], [g.detach().numpy() for g in ggs]


def _check_second_order(fn, *arrays, atol=1e-8, rtol=1e-6):
    (g_c, gg_c), (g_t, gg_t) = (_second_order(lib, fn, arrays) for lib in LIBS)
    for i, (a, b) in enumerate(zip(g_c, g_t)):
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=f"first derivative, input {i}")
    for i, (a, b) in enumerate(zip(gg_c, gg_t)):
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=f"second derivative, input {i}")


_R = np.random.default_rng(1)
_A = _R.standard_normal((3, 4))
_B = _R.standard_normal((3, 4)) + 3.0
_W = _R.standard_normal((4, 5))
_IMG = _R.standard_normal((2, 3, 7, 7))
_K = _R.standard_normal((4, 3, 3, 3)) * 0.5
_SEQ = _R.standard_normal((2, 3, 9))
_K1 = _R.standard_normal((2, 3, 3)) * 0.5
_DISTINCT = _R.permutation(12).reshape(3, 4) * 0.25 + 0.1

CASES = {
    "arithmetic": (lambda lib, F, a, b: (a * b * a - a / b + (-a) ** 2 - b.pow(a * 0.1)).sum(), _A, _B),
    "unary": (lambda lib, F, a, b: (a.exp() * b.log() + b.sqrt() * a.sin() + a.cos() * a.abs()).sum(),
              _A, _B),
    "unary_more": (lambda lib, F, a, b: (a.expm1() * b.log1p() + (a * 0.3).tan() * (a * 0.2).asin()
                                         + (a * 0.2).acos() * a.atan() + a.sinh() * b.cosh() * 0.1
                                         + lib.maximum(a, b - 3) * lib.minimum(a, b - 3)).sum(), _A, _B),
    "tanh_sigmoid_relu": (lambda lib, F, a, b: (a.tanh() * b.sigmoid() + (a * b).relu() ** 3).sum(), _A, _B),
    "matmul": (lambda lib, F, a, w: ((a @ w).tanh() @ w.t()).pow(2).sum() + (a[0] @ w).pow(3).sum(), _A, _W),
    "reductions": (lambda lib, F, a, b: (a.sum(1) * b.mean(0)[:3]).pow(2).sum() + a.logsumexp(1).pow(2).sum()
                   + (a * b).amax(1).pow(2).sum() + a.max(0)[0].pow(3).sum(), _DISTINCT, _B),
    "shapes": (lambda lib, F, a, b: (lib.cat([a, b], 1).reshape(4, 6).permute(1, 0)[1:4, ::2] ** 3).sum()
               + (lib.stack([a, b]).flip(0) * a.expand(2, 3, 4)).pow(2).sum()
               + lib.stack([a, b], 1)[1].pow(3).sum()
               + (F.pad(a, (1, 2)) ** 2 * 0.5).exp().sum() + a[[0, 2, 0]].pow(3).sum(), _A, _B),
    "gather_split": (lambda lib, F, a, b: (a.gather(1, lib.tensor([[0, 1], [3, 3], [2, 0]])) ** 3).sum()
                     + sum((p * p * q).sum() for p, q in zip(lib.split(a, 2, 1), lib.split(b, 2, 1))),
                     _A, _B),
    "activations": (lambda lib, F, a, w: (F.leaky_relu(a @ w, 0.1) ** 2 + F.elu(a @ w) ** 2
                                          + F.softplus(a @ w, beta=2.0) ** 2 + F.gelu(a @ w) ** 2
                                          + F.gelu(a @ w, approximate="tanh") ** 2 + F.silu(a @ w) ** 2
                                          + F.hardtanh(a @ w) ** 2).sum(), _A, _W),
    "softmax": (lambda lib, F, a, w: (F.softmax(a @ w, 1) ** 2).sum() + (F.log_softmax(a @ w, 0) ** 2).sum(),
                _A, _W),
    "losses": (lambda lib, F, a, w: F.cross_entropy(a @ w, lib.tensor([0, 3, 1]))
               + F.cross_entropy(a @ w, lib.tensor([4, 0, -100]), label_smoothing=0.1)
               + F.nll_loss(F.log_softmax(a @ w, 1), lib.tensor([2, 2, 1]), reduction="sum")
               + F.mse_loss((a @ w).tanh(), (a @ w).detach() * 0.5)
               + F.cross_entropy(a @ w, F.softmax(lib.tensor(_W[:3]), 1)), _A, _W),
    "linear": (lambda lib, F, a, w: F.linear(a, w.t(), w[0]).tanh().sum()
               + F.linear(a, w[:, 0]).pow(3).sum(), _A, _W),
    "conv2d": (lambda lib, F, x, k: F.conv2d(x, k, k[:, 0, 0, 0], stride=2, padding=1).tanh().sum(),
               _IMG, _K),
    "conv2d_dilation_groups": (lambda lib, F, x, k: F.conv2d(x[:, :2], k[:2, :1], groups=2, dilation=2,
                                                             padding=1).pow(3).sum(), _IMG, _K),
    "conv1d": (lambda lib, F, x, k: F.conv1d(x, k, padding="same").sigmoid().sum(), _SEQ, _K1),
    "conv_transpose2d": (lambda lib, F, x, k: F.conv_transpose2d(x, k.permute(1, 0, 2, 3), stride=2,
                                                                 padding=1).tanh().sum(),
                         _IMG[:, :, :4, :4], _K),
    "pooling": (lambda lib, F, x, k: F.max_pool2d(F.conv2d(x, k, padding=1) ** 2, 2).sum()
                + F.avg_pool2d(F.conv2d(x, k), 2, padding=1).pow(2).sum()
                + F.adaptive_avg_pool2d(F.conv2d(x, k), 1).pow(2).sum()
                + F.adaptive_avg_pool2d(F.conv2d(x, k), 3).pow(2).sum(), _IMG, _K),
    "batch_norm": (lambda lib, F, x, k: F.batch_norm(F.conv2d(x, k), None, None, k[:, 0, 0, 0], k[:, 0, 0, 1],
                                                     training=True).tanh().sum(), _IMG, _K),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives_match_torch(name):
    fn, *arrays = CASES[name]
    _check_second_order(fn, *arrays)


def _critic(lib, params, x):
    F = lib.nn.functional
    w1, b1, w2, b2, w3, b3 = params
    h = F.leaky_relu(F.conv2d(x, w1, b1, padding=1), 0.2)
    h = F.leaky_relu(F.conv2d(h, w2, b2, stride=2, padding=1), 0.2)
    return F.linear(h.reshape(h.shape[0], -1), w3, b3)


def test_wgan_gp_gradient_penalty_matches_torch():
    """The critic's loss with the gradient penalty ((|d critic(x_hat) / d x_hat| - 1)^2) of WGAN-GP:
    backward through a gradient computed with create_graph=True, in float32 as a user would run it."""
    rng = np.random.default_rng(0)
    shapes = [(8, 1, 3, 3), (8,), (16, 8, 3, 3), (16,), (1, 16 * 4 * 4), (1,)]
    params = [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in shapes]
    real = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    fake = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    eps = rng.random((4, 1, 1, 1)).astype(np.float32)
    results = []
    for lib in LIBS:
        ps = [lib.tensor(p, requires_grad=True) for p in params]
        e = lib.tensor(eps)
        x_hat = (e * lib.tensor(real) + (1 - e) * lib.tensor(fake)).requires_grad_(True)
        out = _critic(lib, ps, x_hat)
        (g,) = lib.autograd.grad(out, x_hat, grad_outputs=lib.ones(out.shape), create_graph=True)
        penalty = ((g.reshape(4, -1).norm(2, dim=1) - 1) ** 2).mean()
        critic_loss = _critic(lib, ps, lib.tensor(fake)).mean() - _critic(lib, ps, lib.tensor(real)).mean()
        loss = critic_loss + 10 * penalty
        loss.backward()
        assert x_hat.grad is not None
        results.append((penalty.item(), [p.grad.numpy() for p in ps]))
    (pen_c, grads_c), (pen_t, grads_t) = results
    np.testing.assert_allclose(pen_c, pen_t, rtol=1e-4)
    for a, b in zip(grads_c, grads_t):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-4)


def test_hessian_vector_product_through_conv2d_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = (rng.standard_normal((5, 3, 3, 3)) * 0.3).astype(np.float32)
    v = rng.standard_normal(w.shape).astype(np.float32)
    out = []
    for lib in LIBS:
        F = lib.nn.functional
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        loss = F.conv2d(xt, wt, stride=2, padding=1).tanh().pow(2).mean()
        (gw,) = lib.autograd.grad(loss, wt, create_graph=True)
        hv_w, hv_x = lib.autograd.grad((gw * lib.tensor(v)).sum(), [wt, xt])
        out.append((hv_w.numpy(), hv_x.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


GRADGRAD = {
    "conv2d": (lambda F, x, k: F.conv2d(x, k, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
               (1, 2, 6, 7), (3, 2, 2, 3)),
    "conv2d_groups": (lambda F, x, k: F.conv2d(x, k, groups=2, padding="same"), (2, 4, 5, 5), (4, 2, 3, 3)),
    "conv1d": (lambda F, x, k: F.conv1d(x, k, stride=2), (2, 2, 9), (3, 2, 3)),
    "conv_transpose2d": (lambda F, x, k: F.conv_transpose2d(x, k, stride=2, padding=1, output_padding=1),
                         (1, 2, 3, 3), (2, 3, 3, 3)),
    "linear_softmax": (lambda F, x, w: F.log_softmax(F.linear(x, w), 1), (3, 4), (5, 4)),
    "cross_entropy": (lambda F, x, w: F.cross_entropy(x @ w, convgrad.tensor([0, 2, 1]), label_smoothing=0.2),
                      (3, 4), (4, 3)),
    "pool": (lambda F, x, w: F.max_pool2d(x * w, 2) + F.avg_pool2d(x * w, 2), (1, 2, 4, 4), (1, 2, 4, 4)),
    "batch_norm": (lambda F, x, w: F.batch_norm(x, None, None, w[0], w[1], training=True),
                   (3, 2, 2, 2), (2, 2)),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD))
def test_gradcheck_of_first_derivative(name):
    """Finite differences of autograd.grad's output (create_graph) in float64: the second derivative."""
    fn, xs, ws = GRADGRAD[name]
    rng = np.random.default_rng(4)
    F = convgrad.nn.functional
    # distinct values keep the max pool's arg-max away from ties under the perturbation
    x = convgrad.tensor(rng.permutation(int(np.prod(xs))).reshape(xs) * 0.1 + rng.random(xs) * 0.01,
                        dtype=convgrad.float64, requires_grad=True)
    w = convgrad.tensor(rng.standard_normal(ws), dtype=convgrad.float64, requires_grad=True)

    def first_derivative(x, w):
        with convgrad.enable_grad():  # gradcheck's first call, for the output's shape, runs under no_grad
            y = fn(F, x, w)
            weight = convgrad.tensor(np.random.default_rng(5).standard_normal(y.shape))
            return convgrad.autograd.grad((y * weight).sum() + (y * y).sum(), (x, w), create_graph=True)

    assert gradcheck(first_derivative, (x, w), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_op_without_double_backward_raises_naming_it():
    x = convgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = convgrad.autograd.grad(x.prod() * x.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [42.0, 24.0, 18.0])  # prod/x_i * sum + prod
    with pytest.raises(RuntimeError, match="ProdBackward0.*create_graph"):
        convgrad.autograd.grad(g.sum(), x)


def test_in_place_ops_differentiable_twice():
    _check_second_order(lambda lib, F, a, b: ((a * b).exp_() * a).tanh().sum()
                        + (a + b).add_(a).mul_(2).sqrt_().pow(3).sum(), _A * 0.3 + 1, _B * 0.3)


@pytest.mark.parametrize("name, fn", [
    ("elu_", lambda lib, F, h: F.elu(h, inplace=True)),
    ("selu_", lambda lib, F, h: F.selu(h, inplace=True)),
    ("celu_", lambda lib, F, h: F.celu(h, alpha=0.7, inplace=True)),
    ("silu_", lambda lib, F, h: F.silu(h, inplace=True)),
    ("pow_", lambda lib, F, h: h.pow_(3)),
    ("log_", lambda lib, F, h: (h.abs() + 0.5).log_()),
    ("sin_", lambda lib, F, h: h.sin_()),
])
def test_in_place_ops_that_save_their_input_differentiable_twice(name, fn):
    """An in-place op whose backward reads its input keeps a copy of it (the write overwrites the buffer);
    under create_graph that copy is still the input in the graph, so the second derivative keeps the term
    through it (f''(x), nonzero for these)."""
    _check_second_order(lambda lib, F, a, b: (fn(lib, F, a * b) * a).sum(), _A, _B * 0.5)


def test_create_graph_keeps_float32():
    x = convgrad.randn(3, 4, requires_grad=True)
    (g,) = convgrad.autograd.grad((x.tanh() ** 2).sum(), x, create_graph=True)
    assert g.dtype == convgrad.float32 and g.requires_grad
    (gg,) = convgrad.autograd.grad(g.sum(), x)
    assert gg.dtype == convgrad.float32 and not gg.requires_grad
