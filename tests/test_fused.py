"""Fused batch norm + ReLU (convgrad.functional.batch_norm_relu) against PyTorch's unfused
relu(batch_norm(...)): forward values, gradients, running statistics; bit-identical to convgrad's own
unfused pair; float64 gradient checks; the zoo's ResNet blocks using it, and falling back when a hook
must see the batch norm's output."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import convgrad
import convgrad.nn.functional as F
from convgrad.autograd.function import SavedTensorModifiedError
from convgrad.functional.fused import _BatchNormReLUTrain
from convgrad.vision import models
from tests.conftest import examples
from tests.parity import compare, gradcheck
from tests.strategies import arrays
from tests.test_normalization import _Running, bn_cases


def _bn_relu(lib, x, m, v, w, b, **kw):
    if lib is convgrad:
        return F.batch_norm_relu(x, m, v, w, b, **kw)
    return torch.relu(torch.nn.functional.batch_norm(x, m, v, w, b, **kw))


@settings(max_examples=examples(40))
@given(bn_cases())
def test_batch_norm_relu_matches_torch(case):
    # the cases of test_normalization's batch_norm test, on the fused op (evaluation: the unfused path)
    shape, training, affine, has_running, momentum, eps, noncontiguous, seed = case
    running = _Running(shape[1], seed, present=has_running or not training)
    params = [arrays((shape[1],), seed=seed + k) for k in (3, 4)]
    kw = dict(training=training, momentum=momentum, eps=eps)

    def fn(lib, x, *wb):
        wb = [(p.contiguous() if lib is torch else p) if affine else None for p in wb]  # see there
        return _bn_relu(lib, x, *running.make(lib), *wb, **kw)

    compare(fn, arrays(shape, seed=seed), *params, noncontiguous=noncontiguous, atol=1e-4)
    running.check()


def _pair(fused, x, w, b, g, noncontiguous=False):
    """Output, gradients and running statistics of the fused op or of relu(batch_norm(...))."""
    leaf = convgrad.tensor(np.ascontiguousarray(x.transpose(0, 1, 3, 2)) if noncontiguous else x,
                           requires_grad=True)
    xs = leaf.transpose(2, 3) if noncontiguous else leaf  # a strided view of x's values
    wt, bt = convgrad.tensor(w, requires_grad=True), convgrad.tensor(b, requires_grad=True)
    rm, rv = convgrad.zeros(w.shape[0]), convgrad.ones(w.shape[0])
    if fused:
        y = F.batch_norm_relu(xs, rm, rv, wt, bt, training=True, momentum=0.3)
        assert isinstance(y.grad_fn, _BatchNormReLUTrain)
    else:
        y = F.relu(F.batch_norm(xs, rm, rv, wt, bt, training=True, momentum=0.3))
    y.backward(convgrad.tensor(g))
    return y._data, leaf.grad._data, wt.grad._data, bt.grad._data, rm._data, rv._data


@pytest.mark.parametrize("shape", [(8, 3, 1, 1), (4, 16, 8, 8), (3, 5, 7, 2)])
@pytest.mark.parametrize("noncontiguous", [False, True])
def test_batch_norm_relu_is_bit_identical_to_the_unfused_pair(shape, noncontiguous):
    c = shape[1]
    x = arrays(shape, low=-3, high=5)
    w, b = arrays((c,), seed=1), arrays((c,), seed=2)
    g = arrays(shape, seed=3)
    fused, plain = _pair(True, x, w, b, g, noncontiguous), _pair(False, x, w, b, g, noncontiguous)
    for name, a, e in zip(("output", "dx", "dw", "db", "running_mean", "running_var"), fused, plain):
        assert a.dtype == e.dtype == np.float32, name
        assert np.array_equal(a, e), name
    assert (fused[0] == 0).any() and (fused[0] > 0).any()  # the mask cuts somewhere


def test_batch_norm_relu_float64_gradcheck():
    x = arrays((3, 2, 4), np.float64)
    w, b = arrays((2,), np.float64, seed=1), arrays((2,), np.float64, seed=2)
    gradcheck(lambda lib, x, w, b: F.batch_norm_relu(x, None, None, w, b, training=True), x, w, b)
    gradcheck(lambda lib, x: F.batch_norm_relu(x, None, None, training=True), arrays((5, 3), np.float64))


def test_batch_norm_relu_second_derivative_matches_torch():
    x = arrays((4, 3, 2, 2), np.float64)
    w, b = arrays((3,), np.float64, seed=1), arrays((3,), np.float64, seed=2)
    grads = {}
    for lib in (convgrad, torch):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        y = _bn_relu(lib, xt, None, None, wt, bt, training=True)
        (gx,) = lib.autograd.grad((y * y).sum(), xt, create_graph=True)
        (gw,) = lib.autograd.grad((gx * gx).sum(), wt)
        grads[lib.__name__] = np.asarray(gw.detach().numpy())
    np.testing.assert_allclose(grads["convgrad"], grads["torch"], rtol=1e-6, atol=1e-9)


def test_batch_norm_relu_output_changed_in_place_is_caught():
    x = convgrad.tensor(arrays((4, 3, 2, 2)), requires_grad=True)
    y = F.batch_norm_relu(x, None, None, training=True)
    y.mul_(2)  # the mask backward reads is gone
    with pytest.raises(SavedTensorModifiedError, match="modified by an in-place operation"):
        y.sum().backward()


def _resnet_step(model, x, y):
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss.item(), [p.grad._data.copy() for p in model.parameters()]


def test_resnet_blocks_use_the_fused_node_and_fall_back_for_hooks():
    convgrad.manual_seed(0)
    model = models.resnet20().train()
    x = convgrad.tensor(arrays((4, 3, 32, 32)))
    y = convgrad.tensor(np.array([1, 0, 3, 9]))
    nodes = []
    t = model(x)
    stack, seen = [t.grad_fn], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        nodes.append(type(n).__name__)
        stack.extend(e[0] for e in n._edges if e)
    assert nodes.count("_BatchNormReLUTrain") == 10  # the stem and the first half of each of 9 blocks
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fused = _resnet_step(model, x, y)
    model.load_state_dict(state)
    seen_bn = []
    for m in model.modules():  # a hook on every batch norm: its output must be seen, so no fusing
        if isinstance(m, convgrad.nn.BatchNorm2d):
            m.register_forward_hook(lambda mod, inp, out: seen_bn.append(out.grad_fn.name()))
    plain = _resnet_step(model, x, y)
    assert len(seen_bn) == 19 and set(seen_bn) == {"NativeBatchNormBackward0"}
    assert fused[0] == plain[0]
    for a, e in zip(fused[1], plain[1]):
        assert np.array_equal(a, e)
