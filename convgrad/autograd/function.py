"""Graph nodes. An op is a class with ``forward(ctx, ...)`` and ``backward(ctx, grad)``; calling
``Op.apply(...)`` runs forward and, when a gradient is needed, keeps the instance (the ``ctx``) as the
node that backward will call.

``NumpyFunction`` is the form every built-in op takes: forward and backward see NumPy arrays, so an op
reads like the lecture's equations. ``Function`` is PyTorch's ``torch.autograd.Function``: forward and
backward see Tensors, for users who extend convgrad the way they extend PyTorch.
"""

import numpy as np

from convgrad.autograd.grad_mode import _state

Tensor = None  # convgrad.tensor sets this when it loads (it imports this module, not the reverse)
_recorder = None  # convgrad.onnx's tracer while it records a forward; None otherwise


class SavedTensorModifiedError(RuntimeError):
    pass


class Node:
    """What every node has: edges to the nodes that produced its inputs."""

    # edges: one entry per forward argument, (node, output_nr, shape, dtype) or None
    _edges = ()
    _n_outputs = 1
    _saved = None  # arrays saved for backward
    _saved_versions = None  # [(tensor, version)] checked before backward
    _released = False

    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self._edges)

    @property
    def name(self):
        return type(self).__name__


class AccumulateGrad(Node):
    """The node of a leaf tensor: backward adds the incoming gradient to ``tensor.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"


class NumpyFunction(Node):
    """Base of the built-in ops: ``forward(ctx, *arrays, ...) -> array or tuple of arrays`` and
    ``backward(ctx, *grad_arrays) -> one gradient (array or None) per forward argument``."""

    needs_input_grad = ()
    _non_differentiable = None
    _tensor_level = False  # Function (PyTorch's form) runs forward on Tensors
    materialize_grads = True

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        return self._saved

    def mark_non_differentiable(self, *arrays):
        self._non_differentiable = {id(a) for a in arrays}

    def mark_dirty(self, *args):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    # ---- the two halves written by each op ----
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    # ---- machinery ----
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward on the arrays inside ``args``; record this node when a gradient is needed."""
        if _recorder is not None:
            return _recorder(cls, args, kwargs)
        arrays = []
        edges = []
        need = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a._data)
                if a.requires_grad:
                    need = True
                    edges.append(a)
                    continue
            else:
                arrays.append(a)
            edges.append(None)
        need = need and _state.enabled
        ctx = cls.__new__(cls)
        if need:
            ctx.needs_input_grad = tuple([e is not None for e in edges])
        if cls._tensor_level:
            out = cls._run_forward(ctx, arrays, args, kwargs)
        else:
            out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is tuple:
            outs = tuple(_wrap(o) for o in out)
        else:
            outs = None
            result = _wrap(out)
        if not need:
            return outs if outs is not None else result
        ctx._edges = tuple([None if e is None else _edge(e) for e in edges])
        if ctx._saved:
            ctx._record_versions(args, outs if outs is not None else (result,))
        if outs is None:
            if result._data.dtype.kind in "fc":
                result.requires_grad = True
                result.grad_fn = ctx
            return result
        nondiff = ctx._non_differentiable
        ctx._n_outputs = len(outs)
        ctx._output_meta = tuple((t._data.shape, t._data.dtype) for t in outs)
        for i, t in enumerate(outs):
            if t._data.dtype.kind in "fc" and not (nondiff and id(t._data) in nondiff):
                t.requires_grad = True
                t.grad_fn = ctx
                t._output_nr = i
        return outs

    @classmethod
    def _run_forward(cls, ctx, arrays, args, kwargs):
        return cls.forward(ctx, *arrays, **kwargs)

    def _record_versions(self, args, outs):
        """Remember the version of each tensor whose array was saved, to catch later in-place edits."""
        versions = []
        for s in self._saved:
            if s is None:
                continue
            for t in args:
                if t.__class__ is not int and getattr(t, "_data", None) is s:
                    versions.append((t, t._vc[0]))
                    break
            else:
                for t in outs:
                    if t._data is s:
                        versions.append((t, t._vc[0]))
                        break
        self._saved_versions = versions

    def _check_versions(self):
        for t, v in self._saved_versions or ():
            if t._vc[0] != v:
                raise SavedTensorModifiedError(
                    f"{self.name}: one of the tensors needed for gradient computation has been modified "
                    f"by an in-place operation: a tensor of shape {tuple(t.shape)} is at version "
                    f"{t._vc[0]}; expected version {v}. Use an out-of-place operation (e.g. x = x + 1 "
                    "instead of x.add_(1)) or clone the tensor first."
                )

    def _call_backward(self, grads):
        if self._released:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time, but the values it "
                "saved for backward were already freed. Pass retain_graph=True to the first backward() "
                "call if you need to backward through the graph again."
            )
        return type(self).backward(self, *grads)

    def _release(self):
        """Free what forward kept for backward (the large arrays), keeping the edges."""
        d = self.__dict__
        kept = {k: d[k] for k in ("_edges", "_n_outputs", "_output_meta", "needs_input_grad") if k in d}
        had_state = len(d) > len(kept)
        d.clear()
        d.update(kept)
        self._released = had_state


class Function(NumpyFunction):
    """PyTorch's ``torch.autograd.Function``: subclass it with static ``forward(ctx, *tensors)`` and
    ``backward(ctx, *grad_tensors)`` and call ``YourFunction.apply(...)``. Both see Tensors; forward
    runs without recording a graph, as in PyTorch."""

    _tensor_level = True

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self):
        return NumpyFunction.saved_tensors.fget(self)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = {id(t._data) for t in tensors}

    @classmethod
    def _run_forward(cls, ctx, arrays, args, kwargs):
        from convgrad.autograd.grad_mode import no_grad

        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)

        def unwrap(o):
            if isinstance(o, Tensor):
                return o._data
            return np.asarray(o)

        if isinstance(out, tuple):
            return tuple(unwrap(o) for o in out)
        return unwrap(out)

    def _record_versions(self, args, outs):

        self._saved_versions = [(t, t._vc[0]) for t in self._saved if isinstance(t, Tensor)]

    def _call_backward(self, grads):
        from convgrad.autograd.grad_mode import no_grad

        if self._released:
            NumpyFunction._call_backward(self, grads)  # raises the freed-graph error
        with no_grad():
            res = type(self).backward(self, *(Tensor(g) if g is not None else None for g in grads))
        if not isinstance(res, tuple):
            res = (res,)
        return tuple(r._data if isinstance(r, Tensor) else r for r in res)


def _wrap(array):
    if type(array) is not np.ndarray:
        array = np.asarray(array)
    return Tensor._make(array)


def _edge(t):
    node = t.grad_fn
    if node is None:
        node = t._accumulator
        if node is None:
            node = t._accumulator = AccumulateGrad(t)
    return (node, t._output_nr, t._data.shape, t._data.dtype)


class RetainGrad(NumpyFunction):
    """An identity node placed after a non-leaf so its gradient can be kept or hooked."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        t = ctx.tensor
        for h in ctx.hooks:
            r = h(Tensor._make(g))
            if r is not None:
                g = r._data
        if t._retains_grad:
            t.grad = Tensor._make(g.copy()) if t.grad is None else Tensor._make(t.grad._data + g)
        return g

    @staticmethod
    def attach(t, hook=None):
        node = t.grad_fn
        if not isinstance(node, RetainGrad):
            out = RetainGrad.apply(t)
            node = out.grad_fn
            node.tensor, node.hooks = t, []
            t.grad_fn, t._output_nr = node, 0
        if hook is not None:
            node.hooks.append(hook)
            return RemovableHandle(node.hooks, hook)


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
