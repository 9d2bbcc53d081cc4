"""Graph nodes. An op is a class with ``forward(ctx, ...)`` and ``backward(ctx, grad)``; calling
``Op.apply(...)`` runs forward and, when a gradient is needed, keeps the instance (the ``ctx``) as the
node that backward will call.

``NumpyFunction`` is the form every built-in op takes: forward and backward see NumPy arrays, so an op
reads like the lecture's equations. ``Function`` is PyTorch's ``torch.autograd.Function``: forward and
backward see Tensors, for users who extend convgrad the way they extend PyTorch.
"""

import weakref

import numpy as np

from convgrad.autograd.grad_mode import _off, _state
from convgrad.autograd.names import node_name

Tensor = None  # convgrad.tensor sets this when it loads (it imports this module, not the reverse)
_recorder = None  # convgrad.onnx's tracer while it records a forward; None otherwise


class SavedTensorModifiedError(RuntimeError):
    pass


class Node:
    """What every node has: edges to the nodes that produced its inputs."""

    # edges: one entry per forward argument: (node, output_nr, shape, dtype) for a tensor that requires
    # grad, None for one that does not, False for an argument that is not a tensor (a dim, a stride)
    _edges = ()
    _n_outputs = 1
    _saved = None  # arrays saved for backward
    _saved_versions = None  # [(tensor or SavedOutput, version)] checked before backward
    _released = False
    _scalar_operands = False  # a Python number argument counts as an input (PyTorch's a + 1, a * 2)

    @property
    def next_functions(self):
        """PyTorch's ``((node, output_nr), ...)``, one pair per tensor input: the node that made it (an
        ``AccumulateGrad`` for a leaf), or ``(None, 0)`` for an input that needs no gradient."""
        keep_numbers = self._scalar_operands
        return tuple((e[0], e[1]) if e else (None, 0) for e in self._edges if e is not False or keep_numbers)

    def name(self):
        """PyTorch's name for this node (``AddBackward0``, ``ConvolutionBackward0``, ...)."""
        return node_name(self)

    def __repr__(self):
        return f"<{node_name(self).rpartition('::')[2]} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The node of a leaf tensor: backward adds the incoming gradient to ``tensor.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable


class NumpyFunction(Node):
    """Base of the built-in ops: ``forward(ctx, *arrays, ...) -> array or tuple of arrays`` and
    ``backward(ctx, *grad_arrays) -> one gradient (array or None) per forward argument``."""

    needs_input_grad = ()
    _non_differentiable = None
    _dirty = None
    _tensor_level = False  # Function (PyTorch's form) runs forward on Tensors
    materialize_grads = True
    # ``tensor_backward(ctx, *grad_tensors)``: the same gradients computed with Tensor ops, so that they
    # are recorded (create_graph=True, see convgrad.autograd.graph); None: not differentiable twice
    tensor_backward = None

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        return self._saved

    def mark_non_differentiable(self, *arrays):
        self._non_differentiable = {id(a) for a in arrays}

    def mark_dirty(self, *args):
        raise NotImplementedError(
            f"{type(self).__name__}.mark_dirty: in-place NumpyFunctions are not supported: write the op "
            "out of place (Tensor methods like add_ apply it in place for you), or subclass "
            "convgrad.autograd.Function, whose mark_dirty works as PyTorch's")

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
        # One walk over the arguments (this runs once per op: every lookup here is paid per op). With
        # grad mode on, the edges are made as the arrays are taken; ``edges`` stays None when no input
        # requires grad, so such a node is never recorded.
        tensor = Tensor
        arrays = []
        edges = None
        if not _off[0] or _state.enabled:
            flags = []
            for a in args:
                if isinstance(a, tensor):
                    data = a._data
                    arrays.append(data)
                    if a.requires_grad:
                        if edges is None:  # the arguments before this one (none, usually) get their entries
                            edges = [None if isinstance(b, tensor) else False for b in args[:len(flags)]] \
                                if flags else []
                        node = a.grad_fn
                        if node is None:
                            node = a._accumulator
                            if node is None:
                                node = a._accumulator = AccumulateGrad(a)
                        edges.append((node, a._output_nr, data.shape, data.dtype))
                        flags.append(True)
                        continue
                    if edges is not None:
                        edges.append(None)
                else:
                    arrays.append(a)
                    if edges is not None:
                        edges.append(False)
                flags.append(False)
        else:
            for a in args:
                arrays.append(a._data if isinstance(a, tensor) else a)
        tensor_level = cls._tensor_level
        # calling the class is faster than cls.__new__(cls); a user's Function may define __init__
        ctx = _new_object(cls) if tensor_level else cls()
        if edges is not None:
            ctx.needs_input_grad = tuple(flags)
        if tensor_level:
            out = cls._run_forward(ctx, arrays, args, kwargs)
        elif kwargs:
            out = cls.forward(ctx, *arrays, **kwargs)
        else:
            out = cls.forward(ctx, *arrays)
        if type(out) is not np.ndarray or tensor_level:
            return ctx._finish(out, args, edges)
        # the common case: one array out, nothing marked dirty (only a Function can mark_dirty)
        result = _new_object(tensor)
        result._data = out
        if edges is None:
            return result
        ctx._edges = tuple(edges)
        saved = ctx._saved
        if saved:  # _record_versions, inlined: the version of each tensor whose array forward saved
            versions = []
            for s in saved:
                if s is out:  # the new tensor, at version 0: SavedOutput.of(result, 0), inlined
                    link = SavedOutput(result)
                    link._data, link.output_nr = out, 0
                    result._vc = link._vc = [0]
                    versions.append((link, 0))
                elif s is not None:
                    for t in args:
                        if isinstance(t, tensor) and t._data is s:
                            versions.append((t, t._vc[0]))
                            break
            ctx._saved_versions = versions
        if out.dtype.kind in "fc":
            result.requires_grad = True
            result.grad_fn = ctx
        return result

    @classmethod
    def _apply_pair(cls, x, y, shape, dtype):
        """``apply(x, y)`` for two Tensors whose arrays both have ``shape`` and ``dtype`` (the operators'
        usual call, which has read them): the same node, without the general walk over the arguments.
        NumpyFunctions only (a Function's forward takes Tensors)."""
        if _recorder is not None:
            return cls.apply(x, y)
        a, b = x._data, y._data
        ctx = cls()
        if (x.requires_grad or y.requires_grad) and (not _off[0] or _state.enabled):
            # an edge: (its grad_fn, which output) or, for a leaf, (its AccumulateGrad, 0)
            ex = ey = None
            if x.requires_grad:
                node = x.grad_fn
                ex = (node, x._output_nr, shape, dtype) if node is not None else \
                    (x._accumulator or _accumulator(x), 0, shape, dtype)
            if y.requires_grad:
                node = y.grad_fn
                ey = (node, y._output_nr, shape, dtype) if node is not None else \
                    (y._accumulator or _accumulator(y), 0, shape, dtype)
            ctx.needs_input_grad = (ex is not None, ey is not None)
            out = cls.forward(ctx, a, b)
            if type(out) is not np.ndarray:
                return ctx._finish(out, (x, y), (ex, ey))
            result = _new_object(Tensor)
            result._data = out
            ctx._edges = (ex, ey)
            if out.dtype.kind in "fc":
                result.requires_grad = True
                result.grad_fn = ctx
            saved = ctx._saved
            if saved:  # the version of each input whose array forward saved, to catch in-place edits
                if len(saved) == 2 and saved[0] is a and saved[1] is b and out is not a and out is not b:
                    ctx._saved_versions = ((x, x._vc[0]), (y, y._vc[0]))  # both inputs (Mul's): no loop
                    return result
                versions = []
                for s in saved:
                    if s is out:
                        versions.append(_link_output(result, out))
                    elif s is a:
                        versions.append((x, x._vc[0]))
                    elif s is b:
                        versions.append((y, y._vc[0]))
                ctx._saved_versions = versions
            return result
        return _outside_graph(ctx, cls.forward(ctx, a, b), (x, y))

    @classmethod
    def _apply_one(cls, x):
        """``apply(x)`` for one Tensor (an activation, a unary method): the same node, without the general
        walk over the arguments. NumpyFunctions only."""
        if _recorder is not None:
            return cls.apply(x)
        a = x._data
        ctx = cls()
        if x.requires_grad and (not _off[0] or _state.enabled):
            node = x.grad_fn
            edges = ((node, x._output_nr, a.shape, a.dtype) if node is not None else
                     (x._accumulator or _accumulator(x), 0, a.shape, a.dtype),)
            ctx.needs_input_grad = (True,)
            out = cls.forward(ctx, a)
            if type(out) is not np.ndarray:
                return ctx._finish(out, (x,), edges)
            result = _new_object(Tensor)
            result._data = out
            ctx._edges = edges
            saved = ctx._saved
            if saved:
                versions = []
                for s in saved:
                    if s is out:  # an activation keeping its output (ReLU, Sigmoid): _link_output, inlined
                        link = SavedOutput(result)
                        link._data, link.output_nr = out, 0
                        result._vc = link._vc = [0]
                        versions.append((link, 0))
                    elif s is a:
                        versions.append((x, x._vc[0]))
                ctx._saved_versions = versions
            if out.dtype.kind in "fc":
                result.requires_grad = True
                result.grad_fn = ctx
            return result
        return _outside_graph(ctx, cls.forward(ctx, a), (x,))

    def _finish(self, out, args, edges):
        """``apply``'s end for several outputs, a 0-d result or a Function's output (maybe dirty)."""
        ctx = self
        if type(out) is tuple:
            outs = tuple(_wrap(o) for o in out)
        else:
            outs = None
            result = _wrap(out)
            if type(out) is not np.ndarray and ctx._saved:  # a NumPy scalar: keep what forward saved linked
                ctx._saved = tuple(result._data if s is out else s for s in ctx._saved)
        if ctx._dirty is not None:  # after the edges: they point to the inputs' producers, not to ctx
            if outs is None:
                (result,) = ctx._take_dirty(args, (result,), edges is not None)
            else:
                outs = ctx._take_dirty(args, outs, edges is not None)
        if edges is None:
            return outs if outs is not None else result
        ctx._edges = tuple(edges)
        if outs is None:
            if ctx._saved:
                ctx._record_versions(args, (result,))
            if result._data.dtype.kind in "fc":
                result.requires_grad = True
                result.grad_fn = ctx
            return result
        if ctx._saved:
            ctx._record_versions(args, outs)
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
        tensor = Tensor
        for s in self._saved:
            if s is None:
                continue
            for t in args:
                if isinstance(t, tensor) and t._data is s:
                    versions.append((t, t._vc[0]))
                    break
            else:
                for i, t in enumerate(outs):
                    if t._data is s:
                        versions.append((SavedOutput.of(t, i), t._vc[0]))
                        break
        self._saved_versions = versions

    def _take_dirty(self, args, outs, need):
        """Outputs that are inputs marked dirty (modified in place by forward) are those input tensors
        themselves, now at a new version and, in a graph, the outputs of this node."""
        dirty = self._dirty
        outs = list(outs)
        for i, o in enumerate(outs):
            for t in dirty:
                if t._data is o._data:
                    if need and t.requires_grad and t.grad_fn is None:
                        raise RuntimeError(
                            f"{type(self).__name__}: expected no leaf tensor that requires grad to be "
                            f"modified in place, got one of shape {tuple(t.shape)} marked dirty (use "
                            "x.clone() as the input, or run under no_grad)")
                    t._bump_version()
                    outs[i] = t
                    break
        return tuple(outs)

    def _check_versions(self):
        for t, v in self._saved_versions or ():
            if t._vc[0] != v:
                raise SavedTensorModifiedError(
                    f"{self.name()}: one of the tensors needed for gradient computation has been modified "
                    f"by an in-place operation: a tensor of shape {tuple(t.shape)} is at version "
                    f"{t._vc[0]}; expected version {v}. Use an out-of-place operation (e.g. x = x + 1 "
                    "instead of x.add_(1)) or clone the tensor first."
                )

    def _call_backward(self, grads):
        if self._released:
            raise RuntimeError(
                f"{self.name()}: trying to backward through the graph a second time, but the values it "
                "saved for backward were already freed. Pass retain_graph=True to the first backward() "
                "call if you need to backward through the graph again."
            )
        return type(self).backward(self, *grads)

    def _release(self):
        """Free what forward kept for backward (the large arrays), keeping the edges."""
        d = self.__dict__
        kept = {k: d[k] for k in _KEPT if k in d}
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

    def mark_dirty(self, *tensors):
        """Declare the input tensors that forward modified in place (and returns): as in PyTorch, the
        output is then that same tensor, bumped to a new version, with this node as its grad_fn."""
        self._dirty = tensors

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


class SavedOutput(weakref.ref):
    """A node's link to an output whose array it saved for backward. The output's ``grad_fn`` is the node,
    so a plain reference back would close a cycle that only the cyclic garbage collector frees (a cost on
    every small op, and large arrays freed late): this keeps a weak reference to the Tensor, and what the
    version check needs if the Tensor is gone: its array and its version counter (shared with its
    detached views), as PyTorch's saved outputs do."""

    __slots__ = ("_data", "_vc", "output_nr")

    @classmethod
    def of(cls, t, output_nr):
        """The link to ``t``, the output ``output_nr`` of its node; ``t`` gets its own counter now (a
        later first write would otherwise make one the link does not know)."""
        link = cls(t)
        link._data, link.output_nr = t._data, output_nr
        if type(t._vc) is not list:
            t._vc = [0]
        link._vc = t._vc
        return link

    @property
    def shape(self):
        return self._data.shape

    def __reduce__(self):  # copy.deepcopy and pickle of a graph: the copy links to the copied output
        return _saved_output, (self(), self._data, self._vc, self.output_nr)

    def tensor(self, node):
        """The output as a Tensor in the graph: the living one (with its hooks), else one rebuilt on its
        array and counter as the output ``output_nr`` of ``node``."""
        t = self()
        if t is None:
            t = Tensor._make(self._data)
            t._vc = self._vc
            nondiff = node._non_differentiable
            if self._data.dtype.kind in "fc" and not (nondiff and id(self._data) in nondiff):
                t.requires_grad, t.grad_fn, t._output_nr = True, node, self.output_nr
        return t


def _saved_output(t, data, vc, output_nr):
    """A copied ``SavedOutput``; a link whose output was gone is gone in the copy too (its stand-in dies)."""
    link = SavedOutput(t if t is not None else Tensor._make(data))
    link._data, link._vc, link.output_nr = data, vc, output_nr
    return link


_new_object = object.__new__
_KEPT = ("_edges", "_n_outputs", "_output_meta", "needs_input_grad")


def _wrap(array):
    if type(array) is not np.ndarray:
        array = np.asarray(array)
    return Tensor._make(array)


def _outside_graph(ctx, out, args):
    """The fast applies' result when no graph is recorded."""
    if type(out) is not np.ndarray:
        return ctx._finish(out, args, None)
    result = _new_object(Tensor)
    result._data = out
    return result


def _accumulator(t):
    """The AccumulateGrad of the leaf ``t``, made on first use (one per leaf)."""
    node = t._accumulator
    if node is None:
        node = t._accumulator = AccumulateGrad(t)
    return node


def _edge(t):
    node = t.grad_fn
    if node is None:
        return (_accumulator(t), 0, t._data.shape, t._data.dtype)
    return (node, t._output_nr, t._data.shape, t._data.dtype)


def _link_output(t, data):
    """(link, 0): the saved-version entry of ``t``, a node's only output, new (version 0) and whose array
    ``data`` forward saved (``SavedOutput.of(t, 0)`` written out: no class-method call, no type test)."""
    link = SavedOutput(t)
    link._data, link.output_nr = data, 0
    t._vc = link._vc = [0]
    return (link, 0)


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
    def tensor_backward(ctx, g):
        t = ctx.tensor
        for h in ctx.hooks:
            r = h(g)
            if r is not None:
                g = r
        if t._retains_grad:
            t.grad = g if t.grad is None else t.grad + g
        return g

    # PyTorch keeps hooks off the graph: this node shows as the node it wraps
    def name(self):
        inner = self._edges[0]
        return node_name(inner[0]) if inner else "RetainGrad"

    @property
    def next_functions(self):
        inner = self._edges[0]
        return inner[0].next_functions if inner else ()

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
