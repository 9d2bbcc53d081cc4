"""Reverse-mode automatic differentiation: walk the graph from the output in reverse topological order,
call each node's backward, and add (+=) the gradients that reach the same node."""

import numpy as np

from convgrad.autograd.function import AccumulateGrad
from convgrad.tensor import Tensor


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes NumPy broadcasting added, so it has ``shape`` again (the one place
    where every broadcasting op's gradient is reduced)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        return np.broadcast_to(grad, shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape)


def _topological_order(root):
    """Nodes reachable from ``root``, each after every node that consumes it (iterative: deep nets
    don't hit Python's recursion limit)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for edge in node._edges:
            if edge is not None and edge[0] not in visited:
                stack.append((edge[0], False))
    order.reverse()
    return order


def run_backward(tensor, grad, retain_graph=False, inputs=None):
    root = tensor.grad_fn if tensor.grad_fn is not None else tensor._accumulator
    if root is None:
        from convgrad.autograd.function import _edge

        root = _edge(tensor)[0]
    # grads[node] is a list with one slot per output of the node
    grads = {root: [None] * root._n_outputs}
    grads[root][tensor._output_nr] = grad
    owned = set()  # ids of sums this pass made: safe to add into in place
    routed = {id(grad): 2}  # how many slots each array was routed to (the root's belongs to the caller)
    for node in _topological_order(root):
        node_grads = grads.pop(node, None)
        if node_grads is None:
            continue
        for g in node_grads:  # ids stay meaningful only while the arrays live in `grads`
            owned.discard(id(g))
        if type(node) is AccumulateGrad:
            g = node_grads[0]
            if g is not None:
                _accumulate_leaf(node.variable, g, routed)
            continue
        if node._saved_versions:
            node._check_versions()
        if node.materialize_grads and node._n_outputs > 1:
            node_grads = [
                g if g is not None else np.zeros(shape, dtype)
                for g, (shape, dtype) in zip(node_grads, node._output_meta)
            ]
        input_grads = node._call_backward(node_grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for edge, g in zip(node._edges, input_grads):
            if edge is None or g is None:
                continue
            nxt, output_nr, shape, dtype = edge
            if not isinstance(g, np.ndarray):
                g = np.asarray(g, dtype=dtype)
            if g.shape != shape:
                g = _unbroadcast(g, shape)
            if g.dtype != dtype:
                g = g.astype(dtype)
            routed[id(g)] = routed.get(id(g), 0) + 1
            slots = grads.get(nxt)
            if slots is None:
                slots = grads[nxt] = [None] * nxt._n_outputs
            prev = slots[output_nr]
            if prev is None:
                slots[output_nr] = g
            elif id(prev) in owned:
                prev += g
            else:
                total = prev + g
                owned.add(id(total))
                slots[output_nr] = total
        if not retain_graph:
            node._release()


def _accumulate_leaf(t, g, routed):
    for hook in t._hooks or ():
        r = hook(Tensor(g))
        if r is not None:
            g = r._data
    if t.grad is None:
        # keep g itself only when nothing else can see it: routed once, not a view
        if routed.get(id(g), 0) != 1 or g.base is not None or not g.flags.c_contiguous:
            g = np.array(g, dtype=t._data.dtype, copy=True)
        t.grad = Tensor(g)
    else:
        t.grad._data += g
