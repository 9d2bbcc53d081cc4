"""A node that saved its own output links to it without a strong reference (the output's grad_fn is the
node: a cycle that only the cyclic garbage collector would free), and every autograd guarantee that used
the reference still holds: the version check, create_graph, hooks."""

import gc
import weakref

import numpy as np
import pytest
import torch

import convgrad
import convgrad.nn.functional as F
from convgrad.autograd.function import SavedTensorModifiedError


@pytest.fixture
def no_cycle_collector():
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if enabled:
        gc.enable()


@pytest.mark.parametrize("op", [
    lambda x: x.relu(), lambda x: x.exp(), lambda x: x.sigmoid(), lambda x: x.tanh(), lambda x: x.sqrt(),
    lambda x: x.sum().exp(),  # a 0-d output (NumPy gives a scalar): the other way a result is made
    lambda x: F.batch_norm_relu(x.reshape(2, 1), None, None, training=True),  # saves its output after x, w
], ids=["relu", "exp", "sigmoid", "tanh", "sqrt", "0-d exp", "batch_norm_relu"])
def test_a_dropped_graph_is_freed_by_reference_counting(no_cycle_collector, op):
    x = convgrad.tensor([0.5, 2.0], requires_grad=True)
    y = op(x)
    refs = [weakref.ref(y), weakref.ref(y.grad_fn), weakref.ref(y.grad_fn.saved_tensors[0])]
    tracked = len(gc.get_objects())
    del y
    assert [r() for r in refs] == [None, None, None]  # the tensor, its node and the saved array
    assert len(gc.get_objects()) < tracked


def test_graph_objects_do_not_pile_up_between_collections(no_cycle_collector):
    x = convgrad.tensor([0.5], requires_grad=True)
    for _ in range(10):
        x.relu()
    tracked = len(gc.get_objects())
    for _ in range(1000):
        x.relu().exp()
    assert len(gc.get_objects()) - tracked < 50  # before: ~10 cyclic objects per op, left for the collector


def test_saved_output_modified_through_a_detached_view_after_the_output_is_dropped():
    x = convgrad.tensor([0.5, 2.0], requires_grad=True)
    y = x.exp()
    d = y.detach()  # shares y's version counter
    z = y.sum()  # sum saves nothing of y: y's Tensor object dies with the name
    del y
    d.add_(1)
    with pytest.raises(SavedTensorModifiedError, match=r"ExpBackward0: one of the tensors needed for "
                       r"gradient computation has been modified by an in-place operation: a tensor of "
                       r"shape \(2,\) is at version 1; expected version 0"):
        z.backward()


def test_saved_output_modified_in_place_raises_as_before():
    x = convgrad.tensor([0.5, 2.0], requires_grad=True)
    y = x.relu()
    y.mul_(2)
    with pytest.raises(SavedTensorModifiedError, match=r"ReluBackward0: .* at version 1; expected version 0"):
        y.sum().backward()


@pytest.mark.parametrize("keep_output", [False, True])
def test_create_graph_through_a_saved_output_matches_torch(keep_output):
    """d^2/dx^2 of sum(sigmoid(x)): the first gradient y (1 - y) is built on the saved output y, alive or
    rebuilt from the node's link when its Tensor is gone."""
    results = []
    for lib in (convgrad, torch):
        x = lib.tensor([-1.0, 0.5, 2.0], dtype=lib.float64, requires_grad=True)
        y = x.sigmoid()
        z = y.sum()
        if not keep_output:
            del y
        (g,) = lib.autograd.grad(z, x, create_graph=True)
        (g * g).sum().backward()
        results.append((g.detach().numpy().copy(), x.grad.detach().numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_hook_on_a_saved_output_sees_the_second_order_gradient_as_in_torch():
    results = []
    for lib in (convgrad, torch):
        x = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=True)
        y = x.exp()
        y.register_hook(lambda g: g * 3)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        results.append((g.detach().numpy().copy(), x.grad.detach().numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_create_graph_through_an_inplace_op_on_a_graph_tensor_matches_torch():
    """``y.exp_()``: the node's saved output moves to y (its link follows), and the second derivative
    goes through it."""
    results = []
    for lib in (convgrad, torch):
        x = lib.tensor([0.25, 0.75], dtype=lib.float64, requires_grad=True)
        y = x * 2
        y.exp_()
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        results.append((g.detach().numpy().copy(), x.grad.detach().numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("copier", ["deepcopy", "pickle"])
def test_a_graph_with_saved_outputs_still_copies(copier):
    """Copying a non-leaf copies its graph (as before the links were weak): the copy's node links to the
    copied output, and a link whose output was gone stays gone."""
    import copy
    import pickle

    x = convgrad.tensor([0.5, 2.0], requires_grad=True)
    y = x.exp()
    z = x.sigmoid().sum()  # sigmoid's output Tensor is gone: its link is dead
    y2, z2 = copy.deepcopy((y, z)) if copier == "deepcopy" else pickle.loads(pickle.dumps((y, z)))
    (link, _), = y2.grad_fn._saved_versions
    assert link() is y2 and link._vc is y2._vc
    (dead, _), = z2.grad_fn.next_functions[0][0]._saved_versions
    assert dead() is None
    y2.sum().backward()
    z2.backward()
    x2 = y2.grad_fn.next_functions[0][0].variable
    s = 1 / (1 + np.exp(-x2._data))
    np.testing.assert_allclose(x2.grad._data, np.exp(x2._data) + s * (1 - s), rtol=1e-6)
    assert x.grad is None
