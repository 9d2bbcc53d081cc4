"""Reverse-mode automatic differentiation: walk the graph from the outputs in reverse topological order,
call each node's backward, and add (+=) the gradients that reach the same node.

Two modes share the walk. The usual one passes NumPy arrays between the nodes' NumPy backwards. With
``create_graph=True`` the gradients are Tensors and each node runs its backward written with Tensor ops
(``tensor_backward``), so the gradients are themselves recorded and can be differentiated again."""

import numpy as np

from convgrad.autograd.function import AccumulateGrad, RetainGrad, _edge
from convgrad.autograd.grad_mode import _set_enabled, _state
from convgrad.autograd.graph import call_tensor_backward
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


def _unbroadcast_tensor(grad, shape):
    """``_unbroadcast`` with Tensor ops, so the reduction is recorded (create_graph)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        return grad.expand(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    out = grad.sum(dim=axes, keepdim=True) if axes else grad
    return out.reshape(shape)


def _topological_order(roots):
    """Nodes reachable from ``roots``, each after every node that consumes it (iterative: deep nets
    don't hit Python's recursion limit). A node's inputs are explored first-edge-first, so the leaves it
    feeds (a layer's weight and bias) come right after it, not at the end of the walk: their gradients are
    final early, as in PyTorch, and DistributedDataParallel's all-reduces overlap the rest of backward."""
    order, visited = [], set()
    stack = [(root, False) for root in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for edge in reversed(node._edges):  # popped first-edge-first
            if edge and edge[0] not in visited:
                stack.append((edge[0], False))
    order.reverse()
    return order


def _needed(order, targets):
    """(nodes whose gradient is wanted: ``targets`` and every node on a path to one, the nodes among them
    whose backward must run: those with an edge into the first set)."""
    reach, run = set(targets), set()
    for node in reversed(order):  # producers before their consumers
        if any(e and e[0] in reach for e in node._edges):
            run.add(node)
            reach.add(node)
    return reach, run


def run_backward(tensors, grads, retain_graph=False, create_graph=False, inputs=None, accumulate=True):
    """Back-propagate ``grads`` (one per tensor of ``tensors``: arrays, or Tensors when ``create_graph``).

    ``inputs=None``: every leaf that requires grad gets its gradient added to ``.grad``. Otherwise only the
    gradients w.r.t. ``inputs`` are computed (nodes on no path to them do not run): added to their
    ``.grad`` when ``accumulate`` (``backward(inputs=...)``), else returned as a list in the order of
    ``inputs`` (None where unused) and no ``.grad`` is touched (``autograd.grad``)."""
    # grads_at[node] is a list with one slot per output of the node
    if isinstance(tensors, Tensor):  # one output (loss.backward()): no loop
        root = _edge(tensors)[0]
        grads_at = {root: [None] * root._n_outputs}
        grads_at[root][tensors._output_nr] = grads
        roots, grads = (root,), (grads,)
    else:
        grads_at = {}
        roots = []
        for t, g in zip(tensors, grads):
            node, nr = _edge(t)[:2]
            slots = grads_at.get(node)
            if slots is None:
                slots = grads_at[node] = [None] * node._n_outputs
                roots.append(node)
            slots[nr] = g if slots[nr] is None else slots[nr] + g
    order = _topological_order(roots)
    capture = run = None  # capture: node -> [(output_nr, position in inputs)]
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            node, nr = _edge(t)[:2]
            capture.setdefault(node, []).append((nr, i))
        reach, run = _needed(order, capture)
        order = [n for n in order if n in reach]
    results = [None] * len(inputs) if inputs is not None else None
    _callbacks.append([])  # this pass's queue (a hook may start a backward of its own)
    try:
        if not create_graph:  # NumPy arrays: nothing is recorded, whatever the grad mode
            _walk_arrays(order, grads_at, capture, run, results, inputs, retain_graph, accumulate, grads)
        else:
            prev = _state.enabled
            _set_enabled(True)  # the Tensor walk records
            try:
                _walk_graph(order, grads_at, capture, run, results, inputs, retain_graph, accumulate, grads)
            finally:
                _set_enabled(prev)
    except BaseException:
        _callbacks.pop()
        raise
    for callback in _callbacks.pop():
        callback()
    return results


_callbacks = []  # one list per backward pass in progress, innermost last


def queue_callback(callback):
    """Run ``callback()`` once the backward pass in progress has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``; DistributedDataParallel waits for its all-reduces so)."""
    if not _callbacks:
        raise RuntimeError("queue_callback: expected to be called during a backward pass (from a hook), "
                           "got a call outside backward")
    _callbacks[-1].append(callback)


def _run_post_accumulate_hooks(t):
    for hook in t._post_accumulate_hooks or ():
        hook(t)


def _captured(node, node_grads, capture, run, results, inputs, accumulate, as_tensor):
    """Deliver the gradients w.r.t. the requested inputs whose node is ``node``: into ``.grad`` or into
    ``results`` (a copy of the array: the engine's arrays may be read-only broadcasts or shared). The
    tensor's hooks run first, as in PyTorch."""
    for nr, i in capture[node]:
        g = node_grads[nr]
        if g is None:
            continue
        t = inputs[i]
        if type(node) is AccumulateGrad:
            g = _run_leaf_hooks(t, g, as_tensor)
        elif type(node) is RetainGrad:  # a non-leaf with hooks or retain_grad()
            for hook in node.hooks:
                r = hook(g if as_tensor else Tensor._make(g))
                if r is not None:
                    g = r if as_tensor else r._data
            if accumulate and t._retains_grad and node in run:
                continue  # the node's own backward, which runs, keeps it in .grad
        if accumulate:
            _store_grad(t, g, as_tensor)
            if t._post_accumulate_hooks and type(node) is AccumulateGrad:
                _run_post_accumulate_hooks(t)
        else:
            results[i] = g if as_tensor else Tensor._make(np.array(g, dtype=t._data.dtype, copy=True))


def _steps(order, grads, capture, run, results, inputs, retain_graph, accumulate, as_tensor, leaf,
           owned=None):
    """The walk both modes share: for each node of ``order`` that gradients reached, deliver those asked for
    (``capture``), hand a leaf's to ``leaf(tensor, g)`` (a full backward), or run the node's backward and
    yield (node, gradients w.r.t. its inputs, one per edge) for the caller to route; the node's saved
    arrays are freed once they are routed. ``owned``: the array walk's ids of sums it may add into."""
    for node in order:
        node_grads = grads.pop(node, None)
        if node_grads is None:
            continue
        if owned is not None:
            for g in node_grads:  # ids stay meaningful only while the arrays live in `grads`
                owned.discard(id(g))
        if capture is not None:
            if node in capture:
                _captured(node, node_grads, capture, run, results, inputs, accumulate, as_tensor)
            if node not in run:
                continue
        elif type(node) is AccumulateGrad:
            g = node_grads[0]
            if g is not None:
                leaf(node.variable, g)
                if node.variable._post_accumulate_hooks:
                    _run_post_accumulate_hooks(node.variable)
            continue
        if node._saved_versions:
            node._check_versions()
        if node._n_outputs > 1 and node.materialize_grads:
            zeros = (lambda s, d: Tensor._make(np.zeros(s, d))) if as_tensor else np.zeros
            node_grads = [g if g is not None else zeros(shape, dtype)
                          for g, (shape, dtype) in zip(node_grads, node._output_meta)]
        input_grads = call_tensor_backward(node, node_grads) if as_tensor else node._call_backward(node_grads)
        yield node, input_grads if isinstance(input_grads, tuple) else (input_grads,)
        if not retain_graph:
            node._release()


def _walk_arrays(order, grads, capture, run, results, inputs, retain_graph, accumulate, root_grads):
    owned = set()  # ids of sums this pass made: safe to add into in place
    routed = dict.fromkeys(map(id, root_grads), 2)  # slots each array was routed to (roots: the caller's)
    steps = _steps(order, grads, capture, run, results, inputs, retain_graph, accumulate, False,
                   lambda t, g: _accumulate_leaf(t, g, routed), owned)
    for node, input_grads in steps:
        for edge, g in zip(node._edges, input_grads):
            if not edge or g is None:
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


def _walk_graph(order, grads, capture, run, results, inputs, retain_graph, accumulate, root_grads):
    steps = _steps(order, grads, capture, run, results, inputs, retain_graph, accumulate, True,
                   lambda t, g: _store_grad(t, _run_leaf_hooks(t, g, True), True))
    for node, input_grads in steps:
        for edge, g in zip(node._edges, input_grads):
            if edge and g is not None:
                nxt, output_nr, shape, dtype = edge
                g = _as_input_grad(g, shape, dtype)
                slots = grads.setdefault(nxt, [None] * nxt._n_outputs)
                prev = slots[output_nr]
                slots[output_nr] = g if prev is None else prev + g


def _as_input_grad(g, shape, dtype):
    """A gradient Tensor (recorded) in the shape and dtype of the input it is for."""
    if not isinstance(g, Tensor):
        g = Tensor._make(np.asarray(g, dtype=dtype))
    if g.shape != shape:
        g = _unbroadcast_tensor(g, shape)
    return g if g.dtype == dtype else g.to(dtype)


def _run_leaf_hooks(t, g, as_tensor):
    for hook in t._hooks or ():
        r = hook(g if as_tensor else Tensor._make(g))
        if r is not None:
            g = r if as_tensor else r._data
    return g


def _store_grad(t, g, as_tensor):
    """Add ``g`` to ``t.grad`` (a new Tensor when there is none): in place for arrays, recorded (out of
    place) for the Tensors of create_graph."""
    if as_tensor:
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is None:
        t.grad = Tensor._make(np.array(g, dtype=t._data.dtype, copy=True))
    else:
        t.grad._data += g


def _accumulate_leaf(t, g, routed):
    for hook in t._hooks or ():
        r = hook(Tensor._make(g))
        if r is not None:
            g = r._data
    if t.grad is None:
        # keep g itself only when nothing else can see it: routed once, not a view
        if routed.get(id(g), 0) != 1 or g.base is not None or not g.flags.c_contiguous:
            g = np.array(g, dtype=t._data.dtype, copy=True)
        t.grad = Tensor._make(g)
    else:
        t.grad._data += g


# ---------------------------------------------------------------------- the public entry points
def _as_tuple(op, name, value):
    """A Tensor, or any iterable of them (a list, ``model.parameters()``), as a tuple."""
    if isinstance(value, Tensor):
        return (value,)
    try:
        values = tuple(value)
    except TypeError:
        values = None
    if values is None or not all(isinstance(v, Tensor) for v in values):
        raise TypeError(f"{op}: expected {name} to be a Tensor or a sequence of Tensors, got "
                        f"{type(value).__name__}")
    return values


def _initial_grads(op, outputs, grad_outputs, create_graph):
    """dL/d(output) for each output: ones for a scalar output without one; arrays, or Tensors when
    ``create_graph`` (a given Tensor keeps its own graph, so it can be differentiated too)."""
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{op}: expected one grad_output per output ({len(outputs)}), got "
                           f"{len(grad_outputs)}")
    grads = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(
                f"{op}: expected every output to require grad, got output {i} (element {i} of tensors) "
                "that does not require grad and has no grad_fn: compute it from tensors with "
                "requires_grad=True")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs; expected a gradient "
                    f"for output {i} of shape {tuple(t.shape)}, got none (pass it as gradient= or "
                    "grad_outputs=)")
            g = np.ones(t._data.shape, t._data.dtype)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._make(np.asarray(g))
            if g.shape != t.shape:
                raise RuntimeError(f"{op}: expected a gradient of the output's shape {tuple(t.shape)}, got "
                                   f"shape {tuple(g.shape)} (output {i})")
            if not create_graph:
                g = g._data.astype(t._data.dtype, copy=False)
            elif g.dtype != t.dtype:
                g = g.to(t.dtype)
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._make(g)
        grads.append(g)
    return grads


def _check_inputs(op, inputs):
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: expected every input to require grad, got input {i} of shape "
                               f"{tuple(t.shape)} that does not (one of the differentiated Tensors does "
                               "not require grad)")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Add the gradient of ``tensors`` (weighted by ``grad_tensors``) w.r.t. the leaves to their ``.grad``;
    with ``inputs``, only to those tensors' ``.grad`` (leaves or not). ``create_graph``: the gradients are
    recorded, so they can be differentiated again (``retain_graph`` then defaults to True)."""
    op = "backward"
    if (grad_tensors is None and inputs is None and not create_graph and type(tensors) is Tensor
            and tensors.requires_grad and tensors._data.size == 1):  # loss.backward(): the usual call
        data = tensors._data
        run_backward(tensors, np.ones(data.shape, data.dtype), retain_graph=bool(retain_graph))
        return
    tensors = _as_tuple(op, "tensors", tensors)
    if inputs is not None:
        inputs = _as_tuple(op, "inputs", inputs)
        if not inputs:
            raise RuntimeError(f"{op}: expected a non-empty inputs, got {inputs}")
        _check_inputs(op, inputs)
    grads = _initial_grads(op, tensors, grad_tensors, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(tensors, grads, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` (weighted by ``grad_outputs``) w.r.t. each of ``inputs``, returned as a
    tuple; no tensor's ``.grad`` changes. ``create_graph=True`` records them, for higher-order gradients
    (gradient penalties, Hessian-vector products). An input the outputs do not depend on raises unless
    ``allow_unused`` (then None, or zeros with ``materialize_grads``)."""
    op = "autograd.grad"
    if is_grads_batched:
        raise NotImplementedError(f"{op}: is_grads_batched=True (vmap over grad_outputs) is not supported "
                                  "in convgrad; loop over the grad_outputs instead")
    outputs = _as_tuple(op, "outputs", outputs)
    inputs = _as_tuple(op, "inputs", inputs)
    _check_inputs(op, inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _initial_grads(op, outputs, grad_outputs, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    results = run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                           inputs=inputs, accumulate=False)
    for i, (t, r) in enumerate(zip(inputs, results)):
        if r is None:
            if not allow_unused:
                raise RuntimeError(
                    f"{op}: expected every input to be used in computing the outputs, got input {i} of "
                    f"shape {tuple(t.shape)} unused (pass allow_unused=True to get None for it)")
            if materialize_grads:
                results[i] = Tensor._make(np.zeros(t._data.shape, t._data.dtype))
    return tuple(results)
