"""The fast ways a node is built (``NumpyFunction._apply_pair`` for the operators on two tensors of one
shape and dtype, ``_apply_one`` for unary methods such as relu) keep every guarantee of ``apply``: the
version check of what forward saved, PyTorch's graph structure, grad mode per thread."""

import os
import signal
import threading

import numpy as np
import pytest
import torch

import convgrad
from convgrad.autograd import grad_mode
from convgrad.autograd.function import SavedTensorModifiedError


def _inputs():
    a = convgrad.tensor([0.5, 2.0], requires_grad=True)
    b = convgrad.tensor([1.5, -1.0], requires_grad=True)
    return a * 1.0, b * 1.0  # non-leaves: they may be modified in place inside a graph


@pytest.mark.parametrize("op, name, modified", [
    (lambda p, q: p * q, "MulBackward0", 0), (lambda p, q: p * q, "MulBackward0", 1),
    (lambda p, q: p ** q, "PowBackward1", 0), (lambda p, q: p ** q, "PowBackward1", 1),
    (lambda p, q: p * p, "MulBackward0", 0),  # one tensor twice
], ids=["mul-first", "mul-second", "pow-first", "pow-second", "square"])
def test_an_input_saved_by_a_binary_operator_and_modified_in_place_raises_at_backward(op, name, modified):
    p, q = _inputs()
    y = op(p, q)
    assert y.grad_fn.name() == name
    (p, q)[modified].add_(1)
    with pytest.raises(SavedTensorModifiedError, match=rf"{name}: one of the tensors needed for gradient "
                       r"computation has been modified by an in-place operation: .* at version 1; "
                       r"expected version 0"):
        y.sum().backward()


def test_a_saved_input_that_needs_no_gradient_is_still_checked():
    a = convgrad.tensor([0.5, 2.0], requires_grad=True)
    c = convgrad.tensor([3.0, 4.0])  # a * c saves c for a's gradient
    y = a * c
    c.mul_(2)
    with pytest.raises(SavedTensorModifiedError, match="MulBackward0"):
        y.sum().backward()


@pytest.mark.parametrize("method", ["relu", "exp", "sigmoid", "tanh", "sqrt", "sin", "log"])
def test_unary_methods_check_what_they_saved(method):
    """relu, exp, sigmoid, tanh and sqrt save their output; sin and log their input."""
    x = convgrad.tensor([0.5, 2.0], requires_grad=True) * 1.0
    y = getattr(x, method)()
    x.add_(1)
    y.add_(1)
    with pytest.raises(SavedTensorModifiedError, match="modified by an in-place operation"):
        y.sum().backward()


def test_unmodified_fast_path_graphs_match_torch():
    a, b = np.array([0.5, 2.0], np.float32), np.array([1.5, -1.0], np.float32)
    grads = []
    for lib in (convgrad, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        c = lib.tensor(b)
        ((x * y + c).relu() * (x - c).tanh() + (y ** x).exp()).sum().backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    for g_c, g_t in zip(*grads):
        np.testing.assert_allclose(g_c, g_t, rtol=1e-6)


def test_fast_path_nodes_have_torchs_names_and_next_functions():
    def name(node):
        return None if node is None else node.name().rpartition("::")[2]

    def structure(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        h = x.relu()
        nodes = [(x * c).grad_fn, (c * x).grad_fn, (h + x).grad_fn, (c - h).grad_fn, h.relu().grad_fn]
        return [(name(n), [(name(m), nr) for m, nr in n.next_functions]) for n in nodes]

    assert structure(convgrad) == structure(torch)


def test_grad_mode_stays_per_thread():
    """A thread inside no_grad does not stop another from recording, and its own ops record nothing."""
    x = convgrad.tensor([1.0], requires_grad=True)
    inside, release, seen = threading.Event(), threading.Event(), {}
    off = grad_mode._off[0]  # threads with grad mode off now (0 unless an earlier test left one)

    def worker():
        with convgrad.no_grad():
            inside.set()
            release.wait(10)
            seen["worker"] = (x * x).requires_grad, x.relu().requires_grad, convgrad.is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(10)
    seen["main"] = (x * x).requires_grad, x.relu().requires_grad, convgrad.is_grad_enabled()
    release.set()
    t.join()
    assert seen == {"worker": (False, False, False), "main": (True, True, True)}
    assert grad_mode._off[0] == off  # the worker turned grad mode back on


def test_set_grad_enabled_as_a_call_counts_the_thread():
    x = convgrad.tensor([1.0], requires_grad=True)
    off = grad_mode._off[0]
    convgrad.set_grad_enabled(False)
    try:
        assert grad_mode._off[0] == off + 1 and not (x * x).requires_grad and not x.relu().requires_grad
        convgrad.set_grad_enabled(False)  # already off: this thread is counted once
        assert grad_mode._off[0] == off + 1
    finally:
        convgrad.set_grad_enabled(True)
    assert grad_mode._off[0] == off and (x * x).requires_grad


def test_a_detached_second_output_becomes_an_ordinary_leaf():
    """detach_ makes a leaf, whose edge is output 0 of its AccumulateGrad, even where the tensor was the
    second output of its node (the fast paths take a leaf's edge to be output 0)."""
    class TwoOutputs(convgrad.autograd.Function):  # not views: PyTorch forbids detach_ on those
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return 2 * g1 + 3 * g2

    x = convgrad.randn(4, 3, requires_grad=True)
    y = TwoOutputs.apply(x)[1]
    assert y.grad_fn is not None and y._output_nr == 1
    y.detach_()
    y.requires_grad_()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())
    assert x.grad is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_holds_the_grad_mode_count_can_still_change_grad_mode():
    """A DataLoader worker is forked from a process whose other threads may be entering no_grad: the child
    has only the forking thread, so it gets a free lock and a count of that thread alone (a lock held at the
    fork would never be released in the child, and its first no_grad would hang)."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with grad_mode._off_lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        pid = os.fork()
        if pid == 0:  # the child: exit 0 if no_grad works and counts this thread alone
            signal.alarm(10)  # a hang ends the child with SIGALRM
            try:
                x = convgrad.tensor([1.0], requires_grad=True)
                with convgrad.no_grad():
                    ok = grad_mode._off[0] == 1 and not (x * x).requires_grad
                ok = ok and grad_mode._off[0] == 0 and (x * x).requires_grad
            finally:
                os._exit(0 if ok else 1)
    finally:
        release.set()
        t.join()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
