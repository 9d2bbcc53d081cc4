"""Higher-order gradients (``create_graph=True``), as Chainer does them: each op may give, beside its
fast NumPy ``backward``, a ``tensor_backward(ctx, *grads)`` computing the same gradients with Tensor ops,
so that the gradient is recorded in the graph and can be differentiated again (gradient penalties,
Hessian-vector products). The engine calls it through ``call_tensor_backward``; an op without one runs
its NumPy backward and its result gets a node that raises, naming the op, if a later backward reaches it.
"""

import numpy as np

from convgrad.autograd import function
from convgrad.autograd.function import NumpyFunction, SavedOutput, _edge


def _tensor_cls():
    return function.Tensor  # set by convgrad.tensor when it loads (it imports this layer, not the reverse)


def saved_as_tensors(ctx):
    """``ctx``'s saved arrays as Tensors linked into the graph: an array that is the data of one of the op's
    inputs is that input, one of its outputs that output (whose node is ``ctx``), anything else a constant.
    Only ``save_for_backward`` gives this link; arrays kept as attributes on ``ctx`` are constants."""
    tensor = _tensor_cls()
    versions = ctx._saved_versions or ()
    out = []
    for s in ctx._saved or ():
        if not isinstance(s, np.ndarray):
            out.append(s)
            continue
        for t, _ in versions:
            if t._data is s:
                out.append(t.tensor(ctx) if type(t) is SavedOutput else t)
                break
        else:
            out.append(tensor._make(s))
    return tuple(out)


def call_tensor_backward(node, grads):
    """The gradients w.r.t. ``node``'s inputs as Tensors recorded in the graph (``grads``: Tensors)."""
    if node._released:
        node._call_backward(grads)  # raises the freed-graph error
    if node._tensor_level:  # a user's Function: its backward is written with Tensor ops already
        res = type(node).backward(node, *grads)
        return res if isinstance(res, tuple) else (res,)
    tensor_backward = getattr(type(node), "tensor_backward", None)
    if tensor_backward is not None:
        return tensor_backward(node, *grads)
    return _not_differentiable(node, grads)


class NoDoubleBackward(NumpyFunction):
    """Stands for the gradient an op without ``tensor_backward`` computed under create_graph: its inputs
    are the op's inputs and the incoming gradients; differentiating through it raises, naming the op."""

    def _call_backward(self, grads):
        raise RuntimeError(
            f"{self.op_name}: expected an op whose backward is differentiable, got {self.op_name} "
            f"(convgrad's {self.op_class}), whose gradient was computed with create_graph=True but has no "
            "derivative in convgrad: a higher-order gradient through it is not supported"
        )


def _not_differentiable(node, grads):
    tensor = _tensor_cls()
    res = node._call_backward([None if g is None else g._data for g in grads])
    if not isinstance(res, tuple):
        res = (res,)
    err = NoDoubleBackward.__new__(NoDoubleBackward)
    err.op_name, err.op_class = node.name(), type(node).__name__
    err._edges = tuple(e for e in node._edges if e) + tuple(
        _edge(g) for g in grads if g is not None and g.requires_grad
    )
    outs, meta = [], []
    for e, r in zip(node._edges, res):
        if not e or r is None:
            outs.append(None)
            continue
        t = tensor._make(np.asarray(r, dtype=e[3]))
        t.requires_grad, t.grad_fn, t._output_nr = True, err, len(meta)
        meta.append((t._data.shape, t._data.dtype))
        outs.append(t)
    err._n_outputs, err._output_meta = len(meta), tuple(meta)
    return tuple(outs)


def constant(array):
    """A Tensor outside the graph (a mask or coefficient of a recorded gradient)."""
    return _tensor_cls()._make(array)


# ---------------------------------------------------------------------- shared forms of tensor_backward
class PointwiseGrad(NumpyFunction):
    """gx = g f'(x) for an elementwise f, as an op of its own: d(gx)/dg = f'(x), d(gx)/dx = g f''(x).
    ``op`` is f's node; its class gives ``derivative(ctx, x)`` and ``second_derivative(ctx, x)``."""

    @staticmethod
    def forward(ctx, g, x, op):
        ctx.save_for_backward(g, x)
        ctx.op = op
        return g * type(op).derivative(op, x).astype(g.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        op = type(ctx.op)
        need_g, need_x = ctx.needs_input_grad[:2]
        gg_g = gg * op.derivative(ctx.op, x).astype(gg.dtype, copy=False) if need_g else None
        gg_x = gg * g * op.second_derivative(ctx.op, x).astype(gg.dtype, copy=False) if need_x else None
        return gg_g, gg_x, None


def pointwise_tensor_backward(ctx, g):
    """``tensor_backward`` of an elementwise op whose first argument is its only tensor, saved first."""
    x = saved_as_tensors(ctx)[0]
    return (PointwiseGrad.apply(g, x, ctx),) + (None,) * (len(ctx._edges) - 1)


class LinearGrad(NumpyFunction):
    """gx = op.backward(g) for an op whose gradient is linear in g and locally constant in its input
    (pooling), as an op of its own; its gradient is the op's Jacobian applied to the incoming gradient,
    ``jvp(ctx, v, out_shape)`` of the op's class (the window average again, the pick of each arg-max)."""

    @staticmethod
    def forward(ctx, g, op):
        ctx.op, ctx.shape = op, g.shape
        return type(op).backward(op, g)[0]

    @staticmethod
    def backward(ctx, v):
        return type(ctx.op).jvp(ctx.op, v, ctx.shape), None


class Scratchpad:
    """A throwaway ctx, for running an op's forward as the Jacobian of its linear backward."""
